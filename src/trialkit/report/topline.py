"""The topline: per endpoint and arm, rate, difference vs placebo, CI and p-value; built from the ARD only."""

from __future__ import annotations

import json
import math
from typing import Any

import polars as pl

from trialkit.ard import lookup
from trialkit.report.formats import fmt_pct, fmt_pct_ci, fmt_pvalue
from trialkit.study import Study

_DIFF = {"mh": "Mantel-Haenszel risk difference (Sato variance)", "mn": "stratified Miettinen-Nurminen risk difference",
         "newcombe": "stratified Newcombe risk difference"}


def _estimand(study: Study, ep: Any) -> dict[str, str]:
    st = study.strategies(ep)
    summary = ep.estimand.summary or ("risk difference" if ep.binary else "row mean scores" if ep.ordinal
                                      else "difference in means")
    return {"population": study.population(ep), "rescue": st.rescue, "discontinuation": st.discontinuation,
            "death": st.death, "missing": st.missing, "summary": summary}


def _analysis_text(study: Study, ep: Any) -> str:
    strata = study.strata_for(ep)
    by = (" stratified by " + ", ".join(strata)) if strata else ""
    method = study.method(ep)
    if method == "cmh":
        return f"CMH test{by}; {_DIFF[study.difference(ep)]}"
    if method == "logistic":
        return f"logistic regression on treatment{' and ' + ', '.join(strata) if strata else ''} (odds ratio, " \
               f"Wald p); {_DIFF[study.difference(ep)]}"
    if method == "cmh_rms":
        return f"CMH row mean scores{by}"
    if method == "ancova":
        return "ANCOVA on " + ", ".join([study.adam.treatment, *ep.analysis.covariates])
    if method == "mmrm":
        return "MMRM (unstructured covariance, Kenward-Roger df)"
    return "descriptive statistics"


def _f(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def build_topline(ard: pl.DataFrame, study: Study, *, seed: int | None, source: str = "simulated") -> dict[str, Any]:
    """The topline dictionary (the shape of ``topline.json``)."""
    pbo = study.placebo.label
    TRT = study.adam.treatment  # noqa: N806
    arms = [{"id": a.id, "label": a.label, "dose_mg": a.dose_mg, "placebo": a.placebo,
             "n": int(lookup(ard, "ADSL", "N", **{TRT: a.label}) or 0)} for a in study.arms]
    endpoints = []
    for ep in study.endpoints:
        if not ep.binary:
            rows = []
            for a in study.arms:
                g = {TRT: a.label}
                rows.append({"arm": a.id, "n": int(lookup(ard, f"{ep.id}.summary", "n", **g) or 0),
                             "mean": _f(lookup(ard, f"{ep.id}.summary", "mean", **g)),
                             "sd": _f(lookup(ard, f"{ep.id}.summary", "sd", **g)),
                             "median": _f(lookup(ard, f"{ep.id}.summary", "median", **g))})
            entry = {"id": ep.id, "label": ep.label, "role": ep.role, "visit_week": ep.visit_week,
                     "type": ep.rule.kind, "analysis": _analysis_text(study, ep), "estimand": _estimand(study, ep),
                     "results": rows}
            for kind in ("mmrm", "ancova"):
                mm = _mmrm(ard, study, ep.id, kind)
                if mm:
                    entry[kind] = mm
            if ep.ordinal:
                entry["cmh_rms_pvalue"] = _f(lookup(ard, f"{ep.id}.cmh_rms", "pvalue"))
            endpoints.append(entry)
            continue
        results = []
        for a in study.arms:
            g = {TRT: a.label}
            row: dict[str, Any] = {
                "arm": a.id,
                "n": int(lookup(ard, f"{ep.id}.rate", "N", **g) or 0),
                "responders": int(lookup(ard, f"{ep.id}.rate", "n", **g) or 0),
                "rate": _f(lookup(ard, f"{ep.id}.rate", "p", **g)),
                "diff_vs_placebo": None, "ci_low": None, "ci_high": None, "p_value": None,
            }
            if not a.placebo:
                gc = {TRT: a.label, "COMPARATOR": pbo}
                row.update(
                    diff_vs_placebo=_f(lookup(ard, f"{ep.id}.rd", "estimate", **gc)),
                    ci_low=_f(lookup(ard, f"{ep.id}.rd", "ci_low", **gc)),
                    ci_high=_f(lookup(ard, f"{ep.id}.rd", "ci_high", **gc)),
                    p_value=_f(lookup(ard, f"{ep.id}.{'logistic' if study.method(ep) == 'logistic' else 'cmh'}",
                                      "pvalue", **gc)),
                )
            pub = study.published_for(ep.id, a.id)
            row["published"] = None if pub is None else {"rate": pub.rate, "diff_vs_placebo": pub.diff,
                                                         "p_value": pub.p_value}
            results.append(row)
        sens = _sensitivity(ard, study, ep.id)
        endpoints.append({**({"sensitivity": sens} if sens else {}),
                          "id": ep.id, "label": ep.label, "role": ep.role, "visit_week": ep.visit_week,
                          "type": "binary", "analysis": _analysis_text(study, ep), "estimand": _estimand(study, ep),
                          "results": results})
    mult = _multiplicity(ard, study)
    if mult:
        rejected = {(h["endpoint"], h["arm"]): h["rejected"] for h in mult["hypotheses"]}
        for ep in endpoints:
            for r in ep["results"]:
                if (ep["id"], r["arm"]) in rejected:
                    r["significant_after_multiplicity"] = rejected[(ep["id"], r["arm"])]
    return {
        "study": study.study.id, "title": study.study.title, "registry": study.study.registry, "source": source,
        "seed": seed,
        "n_randomized": sum(a["n"] for a in arms), "alpha": study.study.alpha,
        "confidence_level": study.analysis.confidence_level,
        "intercurrent_events": study.intercurrent_events.model_dump(), "arms": arms, "endpoints": endpoints,
        "multiplicity": mult,
    }


def _mmrm(ard: pl.DataFrame, study: Study, ep_id: str, kind: str = "mmrm") -> list[dict[str, Any]] | None:
    """LS means and differences vs the comparator of the ``kind`` model (mmrm or ancova)."""
    TRT = study.adam.treatment  # noqa: N806
    if ard.filter(pl.col("analysis_id") == f"{ep_id}.{kind}").height == 0:
        return None
    out = []
    for a in study.arms:
        g = {TRT: a.label}
        row = {"arm": a.id, "lsmean": _f(lookup(ard, f"{ep_id}.{kind}", "estimate", **g)),
               "se": _f(lookup(ard, f"{ep_id}.{kind}", "se", **g)),
               "diff_vs_placebo": None, "ci_low": None, "ci_high": None, "p_value": None}
        if not a.placebo:
            gc = {TRT: a.label, "COMPARATOR": study.placebo.label}
            row.update({k: _f(lookup(ard, f"{ep_id}.{kind}_diff", s, **gc)) for k, s in
                        (("diff_vs_placebo", "estimate"), ("ci_low", "ci_low"), ("ci_high", "ci_high"),
                         ("p_value", "pvalue"))})
        out.append(row)
    return out


def _sensitivity(ard: pl.DataFrame, study: Study, ep_id: str) -> dict[str, Any] | None:
    TRT = study.adam.treatment  # noqa: N806
    if ard.filter(pl.col("analysis_id") == f"{ep_id}.mi_mar").height == 0:
        return None
    pbo = study.placebo.label
    mi, tip = [], {}
    for a in study.active_arms:
        gc = {TRT: a.label, "COMPARATOR": pbo}
        mi.append({"arm": a.id, **{k: _f(lookup(ard, f"{ep_id}.mi_mar", s, **gc)) for k, s in
                                   (("diff_vs_placebo", "estimate"), ("ci_low", "ci_low"), ("ci_high", "ci_high"),
                                    ("p_value", "pvalue"))}})
        tip[a.id] = _f(lookup(ard, f"{ep_id}.tipping", "tipping_delta", **gc))
    grid = ard.filter(pl.col("analysis_id") == f"{ep_id}.tipping")["group3_level"].drop_nulls().unique()
    return {"mi_mar": mi, "tipping_delta": tip, "tipping_max_delta": max(float(x) for x in grid),
            "note": "MAR multiple imputation (100 imputations) of the underlying score, dichotomized; MH risk "
                    "difference pooled by Rubin's rules. Tipping delta: smallest worse-outcome shift of the values "
                    "imputed after dropout in the active arms at which p >= alpha (null: not reached in the grid)."}


def _multiplicity(ard: pl.DataFrame, study: Study) -> dict[str, Any] | None:
    d = ard.filter(pl.col("analysis_id") == "MULT")
    if d.height == 0:
        return None
    hyps = []
    for h in d["variable"].unique(maintain_order=True).to_list():
        ep_id, arm_id = study.split_hypothesis(h)
        get = lambda name, h=h: _f(lookup(ard, "MULT", name, variable=h))  # noqa: E731
        hyps.append({"id": h, "endpoint": ep_id, "arm": arm_id, "weight": get("weight"), "p_value": get("pvalue"),
                     "adjusted_p_value": get("adjusted_pvalue"), "rejected": get("rejected") == 1.0})
    claims = ard.filter(pl.col("analysis_id") == "MULT.claims")
    return {"method": d["group1_level"][0], "alpha": float(d["group2_level"][0]), "hypotheses": hyps,
            "claims": {r["variable"]: r["stat"] == 1.0 for r in claims.iter_rows(named=True)}}


def topline_json(topline: dict[str, Any]) -> str:
    """Deterministic JSON text."""
    return json.dumps(topline, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def topline_markdown(topline: dict[str, Any]) -> str:
    """The topline as a Markdown table: simulated (or observed) vs published."""
    labels = {a["id"]: a["label"] for a in topline["arms"]}
    lines = [f"# {topline['study']} topline ({topline['source']}, seed {topline['seed']})", "",
             f"{topline['n_randomized']} randomized: "
             + ", ".join(f"{a['label']} {a['n']}" for a in topline["arms"]), "",
             "| Endpoint | Arm | n | Responders | Rate % | Diff vs placebo % (95% CI) | p | Published rate % | "
             "Published diff % | Published p |",
             "|---|---|---:|---:|---:|---|---:|---:|---:|---:|"]
    for ep in topline["endpoints"]:
        if ep["type"] != "binary":
            continue
        for r in ep["results"]:
            diff = fmt_pct_ci(r["diff_vs_placebo"], r["ci_low"], r["ci_high"])
            pub = r.get("published") or {}
            lines.append(
                f"| {ep['label']} (wk {ep['visit_week']}) | {labels[r['arm']]} | {r['n']} | {r['responders']} | "
                f"{fmt_pct(r['rate'])} | {diff} | {fmt_pvalue(r['p_value'])} | "
                f"{fmt_pct(pub.get('rate'))} | {fmt_pct(pub.get('diff_vs_placebo'))} | {pub.get('p_value') or ''} |")
    mult = topline.get("multiplicity")
    if mult:
        lines += ["", f"Multiplicity: graphical procedure ({mult['method']}, alpha {mult['alpha']:g}, two-sided "
                  "p-values of each endpoint's test)", "", "| Hypothesis | Weight | p | Adjusted p | Rejected |",
                  "|---|---:|---:|---:|---|"]
        for h in mult["hypotheses"]:
            lines.append(f"| {h['id']} | {h['weight']:.3f} | {fmt_pvalue(h['p_value'])} | "
                         f"{fmt_pvalue(h['adjusted_p_value'])} | {'yes' if h['rejected'] else 'no'} |")
        lines += ["", "Claims: " + ", ".join(f"{k} {'met' if v else 'not met'}" for k, v in mult["claims"].items())]
    cont = [e for e in topline["endpoints"] if e["type"] != "binary"]
    if cont:
        lines += ["", "| Endpoint | Arm | n | Mean | SD | Median |", "|---|---|---:|---:|---:|---:|"]
        for ep in cont:
            for r in ep["results"]:
                f = lambda x: "" if x is None else f"{x:.1f}"  # noqa: E731
                lines.append(f"| {ep['label']} (wk {ep['visit_week']}, observed) | {labels[r['arm']]} | {r['n']} | "
                             f"{f(r['mean'])} | {f(r['sd'])} | {f(r['median'])} |")
    return "\n".join(lines) + "\n"
