"""Continuous-endpoint MMRM and missing-data sensitivity analyses of the co-primary endpoints, into the ARD.

* ``<EP>.mmrm`` (continuous endpoint, e.g. percent change in EASI): MMRM on the endpoint's derived values (its
  estimand applied, e.g. values after rescue set missing under the hypothetical strategy), fixed effects treatment,
  visit, treatment x visit, baseline, baseline x visit and the covariates (the endpoint's, else
  ``[analysis] sensitivity_covariates``, else its strata);
  unstructured covariance, REML, Kenward-Roger df (:func:`trialkit.stats.mmrm`). LS means by arm and differences
  vs placebo at the endpoint's visit.
* ``<EP>.mi_mar`` (binary co-primary endpoints): multiple imputation under MAR by arm of the underlying score
  (percent change in EASI for EASI responses; the vIGA-AD/rIGA score, rounded to 0-4, for IGA responses), from an
  MMRM of the observed values (missing after discontinuation or rescue), then dichotomized by the endpoint's rule;
  each completed data set is analysed by the Mantel-Haenszel risk difference stratified as the primary analysis,
  and the results pooled by Rubin's rules (Barnard-Rubin df) (:mod:`trialkit.stats.imputation`).
* ``<EP>.tipping``: the same imputations with a shift ``delta`` (worse outcome) added to the values imputed after
  dropout in the active arms, over a grid; ``tipping_delta`` is the smallest shift at which the pooled p-value
  reaches alpha (Ratitch, O'Kelly and Tosiello 2013).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from trialkit import stats
from trialkit.adam.verbs import derive_var_pchg
from trialkit.ard import ARD
from trialkit.endpoints import criterion
from trialkit.errors import TrialkitError
from trialkit.stats.imputation import impute, rubin
from trialkit.study import Endpoint, Study

#: worse-outcome shifts for the tipping-point grid: percent-change points (rules on percent reduction), else
#: fractions of the score's range
PCHG_GRID = [0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 80.0, 100.0, 150.0]
RANGE_GRID = [0.0, 0.0625, 0.125, 0.1875, 0.25, 0.375, 0.5, 0.75, 1.0]


def _covariates(study: Study, ep: Endpoint | None) -> list[str]:
    """Covariates beyond treatment, visit and baseline: the endpoint's, else ``[analysis] sensitivity_covariates``,
    else the endpoint's (or the study's) strata."""
    if ep is not None and ep.analysis.covariates:
        return [c for c in ep.analysis.covariates if c != "BASE"]
    cov = study.analysis.sensitivity_covariates
    if cov is not None:
        return list(cov)
    return study.strata_for(ep) if ep is not None else list(study.analysis.stratify_by)


def _long(adeff: pl.DataFrame, adsl: pl.DataFrame, study: Study, ep: Endpoint, score: str,
          value: str) -> pl.DataFrame:
    """One row per subject of the endpoint's population and post-baseline visit: ``value`` of the score where
    observed and not after rescue, else null."""
    trt = study.adam.treatment
    cov = _covariates(study, ep)
    rdate = study.adam.rescue_variable if study.adam.rescue_variable in adsl.columns else None
    visits = pl.DataFrame({"AVISIT": [v.name for v in study.visits[1:]],
                           "AVISITN": [float(v.week) for v in study.visits[1:]]})
    cols = ["USUBJID", trt, *cov, *study.strata_for(ep), *([rdate] if rdate else [])]
    pop = adsl.filter(pl.col(study.population(ep)) == "Y").select(list(dict.fromkeys(cols)))
    rec = adeff.filter(pl.col("PARAMCD") == score)
    if value == "PCHG" and ("PCHG" not in rec.columns or rec["PCHG"].null_count() == rec.height):
        rec = derive_var_pchg(rec, dataset="ADEFF")  # ADaM records may come without PCHG
    obs = rec.filter((pl.col("ANL01FL") == "Y") & (pl.col("AVISITN") > 0))
    if "DTYPE" in obs.columns:
        obs = obs.filter(pl.col("DTYPE").is_null() | (pl.col("DTYPE") == ""))
    base = rec.filter(pl.col("BASE").is_not_null()).group_by("USUBJID").agg(pl.col("BASE").first())
    grid = pop.join(visits, how="cross").join(base, on="USUBJID", how="inner")
    adt = [pl.col("ADT")] if "ADT" in obs.columns else [pl.lit(None, pl.Date).alias("ADT")]
    g = grid.join(obs.select("USUBJID", "AVISITN", *adt, pl.col(value).alias("Y")).unique(
        ["USUBJID", "AVISITN"], keep="last", maintain_order=True), on=["USUBJID", "AVISITN"], how="left")
    if rdate:
        after = pl.col(rdate).is_not_null() & pl.col("ADT").is_not_null() & (pl.col(rdate) <= pl.col("ADT"))
        g = g.with_columns(pl.when(after).then(None).otherwise(pl.col("Y")).alias("Y"))
    return g.sort("USUBJID", "AVISITN")


def fit_mmrm(d: pl.DataFrame, study: Study, ep: Endpoint | None = None, df: str = "kenward-roger") -> Any:
    """The MMRM on long data with columns USUBJID, the treatment, AVISIT, BASE, the covariates and Y."""
    trt = study.adam.treatment
    levels = {trt: [study.placebo.label] + [a.label for a in study.active_arms],
              "AVISIT": [v.name for v in study.visits[1:]]}
    fixed = [trt, "AVISIT", f"{trt}:AVISIT", "BASE", "BASE:AVISIT", *_covariates(study, ep)]
    return stats.mmrm(d, response="Y", fixed=fixed, visit="AVISIT", subject="USUBJID", covariance="us",
                      method="reml", df=df, levels=levels)


def analyse_mmrm(adeff: pl.DataFrame, adsl: pl.DataFrame, study: Study, ep: Endpoint, ard: ARD) -> None:
    """MMRM of a continuous endpoint's variable over the visits (its derived records, the estimand applied) with
    LS means at its visit."""
    trt = study.adam.treatment
    var = ep.rule.variable
    cov = _covariates(study, ep)
    rec = adeff.filter((pl.col("PARAMCD") == ep.id) & (pl.col("ANL01FL") == "Y") & pl.col("BASE").is_not_null())
    d = rec.select("USUBJID", trt, "AVISIT", "AVISITN", "BASE", *[c for c in cov if c in rec.columns],
                   pl.col(var).alias("Y"))
    extra = [c for c in cov if c not in d.columns]
    if extra:
        d = d.join(adsl.select("USUBJID", *extra), on="USUBJID", how="left")
    d = d.filter(pl.col("Y").is_not_null()).sort("USUBJID", "AVISITN")
    res = fit_mmrm(d, study, ep)
    visit = next(v.name for v in study.visits if v.week == ep.visit_week)
    ls = res.lsmeans(trt, by="AVISIT")
    fm = {"estimate": "{:.1f}", "se": "{:.2f}", "df": "{:.1f}", "ci_low": "{:.1f}", "ci_high": "{:.1f}",
          "pvalue": "pvalue"}
    for r in ls.table.filter(pl.col("AVISIT") == visit).iter_rows(named=True):
        ard.add_many(f"{ep.id}.mmrm", var, {k: r[k] for k in ("estimate", "se", "df", "ci_low", "ci_high")},
                     groups={trt: r[trt], "AVISIT": visit}, fmts=fm)
    diffs = ls.vs_reference(study.placebo.label).filter(pl.col("AVISIT") == visit)
    for arm in study.active_arms:
        r = diffs.filter(pl.col("contrast").str.starts_with(arm.label)).row(0, named=True)
        ard.add_many(f"{ep.id}.mmrm_diff", var, {k: r[k] for k in ("estimate", "se", "df", "ci_low", "ci_high",
                                                                     "pvalue")},
                     groups={trt: arm.label, "COMPARATOR": study.placebo.label, "AVISIT": visit}, fmts=fm)


def _score_for(study: Study, ep: Endpoint) -> tuple[str, str]:
    """(score PARAMCD, analysis variable) imputed for a responder endpoint: percent change for a percent-reduction
    rule, else the score itself."""
    return study.paramcd(ep.score), ("PCHG" if ep.rule.kind == "pct_reduction" else "AVAL")


def _responses(study: Study, ep: Endpoint, value: str, y: np.ndarray, base: np.ndarray) -> np.ndarray:
    """Dichotomize completed values (imputations x rows) by the endpoint's rule, on the score's own scale: kept
    within its range, rounded for integer scores."""
    sc = study.score(ep.score)
    lo, hi = sc.range
    if value == "PCHG":
        aval = base * (1.0 + np.maximum(y, -100.0) / 100.0)
    else:
        aval = np.rint(y) if sc.integer else y
    aval = np.clip(aval, -np.inf if lo is None else lo, np.inf if hi is None else hi)
    return criterion(ep, aval, np.broadcast_to(base, aval.shape))


def _tipping_grid(study: Study, ep: Endpoint, value: str) -> list[float]:
    """Shifts toward a worse outcome (positive for lower-is-better scores)."""
    sc = study.score(ep.score)
    if value == "PCHG":
        grid = PCHG_GRID
    else:
        lo, hi = sc.range
        span = (hi - lo) if lo is not None and hi is not None else 1.0
        grid = [g * span for g in RANGE_GRID]
    sign = 1.0 if sc.better == "lower" else -1.0
    return [sign * g for g in grid]


def _pooled_rd(resp: np.ndarray, arm: np.ndarray, cell: np.ndarray, n_cells: int, a: str, p: str,
               alpha: float) -> stats._results.EstimateResult:
    """Pooled (Rubin) MH risk difference of arm ``a`` vs ``p`` over imputations; resp is (M, subjects)."""
    keep = (arm == a) | (arm == p)
    r = resp[:, keep]
    row = np.where(arm[keep] == a, 0, 1)
    c = cell[keep]
    m = r.shape[0]
    idx = (c * 2 + row) * 2 + np.where(r, 0, 1)  # (M, n) flat index into (K, 2, 2)
    counts = np.stack([np.bincount(idx[i], minlength=n_cells * 4) for i in range(m)]).reshape(m, n_cells, 2, 2)
    rd = stats.stratified_risk_difference(counts, method="mh", alpha=alpha)
    return rubin(np.asarray(rd.estimate), np.asarray(rd.se) ** 2, level=1.0 - alpha)


def analyse_mi(adeff: pl.DataFrame, adsl: pl.DataFrame, study: Study, ep: Endpoint, ard: ARD, *,
               n_imputations: int = 100, seed: int = 20250308) -> None:
    """MAR multiple imputation and tipping-point analysis of a binary endpoint (see the module docstring)."""
    trt = study.adam.treatment
    score, value = _score_for(study, ep)
    d = _long(adeff, adsl, study, ep, score, value)
    if d.height == 0:
        raise TrialkitError(f"no {score} records for the imputation of {ep.id}", source="ADEFF", variable="PARAMCD")
    levels = {trt: [study.placebo.label] + [a.label for a in study.active_arms],
              "AVISIT": [v.name for v in study.visits[1:]]}
    fixed = [trt, "AVISIT", f"{trt}:AVISIT", "BASE", "BASE:AVISIT", *_covariates(study, ep)]
    imp = impute(d, response="Y", fixed=fixed, visit="AVISIT", subject="USUBJID", arm=trt,
                 reference=study.placebo.label, strategy="MAR", n_imputations=n_imputations, levels=levels,
                 seed=seed, source="ADEFF")
    fr = imp.frame
    visit = next(v.name for v in study.visits if v.week == ep.visit_week)
    sel = (fr["AVISIT"].cast(pl.Utf8) == visit).to_numpy()
    sub = fr.filter(pl.Series(sel))
    base = sub["BASE"].to_numpy().astype(float)
    arm = sub[trt].cast(pl.Utf8).to_numpy()
    strata = study.strata_for(ep)
    cell = (sub.select(pl.concat_str([pl.col(s).cast(pl.Utf8) for s in strata], separator="|")).to_series()
            .rank("dense").cast(pl.Int64).to_numpy() - 1) if strata else np.zeros(sub.height, dtype=np.int64)
    n_cells = int(cell.max()) + 1
    alpha = 1.0 - study.analysis.confidence_level
    pbo = study.placebo.label
    fm = {"estimate": "pct1", "se": "pct1", "ci_low": "pct1", "ci_high": "pct1", "pvalue": "pvalue", "df": "{:.1f}"}
    resp0 = _responses(study, ep, value, imp.values[:, sel], base)
    for a in study.active_arms:
        res = _pooled_rd(resp0, arm, cell, n_cells, a.label, pbo, alpha)
        ard.add_many(f"{ep.id}.mi_mar", ep.id, {"estimate": res.estimate, "se": res.se, "ci_low": res.ci_low,
                                                 "ci_high": res.ci_high, "pvalue": res.pvalue,
                                                 "df": float(res.extra["df"])},
                     groups={trt: a.label, "COMPARATOR": pbo}, fmts=fm)
        for arm_label in (a.label, pbo):
            ard.add(f"{ep.id}.mi_mar", ep.id, "p", float(resp0[:, arm == arm_label].mean()),
                    groups={trt: arm_label}, fmt="pct1")
    # tipping point: worse outcome after dropout in the active arms (higher score, or less percent reduction)
    tip: dict[str, float | None] = {a.label: None for a in study.active_arms}
    for delta in _tipping_grid(study, ep, value):
        shifted = imp.shifted({a.label: delta for a in study.active_arms})[:, sel]
        resp = _responses(study, ep, value, shifted, base)
        for a in study.active_arms:
            res = _pooled_rd(resp, arm, cell, n_cells, a.label, pbo, alpha)
            ard.add_many(f"{ep.id}.tipping", ep.id, {"estimate": res.estimate, "ci_low": res.ci_low,
                                                      "ci_high": res.ci_high, "pvalue": res.pvalue},
                         groups={trt: a.label, "COMPARATOR": pbo, "DELTA": f"{delta:g}"}, fmts=fm)
            if tip[a.label] is None and res.pvalue >= alpha:
                tip[a.label] = delta
    for a in study.active_arms:
        ard.add(f"{ep.id}.tipping", ep.id, "tipping_delta", tip[a.label],
                groups={trt: a.label, "COMPARATOR": pbo}, fmt="{:g}")
