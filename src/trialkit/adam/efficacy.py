"""ADSL and the efficacy BDS dataset (ADEFF) from SDTM, built with the verbs, for any study file.

ADEFF holds one parameter per score the study defines and SDTM holds (``PARAMCD`` = the score's ``paramcd``: a
regional composite computed from its QS components with :func:`trialkit.scores.regional_composite`, the other
scores from their QS test code) with AVISIT/AVISITN (study-day windows around the planned visits), ABLFL, BASE,
CHG, PCHG; and one parameter per endpoint of the study file (``PARAMCD`` = endpoint id) with a record for every
subject of the population at every post-baseline visit, derived by :func:`trialkit.adam.endpoints.derive_endpoint`
(the rule and the estimand's strategies; ``CRIT1FL``, ``RESCFL``, ``DISCFL``, ``DTYPE``).
"""

from __future__ import annotations

import polars as pl

from trialkit import scores
from trialkit.adam.endpoints import derive_endpoint
from trialkit.adam.verbs import (
    Window,
    assert_vars,
    derive_var_ablfl,
    derive_var_base,
    derive_var_chg,
    derive_var_pchg,
    derive_vars_avisit,
    derive_vars_dt,
    derive_vars_dy,
    derive_vars_trtdur,
)
from trialkit.errors import TrialkitError
from trialkit.study import RegionalComposite, Study


def visit_windows(study: Study) -> list[Window]:
    """Analysis windows around the planned visits: target day 7 x week + 1, bounds half-way to the neighbours."""
    weeks = study.visit_weeks
    targets = [7 * w + 1 for w in weeks]
    wins: list[Window] = []
    for k, (v, t) in enumerate(zip(study.visits, targets, strict=True)):
        if k == 0:
            wins.append((v.name, float(v.week), float(t), None, float(t)))
            continue
        lo = targets[k - 1] + (t - targets[k - 1]) // 2 + 1 if k > 1 else targets[0] + 1
        hi = t + (targets[k + 1] - t) // 2 if k + 1 < len(targets) else None
        wins.append((v.name, float(v.week), float(t), float(lo), None if hi is None else float(hi)))
    return wins


def derive_strata(df: pl.DataFrame, study: Study, source: str) -> pl.DataFrame:
    """The study's strata as columns named by the stratum ids: kept where ``df`` already has them, else from their
    ``source`` (a variable's values, its cut-points or a map of its values). Values that are not levels of the
    stratum are an error listing the subjects."""
    out = df
    for st in study.strata:
        src = st.source
        derived = src is not None and (src.cuts is not None or src.map is not None)
        if st.id in out.columns and not derived and (src is None or src.variable in (None, st.id)):
            col = pl.col(st.id).cast(pl.Utf8)
        elif src is not None and st.variable in out.columns:
            x = pl.col(st.variable)
            if src.cuts is not None:
                col = pl.lit(None, pl.Utf8)
                for k in range(len(st.levels)):  # the highest band met wins (outermost when)
                    lo = src.cuts[k - 1] if k > 0 else None
                    cond = x.cast(pl.Float64) >= lo if lo is not None else x.is_not_null()
                    col = pl.when(cond).then(pl.lit(st.levels[k])).otherwise(col)
            elif src.map is not None:
                mapping = {v: lv for lv, vs in src.map.items() for v in vs}
                col = x.cast(pl.Utf8).replace_strict(mapping, default=None)
            else:
                col = x.cast(pl.Utf8)
        else:
            where = f"variable {st.variable}" if src and src.variable else f"variable {st.id}"
            raise TrialkitError(f"stratum {st.id} ({st.label}) cannot be derived: no {where}", source=source,
                                variable=st.variable, fix=f"add {st.variable} or set strata.source for {st.id}")
        out = out.with_columns(col.alias(st.id))
        bad = out.filter(pl.col(st.id).is_null() | ~pl.col(st.id).is_in(st.levels))
        if bad.height:
            vals = bad.get_column(src.variable if src and src.variable and src.variable in bad.columns else st.id)
            raise TrialkitError(
                f"{bad.height} subject(s) have no level of stratum {st.id} (values {vals.unique().head(5).to_list()}"
                f"; levels {st.levels})", source=source, variable=st.variable,
                rows=bad["USUBJID"].head(10).to_list() if "USUBJID" in bad.columns else None,
                fix="correct the values or the stratum's levels/source in the study file")
    return out


def derive_adsl(sdtm: dict[str, pl.DataFrame], study: Study) -> pl.DataFrame:
    """Subject-level analysis dataset: one row per subject in DM (ITTFL: randomized)."""
    dm = sdtm["DM"]
    assert_vars(dm, ["USUBJID", "SUBJID", "SITEID", "AGE", "SEX", "RACE", "ARM", "ARMCD", "ACTARM", "ACTARMCD"], "DM")
    arms = {a.label: a for a in study.arms}
    dose = {a.label: a.dose_mg for a in study.arms}
    adsl = dm.select(
        "STUDYID", "USUBJID", "SUBJID", "SITEID", "AGE", "SEX", "RACE",
        *[c for c in ("COUNTRY", "AGEU") if c in dm.columns],
        pl.col("ARM").alias("TRT01P"), pl.col("ARM").replace_strict(dose, default=None, return_dtype=pl.Float64)
        .alias("TRT01PN"),
        pl.col("ACTARM").alias("TRT01A"),
        pl.col("ACTARM").replace_strict(dose, default=None, return_dtype=pl.Float64).alias("TRT01AN"),
        pl.col("ARMCD").alias("TRT01PCD"),
    ).with_columns(
        pl.when(pl.col("AGE") < 40).then(pl.lit("<40")).when(pl.col("AGE") < 65).then(pl.lit("40-64"))
        .otherwise(pl.lit(">=65")).alias("AGEGR1"),
    )
    # disposition first: screen failures (no RANDOMIZED record) are outside the ITT population, not an error
    ds = derive_vars_dt(sdtm["DS"], dtc="DSSTDTC", new="DSSTDT", dataset="DS")
    assert_vars(ds, ["USUBJID", "DSCAT", "DSDECOD"], "DS")
    rand = ds.filter(pl.col("DSDECOD") == "RANDOMIZED").group_by("USUBJID").agg(pl.col("DSSTDT").min().alias("RANDDT"))
    adsl = adsl.join(rand, on="USUBJID", how="left")
    bad = adsl.filter(pl.col("RANDDT").is_not_null() & ~pl.col("TRT01P").is_in(list(arms)))
    if bad.height:
        raise TrialkitError(f"ARM values not in the study file: {bad['TRT01P'].unique().to_list()[:5]}", source="DM",
                            variable="ARM", rows=bad["USUBJID"].head(5).to_list(),
                            fix="use the arm labels of the study file's [[arms]]")
    # randomization strata (as assigned) from SUPPDM, or from DM variables where the study file says so
    if study.strata:
        from_supp = [s for s in study.strata if s.source is None or s.source.variable in (None, s.id)]
        supp = sdtm.get("SUPPDM")
        if from_supp and (supp is None or supp.height == 0):
            raise TrialkitError("no SUPPDM dataset with the randomization strata", source="SUPPDM",
                                fix="provide SUPPDM with QNAM = " + ", ".join(s.id for s in from_supp))
        if from_supp:
            assert_vars(supp, ["USUBJID", "QNAM", "QVAL"], "SUPPDM")
            st = supp.filter(pl.col("QNAM").is_in([s.id for s in from_supp])).pivot(
                on="QNAM", index="USUBJID", values="QVAL", aggregate_function="first")
            for s in from_supp:
                if s.id not in st.columns:
                    raise TrialkitError(f"stratum {s.id} is missing", source="SUPPDM", variable="QNAM",
                                        fix=f"add QNAM = '{s.id}' records")
            adsl = adsl.join(st.select("USUBJID", *[s.id for s in from_supp]), on="USUBJID", how="left")
        extra = [s.source.variable for s in study.strata if s.source and s.source.variable
                 and s.source.variable not in adsl.columns and s.source.variable in dm.columns]
        if extra:
            adsl = adsl.join(dm.select("USUBJID", *extra), on="USUBJID", how="left")
        # the randomized subjects' levels are checked; screen failures need none
        ids = [s.id for s in study.strata]
        rand_strata = derive_strata(adsl.filter(pl.col("RANDDT").is_not_null()), study, "DM/SUPPDM")
        adsl = adsl.drop([c for c in ids if c in adsl.columns]).join(
            rand_strata.select("USUBJID", *ids), on="USUBJID", how="left")
    # treatment dates from EX
    ex = sdtm["EX"]
    assert_vars(ex, ["USUBJID", "EXSTDTC", "EXDOSE"], "EX")
    ex = derive_vars_dt(ex, dtc="EXSTDTC", new="EXSTDT", dataset="EX")
    trt = ex.group_by("USUBJID").agg(pl.col("EXSTDT").min().alias("TRTSDT"), pl.col("EXSTDT").max().alias("TRTEDT"),
                                     pl.len().alias("NDOSES"), pl.col("EXDOSE").sum().alias("CUMDOSE"))
    adsl = adsl.join(trt, on="USUBJID", how="left").pipe(derive_vars_trtdur)
    eos = ds.filter(pl.col("DSCAT") == "DISPOSITION EVENT").group_by("USUBJID").agg(
        pl.col("DSDECOD").last().alias("DCSREAS"), pl.col("DSSTDT").last().alias("EOSDT"))
    adsl = adsl.join(eos, on="USUBJID", how="left").with_columns(
        pl.when(pl.col("DCSREAS") == "COMPLETED").then(pl.lit("COMPLETED"))
        .when(pl.col("DCSREAS").is_not_null()).then(pl.lit("DISCONTINUED")).otherwise(pl.lit("ONGOING"))
        .alias("EOSSTT"),
    ).with_columns(pl.when(pl.col("DCSREAS") == "COMPLETED").then(None).otherwise(pl.col("DCSREAS")).alias("DCSREAS"))
    # rescue therapy from CM, by the study's vocabulary
    rescdt = study.adam.rescue_variable
    cm = sdtm.get("CM")
    cat = study.vocabulary.rescue_category
    if cm is not None and cm.height and cat and "CMCAT" in cm.columns:
        cm = derive_vars_dt(cm, dtc="CMSTDTC", new="CMSTDT", dataset="CM")
        resc = cm.filter(pl.col("CMCAT") == cat).group_by("USUBJID").agg(pl.col("CMSTDT").min().alias(rescdt))
        adsl = adsl.join(resc, on="USUBJID", how="left")
    else:
        adsl = adsl.with_columns(pl.lit(None, pl.Date).alias(rescdt))
    return adsl.with_columns(
        pl.when(pl.col(rescdt).is_not_null()).then(pl.lit("Y")).otherwise(pl.lit("N")).alias("RESCFL"),
        pl.when(pl.col("RANDDT").is_not_null()).then(pl.lit("Y")).otherwise(pl.lit("N")).alias("RANDFL"),
        pl.when(pl.col("RANDDT").is_not_null()).then(pl.lit("Y")).otherwise(pl.lit("N")).alias("ITTFL"),
        pl.when(pl.col("TRTSDT").is_not_null()).then(pl.lit("Y")).otherwise(pl.lit("N")).alias("SAFFL"),
    ).sort("USUBJID")


def _composite_records(qs: pl.DataFrame, adsl: pl.DataFrame, study: Study, sid: str,
                       sc: RegionalComposite, keys: list[str]) -> pl.DataFrame | None:
    """One record per subject and visit with the composite computed from its sign and area items."""
    codes = sc.sign_codes + sc.area_codes
    comp = qs.filter(pl.col("QSTESTCD").is_in(codes))
    if comp.height == 0:
        return None
    try:
        wide = comp.pivot(on="QSTESTCD", index=keys, values="QSSTRESN", aggregate_function=None)
    except pl.exceptions.ComputeError:
        dup = comp.select(*keys, "QSTESTCD").is_duplicated()
        rows = comp.filter(dup).head(5).select("USUBJID", "VISITNUM", "QSTESTCD").rows()
        raise TrialkitError(f"{sid} component recorded more than once at a visit", source="QS",
                            variable="QSTESTCD", rows=[" ".join(map(str, r)) for r in rows],
                            fix="keep one record per item and visit") from None
    for code in codes:
        if code not in wide.columns:
            wide = wide.with_columns(pl.lit(None, pl.Float64).alias(code))
    wide = wide.join(adsl.select("USUBJID", "AGE"), on="USUBJID", how="left")
    nr, ns = len(sc.regions), len(sc.signs)
    signs = wide.select(sc.sign_codes).to_numpy().astype(float).reshape(-1, nr, ns)
    area = scores.area_score(wide.select(sc.area_codes).to_numpy().astype(float), sc.area.lower)
    child = [r.child_weight or r.weight for r in sc.regions]
    total = scores.regional_composite(signs, area, [r.weight for r in sc.regions], child_weights=child,
                                      age=wide["AGE"].to_numpy().astype(float), child_age_below=sc.child_age_below,
                                      sign_max=sc.sign_max, sign_step=sc.sign_step, area_max=len(sc.area.lower))
    return wide.select(*keys).with_columns(pl.lit(study.paramcd(sid)).alias("PARAMCD"),
                                           pl.Series("AVAL", total, nan_to_null=True))


def score_records(qs: pl.DataFrame, adsl: pl.DataFrame, study: Study) -> pl.DataFrame:
    """One record per subject, visit and score of the study found in QS: regional composites from their items,
    the other scores from their test codes."""
    assert_vars(qs, ["USUBJID", "QSTESTCD", "QSSTRESN", "VISITNUM", "QSDTC"], "QS")
    keys = ["USUBJID", "VISITNUM", "QSDTC"]
    wanted: list[str] = []
    for sc in study.scores.values():
        wanted += sc.sign_codes + sc.area_codes if isinstance(sc, RegionalComposite) else [sc.sdtm.testcd or ""]
    # select first, then convert: QS can hold tens of millions of records
    qs = qs.filter(pl.col("QSTESTCD").cast(pl.Utf8).is_in(wanted)).select(
        *keys, pl.col("QSTESTCD").cast(pl.Utf8), pl.col("QSSTRESN").cast(pl.Float64))
    frames = []
    labels = {}
    for sid, sc in study.scores.items():
        labels[study.paramcd(sid)] = sc.param or sc.label
        if isinstance(sc, RegionalComposite):
            f = _composite_records(qs, adsl, study, sid, sc, keys)
            if f is not None:
                frames.append(f)
        elif sc.sdtm.testcd:
            f = qs.filter(pl.col("QSTESTCD") == sc.sdtm.testcd)
            if f.height:
                frames.append(f.select(*keys, pl.lit(study.paramcd(sid)).alias("PARAMCD"),
                                       pl.col("QSSTRESN").alias("AVAL")))
    if not frames:
        raise TrialkitError("QS holds none of the study's scores", source="QS", variable="QSTESTCD",
                            fix="check the scores' sdtm.testcd in the study file")
    out = pl.concat(frames, how="vertical_relaxed")
    return out.with_columns(pl.col("PARAMCD").replace_strict(labels).alias("PARAM"))


def population(adsl: pl.DataFrame, study: Study, flag: str) -> pl.DataFrame:
    """The subjects an endpoint is analysed in: ``flag = "Y"``, with the columns the derivation reads."""
    names = study.adam
    cols = ["USUBJID", names.treatment, *[c for c in ("TRT01PN", "TRTSDT") if c in adsl.columns],
            *[s.id for s in study.strata],
            *[c for c in (names.rescue_variable, names.end_of_study_status, names.end_of_study_date,
                          names.death_date)
              if c and c in adsl.columns]]
    return adsl.filter(pl.col(flag) == "Y").select(list(dict.fromkeys(cols)))


def endpoint_params(scores_ds: pl.DataFrame, adsl: pl.DataFrame, study: Study) -> list[pl.DataFrame]:
    """The endpoint parameters of every endpoint, from the score records (observed, ``ANL01FL = "Y"``)."""
    out = []
    for ep in study.endpoints:
        paramcd = study.paramcd(ep.score)
        rec = scores_ds.filter(pl.col("PARAMCD") == paramcd)
        if "DTYPE" in rec.columns:
            rec = rec.filter(pl.col("DTYPE").is_null() | (pl.col("DTYPE") == ""))
        out.append(derive_endpoint(rec, population(adsl, study, study.population(ep)), study, ep))
    return out


def derive_adeff(sdtm: dict[str, pl.DataFrame], adsl: pl.DataFrame, study: Study) -> pl.DataFrame:
    """Efficacy BDS dataset: score parameters and the endpoint parameters of ``study``."""
    rec = score_records(sdtm["QS"], adsl, study)
    base_cols = ["USUBJID", "TRT01P", "TRT01PN", "TRTSDT", *[s.id for s in study.strata]]
    scores_ds = (
        rec.join(adsl.filter(pl.col("ITTFL") == "Y").select(base_cols), on="USUBJID", how="inner")
        .pipe(derive_vars_dt, dtc="QSDTC", new="ADT", dataset="QS")
        .pipe(derive_vars_dy, ref="TRTSDT", dates=["ADT"], dataset="ADEFF")
        .pipe(derive_vars_avisit, windows=visit_windows(study), day="ADY", dataset="ADEFF")
        .pipe(derive_var_ablfl, filter=pl.col("ADY") <= 1, dataset="ADEFF")
        .pipe(derive_var_base, dataset="ADEFF")
        .pipe(derive_var_chg, dataset="ADEFF")
        .pipe(derive_var_pchg, dataset="ADEFF")
        .with_columns(pl.lit(None, pl.Utf8).alias("DTYPE"))
    )
    anl = scores_ds.filter(pl.col("ANL01FL") == "Y")
    out = pl.concat([scores_ds, *endpoint_params(anl, adsl, study)], how="diagonal_relaxed")
    # sort the keys only, then gather once: one copy of the wide frame instead of several on large data
    order = out.select(pl.arg_sort_by(["USUBJID", "PARAMCD", "AVISITN", "ADT"], nulls_last=True)).to_series()
    return out[order]
