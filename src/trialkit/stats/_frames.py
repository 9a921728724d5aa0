"""Data frames in and out of the statistics.

- :func:`frame_input`: lets a categorical statistic take a subject-level data frame and column names instead of a
  counts array (the counts are built by :func:`trialkit.stats.counts_from_frame`, then the array code runs).
- :func:`output_frame`: a result table in the caller's library (pandas in -> pandas out, polars otherwise).
- :func:`text_table`: the aligned plain-text tables that result objects print.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from trialkit.errors import TrialkitError

BACKENDS = ("polars", "pandas")


def _pandas_frame_type() -> type | None:
    # a pandas frame can only exist once pandas is imported: do not import it (slow) just to check
    pd = sys.modules.get("pandas")
    return getattr(pd, "DataFrame", None)


def is_frame(x: Any) -> bool:
    """True for a polars DataFrame/LazyFrame or a pandas DataFrame."""
    if isinstance(x, pl.DataFrame | pl.LazyFrame):
        return True
    pd_frame = _pandas_frame_type()
    return pd_frame is not None and isinstance(x, pd_frame)


def frame_kind(data: Any) -> str:
    """``"pandas"`` for a pandas DataFrame, ``"polars"`` for anything else."""
    pd_frame = _pandas_frame_type()
    return "pandas" if pd_frame is not None and isinstance(data, pd_frame) else "polars"


def check_backend(backend: str | None, default: str) -> str:
    kind = default if backend is None else str(backend).lower()
    if kind not in BACKENDS:
        raise TrialkitError(f"backend={backend!r} is not supported", variable="backend",
                            fix='use "polars" or "pandas"')
    return kind


def output_frame(df: Any, kind: str) -> Any:
    """``df`` (polars or pandas) as a pandas DataFrame when ``kind == "pandas"``, as polars otherwise."""
    if kind == "pandas":
        return df if frame_kind(df) == "pandas" else df.to_pandas()
    return df if isinstance(df, pl.DataFrame) else pl.from_pandas(df)


# ---------------------------------------------------------------------------------------------------------------
# plain-text tables
# ---------------------------------------------------------------------------------------------------------------

_DF_COLUMNS = {"df", "num_df", "den_df", "df_resid", "n", "n_risk", "n_event", "n_censor", "events"}
_P_COLUMNS = {"pvalue", "p", "p.value"}


def fmt_number(x: Any, column: str = "") -> str:
    """One number as printed in result tables: 4 decimals (scientific outside 1e-4..1e6), p-values below 1e-4
    in scientific notation, degrees of freedom without decimals when whole."""
    if x is None:
        return ""
    if isinstance(x, bool | np.bool_):
        return str(bool(x))
    if isinstance(x, int | np.integer):
        return str(int(x))
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if column in _DF_COLUMNS:
        return f"{v:.0f}" if v == round(v) else f"{v:.2f}"
    if column in _P_COLUMNS:
        return f"{v:.4f}" if v >= 1e-4 or v == 0 else f"{v:.2e}"
    if v == 0 or 1e-4 <= abs(v) < 1e6:
        return f"{v:.4f}"
    return f"{v:.4e}"


def text_table(columns: Mapping[str, Sequence[Any]], *, max_rows: int | None = None,
               labels: Mapping[str, str] | None = None) -> str:
    """An aligned plain-text table: text columns left-aligned, numbers right-aligned (see :func:`fmt_number`).

    >>> print(text_table({"term": ["A", "B"], "estimate": [1.5, -0.25], "pvalue": [0.5, 1e-6]}))
    term  estimate    pvalue
    A       1.5000    0.5000
    B      -0.2500  1.00e-06
    """
    names = list(columns)
    n = len(next(iter(columns.values()))) if names else 0
    shown = range(n) if max_rows is None or n <= max_rows else range(max_rows)
    cells: list[list[str]] = []
    numeric: list[bool] = []
    for name in names:
        values = list(columns[name])
        is_text = all(isinstance(v, str) or v is None for v in values) or any(isinstance(v, tuple) for v in values)
        numeric.append(not is_text)
        if is_text:
            cells.append(["" if values[i] is None else str(values[i]) for i in shown])
        else:
            cells.append([fmt_number(values[i], name) for i in shown])
    heads = [(labels or {}).get(nm, nm) for nm in names]
    widths = [max([len(h)] + [len(c) for c in col]) for h, col in zip(heads, cells, strict=True)]
    # numbers get at least 8 characters so that short columns do not run into each other
    widths = [max(w, 8) if num else w for w, num in zip(widths, numeric, strict=True)]

    def line(items: Sequence[str]) -> str:
        parts = [s.rjust(w) if num else s.ljust(w) for s, w, num in zip(items, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    out = [line(heads)] + [line([col[i] for col in cells]) for i in range(len(shown))]
    if len(shown) < n:
        out.append(f"... {n - len(shown)} more rows")
    return "\n".join(out)


def frame_text(df: Any, *, max_rows: int | None = None) -> str:
    """A polars or pandas DataFrame as :func:`text_table` text (all columns, every row unless ``max_rows``)."""
    d = output_frame(df, "polars")
    return text_table({c: d.get_column(c).to_list() for c in d.columns}, max_rows=max_rows)


def result_columns(fields: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Broadcast scalar-or-array result fields to one row per replicate; adds a ``replicate`` column (flat index)
    when there are leading replicate axes."""
    arrays = {k: np.asarray(v) for k, v in fields.items()}
    numeric = {k: v for k, v in arrays.items() if v.dtype.kind in "fiub"}
    shape = np.broadcast_shapes(*(v.shape for v in numeric.values())) if numeric else ()
    out: dict[str, list[Any]] = {}
    if shape:
        out["replicate"] = list(range(int(np.prod(shape))))
    for k, v in arrays.items():
        if k in numeric:
            out[k] = np.broadcast_to(v.astype(float), shape).ravel().tolist()
        else:
            out[k] = [v.item() if v.ndim == 0 else v] * (int(np.prod(shape)) if shape else 1)
    return out


# ---------------------------------------------------------------------------------------------------------------
# data-frame input for the categorical statistics
# ---------------------------------------------------------------------------------------------------------------

_FRAME_KEYWORDS = ("treatment", "response", "strata", "treatment_levels", "response_levels", "source")

_FRAME_DOC = """
    Data-frame input: the first argument may be a subject-level polars or pandas data frame instead of a counts
    array, with ``treatment=`` and ``response=`` column names, ``strata=`` (a column or list of columns, or None)
    and optionally ``treatment_levels=`` (table rows in order; for 2x2 tables (active, control); default: sorted
    observed values) and ``response_levels=`` (table columns; for 2x2 tables (responder, non-responder); default
    (True, False), (1, 0), ("Y", "N") when the column holds only those). The counts are built by
    :func:`trialkit.stats.counts_from_frame` and the result is the same as for those counts; its ``extra`` also
    holds the ``treatment_levels``, ``response_levels`` and ``strata`` labels, and ``to_frame()`` gives a pandas
    table when the input was pandas.
"""


def _mark(result: Any, kind: str, labels: dict[str, Any]) -> Any:
    """The result with its output library and the table labels recorded (frozen dataclasses are replaced)."""
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        names = {f.name for f in dataclasses.fields(result)}
        changes: dict[str, Any] = {}
        for f in dataclasses.fields(result):
            v = getattr(result, f.name)
            if dataclasses.is_dataclass(v) and not isinstance(v, type):
                changes[f.name] = _mark(v, kind, labels)
        if "_frame" in names:
            changes["_frame"] = kind
        if "extra" in names:
            changes["extra"] = {**result.extra, **labels}
        return dataclasses.replace(result, **changes) if changes else result
    return result


def _response_levels_for_rxc(df: Any, response: str, source: str) -> list[Any] | None:
    """Default response levels of an R x C table: the binary defaults of counts_from_frame when they apply (None),
    else the sorted observed values."""
    from trialkit.stats.counts import _default_response_levels, _to_polars
    from trialkit.stats.mmrm.design import natural_key

    frame = _to_polars(df, source)
    if response not in frame.columns:
        return None  # counts_from_frame reports the missing column
    s = frame.get_column(response).drop_nulls()
    if s.dtype.is_float():
        s = s.filter(s.is_not_nan())
    values = s.unique().to_list()
    try:
        _default_response_levels(values, source, response)
        return None
    except TrialkitError:
        return sorted(values, key=natural_key) if all(isinstance(v, str) for v in values) else sorted(values)


def frame_counts(
    df: Any,
    *,
    treatment: str,
    response: str,
    strata: str | Sequence[str] | None,
    treatment_levels: Sequence[Any] | None,
    response_levels: Sequence[Any] | None,
    two_by_two: bool,
    source: str = "data",
) -> tuple[np.ndarray, dict[str, Any]]:
    """The (K, R, C) counts of ``df`` and their labels, with 2x2-specific checks."""
    from trialkit.stats.counts import counts_from_frame

    if not two_by_two and response_levels is None:
        response_levels = _response_levels_for_rxc(df, response, source)
    counts, labels = counts_from_frame(df, treatment, response, strata, treatment_levels, response_levels,
                                       source=source, return_labels=True)
    if two_by_two and counts.shape[-2] != 2:
        raise TrialkitError(
            f"{treatment} has {counts.shape[-2]} levels {labels['treatment']}; a 2x2 analysis compares two",
            source=source, variable=treatment, fix="pass treatment_levels=(active, control)")
    if two_by_two and counts.shape[-1] != 2:
        raise TrialkitError(
            f"{response} has {counts.shape[-1]} levels {labels['response']}; a 2x2 analysis needs two",
            source=source, variable=response, fix="pass response_levels=(responder, non-responder)")
    return counts, {"treatment_levels": list(labels["treatment"]), "response_levels": list(labels["response"]),
                    "strata": list(labels["strata"])}


def frame_input(*, two_by_two: bool, stratified: bool = True) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: the statistic also accepts ``(df, treatment=, response=, strata=, treatment_levels=,
    response_levels=, source=)``. Array input is passed through unchanged. ``stratified=False`` (single 2x2
    tables) refuses ``strata`` and passes one (2, 2) table."""

    def decorate(fun: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fun)
        def wrapper(counts: Any, *args: Any, treatment: str | None = None, response: str | None = None,
                    strata: str | Sequence[str] | None = None, treatment_levels: Sequence[Any] | None = None,
                    response_levels: Sequence[Any] | None = None, source: str = "data", **kwargs: Any) -> Any:
            if not is_frame(counts):
                given = [k for k, v in (("treatment", treatment), ("response", response), ("strata", strata),
                                        ("treatment_levels", treatment_levels),
                                        ("response_levels", response_levels)) if v is not None]
                if given:
                    raise TrialkitError(
                        f"{', '.join(given)} describe(s) columns of a data frame, but the first argument is a "
                        f"{type(counts).__name__}",
                        variable=given[0],
                        fix="pass the subject-level data frame as the first argument, or a counts array alone")
                return fun(counts, *args, **kwargs)
            if treatment is None or response is None:
                raise TrialkitError(
                    f"{fun.__name__} of a data frame needs the treatment and response column names",
                    source=source, variable="treatment" if treatment is None else "response",
                    fix=f'e.g. {fun.__name__}(df, treatment="TRTP", response="RESPFL", strata=["SITEGR1"])')
            if strata is not None and not stratified:
                raise TrialkitError(f"{fun.__name__} is for a single 2x2 table", source=source, variable="strata",
                                    fix="use stratified_risk_difference for a stratified analysis")
            tab, labels = frame_counts(counts, treatment=treatment, response=response, strata=strata,
                                       treatment_levels=treatment_levels, response_levels=response_levels,
                                       two_by_two=two_by_two, source=source)
            if not stratified:
                tab = tab[0]
                labels.pop("strata")
            return _mark(fun(tab, *args, **kwargs), frame_kind(counts), labels)

        sig = inspect.signature(fun)
        params = list(sig.parameters.values())
        extra = [inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, default="data" if k == "source" else None)
                 for k in _FRAME_KEYWORDS]
        wrapper.__signature__ = sig.replace(parameters=params + extra)  # type: ignore[attr-defined]
        if wrapper.__doc__:
            wrapper.__doc__ = wrapper.__doc__.rstrip() + "\n" + _FRAME_DOC
        return wrapper

    return decorate
