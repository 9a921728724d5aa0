"""ADSL and the efficacy BDS dataset (ADEFF) of an atopic-dermatitis study, from SDTM, built with the verbs.

ADEFF holds one parameter per score (``EASI`` computed from its QS components with :func:`trialkit.scores.easi`,
``VIGA``, ``RIGA``, ``PPNRS``) with AVISIT/AVISITN (study-day windows around the planned visits), ABLFL, BASE,
CHG, PCHG; and one binary parameter per responder endpoint of the study file (``PARAMCD`` = endpoint id) with a
record for every ITT subject at every post-baseline visit: ``CRIT1FL`` (rule met on the observed score),
``RESCFL``/``DISCFL`` (intercurrent events), ``AVAL`` 1/0 under the study's strategy and ``DTYPE = "NRI"`` where a
missing value was imputed as non-response.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from trialkit import scores
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
from trialkit.endpoints import criterion
from trialkit.errors import TrialkitError
from trialkit.study import Study

SCORE_PARAMS: dict[str, tuple[str, str]] = {
    # PARAMCD: (QSTESTCD in QS, PARAM)
    "EASI": ("", "EASI Total Score"),
    "VIGA": ("VIGA", "vIGA-AD Score"),
    "RIGA": ("RIGA", "rIGA Score"),
    "PPNRS": ("PPNRSWK", "Weekly Average Worst Pruritus NRS"),
}
EASI_SIGN_CODES = [f"{r}{s}" for r in scores.REGIONS for s in scores.SIGNS]
EASI_AREA_CODES = [f"{r}AREA" for r in scores.REGIONS]


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


def derive_adsl(sdtm: dict[str, pl.DataFrame], study: Study) -> pl.DataFrame:
    """Subject-level analysis dataset: one row per randomized subject."""
    dm = sdtm["DM"]
    assert_vars(dm, ["USUBJID", "SUBJID", "SITEID", "AGE", "SEX", "RACE", "ARM", "ARMCD", "ACTARM", "ACTARMCD"], "DM")
    arms = {a.label: a for a in study.arms}
    bad = dm.filter(~pl.col("ARM").is_in(list(arms)))
    if bad.height:
        raise TrialkitError(f"ARM values not in the study file: {bad['ARM'].unique().to_list()[:5]}", source="DM",
                            variable="ARM", rows=bad["USUBJID"].head(5).to_list(),
                            fix="use the arm labels of the study file's [[arms]]")
    dose = {a.label: a.dose_mg for a in study.arms}
    adsl = dm.select(
        "STUDYID", "USUBJID", "SUBJID", "SITEID", "AGE", "SEX", "RACE",
        *[c for c in ("COUNTRY", "AGEU") if c in dm.columns],
        pl.col("ARM").alias("TRT01P"), pl.col("ARM").replace_strict(dose, return_dtype=pl.Float64).alias("TRT01PN"),
        pl.col("ACTARM").alias("TRT01A"),
        pl.col("ACTARM").replace_strict(dose, default=None, return_dtype=pl.Float64).alias("TRT01AN"),
        pl.col("ARMCD").alias("TRT01PCD"),
    ).with_columns(
        pl.when(pl.col("AGE") < 40).then(pl.lit("<40")).when(pl.col("AGE") < 65).then(pl.lit("40-64"))
        .otherwise(pl.lit(">=65")).alias("AGEGR1"),
    )
    # randomization strata (as assigned) from SUPPDM
    if study.strata:
        supp = sdtm.get("SUPPDM")
        if supp is None or supp.height == 0:
            raise TrialkitError("no SUPPDM dataset with the randomization strata", source="SUPPDM",
                                fix="provide SUPPDM with QNAM = " + ", ".join(s.id for s in study.strata))
        assert_vars(supp, ["USUBJID", "QNAM", "QVAL"], "SUPPDM")
        st = supp.filter(pl.col("QNAM").is_in([s.id for s in study.strata])).pivot(
            on="QNAM", index="USUBJID", values="QVAL", aggregate_function="first")
        for s in study.strata:
            if s.id not in st.columns:
                raise TrialkitError(f"stratum {s.id} is missing", source="SUPPDM", variable="QNAM",
                                    fix=f"add QNAM = '{s.id}' records")
        adsl = adsl.join(st.select("USUBJID", *[s.id for s in study.strata]), on="USUBJID", how="left")
    # treatment dates from EX
    ex = sdtm["EX"]
    assert_vars(ex, ["USUBJID", "EXSTDTC", "EXDOSE"], "EX")
    ex = derive_vars_dt(ex, dtc="EXSTDTC", new="EXSTDT", dataset="EX")
    trt = ex.group_by("USUBJID").agg(pl.col("EXSTDT").min().alias("TRTSDT"), pl.col("EXSTDT").max().alias("TRTEDT"),
                                     pl.len().alias("NDOSES"), pl.col("EXDOSE").sum().alias("CUMDOSE"))
    adsl = adsl.join(trt, on="USUBJID", how="left").pipe(derive_vars_trtdur)
    # disposition
    ds = derive_vars_dt(sdtm["DS"], dtc="DSSTDTC", new="DSSTDT", dataset="DS")
    assert_vars(ds, ["USUBJID", "DSCAT", "DSDECOD"], "DS")
    rand = ds.filter(pl.col("DSDECOD") == "RANDOMIZED").group_by("USUBJID").agg(pl.col("DSSTDT").min().alias("RANDDT"))
    eos = ds.filter(pl.col("DSCAT") == "DISPOSITION EVENT").group_by("USUBJID").agg(
        pl.col("DSDECOD").last().alias("DCSREAS"), pl.col("DSSTDT").last().alias("EOSDT"))
    adsl = adsl.join(rand, on="USUBJID", how="left").join(eos, on="USUBJID", how="left").with_columns(
        pl.when(pl.col("DCSREAS") == "COMPLETED").then(pl.lit("COMPLETED"))
        .when(pl.col("DCSREAS").is_not_null()).then(pl.lit("DISCONTINUED")).otherwise(pl.lit("ONGOING"))
        .alias("EOSSTT"),
    ).with_columns(pl.when(pl.col("DCSREAS") == "COMPLETED").then(None).otherwise(pl.col("DCSREAS")).alias("DCSREAS"))
    # rescue therapy from CM
    cm = sdtm.get("CM")
    if cm is not None and cm.height:
        cm = derive_vars_dt(cm, dtc="CMSTDTC", new="CMSTDT", dataset="CM")
        resc = cm.filter(pl.col("CMCAT") == "RESCUE THERAPY").group_by("USUBJID").agg(
            pl.col("CMSTDT").min().alias("RESCDT"))
        adsl = adsl.join(resc, on="USUBJID", how="left")
    else:
        adsl = adsl.with_columns(pl.lit(None, pl.Date).alias("RESCDT"))
    return adsl.with_columns(
        pl.when(pl.col("RESCDT").is_not_null()).then(pl.lit("Y")).otherwise(pl.lit("N")).alias("RESCFL"),
        pl.when(pl.col("RANDDT").is_not_null()).then(pl.lit("Y")).otherwise(pl.lit("N")).alias("RANDFL"),
        pl.when(pl.col("RANDDT").is_not_null()).then(pl.lit("Y")).otherwise(pl.lit("N")).alias("ITTFL"),
        pl.when(pl.col("TRTSDT").is_not_null()).then(pl.lit("Y")).otherwise(pl.lit("N")).alias("SAFFL"),
    ).sort("USUBJID")


def _score_records(qs: pl.DataFrame, adsl: pl.DataFrame) -> pl.DataFrame:
    """One record per subject, visit and score: EASI from its 20 components, the others as recorded."""
    assert_vars(qs, ["USUBJID", "QSTESTCD", "QSSTRESN", "VISITNUM", "QSDTC"], "QS")
    keys = ["USUBJID", "VISITNUM", "QSDTC"]
    easi_codes = EASI_SIGN_CODES + EASI_AREA_CODES
    wanted = easi_codes + [code for code, _ in SCORE_PARAMS.values() if code]
    # select first, then convert: QS can hold tens of millions of records
    qs = qs.filter(pl.col("QSTESTCD").cast(pl.Utf8).is_in(wanted)).select(
        *keys, pl.col("QSTESTCD").cast(pl.Utf8), pl.col("QSSTRESN").cast(pl.Float64))
    comp = qs.filter(pl.col("QSTESTCD").is_in(easi_codes))
    frames = []
    if comp.height:
        try:
            wide = comp.pivot(on="QSTESTCD", index=keys, values="QSSTRESN", aggregate_function=None)
        except pl.exceptions.ComputeError:
            dup = comp.select(*keys, "QSTESTCD").is_duplicated()
            rows = comp.filter(dup).head(5).select("USUBJID", "VISITNUM", "QSTESTCD").rows()
            raise TrialkitError("EASI component recorded more than once at a visit", source="QS",
                                variable="QSTESTCD", rows=[" ".join(map(str, r)) for r in rows],
                                fix="keep one record per item and visit") from None
        for code in easi_codes:
            if code not in wide.columns:
                wide = wide.with_columns(pl.lit(None, pl.Float64).alias(code))
        wide = wide.join(adsl.select("USUBJID", "AGE"), on="USUBJID", how="left")
        signs = wide.select(EASI_SIGN_CODES).to_numpy().astype(float).reshape(-1, 4, 4)
        area = scores.area_score(wide.select(EASI_AREA_CODES).to_numpy().astype(float))
        total = scores.easi(signs, area, wide["AGE"].to_numpy().astype(float))
        frames.append(wide.select(*keys).with_columns(
            pl.lit("EASI").alias("PARAMCD"), pl.Series("AVAL", total, nan_to_null=True)))
    for paramcd, (code, _) in SCORE_PARAMS.items():
        if code:
            frames.append(qs.filter(pl.col("QSTESTCD") == code).select(
                *keys, pl.lit(paramcd).alias("PARAMCD"), pl.col("QSSTRESN").alias("AVAL")))
    out = pl.concat(frames, how="vertical_relaxed")
    return out.with_columns(pl.col("PARAMCD").replace_strict({k: v[1] for k, v in SCORE_PARAMS.items()}).alias("PARAM"))


def derive_adeff(sdtm: dict[str, pl.DataFrame], adsl: pl.DataFrame, study: Study) -> pl.DataFrame:
    """Efficacy BDS dataset: score parameters and the binary endpoint parameters of ``study``."""
    rec = _score_records(sdtm["QS"], adsl)
    base_cols = ["USUBJID", "TRT01P", "TRT01PN", "TRTSDT", *[s.id for s in study.strata]]
    scores_ds = (
        rec.join(adsl.select(base_cols), on="USUBJID", how="inner")
        .pipe(derive_vars_dt, dtc="QSDTC", new="ADT", dataset="QS")
        .pipe(derive_vars_dy, ref="TRTSDT", dates=["ADT"], dataset="ADEFF")
        .pipe(derive_vars_avisit, windows=visit_windows(study), day="ADY", dataset="ADEFF")
        .pipe(derive_var_ablfl, filter=pl.col("ADY") <= 1, dataset="ADEFF")
        .pipe(derive_var_base, dataset="ADEFF")
        .pipe(derive_var_chg, dataset="ADEFF")
        .pipe(derive_var_pchg, dataset="ADEFF")
        .with_columns(pl.lit(None, pl.Utf8).alias("DTYPE"))
    )
    binary = [e for e in study.endpoints if e.binary]
    resp = [_responder_param(scores_ds, adsl, study, e) for e in binary]
    out = pl.concat([scores_ds, *resp], how="diagonal_relaxed")
    # sort the keys only, then gather once: one copy of the wide frame instead of several on large data
    order = out.select(pl.arg_sort_by(["USUBJID", "PARAMCD", "AVISITN", "ADT"], nulls_last=True)).to_series()
    return out[order]


def _responder_param(scores_ds: pl.DataFrame, adsl: pl.DataFrame, study: Study, ep) -> pl.DataFrame:
    """One record per ITT subject and post-baseline visit for a binary endpoint (composite strategy)."""
    visits = pl.DataFrame({"AVISIT": [v.name for v in study.visits[1:]],
                           "AVISITN": [float(v.week) for v in study.visits[1:]]})
    itt = adsl.filter(pl.col("ITTFL") == "Y").select(
        "USUBJID", "TRT01P", "TRT01PN", "TRTSDT", "RESCDT", "EOSSTT", "EOSDT", *[s.id for s in study.strata])
    grid = itt.join(visits, how="cross")
    obs = scores_ds.filter((pl.col("PARAMCD") == ep.score) & (pl.col("ANL01FL") == "Y")).select(
        "USUBJID", "AVISITN", pl.col("AVAL").alias("SCORE"), pl.col("BASE"), "ADT", "ADY")
    g = grid.join(obs, on=["USUBJID", "AVISITN"], how="left")
    met = criterion(ep, g["SCORE"].to_numpy().astype(float), g["BASE"].to_numpy().astype(float))
    target = pl.col("TRTSDT") + pl.duration(days=(pl.col("AVISITN") * 7).cast(pl.Int64))
    g = g.with_columns(
        pl.when(pl.col("SCORE").is_null()).then(None)
        .otherwise(pl.Series(np.where(met, "Y", "N"))).cast(pl.Utf8).alias("CRIT1FL"),
        (pl.col("RESCDT").is_not_null() & (pl.col("RESCDT") <= pl.coalesce("ADT", target))).alias("_resc"),
        (pl.col("SCORE").is_null() & (pl.col("EOSSTT") == "DISCONTINUED")
         & (pl.col("EOSDT") <= pl.coalesce("ADT", target))).alias("_disc"),
    )
    ice = study.intercurrent_events
    aval = pl.col("CRIT1FL").fill_null("N") == "Y"
    if ice.rescue == "non-responder":
        aval = aval & ~pl.col("_resc")
    g = g.with_columns(
        pl.lit(ep.id).alias("PARAMCD"), pl.lit(ep.label).alias("PARAM"),
        aval.cast(pl.Float64).alias("AVAL"),
        pl.when(aval).then(pl.lit("Y")).otherwise(pl.lit("N")).alias("AVALC"),
        pl.when(pl.col("_resc")).then(pl.lit("Y")).otherwise(pl.lit("N")).alias("RESCFL"),
        pl.when(pl.col("_disc")).then(pl.lit("Y")).otherwise(pl.lit("N")).alias("DISCFL"),
        pl.when(pl.col("SCORE").is_null()).then(pl.lit("NRI")).otherwise(pl.lit(None, pl.Utf8)).alias("DTYPE"),
        pl.lit("Y").alias("ANL01FL"),
    )
    return g.drop("_resc", "_disc", "SCORE", "RESCDT", "EOSSTT", "EOSDT")
