"""The user's ADaM, read by the study file: ADSL and the BDS datasets its scores name, checked first (every variable
any later step reads, all problems together), then normalized to what the analyses read (the same frames as a
simulated trial's): ADSL with the population flags, the treatment variable and the strata; the score records; the
endpoint parameters derived by :func:`trialkit.adam.endpoints.derive_endpoint`.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from trialkit.adam.efficacy import derive_strata, endpoint_params
from trialkit.checks import Requirement, assert_checks
from trialkit.study import Study

#: BDS variables the endpoint derivation reads beyond PARAMCD/AVISITN/AVAL, when present
_OPTIONAL_BDS = ("BASE", "ADT", "ADY", "ANL01FL", "DTYPE", "AVISIT")


def _score_ranges(study: Study) -> dict[str, tuple[float, float]]:
    out = {}
    for sid, sc in study.scores.items():
        lo, hi = sc.range
        if lo is not None and hi is not None:
            out[study.paramcd(sid)] = (lo, hi)
    return out


def adam_requirements(study: Study, present: Mapping[str, pl.DataFrame]) -> list[Requirement]:
    """What the analyses of ``study`` read from ADaM: ADSL (subject key, treatment, population flags, strata or
    their source variables, the covariates) and, per dataset named by an endpoint's score, the BDS variables."""
    names = study.adam
    subj = names.subject_dataset
    flags = sorted({study.population(ep) for ep in study.endpoints} | {study.population()})
    adsl_vars: dict[str, str] = {"USUBJID": "str", **{f: "str" for f in flags}}
    adsl_ds = present.get(subj.upper())
    trt_in_adsl = adsl_ds is None or names.treatment in adsl_ds.columns or names.treatment.startswith("TRT0")
    if trt_in_adsl:
        adsl_vars[names.treatment] = "str"
    for st in study.strata:
        var = st.variable
        if adsl_ds is not None and st.id in adsl_ds.columns:
            var = st.id
        adsl_vars[var] = "num" if st.source is not None and st.source.cuts is not None else "any"
    for ep in study.endpoints:
        for c in ep.analysis.covariates:
            if c != "BASE":
                adsl_vars.setdefault(c, "any")
    for c in (names.rescue_date,):
        if c:
            adsl_vars[c] = "date"
    reqs = [Requirement(dataset=subj, step="analysis", variables=adsl_vars, keys=["USUBJID"], flags=flags)]
    ranges = _score_ranges(study)
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
                                value_var="AVAL", param_ranges=ranges,
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
    pops = sorted({study.population(ep) for ep in study.endpoints} | {study.population()})
    in_any = pl.any_horizontal([pl.col(f) == "Y" for f in pops])
    adsl = adsl.with_columns([pl.col(c).cast(pl.Utf8) for c in (names.treatment,)])
    analysed = derive_strata(adsl.filter(in_any), study, names.subject_dataset)
    adsl = adsl.drop([s.id for s in study.strata if s.id in adsl.columns and s.id not in analysed.columns]).join(
        analysed.select("USUBJID", *[s.id for s in study.strata]), on="USUBJID", how="left") if study.strata \
        else adsl
    from trialkit.checks import check_levels

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
