"""Common odds ratio and relative risk over 2x2xK tables, and the Breslow-Day homogeneity test.

Rows are (treatment, control), columns (responder, non-responder): the odds ratio and relative risk compare
treatment with control for the responder column (SAS PROC FREQ "Case-Control (Odds Ratio)" and
"Cohort (Col1 Risk)"). Sources: Mantel and Haenszel (1959); Robins, Breslow and Greenland (1986) Biometrics
42:311-323; Greenland and Robins (1985) Biometrics 41:55-68; Woolf (1955); Breslow and Day (1980); Tarone
(1985) Biometrika 72:91-95; SAS/STAT PROC FREQ documentation, "Adjusted Odds Ratio and Relative Risk
Estimates" and "Breslow-Day Test for Homogeneity of the Odds Ratios".
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special, stats

from trialkit.stats._frames import frame_input
from trialkit.stats._results import EstimateResult, TestResult
from trialkit.stats._tables import as_counts, check_alpha, check_method, safe_div


def _cells(n: np.ndarray) -> tuple[np.ndarray, ...]:
    return n[..., 0, 0], n[..., 0, 1], n[..., 1, 0], n[..., 1, 1]


def _log_ci(log_est: np.ndarray, se: np.ndarray, alpha: float, method: str) -> EstimateResult:
    z = special.ndtri(1 - alpha / 2)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        est = np.exp(log_est)
        lo = np.exp(log_est - z * se)
        hi = np.exp(log_est + z * se)
        pval = 2 * stats.norm.sf(np.abs(safe_div(log_est, se)))
    bad = ~np.isfinite(se)
    return EstimateResult(
        est,
        se,
        np.where(bad, np.nan, lo),
        np.where(bad, np.nan, hi),
        pvalue=np.where(bad, np.nan, pval),
        method=method,
        confidence_level=1 - alpha,
        extra={"log_estimate": log_est, "se_scale": "log"},
    )


def _logit_pool(log_h: np.ndarray, var_h: np.ndarray, use: np.ndarray, alpha: float) -> EstimateResult:
    w = np.where(use, safe_div(1.0, var_h), 0.0)
    sw = w.sum(-1)
    log_est = safe_div((w * np.where(use, log_h, 0.0)).sum(-1), sw)
    se = np.sqrt(safe_div(1.0, sw))
    return _log_ci(log_est, se, alpha, "logit")


@frame_input(two_by_two=True)
def mh_odds_ratio(counts: Any, method: str = "mh", alpha: float = 0.05) -> EstimateResult:
    """Common odds ratio over strata, treatment vs control, with Wald confidence limits on the log scale.

    ``method="mh"``: Mantel-Haenszel estimate sum(a d / n) / sum(b c / n) with the Robins-Breslow-Greenland
    variance of its logarithm (as R ``mantelhaen.test`` and SAS). ``method="logit"``: Woolf's inverse-variance
    weighted mean of the stratum log odds ratios; a stratum with a zero cell has 0.5 added to each of its cells
    (SAS "Logit Estimator").

    ``se`` is the standard error of the log odds ratio; ``pvalue`` is the Wald test of log OR = 0.
    Degenerate strata: one arm empty -> no contribution (both methods); a single subject or no responders ->
    no contribution to the MH estimate. If the MH numerator or denominator is zero the estimate is 0 or inf and
    the limits are NaN.

    >>> round(mh_odds_ratio([[[16, 11], [5, 20]], [[12, 16], [7, 19]]]).estimate, 4)
    3.3132
    """
    m = check_method(method, ("mh", "logit"))
    alpha = check_alpha(alpha)
    n = as_counts(counts, two_by_two=True)
    a, b, c, d = _cells(n)
    tot = n.sum((-1, -2))
    if m == "mh":
        r = safe_div(a * d, tot)
        s = safe_div(b * c, tot)
        p = safe_div(a + d, tot)
        q = safe_div(b + c, tot)
        r, s, p, q = (np.where(tot > 0, x, 0.0) for x in (r, s, p, q))
        rs, ss = r.sum(-1), s.sum(-1)
        var = (
            safe_div((p * r).sum(-1), 2 * rs * rs)
            + safe_div((p * s + q * r).sum(-1), 2 * rs * ss)
            + safe_div((q * s).sum(-1), 2 * ss * ss)
        )
        with np.errstate(divide="ignore"):
            log_est = np.where(ss > 0, np.log(np.where(rs > 0, rs, 0.0) / np.where(ss > 0, ss, 1.0)), np.inf)
        log_est = np.where((rs == 0) & (ss == 0), np.nan, log_est)
        se = np.where((rs > 0) & (ss > 0), np.sqrt(var), np.nan)
        return _log_ci(log_est, se, alpha, "mh")
    use = ((a + b) > 0) & ((c + d) > 0)
    zero = (a == 0) | (b == 0) | (c == 0) | (d == 0)
    adj = np.where(zero, 0.5, 0.0)
    a2, b2, c2, d2 = a + adj, b + adj, c + adj, d + adj
    with np.errstate(divide="ignore", invalid="ignore"):
        log_h = np.log(a2 * d2 / (b2 * c2))
        var_h = 1 / a2 + 1 / b2 + 1 / c2 + 1 / d2
    return _logit_pool(log_h, var_h, use, alpha)


@frame_input(two_by_two=True)
def mh_relative_risk(counts: Any, method: str = "mh", alpha: float = 0.05) -> EstimateResult:
    """Common relative risk of response (treatment / control) over strata.

    ``method="mh"``: Mantel-Haenszel estimate sum(a n2 / n) / sum(c n1 / n) with the Greenland-Robins (1985)
    variance of its logarithm, sum((n1 n2 m1 - a c n) / n^2) / (sum(a n2 / n) sum(c n1 / n)) (SAS "Mantel-
    Haenszel Estimator" for the column 1 relative risk). ``method="logit"``: inverse-variance weighted mean of
    the stratum log relative risks with var = 1/a - 1/n1 + 1/c - 1/n2; a stratum with a zero cell has 0.5
    added to each cell (the rule SAS documents for the logit odds ratio; without it a stratum where every
    subject responds would have zero variance and infinite weight).

    ``se`` is on the log scale. Strata with one arm empty contribute nothing.
    """
    m = check_method(method, ("mh", "logit"))
    alpha = check_alpha(alpha)
    n = as_counts(counts, two_by_two=True)
    a, b, c, d = _cells(n)
    n1, n2 = a + b, c + d
    tot = n1 + n2
    m1 = a + c
    if m == "mh":
        num = np.where(tot > 0, safe_div(a * n2, tot), 0.0)
        den = np.where(tot > 0, safe_div(c * n1, tot), 0.0)
        v = np.where(tot > 0, safe_div(n1 * n2 * m1 - a * c * tot, tot * tot), 0.0)
        ns, ds = num.sum(-1), den.sum(-1)
        with np.errstate(divide="ignore"):
            log_est = np.where(ds > 0, np.log(np.where(ns > 0, ns, 0.0) / np.where(ds > 0, ds, 1.0)), np.inf)
        log_est = np.where((ns == 0) & (ds == 0), np.nan, log_est)
        se = np.where((ns > 0) & (ds > 0), np.sqrt(np.clip(safe_div(v.sum(-1), ns * ds), 0, None)), np.nan)
        return _log_ci(log_est, se, alpha, "mh")
    use = (n1 > 0) & (n2 > 0)
    adj = np.where((a == 0) | (b == 0) | (c == 0) | (d == 0), 0.5, 0.0)
    a2, c2 = a + adj, c + adj
    n1a, n2a = n1 + 2 * adj, n2 + 2 * adj
    with np.errstate(divide="ignore", invalid="ignore"):
        log_h = np.log((a2 / n1a) / (c2 / n2a))
        var_h = 1 / a2 - 1 / n1a + 1 / c2 - 1 / n2a
    return _logit_pool(log_h, var_h, use, alpha)


def _expected_a(psi: np.ndarray, n1: np.ndarray, n2: np.ndarray, m1: np.ndarray) -> np.ndarray:
    """Root A in [max(0, m1 - n2), min(n1, m1)] of A (n2 - m1 + A) = psi (n1 - A)(m1 - A)."""
    qa = 1 - psi
    qb = n2 - m1 + psi * (n1 + m1)
    qc = -psi * n1 * m1
    disc = np.sqrt(np.clip(qb * qb - 4 * qa * qc, 0, None))
    q = -0.5 * (qb + np.where(qb >= 0, 1.0, -1.0) * disc)
    r1 = safe_div(q, qa)
    r2 = safe_div(qc, q)
    lo = np.maximum(0.0, m1 - n2)
    hi = np.minimum(n1, m1)
    eps = 1e-9 * np.maximum(1.0, hi)
    in1 = (r1 >= lo - eps) & (r1 <= hi + eps)
    root = np.where(in1, r1, r2)
    linear = safe_div(n1 * m1, n1 + n2)  # psi == 1
    return np.clip(np.where(qa == 0, linear, root), lo, hi)


@frame_input(two_by_two=True)
def breslow_day(counts: Any, tarone: bool = False) -> TestResult:
    """Breslow-Day test that the odds ratio is the same in all strata (optionally with Tarone's correction).

    Uses the Mantel-Haenszel common odds ratio psi; for each stratum the expected count A of cell (1, 1) given the
    margins and psi solves A (n2 - m1 + A) = psi (n1 - A)(m1 - A), with variance
    1 / (1/A + 1/(n1 - A) + 1/(m1 - A) + 1/(n2 - m1 + A)). The statistic is sum (a - A)^2 / Var(A);
    Tarone's correction subtracts (sum a - sum A)^2 / sum Var(A) (SAS BDT option).

    Degenerate strata: a stratum whose (1, 1) cell is fixed by its margins (one arm empty, no or all responders)
    carries no information on the odds ratio and is left out; df = (number of informative strata) - 1. If psi is
    0, infinite or undefined the statistic is NaN.
    """
    n = as_counts(counts, two_by_two=True)
    a, b, c, d = _cells(n)
    n1, n2, m1 = a + b, c + d, a + c
    m2 = b + d
    psi = np.asarray(mh_odds_ratio(n).estimate, dtype=float)[..., None]
    use = (n1 > 0) & (n2 > 0) & (m1 > 0) & (m2 > 0)
    ok_psi = np.isfinite(psi) & (psi > 0)
    psi_s = np.where(ok_psi, psi, 1.0)
    big_a = _expected_a(psi_s, n1, n2, m1)
    with np.errstate(divide="ignore", invalid="ignore"):
        var = 1.0 / (1.0 / big_a + 1.0 / (n1 - big_a) + 1.0 / (m1 - big_a) + 1.0 / (n2 - m1 + big_a))
    var = np.where(use & np.isfinite(var), var, 0.0)
    dev = np.where(use, a - big_a, 0.0)
    stat = np.where(var > 0, safe_div(dev * dev, var), 0.0).sum(-1)
    if tarone:
        stat = stat - safe_div(dev.sum(-1) ** 2, var.sum(-1))
    df = (use & (var > 0)).sum(-1).astype(float) - 1
    bad = ~ok_psi[..., 0] | (df < 1)
    stat = np.where(bad, np.nan, stat)
    p = np.where(bad, np.nan, stats.chi2.sf(stat, np.maximum(df, 1)))
    return TestResult(stat, np.where(bad, np.nan, df), p)
