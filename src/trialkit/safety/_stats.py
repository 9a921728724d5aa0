"""Exact Poisson (Garwood) limits for event rates; risk differences come from trialkit.stats.risk_difference.

Pure, vectorized over arrays (leading axes are replicates); no I/O.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

from trialkit.errors import TrialkitError
from trialkit.stats._results import EstimateResult

#: Days per year used to turn exposure days into patient-years (Julian year, as in most SAPs).
DAYS_PER_YEAR = 365.25


def _check_alpha(alpha: float) -> float:
    if not 0.0 < float(alpha) < 1.0:
        raise TrialkitError(f"alpha must be in (0, 1), got {alpha}", variable="alpha")
    return float(alpha)


def poisson_rate_ci(events: Any, exposure: Any, *, per: float = 1.0, alpha: float = 0.05) -> EstimateResult:
    """Rate ``events / exposure * per`` with exact (Garwood) Poisson confidence limits.

    Lower limit ``chi2(alpha/2; 2x) / (2T)`` (0 when x = 0), upper limit ``chi2(1 - alpha/2; 2x + 2) / (2T)``
    (Garwood 1936, Biometrika 28:437-442; the interval of R's ``poisson.test`` and of SAS PROC GENMOD's
    exact Poisson limits). ``se`` is ``sqrt(x) / T * per``. Exposure 0 gives NaN.

    >>> r = poisson_rate_ci(3, 10.0, per=100)
    >>> round(r.estimate, 1), round(r.ci_low, 4), round(r.ci_high, 4)
    (30.0, 6.1867, 87.6727)
    """
    alpha = _check_alpha(alpha)
    x = np.asarray(events, dtype=float)
    t = np.asarray(exposure, dtype=float)
    if np.any(~np.isfinite(x)) or np.any(x < 0) or np.any(x != np.floor(x)):
        raise TrialkitError("events must be non-negative whole numbers", variable="events")
    if np.any(~np.isfinite(t)) or np.any(t < 0):
        raise TrialkitError("exposure must be finite and >= 0", variable="exposure",
                            fix="check the treatment durations (patient-years)")
    x, t = np.broadcast_arrays(x, t)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(t > 0, per / np.where(t > 0, t, 1.0), np.nan)
        # chi2(q; 2k) / 2 is the gamma(k) quantile
        lo = np.where(x > 0, special.gammaincinv(np.maximum(x, 1), alpha / 2), 0.0) * inv
        hi = special.gammaincinv(x + 1, 1 - alpha / 2) * inv
        est = x * inv
        se = np.sqrt(x) * inv
    return EstimateResult(est, se, lo, hi, method="garwood", confidence_level=1 - alpha)
