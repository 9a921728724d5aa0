"""Kaplan-Meier estimates and the log-rank test.

Sources: Kaplan and Meier (1958) JASA 53:457-481; Greenwood (1926); Therneau and Grambsch (2000) *Modeling
Survival Data*, ch. 2-3; R ``survival::survfit`` (default ``conf.type = "log"``) and ``survival::survdiff``
(``rho = 0``); SAS/STAT PROC LIFETEST "Computational Formulas".

Inputs are 1-D arrays (one trial); ``event`` is 1 for an event and 0 for a censored time (ADaM ``1 - CNSR``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from trialkit.errors import TrialkitError
from trialkit.stats._frames import check_backend, output_frame, text_table
from trialkit.stats._results import TestResult

__all__ = ["KMResult", "kaplan_meier", "logrank_test"]

_TOL = float(np.sqrt(np.finfo(float).eps))


@dataclass(frozen=True)
class KMResult:
    """A Kaplan-Meier curve at each distinct observed time (events and censorings), as R ``survfit``.

    ``surv`` is S(t) just after t; ``se`` its Greenwood standard error; ``se_log`` the standard error of
    log S(t) (R's ``std.err``); ``ci_low``/``ci_high`` the pointwise limits on the log scale
    (``exp(log S -/+ z se_log)``, the upper one capped at 1; NaN once S = 0). ``median`` with its limits as R's
    ``quantile.survfit`` (midpoint where the curve is flat at exactly 0.5; NaN when not reached).
    """

    time: np.ndarray
    n_risk: np.ndarray
    n_event: np.ndarray
    n_censor: np.ndarray
    surv: np.ndarray
    se: np.ndarray
    se_log: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    median: float
    median_ci_low: float
    median_ci_high: float
    n: int
    events: int
    confidence_level: float = 0.95
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    def at(self, t: Any) -> np.ndarray:
        """S(t) at the given times (right-continuous step function; 1 before the first time)."""
        idx = np.searchsorted(self.time, np.asarray(t, dtype=float), side="right") - 1
        return np.where(idx >= 0, self.surv[np.maximum(idx, 0)], 1.0)

    def _columns(self) -> dict[str, list[Any]]:
        names = ("time", "n_risk", "n_event", "n_censor", "surv", "se", "ci_low", "ci_high")
        return {k: np.asarray(getattr(self, k)).tolist() for k in names}

    def to_frame(self, backend: str = "polars") -> Any:
        """The curve, one row per time: time, n_risk, n_event, n_censor, surv, se, se_log, ci_low, ci_high."""
        import polars as pl

        cols = self._columns()
        cols["se_log"] = np.asarray(self.se_log).tolist()
        order = ("time", "n_risk", "n_event", "n_censor", "surv", "se", "se_log", "ci_low", "ci_high")
        return output_frame(pl.DataFrame({k: cols[k] for k in order}), check_backend(backend, "polars"))

    def __repr__(self) -> str:
        level = f"{float(self.confidence_level):.0%}"
        head = text_table({"n": [self.n], "events": [self.events], "median": [self.median],
                           f"{level} CI low": [self.median_ci_low], f"{level} CI high": [self.median_ci_high]})
        return f"KMResult\n{head}\n{text_table(self._columns(), max_rows=10)}"


def _check(time: Any, event: Any, group: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    t = np.asarray(time, dtype=float)
    e = np.asarray(event)
    if t.ndim != 1 or e.shape != t.shape:
        raise TrialkitError(f"time and event must be 1-D arrays of the same length, got {t.shape} and {e.shape}",
                            variable="time", fix="pass one value per subject")
    if t.size == 0:
        raise TrialkitError("no observations", variable="time")
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        bad = np.flatnonzero(~np.isfinite(t) | (t < 0))
        raise TrialkitError("times must be finite and >= 0", variable="time", rows=bad[:5].tolist(),
                            fix="drop subjects without a time, or check the derivation of AVAL")
    e = e.astype(float)
    if not np.all(np.isin(e, (0.0, 1.0))):
        raise TrialkitError("event must be 0 (censored) or 1 (event)", variable="event",
                            rows=np.flatnonzero(~np.isin(e, (0.0, 1.0)))[:5].tolist(),
                            fix="use 1 - CNSR from ADTTE")
    g = None
    if group is not None:
        g = np.asarray(group)
        if g.shape != t.shape:
            raise TrialkitError(f"group has shape {g.shape}, time {t.shape}", variable="group")
    return t, e, g


def _findq(x: np.ndarray, y: np.ndarray, p: float) -> float:
    """Time at which the cumulative-failure curve ``y`` (0 at ``x[0]``) first reaches ``p``; R survival's
    ``findq``: midpoint of a flat stretch at exactly ``p`` (within sqrt(machine eps))."""
    ok = ~np.isnan(y)
    x_all, x, y = x, x[ok], y[ok]
    if y.size == 0 or y.max() < p:
        return float("nan")
    xmax = x_all[-1]
    keep = np.concatenate([[True], np.diff(y) != 0])  # first occurrence of each value (y is non-decreasing)
    x, y = x[keep], y[keep]

    def first_at_least(v: np.ndarray) -> float:
        j = np.flatnonzero(v >= p)
        return float(x[j[0]]) if j.size and v[0] <= p else float("nan")

    q = 0.5 * (first_at_least(y + _TOL) + first_at_least(y - _TOL))
    if abs(p - y[-1]) < _TOL:
        q = 0.5 * (first_at_least(y + _TOL) + float(xmax))
    return q


def _km_one(t: np.ndarray, e: np.ndarray, level: float) -> KMResult:
    times, inv = np.unique(t, return_inverse=True)
    d = np.bincount(inv, weights=e, minlength=times.size)
    c = np.bincount(inv, weights=1.0 - e, minlength=times.size)
    at_time = d + c
    n_risk = t.size - np.concatenate([[0.0], np.cumsum(at_time)[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(1.0 - d / n_risk)
        # Greenwood: var(log S) = sum d / (n (n - d)); undefined once everyone at risk has had the event
        gw = np.cumsum(np.where(d > 0, d / (n_risk * (n_risk - d)), 0.0))
        se_log = np.sqrt(gw)
        z = stats.norm.ppf(0.5 + level / 2.0)
        dead = surv <= 0
        lo = np.where(dead, np.nan, surv * np.exp(-z * se_log))
        hi = np.where(dead, np.nan, np.minimum(1.0, surv * np.exp(z * se_log)))
        se = np.where(dead, np.nan, surv * se_log)
        se_log = np.where(dead, np.nan, se_log)
    x = np.concatenate([[0.0], times])
    med = _findq(x, np.concatenate([[0.0], 1.0 - surv]), 0.5)
    med_lo = _findq(x, np.concatenate([[0.0], 1.0 - lo]), 0.5)
    med_hi = _findq(x, np.concatenate([[0.0], 1.0 - hi]), 0.5)
    return KMResult(times, n_risk, d, c, surv, se, se_log, lo, hi, med, med_lo, med_hi, int(t.size), int(e.sum()),
                    level)


def kaplan_meier(
    time: Any,
    event: Any,
    group: Any = None,
    *,
    levels: Sequence[Any] | None = None,
    level: float = 0.95,
) -> KMResult | dict[str, KMResult]:
    """Kaplan-Meier product-limit estimate with Greenwood standard errors and log-transformed limits.

    ``S(t) = prod_{t_i <= t} (1 - d_i / n_i)``, ``var(log S(t)) = sum_{t_i <= t} d_i / (n_i (n_i - d_i))``
    (Greenwood 1926; R ``survfit(conf.type = "log")``). With ``group`` returns ``{level: KMResult}`` in the
    order of ``levels`` (default: sorted observed values, as text).

    >>> r = kaplan_meier([1, 2, 2, 3, 4], [1, 1, 0, 1, 0])
    >>> [round(float(s), 4) for s in r.surv]
    [0.8, 0.6, 0.3, 0.3]
    """
    t, e, g = _check(time, event, group)
    if g is None:
        return _km_one(t, e, level)
    gs = g.astype(str)
    order = [str(v) for v in levels] if levels is not None else sorted(set(gs.tolist()))
    unknown = sorted(set(gs.tolist()) - set(order))
    if unknown:
        raise TrialkitError(f"groups {unknown[:5]} are not among the levels given", variable="group")
    return {lvl: _km_one(t[gs == lvl], e[gs == lvl], level) for lvl in order if np.any(gs == lvl)}


def logrank_test(time: Any, event: Any, group: Any, strata: Any = None) -> TestResult:
    """Log-rank test of equal survival in K groups, optionally stratified (R ``survdiff``, ``rho = 0``).

    At each distinct event time ``t`` (within a stratum) with ``d`` events among ``N`` at risk, ``n_k`` of
    them in group k: ``O_k - E_k = sum (d_k - d n_k / N)`` and
    ``V_jk = sum d (N - d) / (N - 1) * n_j / N * (delta_jk - n_k / N)``; the statistic
    ``(O - E)' V^- (O - E)`` is chi-square on K - 1 df (Peto and Peto 1972; Therneau and Grambsch 2000, 2.4).
    Strata add their O - E and V. ``extra`` holds ``groups``, ``observed``, ``expected`` and ``variance``.

    >>> r = logrank_test([1, 2, 3, 4, 5, 6], [1, 1, 1, 1, 0, 1], ["a", "b", "a", "b", "a", "b"])
    >>> r.df
    1.0
    """
    t, e, g = _check(time, event, group)
    assert g is not None
    gs = g.astype(str)
    groups = sorted(set(gs.tolist()))
    if len(groups) < 2:
        raise TrialkitError("the log-rank test needs at least two groups", variable="group")
    code = np.searchsorted(np.array(groups), gs)
    k = len(groups)
    if strata is None:
        s = np.zeros(t.size, dtype=int)
    else:
        sa = np.asarray(strata).astype(str)
        if sa.shape != t.shape:
            raise TrialkitError(f"strata has shape {sa.shape}, time {t.shape}", variable="strata")
        s = np.unique(sa, return_inverse=True)[1]
    obs = np.zeros(k)
    exp_ = np.zeros(k)
    var = np.zeros((k, k))
    for h in np.unique(s):
        m = s == h
        th, eh, ch = t[m], e[m], code[m]
        ut = np.unique(th[eh > 0])
        if ut.size == 0:
            continue
        # n at risk (time >= u) and events at u, per group: (T, K)
        srt = [np.sort(th[ch == j]) for j in range(k)]
        n = np.stack([x.size - np.searchsorted(x, ut, side="left") for x in srt], axis=1).astype(float)
        dk = np.stack([np.bincount(np.searchsorted(ut, th[(ch == j) & (eh > 0)]), minlength=ut.size)
                       for j in range(k)], axis=1).astype(float)
        N = n.sum(1)
        D = dk.sum(1)
        frac = n / N[:, None]
        obs += dk.sum(0)
        exp_ += (D[:, None] * frac).sum(0)
        with np.errstate(divide="ignore", invalid="ignore"):
            w = np.where(N > 1, D * (N - D) / (N - 1), 0.0)
        var += np.diag(w @ frac) - np.einsum("t,tj,tk->jk", w, frac, frac)
    oe = obs - exp_
    v = var[: k - 1, : k - 1]
    g_ = oe[: k - 1]
    stat = float(g_ @ np.linalg.pinv(v) @ g_)
    df = float(np.linalg.matrix_rank(v))
    return TestResult(stat, df, float(stats.chi2.sf(stat, df)) if df > 0 else float("nan"),
                      extra={"groups": groups, "observed": obs, "expected": exp_, "variance": var})
