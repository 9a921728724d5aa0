"""ADAE (adverse events analysis dataset, ADaM OCCDS) from SDTM AE and ADSL.

The derivation is a pipe of small verbs, each adding only what its name says::

    adae = derive_adae(ae, adsl)            # = the pipe below, with ADSL variables merged first
    (ae.join(adsl...)
       .pipe(derive_vars_dt, "AESTDTC", "ASTDT", date_imputation="first", highest_imputation="D")
       .pipe(derive_vars_dt, "AEENDTC", "AENDT", date_imputation="last", highest_imputation="D")
       .pipe(derive_vars_dy, ref="TRTSDT", dates=["ASTDT", "AENDT"])
       .pipe(derive_var_adurn)
       .pipe(derive_var_trtemfl, end_window_days=None)
       .pipe(derive_vars_asev)
       .pipe(derive_vars_occurrence_flags))

References: ADaM OCCDS v1.1 (TRTEMFL, AOCCxxFL); admiral ``ad_adae.R`` template; CDISC Pilot 01 ADAE define.xml
(ASTDT: missing day imputed to the 1st, year-only dates left missing; TRTEMFL: ASTDT >= TRTSDT).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl

from trialkit.adam.occds import derive_var_trtemfl
from trialkit.adam.verbs import assert_vars, derive_vars_dt, derive_vars_dy
from trialkit.errors import TrialkitError

#: Severity/intensity ranks used for "maximum severity".
SEVERITY_RANK: dict[str, int] = {"MILD": 1, "MODERATE": 2, "SEVERE": 3}

AE_REQUIRED = ("USUBJID", "AESEQ", "AEDECOD", "AEBODSYS", "AESEV", "AESER", "AESTDTC")
AE_CARRIED = ("STUDYID", "USUBJID", "AESEQ", "AETERM", "AEDECOD", "AEBODSYS", "AESOC", "AESEV", "AESER",
              "AEREL", "AEACN", "AEOUT", "AESDTH", "AESTDTC", "AEENDTC")


def derive_var_adurn(adae: pl.DataFrame, start: str = "ASTDT", end: str = "AENDT",
                     imputation_flags: Sequence[str] = ("ASTDTF", "AENDTF"),
                     dataset: str = "ADAE") -> pl.DataFrame:
    """Analysis duration ``ADURN = AENDT - ASTDT + 1`` (days) and ``ADURU = "DAYS"``.

    Null when a date is missing or was imputed (any of ``imputation_flags`` present and non-null), as in the
    CDISC Pilot 01 ADAE: a duration from an imputed date would look more precise than it is.

    >>> from datetime import date
    >>> derive_var_adurn(pl.DataFrame({"ASTDT": [date(2024, 1, 1)], "AENDT": [date(2024, 1, 3)]}))["ADURN"][0]
    3
    """
    assert_vars(adae, [start, end], dataset)
    dur = (pl.col(end).cast(pl.Date) - pl.col(start).cast(pl.Date)).dt.total_days() + 1
    for f in imputation_flags:
        if f in adae.columns:
            dur = pl.when(pl.col(f).is_not_null()).then(None).otherwise(dur)
    return adae.with_columns(
        dur.cast(pl.Int64).alias("ADURN"),
        pl.when(dur.is_not_null()).then(pl.lit("DAYS")).otherwise(None).alias("ADURU"),
    )


def derive_vars_asev(adae: pl.DataFrame, source: str = "AESEV", impute: str | None = None,
                     rank: Mapping[str, int] | None = None, dataset: str = "ADAE") -> pl.DataFrame:
    """Analysis severity ``ASEV`` (= ``source``, missing replaced by ``impute`` if given) and its rank ``ASEVN``.

    Many SAPs count a missing severity as severe (``impute="SEVERE"``). Values outside ``rank`` (default
    MILD=1, MODERATE=2, SEVERE=3) raise :class:`TrialkitError`.

    >>> derive_vars_asev(pl.DataFrame({"AESEV": ["MILD", None]}), impute="SEVERE").rows()
    [('MILD', 'MILD', 1), (None, 'SEVERE', 3)]
    """
    assert_vars(adae, [source], dataset)
    rank = dict(rank or SEVERITY_RANK)
    if impute is not None and impute not in rank:
        raise TrialkitError(f"impute value {impute!r} is not a severity", source=dataset, variable="ASEV",
                            fix=f"use one of {list(rank)}")
    asev = pl.col(source).cast(pl.Utf8).str.strip_chars().str.to_uppercase()
    asev = pl.when(asev == "").then(None).otherwise(asev)
    if impute is not None:
        asev = asev.fill_null(pl.lit(impute))
    seen = adae.select(asev.alias("v")).get_column("v").drop_nulls().unique().to_list()
    unknown = sorted(set(seen) - set(rank))
    if unknown:
        raise TrialkitError(f"unknown severity values {unknown}", source=dataset, variable=source,
                            fix=f"use {list(rank)} (or pass rank= with your scale)")
    return adae.with_columns(
        asev.alias("ASEV"),
        asev.replace_strict(rank, default=None, return_dtype=pl.Int64).alias("ASEVN"),
    )


def derive_vars_occurrence_flags(
    adae: pl.DataFrame,
    filter: pl.Expr | None = None,  # noqa: A002 - admiral's name
    order: Sequence[str] = ("ASTDT", "AESEQ"),
    soc: str = "AEBODSYS",
    pt: str = "AEDECOD",
    dataset: str = "ADAE",
) -> pl.DataFrame:
    """First-occurrence flags among records where ``filter`` holds (default ``TRTEMFL == "Y"``).

    ``AOCCFL`` first record per subject, ``AOCCSFL`` per subject and SOC, ``AOCCPFL`` per subject, SOC and PT
    (ADaM OCCDS v1.1 section 4.1, as in the CDISC Pilot 01 ADAE); ``AOCCIFL`` / ``AOCPIFL``: the first record
    with the subject's maximum ``ASEVN`` overall / within SOC and PT (count these for tables by maximum
    severity). "First" is by ``order``, nulls first. Values are ``"Y"`` or null.

    >>> df = pl.DataFrame({"USUBJID": ["1"] * 3, "AESEQ": [1, 2, 3], "ASTDT": [3, 1, 2], "TRTEMFL": ["Y"] * 3,
    ...                    "AEBODSYS": ["S"] * 3, "AEDECOD": ["A", "A", "B"], "ASEVN": [2, 1, 2]})
    >>> derive_vars_occurrence_flags(df).select("AOCCFL", "AOCCPFL", "AOCCIFL", "AOCPIFL").rows()
    [(None, None, None, 'Y'), ('Y', 'Y', None, None), (None, 'Y', 'Y', 'Y')]
    """
    cond = (pl.col("TRTEMFL") == "Y") if filter is None else filter
    need = ["USUBJID", soc, pt, *order] + (["TRTEMFL"] if filter is None else [])
    assert_vars(adae, dict.fromkeys(need), dataset)
    with_sev = "ASEVN" in adae.columns
    rid = "__row"
    work = adae.with_row_index(rid)
    elig = work.filter(cond.fill_null(False)).sort([*order, rid], nulls_last=False)

    def first(keys: list[str], by_sev: bool = False) -> pl.Series:
        src = elig
        if by_sev:
            src = elig.filter(pl.col("ASEVN").is_not_null()).sort(
                ["ASEVN", *order, rid], descending=[True] + [False] * (len(order) + 1), nulls_last=False,
            )
        return src.group_by(keys, maintain_order=True).agg(pl.col(rid).first()).get_column(rid)

    def flag(ids: pl.Series) -> pl.Expr:
        return pl.when(pl.col(rid).is_in(ids.implode())).then(pl.lit("Y")).otherwise(pl.lit(None, pl.Utf8))

    exprs = [
        flag(first(["USUBJID"])).alias("AOCCFL"),
        flag(first(["USUBJID", soc])).alias("AOCCSFL"),
        flag(first(["USUBJID", soc, pt])).alias("AOCCPFL"),
    ]
    if with_sev:
        exprs += [
            flag(first(["USUBJID"], True)).alias("AOCCIFL"),
            flag(first(["USUBJID", soc, pt], True)).alias("AOCPIFL"),
        ]
    return work.with_columns(exprs).drop(rid)


def derive_adae(
    ae: pl.DataFrame,
    adsl: pl.DataFrame,
    *,
    trt: str = "TRT01A",
    trtn: str | None = "TRT01AN",
    adsl_vars: Sequence[str] = ("SAFFL",),
    end_window_days: int | None = None,
    missing_start_te: bool = True,
    impute_start_to_trtsdt: bool = True,
    impute_severity: str | None = None,
) -> pl.DataFrame:
    """Derive ADAE from SDTM ``ae`` and ``adsl``.

    Adds TRTA (from ``trt``), TRTAN (from ``trtn`` when present), TRTSDT, TRTEDT and ``adsl_vars`` (those
    present); ASTDT/ASTDTF (missing day imputed to the 1st; with ``impute_start_to_trtsdt`` a partial date in
    the month of first dose that would fall before TRTSDT is set to TRTSDT, admiral's ``min_dates``),
    AENDT/AENDTF (missing day imputed to the month's end), ASTDY/AENDY, ADURN/ADURU, TRTEMFL (ASTDT on or after
    TRTSDT and, if ``end_window_days`` is given, at most that many days after TRTEDT; missing start dates
    count as emergent when ``missing_start_te`` unless the event ended before TRTSDT), ASEV/ASEVN and the
    occurrence flags AOCCFL, AOCCSFL, AOCCPFL, AOCCIFL, AOCPIFL. AE variables AETERM, AEDECOD, AEBODSYS,
    AESOC, AESEV, AESER, AEREL, AEACN, AEOUT, AESDTH are carried over where present. Events of subjects
    missing from ADSL raise :class:`TrialkitError`.

    The CDISC Pilot 01 ADAE corresponds to ``missing_start_te=False`` (year-only start dates are not
    treatment-emergent there).
    """
    assert_vars(ae, AE_REQUIRED, "AE")
    assert_vars(adsl, ["USUBJID", "TRTSDT", "TRTEDT", trt], "ADSL")
    if adsl["USUBJID"].is_duplicated().any():
        raise TrialkitError("duplicate subjects", source="ADSL", variable="USUBJID",
                            rows=adsl.filter(pl.col("USUBJID").is_duplicated())["USUBJID"].head(5).to_list())
    keep = [c for c in AE_CARRIED if c in ae.columns]
    sl_cols = [pl.col("USUBJID"), pl.col(trt).alias("TRTA")]
    if trtn is not None and trtn in adsl.columns:
        sl_cols.append(pl.col(trtn).alias("TRTAN"))
    sl_cols += [pl.col("TRTSDT").cast(pl.Date), pl.col("TRTEDT").cast(pl.Date)]
    sl_cols += [pl.col(v) for v in adsl_vars if v in adsl.columns and v not in keep]
    sl = adsl.select(sl_cols)
    orphans = ae.join(sl.select("USUBJID"), on="USUBJID", how="anti")
    if orphans.height:
        raise TrialkitError(f"{orphans.height} adverse event records of subjects not in ADSL", source="AE",
                            variable="USUBJID", rows=orphans["USUBJID"].unique(maintain_order=True).to_list(),
                            fix="add the subjects to ADSL or remove their events")
    df = ae.select(keep).join(sl, on="USUBJID", how="left", maintain_order="left")
    df = derive_vars_dt(df, "AESTDTC", "ASTDT", date_imputation="first", highest_imputation="D", dataset="AE")
    if impute_start_to_trtsdt:
        ts = pl.col("TRTSDT")
        same_month = (pl.col("ASTDT").dt.year() == ts.dt.year()) & (pl.col("ASTDT").dt.month() == ts.dt.month())
        df = df.with_columns(
            pl.when((pl.col("ASTDTF") == "D") & same_month & (pl.col("ASTDT") < ts))
            .then(ts).otherwise(pl.col("ASTDT")).alias("ASTDT")
        )
    if "AEENDTC" in df.columns:
        df = derive_vars_dt(df, "AEENDTC", "AENDT", date_imputation="last", highest_imputation="D", dataset="AE")
    else:
        df = df.with_columns(pl.lit(None, pl.Date).alias("AENDT"), pl.lit(None, pl.Utf8).alias("AENDTF"))
    df = derive_vars_dy(df, ref="TRTSDT", dates=["ASTDT", "AENDT"], dataset="ADAE")
    df = derive_var_adurn(df)
    df = derive_var_trtemfl(df, end_window_days=end_window_days, missing_start_te=missing_start_te)
    df = derive_vars_asev(df, impute=impute_severity)
    df = derive_vars_occurrence_flags(df)
    return df.sort(["USUBJID", "AESEQ"], maintain_order=True)
