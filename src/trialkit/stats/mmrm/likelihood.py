"""The (restricted) likelihood of an MMRM, its gradient and observed information, by missingness pattern.

Subjects with the same covariance group and the same set of observed visits share one inverse covariance
block S = Sigma[P, P]^-1, so each pattern is handled as one batch: from per-pattern sufficient statistics
(sums of X_i[a,p] X_i[b,q], X_i[a,p] y_i[b], y_i y_i') the cost of a likelihood evaluation does not grow with
the number of subjects.

-2 log L_R(theta) = sum_i [log|Sigma_i| + r_i' Sigma_i^-1 r_i] + log|X'V^-1 X| + (N - p) log(2 pi),
with r = y - X beta_hat(theta) (Harville 1977, JASA 72:320; SAS/STAT User's Guide, PROC MIXED, "Estimating
Covariance Parameters in the Mixed Model"); the ML version drops the log|X'V^-1 X| term and uses N.
Gradient and observed information follow Jennrich & Schluchter (1986, Biometrics 42:805).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg

LOG2PI = float(np.log(2 * np.pi))
_STATS_MEMORY = 256e6  # bytes of per-pattern sufficient statistics kept at most


@dataclass
class Pattern:
    group: int
    visits: np.ndarray  # indices of the observed visits (a,)
    X: np.ndarray  # (n, a, p)
    y: np.ndarray  # (n, a)
    XX: np.ndarray | None = None  # (a, p, a, p): sum_i X_i[a,p] X_i[b,q]
    XY: np.ndarray | None = None  # (a, p, a): sum_i X_i[a,p] y_i[b]
    YY: np.ndarray | None = None  # (a, a)
    XXm: np.ndarray | None = None  # XX as an (a*a, p*p) matrix, so that contractions are single matmuls
    XYm: np.ndarray | None = None  # XY as an (a*a, p) matrix (index a*b)

    @property
    def n(self) -> int:
        return self.y.shape[0]


@dataclass
class Evaluation:
    neg2ll: float
    beta: np.ndarray
    M: np.ndarray  # (X'V^-1X)^-1
    grad_sigma: list[np.ndarray] | None  # d(-2ll)/dSigma_g, per group (T x T)


class Problem:
    """Data of an MMRM arranged by missingness pattern."""

    def __init__(
        self,
        X: np.ndarray,
        y: np.ndarray,
        subject: np.ndarray,
        visit: np.ndarray,
        group: np.ndarray,
        n_visits: int,
        n_groups: int,
        reml: bool,
    ) -> None:
        self.p = X.shape[1]
        self.N = X.shape[0]
        self.T = n_visits
        self.G = n_groups
        self.reml = reml
        self.n_subjects = int(np.unique(subject).size)
        order = np.lexsort((visit, subject))
        subject, visit, group, X, y = subject[order], visit[order], group[order], X[order], y[order]
        starts = np.flatnonzero(np.r_[True, subject[1:] != subject[:-1]])
        ends = np.r_[starts[1:], len(subject)]
        keys: dict[tuple[int, bytes], list[int]] = {}
        for s, e in zip(starts, ends, strict=True):
            mask = np.zeros(n_visits, dtype=bool)
            mask[visit[s:e]] = True
            keys.setdefault((int(group[s]), mask.tobytes()), []).append(s)
        self.patterns: list[Pattern] = []
        for (g, mbytes), subj_starts in keys.items():
            vis = np.flatnonzero(np.frombuffer(mbytes, dtype=bool))
            a = vis.size
            rows = np.asarray(subj_starts)[:, None] + np.arange(a)[None, :]
            self.patterns.append(Pattern(g, vis, X[rows], y[rows]))
        self.patterns.sort(key=lambda P: -P.n)
        used = 0.0
        for P in self.patterns:
            a = P.visits.size
            size = 8.0 * a * a * self.p * self.p
            if P.n > a and used + size < _STATS_MEMORY:
                P.XX = np.einsum("nap,nbq->apbq", P.X, P.X)
                P.XY = np.einsum("nap,nb->apb", P.X, P.y)
                P.YY = P.y.T @ P.y
                P.XXm = P.XX.transpose(0, 2, 1, 3).reshape(a * a, self.p * self.p)
                P.XYm = P.XY.transpose(0, 2, 1).reshape(a * a, self.p)
                used += size

    # -- core evaluation -------------------------------------------------------------------------------------
    def evaluate(self, sigmas: list[np.ndarray], gradient: bool = True) -> Evaluation:
        p = self.p
        A = np.zeros((p, p))
        b = np.zeros(p)
        logdet = 0.0
        inv: list[np.ndarray] = []
        for P in self.patterns:
            Sig = sigmas[P.group][np.ix_(P.visits, P.visits)]
            c, low = scipy.linalg.cho_factor(Sig, lower=True, check_finite=False)
            S = scipy.linalg.cho_solve((c, low), np.eye(P.visits.size), check_finite=False)
            inv.append(S)
            logdet += P.n * 2.0 * np.log(np.diag(c)).sum()
            if P.XXm is not None:
                sv = S.reshape(-1)
                A += (sv @ P.XXm).reshape(p, p)
                b += sv @ P.XYm
            else:
                SX = np.einsum("ab,nbp->nap", S, P.X)
                A += P.X.reshape(-1, p).T @ SX.reshape(-1, p)
                b += SX.reshape(-1, p).T @ P.y.reshape(-1)
        A = 0.5 * (A + A.T)
        cA = scipy.linalg.cho_factor(A, lower=True, check_finite=False)
        M = scipy.linalg.cho_solve(cA, np.eye(p), check_finite=False)
        beta = M @ b
        quad = 0.0
        grads = [np.zeros((self.T, self.T)) for _ in range(self.G)] if gradient else None
        for P, S in zip(self.patterns, inv, strict=True):
            RR = self._rr(P, beta)
            quad += float(np.sum(S * RR))
            if gradient:
                G = P.n * S - S @ RR @ S
                if self.reml:
                    G -= S @ self._h(P, M) @ S
                grads[P.group][np.ix_(P.visits, P.visits)] += G
        n2 = logdet + quad
        if self.reml:
            n2 += 2.0 * np.log(np.diag(cA[0])).sum() + (self.N - p) * LOG2PI
        else:
            n2 += self.N * LOG2PI
        return Evaluation(float(n2), beta, M, grads)

    @staticmethod
    def _rr(P: Pattern, beta: np.ndarray) -> np.ndarray:
        """sum_i r_i r_i' for the pattern's subjects."""
        if P.XXm is not None:
            a = P.YY.shape[0]
            C = (P.XYm @ beta).reshape(a, a)  # (a, b): sum X[a,.]beta y[b]
            D = (P.XXm @ np.outer(beta, beta).reshape(-1)).reshape(a, a)
            return P.YY - C - C.T + D
        r = P.y - P.X @ beta
        return r.T @ r

    @staticmethod
    def _h(P: Pattern, M: np.ndarray) -> np.ndarray:
        """sum_i X_i M X_i'."""
        if P.XXm is not None:
            a = P.YY.shape[0]
            return (P.XXm @ M.reshape(-1)).reshape(a, a)
        XM = P.X @ M
        return np.einsum("nap,nbp->ab", XM, P.X)

    # -- second-order quantities for inference -----------------------------------------------------------------
    def information(
        self,
        sigmas: list[np.ndarray],
        dsig: list[np.ndarray],
        d2sig: list[np.ndarray | None],
        beta: np.ndarray,
        M: np.ndarray,
        W: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        """Observed Hessian of -2 log L in the natural parameters, the matrices P_k = X'V^-1 dV_k V^-1 X, and
        (when ``W`` is given) the Kenward-Roger sums sum W_ij Q_ij and sum W_ij R_ij.

        ``dsig[g]`` is (k_g, T, T), the derivatives of group g's Sigma with respect to its own parameters (the
        global parameter vector is the groups' vectors one after the other); ``d2sig[g]`` the second derivatives
        (k_g, k_g, T, T), or None when Sigma is linear in them.
        """
        p = self.p
        k = sum(d.shape[0] for d in dsig)
        offs = np.cumsum([0] + [d.shape[0] for d in dsig])
        H = np.zeros((k, k))
        He = np.zeros((k, k))  # expected information (x2): tr(P V_i P V_j)
        Pk = np.zeros((k, p, p))
        u = np.zeros((k, p))
        Qsum = np.zeros((p, p))
        Rsum = np.zeros((p, p))
        Gfull = [np.zeros((self.T, p, self.T, p)) for _ in range(self.G)]
        for P in self.patterns:
            g = P.group
            sl = slice(offs[g], offs[g + 1])
            ix = np.ix_(P.visits, P.visits)
            Sig = sigmas[g][ix]
            S = np.linalg.inv(Sig)
            S = 0.5 * (S + S.T)
            V = dsig[g][:, P.visits][:, :, P.visits]  # (kg, a, a)
            SV = S @ V
            RR = self._rr(P, beta)
            E = S @ RR @ S  # sum e e', e = S r
            Hm = self._h(P, M)
            SHS = S @ Hm @ S
            # first-order pieces
            T1 = P.n * np.einsum("iab,jba->ij", SV, SV)  # tr(S V_i S V_j)
            T2 = np.einsum("iab,jba->ij", SV, SV @ (S @ Hm))  # tr(S V_i S V_j S H)
            T4 = np.einsum("iab,jba->ij", V, SV @ E)  # e'V_i S V_j e
            # G tensor: sum_s (S X_s)[a,p] (S X_s)[b,q]
            if P.XX is not None:
                Gt = np.einsum("ac,cpdq,bd->apbq", S, P.XX, S, optimize=True)
                XR = P.XY - np.tensordot(P.XX, beta, axes=([3], [0]))  # (a,p,c): sum X[a,p] r[c]
            else:
                SX = np.einsum("ab,nbp->nap", S, P.X)
                Gt = np.einsum("nap,nbq->apbq", SX, SX)
                r = P.y - P.X @ beta
                XR = np.einsum("nap,nc->apc", P.X, r)
            F = XR @ S  # (a,p,b): sum X[a,p] e[b]
            # X'V^-1 D V^-1 X = sum_ab D[a,b] Gfull[a,:,b,:] for any T x T matrix D, so P_k and sum W_ij R_ij
            # are formed once from the embedded tensor instead of pattern by pattern
            Gfull[g][np.ix_(P.visits, np.arange(p), P.visits, np.arange(p))] += Gt
            u[sl] += np.einsum("iab,apb->ip", SV, F, optimize=True)
            He[sl, sl] += T1 - 2.0 * T2 if self.reml else T1
            if self.reml:
                H[sl, sl] += -(T1 - 2.0 * T2) + 2.0 * T4
            else:
                H[sl, sl] += -T1 + 2.0 * T4
            if d2sig[g] is not None:
                V2 = d2sig[g][:, :, P.visits][:, :, :, P.visits]  # (kg, kg, a, a)
                trSV2 = P.n * np.einsum("ab,ijba->ij", S, V2)
                eV2e = np.einsum("ijab,ab->ij", V2, E)
                if self.reml:
                    H[sl, sl] += trSV2 - np.einsum("ijab,ba->ij", V2, SHS) - eV2e
                else:
                    H[sl, sl] += trSV2 - eV2e
            if W is not None:
                C = np.einsum("ij,iab,jbc->ac", W[sl, sl], V, SV, optimize=True)
                Qsum += np.einsum("ab,apbq->pq", C, Gt, optimize=True)
        for g in range(self.G):
            sl = slice(offs[g], offs[g + 1])
            Gm = Gfull[g].transpose(0, 2, 1, 3).reshape(self.T * self.T, p * p)
            Pk[sl] = (dsig[g].reshape(dsig[g].shape[0], -1) @ Gm).reshape(-1, p, p)
            if W is not None and d2sig[g] is not None:
                D = np.einsum("ij,ijab->ab", W[sl, sl], d2sig[g])
                Rsum += (D.reshape(-1) @ Gm).reshape(p, p)
        # terms coupling all patterns
        MP = M @ Pk  # (k,p,p)
        uMu = np.einsum("ip,pq,jq->ij", u, M, u)
        H -= 2.0 * uMu
        if self.reml:
            MPMP = np.einsum("iab,jba->ij", MP, MP)
            H -= MPMP
            He += MPMP
        H = 0.5 * (H + H.T)
        out = {"hessian": H, "expected_hessian": 0.5 * (He + He.T), "P": Pk}
        if W is not None:
            out["Q"] = Qsum
            out["R"] = Rsum
        return out
