"""The user's ADaM, read by the study file: ADSL and the BDS datasets its scores name, checked first (every variable
any later step reads, all problems together), then normalized to what the analyses read (the same frames as a
simulated trial's): ADSL with the population flags, the treatment variable and the strata; the score records; the
endpoint parameters derived by :func:`trialkit.adam.endpoints.derive_endpoint`.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from trialkit.adam.efficacy import derive_strata, endpoint_params
from trialkit.checks import Levels, Requirement, assert_checks, check_levels
from trialkit.study import OrdinalScore, Study

#: BDS variables the endpoint derivation reads beyond PARAMCD/AVISITN/AVAL, when present
_OPTIONAL_BDS = ("BASE", "ADT", "ADY", "ANL01FL", "DTYPE", "AVISIT")


def _score_ranges(study: Study) -> dict[str, tuple[float, float]]:
    out = {}
    for sid, sc in study.scores.items():
        lo, hi = sc.range
        if lo is not None and hi is not None:
            out[study.paramcd(sid)] = (lo, hi)
    return out


#: what the safety analyses read when ADAE is given (trialkit.safety.tables): ADSL's safety population, actual
#: treatment and treatment dates, ADAE's treatment-emergent events with their coding and seriousness
_SAFETY_ADSL = {"SAFFL": "str", "TRT01A": "str", "TRTSDT": "date", "TRTEDT": "date"}
_SAFETY_ADAE = {"USUBJID": "str", "TRTEMFL": "str", "AEBODSYS": "str", "AEDECOD": "str", "AESEV": "str",
                "AESER": "str", "AEREL": "str", "AEACN": "str", "ASTDY": "num"}


def stratum_sources(study: Study) -> list[tuple[str, str, Levels | None]]:
    """Per stratum, the ADSL variable it is read from, its type and the values it may take, as
    :func:`trialkit.adam.efficacy.derive_strata` reads it: cut-points and maps from their variable (numbers; the
    map's values), else the source variable or the stratum's own column (its levels)."""
    out = []
    for st in study.strata:
        src = st.source
        fix = f"correct the values, or the levels/source of stratum {st.id} in the study file"
        what = f"levels of stratum {st.id}"
        if src is not None and src.cuts is not None:
            out.append((st.variable, "num", None))
        elif src is not None and src.map is not None:
            values = [v for vs in src.map.values() for v in vs]
            out.append((st.variable, "any", Levels(values, f"values mapped to the {what}", fix)))
        else:
            out.append((st.variable, "any", Levels(st.levels, what, fix)))
    return out


def adam_requirements(study: Study, present: Mapping[str, pl.DataFrame]) -> list[Requirement]:
    """What the analyses of ``study`` read from ADaM: ADSL (subject key, treatment, population flags, strata or
    their source variables, the covariates; treatment labels and strata levels in the analysed populations) and,
    per dataset named by an endpoint's score, the BDS variables; with ADAE, what the safety analyses read."""
    names = study.adam
    subj = names.subject_dataset
    flags = study.population_flags()
    adsl_vars: dict[str, str] = {"USUBJID": "str", **{f: "str" for f in flags}}
    adsl_ds = present.get(subj.upper())
    trt_in_adsl = adsl_ds is None or names.treatment in adsl_ds.columns or names.treatment.startswith("TRT0")
    labels = [a.label for a in study.arms]
    arm_levels = Levels(labels, "arm labels of the study file",
                        "make the [[arms]] labels match the treatment values, or set [adam] treatment")
    levels: dict[str, Levels] = {}
    if trt_in_adsl:
        adsl_vars[names.treatment] = "str"
        levels[names.treatment] = arm_levels
    for var, kind, lv in stratum_sources(study):
        adsl_vars[var] = kind
        if lv is not None:
            levels[var] = lv
    for ep in study.endpoints:
        for c in ep.analysis.covariates:
            if c != "BASE":
                adsl_vars.setdefault(c, "any")
    for c in (names.rescue_date,):
        if c:
            adsl_vars[c] = "date"
    # the end of study decides the discontinuation events: read unless every endpoint takes the treatment policy
    if any(study.strategies(ep).discontinuation != "treatment-policy" for ep in study.endpoints):
        for c, kind in ((names.end_of_study_status, "str"), (names.end_of_study_date, "date")):
            if c:
                adsl_vars[c] = kind
    reqs = [Requirement(dataset=subj, step="analysis", variables=adsl_vars, keys=["USUBJID"], flags=flags,
                        levels=levels, levels_where=flags)]
    if "ADAE" in {k.upper() for k in present}:
        reqs += [Requirement(dataset=subj, step="safety", variables=_SAFETY_ADSL, flags=["SAFFL"],
                             levels={"TRT01A": arm_levels}, levels_where=["SAFFL"]),
                 Requirement(dataset="ADAE", step="safety", variables=_SAFETY_ADAE, flags=["TRTEMFL"])]
    ranges = _score_ranges(study)
    ordinal = {study.paramcd(sid): [float(x) for x in sc.levels] for sid, sc in study.scores.items()
               if isinstance(sc, OrdinalScore)}
    by_ds: dict[str, dict[str, str]] = {}
    for ep in study.endpoints:
        ds = study.score(ep.score).dataset
        v = by_ds.setdefault(ds, {"USUBJID": "str", "PARAMCD": "str", "AVISITN": "num", "AVAL": "num"})
        if not trt_in_adsl:
            v[names.treatment] = "str"
        if ep.source != "derive":
            v[ep.source.variable] = "str"
        for c in ep.analysis.covariates:
            if c == "BASE":
                v["BASE"] = "num"
    for ds, v in by_ds.items():
        frame = present.get(ds.upper())
        extra = {c: ("date" if c == "ADT" else "num" if c in ("BASE", "ADY") else "str") for c in _OPTIONAL_BDS
                 if frame is not None and c in frame.columns}
        reqs.append(Requirement(dataset=ds, step="analysis", variables={**extra, **v}, param_var="PARAMCD",
                                value_var="AVAL", param_ranges=ranges, param_levels=ordinal,
                                filled=("USUBJID", "PARAMCD"),
                                levels={} if trt_in_adsl else {names.treatment: Levels(labels, arm_levels.what,
                                                                                       arm_levels.fix,
                                                                                       allow_null=True)},
                                flags=[c for c in ("ANL01FL",) if frame is not None and c in frame.columns]))
    return reqs


def prepare_adam(study: Study, datasets: Mapping[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """Check the user's ADaM for ``study`` and return ADSL and ADEFF (score records + endpoint parameters), and
    ADAE when given."""
    up = {k.upper(): v for k, v in datasets.items()}
    assert_checks(up, adam_requirements(study, up))
    names = study.adam
    adsl = up[names.subject_dataset.upper()]
    if names.treatment not in adsl.columns:  # a BDS treatment variable (TRTP/TRTA): one value per subject
        src = up[study.score(study.endpoints[0].score).dataset.upper()]
        trt = src.select("USUBJID", names.treatment).drop_nulls().unique("USUBJID", keep="first")
        adsl = adsl.join(trt, on="USUBJID", how="left")
    in_any = pl.any_horizontal([pl.col(f) == "Y" for f in study.population_flags()])
    adsl = adsl.with_columns([pl.col(c).cast(pl.Utf8) for c in (names.treatment,)])
    if study.strata:  # the strata as analysed (derived from their source where the file says so) replace ADSL's
        ids = [s.id for s in study.strata]
        analysed = derive_strata(adsl.filter(in_any), study, names.subject_dataset).select("USUBJID", *ids)
        adsl = adsl.drop([c for c in ids if c in adsl.columns]).join(analysed, on="USUBJID", how="left")
    check_levels(adsl.filter(in_any), names.treatment, [a.label for a in study.arms], names.subject_dataset)
    frames = []
    used = {study.score(ep.score).dataset.upper() for ep in study.endpoints}
    for ds in sorted(used):
        bds = up[ds]
        paramcds = [study.paramcd(ep.score) for ep in study.endpoints if study.score(ep.score).dataset.upper() == ds]
        keep = ["USUBJID", "PARAMCD", "AVISITN", "AVAL", *[c for c in _OPTIONAL_BDS if c in bds.columns],
                *{ep.source.variable for ep in study.endpoints if ep.source != "derive"
                  and ep.source.variable in bds.columns}]
        rec = bds.filter(pl.col("PARAMCD").is_in(paramcds)).select(list(dict.fromkeys(keep)))
        if "ANL01FL" not in rec.columns:
            rec = rec.with_columns(pl.lit("Y").alias("ANL01FL"))
        frames.append(rec)
    scores_ds = pl.concat(frames, how="diagonal_relaxed").with_columns(pl.col("AVISITN").cast(pl.Float64))
    scores_ds = scores_ds.join(adsl.select("USUBJID", names.treatment, *[s.id for s in study.strata]),
                               on="USUBJID", how="inner", suffix="_ADSL")
    out = {"ADSL": adsl, "ADEFF": pl.concat([scores_ds, *endpoint_params(scores_ds, adsl, study)],
                                             how="diagonal_relaxed")}
    if "ADAE" in up:
        out["ADAE"] = up["ADAE"]
    return out
