"""Logistic regression of response on treatment and strata, fitted from 2x2xK counts.

Model: logit P(response | stratum h, arm) = alpha_h + beta * [arm = treatment], one intercept per stratum
(equivalent to an intercept plus K - 1 stratum dummies, as PROC LOGISTIC with CLASS strata or R
``glm(cbind(resp, nonresp) ~ strata + trt, binomial)``). Fitted by Newton-Raphson on the grouped binomial
likelihood, vectorized over replicates (McCullagh and Nelder 1989, ch. 4).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special, stats

from trialkit.stats._results import EstimateResult
from trialkit.stats._tables import as_counts, check_alpha, safe_div


def _loglik(x: np.ndarray, n: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """Binomial log-likelihood without the constant, summed over the last two axes (stratum, arm)."""
    return (x * eta - n * np.logaddexp(0.0, eta)).sum((-1, -2))


def logistic_treatment_effect(
    counts: Any, alpha: float = 0.05, max_iter: int = 100, tol: float = 1e-10
) -> EstimateResult:
    """Treatment odds ratio from a logistic regression of response on treatment and strata.

    ``counts`` has shape (..., K, 2, 2): rows (treatment, control), columns (responder, non-responder).
    Returns the odds ratio exp(beta) with Wald limits (``se`` is the standard error of beta, the log odds
    ratio), the Wald p-value in ``pvalue`` and the likelihood-ratio test of beta = 0 in
    ``extra["lr_statistic"]`` and ``extra["lr_pvalue"]`` (df 1).

    Degenerate strata: a stratum with one arm empty, no responders or only responders has its intercept at
    +-infinity and carries no information on beta (quasi-complete separation of that stratum); it is left out
    of the fit, which gives the limit that SAS and R approach with a separation warning. If the treatment
    effect itself is not finite (every informative stratum at the extreme of its possible responder split, or
    none informative), the estimate is 0 or inf (or NaN) and se, limits and p-values are NaN.
    """
    alpha = check_alpha(alpha)
    n = as_counts(counts, two_by_two=True)
    x = n[..., 0]  # responders, (..., K, 2)
    m = n.sum(-1)  # arm sizes
    m1 = x.sum(-1)
    tot = m.sum(-1)
    use = (m[..., 0] > 0) & (m[..., 1] > 0) & (m1 > 0) & (m1 < tot)
    u3 = use[..., None]
    xs = np.where(u3, x, 0.0)
    ms = np.where(u3, m, 0.0)
    trt = np.array([1.0, 0.0])

    # existence of a finite beta: sum of treatment responders strictly inside its range given the margins
    lo = np.where(use, np.maximum(0.0, m1 - m[..., 1]), 0.0).sum(-1)
    hi = np.where(use, np.minimum(m[..., 0], m1), 0.0).sum(-1)
    obs = xs[..., 0].sum(-1)
    finite = (obs > lo) & (obs < hi)

    a = np.where(use, special.logit(np.clip(safe_div(m1, tot), 1e-12, 1 - 1e-12)), 0.0)
    red_eta = a[..., None] * np.ones(2)
    ll_red = _loglik(xs, ms, red_eta)
    b = np.zeros(a.shape[:-1])
    converged = np.zeros(b.shape, dtype=bool)
    for _ in range(max_iter):
        eta = a[..., None] + b[..., None, None] * trt
        p = special.expit(eta)
        w = ms * p * (1 - p)
        r = xs - ms * p
        d_h = np.where(use, w.sum(-1), 1.0)
        c_h = np.where(use, w[..., 0], 0.0)
        ua = np.where(use, r.sum(-1), 0.0)
        ub = r[..., 0].sum(-1)
        e = w[..., 0].sum(-1)
        schur = e - (c_h * c_h / d_h).sum(-1)
        db = safe_div(ub - (c_h * ua / d_h).sum(-1), schur)
        db = np.where(finite, np.clip(np.nan_to_num(db), -5, 5), 0.0)
        da = np.where(use, (ua - c_h * db[..., None]) / d_h, 0.0)
        da = np.clip(da, -5, 5)
        a = a + da
        b = b + db
        step = np.maximum(np.abs(db), np.abs(da).max(-1, initial=0.0))
        converged = step < tol
        if np.all(converged | ~finite):
            break
    eta = a[..., None] + b[..., None, None] * trt
    p = special.expit(eta)
    w = ms * p * (1 - p)
    d_h = np.where(use, w.sum(-1), 1.0)
    c_h = np.where(use, w[..., 0], 0.0)
    schur = w[..., 0].sum(-1) - (c_h * c_h / d_h).sum(-1)
    se = np.sqrt(safe_div(1.0, schur))
    ll_full = _loglik(xs, ms, eta)
    lr = np.clip(2 * (ll_full - ll_red), 0, None)
    z = special.ndtri(1 - alpha / 2)
    inf_b = np.where(obs >= hi, np.inf, -np.inf)
    none = ~use.any(-1)
    b = np.where(finite, b, np.where(none, np.nan, inf_b))
    ok = finite & converged
    se = np.where(ok, se, np.nan)
    with np.errstate(over="ignore"):
        est = np.exp(b)
        lo_ci = np.where(ok, np.exp(b - z * se), np.nan)
        hi_ci = np.where(ok, np.exp(b + z * se), np.nan)
    pw = np.where(ok, 2 * stats.norm.sf(np.abs(safe_div(b, se))), np.nan)
    lr = np.where(ok, lr, np.nan)
    return EstimateResult(
        est, se, lo_ci, hi_ci, pvalue=pw, method="logistic", confidence_level=1 - alpha,
        extra={"log_estimate": b, "lr_statistic": lr, "lr_pvalue": np.where(ok, stats.chi2.sf(lr, 1), np.nan),
               "converged": converged},
    )
