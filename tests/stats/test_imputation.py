"""Multiple imputation: Rubin's rules against mice::pool.scalar (validation/imputation/fixtures_rubin.json),
conditional-normal imputation against a per-subject brute-force formula, reference-based mean profiles against
their definitions (Carpenter, Roger & Kenward 2013), and end-to-end behaviour on CDISC Pilot ADAS-Cog."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from trialkit.errors import TrialkitError
from trialkit.stats import mmrm
from trialkit.stats.imputation import _strategy_mean, impute, impute_conditional, mi_ancova, rubin, tipping_point

ROOT = Path(__file__).resolve().parents[2] / "validation"
TRTP = {"TRTP": ["Placebo", "Xanomeline Low Dose", "Xanomeline High Dose"]}
IMP_MODEL = ["TRTP", "AVISIT", "TRTP:AVISIT", "BASE", "BASE:AVISIT", "SITEGR1"]
ANA_MODEL = ["TRTP", "BASE", "SITEGR1"]


@pytest.mark.parametrize("case", json.loads((ROOT / "imputation" / "fixtures_rubin.json").read_text())["cases"])
def test_rubin_matches_mice_pool_scalar(case):
    Q, U = np.array(case["Q"]), np.array(case["U"])
    r = rubin(Q, U, df_complete=case["n"] - case["k"])
    assert r.estimate == pytest.approx(case["qbar"], rel=1e-6)
    assert r.se**2 == pytest.approx(case["t"], rel=1e-6)
    for ours, theirs in (("ubar", "ubar"), ("b", "b"), ("df", "df"), ("riv", "r"), ("fmi", "fmi")):
        assert r.extra[ours] == pytest.approx(case[theirs], rel=1e-6), ours
    assert rubin(Q, U).extra["df"] == pytest.approx(case["df_large_sample"], rel=1e-6)


def test_rubin_vectorized_over_leading_axes():
    rng = np.random.default_rng(0)
    Q = rng.normal(size=(3, 4, 10))
    U = rng.uniform(0.5, 1.0, size=(3, 4, 10))
    r = rubin(Q, U, df_complete=50)
    assert r.estimate.shape == (3, 4)
    one = rubin(Q[2, 1], U[2, 1], df_complete=50)
    assert r.pvalue[2, 1] == pytest.approx(one.pvalue, rel=1e-12)
    with pytest.raises(TrialkitError):
        rubin(Q[..., :1], U[..., :1])


def _random_cov(T, rng):
    A = rng.normal(size=(T, T))
    return A @ A.T + T * np.eye(T)


def test_conditional_mean_matches_brute_force():
    rng = np.random.default_rng(1)
    T, n = 5, 40
    S = _random_cov(T, rng)
    mean = rng.normal(size=(n, T))
    y = mean + rng.multivariate_normal(np.zeros(T), S, n)
    y[rng.random((n, T)) < 0.35] = np.nan
    got = impute_conditional(mean, S, y)
    for i in range(n):
        o = ~np.isnan(y[i])
        exp = y[i].copy()
        if (~o).any():
            if o.any():
                exp[~o] = mean[i, ~o] + S[np.ix_(~o, o)] @ np.linalg.inv(S[np.ix_(o, o)]) @ (y[i, o] - mean[i, o])
            else:
                exp[~o] = mean[i, ~o]
        np.testing.assert_allclose(got[i], exp, rtol=1e-10, atol=1e-12)


def test_conditional_draws_have_the_conditional_distribution():
    rng = np.random.default_rng(2)
    T = 3
    S = _random_cov(T, rng)
    n = 20000
    y = np.tile([1.0, np.nan, np.nan], (n, 1))
    mean = np.zeros((n, T))
    draws = impute_conditional(mean, S, y, rng=rng)[:, 1:]
    K = S[1:, :1] / S[0, 0]
    np.testing.assert_allclose(draws.mean(axis=0), K[:, 0] * 1.0, atol=4 * np.sqrt(np.diag(S)[1:].max() / n))
    C = S[1:, 1:] - K @ S[:1, 1:]
    np.testing.assert_allclose(np.cov(draws.T), C, rtol=0.05)


def test_strategy_means_follow_their_definitions():
    own = np.array([[1.0, 2.0, 3.0, 4.0]] * 3)
    ref = np.array([[1.0, 1.5, 1.7, 1.8]] * 3)
    last = np.array([1, -1, 1])  # last observed visit index (-1: none observed)
    is_ref = np.array([False, False, True])
    idx = np.arange(4)
    np.testing.assert_array_equal(_strategy_mean("MAR", own, ref, last, is_ref, idx), own)
    j2r = _strategy_mean("J2R", own, ref, last, is_ref, idx)
    np.testing.assert_array_equal(j2r[0], [1.0, 2.0, 1.7, 1.8])
    np.testing.assert_array_equal(j2r[1], ref[1])
    np.testing.assert_array_equal(j2r[2], own[2])  # reference-arm subjects stay MAR
    np.testing.assert_array_equal(_strategy_mean("CR", own, ref, last, is_ref, idx)[0], ref[0])
    cir = _strategy_mean("CIR", own, ref, last, is_ref, idx)
    np.testing.assert_allclose(cir[0], [1.0, 2.0, 2.0 + (1.7 - 1.5), 2.0 + (1.8 - 1.5)])


@pytest.fixture(scope="module")
def adas_grid() -> pl.DataFrame:
    a = pl.read_csv(ROOT / "mmrm" / "adas_mmrm.csv", schema_overrides={"SITEGR1": pl.Utf8})
    subj = a.group_by("USUBJID").agg(pl.col("TRTP").first(), pl.col("SITEGR1").first(), pl.col("BASE").first())
    grid = subj.join(pl.DataFrame({"AVISIT": ["Week 8", "Week 16", "Week 24"]}), how="cross")
    return grid.join(a.select("USUBJID", "AVISIT", "CHG"), on=["USUBJID", "AVISIT"], how="left")


def _impute(grid, strategy, m=100, seed=11, **kw):
    return impute(grid, response="CHG", fixed=IMP_MODEL, visit="AVISIT", subject="USUBJID", arm="TRTP",
                  reference="Placebo", strategy=strategy, n_imputations=m, seed=seed, levels=TRTP, **kw)


def test_mar_imputation_agrees_with_mmrm_and_reference_based_shrinks(adas_grid):
    fit = mmrm(adas_grid, response="CHG", fixed=IMP_MODEL, visit="AVISIT", subject="USUBJID", levels=TRTP)
    mm = fit.lsmeans("TRTP", by="AVISIT").vs_reference().filter(pl.col("AVISIT") == "Week 24")
    mar = mi_ancova(_impute(adas_grid, "MAR", m=200), at_visit="Week 24", fixed=ANA_MODEL, levels=TRTP)
    # MAR MI with the MMRM as imputation model estimates the same effect (up to Monte Carlo error and the
    # analysis model); it is not an independent validation, a consistency check
    assert np.all(np.abs(mar["estimate"].to_numpy() - mm["estimate"].to_numpy()) < 0.25 * mm["se"].to_numpy())
    fmi = mar["fmi"].to_numpy()
    assert np.all((fmi > 0) & (fmi < 1))
    for strategy in ("J2R", "CR", "CIR"):
        rb = mi_ancova(_impute(adas_grid, strategy), at_visit="Week 24", fixed=ANA_MODEL, levels=TRTP)
        # both arms are estimated better than placebo under MAR; borrowing placebo behaviour shrinks the effect
        assert np.all(np.abs(rb["estimate"].to_numpy()) < np.abs(mar["estimate"].to_numpy()))
    # observed values are never changed
    imp = _impute(adas_grid, "J2R", m=5)
    obs = ~imp.missing
    y = imp.frame["CHG"].to_numpy()
    assert np.all(imp.values[:, obs] == y[obs])
    assert not np.isnan(imp.values).any()


def test_seed_reproducibility_and_delta(adas_grid):
    a = _impute(adas_grid, "MAR", m=10, seed=5)
    b = _impute(adas_grid, "MAR", m=10, seed=5)
    np.testing.assert_array_equal(a.values, b.values)
    c = _impute(adas_grid, "MAR", m=10, seed=5, delta=2.0)
    diff = c.values - a.values
    arm = a.frame["TRTP"].to_numpy()
    assert np.all(diff[:, a.after_dropout & (arm != "Placebo")] == pytest.approx(2.0))
    assert np.all(diff[:, ~a.after_dropout | (arm == "Placebo")] == 0.0)


def test_tipping_point_grid(adas_grid):
    imp = _impute(adas_grid, "MAR", m=50)
    tp = tipping_point(imp, deltas=[-4.0, -2.0, 0.0, 2.0, 4.0], at_visit="Week 24", fixed=ANA_MODEL,
                       arm="Xanomeline High Dose", levels=TRTP)
    high = tp.filter(pl.col("contrast").str.starts_with("Xanomeline High"))
    low = tp.filter(pl.col("contrast").str.starts_with("Xanomeline Low"))
    assert np.all(np.diff(high["estimate"].to_numpy()) > 0)  # a worse (higher) ADAS-Cog after dropout
    # the other arm is not shifted: its contrast moves only through the shared site/baseline coefficients
    assert np.ptp(low["estimate"].to_numpy()) < 0.05 * np.ptp(high["estimate"].to_numpy())
    assert high.filter(pl.col("delta") == -4.0)["pvalue"][0] < high.filter(pl.col("delta") == 0.0)["pvalue"][0]
    base = mi_ancova(imp, at_visit="Week 24", fixed=ANA_MODEL, levels=TRTP)
    assert high.filter(pl.col("delta") == 0.0)["estimate"][0] == pytest.approx(base["estimate"][1], rel=1e-12)


def test_imputation_errors(adas_grid):
    with pytest.raises(TrialkitError, match="strategy"):
        _impute(adas_grid, "LOCF")
    with pytest.raises(TrialkitError, match="one row per visit"):
        _impute(adas_grid.filter(pl.col("CHG").is_not_null()), "MAR")
    with pytest.raises(TrialkitError, match="reference arm"):
        impute(adas_grid, response="CHG", fixed=IMP_MODEL, visit="AVISIT", subject="USUBJID", arm="TRTP",
               reference="PBO", levels=TRTP)
    with pytest.raises(TrialkitError, match="among the fixed effects"):
        impute(adas_grid, response="CHG", fixed=["AVISIT", "BASE"], visit="AVISIT", subject="USUBJID", arm="TRTP",
               reference="Placebo")
