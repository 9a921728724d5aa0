"""Clinical scores of atopic dermatitis, computed from what sites record. Pure numpy, vectorized.

EASI (Eczema Area and Severity Index), Hanifin et al. (2001) Exp Dermatol 10:11-18; Leshem et al. (2015)
Br J Dermatol 172:1353-1357 (HOME recommendations): for each of four regions,
(erythema + induration/papulation + excoriation + lichenification) x area score x region weight, summed; 0-72.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trialkit.errors import TrialkitError

#: Body regions in EASI order: head/neck, upper limbs, trunk, lower limbs.
REGIONS: tuple[str, ...] = ("HN", "UL", "TR", "LL")
REGION_LABELS: dict[str, str] = {"HN": "Head/Neck", "UL": "Upper Limbs", "TR": "Trunk", "LL": "Lower Limbs"}
#: Clinical signs in EASI order.
SIGNS: tuple[str, ...] = ("ERY", "IND", "EXC", "LIC")
SIGN_LABELS: dict[str, str] = {
    "ERY": "Erythema",
    "IND": "Induration/Papulation",
    "EXC": "Excoriation",
    "LIC": "Lichenification",
}
#: Region weights for age >= 8 years and for age < 8 years (Hanifin 2001).
WEIGHTS_ADULT = np.array([0.1, 0.2, 0.3, 0.4])
WEIGHTS_CHILD = np.array([0.2, 0.2, 0.3, 0.3])
#: Lower edges of the area bands 1..6 in percent: >0-<10, 10-<30, 30-<50, 50-<70, 70-<90, 90-100.
AREA_BAND_LOWER = np.array([0.0, 10.0, 30.0, 50.0, 70.0, 90.0])


def area_score(percent: ArrayLike, lower: ArrayLike = AREA_BAND_LOWER) -> NDArray[np.float64]:
    """Area score 0-6 from the percentage of the region affected.

    0 = 0%; 1 = >0 to <10%; 2 = 10 to <30%; 3 = 30 to <50%; 4 = 50 to <70%; 5 = 70 to <90%; 6 = 90-100%.
    NaN (missing) stays NaN.

    >>> area_score([0, 0.5, 9.9, 10, 29, 30, 50, 70, 89.9, 90, 100]).tolist()
    [0, 1, 1, 2, 2, 3, 4, 5, 5, 6, 6]
    """
    p = np.asarray(percent, dtype=float)
    bad = (p < 0) | (p > 100)
    if np.any(bad):
        raise TrialkitError(
            f"area percentages must lie in 0-100; found {p[bad].ravel()[:3].tolist()}",
            variable="area percent",
            fix="record the percentage of the region affected (0-100)",
        )
    score = np.where(p > 0, np.searchsorted(np.asarray(lower, dtype=float), p, side="right"), 0)
    return np.where(np.isnan(p), np.nan, score.astype(float))


def easi(signs: ArrayLike, area: ArrayLike, age: ArrayLike | None = None) -> NDArray[np.float64]:
    """EASI total score.

    Parameters
    ----------
    signs:
        Sign scores, shape (..., 4 regions, 4 signs), each 0-3 in half points (regions and signs in the order of
        :data:`REGIONS` and :data:`SIGNS`).
    area:
        Area scores 0-6, shape (..., 4 regions) (use :func:`area_score` to convert percentages).
    age:
        Age in years, broadcastable to the leading shape; children under 8 get the child weights. ``None`` = adult.

    Returns
    -------
    The EASI score (0-72), NaN where any component is missing.

    >>> s = [[1, 1, 0.5, 0.5], [2, 2, 1, 1], [0, 0, 0, 0], [3, 3, 3, 3]]
    >>> float(easi(s, [2, 3, 0, 6]))  # 0.1*3*2 + 0.2*6*3 + 0 + 0.4*12*6
    33.0
    """
    s = np.asarray(signs, dtype=float)
    a = np.asarray(area, dtype=float)
    if s.shape[-2:] != (4, 4) or a.shape[-1] != 4:
        raise ValueError(f"signs must end in (4, 4) and area in (4,); got {s.shape} and {a.shape}")
    valid = ~np.isnan(s)
    if np.any(valid & ((s < 0) | (s > 3) | (s * 2 != np.round(s * 2)))):
        raise TrialkitError("EASI sign scores must be 0-3 in half points", variable="signs",
                            fix="check the recorded sign scores")
    if np.any(~np.isnan(a) & ((a < 0) | (a > 6) | (a != np.round(a)))):
        raise TrialkitError("EASI area scores must be integers 0-6", variable="area",
                            fix="check the recorded area scores")
    region_sum = s.sum(axis=-1)  # NaN if any sign is missing
    if age is None:
        w = WEIGHTS_ADULT
        return (region_sum * a * w).sum(axis=-1)
    child = np.asarray(age, dtype=float) < 8
    w = np.where(child[..., None], WEIGHTS_CHILD, WEIGHTS_ADULT)
    return (region_sum * a * w).sum(axis=-1)


def regional_composite(signs: ArrayLike, area: ArrayLike, weights: ArrayLike, *, child_weights: ArrayLike | None = None,
                       age: ArrayLike | None = None, child_age_below: float | None = None, sign_max: float = 3.0,
                       sign_step: float = 0.5, area_max: int = 6) -> NDArray[np.float64]:
    """A regional composite score (EASI is one): sum over regions of weight x (sum of the sign scores) x area score.

    ``signs`` (..., regions, signs) on 0..``sign_max`` in steps of ``sign_step``; ``area`` (..., regions) integer
    0..``area_max``; ``weights`` (regions,), ``child_weights`` for ages below ``child_age_below``. NaN where any
    component is missing.

    >>> w = [0.1, 0.2, 0.3, 0.4]
    >>> s = [[1, 1, 0.5, 0.5], [2, 2, 1, 1], [0, 0, 0, 0], [3, 3, 3, 3]]
    >>> float(regional_composite(s, [2, 3, 0, 6], w)) == float(easi(s, [2, 3, 0, 6]))
    True
    """
    s = np.asarray(signs, dtype=float)
    a = np.asarray(area, dtype=float)
    w = np.asarray(weights, dtype=float)
    if s.ndim < 2 or s.shape[-2] != w.size or a.shape[-1] != w.size:
        raise ValueError(f"signs must end in ({w.size}, n_signs) and area in ({w.size},); got {s.shape}, {a.shape}")
    valid = ~np.isnan(s)
    steps = s / sign_step
    if np.any(valid & ((s < 0) | (s > sign_max) | (np.abs(steps - np.round(steps)) > 1e-9))):
        raise TrialkitError(f"sign scores must be 0-{sign_max:g} in steps of {sign_step:g}", variable="signs",
                            fix="check the recorded sign scores")
    if np.any(~np.isnan(a) & ((a < 0) | (a > area_max) | (a != np.round(a)))):
        raise TrialkitError(f"area scores must be integers 0-{area_max}", variable="area",
                            fix="check the recorded area scores")
    region_sum = s.sum(axis=-1)
    if age is None or child_weights is None or child_age_below is None:
        return (region_sum * a * w).sum(axis=-1)
    child = np.asarray(age, dtype=float) < child_age_below
    ww = np.where(child[..., None], np.asarray(child_weights, dtype=float), w)
    return (region_sum * a * ww).sum(axis=-1)
