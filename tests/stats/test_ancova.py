"""ANCOVA (CDISC Pilot Table 14-3.01 model) against R lm + emmeans (validation/mmrm/fixtures_r.json).

A least-squares fit is closed-form: compared at 1e-6 relative.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from trialkit.errors import TrialkitError
from trialkit.stats import ancova, dose_response

VAL = Path(__file__).resolve().parents[2] / "validation" / "mmrm"
R = json.loads((VAL / "fixtures_r.json").read_text())["ancova"]
TRTP = {"TRTP": ["Placebo", "Xanomeline Low Dose", "Xanomeline High Dose"]}


@pytest.fixture(scope="module")
def adas() -> pl.DataFrame:
    return pl.read_csv(VAL / "adas_ancova.csv", schema_overrides={"SITEGR1": pl.Utf8})


@pytest.fixture(scope="module")
def fit(adas):
    return ancova(adas, response="CHG", fixed=["TRTP", "SITEGR1", "BASE"], levels=TRTP)


def test_coefficients_match_lm(fit):
    assert fit.fixed_effects["term"].to_list() == R["coef"]["term"]
    np.testing.assert_allclose(fit.fixed_effects["estimate"], R["coef"]["estimate"], rtol=1e-6)
    np.testing.assert_allclose(fit.fixed_effects["se"], R["coef"]["se"], rtol=1e-6)
    assert fit.sigma == pytest.approx(R["sigma"], rel=1e-6)
    assert fit.df_resid == R["df_resid"]


@pytest.mark.parametrize("weights,key", [("equal", "lsmeans"), ("proportional", "lsmeans_proportional")])
def test_lsmeans_match_emmeans(fit, weights, key):
    ls = fit.lsmeans("TRTP", weights=weights).table
    r = pl.DataFrame(R[key])
    assert ls["TRTP"].to_list() == r["TRTP"].to_list()
    for ours, theirs in (("estimate", "emmean"), ("se", "SE"), ("ci_low", "lower.CL"), ("ci_high", "upper.CL"),
                         ("pvalue", "p.value")):
        np.testing.assert_allclose(ls[ours], r[theirs], rtol=1e-6)
    assert ls["df"].to_list() == r["df"].to_list()


def test_differences_match_emmeans(fit):
    ls = fit.lsmeans("TRTP")
    for ours, key in ((ls.vs_reference("Placebo"), "diffs"), (ls.pairs(), "pairs")):
        r = pl.DataFrame(R[key])
        assert ours["contrast"].to_list() == r["contrast"].to_list()
        for a, b in (("estimate", "estimate"), ("se", "SE"), ("ci_low", "lower.CL"), ("ci_high", "upper.CL"),
                     ("pvalue", "p.value")):
            np.testing.assert_allclose(ours[a], r[b], rtol=1e-6)


def test_type3_matches_drop1(fit):
    t3 = fit.type3()
    assert t3["term"].to_list() == R["type3"]["term"]
    np.testing.assert_allclose(t3["F"], R["type3"]["F"], rtol=1e-6)
    np.testing.assert_allclose(t3["pvalue"], R["type3"]["pvalue"], rtol=1e-6)
    assert t3["num_df"].to_list() == R["type3"]["df"]


def test_dose_response_matches_lm(adas):
    r = dose_response(adas, response="CHG", dose="TRTPN", fixed=["SITEGR1", "BASE"])
    ref = R["dose_response"]
    assert r.estimate == pytest.approx(ref["estimate"], rel=1e-6)
    assert r.se == pytest.approx(ref["se"], rel=1e-6)
    assert r.pvalue == pytest.approx(ref["pvalue"], rel=1e-6)
    assert r.extra["df"] == ref["df"]


def test_sitegr1_as_number_changes_the_model(adas):
    """Reading SITEGR1 as a number silently makes it a covariate: the fit differs (the pitfall in the guide)."""
    numeric = adas.with_columns(pl.col("SITEGR1").cast(pl.Int64))
    f = ancova(numeric, response="CHG", fixed=["TRTP", "SITEGR1", "BASE"], levels=TRTP)
    assert f.df_resid == R["df_resid"] + 9
    # naming the levels makes a numeric column a factor again
    sites = sorted(adas["SITEGR1"].unique().to_list())
    f2 = ancova(numeric, response="CHG", fixed=["TRTP", "SITEGR1", "BASE"], levels={**TRTP, "SITEGR1": sites})
    assert f2.df_resid == R["df_resid"]
    np.testing.assert_allclose(f2.lsmeans("TRTP").table["estimate"], [r["emmean"] for r in R["lsmeans"]], rtol=1e-6)


def test_pandas_input_and_missing_rows(adas, fit):
    pdf = adas.to_pandas()
    pdf.loc[0, "CHG"] = np.nan
    f = ancova(pdf, response="CHG", fixed=["TRTP", "SITEGR1", "BASE"], levels=TRTP)
    assert f.n_obs == fit.n_obs - 1


def test_errors(adas):
    with pytest.raises(TrialkitError, match="not in the data"):
        ancova(adas, response="CHG", fixed=["TRTP", "SITE"])
    with pytest.raises(TrialkitError, match="singular"):
        ancova(adas.with_columns(B2=pl.col("BASE") + 1), response="CHG", fixed=["BASE", "B2", "TRTP"])
    with pytest.raises(TrialkitError, match="numeric"):
        dose_response(adas, response="CHG", dose="TRTP")
    with pytest.raises(TrialkitError, match="weights"):
        ancova(adas, response="CHG", fixed=["TRTP", "BASE"]).lsmeans("TRTP", weights="cells")
