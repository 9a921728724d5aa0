"""Endpoint parameters of the efficacy BDS dataset, derived from score records by the study file's rule and
estimand: one derivation for simulated SDTM and for the user's ADaM alike.

Input: the score's observed records (one per subject and visit is kept: ``ANL01FL = "Y"`` first, then the latest
day) and the population's subjects (treatment, strata, the dates of rescue, treatment start and end of study).
Output: one record per population subject and post-baseline visit, ``PARAMCD`` = the endpoint id.

The estimand's strategies (ICH E9(R1)), applied in this order:

1. intercurrent events (rescue on or before the visit date; discontinuation: a visit after the end-of-study date
   of a discontinued subject; death: a visit after the date of death, ``[adam] death_date``, default DTHDT):
   ``non-responder`` (composite) -> AVAL 0 at and after the event; ``hypothetical`` -> the value is set missing;
   ``while-on-treatment`` -> the last value before the event is used; ``treatment-policy`` -> the value as observed;
2. missing values: ``non-responder`` -> AVAL 0 (``DTYPE = "NRI"``); ``locf`` -> the last earlier post-baseline
   value (``DTYPE = "LOCF"``); ``bocf`` -> the baseline (``DTYPE = "BOCF"``); ``exclude`` -> AVAL missing (not
   analysed);
3. responder endpoints: ``AVAL`` 1/0 by the rule (:func:`trialkit.endpoints.criterion`) on the resulting value, or
   by the dataset's own flag (``source = { variable = ... }``); continuous endpoints keep AVAL/CHG/PCHG of the
   resulting value; ordinal endpoints its category.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from trialkit.adam.verbs import derive_var_chg, derive_var_pchg
from trialkit.endpoints import criterion
from trialkit.study import Endpoint, Study

NR, TP, HYP, WOT = "non-responder", "treatment-policy", "hypothetical", "while-on-treatment"


def one_record_per_visit(records: pl.DataFrame) -> pl.DataFrame:
    """One record per USUBJID/AVISITN: the one flagged ``ANL01FL = "Y"``, else the latest (ADY, then ADT)."""
    order = [pl.col("ANL01FL").eq("Y").fill_null(False).alias("_anl") if "ANL01FL" in records.columns
             else pl.lit(False).alias("_anl")]
    keys = ["_anl"] + [c for c in ("ADY", "ADT") if c in records.columns]
    return (records.with_columns(order).sort(["USUBJID", "AVISITN", *keys], nulls_last=False)
            .group_by(["USUBJID", "AVISITN"], maintain_order=True).last().drop("_anl"))


def derive_endpoint(records: pl.DataFrame, subjects: pl.DataFrame, study: Study, ep: Endpoint) -> pl.DataFrame:
    """The endpoint's records (see the module docstring).

    ``records``: the score's observed records with USUBJID, AVISITN, AVAL and optionally BASE, ADT, ADY, ANL01FL
    and, for a flag source, the flag variable; baseline records (AVISITN 0) give BASE where it is missing.
    ``subjects``: the population (one row per subject) with USUBJID, the treatment variable, the strata and
    optionally TRTSDT, the rescue date (``[adam] rescue_date``, else RESCDT), the end-of-study status and date.
    """
    names = study.adam
    st = study.strategies(ep)
    visits = pl.DataFrame({"AVISIT": [v.name for v in study.visits[1:]],
                           "AVISITN": [float(v.week) for v in study.visits[1:]]})
    flag = ep.source.variable if ep.source != "derive" else None
    rec = records.with_columns(pl.col("AVISITN").cast(pl.Float64), pl.col("AVAL").cast(pl.Float64))
    if "BASE" not in rec.columns:
        rec = rec.with_columns(pl.lit(None, pl.Float64).alias("BASE"))
    base = (rec.group_by("USUBJID").agg(
        pl.col("BASE").drop_nulls().first().alias("_b1"),
        pl.col("AVAL").filter(pl.col("AVISITN") == 0).drop_nulls().first().alias("_b0"))
        .select("USUBJID", pl.coalesce("_b1", "_b0").cast(pl.Float64).alias("BASE")))
    post = one_record_per_visit(rec.filter(pl.col("AVISITN") > 0))
    keep = ["USUBJID", "AVISITN", pl.col("AVAL").alias("_v")]
    keep += [c for c in ("ADT", "ADY") if c in post.columns]
    if flag:
        keep.append(pl.col(flag).cast(pl.Utf8).eq(ep.source.yes).alias("_flag"))
    g = (subjects.join(visits, how="cross").join(base, on="USUBJID", how="left")
         .join(post.select(keep), on=["USUBJID", "AVISITN"], how="left").sort("USUBJID", "AVISITN"))
    for c, dtype in (("ADT", pl.Date), ("ADY", pl.Float64)):
        if c not in g.columns:
            g = g.with_columns(pl.lit(None, dtype).alias(c))
    cols = set(g.columns)
    target = (pl.col("TRTSDT") + pl.duration(days=(pl.col("AVISITN") * 7).cast(pl.Int64))
              if "TRTSDT" in cols else pl.lit(None, pl.Date))
    vdate = pl.coalesce(pl.col("ADT"), target)
    rdate = names.rescue_variable if names.rescue_variable in cols else None
    resc = (pl.col(rdate).is_not_null() & (pl.col(rdate) <= vdate)).fill_null(False) if rdate else pl.lit(False)
    es, ed = names.end_of_study_status, names.end_of_study_date
    if es and ed and es in cols and ed in cols:
        gone = (pl.col(es) == "DISCONTINUED") & pl.col(ed).is_not_null()
        after = (gone & (pl.col(ed) < vdate)).fill_null(False)
        discfl = (gone & pl.col("_v").is_null() & (pl.col(ed) <= vdate)).fill_null(False)
    else:
        after = discfl = pl.lit(False)
    ddate = names.death_date if names.death_date in cols else None
    died = (pl.col(ddate).is_not_null() & (pl.col(ddate) < vdate)).fill_null(False) if ddate else pl.lit(False)
    g = g.with_columns(resc.alias("_resc"), after.alias("_after"), discfl.alias("_disc"), died.alias("_death"))

    def event(strategies: tuple[str, ...]) -> pl.Expr:
        e = pl.lit(False)
        if st.rescue in strategies:
            e = e | pl.col("_resc")
        if st.discontinuation in strategies:
            e = e | pl.col("_after")
        if st.death in strategies:
            e = e | pl.col("_death")
        return e

    value = "_flag" if flag else "_v"
    g = g.with_columns(event((NR,)).alias("_comp"), event((HYP, WOT)).alias("_mask"), event((WOT,)).alias("_wot"))
    g = g.with_columns(pl.when(pl.col("_mask")).then(None).otherwise(pl.col(value)).alias("_x"))
    g = g.with_columns(pl.when(pl.col("_wot")).then(pl.col("_x").forward_fill().over("USUBJID"))
                       .otherwise(pl.col("_x")).alias("_x"))
    dtype = pl.when(pl.col("_wot") & pl.col("_x").is_not_null()).then(pl.lit("LOCF")).otherwise(pl.lit(None, pl.Utf8))
    miss = pl.col("_x").is_null()
    if st.missing == "locf":
        g = g.with_columns(pl.col("_x").forward_fill().over("USUBJID").alias("_y"))
        dtype = pl.when(miss & pl.col("_y").is_not_null()).then(pl.lit("LOCF")).otherwise(dtype)
    elif st.missing == "bocf" and not flag:
        g = g.with_columns(pl.coalesce("_x", "BASE").alias("_y"))
        dtype = pl.when(miss & pl.col("BASE").is_not_null()).then(pl.lit("BOCF")).otherwise(dtype)
    else:
        g = g.with_columns(pl.col("_x").alias("_y"))
    g = g.with_columns(dtype.alias("DTYPE"))
    common = [pl.lit(ep.id).alias("PARAMCD"), pl.lit(ep.label).alias("PARAM"),
              pl.when(pl.col("_resc")).then(pl.lit("Y")).otherwise(pl.lit("N")).alias("RESCFL"),
              pl.when(pl.col("_disc")).then(pl.lit("Y")).otherwise(pl.lit("N")).alias("DISCFL")]
    if ep.binary:
        y = g["_y"].to_numpy().astype(float) if not flag else g["_y"].cast(pl.Float64).to_numpy()
        met = np.nan_to_num(y, nan=0.0) > 0 if flag else criterion(ep, y, g["BASE"].to_numpy().astype(float))
        obs_met = (g["_flag"].fill_null(False).to_numpy() if flag
                   else criterion(ep, g["_v"].to_numpy().astype(float), g["BASE"].to_numpy().astype(float)))
        g = g.with_columns(pl.Series("_met", met), pl.Series("_obs", obs_met))
        missing = pl.col("_y").is_null() & ~pl.col("_comp")
        aval = (pl.when(pl.col("_comp")).then(pl.lit(0.0))
                .when(missing).then(pl.lit(None, pl.Float64) if st.missing == "exclude" else pl.lit(0.0))
                .otherwise(pl.col("_met").cast(pl.Float64)))
        nri = missing & pl.lit(st.missing != "exclude")
        g = g.with_columns(
            *common, aval.alias("AVAL"),
            pl.when(pl.col("_v").is_null() if not flag else pl.col("_flag").is_null()).then(None)
            .otherwise(pl.when(pl.col("_obs")).then(pl.lit("Y")).otherwise(pl.lit("N"))).alias("CRIT1FL"),
            pl.when(nri).then(pl.lit("NRI")).otherwise(pl.col("DTYPE")).alias("DTYPE"),
        ).with_columns(
            pl.when(pl.col("AVAL") == 1).then(pl.lit("Y")).when(pl.col("AVAL") == 0).then(pl.lit("N"))
            .otherwise(pl.lit(None, pl.Utf8)).alias("AVALC"),
            pl.when(pl.col("AVAL").is_not_null()).then(pl.lit("Y")).otherwise(pl.lit(None, pl.Utf8)).alias("ANL01FL"))
    else:
        g = (g.with_columns(*common, pl.col("_y").cast(pl.Float64).alias("AVAL"))
             .pipe(derive_var_chg, dataset="ADEFF").pipe(derive_var_pchg, dataset="ADEFF")
             .with_columns(pl.when(pl.col("AVAL").is_not_null()).then(pl.lit("Y")).otherwise(pl.lit(None, pl.Utf8))
                           .alias("ANL01FL")))
    drop = [c for c in g.columns if c.startswith("_")]
    drop += [c for c in (rdate, es, ed, ddate) if c and c in g.columns]
    return g.drop(drop)
