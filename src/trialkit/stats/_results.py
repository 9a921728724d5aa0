"""Result objects shared by the statistics, following scipy.stats conventions.

Every field is a float for a single table, or a numpy array when leading replicate axes are given. Results print
as small aligned tables; ``to_frame()`` gives the same numbers as a data frame (pandas when the statistic was
given a pandas data frame, polars otherwise; ``backend=`` overrides).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from trialkit.stats._frames import check_backend, output_frame, result_columns, text_table

ArrayOrFloat = Any  # float | np.ndarray

_MAX_ROWS = 10  # replicate rows shown when a result is printed


def _squeeze(x: Any) -> Any:
    """Return a Python float for 0-d results, the array otherwise."""
    a = np.asarray(x, dtype=float)
    return float(a) if a.ndim == 0 else a


def _comparison(extra: dict[str, Any]) -> str:
    """' (A vs B)' when the rows of a 2x2 table are known (data-frame input)."""
    trt = extra.get("treatment_levels")
    if trt is not None and len(trt) == 2:
        return f" ({trt[0]} vs {trt[1]})"
    return ""


def _test_fields(statistic: Any, df: Any, pvalue: Any) -> dict[str, Any]:
    # an F test has one statistic and (numerator, denominator) df
    if np.ndim(statistic) == 0 and np.shape(df) == (2,):
        return {"statistic": statistic, "num_df": df[0], "den_df": df[1], "pvalue": pvalue}
    return {"statistic": statistic, "df": df, "pvalue": pvalue}


@dataclass(frozen=True)
class TestResult:
    """A hypothesis test: ``statistic``, degrees of freedom ``df`` and two-sided ``pvalue``.

    >>> print(TestResult(8.3052, 2, 0.0157))
    TestResult
    statistic        df    pvalue
       8.3052         2    0.0157
    """

    statistic: ArrayOrFloat
    df: ArrayOrFloat
    pvalue: ArrayOrFloat
    extra: dict[str, Any] = field(default_factory=dict, repr=False)
    _frame: str = field(default="polars", repr=False, compare=False)

    __test__ = False  # not a pytest class

    def __post_init__(self) -> None:
        object.__setattr__(self, "statistic", _squeeze(self.statistic))
        object.__setattr__(self, "df", _squeeze(self.df))
        object.__setattr__(self, "pvalue", _squeeze(self.pvalue))

    def _columns(self) -> dict[str, list[Any]]:
        return result_columns(_test_fields(self.statistic, self.df, self.pvalue))

    def to_frame(self, backend: str | None = None) -> Any:
        """One row per test (per replicate): statistic, df (num_df and den_df for an F test), pvalue."""
        return output_frame(pl.DataFrame(self._columns()), check_backend(backend, self._frame))

    def __repr__(self) -> str:
        return f"TestResult{_comparison(self.extra)}\n{text_table(self._columns(), max_rows=_MAX_ROWS)}"


@dataclass(frozen=True)
class EstimateResult:
    """A point estimate with standard error, confidence limits and (where defined) a p-value.

    >>> print(EstimateResult(0.3492, 0.1124, 0.1289, 0.5695, pvalue=0.0019, method="mh"))
    EstimateResult: mh, 95% CI
    estimate        se    ci_low   ci_high    pvalue
      0.3492    0.1124    0.1289    0.5695    0.0019
    """

    estimate: ArrayOrFloat
    se: ArrayOrFloat
    ci_low: ArrayOrFloat
    ci_high: ArrayOrFloat
    pvalue: ArrayOrFloat = np.nan
    method: str = ""
    confidence_level: float = 0.95
    extra: dict[str, Any] = field(default_factory=dict, repr=False)
    _frame: str = field(default="polars", repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("estimate", "se", "ci_low", "ci_high", "pvalue"):
            object.__setattr__(self, name, _squeeze(getattr(self, name)))

    def confidence_interval(self) -> tuple[ArrayOrFloat, ArrayOrFloat]:
        """The (low, high) confidence limits, as in scipy's ``confidence_interval()``."""
        return self.ci_low, self.ci_high

    def _columns(self) -> dict[str, list[Any]]:
        return result_columns({"estimate": self.estimate, "se": self.se, "ci_low": self.ci_low,
                               "ci_high": self.ci_high, "pvalue": self.pvalue})

    def to_frame(self, backend: str | None = None) -> Any:
        """One row (per replicate): estimate, se, ci_low, ci_high, pvalue, method, confidence_level."""
        cols = self._columns()
        n = len(cols["estimate"])
        cols["method"] = [self.method] * n
        cols["confidence_level"] = [float(self.confidence_level)] * n
        return output_frame(pl.DataFrame(cols), check_backend(backend, self._frame))

    def __repr__(self) -> str:
        method = f": {self.method}," if self.method else ""
        head = f"EstimateResult{method} {float(self.confidence_level):.0%} CI{_comparison(self.extra)}"
        labels = {"se": "se(log)"} if self.extra.get("se_scale") == "log" else None
        return f"{head}\n{text_table(self._columns(), max_rows=_MAX_ROWS, labels=labels)}"
