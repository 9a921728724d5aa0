"""Confidence intervals for a single binomial proportion.

Sources: Wilson (1927) JASA 22:209-212; Clopper and Pearson (1934) Biometrika 26:404-413; SAS/STAT PROC FREQ
documentation, "Binomial Proportion" (BINOMIAL(CL=WILSON CLOPPERPEARSON WALD)).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special, stats

from trialkit.errors import TrialkitError
from trialkit.stats._results import EstimateResult
from trialkit.stats._tables import check_alpha, check_method, safe_div

_METHODS = ("wilson", "clopper-pearson", "wald")


def proportion_ci(x: Any, n: Any, method: str = "wilson", alpha: float = 0.05) -> EstimateResult:
    """Confidence interval for a binomial proportion ``x / n`` (arrays broadcast).

    ``method``: ``"wilson"`` (score interval without continuity correction), ``"clopper-pearson"`` (exact,
    beta quantiles; limit 0 when x = 0 and 1 when x = n, as SAS) or ``"wald"`` (truncated to [0, 1]).
    ``se`` is the Wald standard error sqrt(p(1-p)/n). ``n = 0`` gives NaN.

    >>> r = proportion_ci(7, 20, method="wilson")
    >>> round(r.ci_low, 4), round(r.ci_high, 4)
    (0.1812, 0.5671)
    """
    m = check_method(method, _METHODS)
    alpha = check_alpha(alpha)
    x = np.asarray(x, dtype=float)
    n = np.asarray(n, dtype=float)
    if np.any(~np.isfinite(x)) or np.any(~np.isfinite(n)):
        raise TrialkitError("x and n must be finite", variable="x, n")
    if np.any(x < 0) or np.any(x > n):
        raise TrialkitError("need 0 <= x <= n", variable="x, n", fix="x is the number of responders out of n")
    x, n = np.broadcast_arrays(x, n)
    p = safe_div(x, n)
    se = np.sqrt(safe_div(p * (1 - p), n))
    z = special.ndtri(1 - alpha / 2)
    if m == "wilson":
        den = n + z * z
        centre = safe_div(x + z * z / 2, den)
        half = safe_div(z * np.sqrt(np.clip(n * p * (1 - p), 0, None) + z * z / 4), den)
        lo, hi = centre - half, centre + half
        lo = np.where(x == 0, 0.0, lo)
        hi = np.where(x == n, 1.0, hi)
    elif m == "clopper-pearson":
        with np.errstate(invalid="ignore"):
            lo = np.where(x > 0, stats.beta.ppf(alpha / 2, x, n - x + 1), 0.0)
            hi = np.where(x < n, stats.beta.ppf(1 - alpha / 2, x + 1, n - x), 1.0)
    else:
        lo = np.clip(p - z * se, 0, 1)
        hi = np.clip(p + z * se, 0, 1)
    empty = n == 0
    lo = np.where(empty, np.nan, lo)
    hi = np.where(empty, np.nan, hi)
    return EstimateResult(p, se, lo, hi, method=m, confidence_level=1 - alpha)
