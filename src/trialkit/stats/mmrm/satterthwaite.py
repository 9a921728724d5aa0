"""Satterthwaite degrees of freedom for linear contrasts of the fixed effects.

For one contrast c: df = 2 (c' Phi c)^2 / (g' W g), with g_k = d(c' Phi c)/d phi_k = -c' Phi P_k Phi c,
P_k = X'V^-1 (dV/dphi_k) V^-1 X and W the asymptotic covariance of the covariance parameters (twice the
inverse observed Hessian of -2 log L) (Satterthwaite 1946; Fai & Cornelius 1996, J Stat Comput Simul 54:363).
For a q-row contrast matrix L the F test follows SAS PROC MIXED ("Satterthwaite degrees of freedom for
multiple-df tests"): diagonalize L Phi L' = U D U', take the q independent 1-df contrasts with df nu_m,
E = sum nu_m/(nu_m - 2), df = 2E/(E - q).
"""

from __future__ import annotations

import numpy as np


def df_1d(c: np.ndarray, M: np.ndarray, P: np.ndarray, W: np.ndarray) -> float:
    """Satterthwaite df of c'beta (``M`` = Phi, ``P`` = stack of P_k, ``W`` = cov of the parameters)."""
    c = np.asarray(c, dtype=float)
    Mc = M @ c
    v = float(c @ Mc)
    g = -np.einsum("p,kpq,q->k", Mc, P, Mc)
    denom = float(g @ W @ g)
    if denom <= 0 or v <= 0:
        return float("inf")
    return 2.0 * v * v / denom


def md_denominator_df(nus: np.ndarray) -> float:
    """Combine 1-df Satterthwaite dfs of orthogonal contrasts into the F denominator df (SAS method)."""
    nus = np.asarray(nus, dtype=float)
    q = nus.size
    if q == 1:
        return float(nus[0])
    if np.any(nus <= 2):
        return 2.0
    if np.ptp(nus) < 1e-8 * np.mean(nus):
        return float(np.mean(nus))
    E = float(np.sum(nus / (nus - 2.0)))
    return 2.0 * E / (E - q) if E > q else 2.0


def orthogonal_rows(L: np.ndarray, M: np.ndarray, tol: float = 1e-8) -> tuple[np.ndarray, np.ndarray]:
    """Rows of L recombined into contrasts with independent unit-variance estimates (drops dependent rows).
    Returns (L_orth, eigenvalues kept)."""
    C = L @ M @ L.T
    C = 0.5 * (C + C.T)
    d, U = np.linalg.eigh(C)
    keep = d > tol * max(d.max(), 1e-300)
    return (U[:, keep].T @ L) / np.sqrt(d[keep])[:, None], d[keep]


def df_md(L: np.ndarray, M: np.ndarray, P: np.ndarray, W: np.ndarray) -> tuple[float, int]:
    """Denominator df and numerator df (rank) for the F test of L beta = 0."""
    Lo, _ = orthogonal_rows(L, M)
    nus = np.array([df_1d(row, M, P, W) for row in Lo])
    return md_denominator_df(nus), Lo.shape[0]
