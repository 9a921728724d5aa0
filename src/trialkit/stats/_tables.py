"""Input checks and small helpers shared by the categorical statistics.

Counts arrays have last three axes (strata, rows, columns); any leading axes are replicates. For 2x2 tables
the rows are (treatment, control) and the columns are (responder, non-responder).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trialkit.errors import TrialkitError


def as_counts(
    counts: Any,
    *,
    name: str = "counts",
    two_by_two: bool = False,
    min_ndim: int = 3,
) -> np.ndarray:
    """Return ``counts`` as a float array after checking shape, finiteness and sign.

    ``min_ndim=3`` requires (..., K, R, C); ``min_ndim=2`` accepts a single table (..., R, C).
    """
    try:
        a = np.asarray(counts, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TrialkitError(
            f"counts must be numeric, could not convert ({exc})",
            variable=name,
            fix="pass a numpy array of non-negative counts",
        ) from None
    axes = "(..., strata, rows, columns)" if min_ndim == 3 else "(..., rows, columns)"
    if a.ndim < min_ndim:
        raise TrialkitError(
            f"counts must have at least {min_ndim} axes {axes}, got shape {a.shape}",
            variable=name,
            fix="add a strata axis of length 1 for an unstratified table, e.g. counts[None]"
            if min_ndim == 3 and a.ndim == 2
            else f"reshape the counts to {axes}",
        )
    if two_by_two and a.shape[-2:] != (2, 2):
        raise TrialkitError(
            f"expected 2x2 tables (last two axes of length 2), got shape {a.shape}",
            variable=name,
            fix="rows are (treatment, control) and columns are (responder, non-responder)",
        )
    if not two_by_two and (a.shape[-1] < 2 or a.shape[-2] < 2):
        raise TrialkitError(
            f"tables need at least 2 rows and 2 columns, got shape {a.shape}",
            variable=name,
        )
    if a.size and not np.all(np.isfinite(a)):
        raise TrialkitError("counts contain NaN or infinite values", variable=name, fix="pass finite counts")
    if a.size and np.any(a < 0):
        bad = np.argwhere(a < 0)[:5]
        raise TrialkitError(
            "counts must be non-negative",
            variable=name,
            rows=[tuple(int(i) for i in b) for b in bad],
            fix="check the cell counts at the indices shown",
        )
    return a


def check_alpha(alpha: float) -> float:
    """Return ``alpha`` after checking 0 < alpha < 1."""
    if not (0.0 < float(alpha) < 1.0):
        raise TrialkitError(f"alpha must be in (0, 1), got {alpha}", variable="alpha")
    return float(alpha)


def check_method(method: str, allowed: tuple[str, ...], *, variable: str = "method") -> str:
    """Return the normalized method name or raise with the allowed values."""
    m = str(method).lower().replace("_", "-")
    if m not in allowed:
        raise TrialkitError(
            f"unknown method {method!r}",
            variable=variable,
            fix=f"use one of {', '.join(repr(x) for x in allowed)}",
        )
    return m


def safe_div(num: Any, den: Any) -> np.ndarray:
    """num / den with NaN where den == 0 (no warnings)."""
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(den != 0, num / np.where(den != 0, den, 1.0), np.nan)
    return out
