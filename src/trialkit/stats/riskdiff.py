"""Risk difference (treatment minus control) for 2x2 and stratified 2x2xK tables.

Rows are (treatment, control), columns (responder, non-responder). Sources are cited per method.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special, stats

from trialkit.stats._frames import frame_input
from trialkit.stats._results import EstimateResult
from trialkit.stats._tables import as_counts, check_alpha, check_method, safe_div

_STRAT_METHODS = ("mh", "newcombe", "mn", "summary-score")
_METHODS = ("wald", "newcombe", "mn", "agresti-caffo", "exact")
_BISECT_STEPS = 64


def _arms(n: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Responders and totals of the two arms: (x1, n1, x2, n2)."""
    x1, x2 = n[..., 0, 0], n[..., 1, 0]
    return x1, x1 + n[..., 0, 1], x2, x2 + n[..., 1, 1]  # explicit sums: reductions over a length-2 axis are slow


def _wald_p(est: np.ndarray, se: np.ndarray) -> np.ndarray:
    z = safe_div(est, se)
    return 2 * special.ndtr(-np.abs(z))  # 2 P(Z > |z|)


def _wilson(x: np.ndarray, n: np.ndarray, z: Any) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score limits (z may vary per element)."""
    p = safe_div(x, n)
    den = n + z * z
    centre = safe_div(x + z * z / 2, den)
    half = safe_div(z * np.sqrt(np.clip(n * p * (1 - p), 0, None) + z * z / 4), den)
    return centre - half, centre + half


def _restricted_mle(
    x1: np.ndarray, n1: np.ndarray, x2: np.ndarray, n2: np.ndarray, delta: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Maximum likelihood (p1, p2) under p1 - p2 = delta, closed form of Miettinen and Nurminen (1985)
    (Farrington and Manning 1990, Stat Med 9:1447-1454, eq. for the risk difference)."""
    p1, p2 = safe_div(x1, n1), safe_div(x2, n2)
    theta = safe_div(n2, n1)
    a = 1 + theta
    b = -(1 + theta + p1 + theta * p2 + delta * (theta + 2))
    c = delta * delta + delta * (2 * p1 + theta + 1) + p1 + theta * p2
    d = -p1 * delta * (1 + delta)
    v = b**3 / (27 * a**3) - b * c / (6 * a * a) + d / (2 * a)
    u = np.where(v >= 0, 1.0, -1.0) * np.sqrt(np.clip(b * b / (9 * a * a) - c / (3 * a), 0, None))
    ratio = np.clip(safe_div(v, u**3), -1, 1)
    ratio = np.where(u == 0, 0.0, ratio)
    w = (np.pi + np.arccos(ratio)) / 3
    pt1 = np.clip(2 * u * np.cos(w) - b / (3 * a), 0, 1)
    pt2 = np.clip(pt1 - delta, 0, 1)
    return pt1, pt2


def _mn_var(x1: np.ndarray, n1: np.ndarray, x2: np.ndarray, n2: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """Miettinen-Nurminen variance of p1_hat - p2_hat at p1 - p2 = delta, with the N / (N - 1) factor."""
    pt1, pt2 = _restricted_mle(x1, n1, x2, n2, delta)
    tot = n1 + n2
    return (safe_div(pt1 * (1 - pt1), n1) + safe_div(pt2 * (1 - pt2), n2)) * safe_div(tot, tot - 1)


def _ratio_z(num: np.ndarray, var: np.ndarray) -> np.ndarray:
    """num / sqrt(var), with +-inf (or 0) where var == 0 so that bisection keeps its sign."""
    with np.errstate(divide="ignore", invalid="ignore"):
        z = num / np.sqrt(np.clip(var, 0, None))
    return np.where(var > 0, z, np.where(num > 0, np.inf, np.where(num < 0, -np.inf, 0.0)))


def _bisect(fun: Any, lo: np.ndarray, hi: np.ndarray, target: float) -> np.ndarray:
    """Root of the decreasing function fun(delta) = target in [lo, hi], elementwise (vectorized bisection)."""
    lo, hi = np.broadcast_arrays(np.asarray(lo, dtype=float).copy(), np.asarray(hi, dtype=float).copy())
    lo, hi = lo.copy(), hi.copy()
    for _ in range(_BISECT_STEPS):
        mid = (lo + hi) / 2
        above = np.nan_to_num(fun(mid), nan=0.0) > target
        lo = np.where(above, mid, lo)
        hi = np.where(above, hi, mid)
    return (lo + hi) / 2


def _mn_interval(
    x1: np.ndarray, n1: np.ndarray, x2: np.ndarray, n2: np.ndarray, z: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Miettinen-Nurminen score interval for one 2x2 table per element: (d, low, high, score-test p)."""
    d = safe_div(x1, n1) - safe_div(x2, n2)
    d0 = np.nan_to_num(d)

    def score(delta: np.ndarray) -> np.ndarray:
        return _ratio_z(d0 - delta, _mn_var(x1, n1, x2, n2, delta))

    lo = _bisect(score, -1.0, d0, z)
    hi = _bisect(score, d0, 1.0, -z)
    z0 = score(np.zeros_like(d0))
    p = 2 * stats.norm.sf(np.abs(z0))
    empty = (n1 == 0) | (n2 == 0)
    return (d, np.where(empty, np.nan, lo), np.where(empty, np.nan, hi), np.where(empty, np.nan, p))


@frame_input(two_by_two=True, stratified=False)
def risk_difference(counts: Any, method: str = "wald", alpha: float = 0.05) -> EstimateResult:
    """Risk difference p1 - p2 (treatment minus control) for 2x2 tables, shape (..., 2, 2).

    Methods (SAS PROC FREQ RISKDIFF(CL=...), "Risk Difference Confidence Limits"):

    - ``"wald"``: d +- z sqrt(p1 q1 / n1 + p2 q2 / n2); Wald test p-value.
    - ``"newcombe"``: hybrid score interval from the two Wilson intervals (Newcombe 1998, Stat Med 17:873-890,
      method 10).
    - ``"mn"``: Miettinen and Nurminen (1985, Stat Med 4:213-226) score interval, variance with the N/(N-1)
      factor; the p-value is the MN score test of d = 0.
    - ``"agresti-caffo"``: Wald interval after adding one responder and one non-responder to each arm
      (Agresti and Caffo 2000, Am Stat 54:280-288), limited to [-1, 1].
    - ``"exact"``: exact unconditional interval inverting two one-sided score tests (Chan and Zhang 1999,
      Biometrics 55:1202-1209), see :func:`trialkit.stats.exact.exact_unconditional_rd`; loops over tables.

    ``estimate`` is always the observed difference; ``se`` is the Wald standard error for ``"wald"``, the
    adjusted one for ``"agresti-caffo"``, and NaN for the interval-only methods. A table with an empty arm
    gives NaN.
    """
    m = check_method(method, _METHODS)
    alpha = check_alpha(alpha)
    n = as_counts(counts, two_by_two=True, min_ndim=2)
    x1, n1, x2, n2 = _arms(n)
    p1, p2 = safe_div(x1, n1), safe_div(x2, n2)
    d = p1 - p2
    z = special.ndtri(1 - alpha / 2)
    nan = np.full_like(d, np.nan)
    if m == "wald":
        se = np.sqrt(safe_div(p1 * (1 - p1), n1) + safe_div(p2 * (1 - p2), n2))
        return EstimateResult(d, se, d - z * se, d + z * se, pvalue=_wald_p(d, se), method=m,
                              confidence_level=1 - alpha)
    if m == "agresti-caffo":
        q1, q2 = (x1 + 1) / (n1 + 2), (x2 + 1) / (n2 + 2)
        dd = q1 - q2
        se = np.sqrt(q1 * (1 - q1) / (n1 + 2) + q2 * (1 - q2) / (n2 + 2))
        lo, hi = np.clip(dd - z * se, -1, 1), np.clip(dd + z * se, -1, 1)
        empty = (n1 == 0) | (n2 == 0)
        return EstimateResult(d, np.where(empty, np.nan, se), np.where(empty, np.nan, lo),
                              np.where(empty, np.nan, hi), method=m, confidence_level=1 - alpha)
    if m == "newcombe":
        l1, u1 = _wilson(x1, n1, z)
        l2, u2 = _wilson(x2, n2, z)
        lo = d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
        hi = d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
        return EstimateResult(d, nan, lo, hi, method=m, confidence_level=1 - alpha)
    if m == "mn":
        d, lo, hi, p = _mn_interval(x1, n1, x2, n2, z)
        return EstimateResult(d, nan, lo, hi, pvalue=p, method=m, confidence_level=1 - alpha)
    from trialkit.stats.exact import exact_unconditional_rd

    return exact_unconditional_rd(n, alpha=alpha)


def _mh_estimate(x1: np.ndarray, n1: np.ndarray, x2: np.ndarray, n2: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """d_MH = sum_k w_k d_k / sum_k w_k, w_k = n1_k n2_k / n_k, over the strata (last axis) where both arms have
    patients (Greenland and Robins 1985): (estimate, sum of weights, stratum usable)."""
    ok = (n1 > 0) & (n2 > 0)
    sw = _mh_weights(n1, n2).sum(-1)
    # w_k d_k = (x1_k n2_k - x2_k n1_k) / n_k: no per-arm proportions needed
    return safe_div(np.where(ok, safe_div(x1 * n2 - x2 * n1, n1 + n2), 0.0).sum(-1), sw), sw, ok


@frame_input(two_by_two=True)
def mh_risk_difference(counts: Any) -> np.ndarray:
    """The Mantel-Haenszel common risk difference of 2x2xK tables (..., K, 2, 2) (rows treatment, control; columns
    responder, non-responder), vectorized over leading axes: the estimate of
    ``stratified_risk_difference(counts, method="mh")`` without its variance (Greenland and Robins 1985, Biometrics
    41:55-68). NaN where no stratum has both arms."""
    return _mh_estimate(*_arms(as_counts(counts, two_by_two=True)))[0]


def _mh_sato(n: np.ndarray, alpha: float) -> EstimateResult:
    """Mantel-Haenszel risk difference with Sato's variance and Wald limits.

    d_MH = sum_k w_k d_k / sum_k w_k with w_k = n1_k n2_k / n_k (Greenland and Robins 1985, Biometrics
    41:55-68); Var = (d_MH sum_k P_k + sum_k Q_k) / (sum_k w_k)^2 with
    P_k = (n1_k^2 x2_k - n2_k^2 x1_k + n1_k n2_k (n2_k - n1_k) / 2) / n_k^2 and
    Q_k = (x1_k (n2_k - x2_k) + x2_k (n1_k - x1_k)) / (2 n_k) (Sato 1989, Biometrics 45:1323-1324; SAS/STAT
    PROC FREQ documentation, "Mantel-Haenszel Risk Difference", COMMONRISKDIFF(CL=MH) / RISKDIFF(CL=MH)).
    Strata with one arm empty have w_k = P_k = Q_k = 0 and contribute nothing.
    """
    x1, n1, x2, n2 = _arms(n)
    tot = n1 + n2
    est, sw, ok = _mh_estimate(x1, n1, x2, n2)
    p_k = np.where(ok, safe_div(n1 * n1 * x2 - n2 * n2 * x1 + n1 * n2 * (n2 - n1) / 2, tot * tot), 0.0)
    q_k = np.where(ok, safe_div(x1 * (n2 - x2) + x2 * (n1 - x1), 2 * tot), 0.0)
    var = safe_div(est * p_k.sum(-1) + q_k.sum(-1), sw * sw)
    se = np.sqrt(np.clip(var, 0, None))
    z = special.ndtri(1 - alpha / 2)
    return EstimateResult(
        est, se, est - z * se, est + z * se, pvalue=_wald_p(est, se), method="mh", confidence_level=1 - alpha
    )


def _mh_weights(n1: np.ndarray, n2: np.ndarray) -> np.ndarray:
    ok = (n1 > 0) & (n2 > 0)
    return np.where(ok, safe_div(n1 * n2, n1 + n2), 0.0)


def _strat_newcombe(n: np.ndarray, alpha: float) -> EstimateResult:
    """Stratified Newcombe interval with Mantel-Haenszel weights (Yan and Su 2010, Stat Biopharm Res
    2:329-335; SAS PROC FREQ COMMONRISKDIFF(CL=NEWCOMBE)).

    For each arm j, the stratified Wilson limits are sum_h w_h L_hj and sum_h w_h U_hj, where the stratum Wilson
    limits use z_j = z sqrt(sum_h w_h^2 v_hj) / sum_h w_h sqrt(v_hj), v_hj = p_hj (1 - p_hj) / n_hj; they are
    then combined with Newcombe's hybrid rule around d = sum_h w_h (p_h1 - p_h2). When every v_hj is zero,
    z_j = z.
    """
    x1, n1, x2, n2 = _arms(n)
    w = _mh_weights(n1, n2)
    sw = w.sum(-1, keepdims=True)
    w = safe_div(w, sw)
    ok = w > 0
    z = special.ndtri(1 - alpha / 2)
    limits = []
    for x, m in ((x1, n1), (x2, n2)):
        p = np.where(ok, safe_div(x, m), 0.0)
        v = np.where(ok, safe_div(p * (1 - p), m), 0.0)
        den = (w * np.sqrt(v)).sum(-1, keepdims=True)
        zj = np.where(den > 0, z * safe_div(np.sqrt((w * w * v).sum(-1, keepdims=True)), den), z)
        lo, hi = _wilson(x, m, zj)
        pw = (w * p).sum(-1)
        limits.append((pw, (w * np.where(ok, lo, 0.0)).sum(-1), (w * np.where(ok, hi, 0.0)).sum(-1)))
    (q1, l1, u1), (q2, l2, u2) = limits
    d = q1 - q2
    lo = d - np.sqrt((q1 - l1) ** 2 + (u2 - q2) ** 2)
    hi = d + np.sqrt((u1 - q1) ** 2 + (q2 - l2) ** 2)
    empty = sw[..., 0] == 0
    d, lo, hi = (np.where(empty, np.nan, x) for x in (d, lo, hi))
    nan = np.full_like(d, np.nan)
    return EstimateResult(d, nan, lo, hi, method="newcombe", confidence_level=1 - alpha)


def _strat_mn(n: np.ndarray, alpha: float) -> EstimateResult:
    """Stratified Miettinen-Nurminen score interval with Mantel-Haenszel weights.

    Z(delta) = sum_h w_h (d_h - delta) / sqrt(sum_h w_h^2 V_h(delta)), with V_h the Miettinen-Nurminen
    variance at the restricted maximum likelihood estimates (N_h / (N_h - 1) factor); the limits solve
    Z(delta) = +-z (Miettinen and Nurminen 1985; SAS Viya PROC FREQ COMMONRISKDIFF(CL=MN); Laud's SCORECI
    with MH weights and no skewness correction). The estimate, where Z = 0, is the MH estimate.
    """
    x1, n1, x2, n2 = _arms(n)
    w = _mh_weights(n1, n2)
    ok = w > 0
    d_h = np.where(ok, safe_div(x1, n1) - safe_div(x2, n2), 0.0)
    sw = w.sum(-1)
    est = safe_div((w * d_h).sum(-1), sw)
    e0 = np.nan_to_num(est)

    def score(delta: np.ndarray) -> np.ndarray:
        dl = delta[..., None]
        v = np.where(ok, _mn_var(x1, n1, x2, n2, dl), 0.0)
        return _ratio_z((w * (d_h - dl)).sum(-1), (w * w * v).sum(-1))

    z = special.ndtri(1 - alpha / 2)
    lo = _bisect(score, -1.0, e0, z)
    hi = _bisect(score, e0, 1.0, -z)
    p = 2 * stats.norm.sf(np.abs(score(np.zeros_like(e0))))
    empty = sw == 0
    lo, hi, p = (np.where(empty, np.nan, x) for x in (lo, hi, p))
    nan = np.full_like(est, np.nan)
    return EstimateResult(est, nan, lo, hi, pvalue=p, method="mn", confidence_level=1 - alpha)


def _summary_score(n: np.ndarray, alpha: float) -> EstimateResult:
    """Summary score estimate (SAS PROC FREQ "Summary Score Estimate"; Agresti 2013, p. 231).

    Each stratum's Miettinen-Nurminen interval gives a midpoint d*_h and s_h = (U_h - L_h) / (2 z);
    estimate = sum(d*_h / s_h^2) / sum(1 / s_h^2), variance 1 / sum(1 / s_h^2), Wald limits and p-value.
    """
    x1, n1, x2, n2 = _arms(n)
    z = special.ndtri(1 - alpha / 2)
    _, lo_h, hi_h, _ = _mn_interval(x1, n1, x2, n2, z)
    ok = (n1 > 0) & (n2 > 0)
    s_h = (hi_h - lo_h) / (2 * z)
    w = np.where(ok, safe_div(1.0, s_h * s_h), 0.0)
    mid = np.where(ok, (lo_h + hi_h) / 2, 0.0)
    sw = w.sum(-1)
    est = safe_div((w * mid).sum(-1), sw)
    se = np.sqrt(safe_div(1.0, sw))
    return EstimateResult(est, se, est - z * se, est + z * se, pvalue=_wald_p(est, se), method="summary-score",
                          confidence_level=1 - alpha)


@frame_input(two_by_two=True)
def stratified_risk_difference(counts: Any, method: str = "mh", alpha: float = 0.05) -> EstimateResult:
    """Common risk difference over K strata, treatment minus control.

    ``counts`` has shape (..., K, 2, 2); leading axes are replicates. Methods:

    - ``"mh"``: Mantel-Haenszel estimate, Sato variance, Wald CI and Wald p-value (SAS PROC FREQ
      COMMONRISKDIFF(CL=MH)).
    - ``"newcombe"``: MH estimate with the stratified Newcombe interval of Yan and Su (2010), MH weights
      (SAS COMMONRISKDIFF(CL=NEWCOMBE)); ``se`` and ``pvalue`` NaN.
    - ``"mn"``: MH estimate with the stratified Miettinen-Nurminen score interval, MH weights (SAS Viya
      COMMONRISKDIFF(CL=MN)); ``pvalue`` is the stratified score test of d = 0; ``se`` NaN.
    - ``"summary-score"``: summary score estimate from the stratum MN intervals (SAS COMMONRISKDIFF(CL=SCORE)).

    Strata in which one arm is empty contribute nothing (as SAS); if every stratum is like that, all fields
    are NaN. Strata with no (or only) responders keep their weight: their risk difference is 0.

    >>> r = stratified_risk_difference([[[10, 5], [4, 11]], [[8, 8], [3, 12]]])
    >>> round(r.estimate, 4)
    0.3492

    From a data frame, one row per subject (treatment_levels=(active, control); responders 1, 0 or "Y", "N"):

    >>> import polars as pl
    >>> d = pl.DataFrame({"TRTP": ["A"] * 4 + ["P"] * 4, "RESP": [1, 1, 1, 0, 1, 0, 0, 0],
    ...                   "SITE": ["1", "2"] * 4})
    >>> r = stratified_risk_difference(d, treatment="TRTP", response="RESP", strata="SITE",
    ...                                treatment_levels=("A", "P"))
    >>> round(r.estimate, 4), r.extra["strata"]
    (0.5, [('1',), ('2',)])
    """
    m = check_method(method, _STRAT_METHODS)
    alpha = check_alpha(alpha)
    n = as_counts(counts, two_by_two=True)
    if m == "mh":
        return _mh_sato(n, alpha)
    if m == "newcombe":
        return _strat_newcombe(n, alpha)
    if m == "mn":
        return _strat_mn(n, alpha)
    return _summary_score(n, alpha)
