"""Small statistics used by the safety tables: exact Poisson rate limits and risk-difference limits.

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


def _wilson(x: np.ndarray, n: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(divide="ignore", invalid="ignore"):
        p = x / n
        den = n + z * z
        centre = (x + z * z / 2) / den
        half = z * np.sqrt(np.clip(n * p * (1 - p), 0, None) + z * z / 4) / den
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def risk_difference_ci(
    x1: Any, n1: Any, x2: Any, n2: Any, *, method: str = "newcombe", alpha: float = 0.05
) -> EstimateResult:
    """Difference of two proportions ``x1/n1 - x2/n2`` with confidence limits.

    ``method="newcombe"``: hybrid score interval from the two Wilson intervals (Newcombe 1998, Stat Med
    17:873-890, method 10; SAS PROC FREQ ``RISKDIFF(CL=NEWCOMBE)``); ``"wald"``: ``d -/+ z se`` with
    ``se = sqrt(p1 q1/n1 + p2 q2/n2)``. ``se`` is the Wald standard error in both cases. An arm with n = 0
    gives NaN.

    >>> r = risk_difference_ci(10, 50, 4, 50)
    >>> round(r.estimate, 2), round(r.ci_low, 4), round(r.ci_high, 4)
    (0.12, -0.0193, 0.2591)
    """
    alpha = _check_alpha(alpha)
    m = str(method).lower()
    if m not in ("newcombe", "wald"):
        raise TrialkitError(f"unknown method {method!r}", variable="method", fix="use 'newcombe' or 'wald'")
    x1, n1, x2, n2 = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (x1, n1, x2, n2)))
    if np.any((x1 < 0) | (x2 < 0) | (x1 > n1) | (x2 > n2)):
        raise TrialkitError("need 0 <= x <= n in both arms", variable="x1, n1, x2, n2")
    z = float(special.ndtri(1 - alpha / 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p2 = x1 / n1, x2 / n2
        d = p1 - p2
        se = np.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    if m == "wald":
        lo, hi = np.clip(d - z * se, -1, 1), np.clip(d + z * se, -1, 1)
    else:
        l1, u1 = _wilson(x1, n1, z)
        l2, u2 = _wilson(x2, n2, z)
        lo = d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
        hi = d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return EstimateResult(d, se, lo, hi, method=m, confidence_level=1 - alpha)
