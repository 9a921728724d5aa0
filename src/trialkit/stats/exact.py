"""Exact tests for 2x2 tables: Fisher's exact test (conditional) and exact unconditional risk-difference limits.

Sources: Fisher (1935); R ``fisher.test`` (two-sided p-value: tables no more likely than the observed one,
relative tolerance 1e-7; conditional maximum likelihood odds ratio and limits); Chan and Zhang (1999) Biometrics
55:1202-1209; SAS/STAT PROC FREQ documentation, "Exact Unconditional Confidence Limits for the Risk
Difference" (RISKDIFF(CL=EXACT)).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import optimize, special, stats

from trialkit.errors import TrialkitError
from trialkit.stats._results import EstimateResult, TestResult
from trialkit.stats._tables import as_counts, check_alpha, check_method

_ALTERNATIVES = ("two-sided", "greater", "less")


def _log_hyper(k: np.ndarray, n1: np.ndarray, n2: np.ndarray, m1: np.ndarray) -> np.ndarray:
    """log P(a = k) under the central hypergeometric distribution with the table's margins."""
    g = special.gammaln
    return (
        g(n1 + 1) - g(k + 1) - g(n1 - k + 1)
        + g(n2 + 1) - g(m1 - k + 1) - g(n2 - m1 + k + 1)
        - (g(n1 + n2 + 1) - g(m1 + 1) - g(n1 + n2 - m1 + 1))
    )


def fisher_exact(counts: Any, alternative: str = "two-sided") -> TestResult:
    """Fisher's exact test for 2x2 tables, shape (..., 2, 2); leading axes are replicates (vectorized).

    ``alternative``: ``"two-sided"`` (sum of the probabilities of tables no more likely than the observed one,
    with R's relative tolerance 1e-7), ``"greater"`` (odds ratio > 1: treatment responds more) or ``"less"``.
    ``statistic`` is the sample odds ratio a d / (b c) (scipy's convention); ``df`` is NaN. For the conditional
    maximum likelihood odds ratio and exact limits use :func:`fisher_odds_ratio`.
    """
    alt = check_method(alternative, _ALTERNATIVES, variable="alternative")
    n = as_counts(counts, two_by_two=True, min_ndim=2)
    a, b, c, d = n[..., 0, 0], n[..., 0, 1], n[..., 1, 0], n[..., 1, 1]
    n1, n2, m1 = a + b, c + d, a + c
    lo = np.maximum(0.0, m1 - n2)
    hi = np.minimum(n1, m1)
    width = int(np.max(hi - lo)) + 1 if n.size else 1
    k = lo[..., None] + np.arange(width)
    valid = k <= hi[..., None]
    logp = np.where(valid, _log_hyper(np.where(valid, k, lo[..., None]), n1[..., None], n2[..., None],
                                      m1[..., None]), -np.inf)
    prob = np.exp(logp)
    if alt == "greater":
        p = np.where(k >= a[..., None], prob, 0.0).sum(-1)
    elif alt == "less":
        p = np.where(k <= a[..., None], prob, 0.0).sum(-1)
    else:
        obs = _log_hyper(a, n1, n2, m1)[..., None]
        p = np.where(logp <= obs + np.log1p(1e-7), prob, 0.0).sum(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        orr = np.where(b * c > 0, a * d / np.where(b * c > 0, b * c, 1.0), np.where(a * d > 0, np.inf, np.nan))
    return TestResult(orr, np.full_like(p, np.nan), np.clip(p, 0, 1))


def fisher_odds_ratio(counts: Any, alpha: float = 0.05) -> EstimateResult:
    """Conditional maximum likelihood odds ratio with exact (Cornfield) limits, as R ``fisher.test``.

    The estimate solves E[a | psi] = a under the noncentral hypergeometric distribution; the limits solve
    P(A >= a; psi) = alpha/2 and P(A <= a; psi) = alpha/2. ``pvalue`` is the two-sided Fisher p-value; ``se``
    is NaN. Loops over leading axes (one root search per table).
    """
    alpha = check_alpha(alpha)
    n = as_counts(counts, two_by_two=True, min_ndim=2)
    flat = n.reshape(-1, 2, 2)
    out = np.array([_fisher_or_one(t, alpha) for t in flat]).reshape(*n.shape[:-2], 3)
    p = fisher_exact(n).pvalue
    return EstimateResult(out[..., 0], np.full(n.shape[:-2], np.nan), out[..., 1], out[..., 2], pvalue=p,
                          method="conditional-mle", confidence_level=1 - alpha)


def _fisher_or_one(t: np.ndarray, alpha: float) -> tuple[float, float, float]:
    a, b, c, d = t[0, 0], t[0, 1], t[1, 0], t[1, 1]
    n1, n2, m1 = a + b, c + d, a + c
    lo, hi = max(0.0, m1 - n2), min(n1, m1)
    if n1 == 0 or n2 == 0 or m1 == 0 or m1 == n1 + n2:
        return (np.nan, 0.0, np.inf)
    k = np.arange(lo, hi + 1)
    logd = _log_hyper(k, n1, n2, m1)

    def dist(log_psi: float) -> np.ndarray:
        e = logd + k * log_psi
        e = np.exp(e - e.max())
        return e / e.sum()

    def mean(log_psi: float) -> float:
        return float((k * dist(log_psi)).sum())

    def upper_tail(log_psi: float) -> float:  # P(A >= a)
        return float(dist(log_psi)[k >= a].sum())

    def lower_tail(log_psi: float) -> float:  # P(A <= a)
        return float(dist(log_psi)[k <= a].sum())

    def root(f: Any, target: float) -> float:
        lo_b, hi_b = -1.0, 1.0
        while f(lo_b) > target:
            lo_b *= 2
        while f(hi_b) < target:
            hi_b *= 2
        return float(optimize.brentq(lambda x: f(x) - target, lo_b, hi_b, xtol=1e-12, rtol=1e-12))

    if a == lo:
        est, ci_lo = 0.0, 0.0
    else:
        est = np.exp(root(mean, a)) if a < hi else np.inf
        ci_lo = np.exp(root(upper_tail, alpha / 2))
    if a == hi:
        est, ci_hi = (np.inf if a > lo else est), np.inf
    else:
        ci_hi = np.exp(root(lambda x: -lower_tail(x), -alpha / 2))
    return (float(est), float(ci_lo), float(ci_hi))


def _score_stats(n1: int, n2: int, delta: float) -> np.ndarray:
    """Farrington-Manning score statistic for every table (i, j), i of n1 and j of n2 responders."""
    from trialkit.stats.riskdiff import _ratio_z, _restricted_mle

    i = np.arange(n1 + 1, dtype=float)[:, None] * np.ones((1, n2 + 1))
    j = np.arange(n2 + 1, dtype=float)[None, :] * np.ones((n1 + 1, 1))
    nn1 = np.full_like(i, n1)
    nn2 = np.full_like(j, n2)
    pt1, pt2 = _restricted_mle(i, nn1, j, nn2, np.full_like(i, delta))
    var = pt1 * (1 - pt1) / n1 + pt2 * (1 - pt2) / n2
    return _ratio_z(i / n1 - j / n2 - delta, var)


def _max_tail(n1: int, n2: int, delta: float, indicator: np.ndarray, grid: int) -> float:
    """max over the nuisance p2 of P(indicator) with p1 = p2 + delta (grid, then golden-section refinement)."""
    lo, hi = max(0.0, -delta), min(1.0, 1.0 - delta)
    i = np.arange(n1 + 1)
    j = np.arange(n2 + 1)

    def prob(p2: np.ndarray) -> np.ndarray:
        p2 = np.clip(np.atleast_1d(p2), lo, hi)
        p1 = np.clip(p2 + delta, 0, 1)
        f1 = stats.binom.pmf(i[None, :], n1, p1[:, None])
        f2 = stats.binom.pmf(j[None, :], n2, p2[:, None])
        return np.einsum("gi,ij,gj->g", f1, indicator, f2)

    pts = np.linspace(lo, hi, grid)
    vals = prob(pts)
    best = int(np.argmax(vals))
    a_, b_ = pts[max(best - 1, 0)], pts[min(best + 1, grid - 1)]
    res = optimize.minimize_scalar(lambda x: -prob(x)[0], bounds=(a_, b_), method="bounded",
                                   options={"xatol": 1e-10})
    return float(max(vals[best], -res.fun))


def exact_unconditional_rd(counts: Any, alpha: float = 0.05, grid: int = 200) -> EstimateResult:
    """Exact unconditional confidence limits for the risk difference (Chan and Zhang 1999; SAS
    RISKDIFF(CL=EXACT)), inverting two one-sided exact tests at alpha/2 based on the score statistic.

    For a hypothesized difference delta the one-sided p-value is the maximum over the nuisance parameter of
    P(T(delta) >= t_obs) (lower limit) or P(T(delta) <= t_obs) (upper limit), T the Farrington-Manning score
    statistic; the maximum is taken on a grid of ``grid`` points refined by a bounded scalar search. ``pvalue``
    is the two-sided exact unconditional score test of d = 0 (Barnard's test with the pooled statistic).
    Loops over tables; meant for one table or a few, with arms up to a few hundred subjects.
    """
    alpha = check_alpha(alpha)
    n = as_counts(counts, two_by_two=True, min_ndim=2)
    flat = n.reshape(-1, 2, 2)
    res = np.array([_exact_one(t, alpha, grid) for t in flat]).reshape(*n.shape[:-2], 4)
    nan = np.full(n.shape[:-2], np.nan)
    return EstimateResult(res[..., 0], nan, res[..., 1], res[..., 2], pvalue=res[..., 3], method="exact",
                          confidence_level=1 - alpha)


def _exact_one(t: np.ndarray, alpha: float, grid: int) -> tuple[float, float, float, float]:
    x1, x2 = t[0, 0], t[1, 0]
    n1, n2 = int(t[0].sum()), int(t[1].sum())
    if n1 == 0 or n2 == 0:
        return (np.nan, np.nan, np.nan, np.nan)
    if np.any(t != np.round(t)):
        raise TrialkitError("exact methods need whole-number counts", variable="counts")
    x1, x2 = int(x1), int(x2)
    d = x1 / n1 - x2 / n2

    def fuzz(t: float) -> float:  # tables whose score ties with the observed one, up to rounding
        return 1e-9 * max(1.0, abs(t)) if np.isfinite(t) else 0.0

    def p_upper(delta: float) -> float:  # evidence against Delta <= delta
        s = _score_stats(n1, n2, delta)
        t = s[x1, x2]
        return _max_tail(n1, n2, delta, (s >= t - fuzz(t)).astype(float), grid)

    def p_lower(delta: float) -> float:
        s = _score_stats(n1, n2, delta)
        t = s[x1, x2]
        return _max_tail(n1, n2, delta, (s <= t + fuzz(t)).astype(float), grid)

    target = alpha / 2
    lo = -1.0 if x1 == 0 and x2 == n2 else _bisect_scalar(p_upper, -1.0, d, target, increasing=True)
    hi = 1.0 if x1 == n1 and x2 == 0 else _bisect_scalar(p_lower, d, 1.0, target, increasing=False)
    s0 = _score_stats(n1, n2, 0.0)
    obs = abs(s0[x1, x2])
    s0 = np.nan_to_num(s0, nan=0.0)
    p2 = _max_tail(n1, n2, 0.0, (np.abs(s0) >= obs - 1e-12).astype(float), grid) if obs > 0 else 1.0
    return (d, lo, hi, min(1.0, p2))


def _bisect_scalar(f: Any, lo: float, hi: float, target: float, *, increasing: bool, tol: float = 1e-9) -> float:
    """Boundary of {delta: f(delta) > target} in [lo, hi] (f monotone in delta)."""
    for _ in range(200):
        if hi - lo < tol:
            break
        mid = (lo + hi) / 2
        inside = f(mid) > target
        if increasing:
            hi, lo = (mid, lo) if inside else (hi, mid)
        else:
            lo, hi = (mid, hi) if inside else (lo, mid)
    return (lo + hi) / 2


__all__ = ["exact_unconditional_rd", "fisher_exact", "fisher_odds_ratio"]
