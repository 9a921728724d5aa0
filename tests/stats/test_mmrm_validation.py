"""MMRM against independent implementations: R nlme::gls + emmeans, lme4 + pbkrtest/lmerTest (fixtures made by
validation/mmrm/make_fixtures.R) and published SAS PROC MIXED listings (validation/mmrm/sas_published.json).

Tolerances (docs/guide validation.md): estimates and standard errors of iteratively fitted models at 1e-4
relative; an estimate near zero is compared relative to max(|estimate|, its SE). Degrees of freedom within 0.5.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from trialkit.stats import mmrm

VAL = Path(__file__).resolve().parents[2] / "validation" / "mmrm"
R = json.loads((VAL / "fixtures_r.json").read_text())
SAS = json.loads((VAL / "sas_published.json").read_text())
TRTP = {"TRTP": ["Placebo", "Xanomeline Low Dose", "Xanomeline High Dose"]}
SAS_MODEL = ["RACE", "SEX", "ARMCD", "AVISIT", "ARMCD:AVISIT"]
STRUCT_MODEL = ["ARMCD", "AVISIT", "RACE", "FEV1_BL", "ARMCD:AVISIT"]
ADAS_MODEL = ["TRTP", "SITEGR1", "AVISIT", "TRTP:AVISIT", "BASE", "BASE:AVISIT"]


@pytest.fixture(scope="module")
def fev() -> pl.DataFrame:
    return pl.read_csv(VAL / "fev_data.csv")


@pytest.fixture(scope="module")
def adas() -> pl.DataFrame:
    return pl.read_csv(VAL / "adas_mmrm.csv", schema_overrides={"SITEGR1": pl.Utf8})


def _key(term: str) -> frozenset[str]:
    return frozenset(term.split(":"))


def _coef(fit, terms):
    fe = {_key(t): (e, s, d) for t, e, s, d in fit.fixed_effects.select("term", "estimate", "se", "df").rows()}
    return np.array([fe[_key(t)] for t in terms]).T


def _close(actual, expected, scale=None, rtol=1e-4):
    actual, expected = np.asarray(actual, float), np.asarray(expected, float)
    ref = np.abs(expected) if scale is None else np.maximum(np.abs(expected), np.asarray(scale, float))
    err = np.abs(actual - expected) / ref
    assert err.max() <= rtol, f"max relative error {err.max():.2e} > {rtol:.0e}"


def _check_against_r(fit, ref, spec, by, se_scale=1.0):
    est, se, _ = _coef(fit, ref["coef"]["term"])
    _close(est, ref["coef"]["estimate"], scale=ref["coef"]["se"])
    _close(se, np.asarray(ref["coef"]["se"]) * se_scale)
    assert fit.neg2_loglik == pytest.approx(ref["neg2_loglik"], abs=1e-4)
    C = np.asarray(ref["covariance"])
    cov = fit.covariance
    _close(cov, C, scale=np.sqrt(np.outer(np.diag(C), np.diag(C))))
    ls = fit.lsmeans(spec, by=by).table
    j = pl.DataFrame(ref["lsmeans"]).join(ls, on=[spec, by])
    assert j.height == ls.height
    _close(j["estimate"], j["emmean"], scale=j["SE"])
    _close(j["se"], j["SE"] * se_scale)
    d = fit.lsmeans(spec, by=by).vs_reference()
    rd = pl.DataFrame(ref["diffs"])
    _close(d["estimate"], rd["estimate"], scale=rd["SE"])
    _close(d["se"], rd["SE"] * se_scale)
    assert d["contrast"].to_list() == rd["contrast"].to_list()


@pytest.mark.parametrize("method", ["reml", "ml"])
def test_unstructured_matches_nlme_gls(fev, method):
    fit = mmrm(fev, response="FEV1", fixed=SAS_MODEL, visit="AVISIT", subject="USUBJID", method=method,
               levels={"SEX": ["Male", "Female"]})
    ref = R[f"fev_us_{method}"]
    # nlme scales ML standard errors by sqrt(N / (N - p)) (sigma with the REML denominator); SAS does not
    scale = 1.0 if method == "reml" else np.sqrt((fit.n_obs - len(fit.beta)) / fit.n_obs)
    _check_against_r(fit, ref, "ARMCD", "AVISIT", se_scale=scale)
    assert fit.converged


def test_unstructured_matches_published_sas(fev):
    for method in ("reml", "ml"):
        fit = mmrm(fev, response="FEV1", fixed=SAS_MODEL, visit="AVISIT", subject="USUBJID", method=method,
                   levels={"SEX": ["Male", "Female"]})
        ref = SAS[f"fev_us_{method}"]
        est, se, df = _coef(fit, ref["coef"]["term"])
        # SAS prints 4-5 digits and stopped a little earlier than nlme/trialkit (its -2 log L is 6e-6 higher)
        assert np.all(np.abs(est - ref["coef"]["estimate"]) <= 5e-4 * np.asarray(ref["coef"]["se"]) + 5e-5)
        _close(se, ref["coef"]["se"], rtol=1e-3)
        assert np.all(np.abs(df - ref["coef"]["df"]) <= 0.51), df
        assert fit.neg2_loglik == pytest.approx(ref["neg2_loglik"], abs=0.05)
        assert fit.aic == pytest.approx(ref["aic"], abs=0.05)
        assert fit.bic == pytest.approx(ref["bic"], abs=0.05)
        t3 = fit.type3()
        t3 = {r[0]: r[1:] for r in t3.rows()}
        for term, ndf, ddf, F in zip(ref["type3"]["term"], ref["type3"]["num_df"], ref["type3"]["den_df"],
                                     ref["type3"]["F"], strict=True):
            got = t3[term]
            assert got[0] == ndf
            assert abs(got[1] - ddf) <= 0.51, (term, got[1], ddf)
            assert got[2] == pytest.approx(F, abs=0.005 + 5e-4 * F)


def test_grouped_covariance_matches_published_sas(fev):
    fit = mmrm(fev, response="FEV1", fixed=[], visit="AVISIT", subject="USUBJID", covariance="csh", group="ARMCD")
    ref = SAS["fev_group_csh_reml"]
    assert fit.neg2_loglik == pytest.approx(ref["neg2_loglik"], abs=1e-5)
    assert fit.aic == pytest.approx(ref["aic"], abs=0.05)
    assert fit.bic == pytest.approx(ref["bic"], abs=0.05)
    est = fit.covariance_parameters["estimate"].to_numpy()
    np.testing.assert_allclose(est, ref["covariance_parameters"]["PBO"] + ref["covariance_parameters"]["TRT"],
                               rtol=5e-4)
    e, s, d = _coef(fit, ["(Intercept)"])
    assert e[0] == pytest.approx(ref["coef"]["estimate"][0], abs=5e-5)
    assert s[0] == pytest.approx(ref["coef"]["se"][0], abs=5e-5)
    assert abs(d[0] - ref["coef"]["df"][0]) <= 0.51


def test_baseline_interaction_lsmeans_match_emmeans(fev):
    fit = mmrm(fev, response="FEV1", fixed=["ARMCD", "AVISIT", "FEV1_BL", "RACE", "ARMCD:AVISIT", "AVISIT:FEV1_BL"],
               visit="AVISIT", subject="USUBJID")
    _check_against_r(fit, R["fev_us_baseline"], "ARMCD", "AVISIT")
    # LS means put the covariate at its mean over the analysed rows, as emmeans and SAS do
    assert fit.design.covariate_means["FEV1_BL"] == pytest.approx(R["fev_us_baseline"]["fev1_bl_mean"], rel=1e-12)


@pytest.mark.parametrize("cov", ["toep", "toeph", "ar1", "ar1h", "cs", "csh"])
def test_structured_covariances_match_nlme_gls(fev, cov):
    fit = mmrm(fev, response="FEV1", fixed=STRUCT_MODEL, visit="AVISIT", subject="USUBJID", covariance=cov)
    _check_against_r(fit, R[f"fev_{cov}"], "ARMCD", "AVISIT")


def test_lsmeans_weights_match_emmeans(fev):
    fit = mmrm(fev, response="FEV1", fixed=STRUCT_MODEL, visit="AVISIT", subject="USUBJID", covariance="ar1")
    ref = R["fev_ar1"]
    for weights, key in (("equal", "lsmeans_arm_equal"), ("proportional", "lsmeans_arm_proportional")):
        ls = fit.lsmeans("ARMCD", weights=weights).table
        r = pl.DataFrame(ref[key])
        _close(ls["estimate"], r["emmean"], scale=r["SE"])
        _close(ls["se"], r["SE"])
    # the two weightings differ here, so the comparison above tests the weighting
    a = fit.lsmeans("ARMCD").table["estimate"].to_numpy()
    b = fit.lsmeans("ARMCD", weights="proportional").table["estimate"].to_numpy()
    assert np.max(np.abs(a - b)) > 0.1


def test_adas_cog_unstructured_matches_nlme_gls(adas):
    fit = mmrm(adas, response="CHG", fixed=ADAS_MODEL, visit="AVISIT", subject="USUBJID", levels=TRTP)
    _check_against_r(fit, R["adas_us"], "TRTP", "AVISIT")
    assert fit.visits == ["Week 8", "Week 16", "Week 24"]
    # Type III F statistics = Wald tests under sum-to-zero coding (nlme anova type="marginal"), including the
    # visit main effect at BASE = 0 and the average BASE slope
    ref = R["adas_us"]["type3"]
    t3 = {r[0]: r for r in fit.type3().rows()}
    for term, ndf, F in zip(ref["term"], ref["num_df"], ref["F"], strict=True):
        got = t3[term] if term in t3 else t3[":".join(reversed(term.split(":")))]
        assert got[1] == ndf
        assert got[3] == pytest.approx(F, rel=1e-4), term


@pytest.mark.parametrize("df_method,key,info", [
    ("kenward-roger", "lsmeans", "expected"),
    ("satterthwaite", "lsmeans_satterthwaite", "observed"),
])
def test_adas_cog_cs_df_match_pbkrtest_and_lmertest(adas, df_method, key, info):
    """CS = random intercept: pbkrtest (Kenward-Roger, expected information) and lmerTest (Satterthwaite,
    observed information) are independent implementations of the same formulas."""
    fit = mmrm(adas, response="CHG", fixed=ADAS_MODEL, visit="AVISIT", subject="USUBJID", levels=TRTP,
               covariance="cs", df=df_method, information=info)
    ref = R["adas_cs_kr"]
    assert fit.neg2_loglik == pytest.approx(ref["neg2_loglik"], abs=1e-4)
    _close(fit.covariance_parameters["estimate"], [ref["sigma_subject"], ref["sigma_residual"]])
    ls = fit.lsmeans("TRTP", by="AVISIT")
    j = pl.DataFrame(ref[key]).join(ls.table, on=["TRTP", "AVISIT"])
    _close(j["estimate"], j["emmean"], scale=j["SE"])
    _close(j["se"], j["SE"])
    assert (j["df_right"] - j["df"]).abs().max() < 0.05
    dref = pl.DataFrame(ref["diffs" if df_method == "kenward-roger" else "diffs_satterthwaite"])
    d = ls.vs_reference()
    _close(d["se"], dref["SE"])
    assert (d["df"] - dref["df"]).abs().max() < 0.05
    if df_method == "kenward-roger":
        se_kr = dict(zip(ref["coef_names"], ref["coef_kr_se"], strict=True))
        _, se, _ = _coef(fit, list(se_kr))
        _close(se, list(se_kr.values()))


@pytest.mark.parametrize("cov", ["us", "toep", "toeph", "ar1", "ar1h", "cs", "csh", "adh"])
def test_kenward_roger_matches_sas(fev, cov):
    """SE and df of TRT - PBO in FEV1 = ARMCD: SAS DDFM=KR and KR(FIRSTORDER) (mmrm package's SAS values)."""
    se_kr, df_kr, se_lin = SAS["kr_armcd"][cov]
    for df_method, se_ref in (("kenward-roger", se_kr), ("kenward-roger-linear", se_lin)):
        fit = mmrm(fev, response="FEV1", fixed=["ARMCD"], visit="AVISIT", subject="USUBJID", covariance=cov,
                   df=df_method)
        _, se, df = _coef(fit, ["ARMCDTRT"])
        assert se[0] == pytest.approx(se_ref, rel=2e-4)
        assert abs(df[0] - df_kr) < 0.5
