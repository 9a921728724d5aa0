"""Kenward-Roger adjusted covariance of the fixed effects and degrees of freedom.

Kenward & Roger (1997, Biometrics 53:983), in the notation of that paper:
Phi_A = Phi + 2 Phi [sum_ij W_ij (Q_ij - P_i Phi P_j - R_ij / 4)] Phi, with
P_i = X'V^-1 V_i V^-1 X (sign conventions cancel), Q_ij = X'V^-1 V_i V^-1 V_j V^-1 X,
R_ij = X'V^-1 V_ij V^-1 X, V_i = dV/dphi_i, V_ij = d^2V/dphi_i dphi_j, W = cov(phi_hat).
The R term vanishes when Sigma is linear in its (SAS) parameters; ``linear=True`` drops it always, as
SAS ``DDFM=KR(FIRSTORDER)``. The F statistic for L beta = 0 (q rows) is
F* = lambda (L beta)'(L Phi_A L')^-1 (L beta)/q on (q, m) df, with A1, A2, B, g, c1..c3, E*, V*, rho,
m = 4 + (q+2)/(q rho - 1), lambda = m/(E*(m-2)), Theta = L'(L Phi L')^-1 L (paper, section 4).
"""

from __future__ import annotations

import numpy as np


def adjusted_vcov(M: np.ndarray, P: np.ndarray, W: np.ndarray, Qsum: np.ndarray, Rsum: np.ndarray,
                  linear: bool = False) -> np.ndarray:
    """Phi_A from Phi (= M), the P_i stack, W and the sums sum W_ij Q_ij, sum W_ij R_ij."""
    MP = M @ P  # (k,p,p): Phi P_i
    PMP = np.einsum("ij,iab,jbc->ac", W, P, MP)  # sum W_ij P_i Phi P_j
    inner = Qsum - PMP
    if not linear:
        inner = inner - 0.25 * Rsum
    Lam = M @ inner @ M
    A = M + 2.0 * Lam
    return 0.5 * (A + A.T)


def kr_df(L: np.ndarray, M: np.ndarray, P: np.ndarray, W: np.ndarray) -> tuple[float, float]:
    """(m, lambda): denominator df and F scale factor for L beta = 0 (L is q x p, full row rank)."""
    L = np.atleast_2d(L)
    q = L.shape[0]
    Theta = L.T @ np.linalg.solve(L @ M @ L.T, L)
    TM = Theta @ M
    B_i = TM @ (P @ M)  # (k,p,p): Theta Phi P_i Phi
    tr_i = np.trace(B_i, axis1=1, axis2=2)
    A1 = float(tr_i @ W @ tr_i)
    A2 = float(np.einsum("ij,iab,jba->", W, B_i, B_i))
    B = (A1 + 6.0 * A2) / (2.0 * q)
    g = ((q + 1.0) * A1 - (q + 4.0) * A2) / ((q + 2.0) * A2)
    den = 3.0 * q + 2.0 * (1.0 - g)
    c1 = g / den
    c2 = (q - g) / den
    c3 = (q + 2.0 - g) / den
    E = 1.0 / (1.0 - A2 / q)
    V = 2.0 / q * (1.0 + c1 * B) / ((1.0 - c2 * B) ** 2 * (1.0 - c3 * B))
    rho = V / (2.0 * E * E)
    m = 4.0 + (q + 2.0) / (q * rho - 1.0)
    lam = m / (E * (m - 2.0))
    if q == 1:
        # the general formula reduces to m = 2/A2, lambda = 1; use the exact form to avoid cancellation
        m, lam = 2.0 / A2, 1.0
    return float(m), float(lam)
