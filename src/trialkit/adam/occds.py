"""Occurrence data structure (OCCDS, e.g. ADAE) verbs: treatment-emergent flag.

Reference: admiral ``derive_var_trtemfl``; ADaM OCCDS v1.1 section 4 (TRTEMFL).
"""

from __future__ import annotations

import polars as pl

from trialkit.errors import TrialkitError


def derive_var_trtemfl(
    df: pl.DataFrame,
    start: str = "ASTDT",
    end: str = "AENDT",
    trt_start: str = "TRTSDT",
    trt_end: str = "TRTEDT",
    end_window_days: int | None = 0,
    missing_start_te: bool = True,
    new: str = "TRTEMFL",
    dataset: str = "ADAE",
) -> pl.DataFrame:
    """Treatment-emergent flag: ``"Y"`` when ``trt_start <= start <= trt_end + end_window_days``, else null.

    ``end_window_days=None`` drops the upper bound (any start on or after first dose), as does a missing
    ``trt_end``. With ``missing_start_te`` (admiral's rule) a record with a missing start date is
    treatment-emergent unless it ended before treatment start. Records of untreated subjects (missing
    ``trt_start``) get null.

    >>> from datetime import date
    >>> d = lambda day: date(2024, 1, day)
    >>> ae = pl.DataFrame({"ASTDT": [d(1), d(5), None, d(30)], "AENDT": [d(3), None, None, None],
    ...                    "TRTSDT": [d(2)] * 4, "TRTEDT": [d(20)] * 4})
    >>> derive_var_trtemfl(ae)["TRTEMFL"].to_list()
    [None, 'Y', 'Y', None]
    """
    from trialkit.adam.verbs import assert_vars

    need = [start, trt_start, trt_end] + ([end] if missing_start_te else [])
    assert_vars(df, need, dataset)
    if end_window_days is not None and end_window_days < 0:
        raise TrialkitError("end_window_days must be >= 0", source=dataset, variable=new,
                            fix="give the number of days after last dose, or None for no limit")
    s, ts, te = (pl.col(c).cast(pl.Date) for c in (start, trt_start, trt_end))
    in_window = s >= ts
    if end_window_days is not None:
        in_window = in_window & (te.is_null() | (s <= te + pl.duration(days=end_window_days)))
    cond = pl.when(ts.is_null()).then(False).when(s.is_not_null()).then(in_window)
    if missing_start_te:
        e = pl.col(end).cast(pl.Date)
        cond = cond.otherwise(e.is_null() | (e >= ts))
    else:
        cond = cond.otherwise(False)
    flag = pl.when(cond.fill_null(False)).then(pl.lit("Y")).otherwise(pl.lit(None, pl.Utf8))
    return df.with_columns(flag.alias(new))
