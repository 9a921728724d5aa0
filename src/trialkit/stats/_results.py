"""Result objects shared by the statistics, following scipy.stats conventions.

Every field is a float for a single table, or a numpy array when leading replicate axes are given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

ArrayOrFloat = Any  # float | np.ndarray


def _squeeze(x: Any) -> Any:
    """Return a Python float for 0-d results, the array otherwise."""
    a = np.asarray(x, dtype=float)
    return float(a) if a.ndim == 0 else a


@dataclass(frozen=True)
class TestResult:
    """A hypothesis test: ``statistic``, degrees of freedom ``df`` and two-sided ``pvalue``."""

    statistic: ArrayOrFloat
    df: ArrayOrFloat
    pvalue: ArrayOrFloat
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    __test__ = False  # not a pytest class

    def __post_init__(self) -> None:
        object.__setattr__(self, "statistic", _squeeze(self.statistic))
        object.__setattr__(self, "df", _squeeze(self.df))
        object.__setattr__(self, "pvalue", _squeeze(self.pvalue))


@dataclass(frozen=True)
class EstimateResult:
    """A point estimate with standard error, confidence limits and (where defined) a p-value."""

    estimate: ArrayOrFloat
    se: ArrayOrFloat
    ci_low: ArrayOrFloat
    ci_high: ArrayOrFloat
    pvalue: ArrayOrFloat = np.nan
    method: str = ""
    confidence_level: float = 0.95
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for name in ("estimate", "se", "ci_low", "ci_high", "pvalue"):
            object.__setattr__(self, name, _squeeze(getattr(self, name)))

    def confidence_interval(self) -> tuple[ArrayOrFloat, ArrayOrFloat]:
        """The (low, high) confidence limits, as in scipy's ``confidence_interval()``."""
        return self.ci_low, self.ci_high
