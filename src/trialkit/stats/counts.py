"""Build (strata, rows, columns) count arrays from a subject-level data frame."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from trialkit.errors import TrialkitError


def _to_polars(df: Any, source: str) -> pl.DataFrame:
    if isinstance(df, pl.LazyFrame):
        return df.collect()
    if isinstance(df, pl.DataFrame):
        return df
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        pd = None
    if pd is not None and isinstance(df, pd.DataFrame):
        return pl.from_pandas(df.reset_index(drop=True))
    raise TrialkitError(
        f"expected a polars or pandas data frame, got {type(df).__name__}",
        source=source,
        fix="pass the subject-level analysis dataset as a data frame",
    )


def _default_response_levels(values: list[Any], source: str, response: str) -> tuple[Any, ...]:
    vals = set(values)
    for levels in ((True, False), (1, 0), ("Y", "N"), ("YES", "NO"), ("Yes", "No")):
        if vals <= set(levels):
            return levels
    raise TrialkitError(
        f"cannot tell responders from non-responders among values {sorted(map(str, vals))}",
        source=source,
        variable=response,
        fix="pass response_levels=(responder value, non-responder value, ...)",
    )


def counts_from_frame(
    df: Any,
    treatment: str,
    response: str,
    strata: str | Sequence[str] | None = None,
    treatment_levels: Sequence[Any] | None = None,
    response_levels: Sequence[Any] | None = None,
    *,
    source: str = "data",
    return_labels: bool = False,
) -> np.ndarray | tuple[np.ndarray, dict[str, list[Any]]]:
    """Cross-tabulate subjects into a (K, R, C) count array: strata x treatment x response.

    Parameters
    ----------
    df:
        polars or pandas data frame with one row per subject.
    treatment, response:
        Column names. Rows of the table follow ``treatment_levels`` (for 2x2 tables: (treatment, control));
        columns follow ``response_levels`` (for 2x2 tables: (responder, non-responder)).
    strata:
        One column name, several, or None (K = 1). Strata are the observed combinations, sorted.
    treatment_levels:
        Arms to tabulate, in row order. Subjects in other arms are left out, so two arms of a three-arm trial
        can be compared. Default: sorted observed values.
    response_levels:
        Response values in column order. Default: (True, False), (1, 0) or ("Y", "N") when the column holds
        only those values. A value not listed raises an error.
    source:
        Dataset name used in error messages (e.g. "ADEFF").
    return_labels:
        Also return ``{"strata": [...], "treatment": [...], "response": [...]}``; strata labels are tuples.

    Rows with a missing treatment, response or stratum value are left out, as SAS PROC FREQ does without the
    MISSING option.

    >>> import polars as pl
    >>> d = pl.DataFrame({"arm": ["A", "A", "P", "P"], "resp": [1, 0, 0, 0], "site": ["1", "2", "1", "2"]})
    >>> counts_from_frame(d, "arm", "resp", "site", treatment_levels=("A", "P")).tolist()
    [[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]]
    """
    frame = _to_polars(df, source)
    strata_cols = [] if strata is None else ([strata] if isinstance(strata, str) else list(strata))
    needed = [treatment, response, *strata_cols]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise TrialkitError(
            f"column(s) {', '.join(missing)} not found",
            source=source,
            variable=", ".join(missing),
            fix=f"available columns: {', '.join(frame.columns)}",
        )
    frame = frame.select(needed).drop_nulls()
    float_cols = [c for c in needed if frame.schema[c].is_float()]
    if float_cols:
        frame = frame.filter(pl.all_horizontal([pl.col(c).is_not_nan() for c in float_cols]))

    observed_trt = frame.get_column(treatment).unique().to_list()
    if treatment_levels is None:
        trt_levels = sorted(observed_trt)
    else:
        trt_levels = list(treatment_levels)
        absent = [lv for lv in trt_levels if lv not in set(observed_trt)]
        if absent:
            raise TrialkitError(
                f"treatment level(s) {absent} have no subjects",
                source=source,
                variable=treatment,
                fix=f"observed values: {sorted(map(str, observed_trt))}",
            )
    if len(trt_levels) < 2:
        raise TrialkitError("need at least two treatment levels", source=source, variable=treatment)
    frame = frame.filter(pl.col(treatment).is_in(trt_levels))

    observed_resp = frame.get_column(response).unique().to_list()
    if response_levels is None:
        resp_levels = list(_default_response_levels(observed_resp, source, response))
    else:
        resp_levels = list(response_levels)
        extra = [v for v in observed_resp if v not in set(resp_levels)]
        if extra:
            raise TrialkitError(
                f"response value(s) {sorted(map(str, extra))} are not in response_levels",
                source=source,
                variable=response,
                fix="list every response value in response_levels",
            )

    if strata_cols:
        combos = frame.select(strata_cols).unique().sort(strata_cols)
        strata_labels = [tuple(r) for r in combos.iter_rows()]
        frame = frame.join(combos.with_row_index("__k"), on=strata_cols, how="left", nulls_equal=True)
    else:
        strata_labels = [()]
        frame = frame.with_columns(pl.lit(0, dtype=pl.UInt32).alias("__k"))

    trt_map = {v: i for i, v in enumerate(trt_levels)}
    resp_map = {v: i for i, v in enumerate(resp_levels)}
    k_idx = frame.get_column("__k").to_numpy().astype(np.intp)
    r_idx = np.array([trt_map[v] for v in frame.get_column(treatment).to_list()], dtype=np.intp)
    c_idx = np.array([resp_map[v] for v in frame.get_column(response).to_list()], dtype=np.intp)
    out = np.zeros((len(strata_labels), len(trt_levels), len(resp_levels)))
    np.add.at(out, (k_idx, r_idx, c_idx), 1.0)
    if return_labels:
        return out, {"strata": strata_labels, "treatment": trt_levels, "response": resp_levels}
    return out
