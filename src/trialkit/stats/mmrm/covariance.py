"""Covariance structures for the within-subject errors over T ordered visits.

Each structure has two parametrizations:

* ``theta`` (unconstrained, used by the optimizer): log standard deviations / log-Cholesky diagonals,
  ``tanh`` for correlations; every value gives a positive definite matrix.
* ``phi`` (the "natural" one that SAS PROC MIXED reports and uses for its Kenward-Roger second-derivative
  term; SAS/STAT User's Guide, PROC MIXED, "REPEATED statement, TYPE= option", Table "Covariance Structure
  Examples"): UN(i,j) entries; CS covariance and residual; TOEP lag covariances; variances and correlations for
  CSH, AR(1), ARH(1), TOEPH, ANTE(1).

All maps are written with complex-safe numpy operations and accept leading batch axes, so that derivatives
are exact by the complex-step method (Squire & Trapp 1998, SIAM Review 40:110).
"""

from __future__ import annotations

import numpy as np

STRUCTURES = ("us", "toep", "toeph", "ar1", "ar1h", "cs", "csh", "ad", "adh")


def _durbin_levinson(pacf: np.ndarray) -> np.ndarray:
    """Autocorrelations rho_1..rho_m from partial autocorrelations (Durbin-Levinson recursion); any partial
    autocorrelations in (-1, 1) give a positive definite Toeplitz correlation matrix (Barndorff-Nielsen &
    Schou 1973)."""
    m = pacf.shape[-1]
    rho = [np.ones(pacf.shape[:-1], dtype=pacf.dtype)]
    phi_prev: list[np.ndarray] = []
    for k in range(1, m + 1):
        pk = pacf[..., k - 1]
        phi = [phi_prev[j] - pk * phi_prev[k - 2 - j] for j in range(k - 1)] + [pk]
        rho.append(sum(phi[j] * rho[k - 1 - j] for j in range(k)))
        phi_prev = phi
    return np.stack(rho[1:], axis=-1) if m else pacf


def _pacf_from_rho(rho: np.ndarray) -> np.ndarray:
    """Inverse of the Durbin-Levinson map (real values only)."""
    m = rho.shape[-1]
    r = np.concatenate([[1.0], rho])
    pacf = np.empty(m)
    phi_prev = np.empty(0)
    for k in range(1, m + 1):
        num = r[k] - sum(phi_prev[j] * r[k - 1 - j] for j in range(k - 1))
        den = 1.0 - sum(phi_prev[j] * r[j + 1] for j in range(k - 1))
        pk = num / den
        phi_prev = np.concatenate([phi_prev - pk * phi_prev[::-1], [pk]])
        pacf[k - 1] = pk
    return pacf


def _atanh(x: np.ndarray) -> np.ndarray:
    return np.arctanh(np.clip(x, -0.999999, 0.999999))


class CovarianceStructure:
    """A covariance structure for ``n_visits`` visits (see module docstring)."""

    def __init__(self, kind: str, n_visits: int) -> None:
        if kind not in STRUCTURES:
            raise ValueError(kind)
        self.kind = kind
        self.T = n_visits
        T = n_visits
        self._lag = np.abs(np.subtract.outer(np.arange(T), np.arange(T)))
        self._tril = np.tril_indices(T)
        # SAS order of UN parameters: UN(1,1), UN(2,1), UN(2,2), UN(3,1), ... (row-wise lower triangle)
        rows, cols = [], []
        for i in range(T):
            for j in range(i + 1):
                rows.append(i)
                cols.append(j)
        self._un_rows = np.array(rows)
        self._un_cols = np.array(cols)

    # -- sizes and names ---------------------------------------------------------------------------------
    @property
    def n_params(self) -> int:
        T = self.T
        return {
            "us": T * (T + 1) // 2,
            "toep": T,
            "toeph": 2 * T - 1,
            "ar1": 2,
            "ar1h": T + 1,
            "cs": 2,
            "csh": T + 1,
            "ad": T,
            "adh": 2 * T - 1,
        }[self.kind]

    @property
    def linear(self) -> bool:
        """True when Sigma is linear in ``phi`` (then Kenward-Roger has no second-derivative term)."""
        return self.kind in ("us", "toep", "cs")

    def natural_names(self) -> list[str]:
        T = self.T
        k = self.kind
        if k == "us":
            return [f"UN({i + 1},{j + 1})" for i, j in zip(self._un_rows, self._un_cols, strict=True)]
        if k == "toep":
            return [f"TOEP({i + 1})" for i in range(T)]
        if k == "cs":
            return ["CS", "Residual"]
        var = [f"Var({i + 1})" for i in range(T)]
        if k == "ar1":
            return ["Var", "AR(1)"]
        if k == "ar1h":
            return var + ["ARH(1)"]
        if k == "csh":
            return var + ["CSH"]
        if k == "toeph":
            return var + [f"TOEPH({i})" for i in range(1, T)]
        if k == "ad":
            return ["Var"] + [f"Rho({i},{i + 1})" for i in range(1, T)]
        return var + [f"Rho({i},{i + 1})" for i in range(1, T)]  # adh

    # -- building blocks -----------------------------------------------------------------------------------
    def _corr(self, kind: str, r: np.ndarray) -> np.ndarray:
        """Correlation matrix (batch) from correlation parameters ``r`` (already in their natural range)."""
        T = self.T
        batch = r.shape[:-1]
        if kind in ("ar1",):
            rho = r[..., 0]
            powers = [np.ones(batch, dtype=r.dtype)]
            for _ in range(1, T):
                powers.append(powers[-1] * rho)
            P = np.stack(powers, axis=-1)
            return P[..., self._lag]
        if kind == "cs":
            rho = r[..., 0][..., None, None]
            eye = np.eye(T)
            return eye + (1 - eye) * rho
        if kind == "toep":
            full = np.concatenate([np.ones(batch + (1,), dtype=r.dtype), r], axis=-1)
            return full[..., self._lag]
        if kind == "ad":
            C = np.zeros(batch + (T, T), dtype=r.dtype)
            for i in range(T):
                C[..., i, i] = 1.0
                prod = np.ones(batch, dtype=r.dtype)
                for j in range(i + 1, T):
                    prod = prod * r[..., j - 1]
                    C[..., i, j] = prod
                    C[..., j, i] = prod
            return C
        raise ValueError(kind)

    def _base(self) -> str:
        return {"ar1h": "ar1", "csh": "cs", "toeph": "toep", "adh": "ad"}.get(self.kind, self.kind)

    def _hetero(self) -> bool:
        return self.kind in ("ar1h", "csh", "toeph", "adh")

    def _corr_from_theta(self, t: np.ndarray) -> np.ndarray:
        base = self._base()
        if base == "cs":
            lo = -1.0 / (self.T - 1) if self.T > 1 else -1.0
            r = lo + (1 - lo) / (1 + np.exp(-t))
        elif base == "toep":
            r = _durbin_levinson(np.tanh(t))
        else:
            r = np.tanh(t)
        return self._corr(base, r)

    def _corr_natural_to_theta(self, r: np.ndarray) -> np.ndarray:
        base = self._base()
        if base == "cs":
            lo = -1.0 / (self.T - 1) if self.T > 1 else -1.0
            u = np.clip((r - lo) / (1 - lo), 1e-6, 1 - 1e-6)
            return np.log(u / (1 - u))
        if base == "toep":
            return _atanh(_pacf_from_rho(r))
        return _atanh(r)

    # -- theta (optimizer) ---------------------------------------------------------------------------------
    def sigma(self, theta: np.ndarray) -> np.ndarray:
        """Sigma(theta), batch over leading axes."""
        theta = np.asarray(theta)
        T = self.T
        k = self.kind
        if k == "us":
            L = np.zeros(theta.shape[:-1] + (T, T), dtype=theta.dtype)
            L[..., np.arange(T), np.arange(T)] = np.exp(theta[..., :T])
            off = [(i, j) for i, j in zip(self._un_rows, self._un_cols, strict=True) if i != j]
            for m, (i, j) in enumerate(off):
                L[..., i, j] = theta[..., T + m]
            return L @ np.swapaxes(L, -1, -2)
        if self._hetero():
            sd = np.exp(theta[..., :T])
            C = self._corr_from_theta(theta[..., T:])
        else:
            sd = np.exp(theta[..., :1]) * np.ones(T)
            C = self._corr_from_theta(theta[..., 1:])
        return sd[..., :, None] * C * sd[..., None, :]

    def start(self, S0: np.ndarray) -> np.ndarray:
        """Starting theta from a rough covariance estimate ``S0`` (positive variances)."""
        v = np.clip(np.diag(S0), 1e-8, None)
        sd = np.sqrt(v)
        R = S0 / np.outer(sd, sd)
        T = self.T
        if self.kind == "us":
            L = np.diag(sd)
            for shrink in (1.0, 0.8, 0.5, 0.2, 0.0):
                A = np.diag(v) + shrink * (S0 - np.diag(np.diag(S0)))
                try:
                    L = np.linalg.cholesky(A)
                    break
                except np.linalg.LinAlgError:
                    continue
            diag = np.log(np.diag(L))
            off = [L[i, j] for i, j in zip(self._un_rows, self._un_cols, strict=True) if i != j]
            return np.concatenate([diag, off])
        base = self._base()
        lagmean = np.array([np.mean(np.diag(R, d)) if d < T else 0.0 for d in range(1, T)])
        if base == "cs":
            r = np.array([np.clip(np.mean(R[np.triu_indices(T, 1)]) if T > 1 else 0.0, -0.3, 0.9)])
        elif base == "ar1":
            r = np.array([np.clip(lagmean[0] if T > 1 else 0.0, -0.9, 0.9)])
        elif base == "toep":
            r = np.clip(lagmean, -0.9, 0.9) * 0.5
        else:  # ad
            r = np.clip(np.array([R[i, i + 1] for i in range(T - 1)]), -0.9, 0.9)
        try:
            t_corr = self._corr_natural_to_theta(r)
            if not np.all(np.isfinite(t_corr)):
                raise FloatingPointError
        except (FloatingPointError, ZeroDivisionError):
            t_corr = np.zeros_like(r)
        if self._hetero():
            return np.concatenate([np.log(sd), t_corr])
        return np.concatenate([[np.log(np.mean(sd))], t_corr])

    def gradient(self, theta: np.ndarray, G: np.ndarray) -> np.ndarray:
        """d f/d theta given G = d f/d Sigma (symmetric): analytic for "us", complex step otherwise."""
        if self.kind == "us":
            T = self.T
            L = np.zeros((T, T))
            L[np.arange(T), np.arange(T)] = np.exp(theta[:T])
            off = [(i, j) for i, j in zip(self._un_rows, self._un_cols, strict=True) if i != j]
            for m, (i, j) in enumerate(off):
                L[i, j] = theta[T + m]
            dL = 2.0 * G @ L  # d f / d L for Sigma = L L'
            rows = np.array([i for i, _ in off], dtype=int)
            cols = np.array([j for _, j in off], dtype=int)
            return np.concatenate([np.diag(dL) * np.diag(L), dL[rows, cols]])
        return np.einsum("kab,ab->k", complex_step_jacobian(self.sigma, theta), G)

    # -- phi (natural) -------------------------------------------------------------------------------------
    def natural(self, theta: np.ndarray) -> np.ndarray:
        """phi(theta) for real theta."""
        T = self.T
        k = self.kind
        S = self.sigma(theta)
        if k == "us":
            return S[self._un_rows, self._un_cols]
        if k == "toep":
            return S[0, :]
        if k == "cs":
            cov = S[0, 1] if T > 1 else 0.0
            return np.array([cov, S[0, 0] - cov])
        var = np.diag(S) if self._hetero() else np.diag(S)[:1]
        t_corr = theta[T:] if self._hetero() else theta[1:]
        base = self._base()
        if base == "toep":
            r = _durbin_levinson(np.tanh(t_corr))
        elif base == "cs":
            lo = -1.0 / (T - 1) if T > 1 else -1.0
            r = lo + (1 - lo) / (1 + np.exp(-t_corr))
        else:
            r = np.tanh(t_corr)
        return np.concatenate([var, r])

    def sigma_natural(self, phi: np.ndarray) -> np.ndarray:
        """Sigma(phi), batch over leading axes, complex-safe."""
        phi = np.asarray(phi)
        T = self.T
        k = self.kind
        if k == "us":
            S = np.zeros(phi.shape[:-1] + (T, T), dtype=phi.dtype)
            S[..., self._un_rows, self._un_cols] = phi
            S[..., self._un_cols, self._un_rows] = phi
            return S
        if k == "toep":
            return phi[..., self._lag]
        if k == "cs":
            eye = np.eye(T)
            return phi[..., 0][..., None, None] * np.ones((T, T)) + phi[..., 1][..., None, None] * eye
        if self._hetero():
            var, r = phi[..., :T], phi[..., T:]
            sd = np.sqrt(var)
        else:
            var, r = phi[..., :1], phi[..., 1:]
            sd = np.sqrt(var) * np.ones(T)
        C = self._corr(self._base(), r)
        return sd[..., :, None] * C * sd[..., None, :]


def complex_step_jacobian(fun, x: np.ndarray, h: float = 1e-30) -> np.ndarray:
    """d fun / d x_k for all k at once, shape (k, ...): exact to rounding for complex-safe ``fun``."""
    x = np.asarray(x, dtype=float)
    k = x.size
    X = x[None, :] + 1j * h * np.eye(k)
    return np.imag(fun(X)) / h


def second_derivatives(fun, x: np.ndarray) -> np.ndarray:
    """d^2 fun / d x_i d x_j, shape (k, k, ...): central differences of complex-step first derivatives."""
    x = np.asarray(x, dtype=float)
    k = x.size
    out = None
    for j in range(k):
        h = 1e-5 * max(1.0, abs(x[j]))
        xp = x.copy()
        xm = x.copy()
        xp[j] += h
        xm[j] -= h
        d = (complex_step_jacobian(fun, xp) - complex_step_jacobian(fun, xm)) / (2 * h)
        if out is None:
            out = np.empty((k, k) + d.shape[1:])
        out[:, j] = d
    assert out is not None
    return 0.5 * (out + np.swapaxes(out, 0, 1))
