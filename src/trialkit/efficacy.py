"""Efficacy analysis of a study's endpoints from ADSL/ADEFF into the ARD.

For each binary endpoint at its visit and each active arm vs placebo: N, responders, rate (Wilson 95% CI),
Mantel-Haenszel risk difference with Sato's variance and the CMH test stratified by the randomization strata
(:mod:`trialkit.stats`). Responder rates by visit feed the figure. The continuous endpoint (percent change in EASI)
gets descriptive statistics on observed data.

ARD ``analysis_id`` values: ``<EP>.rate``, ``<EP>.mh_rd``, ``<EP>.cmh``, ``<EP>.by_visit``, ``<EP>.summary``.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from trialkit import stats
from trialkit.ard import ARD, lookup
from trialkit.errors import TrialkitError
from trialkit.sensitivity import analyse_mi, analyse_mmrm
from trialkit.study import Endpoint, Study

TRT = "TRT01P"


def _rate_stats(resp: np.ndarray, alpha: float) -> dict[str, float]:
    n_tot, n_resp = int(resp.size), int(resp.sum())
    ci = stats.proportion_ci(n_resp, max(n_tot, 1), method="wilson", alpha=alpha)
    return {"N": n_tot, "n": n_resp, "p": n_resp / n_tot if n_tot else np.nan,
            "ci_low": ci.ci_low if n_tot else np.nan, "ci_high": ci.ci_high if n_tot else np.nan}


def analyse_binary(adeff: pl.DataFrame, study: Study, ep: Endpoint, ard: ARD) -> None:
    """Rates, MH risk differences and stratified CMH tests for one binary endpoint at its visit."""
    alpha = 1.0 - study.analysis.confidence_level
    strata = list(study.analysis.stratify_by)
    d = adeff.filter((pl.col("PARAMCD") == ep.id) & (pl.col("AVISITN") == float(ep.visit_week)))
    if d.height == 0:
        raise TrialkitError(f"no records for endpoint {ep.id} at week {ep.visit_week}", source="ADEFF",
                            variable="PARAMCD", fix="check the endpoint parameters of the analysis dataset")
    fmts = {"N": "{:.0f}", "n": "{:.0f}", "p": "pct1", "ci_low": "pct1", "ci_high": "pct1"}
    for arm in study.arms:
        resp = d.filter(pl.col(TRT) == arm.label)["AVAL"].to_numpy()
        ard.add_many(f"{ep.id}.rate", ep.id, _rate_stats(resp == 1, alpha), groups={TRT: arm.label},
                     variable_level="Y", fmts=fmts)
    pbo = study.placebo.label
    for arm in study.active_arms:
        sub = d.filter(pl.col(TRT).is_in([arm.label, pbo]))
        counts = stats.counts_from_frame(sub, treatment=TRT, response="AVAL", strata=strata or None,
                                         treatment_levels=(arm.label, pbo), response_levels=(1.0, 0.0),
                                         source="ADEFF")
        rd = stats.stratified_risk_difference(counts, method="mh", alpha=alpha)
        test = stats.mh_test(counts, correction=False)
        groups = {TRT: arm.label, "COMPARATOR": pbo}
        ard.add_many(f"{ep.id}.mh_rd", ep.id, {"estimate": rd.estimate, "se": rd.se, "ci_low": rd.ci_low,
                                               "ci_high": rd.ci_high},
                     groups=groups, fmts={k: "pct1" for k in ("estimate", "se", "ci_low", "ci_high")})
        ard.add_many(f"{ep.id}.cmh", ep.id, {"statistic": test.statistic, "df": test.df, "pvalue": test.pvalue},
                     groups=groups, fmts={"statistic": "{:.3f}", "df": "{:.0f}", "pvalue": "pvalue"})


def analyse_by_visit(adeff: pl.DataFrame, study: Study, ep: Endpoint, ard: ARD) -> None:
    """Responder rate with Wilson CI at every post-baseline visit, by arm (for the figure)."""
    alpha = 1.0 - study.analysis.confidence_level
    d = adeff.filter(pl.col("PARAMCD") == ep.id)
    for v in study.visits[1:]:
        dv = d.filter(pl.col("AVISITN") == float(v.week))
        for arm in study.arms:
            resp = dv.filter(pl.col(TRT) == arm.label)["AVAL"].to_numpy()
            ard.add_many(f"{ep.id}.by_visit", ep.id, _rate_stats(resp == 1, alpha),
                         groups={TRT: arm.label, "AVISITN": str(v.week)}, variable_level="Y")


def analyse_continuous(adeff: pl.DataFrame, study: Study, ep: Endpoint, ard: ARD) -> None:
    """Observed-case summary of percent change from baseline at the endpoint's visit, by arm."""
    d = adeff.filter((pl.col("PARAMCD") == ep.score) & (pl.col("AVISITN") == float(ep.visit_week))
                     & (pl.col("ANL01FL") == "Y"))
    for arm in study.arms:
        x = np.sort(d.filter(pl.col(TRT) == arm.label)["PCHG"].drop_nulls().to_numpy())
        n = x.size
        vals = {"n": n, "mean": float(np.mean(x)) if n else np.nan,
                "sd": float(np.std(x, ddof=1)) if n > 1 else np.nan,
                "median": float(np.median(x)) if n else np.nan,
                "min": float(x[0]) if n else np.nan, "max": float(x[-1]) if n else np.nan}
        ard.add_many(f"{ep.id}.summary", "PCHG", vals, groups={TRT: arm.label},
                     fmts={"n": "{:.0f}", "mean": "{:.1f}", "sd": "{:.2f}", "median": "{:.1f}", "min": "{:.1f}",
                           "max": "{:.1f}"})


def analyse_multiplicity(study: Study, ard: ARD) -> None:
    """The study's graphical multiplicity strategy on the raw CMH p-values (analysis ids ``MULT``, ``MULT.claims``).

    Per hypothesis ``ENDPOINT_ARM``: raw ``pvalue``, initial ``weight``, ``adjusted_pvalue`` and ``rejected``
    (1/0); per claim: ``met`` (1/0).
    """
    strategy = study.strategy()
    if strategy is None:
        return
    frame = ard.to_frame()
    pbo = study.placebo.label
    pvals = []
    for h in strategy.graph.names:
        ep_id, arm_id = h.rsplit("_", 1)
        p = lookup(frame, f"{ep_id}.cmh", "pvalue", TRT01P=study.arm(arm_id).label, COMPARATOR=pbo)
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
        met = all(bool(res.rejected[strategy.graph.names.index(h)]) for h in hyps)
        ard.add("MULT.claims", name, "met", float(met), groups={"METHOD": strategy.method}, fmt="{:.0f}")


def analyse_study(adsl: pl.DataFrame, adeff: pl.DataFrame, study: Study, *, sensitivity: bool = True) -> ARD:
    """All efficacy analyses of the study file, as an ARD (``sensitivity``: also the MMRM of the continuous
    endpoint and the multiple-imputation and tipping-point analyses of the co-primary endpoints)."""

    ard = ARD()
    itt = adsl.filter(pl.col("ITTFL") == "Y")
    for arm in study.arms:
        ard.add("ADSL", "USUBJID", "N", int((itt[TRT] == arm.label).sum()), groups={TRT: arm.label}, fmt="{:.0f}")
    for ep in study.endpoints:
        if ep.binary:
            analyse_binary(adeff, study, ep, ard)
            analyse_by_visit(adeff, study, ep, ard)
        else:
            analyse_continuous(adeff, study, ep, ard)
            if sensitivity:
                analyse_mmrm(adeff, adsl, study, ep, ard)
    if sensitivity:
        for ep in study.endpoints:
            if ep.binary and ep.role in ("co-primary", "primary"):
                analyse_mi(adeff, adsl, study, ep, ard)
    analyse_multiplicity(study, ard)
    return ard
