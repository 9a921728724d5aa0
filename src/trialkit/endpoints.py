"""Endpoint response rules, shared by the ADaM derivation and the calibration (one implementation).

Rules (see the study file's ``[[endpoints]]``): ``pct_reduction`` (EASI-50/75/90: 100 (BASE - AVAL) / BASE >=
threshold; Hanifin et al. 2001), ``score_response`` (vIGA-AD/rIGA 0/1 with a reduction of at least
``min_reduction`` points; Simpson et al. 2020 JAAD 83:839), ``reduction`` (pruritus NRS improvement of at least
``threshold`` points among patients with baseline >= ``min_baseline``; Yosipovitch et al. 2019 BJD 181:761).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trialkit.study import Endpoint


def criterion(endpoint: Endpoint, aval: ArrayLike, base: ArrayLike) -> NDArray[np.bool_]:
    """Whether each record meets the endpoint's response rule (missing AVAL or BASE -> False).

    A tolerance of 1e-9 keeps exact boundary cases (e.g. EASI 40 -> 10 is exactly 75%) on the responder side
    despite floating-point rounding.
    """
    r = endpoint.rule
    aval = np.asarray(aval, dtype=float)
    base = np.asarray(base, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        if r.kind == "pct_reduction":
            ok = (base > 0) & (100.0 * (base - aval) >= r.threshold * base - 1e-9 * np.abs(base))
        elif r.kind == "score_response":
            ok = (aval <= r.max_score) & (base - aval >= r.min_reduction)
        elif r.kind == "reduction":
            ok = (base >= r.min_baseline) & (base - aval >= r.threshold - 1e-9)
        else:
            raise ValueError(f"{endpoint.id} is not a binary endpoint")
    return np.asarray(ok & ~np.isnan(aval) & ~np.isnan(base), dtype=bool)
