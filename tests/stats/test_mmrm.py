"""MMRM internals and behaviour: derivatives, invariances, grouped covariance, input errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest

from trialkit.errors import TrialkitError
from trialkit.stats import mmrm
from trialkit.stats.mmrm import kenward_roger, satterthwaite
from trialkit.stats.mmrm.covariance import (
    STRUCTURES,
    CovarianceStructure,
    _durbin_levinson,
    _pacf_from_rho,
    complex_step_jacobian,
    second_derivatives,
)
from trialkit.stats.mmrm.likelihood import Problem

VAL = Path(__file__).resolve().parents[2] / "validation" / "mmrm"
MODEL = ["ARMCD", "AVISIT", "ARMCD:AVISIT", "FEV1_BL"]


@pytest.fixture(scope="module")
def fev() -> pl.DataFrame:
    return pl.read_csv(VAL / "fev_data.csv")


@pytest.fixture(scope="module")
def fit_us(fev):
    return mmrm(fev, response="FEV1", fixed=MODEL, visit="AVISIT", subject="USUBJID")


# -- covariance structures --------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", STRUCTURES)
def test_structures_positive_definite_and_natural_roundtrip(kind):
    rng = np.random.default_rng(1)
    s = CovarianceStructure(kind, 5)
    for _ in range(20):
        theta = rng.normal(scale=1.5, size=s.n_params)
        S = s.sigma(theta)
        assert np.allclose(S, S.T)
        assert np.linalg.eigvalsh(S).min() > 0
        np.testing.assert_allclose(s.sigma_natural(s.natural(theta)), S, rtol=1e-10, atol=1e-12)
    assert len(s.natural_names()) == s.n_params


def test_structure_shapes():
    S = CovarianceStructure("ar1", 4).sigma_natural(np.array([2.0, 0.5]))
    np.testing.assert_allclose(S[0], 2.0 * 0.5 ** np.arange(4))
    S = CovarianceStructure("cs", 3).sigma_natural(np.array([1.0, 2.0]))
    np.testing.assert_allclose(S, np.ones((3, 3)) + 2 * np.eye(3))
    S = CovarianceStructure("adh", 3).sigma_natural(np.array([1.0, 4.0, 9.0, 0.5, 0.2]))
    assert S[0, 2] == pytest.approx(1 * 3 * 0.5 * 0.2)


def test_durbin_levinson_roundtrip_and_ar1():
    rho = _durbin_levinson(np.array([0.6, 0.0, 0.0]))
    np.testing.assert_allclose(rho, [0.6, 0.36, 0.216])  # AR(1) has zero partial autocorrelations beyond lag 1
    pacf = np.array([0.3, -0.5, 0.7, 0.1])
    np.testing.assert_allclose(_pacf_from_rho(_durbin_levinson(pacf)), pacf, atol=1e-12)


def test_complex_step_and_second_derivatives_against_finite_differences():
    s = CovarianceStructure("toeph", 4)
    rng = np.random.default_rng(2)
    phi = s.natural(rng.normal(size=s.n_params))
    J = complex_step_jacobian(s.sigma_natural, phi)
    H = second_derivatives(s.sigma_natural, phi)
    h = 1e-6
    for k in range(s.n_params):
        e = np.zeros_like(phi)
        e[k] = h
        fd = (s.sigma_natural(phi + e) - s.sigma_natural(phi - e)) / (2 * h)
        np.testing.assert_allclose(J[k], fd, rtol=1e-6, atol=1e-8)
        jp, jm = complex_step_jacobian(s.sigma_natural, phi + e), complex_step_jacobian(s.sigma_natural, phi - e)
        fd2 = (jp - jm) / (2 * h)
        np.testing.assert_allclose(H[:, k], fd2, rtol=1e-4, atol=1e-6)


# -- likelihood derivatives ---------------------------------------------------------------------------------------
def _problem(fit, fev, reml=True):
    d = fev.filter(pl.col("FEV1").is_not_null())
    X = fit.design.matrix(d)
    vis = np.array([fit.visits.index(v) for v in d["AVISIT"].to_list()])
    subj = d["USUBJID"].rank("dense").to_numpy()
    return Problem(X, d["FEV1"].to_numpy(), subj, vis, np.zeros(len(vis), dtype=int), 4, 1, reml=reml)


@pytest.mark.parametrize("reml", [True, False])
def test_gradient_and_hessian_match_finite_differences(fit_us, fev, reml):
    prob = _problem(fit_us, fev, reml)
    s = CovarianceStructure("us", 4)
    phi = fit_us.phi * 1.1  # away from the optimum, so the gradient is not zero
    f = lambda ph: prob.evaluate([s.sigma_natural(ph)], gradient=False).neg2ll  # noqa: E731
    ev = prob.evaluate([s.sigma_natural(phi)])
    J = complex_step_jacobian(s.sigma_natural, phi)
    grad = np.einsum("kab,ab->k", J, ev.grad_sigma[0])
    fd = np.array([(f(phi + h) - f(phi - h)) / 2e-5 for h in 1e-5 * np.eye(len(phi))])
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-6)
    # observed Hessian (analytic) against differences of the analytic gradient
    H = prob.information([s.sigma_natural(phi)], [J], [None], ev.beta, ev.M)["hessian"]

    def g(ph):
        e = prob.evaluate([s.sigma_natural(ph)])
        return np.einsum("kab,ab->k", J, e.grad_sigma[0])

    Hfd = np.array([(g(phi + h) - g(phi - h)) / 2e-5 for h in 1e-5 * np.eye(len(phi))])
    np.testing.assert_allclose(H, 0.5 * (Hfd + Hfd.T), rtol=1e-4, atol=1e-6)


def test_raw_and_sufficient_statistics_paths_agree(fit_us, fev):
    prob = _problem(fit_us, fev)
    S = fit_us.covariance
    a = prob.evaluate([S])
    for P in prob.patterns:
        P.XX = P.XY = P.YY = P.XXm = P.XYm = None
    b = prob.evaluate([S])
    assert a.neg2ll == pytest.approx(b.neg2ll, rel=1e-12)
    np.testing.assert_allclose(a.grad_sigma[0], b.grad_sigma[0], rtol=1e-8, atol=1e-10)


# -- degrees of freedom -------------------------------------------------------------------------------------------
def test_kenward_roger_one_row_equals_satterthwaite_formula(fit_us):
    rng = np.random.default_rng(3)
    for _ in range(3):
        c = rng.normal(size=len(fit_us.beta))
        m, lam = kenward_roger.kr_df(c[None, :], fit_us.vcov_unadjusted, fit_us._P, fit_us._W)
        assert m == pytest.approx(satterthwaite.df_1d(c, fit_us.vcov_unadjusted, fit_us._P, fit_us._W), rel=1e-10)
        assert lam == 1.0


def test_kenward_roger_general_formula_at_q1_matches_closed_form(fev):
    fit = mmrm(fev, response="FEV1", fixed=MODEL, visit="AVISIT", subject="USUBJID", df="kenward-roger")
    c = np.zeros(len(fit.beta))
    c[1] = 1.0
    L = np.vstack([c, c * 0 + np.eye(len(c))[2]])
    # a 2-row test's F with rows scaled differently must not change (invariance to the row basis)
    r1 = fit.test(L)
    r2 = fit.test(np.diag([3.0, -0.5]) @ L)
    assert r1.statistic == pytest.approx(r2.statistic, rel=1e-10)
    assert r1.extra["den_df"] == pytest.approx(r2.extra["den_df"], rel=1e-8)
    # a 1-row F test is the square of the t statistic
    r = fit.test(c)
    t = fit.fixed_effects["t"][1]
    assert r.statistic == pytest.approx(t**2, rel=1e-10)
    assert r.extra["den_df"] == pytest.approx(fit.fixed_effects["df"][1], rel=1e-10)


def test_type3_without_interactions_equals_coefficient_tests(fev):
    fit = mmrm(fev, response="FEV1", fixed=["ARMCD", "AVISIT", "FEV1_BL"], visit="AVISIT", subject="USUBJID")
    t3 = {r[0]: r for r in fit.type3().rows()}
    fe = {r[0]: r for r in fit.fixed_effects.rows()}
    assert t3["ARMCD"][3] == pytest.approx(fe["ARMCDTRT"][4] ** 2, rel=1e-10)
    assert t3["FEV1_BL"][2] == pytest.approx(fe["FEV1_BL"][3], rel=1e-10)


def test_residual_df(fev):
    fit = mmrm(fev, response="FEV1", fixed=MODEL, visit="AVISIT", subject="USUBJID", df="residual")
    assert set(fit.fixed_effects["df"].to_list()) == {fit.n_obs - len(fit.beta)}


# -- invariances and equivalent parametrizations ---------------------------------------------------------------------
def test_pandas_input_and_row_order_give_the_same_fit(fev, fit_us):
    shuffled = fev.sample(fraction=1.0, shuffle=True, seed=4).to_pandas()
    assert isinstance(shuffled, pd.DataFrame)
    fit = mmrm(shuffled, response="FEV1", fixed=MODEL, visit="AVISIT", subject="USUBJID")
    np.testing.assert_allclose(fit.beta, fit_us.beta, rtol=1e-6)
    assert fit.neg2_loglik == pytest.approx(fit_us.neg2_loglik, abs=1e-6)


def test_nested_coding_is_a_reparametrization(fev, fit_us):
    """AVISIT + ARMCD:AVISIT (treatment effect per visit) is the same model as ARMCD*AVISIT."""
    fit = mmrm(fev, response="FEV1", fixed=["AVISIT", "ARMCD:AVISIT", "FEV1_BL"], visit="AVISIT", subject="USUBJID")
    assert "ARMCDTRT:AVISITVIS3" in fit.design.names and "ARMCDTRT" not in fit.design.names
    assert fit.neg2_loglik == pytest.approx(fit_us.neg2_loglik, abs=1e-6)
    a = fit.lsmeans("ARMCD", by="AVISIT").vs_reference().sort("AVISIT")
    b = fit_us.lsmeans("ARMCD", by="AVISIT").vs_reference().sort("AVISIT")
    np.testing.assert_allclose(a["estimate"], b["estimate"], rtol=1e-6)
    np.testing.assert_allclose(a["df"], b["df"], rtol=1e-4)
    # the per-visit coefficient is the visit's treatment difference
    fe = dict(zip(fit.fixed_effects["term"], fit.fixed_effects["estimate"], strict=True))
    assert fe["ARMCDTRT:AVISITVIS3"] == pytest.approx(a.filter(pl.col("AVISIT") == "VIS3")["estimate"][0], rel=1e-6)


def test_grouped_covariance_equals_separate_fits(fev):
    """With every fixed effect within arm, a covariance per arm splits the likelihood into the two arms' fits."""
    fit = mmrm(fev, response="FEV1", fixed=["ARMCD", "AVISIT", "ARMCD:AVISIT"], visit="AVISIT", subject="USUBJID",
               covariance="us", group="ARMCD")
    assert set(fit.covariance) == {"PBO", "TRT"}
    total = 0.0
    for arm in ("PBO", "TRT"):
        sep = mmrm(fev.filter(pl.col("ARMCD") == arm), response="FEV1", fixed=["AVISIT"], visit="AVISIT",
                   subject="USUBJID")
        total += sep.neg2_loglik
        np.testing.assert_allclose(fit.covariance[arm], sep.covariance, rtol=1e-4)
    assert fit.neg2_loglik == pytest.approx(total, abs=1e-5)


def test_lsmeans_pairs_and_reference(fit_us):
    ls = fit_us.lsmeans("ARMCD", by="AVISIT")
    assert ls.table.height == 8
    pairs = ls.pairs()
    assert pairs.height == 4 and pairs["contrast"][0] == "PBO - TRT"
    vs = ls.vs_reference("PBO")
    np.testing.assert_allclose(vs["estimate"], -pairs["estimate"].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(vs["pvalue"], pairs["pvalue"], rtol=1e-10)
    lo, hi = vs["ci_low"].to_numpy(), vs["ci_high"].to_numpy()
    assert np.all(lo < vs["estimate"].to_numpy()) and np.all(vs["estimate"].to_numpy() < hi)
    with pytest.raises(TrialkitError, match="not a level"):
        ls.vs_reference("XXX")
    with pytest.raises(TrialkitError, match="not a factor"):
        fit_us.lsmeans("FEV1_BL")


# -- errors ---------------------------------------------------------------------------------------------------------
def test_input_errors(fev):
    kw = dict(response="FEV1", visit="AVISIT", subject="USUBJID")
    with pytest.raises(TrialkitError, match="not in the data"):
        mmrm(fev, fixed=["ARMCD", "NOPE"], **kw)
    with pytest.raises(TrialkitError, match="covariance="):
        mmrm(fev, fixed=["ARMCD"], covariance="unstructured", **kw)
    with pytest.raises(TrialkitError, match="singular"):
        mmrm(fev.with_columns(BL2=pl.col("FEV1_BL") * 2), fixed=["ARMCD", "FEV1_BL", "BL2"], **kw)
    with pytest.raises(TrialkitError, match="more than one row"):
        mmrm(pl.concat([fev, fev.head(3)]), fixed=["ARMCD"], **kw)
    few = fev.filter(~((pl.col("AVISIT") == "VIS4") & (pl.col("USUBJID") != "PT1")))
    with pytest.raises(TrialkitError, match="too few subjects"):
        mmrm(few, fixed=["ARMCD"], **kw)
    with pytest.raises(TrialkitError, match="group changes within a subject"):
        mmrm(fev, fixed=["ARMCD"], group="AVISIT", **kw)
    with pytest.raises(TrialkitError, match="numeric"):
        mmrm(fev, fixed=["ARMCD"], response="SEX", visit="AVISIT", subject="USUBJID")
    with pytest.raises(TrialkitError, match="polars or pandas"):
        mmrm([1, 2], fixed=["ARMCD"], **kw)


def test_degenerate_variance_is_reported(fev):
    # a visit with no variability: the variance goes to the boundary and the fit must not pass silently
    flat = fev.with_columns(pl.when(pl.col("AVISIT") == "VIS2").then(40.0).otherwise(pl.col("FEV1")).alias("FEV1"))
    with pytest.raises(TrialkitError, match="converge|boundary|singular|positive definite"):
        mmrm(flat, response="FEV1", fixed=["ARMCD"], visit="AVISIT", subject="USUBJID")
