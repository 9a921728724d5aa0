"""IGNITE sensitivity analyses: the MMRM of percent change in EASI against R (nlme::gls + emmeans), and the
multiple-imputation pooling and tipping-point grid."""

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from trialkit import stats
from trialkit.ard import ARD, lookup
from trialkit.pipeline import derive_adam, simulate_sdtm
from trialkit.sensitivity import _pooled_rd, analyse_mi, fit_mmrm
from trialkit.study import load_study

ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / "validation" / "ignite"
STUDY = load_study(ROOT / "studies" / "ignite.toml")


@pytest.fixture(scope="module")
def mmrm_data():
    return pl.read_csv(HERE / "mmrm_seed2024.csv")


@pytest.fixture(scope="module")
def mmrm_fit(mmrm_data):
    # model-based covariance of the estimates, as emmeans uses for gls fits
    return fit_mmrm(mmrm_data, STUDY, df="satterthwaite")


def test_kenward_roger_inflates_standard_errors(mmrm_data, mmrm_fit):
    kr = fit_mmrm(mmrm_data, STUDY)  # the pipeline's fit
    a = mmrm_fit.lsmeans("TRT01P", by="AVISIT").table
    b = kr.lsmeans("TRT01P", by="AVISIT").table
    assert np.allclose(a["estimate"], b["estimate"])
    assert np.all(b["se"].to_numpy() >= a["se"].to_numpy()) and np.all(b["se"].to_numpy() < 1.05 * a["se"].to_numpy())


def test_mmrm_against_nlme(mmrm_fit):
    ref = json.loads((HERE / "mmrm_reference.json").read_text())
    assert mmrm_fit.converged
    assert mmrm_fit.neg2_loglik == pytest.approx(ref["neg2_loglik_reml"], rel=1e-6)
    ls = mmrm_fit.lsmeans("TRT01P", by="AVISIT").table.filter(pl.col("AVISIT") == "Week 24")
    for r in ref["lsmeans"]:
        row = ls.filter(pl.col("TRT01P") == r["arm"]).row(0, named=True)
        assert row["estimate"] == pytest.approx(r["estimate"], rel=1e-4)
        assert row["se"] == pytest.approx(r["se"], rel=1e-4)
    diffs = mmrm_fit.lsmeans("TRT01P", by="AVISIT").vs_reference("Placebo").filter(pl.col("AVISIT") == "Week 24")
    for r in ref["diffs"]:
        arm = r["contrast"].split(" - ")[0]
        row = diffs.filter(pl.col("contrast").str.starts_with(arm)).row(0, named=True)
        assert row["estimate"] == pytest.approx(r["estimate"], rel=1e-4)
        assert row["se"] == pytest.approx(r["se"], rel=1e-4)


def test_pooling_without_missing_data_equals_complete_case():
    """With identical imputations, Rubin's pooled MH difference is the complete-data MH difference."""
    rng = np.random.default_rng(3)
    n = 600
    arm = np.where(rng.random(n) < 0.5, "A", "P")
    cell = rng.integers(0, 4, n)
    resp = rng.random(n) < np.where(arm == "A", 0.4, 0.2)
    pooled = _pooled_rd(np.tile(resp, (5, 1)), arm, cell, 4, "A", "P", 0.05)
    counts = np.zeros((4, 2, 2), dtype=int)
    np.add.at(counts, (cell, np.where(arm == "A", 0, 1), np.where(resp, 0, 1)), 1)
    direct = stats.stratified_risk_difference(counts, method="mh")
    assert pooled.estimate == pytest.approx(direct.estimate, rel=1e-12)
    assert pooled.se == pytest.approx(direct.se, rel=1e-12)


def test_mi_and_tipping_point():
    adam = derive_adam(STUDY, simulate_sdtm(STUDY, seed=8, n=400))
    ard = ARD()
    ep = STUDY.endpoint("EASI75")
    analyse_mi(adam["ADEFF"], adam["ADSL"], STUDY, ep, ard, n_imputations=20)
    a = ard.to_frame()
    for arm in STUDY.active_arms:
        g = {"TRT01P": arm.label, "COMPARATOR": "Placebo"}
        est = lookup(a, "EASI75.mi_mar", "estimate", **g)
        lo, hi = lookup(a, "EASI75.mi_mar", "ci_low", **g), lookup(a, "EASI75.mi_mar", "ci_high", **g)
        assert lo < est < hi and 0 < est < 1
        tip = a.filter((pl.col("analysis_id") == "EASI75.tipping") & (pl.col("group1_level") == arm.label)
                       & (pl.col("stat_name") == "estimate")).with_columns(pl.col("group3_level").cast(pl.Float64))
        tip = tip.sort("group3_level")
        # a worse outcome imputed in the active arm can only lower the difference (common random numbers)
        assert np.all(np.diff(tip["stat"].to_numpy()) <= 1e-12)
        assert tip["stat"][0] == pytest.approx(est)
