"""Efficacy analysis of a study's endpoints into the ARD, each by the method its study file names.

Input: the subject-level dataset and the efficacy BDS dataset whose endpoint parameters (``PARAMCD`` = endpoint id)
were derived by :func:`trialkit.adam.endpoints.derive_endpoint` (the rule and the estimand applied), with the
treatment in the study's ``[adam] treatment`` variable. Methods (``[[endpoints]].analysis.method``):

- ``cmh`` (responder endpoints): N, responders, rate (Wilson CI) by arm; each arm against the comparator: the
  stratified risk difference (``difference``: Mantel-Haenszel with Sato's variance, Miettinen-Nurminen or Newcombe)
  and the CMH test stratified by the endpoint's strata (:mod:`trialkit.stats`); responder rates by visit;
- ``logistic`` (responder endpoints): the same, and the odds ratio of a logistic regression on treatment and the
  strata (Wald CI and p-value, the p-value the multiplicity graph uses);
- ``ancova`` (continuous): ``variable ~ treatment + covariates`` at the visit, LS means, differences against the
  comparator, optionally the linear dose-response test on the arms' ``dose_mg``;
- ``mmrm`` (continuous): :func:`trialkit.sensitivity.analyse_mmrm`; ``summary``: descriptive statistics only;
- ``cmh_rms`` (ordinal): n (%) per category and the CMH row-mean-scores test (scores = the categories).

ARD ``analysis_id`` values: ``<EP>.rate``, ``<EP>.rd``, ``<EP>.cmh``, ``<EP>.logistic``, ``<EP>.by_visit``,
``<EP>.summary``, ``<EP>.ancova``, ``<EP>.ancova_diff``, ``<EP>.dose_response``, ``<EP>.mmrm``, ``<EP>.mmrm_diff``,
``<EP>.cmh_rms``, ``<EP>.categories``.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from trialkit import stats
from trialkit.ard import ARD, lookup
from trialkit.errors import TrialkitError
from trialkit.sensitivity import analyse_mi, analyse_mmrm
from trialkit.study import Endpoint, Study

_NUM = {"N": "{:.0f}", "n": "{:.0f}", "p": "pct1", "ci_low": "pct1", "ci_high": "pct1"}


def _rate_stats(resp: np.ndarray, alpha: float) -> dict[str, float]:
    n_tot, n_resp = int(resp.size), int(resp.sum())
    ci = stats.proportion_ci(n_resp, max(n_tot, 1), method="wilson", alpha=alpha)
    return {"N": n_tot, "n": n_resp, "p": n_resp / n_tot if n_tot else np.nan,
            "ci_low": ci.ci_low if n_tot else np.nan, "ci_high": ci.ci_high if n_tot else np.nan}


def endpoint_records(adeff: pl.DataFrame, ep: Endpoint, week: int | None = None) -> pl.DataFrame:
    """The endpoint's analysed records (``ANL01FL = "Y"``), at ``week`` if given."""
    keep = pl.col("ANL01FL") == "Y" if "ANL01FL" in adeff.columns else pl.col("AVAL").is_not_null()
    d = adeff.filter((pl.col("PARAMCD") == ep.id) & keep)
    if week is not None:
        d = d.filter(pl.col("AVISITN") == float(week))
    return d


def _at_visit(adeff: pl.DataFrame, ep: Endpoint) -> pl.DataFrame:
    d = endpoint_records(adeff, ep, ep.visit_week)
    if d.height == 0:
        raise TrialkitError(f"no analysed records for endpoint {ep.id} at week {ep.visit_week}", source="ADEFF",
                            variable="PARAMCD", fix="check the endpoint's score records and population")
    return d


def analyse_binary(adeff: pl.DataFrame, study: Study, ep: Endpoint, ard: ARD) -> None:
    """Rates, stratified risk differences and stratified CMH tests for one responder endpoint at its visit."""
    trt = study.adam.treatment
    alpha = 1.0 - study.analysis.confidence_level
    strata = study.strata_for(ep)
    d = _at_visit(adeff, ep)
    for arm in study.arms:
        resp = d.filter(pl.col(trt) == arm.label)["AVAL"].to_numpy()
        ard.add_many(f"{ep.id}.rate", ep.id, _rate_stats(resp == 1, alpha), groups={trt: arm.label},
                     variable_level="Y", fmts=_NUM)
    pbo = study.placebo.label
    method = study.difference(ep)
    for arm in study.active_arms:
        sub = d.filter(pl.col(trt).is_in([arm.label, pbo]))
        counts = stats.counts_from_frame(sub, treatment=trt, response="AVAL", strata=strata or None,
                                         treatment_levels=(arm.label, pbo), response_levels=(1.0, 0.0),
                                         source="ADEFF")
        rd = stats.stratified_risk_difference(counts, method=method, alpha=alpha)
        test = stats.mh_test(counts, correction=False)
        groups = {trt: arm.label, "COMPARATOR": pbo}
        if study.method(ep) == "logistic":
            lr = stats.logistic_treatment_effect(counts, alpha=alpha)
            ard.add_many(f"{ep.id}.logistic", ep.id, {"estimate": lr.estimate, "se": lr.se, "ci_low": lr.ci_low,
                                                      "ci_high": lr.ci_high, "pvalue": lr.pvalue},
                         groups=groups, fmts={"estimate": "{:.2f}", "se": "{:.3f}", "ci_low": "{:.2f}",
                                              "ci_high": "{:.2f}", "pvalue": "pvalue"})
        ard.add_many(f"{ep.id}.rd", ep.id, {"estimate": rd.estimate, "se": rd.se, "ci_low": rd.ci_low,
                                            "ci_high": rd.ci_high},
                     groups=groups, fmts={k: "pct1" for k in ("estimate", "se", "ci_low", "ci_high")})
        ard.add_many(f"{ep.id}.cmh", ep.id, {"statistic": test.statistic, "df": test.df, "pvalue": test.pvalue},
                     groups=groups, fmts={"statistic": "{:.3f}", "df": "{:.0f}", "pvalue": "pvalue"})


def analyse_by_visit(adeff: pl.DataFrame, study: Study, ep: Endpoint, ard: ARD) -> None:
    """Responder rate with Wilson CI at every post-baseline visit, by arm (for the figure)."""
    trt = study.adam.treatment
    alpha = 1.0 - study.analysis.confidence_level
    d = endpoint_records(adeff, ep)
    for v in study.visits[1:]:
        dv = d.filter(pl.col("AVISITN") == float(v.week))
        for arm in study.arms:
            resp = dv.filter(pl.col(trt) == arm.label)["AVAL"].to_numpy()
            ard.add_many(f"{ep.id}.by_visit", ep.id, _rate_stats(resp == 1, alpha),
                         groups={trt: arm.label, "AVISITN": str(v.week)}, variable_level="Y")


def analyse_continuous(adeff: pl.DataFrame, study: Study, ep: Endpoint, ard: ARD) -> None:
    """Summary of the endpoint's variable (AVAL, CHG or PCHG) at its visit, by arm."""
    trt = study.adam.treatment
    var = ep.rule.variable
    d = endpoint_records(adeff, ep, ep.visit_week)
    for arm in study.arms:
        x = np.sort(d.filter(pl.col(trt) == arm.label)[var].drop_nulls().to_numpy())
        n = x.size
        vals = {"n": n, "mean": float(np.mean(x)) if n else np.nan,
                "sd": float(np.std(x, ddof=1)) if n > 1 else np.nan,
                "median": float(np.median(x)) if n else np.nan,
                "min": float(x[0]) if n else np.nan, "max": float(x[-1]) if n else np.nan}
        ard.add_many(f"{ep.id}.summary", var, vals, groups={trt: arm.label},
                     fmts={"n": "{:.0f}", "mean": "{:.1f}", "sd": "{:.2f}", "median": "{:.1f}", "min": "{:.1f}",
                           "max": "{:.1f}"})


def analyse_ancova(adeff: pl.DataFrame, study: Study, ep: Endpoint, ard: ARD) -> None:
    """ANCOVA of the endpoint's variable at its visit: LS means, differences vs the comparator, dose response."""
    trt = study.adam.treatment
    var = ep.rule.variable
    cov = list(ep.analysis.covariates)
    d = _at_visit(adeff, ep).with_columns([pl.col(c).cast(pl.Utf8) for c in cov if c in study.strata_for(ep)
                                           or (c in adeff.columns and adeff.schema[c] == pl.Utf8)])
    labels = [a.label for a in study.arms]
    level = study.analysis.confidence_level
    fit = stats.ancova(d, response=var, fixed=[trt, *cov], levels={trt: labels}, source="ADEFF")
    ls = fit.lsmeans(trt)
    fm = {"estimate": "{:.1f}", "se": "{:.2f}", "df": "{:.0f}", "ci_low": "{:.1f}", "ci_high": "{:.1f}",
          "statistic": "{:.3f}", "pvalue": "pvalue"}
    for r in ls.table.iter_rows(named=True):
        ard.add_many(f"{ep.id}.ancova", var, {k: r[k] for k in ("estimate", "se", "df", "ci_low", "ci_high")},
                     groups={trt: r[trt]}, fmts=fm)
    pbo = study.placebo.label
    for r in ls.vs_reference(pbo).iter_rows(named=True):
        arm = r["contrast"].split(" - ")[0]
        ard.add_many(f"{ep.id}.ancova_diff", var, {"estimate": r["estimate"], "se": r["se"], "df": r["df"],
                                                   "ci_low": r["ci_low"], "ci_high": r["ci_high"],
                                                   "statistic": r["t"], "pvalue": r["pvalue"]},
                     groups={trt: arm, "COMPARATOR": pbo}, fmts=fm)
    if ep.analysis.dose_response:
        dose = {a.label: a.dose_mg for a in study.arms}
        dd = d.with_columns(pl.col(trt).replace_strict(dose, return_dtype=pl.Float64).alias("_DOSE"))
        dr = stats.dose_response(dd, response=var, dose="_DOSE", fixed=cov, level=level, source="ADEFF")
        ard.add_many(f"{ep.id}.dose_response", var, {"estimate": dr.estimate, "se": dr.se, "df": dr.extra["df"],
                                                     "statistic": dr.extra["t"], "pvalue": dr.pvalue},
                     fmts=fm | {"estimate": "{:.4f}", "se": "{:.4f}"})


def analyse_ordinal(adeff: pl.DataFrame, study: Study, ep: Endpoint, ard: ARD) -> None:
    """n (%) per category by arm and the CMH row-mean-scores test over all arms, stratified."""
    trt = study.adam.treatment
    d = _at_visit(adeff, ep)
    cats = sorted({float(x) for x in d["AVAL"].drop_nulls().to_list()})
    for arm in study.arms:
        x = d.filter(pl.col(trt) == arm.label)["AVAL"].to_numpy()
        ard.add(f"{ep.id}.categories", "AVAL", "N", int(x.size), groups={trt: arm.label}, fmt="{:.0f}")
        for c in cats:
            k = int((x == c).sum())
            ard.add_many(f"{ep.id}.categories", "AVAL", {"n": k, "p": k / x.size if x.size else np.nan},
                         groups={trt: arm.label}, variable_level=f"{c:g}", fmts={"n": "{:.0f}", "p": "pct0"})
    strata = study.strata_for(ep)
    counts = stats.counts_from_frame(d, treatment=trt, response="AVAL", strata=strata or None,
                                     treatment_levels=[a.label for a in study.arms], response_levels=cats,
                                     source="ADEFF")
    r = stats.cmh(counts, col_scores=cats).row_mean_scores
    ard.add_many(f"{ep.id}.cmh_rms", "AVAL", {"statistic": r.statistic, "df": r.df, "pvalue": r.pvalue},
                 fmts={"statistic": "{:.3f}", "df": "{:.0f}", "pvalue": "pvalue"})


def endpoint_pvalue(frame: pl.DataFrame, study: Study, ep: Endpoint, arm_label: str) -> float | None:
    """The p-value an endpoint's hypothesis for ``arm_label`` is tested with: the CMH test (responders), the
    ANCOVA or MMRM difference (continuous)."""
    trt = study.adam.treatment
    g = {trt: arm_label, "COMPARATOR": study.placebo.label}
    method = study.method(ep)
    aid = {"cmh": "cmh", "logistic": "logistic", "ancova": "ancova_diff", "mmrm": "mmrm_diff"}.get(method)
    return lookup(frame, f"{ep.id}.{aid}", "pvalue", **g) if aid else None


def analyse_multiplicity(study: Study, ard: ARD) -> None:
    """The study's graphical multiplicity strategy on the raw p-values (analysis ids ``MULT``, ``MULT.claims``).

    Per hypothesis ``ENDPOINT_ARM``: raw ``pvalue``, initial ``weight``, ``adjusted_pvalue`` and ``rejected``
    (1/0); per claim: ``met`` (1/0).
    """
    strategy = study.strategy()
    if strategy is None:
        return
    frame = ard.to_frame()
    pvals = []
    for h in strategy.graph.names:
        ep_id, arm_id = study.split_hypothesis(h)
        p = endpoint_pvalue(frame, study, study.endpoint(ep_id), study.arm(arm_id).label)
        pvals.append(np.nan if p is None else p)
    res = strategy.test(np.asarray(pvals, dtype=float))
    weights = np.asarray(strategy.graph.weights, dtype=float)
    for i, h in enumerate(strategy.graph.names):
        ard.add_many("MULT", h, {"pvalue": pvals[i], "weight": weights[i],
                                 "adjusted_pvalue": float(res.adjusted_pvalues[i]),
                                 "rejected": float(bool(res.rejected[i]))},
                     groups={"METHOD": strategy.method, "ALPHA": f"{strategy.alpha:g}"},
                     fmts={"pvalue": "pvalue", "adjusted_pvalue": "pvalue", "weight": "{:.3f}", "rejected": "{:.0f}"})
    for name, hyps in strategy.claims.items():
        met = bool(hyps) and all(bool(res.rejected[strategy.graph.names.index(h)]) for h in hyps)
        ard.add("MULT.claims", name, "met", float(met), groups={"METHOD": strategy.method}, fmt="{:.0f}")


def analyse_study(adsl: pl.DataFrame, adeff: pl.DataFrame, study: Study, *, sensitivity: bool = True) -> ARD:
    """All efficacy analyses of the study file, as an ARD (``sensitivity``: also the multiple-imputation and
    tipping-point analyses of the primary responder endpoints)."""
    trt = study.adam.treatment
    ard = ARD()
    pop = adsl.filter(pl.col(study.population()) == "Y")
    for arm in study.arms:
        ard.add("ADSL", "USUBJID", "N", int((pop[trt] == arm.label).sum()), groups={trt: arm.label}, fmt="{:.0f}")
    for ep in study.endpoints:
        method = study.method(ep)
        if ep.binary:
            analyse_binary(adeff, study, ep, ard)
            analyse_by_visit(adeff, study, ep, ard)
        elif ep.ordinal:
            analyse_ordinal(adeff, study, ep, ard)
        else:
            analyse_continuous(adeff, study, ep, ard)
            if method == "ancova":
                analyse_ancova(adeff, study, ep, ard)
            elif method == "mmrm" and (sensitivity or ep.role in ("co-primary", "primary")):
                analyse_mmrm(adeff, adsl, study, ep, ard)
    if sensitivity:
        for ep in study.endpoints:
            if ep.binary and ep.role in ("co-primary", "primary") and ep.source == "derive":
                analyse_mi(adeff, adsl, study, ep, ard)
    analyse_multiplicity(study, ard)
    return ard
