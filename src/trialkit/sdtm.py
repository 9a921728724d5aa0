"""SDTM-shaped datasets from a simulated cohort: DM, SUPPDM, EX, DS, QS, CM (SDTMIG v3.4 variable names).

Efficacy assessments go to QS with the test codes of the study's scores (:func:`qs_items`: the regional composite's
sign scores ``<region><sign>`` and area percentages, the global assessments and the itch scale). Randomization
strata as assigned by the IRT are in SUPPDM (``QNAM`` = stratum id). Rescue therapy and prior therapy are in CM,
named by the study's ``[vocabulary]``; EX follows each arm's regimen and ``treatment``.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from trialkit.simulate import Cohort
from trialkit.study import Study

_EPOCH = dt.date(1970, 1, 1)


def qs_items(study: Study) -> list[tuple[str, str, str]]:
    """The QS items the disease model records, as (QSTESTCD, QSTEST, QSCAT), in the order of the model's outputs:
    the regional composite's sign scores (``<region><sign>``) and area percentages (``<region><suffix>``), then
    the global assessment, the revised global assessment and the itch scale (each as its score's ``sdtm``)."""
    roles = study.model_or_fail("simulation").scores
    comp = study.score(roles.composite)
    cat = comp.sdtm.category or roles.composite
    items = [(f"{r.code}{g.code}", f"{r.label}: {g.label}", cat) for r in comp.regions for g in comp.signs]
    items += [(f"{r.code}{comp.area.suffix}", f"{r.label}: {comp.area.label}", cat) for r in comp.regions]
    for sid in (roles.global_assessment, roles.revised_global_assessment, roles.itch):
        sc = study.score(sid) if sid else None
        if sc is not None:
            items.append((sc.sdtm.testcd or study.paramcd(sid), sc.sdtm.test or sc.label, sc.sdtm.category or sid))
    return items


def _dates(start_days: np.ndarray, study_day: np.ndarray) -> pl.Series:
    """ISO 8601 dates for study days (day 1 = first dose at ``start_days`` since the epoch; no day 0)."""
    offset = np.where(study_day > 0, study_day - 1, study_day)
    return pl.Series((start_days + offset).astype("int32")).cast(pl.Date).dt.to_string("%Y-%m-%d")


def _seq(subject_idx: np.ndarray) -> np.ndarray:
    """1-based sequence number within subject for rows sorted by subject."""
    n = subject_idx.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.r_[0, np.flatnonzero(np.diff(subject_idx)) + 1]
    first = np.repeat(starts, np.diff(np.r_[starts, n]))
    return np.arange(n) - first + 1


def build_sdtm(study: Study, c: Cohort, seed: int = 0) -> dict[str, pl.DataFrame]:
    """All SDTM domains of a simulated cohort, keyed by domain name (AE drawn with a stream derived from ``seed``)."""
    sid = study.study.id
    n = c.n
    first_day = (study.study.first_patient_date - _EPOCH).days
    start = first_day + c.enroll_day  # day 1 (randomization and first dose) per subject, days since epoch
    subjid = np.char.zfill(np.arange(1, n + 1).astype(str), 6)
    usubjid = pl.Series("USUBJID", np.char.add(np.char.add(f"{sid}-", np.char.add(c.site, "-")), subjid))
    arm_id = np.array([a.id for a in study.arms])[c.arm]
    arm_lab = np.array([a.label for a in study.arms])[c.arm]
    observed_last = np.where(c.drop_visit >= 0, c.drop_visit - 1, c.weeks.size - 1)
    last_visit_day = c.visit_day[np.arange(n), observed_last]
    end_day = np.where(c.drop_day >= 0, c.drop_day, last_visit_day)
    week_to_visit = {int(w): k for k, w in enumerate(c.weeks)}

    # EX: one record per dose given, by each arm's regimen (dose weeks are visit weeks); none after discontinuation
    ex_rows = [(np.zeros(0, dtype=np.int64),) * 3]
    for a_idx, arm in enumerate(study.arms):
        for w in arm.regimen.weeks:
            k = week_to_visit.get(int(w))
            if k is None:
                continue
            got = (c.arm == a_idx) & c.observed[:, k] & (c.visit_day[:, k] <= end_day)
            idx = np.flatnonzero(got)
            ex_rows.append((idx, np.full(idx.size, k), c.visit_day[idx, k]))
    ex_idx = np.concatenate([r[0] for r in ex_rows])
    ex_k = np.concatenate([r[1] for r in ex_rows])
    ex_day = np.concatenate([r[2] for r in ex_rows])
    order = np.lexsort((ex_day, ex_idx))
    ex_idx, ex_k, ex_day = ex_idx[order], ex_k[order], ex_day[order]
    doses = np.array([a.dose_mg for a in study.arms])
    last_dose_day = np.zeros(n, dtype=np.int64)
    np.maximum.at(last_dose_day, ex_idx, ex_day)
    ex = pl.DataFrame({
        "STUDYID": sid, "DOMAIN": "EX", "USUBJID": usubjid.gather(ex_idx), "EXSEQ": _seq(ex_idx),
        "EXTRT": np.array([a.extrt for a in study.arms])[c.arm[ex_idx]],
        "EXDOSE": doses[c.arm[ex_idx]], "EXDOSU": "mg", "EXDOSFRM": "INJECTION", "EXROUTE": "SUBCUTANEOUS",
        "VISITNUM": (ex_k + 1).astype(np.float64),
        "EXSTDTC": _dates(start[ex_idx], ex_day), "EXENDTC": _dates(start[ex_idx], ex_day),
        "EXSTDY": ex_day, "EXENDY": ex_day,
    })

    dm = pl.DataFrame({
        "STUDYID": sid, "DOMAIN": "DM", "USUBJID": usubjid, "SUBJID": subjid,
        "RFSTDTC": _dates(start, np.ones(n, dtype=np.int64)), "RFENDTC": _dates(start, end_day),
        "RFXSTDTC": _dates(start, np.ones(n, dtype=np.int64)), "RFXENDTC": _dates(start, last_dose_day),
        "SITEID": c.site, "AGE": c.age.astype(np.float64), "AGEU": "YEARS", "SEX": c.sex, "RACE": c.race,
        "ARMCD": arm_id, "ARM": arm_lab, "ACTARMCD": arm_id, "ACTARM": arm_lab, "COUNTRY": c.country,
    })

    supp = []
    for j, st in enumerate(study.strata):
        supp.append(pl.DataFrame({
            "STUDYID": sid, "RDOMAIN": "DM", "USUBJID": usubjid, "IDVAR": "", "IDVARVAL": "",
            "QNAM": st.id, "QLABEL": f"Randomization Stratum: {st.label}"[:40],
            "QVAL": np.array(st.levels)[c.strata[:, j]], "QORIG": "ASSIGNED",
        }))
    suppdm = pl.concat(supp).sort("USUBJID", maintain_order=True) if supp else pl.DataFrame()

    completed = c.drop_visit < 0
    ds_idx = np.r_[np.arange(n), np.arange(n)]
    ds_cat = np.r_[np.full(n, "PROTOCOL MILESTONE"), np.full(n, "DISPOSITION EVENT")]
    ds_decod = np.r_[np.full(n, "RANDOMIZED"), np.where(completed, "COMPLETED", c.drop_reason)]
    ds_day = np.r_[np.ones(n, dtype=np.int64), end_day]
    order = np.lexsort((ds_day, ds_idx))
    ds_idx, ds_cat, ds_decod, ds_day = ds_idx[order], ds_cat[order], ds_decod[order], ds_day[order]
    ds = pl.DataFrame({
        "STUDYID": sid, "DOMAIN": "DS", "USUBJID": usubjid.gather(ds_idx), "DSSEQ": _seq(ds_idx),
        "DSTERM": ds_decod, "DSDECOD": ds_decod, "DSCAT": ds_cat,
        "EPOCH": np.where(ds_cat == "PROTOCOL MILESTONE", "SCREENING", "TREATMENT"),
        "DSSTDTC": _dates(start[ds_idx], ds_day), "DSSTDY": ds_day,
    })

    # CM: prior therapy (before the study; the model's prior-therapy stratum) and rescue therapy
    voc = study.vocabulary
    roles = study.model_or_fail("simulation").strata
    prior_col = [k for k, st in enumerate(study.strata) if st.id == roles.prior_therapy]
    if prior_col and voc.prior_therapies:
        yes = np.array([lv == roles.prior_therapy_level for lv in study.strata[prior_col[0]].levels])
        prior = yes[c.strata[:, prior_col[0]]]
    else:
        prior = np.zeros(n, dtype=bool)
    p_idx = np.flatnonzero(prior)
    r_idx = np.flatnonzero(c.rescue_day >= 0)
    if not (voc.rescue_category and voc.rescue_medication):
        r_idx = r_idx[:0]  # the study names no rescue medication: none is recorded
    cm_idx = np.r_[p_idx, r_idx]
    cm_day = np.r_[-(60 + (c.enroll_day[p_idx] * 7919) % 700), c.rescue_day[r_idx]]
    therapies = np.array(voc.prior_therapies or [""])
    cm_trt = np.r_[therapies[(c.enroll_day[p_idx] + p_idx) % therapies.size],
                   np.full(r_idx.size, voc.rescue_medication or "")]
    cm_cat = np.r_[np.full(p_idx.size, voc.prior_therapy_category or "PRIOR THERAPY"),
                   np.full(r_idx.size, voc.rescue_category or "")]
    order = np.lexsort((cm_day, cm_idx))
    cm_idx, cm_day, cm_trt, cm_cat = cm_idx[order], cm_day[order], cm_trt[order], cm_cat[order]
    cm = pl.DataFrame({
        "STUDYID": sid, "DOMAIN": "CM", "USUBJID": usubjid.gather(cm_idx), "CMSEQ": _seq(cm_idx),
        "CMTRT": cm_trt, "CMCAT": cm_cat, "CMSTDTC": _dates(start[cm_idx], cm_day), "CMSTDY": cm_day,
    })

    out = {"DM": dm, "SUPPDM": suppdm, "EX": ex, "DS": ds, "QS": _qs(study, c, usubjid, start), "CM": cm}
    if study.safety is not None:
        from trialkit.safety.simulate import simulate_adverse_events

        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0xAE,)))
        start_dates = pl.Series((start).astype("int32")).cast(pl.Date)
        out["AE"] = simulate_adverse_events(usubjid, arm_lab, end_day, start_dates, study.safety, rng, studyid=sid)
    return out


def _qs(study: Study, c: Cohort, usubjid: pl.Series, start: np.ndarray) -> pl.DataFrame:
    """QS in long form: one row per subject, observed visit and item, sorted by subject, visit, item."""
    n, v = c.observed.shape
    spec = qs_items(study)
    items, tests, cats = [x[0] for x in spec], [x[1] for x in spec], [x[2] for x in spec]
    roles = study.model_or_fail("simulation").scores
    single = [(c.viga, roles.global_assessment), (c.riga, roles.revised_global_assessment), (c.nrs, roles.itch)]
    values = np.concatenate([c.signs.reshape(n, v, -1), c.area_pct]
                            + [x[..., None].astype(float) for x, sid in single if sid], axis=2)  # (n, V, items)
    m = len(items)
    subj, visit = np.nonzero(c.observed)  # row-major: sorted by subject then visit
    subj = np.repeat(subj, m)
    visit = np.repeat(visit, m)
    item = np.tile(np.arange(m), subj.size // m)
    val = values[subj, visit, item]
    day = c.visit_day[subj, visit]
    item_enum = pl.Enum(items)
    vis_names = [vv.name for vv in study.visits]
    frame = pl.DataFrame({
        "STUDYID": pl.Series([study.study.id]).cast(pl.Categorical).gather(np.zeros(subj.size, dtype=np.int64)),
        "DOMAIN": pl.Series(["QS"]).cast(pl.Categorical).gather(np.zeros(subj.size, dtype=np.int64)),
        "USUBJID": usubjid.gather(subj),
        "QSSEQ": _seq(subj),
        "QSTESTCD": pl.Series(items, dtype=item_enum).gather(item),
        "QSTEST": pl.Series(tests).cast(pl.Categorical).gather(item),
        "QSCAT": pl.Series(cats).cast(pl.Categorical).gather(item),
        "QSSTRESN": val,
        "VISITNUM": (visit + 1).astype(np.float64),
        "VISIT": pl.Series(vis_names).cast(pl.Categorical).gather(visit),
        "QSDTC": _dates(start[subj], day),
        "QSDY": day,
    })
    return frame.with_columns(
        pl.col("QSSTRESN").cast(pl.Utf8).alias("QSORRES"),
        pl.col("QSSTRESN").cast(pl.Utf8).alias("QSSTRESC"),
    ).select("STUDYID", "DOMAIN", "USUBJID", "QSSEQ", "QSTESTCD", "QSTEST", "QSCAT", "QSORRES", "QSSTRESC",
             "QSSTRESN", "VISITNUM", "VISIT", "QSDTC", "QSDY")
