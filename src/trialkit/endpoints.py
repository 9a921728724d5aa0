"""Endpoint response rules: the one evaluator of the study file's rules, used by the ADaM derivation (simulated
and user data alike), the calibration and the design models.

Rules (the study file's ``[[endpoints]].rule``): ``pct_reduction`` (e.g. EASI-50/75/90: 100 (BASE - AVAL) / BASE >=
threshold; Hanifin et al. 2001), ``score_response`` (e.g. vIGA-AD/rIGA 0/1 with a reduction of at least
``min_reduction`` points; Simpson et al. 2020 JAAD 83:839), ``reduction`` (an improvement of at least ``threshold``
points among patients with baseline >= ``min_baseline``; Yosipovitch et al. 2019 BJD 181:761), ``increase`` (the
same for higher-is-better scores), ``threshold`` (a score level whatever the baseline), and ``all``/``any``
(combinations).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trialkit.study import Endpoint

_TOL = 1e-9


def rule_met(rule: Any, aval: NDArray[np.float64], base: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Whether each (AVAL, BASE) pair meets ``rule`` (NaN comparisons are False).

    >>> from trialkit.study import Reduction
    >>> rule_met(Reduction(kind="reduction", threshold=4), np.array([3.0, 5.0]), np.array([7.0, 7.0])).tolist()
    [True, False]
    """
    k = rule.kind
    with np.errstate(invalid="ignore", divide="ignore"):
        if k == "pct_reduction":
            return (base > 0) & (100.0 * (base - aval) >= rule.threshold * base - _TOL * np.abs(base))
        if k == "score_response":
            return (aval <= rule.max_score) & (base - aval >= rule.min_reduction)
        if k == "reduction":
            return (base >= rule.min_baseline) & (base - aval >= rule.threshold - _TOL)
        if k == "increase":
            ok = aval - base >= rule.threshold - _TOL
            return ok & (base <= rule.max_baseline) if rule.max_baseline is not None else ok
        if k == "threshold":
            ok = np.ones(aval.shape, dtype=bool)
            if rule.at_most is not None:
                ok &= aval <= rule.at_most + _TOL
            if rule.at_least is not None:
                ok &= aval >= rule.at_least - _TOL
            return ok & ~np.isnan(aval)
        if k == "all":
            return np.logical_and.reduce([rule_met(r, aval, base) for r in rule.rules])
        if k == "any":
            return np.logical_or.reduce([rule_met(r, aval, base) for r in rule.rules])
    raise ValueError(f"{k} is not a responder rule")


def needs_baseline(rule: Any) -> bool:
    """Whether the rule reads BASE (a ``threshold`` alone does not)."""
    if rule.kind in ("all", "any"):
        return any(needs_baseline(r) for r in rule.rules)
    return rule.kind != "threshold"


def criterion(endpoint: Endpoint, aval: ArrayLike, base: ArrayLike) -> NDArray[np.bool_]:
    """Whether each record meets the endpoint's response rule (missing AVAL, or BASE where the rule reads it, ->
    False).

    A tolerance of 1e-9 keeps exact boundary cases (e.g. EASI 40 -> 10 is exactly 75%) on the responder side
    despite floating-point rounding.
    """
    if not endpoint.binary:
        raise ValueError(f"{endpoint.id} is not a binary endpoint")
    aval = np.asarray(aval, dtype=float)
    base = np.asarray(base, dtype=float)
    ok = rule_met(endpoint.rule, aval, base) & ~np.isnan(aval)
    if needs_baseline(endpoint.rule):
        ok &= ~np.isnan(base)
    return np.asarray(ok, dtype=bool)
