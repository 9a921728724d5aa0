"""Analytic power of the stratified Cochran-Mantel-Haenszel test for a risk difference (normal approximation).

With per-stratum sizes n_1k (treatment), n_2k (control), N_k = n_1k + n_2k, responder rates p_1k, p_2k and
pbar_k = (n_1k p_1k + n_2k p_2k) / N_k, the CMH score U = sum_k (a_k - n_1k m_1k / N_k) has, to first order
(Woolson, Bean and Rojas 1986, Biometrics 42:927-932; Nam 1998, Biometrics 54:1000-1009)::

    E1[U] = sum_k w_k (p_1k - p_2k),                 w_k = n_1k n_2k / N_k
    V0    = sum_k w_k pbar_k (1 - pbar_k)            (variance under H0, conditional on the margins)
    V1    = sum_k w_k^2 (p_1k q_1k / n_1k + p_2k q_2k / n_2k)   (variance under the alternative)

and the two-sided level-alpha test has power

    Phi((E1[U] - z sqrt(V0)) / sqrt(V1)) + Phi((-E1[U] - z sqrt(V0)) / sqrt(V1)),  z = Phi^-1(1 - alpha/2).

With one stratum this is the classical two-proportion formula with pooled null variance (Fleiss, Levin and Paik
2003, Statistical Methods for Rates and Proportions, 3rd ed., section 4.2; rpact ``getPowerRates`` with
``normalApproximation = TRUE``). For a Bonferroni-split graph, hypothesis i is first tested at ``w_i alpha``: its
power there is a lower bound for its power after the multiplicity strategy.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

from trialkit.errors import TrialkitError


def cmh_power(n1: Any, n2: Any, p1: Any, p2: Any, alpha: Any = 0.05) -> np.ndarray:
    """Power of the two-sided CMH test; arrays (..., K) of stratum sizes and rates, ``alpha`` broadcast.

    >>> round(float(cmh_power([100], [100], [0.4], [0.2], 0.05)), 4)
    0.8757
    """
    n1, n2, p1, p2 = (np.asarray(x, dtype=float) for x in (n1, n2, p1, p2))
    if np.any(n1 < 0) or np.any(n2 < 0):
        raise TrialkitError("stratum sizes must be non-negative", variable="n")
    if np.any((p1 < 0) | (p1 > 1) | (p2 < 0) | (p2 > 1)):
        raise TrialkitError("responder rates must lie in [0, 1]", variable="p")
    tot = n1 + n2
    ok = (n1 > 0) & (n2 > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(ok, n1 * n2 / np.where(ok, tot, 1.0), 0.0)
        pbar = np.where(ok, (n1 * p1 + n2 * p2) / np.where(ok, tot, 1.0), 0.0)
        mu = (w * (p1 - p2)).sum(-1)
        v0 = (w * pbar * (1 - pbar)).sum(-1)
        v1 = (w * w * (np.where(ok, p1 * (1 - p1) / np.where(ok, n1, 1.0), 0.0)
                       + np.where(ok, p2 * (1 - p2) / np.where(ok, n2, 1.0), 0.0))).sum(-1)
        z = special.ndtri(1 - np.asarray(alpha, dtype=float) / 2)
        sd1 = np.sqrt(v1)
        pw = special.ndtr((mu - z * np.sqrt(v0)) / sd1) + special.ndtr((-mu - z * np.sqrt(v0)) / sd1)
    return np.where(v1 > 0, pw, np.where(mu != 0, 1.0, np.asarray(alpha, dtype=float)))


def power_from_pooled(pooled: np.ndarray, n: int, arm: int, placebo: int, alpha: Any) -> np.ndarray:
    """Analytic power at total sample size ``n`` from pooled simulated counts (..., K, A, 2).

    The stratum-by-arm shares and the stratum rates are those of the pooled patients (the model's expected
    values, up to negligible Monte Carlo error); stratum sizes are ``n`` times the shares.
    """
    tot = pooled.sum(-1)  # (..., K, A)
    share = tot / tot.sum(axis=(-2, -1), keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(tot > 0, pooled[..., 0] / np.where(tot > 0, tot, 1.0), 0.0)
    return cmh_power(n * share[..., arm], n * share[..., placebo], rate[..., arm], rate[..., placebo], alpha)
