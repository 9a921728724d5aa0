"""Continuous-endpoint MMRM and missing-data sensitivity analyses of the co-primary endpoints, into the ARD.

* ``<EP>.mmrm`` (continuous endpoint, e.g. percent change in EASI): MMRM on the observed values while not rescued
  (hypothetical strategy for rescue: values after rescue are set missing), fixed effects treatment, visit,
  treatment x visit, baseline, baseline x visit and the randomization strata other than baseline vIGA-AD;
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
from trialkit.ard import ARD
from trialkit.endpoints import criterion
from trialkit.errors import TrialkitError
from trialkit.stats.imputation import impute, rubin
from trialkit.study import Endpoint, Study

TRT = "TRT01P"
#: worse-outcome shifts of the imputed score for the tipping-point grid, by score
TIPPING_GRID: dict[str, list[float]] = {
    "EASI": [0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 80.0, 100.0, 150.0],  # percent-change points
    "VIGA": [0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0],  # score points
    "RIGA": [0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0],
    "PPNRS": [0.0, 1.0, 2.0, 3.0, 4.0, 6.0],
}


def _covariates(study: Study) -> list[str]:
    return [s for s in study.analysis.stratify_by if s != "BLIGA"]


def _long(adeff: pl.DataFrame, adsl: pl.DataFrame, study: Study, score: str, value: str) -> pl.DataFrame:
    """One row per ITT subject and post-baseline visit: ``value`` where observed and not after rescue, else null."""
    strata = list(study.analysis.stratify_by)
    visits = pl.DataFrame({"AVISIT": [v.name for v in study.visits[1:]],
                           "AVISITN": [float(v.week) for v in study.visits[1:]]})
    itt = adsl.filter(pl.col("ITTFL") == "Y").select("USUBJID", TRT, "RESCDT", *strata)
    obs = adeff.filter((pl.col("PARAMCD") == score) & (pl.col("ANL01FL") == "Y") & (pl.col("AVISITN") > 0))
    base = adeff.filter((pl.col("PARAMCD") == score) & (pl.col("ABLFL") == "Y")).select("USUBJID", "BASE")
    grid = itt.join(visits, how="cross").join(base, on="USUBJID", how="inner")
    g = grid.join(obs.select("USUBJID", "AVISITN", "ADT", pl.col(value).alias("Y")), on=["USUBJID", "AVISITN"],
                  how="left")
    after_rescue = pl.col("RESCDT").is_not_null() & pl.col("ADT").is_not_null() & (pl.col("RESCDT") <= pl.col("ADT"))
    return g.with_columns(pl.when(after_rescue).then(None).otherwise(pl.col("Y")).alias("Y")).sort(
        "USUBJID", "AVISITN")


def fit_mmrm(d: pl.DataFrame, study: Study, df: str = "kenward-roger") -> Any:
    """The IGNITE MMRM on long data with columns USUBJID, TRT01P, AVISIT, BASE, the strata and Y."""
    levels = {TRT: [study.placebo.label] + [a.label for a in study.active_arms],
              "AVISIT": [v.name for v in study.visits[1:]]}
    fixed = [TRT, "AVISIT", f"{TRT}:AVISIT", "BASE", "BASE:AVISIT", *_covariates(study)]
    return stats.mmrm(d, response="Y", fixed=fixed, visit="AVISIT", subject="USUBJID", covariance="us",
                      method="reml", df=df, levels=levels)


def analyse_mmrm(adeff: pl.DataFrame, adsl: pl.DataFrame, study: Study, ep: Endpoint, ard: ARD) -> None:
    """MMRM of the continuous endpoint (percent change from baseline) with LS means at its visit."""
    d = _long(adeff, adsl, study, ep.score, "PCHG").filter(pl.col("Y").is_not_null())
    res = fit_mmrm(d, study)
    visit = next(v.name for v in study.visits if v.week == ep.visit_week)
    ls = res.lsmeans(TRT, by="AVISIT")
    fm = {"estimate": "{:.1f}", "se": "{:.2f}", "df": "{:.1f}", "ci_low": "{:.1f}", "ci_high": "{:.1f}",
          "pvalue": "pvalue"}
    for r in ls.table.filter(pl.col("AVISIT") == visit).iter_rows(named=True):
        ard.add_many(f"{ep.id}.mmrm", "PCHG", {k: r[k] for k in ("estimate", "se", "df", "ci_low", "ci_high")},
                     groups={TRT: r[TRT], "AVISIT": visit}, fmts=fm)
    diffs = ls.vs_reference(study.placebo.label).filter(pl.col("AVISIT") == visit)
    for arm in study.active_arms:
        r = diffs.filter(pl.col("contrast").str.starts_with(arm.label)).row(0, named=True)
        ard.add_many(f"{ep.id}.mmrm_diff", "PCHG", {k: r[k] for k in ("estimate", "se", "df", "ci_low", "ci_high",
                                                                        "pvalue")},
                     groups={TRT: arm.label, "COMPARATOR": study.placebo.label, "AVISIT": visit}, fmts=fm)


def _score_for(ep: Endpoint) -> tuple[str, str]:
    """(score PARAMCD, analysis variable) imputed for a binary endpoint."""
    return (ep.score, "PCHG") if ep.rule.kind == "pct_reduction" else (ep.score, "AVAL")


def _responses(ep: Endpoint, value: str, y: np.ndarray, base: np.ndarray) -> np.ndarray:
    """Dichotomize completed values (imputations x rows) by the endpoint's rule."""
    if value == "PCHG":
        aval = base * (1.0 + np.maximum(y, -100.0) / 100.0)
    else:
        aval = np.clip(np.rint(y), 0, 4) if ep.score in ("VIGA", "RIGA") else np.clip(y, 0, 10)
    return criterion(ep, aval, np.broadcast_to(base, aval.shape))


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
    score, value = _score_for(ep)
    d = _long(adeff, adsl, study, score, value)
    if d.height == 0:
        raise TrialkitError(f"no {score} records for the imputation of {ep.id}", source="ADEFF", variable="PARAMCD")
    levels = {TRT: [study.placebo.label] + [a.label for a in study.active_arms],
              "AVISIT": [v.name for v in study.visits[1:]]}
    fixed = [TRT, "AVISIT", f"{TRT}:AVISIT", "BASE", "BASE:AVISIT", *_covariates(study)]
    imp = impute(d, response="Y", fixed=fixed, visit="AVISIT", subject="USUBJID", arm=TRT,
                 reference=study.placebo.label, strategy="MAR", n_imputations=n_imputations, levels=levels,
                 seed=seed, source="ADEFF")
    fr = imp.frame
    visit = next(v.name for v in study.visits if v.week == ep.visit_week)
    sel = (fr["AVISIT"].cast(pl.Utf8) == visit).to_numpy()
    sub = fr.filter(pl.Series(sel))
    base = sub["BASE"].to_numpy().astype(float)
    arm = sub[TRT].cast(pl.Utf8).to_numpy()
    strata = list(study.analysis.stratify_by)
    cell = (sub.select(pl.concat_str([pl.col(s).cast(pl.Utf8) for s in strata], separator="|")).to_series()
            .rank("dense").cast(pl.Int64).to_numpy() - 1) if strata else np.zeros(sub.height, dtype=np.int64)
    n_cells = int(cell.max()) + 1
    alpha = 1.0 - study.analysis.confidence_level
    pbo = study.placebo.label
    fm = {"estimate": "pct1", "se": "pct1", "ci_low": "pct1", "ci_high": "pct1", "pvalue": "pvalue", "df": "{:.1f}"}
    resp0 = _responses(ep, value, imp.values[:, sel], base)
    for a in study.active_arms:
        res = _pooled_rd(resp0, arm, cell, n_cells, a.label, pbo, alpha)
        ard.add_many(f"{ep.id}.mi_mar", ep.id, {"estimate": res.estimate, "se": res.se, "ci_low": res.ci_low,
                                                 "ci_high": res.ci_high, "pvalue": res.pvalue,
                                                 "df": float(res.extra["df"])},
                     groups={TRT: a.label, "COMPARATOR": pbo}, fmts=fm)
        for arm_label in (a.label, pbo):
            ard.add(f"{ep.id}.mi_mar", ep.id, "p", float(resp0[:, arm == arm_label].mean()),
                    groups={TRT: arm_label}, fmt="pct1")
    # tipping point: worse outcome after dropout in the active arms (higher score, or less percent reduction)
    tip: dict[str, float | None] = {a.label: None for a in study.active_arms}
    for delta in TIPPING_GRID[score]:
        shifted = imp.shifted({a.label: delta for a in study.active_arms})[:, sel]
        resp = _responses(ep, value, shifted, base)
        for a in study.active_arms:
            res = _pooled_rd(resp, arm, cell, n_cells, a.label, pbo, alpha)
            ard.add_many(f"{ep.id}.tipping", ep.id, {"estimate": res.estimate, "ci_low": res.ci_low,
                                                      "ci_high": res.ci_high, "pvalue": res.pvalue},
                         groups={TRT: a.label, "COMPARATOR": pbo, "DELTA": f"{delta:g}"}, fmts=fm)
            if tip[a.label] is None and res.pvalue >= alpha:
                tip[a.label] = delta
    for a in study.active_arms:
        ard.add(f"{ep.id}.tipping", ep.id, "tipping_delta", tip[a.label],
                groups={TRT: a.label, "COMPARATOR": pbo}, fmt="{:g}")
