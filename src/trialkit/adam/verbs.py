"""ADaM derivation verbs on polars DataFrames, one per derivation, modelled on admiral.

Every verb takes the dataset as its first argument, starts by asserting the variables it needs
(:func:`assert_vars`), adds only the variables its name says and returns a new frame (inputs are never
modified). Verbs compose with ``DataFrame.pipe``::

    adqs = (
        qs.pipe(derive_vars_dt, dtc="QSDTC", new="ADT")
        .pipe(derive_vars_dy, ref="TRTSDT", dates=["ADT"])
        .pipe(derive_vars_avisit, windows=WINDOWS)
        .pipe(derive_var_ablfl, filter=pl.col("ADY") <= 1)
        .pipe(derive_var_base)
        .pipe(derive_var_chg)
        .pipe(derive_var_pchg)
    )

References: admiral (pharmaverse) reference manual; CDISC ADaM Implementation Guide v1.3 (BDS, OCCDS);
ISO 8601 for dates.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import polars as pl

from trialkit.errors import TrialkitError

__all__ = [
    "assert_vars",
    "derive_var_ablfl",
    "derive_var_base",
    "derive_var_chg",
    "derive_var_pchg",
    "derive_vars_avisit",
    "derive_locf_records",
    "derive_var_crit_flag",
    "derive_vars_trtdur",
    "derive_vars_exposure",
    "derive_vars_dy",
    "derive_vars_dt",
    "Window",
]

#: One analysis visit window: (AVISIT label, AVISITN, target day, low day, high day); ``None`` = open bound.
Window = tuple[str, float, float, float | None, float | None]


def _as_list(x: str | Iterable[str]) -> list[str]:
    return [x] if isinstance(x, str) else list(x)


def assert_vars(df: pl.DataFrame, variables: Iterable[str], dataset: str = "dataset") -> None:
    """Raise :class:`TrialkitError` naming ``dataset`` and every one of ``variables`` missing from ``df``.

    >>> assert_vars(pl.DataFrame({"AVAL": [1.0]}), ["AVAL", "BASE"], dataset="ADQS")
    Traceback (most recent call last):
    ...
    trialkit.errors.TrialkitError: ADQS: BASE: missing required variable(s) BASE ...
    """
    if not isinstance(df, pl.DataFrame):
        raise TrialkitError(
            f"expected a polars DataFrame, got {type(df).__name__}",
            source=dataset,
            fix="convert with polars.from_pandas(...) or read the file with trialkit.io.read_dataset",
        )
    missing = [v for v in variables if v not in df.columns]
    if missing:
        names = ", ".join(missing)
        raise TrialkitError(
            f"missing required variable(s) {names} (present: {', '.join(df.columns[:20])}"
            f"{', ...' if df.width > 20 else ''})",
            source=dataset,
            variable=names,
            fix=f"add {names} to {dataset} (derive it first or rename the column holding it)",
        )


def _rows_where(df: pl.DataFrame, mask: pl.Series, limit: int = 10) -> list[int]:
    """1-based row numbers where ``mask`` is true (for error messages)."""
    idx = mask.fill_null(False).arg_true()
    return [int(i) + 1 for i in idx[:limit]]


# ----------------------------------------------------------------------------------------------------
# Baseline, BASE, CHG, PCHG
# ----------------------------------------------------------------------------------------------------


def derive_var_ablfl(
    df: pl.DataFrame,
    by: Sequence[str] = ("USUBJID", "PARAMCD"),
    order: str | Sequence[str] = "ADY",
    filter: pl.Expr | None = None,  # noqa: A002 - admiral's name
    source: str = "AVAL",
    new: str = "ABLFL",
    require_value: bool = True,
    dataset: str = "ADQS",
) -> pl.DataFrame:
    """Flag the baseline record: the last (by ``order``) eligible record with non-missing ``source``.

    Eligible records are those where ``filter`` is true (typically pre-dose: ``pl.col("ADY") <= 1``);
    without a filter every record is eligible. With ``require_value=False`` records with a missing
    ``source`` are eligible too (the CDISC Pilot 01 ADADAS flags its baseline-visit record even when the
    item score is missing). ``new`` is ``"Y"`` on the
    baseline record of each ``by`` group and null elsewhere (admiral ``derive_var_extreme_flag`` with
    ``mode = "last"``). Ties in ``order`` keep the later record in the input order.

    >>> df = pl.DataFrame({"USUBJID": ["1"] * 3, "PARAMCD": ["X"] * 3, "ADY": [-3, 1, 15],
    ...                    "AVAL": [5.0, None, 7.0]})
    >>> derive_var_ablfl(df, filter=pl.col("ADY") <= 1)["ABLFL"].to_list()
    ['Y', None, None]
    """
    by, order = list(by), _as_list(order)
    assert_vars(df, [*by, *order, source], dataset)
    eligible = pl.col(source).is_not_null() if require_value else pl.lit(True)
    if filter is not None:
        eligible = eligible & filter.fill_null(False)
    rid = "__row"
    work = df.with_row_index(rid).with_columns(eligible.alias("__elig"))
    chosen = (
        work.filter(pl.col("__elig"))
        .sort([*order, rid], nulls_last=False, maintain_order=True)
        .group_by(by, maintain_order=True)
        .agg(pl.col(rid).last())
        .get_column(rid)
    )
    flag = pl.when(pl.col(rid).is_in(chosen.implode())).then(pl.lit("Y")).otherwise(pl.lit(None, pl.Utf8))
    return work.with_columns(flag.alias(new)).drop(rid, "__elig")


def derive_var_base(
    df: pl.DataFrame,
    by: Sequence[str] = ("USUBJID", "PARAMCD"),
    source: str = "AVAL",
    new: str = "BASE",
    flag: str = "ABLFL",
    dataset: str = "ADQS",
) -> pl.DataFrame:
    """Copy ``source`` of the baseline record (``flag == "Y"``) to every record of its ``by`` group.

    Works for numeric (``AVAL`` -> ``BASE``) and character (``AVALC`` -> ``BASEC``) values. Groups without a
    baseline record get null. Two baseline records in one group raise :class:`TrialkitError`.

    >>> df = pl.DataFrame({"USUBJID": ["1", "1"], "PARAMCD": ["X", "X"], "AVAL": [5.0, 7.0],
    ...                    "ABLFL": ["Y", None]})
    >>> derive_var_base(df)["BASE"].to_list()
    [5.0, 5.0]
    """
    by = list(by)
    assert_vars(df, [*by, source, flag], dataset)
    base = df.filter(pl.col(flag) == "Y").select(*by, pl.col(source).alias(new))
    dup = base.select(by).is_duplicated()
    if dup.any():
        keys = base.filter(dup).select(by).unique(maintain_order=True).head(5).rows()
        raise TrialkitError(
            f"more than one baseline record ({flag} = 'Y') per {'/'.join(by)}",
            source=dataset,
            variable=flag,
            rows=[" ".join(str(k) for k in key) for key in keys],
            fix=f"flag exactly one record per {'/'.join(by)} (see derive_var_ablfl)",
        )
    out = df.drop(new, strict=False).join(base, on=by, how="left", nulls_equal=True, maintain_order="left")
    return out


def derive_var_chg(
    df: pl.DataFrame,
    aval: str = "AVAL",
    base: str = "BASE",
    new: str = "CHG",
    null_at_baseline: bool = True,
    flag: str = "ABLFL",
    dataset: str = "ADQS",
) -> pl.DataFrame:
    """Change from baseline ``CHG = AVAL - BASE``.

    With ``null_at_baseline`` (default, as in the CDISC Pilot 01 ADaM) ``CHG`` is null on the baseline
    record (``flag == "Y"``, when that variable exists); admiral instead gives 0 there (pass ``False``).

    >>> df = pl.DataFrame({"AVAL": [5.0, 7.0], "BASE": [5.0, 5.0], "ABLFL": ["Y", None]})
    >>> derive_var_chg(df)["CHG"].to_list()
    [None, 2.0]
    """
    assert_vars(df, [aval, base], dataset)
    expr = pl.col(aval) - pl.col(base)
    if null_at_baseline and flag in df.columns:
        expr = pl.when(pl.col(flag) == "Y").then(None).otherwise(expr)
    return df.with_columns(expr.alias(new))


def derive_var_pchg(
    df: pl.DataFrame,
    aval: str = "AVAL",
    base: str = "BASE",
    new: str = "PCHG",
    null_at_baseline: bool = True,
    flag: str = "ABLFL",
    dataset: str = "ADQS",
) -> pl.DataFrame:
    """Percent change from baseline ``PCHG = 100 * (AVAL - BASE) / |BASE|``; null when BASE is 0 or null.

    The absolute value in the denominator follows admiral's ``derive_var_pchg`` (the sign then always
    reflects the direction of change). Null on the baseline record as for :func:`derive_var_chg`.

    >>> df = pl.DataFrame({"AVAL": [4.0, 6.0, 1.0], "BASE": [8.0, 0.0, None], "ABLFL": [None] * 3})
    >>> derive_var_pchg(df)["PCHG"].to_list()
    [-50.0, None, None]
    """
    assert_vars(df, [aval, base], dataset)
    b = pl.col(base).cast(pl.Float64)
    expr = pl.when(b.is_null() | (b == 0)).then(None).otherwise(100.0 * (pl.col(aval) - b) / b.abs())
    if null_at_baseline and flag in df.columns:
        expr = pl.when(pl.col(flag) == "Y").then(None).otherwise(expr)
    return df.with_columns(expr.alias(new))


# ----------------------------------------------------------------------------------------------------
# Analysis visits, LOCF, criterion flags
# ----------------------------------------------------------------------------------------------------


def _check_windows(windows: Sequence[Window], dataset: str) -> list[Window]:
    wins = [tuple(w) for w in windows]
    for w in wins:
        if len(w) != 5:
            raise TrialkitError(
                f"visit window {w!r} must have 5 items (label, visitnum, target_day, lo, hi)",
                source=dataset,
                variable="AVISIT",
                fix="give each window as (label, visitnum, target_day, lo, hi); use None for an open bound",
            )
        lo, hi = w[3], w[4]
        if lo is not None and hi is not None and lo > hi:
            raise TrialkitError(f"visit window {w[0]!r} has lo {lo} > hi {hi}", source=dataset,
                                variable="AVISIT", fix="swap the bounds")
    ordered = sorted(wins, key=lambda w: -float("inf") if w[3] is None else w[3])
    for a, b in zip(ordered, ordered[1:], strict=False):
        a_hi = float("inf") if a[4] is None else a[4]
        b_lo = -float("inf") if b[3] is None else b[3]
        if b_lo <= a_hi:
            raise TrialkitError(
                f"visit windows {a[0]!r} and {b[0]!r} overlap",
                source=dataset,
                variable="AVISIT",
                fix="make the day ranges of the windows disjoint",
            )
    return wins  # type: ignore[return-value]


def derive_vars_avisit(
    df: pl.DataFrame,
    windows: Sequence[Window],
    day: str = "ADY",
    by: Sequence[str] = ("USUBJID", "PARAMCD"),
    filter: pl.Expr | None = None,  # noqa: A002
    flag: str = "ANL01FL",
    dataset: str = "ADQS",
) -> pl.DataFrame:
    """Assign analysis visits by study-day windows and flag one record per window for analysis.

    Adds ``AVISIT``, ``AVISITN``, ``AWTARGET``, ``AWLO``, ``AWHI``, ``AWTDIFF = |day - AWTARGET|`` and
    ``flag``. Windows are inclusive day ranges (``None`` = open) that must not overlap; a record outside
    every window gets null ``AVISIT``. Within ``by`` x window, among records where ``filter`` is true and
    ``day`` is present, the record closest to the target gets ``flag = "Y"``; ties go to the later day
    (ADaMIG v1.3 section 3.3.4 lists this as a common rule; the CDISC Pilot 01 used it).

    >>> df = pl.DataFrame({"USUBJID": ["1"] * 3, "PARAMCD": ["X"] * 3, "ADY": [1, 50, 62]})
    >>> w = [("Baseline", 0, 1, None, 1), ("Week 8", 8, 56, 2, 84)]
    >>> derive_vars_avisit(df, w).select("AVISIT", "AWTDIFF", "ANL01FL").rows()
    [('Baseline', 0.0, 'Y'), ('Week 8', 6.0, None), ('Week 8', 6.0, 'Y')]
    """
    by = list(by)
    assert_vars(df, [*by, day], dataset)
    wins = _check_windows(windows, dataset)
    d = pl.col(day).cast(pl.Float64)

    def pick(i: int) -> pl.Expr:
        expr = pl.when(pl.lit(False)).then(None)
        for w in wins:
            cond = d.is_not_null()
            if w[3] is not None:
                cond = cond & (d >= w[3])
            if w[4] is not None:
                cond = cond & (d <= w[4])
            expr = expr.when(cond).then(pl.lit(w[i]))
        return expr.otherwise(None)

    out = df.with_columns(
        pick(0).cast(pl.Utf8).alias("AVISIT"),
        pick(1).cast(pl.Float64).alias("AVISITN"),
        pick(2).cast(pl.Float64).alias("AWTARGET"),
        pick(3).cast(pl.Float64).alias("AWLO"),
        pick(4).cast(pl.Float64).alias("AWHI"),
    ).with_columns((d - pl.col("AWTARGET")).abs().alias("AWTDIFF"))
    elig = pl.col("AVISITN").is_not_null()
    if filter is not None:
        elig = elig & filter.fill_null(False)
    rid = "__row"
    out = out.with_row_index(rid)
    chosen = (
        out.filter(elig)
        .sort(["AWTDIFF", day, rid], descending=[False, True, True])
        .group_by([*by, "AVISITN"], maintain_order=True)
        .agg(pl.col(rid).first())
        .get_column(rid)
    )
    flag_expr = pl.when(pl.col(rid).is_in(chosen.implode())).then(pl.lit("Y")).otherwise(None)
    return out.with_columns(flag_expr.cast(pl.Utf8).alias(flag)).drop(rid)


def derive_locf_records(
    df: pl.DataFrame,
    by: Sequence[str] = ("USUBJID", "PARAMCD"),
    visits: Sequence[tuple[str, float]] | pl.DataFrame = (),
    order: str | Sequence[str] = "AVISITN",
    filter: pl.Expr | None = None,  # noqa: A002
    donor_filter: pl.Expr | None = None,
    baseline_flag: str | None = "ABLFL",
    carry_baseline: bool = False,
    dtype: str = "LOCF",
    dataset: str = "ADQS",
) -> pl.DataFrame:
    """Add ``DTYPE = "LOCF"`` records for expected post-baseline visits that have no record.

    ``visits`` lists the expected analysis visits as ``(AVISIT, AVISITN)`` pairs (or a frame with those two
    columns). A ``by`` group gets an LOCF record at visit *v* when it has no record (among those where
    ``filter`` is true, e.g. ``pl.col("ANL01FL") == "Y"``) at *v* but has an observed post-baseline record
    (``baseline_flag`` not ``"Y"``) at an earlier visit: the new record is a copy of the last such record
    (by ``AVISITN`` then ``order``) with ``AVISIT``/``AVISITN`` replaced, ``DTYPE`` set and
    ``baseline_flag`` cleared. ``donor_filter`` (default: ``filter``) chooses which records may be carried:
    the CDISC Pilot 01 carries the latest record in time (``order="ADY"``, ``donor_filter=pl.lit(True)``),
    even one its windowing did not select. The baseline record is carried forward only with
    ``carry_baseline=True`` (what the pilot's ADADAS does for subjects without any post-baseline value).
    Variables that depend on the visit (window distances, CHG if BASE changes) are copied as they are;
    recompute them afterwards if needed. Admiral: ``derive_locf_records``.

    >>> df = pl.DataFrame({"USUBJID": ["1"] * 2, "PARAMCD": ["X"] * 2, "AVISIT": ["Baseline", "Week 8"],
    ...                    "AVISITN": [0.0, 8.0], "AVAL": [5.0, 7.0], "ABLFL": ["Y", None]})
    >>> out = derive_locf_records(df, visits=[("Week 8", 8), ("Week 16", 16)])
    >>> out.select("AVISIT", "AVAL", "DTYPE").rows()
    [('Baseline', 5.0, None), ('Week 8', 7.0, None), ('Week 16', 7.0, 'LOCF')]
    """
    by, order = list(by), _as_list(order)
    need = [*by, "AVISIT", "AVISITN", *order]
    if baseline_flag is not None:
        need.append(baseline_flag)
    assert_vars(df, dict.fromkeys(need), dataset)
    if isinstance(visits, pl.DataFrame):
        assert_vars(visits, ["AVISIT", "AVISITN"], "visits")
        vis = visits.select(pl.col("AVISIT").cast(pl.Utf8), pl.col("AVISITN").cast(pl.Float64))
    else:
        vis = pl.DataFrame(
            {"AVISIT": [str(v[0]) for v in visits], "AVISITN": [float(v[1]) for v in visits]},
            schema={"AVISIT": pl.Utf8, "AVISITN": pl.Float64},
        )
    if vis.is_empty():
        raise TrialkitError("no expected visits given", source=dataset, variable="AVISITN",
                            fix="pass visits=[(AVISIT, AVISITN), ...] for the post-baseline visits")
    base = df if "DTYPE" in df.columns else df.with_columns(pl.lit(None, pl.Utf8).alias("DTYPE"))
    considered = base if filter is None else base.filter(filter.fill_null(False))
    present = considered.select(*by, pl.col("AVISITN").cast(pl.Float64)).unique()
    pool = considered if donor_filter is None else base.filter(donor_filter.fill_null(False))
    donors = pool.filter(pl.col("AVISITN").is_not_null())
    if baseline_flag is not None and not carry_baseline:
        donors = donors.filter(pl.col(baseline_flag).fill_null("") != "Y")
    if donors.is_empty():
        return base
    groups = donors.select(by).unique()
    missing = groups.join(vis, how="cross").join(present, on=[*by, "AVISITN"], how="anti", nulls_equal=True)
    if missing.is_empty():
        return base
    # the last donor record at each visit, then for each missing visit the latest earlier visit's donor
    last = (
        donors.with_columns(pl.col("AVISITN").cast(pl.Float64).alias("__vn"))
        .sort(["__vn", *order], maintain_order=True)
        .group_by([*by, "__vn"], maintain_order=True)
        .last()
        .sort("__vn")
    )
    missing = missing.rename({"AVISIT": "__new_avisit"}).with_columns(pl.col("AVISITN").alias("__vn"))
    carried = missing.sort("__vn").join_asof(
        last.drop("AVISITN"), on="__vn", by=by, strategy="backward", allow_exact_matches=False,
        check_sortedness=False,
    )
    carried = carried.filter(pl.col("__new_avisit").is_not_null() & pl.col("AVISIT").is_not_null())
    new_rows = carried.with_columns(
        pl.col("__new_avisit").alias("AVISIT"),
        pl.lit(dtype, pl.Utf8).alias("DTYPE"),
        *([pl.lit(None, pl.Utf8).alias(baseline_flag)] if baseline_flag is not None else []),
    ).select(base.columns)
    new_rows = new_rows.with_columns(
        [pl.col(c).cast(t) for c, t in base.schema.items()]
    )
    return (
        pl.concat([base.with_columns(__new=pl.lit(0)), new_rows.with_columns(__new=pl.lit(1))])
        .sort([*by, "AVISITN", "__new"], nulls_last=True, maintain_order=True)
        .drop("__new")
    )


def derive_var_crit_flag(
    df: pl.DataFrame,
    condition: pl.Expr,
    crit_var: str = "CRIT1",
    flag_var: str = "CRIT1FL",
    label: str = "",
    values_yn: bool = True,
    dataset: str = "ADQS",
) -> pl.DataFrame:
    """Criterion flag: ``flag_var`` is ``"Y"`` where ``condition`` holds, ``"N"`` where it does not (or null
    with ``values_yn=False``), null where it is null; ``crit_var`` holds the criterion's ``label``.

    Variables used by ``condition`` must exist (checked). Admiral: ``derive_var_crit_flag``.

    >>> df = pl.DataFrame({"PCHG": [-80.0, -10.0, None]})
    >>> derive_var_crit_flag(df, pl.col("PCHG") <= -75, label="EASI-75")["CRIT1FL"].to_list()
    ['Y', 'N', None]
    """
    assert_vars(df, condition.meta.root_names(), dataset)
    no = pl.lit("N") if values_yn else pl.lit(None, pl.Utf8)
    flag = pl.when(condition.is_null()).then(None).when(condition).then(pl.lit("Y")).otherwise(no)
    return df.with_columns(pl.lit(label, pl.Utf8).alias(crit_var), flag.cast(pl.Utf8).alias(flag_var))


# ----------------------------------------------------------------------------------------------------
# Dates, study days, treatment duration, exposure
# ----------------------------------------------------------------------------------------------------

_ISO_PATTERN = (
    r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?))?)?)?$"
)


def _flag_name(new: str) -> str:
    return (new[:-2] if new.endswith("DT") else new) + "DTF"


def derive_vars_dt(
    df: pl.DataFrame,
    dtc: str = "XXDTC",
    new: str = "ADT",
    date_imputation: str | None = None,
    highest_imputation: str = "M",
    flag: str | None = None,
    dataset: str = "SDTM",
) -> pl.DataFrame:
    """Convert an ISO 8601 ``--DTC`` text to a date ``new`` (time part ignored), optionally imputing.

    Complete dates (``2014-01-02``, ``2014-01-02T10:30``) convert as they are. Partial dates (``2014-01``,
    ``2014``) give null unless ``date_imputation`` is ``"first"`` (``2014-01-01``), ``"mid"`` (day 15; for a
    missing month June 30, as admiral) or ``"last"`` (end of month / year); ``highest_imputation="D"``
    imputes only a missing day (year-only dates stay null, as in the CDISC Pilot 01 ADAE). The flag ``flag``
    (default ``new`` with ``DT`` -> ``DTF``, e.g. ``ASTDTF``) is ``"D"`` when the day was imputed, ``"M"``
    when month and day were, null otherwise; it is added only when imputing. Text that is not ISO 8601 or
    an impossible date raises :class:`TrialkitError` naming the rows. Admiral: ``derive_vars_dt``.

    >>> df = pl.DataFrame({"AESTDTC": ["2014-01-02T08:00", "2014-03", "", None]})
    >>> derive_vars_dt(df, "AESTDTC", "ASTDT", date_imputation="first").rows()[1]
    ('2014-03', datetime.date(2014, 3, 1), 'D')
    """
    assert_vars(df, [dtc], dataset)
    if df.height > 50_000 and new not in df.columns:
        # parse each distinct text once (study data repeat the same dates many times), then join back;
        # on a problem, re-run on the full data so that the error names the original rows
        uniq = df.select(pl.col(dtc)).unique()
        if uniq.height < df.height // 4:
            try:
                parsed = derive_vars_dt(uniq, dtc, new, date_imputation, highest_imputation, flag, dataset)
            except TrialkitError:
                parsed = None
            if parsed is not None:
                return df.join(parsed, on=dtc, how="left", nulls_equal=True, maintain_order="left")
    if date_imputation not in (None, "first", "mid", "last"):
        raise TrialkitError(f"unknown date_imputation {date_imputation!r}", source=dataset, variable=dtc,
                            fix="use None, 'first', 'mid' or 'last'")
    if highest_imputation not in ("D", "M"):
        raise TrialkitError(f"unknown highest_imputation {highest_imputation!r}", source=dataset,
                            variable=dtc, fix="use 'D' (day only) or 'M' (month and day)")
    s = pl.col(dtc).cast(pl.Utf8).str.strip_chars()
    blank = s.is_null() | (s == "")
    parts = s.str.extract_groups(_ISO_PATTERN)
    chk = df.select(blank.alias("blank"), parts.struct.field("1").alias("y"))
    bad = ~chk["blank"] & chk["y"].is_null()
    if bad.any():
        rows = _rows_where(df, bad)
        ex = df[dtc].filter(bad).head(3).to_list()
        raise TrialkitError(
            f"values that are not ISO 8601 dates, e.g. {ex}",
            source=dataset,
            variable=dtc,
            rows=rows,
            fix="write dates as YYYY-MM-DD (partial: YYYY-MM or YYYY), optionally with Thh:mm:ss",
        )
    y = parts.struct.field("1").cast(pl.Int32)
    m = parts.struct.field("2").cast(pl.Int32)
    d = parts.struct.field("3").cast(pl.Int32)
    has_m, has_d = m.is_not_null(), d.is_not_null()
    if date_imputation is None:
        mm, dd = m, d
    elif highest_imputation == "D" and date_imputation != "last":
        mm = m
        dd = d.fill_null(1) if date_imputation == "first" else d.fill_null(15)
    elif date_imputation == "first":
        mm, dd = m.fill_null(1), d.fill_null(1)
    elif date_imputation == "mid":
        mm = m.fill_null(6)
        dd = pl.when(has_d).then(d).when(has_m).then(15).otherwise(30)
    else:
        mm = m if highest_imputation == "D" else m.fill_null(12)
        dd = d.fill_null(31)
    # validate with strict construction on complete dates only; "last" computes month ends
    tmp = df.select(
        y.alias("y"), mm.alias("m"), dd.alias("d"), has_m.alias("hm"), has_d.alias("hd"), blank.alias("blank")
    )
    if date_imputation == "last":
        first_next = pl.date(pl.col("y"), pl.col("m"), 1).dt.offset_by("1mo")
        month_end = first_next.dt.offset_by("-1d").dt.day()
        tmp = tmp.with_columns(pl.when(pl.col("hd")).then(pl.col("d")).otherwise(month_end).alias("d"))
    complete = pl.col("y").is_not_null() & pl.col("m").is_not_null() & pl.col("d").is_not_null()
    valid_mday = (
        (pl.col("m") >= 1) & (pl.col("m") <= 12) & (pl.col("d") >= 1)
        & (pl.col("d") <= pl.date(pl.col("y"), pl.col("m").clip(1, 12), 1).dt.month_end().dt.day())
    )
    tmp = tmp.with_columns((complete & ~valid_mday).fill_null(False).alias("bad"))
    if tmp["bad"].any():
        raise TrialkitError(
            f"impossible dates, e.g. {df[dtc].filter(tmp['bad']).head(3).to_list()}",
            source=dataset,
            variable=dtc,
            rows=_rows_where(df, tmp["bad"]),
            fix="correct the month (01-12) or day of month",
        )
    date = pl.when(complete).then(pl.date(pl.col("y"), pl.col("m"), pl.col("d"))).otherwise(None)
    out_cols = tmp.select(date.alias(new), pl.col("hm"), pl.col("hd"), pl.col("blank"))
    result = df.with_columns(out_cols[new])
    if date_imputation is not None:
        fname = flag or _flag_name(new)
        fl = out_cols.select(
            pl.when(pl.col("blank") | pl.col(new).is_null()).then(None)
            .when(~pl.col("hm")).then(pl.lit("M"))
            .when(~pl.col("hd")).then(pl.lit("D"))
            .otherwise(None).cast(pl.Utf8).alias(fname)
        )
        result = result.with_columns(fl[fname])
    return result


def derive_vars_dy(
    df: pl.DataFrame,
    ref: str = "TRTSDT",
    dates: Sequence[str] = ("ADT",),
    new: Sequence[str] | None = None,
    dataset: str = "ADaM",
) -> pl.DataFrame:
    """Study day of each date in ``dates`` relative to ``ref``: ``date - ref + 1`` on or after ``ref``,
    ``date - ref`` before it (there is no day 0; SDTMIG 4.4.4). Names: ``...DT`` -> ``...DY``.

    >>> from datetime import date
    >>> df = pl.DataFrame({"TRTSDT": [date(2024, 1, 10)] * 3,
    ...                    "ADT": [date(2024, 1, 9), date(2024, 1, 10), date(2024, 1, 11)]})
    >>> derive_vars_dy(df)["ADY"].to_list()
    [-1, 1, 2]
    """
    dates = _as_list(dates)
    names = list(new) if new is not None else [(c[:-2] if c.endswith("DT") else c) + "DY" for c in dates]
    if len(names) != len(dates):
        raise TrialkitError("new must name one variable per date", source=dataset, variable=", ".join(dates),
                            fix="give as many names in new= as dates")
    assert_vars(df, [ref, *dates], dataset)
    exprs = []
    for c, n in zip(dates, names, strict=True):
        diff = (pl.col(c).cast(pl.Date) - pl.col(ref).cast(pl.Date)).dt.total_days()
        exprs.append(pl.when(diff >= 0).then(diff + 1).otherwise(diff).cast(pl.Int64).alias(n))
    return df.with_columns(exprs)


def derive_vars_trtdur(
    df: pl.DataFrame,
    start: str = "TRTSDT",
    end: str = "TRTEDT",
    new: str = "TRTDURD",
    dataset: str = "ADSL",
) -> pl.DataFrame:
    """Treatment duration in days ``TRTDURD = TRTEDT - TRTSDT + 1`` (null if either date is missing).

    >>> from datetime import date
    >>> df = pl.DataFrame({"TRTSDT": [date(2024, 1, 1)], "TRTEDT": [date(2024, 1, 28)]})
    >>> derive_vars_trtdur(df)["TRTDURD"].to_list()
    [28]
    """
    assert_vars(df, [start, end], dataset)
    days = (pl.col(end).cast(pl.Date) - pl.col(start).cast(pl.Date)).dt.total_days() + 1
    return df.with_columns(days.cast(pl.Int64).alias(new))


def derive_vars_exposure(
    adsl: pl.DataFrame,
    ex: pl.DataFrame,
    by: Sequence[str] = ("USUBJID",),
    dose: str = "EXDOSE",
    start: str = "EXSTDT",
    end: str = "EXENDT",
    trt_end: str | None = "TRTEDT",
    duration: str | None = "TRTDURD",
    dataset: str = "ADSL",
) -> pl.DataFrame:
    """Exposure from EX: ``CUMDOSE`` (sum of daily dose x days of each EX record), ``NEXREC`` (number of
    EX records with a dose) and ``AVGDD = CUMDOSE / duration`` when ``duration`` exists in ``adsl``.

    Each EX record contributes ``dose * (end - start + 1)`` (once-daily dosing); a missing end date is
    taken as ``trt_end`` of the subject (the last dose date). Subjects without EX records get null. Dates
    must already be dates (see :func:`derive_vars_dt`).

    >>> from datetime import date
    >>> adsl = pl.DataFrame({"USUBJID": ["1"], "TRTEDT": [date(2024, 1, 20)], "TRTDURD": [20]})
    >>> ex = pl.DataFrame({"USUBJID": ["1", "1"], "EXDOSE": [54.0, 81.0],
    ...                    "EXSTDT": [date(2024, 1, 1), date(2024, 1, 11)],
    ...                    "EXENDT": [date(2024, 1, 10), None]})
    >>> derive_vars_exposure(adsl, ex).select("CUMDOSE", "NEXREC", "AVGDD").row(0)
    (1350.0, 2, 67.5)
    """
    by = list(by)
    assert_vars(adsl, [*by] + ([trt_end] if trt_end else []), dataset)
    assert_vars(ex, [*by, dose, start, end], "EX")
    e = ex.select(*by, dose, start, end)
    end_expr = pl.col(end)
    if trt_end:
        e = e.join(adsl.select(*by, trt_end), on=by, how="left")
        end_expr = pl.coalesce(pl.col(end), pl.col(trt_end))
    days = (end_expr.cast(pl.Date) - pl.col(start).cast(pl.Date)).dt.total_days() + 1
    bad = e.select((days < 1).fill_null(False)).to_series()
    if bad.any():
        raise TrialkitError(
            "EX records end before they start",
            source="EX",
            variable=f"{start}/{end}",
            rows=_rows_where(e, bad),
            fix="correct the exposure start/end dates",
        )
    agg = e.group_by(by).agg(
        (pl.col(dose).cast(pl.Float64) * days).sum().alias("CUMDOSE"),
        pl.col(dose).is_not_null().sum().cast(pl.Int64).alias("NEXREC"),
    )
    out = adsl.drop(["CUMDOSE", "NEXREC", "AVGDD"], strict=False).join(agg, on=by, how="left",
                                                                         maintain_order="left")
    if duration and duration in adsl.columns:
        out = out.with_columns((pl.col("CUMDOSE") / pl.col(duration).cast(pl.Float64)).alias("AVGDD"))
    return out


# re-exported families (one file per family, as admiral)
from trialkit.adam.occds import derive_var_trtemfl  # noqa: E402
from trialkit.adam.tte import derive_param_tte  # noqa: E402

__all__ += ["derive_var_trtemfl", "derive_param_tte"]
