"""trialkit's categorical statistics against R and published SAS values (validation/categorical/reference.json).

The fixture is made by validation/categorical/reference.R; these tests need no R.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from trialkit.stats import (
    breslow_day,
    cmh,
    exact_unconditional_rd,
    fisher_exact,
    fisher_odds_ratio,
    logistic_treatment_effect,
    mh_odds_ratio,
    mh_relative_risk,
    mh_risk_difference,
    mh_test,
    proportion_ci,
    risk_difference,
    stratified_risk_difference,
)

REF = json.loads((Path(__file__).parents[2] / "validation" / "categorical" / "reference.json").read_text())
CLOSED = 1e-6  # closed-form statistics
ROOT = 1e-6  # limits found by root search in both implementations
ITER = 1e-4  # iteratively fitted models / nuisance-parameter maximization


_SPECIAL = {"NA": np.nan, "NaN": np.nan, "Inf": np.inf, "-Inf": -np.inf}


def _num(v):
    return _SPECIAL[v] if isinstance(v, str) else v


def close(actual, expected, rtol=CLOSED, atol=1e-12):
    a = np.asarray(actual, dtype=float)
    e = np.vectorize(_num, otypes=[float])(np.asarray(expected, dtype=object)).reshape(a.shape)
    np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, equal_nan=True)


def arr(case):
    return np.asarray(case["counts"], dtype=float)


STRAT = {c["name"]: c for c in REF["stratified_2x2"]}
RXC = {c["name"]: c for c in REF["rxc"]}
SINGLE = {c["name"]: c for c in REF["single_2x2"]}


@pytest.mark.parametrize("name", list(STRAT))
def test_mh_test_matches_mantelhaen(name):
    c = STRAT[name]
    for corr, key in ((False, "uncorrected"), (True, "corrected")):
        r = mh_test(arr(c), correction=corr)
        close([r.statistic, r.pvalue], c["mh_test"][key])


@pytest.mark.parametrize("name", list(STRAT))
def test_cmh_2x2_all_three_equal_r(name):
    c = STRAT[name]
    r = cmh(arr(c))
    for attr in ("correlation", "row_mean_scores", "general_association"):
        t = getattr(r, attr)
        close([t.statistic, t.df, t.pvalue], c["cmh_table"][attr])


@pytest.mark.parametrize("name", list(STRAT))
def test_common_odds_ratio_and_relative_risk(name):
    c = STRAT[name]
    x = arr(c)
    r = mh_odds_ratio(x, "mh")
    close([r.estimate, r.ci_low, r.ci_high], c["mh_test"]["or_mh"])
    r = mh_odds_ratio(x, "logit")
    close([r.estimate, r.se, r.ci_low, r.ci_high], c["or_logit"])
    r = mh_relative_risk(x, "mh")
    close([r.estimate, r.se, r.ci_low, r.ci_high], c["rr_mh"])
    r = mh_relative_risk(x, "logit")
    close([r.estimate, r.se, r.ci_low, r.ci_high], c["rr_logit"])


@pytest.mark.parametrize("name", list(STRAT))
def test_breslow_day_and_tarone(name):
    c = STRAT[name]
    for tarone, key in ((False, "bd"), (True, "tarone")):
        r = breslow_day(arr(c), tarone=tarone)
        close([r.statistic, r.df, r.pvalue], c["breslow_day"][key])


@pytest.mark.parametrize("name", list(STRAT))
def test_stratified_risk_differences(name):
    c = STRAT[name]
    x = arr(c)
    r = stratified_risk_difference(x, "mh")
    close([r.estimate, r.se, r.ci_low, r.ci_high, r.pvalue], c["rd_mh"])
    close([mh_risk_difference(x)], c["rd_mh"][:1])  # the estimate alone (the design engine's)
    assert np.allclose(mh_risk_difference(np.stack([x, x[::-1]])), [r.estimate, stratified_risk_difference(
        x[::-1], "mh").estimate], rtol=1e-14)  # vectorized over leading axes
    r = stratified_risk_difference(x, "newcombe")
    close([r.estimate, r.ci_low, r.ci_high], c["rd_newcombe"])
    r = stratified_risk_difference(x, "mn")
    close([r.estimate, r.ci_low, r.ci_high, r.pvalue], c["rd_mn"], rtol=ROOT, atol=1e-9)
    r = stratified_risk_difference(x, "summary-score")
    close([r.estimate, r.se, r.ci_low, r.ci_high, r.pvalue], c["rd_summary_score"], rtol=ROOT, atol=1e-9)


@pytest.mark.parametrize("name", list(STRAT))
def test_logistic_matches_glm(name):
    c = STRAT[name]
    r = logistic_treatment_effect(arr(c))
    ref = c["logistic"]
    if not np.isfinite(r.extra["log_estimate"]):
        # treatment effect not estimable: glm drifts to a huge coefficient
        assert abs(np.log(ref[0])) > 8
        return
    close([r.estimate, r.se, r.ci_low, r.ci_high], ref[:4], rtol=ITER)
    close([r.pvalue, r.extra["lr_statistic"], r.extra["lr_pvalue"]], ref[4:], rtol=ITER, atol=1e-10)


def test_published_sas_values():
    """Rounded figures printed in SAS PROC FREQ output (documentation examples)."""
    mig = arr(STRAT["sas_migraine"])
    r = cmh(mig).general_association
    assert round(r.statistic, 4) == STRAT["sas_migraine"]["published"]["cmh"]
    assert round(r.pvalue, 4) == STRAT["sas_migraine"]["published"]["cmh_p"]
    sm = STRAT["sas_smoking_8_cities"]
    pub = sm["published"]
    x = arr(sm)
    assert round(mh_test(x).statistic, 3) == pub["cmh"]
    assert round(mh_odds_ratio(x).estimate, 3) == pub["or_mh"]
    lo = mh_odds_ratio(x, "logit")
    assert [round(v, 3) for v in (lo.estimate, lo.ci_low, lo.ci_high)] == pub["or_logit"]
    assert round(mh_relative_risk(x).estimate, 3) == pub["rr_mh"]
    rl = mh_relative_risk(x, "logit")
    assert [round(v, 3) for v in (rl.estimate, rl.ci_low, rl.ci_high)] == pub["rr_logit"]
    bd = breslow_day(x)
    assert [round(bd.statistic, 3), bd.df, round(bd.pvalue, 3)] == pub["breslow_day"]


@pytest.mark.parametrize("name", list(RXC))
def test_generalized_cmh_all_score_types(name):
    c = RXC[name]
    x = arr(c)
    kinds = [k.removeprefix("cmh_") for k in c if k.startswith("cmh_")]
    assert kinds
    for kind in kinds:
        r = cmh(x, scores=kind)
        ref = c[f"cmh_{kind}"]
        for attr in ("correlation", "row_mean_scores", "general_association"):
            t = getattr(r, attr)
            close([t.statistic, t.df, t.pvalue], ref[attr], rtol=CLOSED, atol=1e-10)


def test_hypnosis_row_mean_scores_is_friedman():
    c = RXC["sas_hypnosis_friedman"]
    r = cmh(arr(c), scores="rank").row_mean_scores
    close([r.statistic, r.df, r.pvalue], c["friedman"])


@pytest.mark.parametrize("name", list(SINGLE))
def test_unstratified_risk_difference(name):
    c = SINGLE[name]
    x = arr(c)
    r = risk_difference(x, "wald")
    close([r.estimate, r.se, r.ci_low, r.ci_high], c["rd"]["wald"])
    r = risk_difference(x, "newcombe")
    close([r.estimate, r.ci_low, r.ci_high], c["rd"]["newcombe"])
    r = risk_difference(x, "mn")
    close([r.estimate, r.ci_low, r.ci_high, r.pvalue], c["rd"]["mn"], rtol=ROOT, atol=1e-9)
    r = risk_difference(x, "agresti-caffo")
    close([r.estimate, r.se, r.ci_low, r.ci_high], c["rd"]["agresti_caffo"])


@pytest.mark.parametrize("name", list(SINGLE))
def test_exact_unconditional_limits(name):
    c = SINGLE[name]
    r = exact_unconditional_rd(arr(c))
    close([r.estimate, r.ci_low, r.ci_high], c["exact_rd"], rtol=ITER, atol=1e-6)


@pytest.mark.parametrize("name", list(SINGLE))
def test_fisher(name):
    c = SINGLE[name]
    x = arr(c)
    for alt in ("two-sided", "greater", "less"):
        close(fisher_exact(x, alt).pvalue, c["fisher"][alt.replace("-", "_")])
    r = fisher_odds_ratio(x)
    close([r.estimate, r.ci_low, r.ci_high], c["fisher"]["or"], rtol=ROOT)


@pytest.mark.parametrize("name", list(SINGLE))
def test_proportion_intervals(name):
    c = SINGLE[name]
    x = arr(c)
    xs, ns = x[:, 0], x.sum(-1)
    w = proportion_ci(xs, ns, "wilson")
    close(np.stack([w.ci_low, w.ci_high], -1), c["wilson"])
    cp = proportion_ci(xs, ns, "clopper-pearson")
    close(np.stack([cp.ci_low, cp.ci_high], -1), c["clopper_pearson"])
