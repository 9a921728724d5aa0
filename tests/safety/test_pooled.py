"""Integrated summary of safety (DuckDB) vs base R, with each CDISC Pilot 01 site group taken as a study."""

from __future__ import annotations

import math

import polars as pl
import pytest

from trialkit.ard import lookup
from trialkit.errors import TrialkitError
from trialkit.safety import tables
from trialkit.safety.pooled import POOLED, SafetyDatabase, pooled_safety


@pytest.fixture(scope="module")
def db(pilot):
    adae, adsl = pilot
    d = SafetyDatabase()
    for s in sorted(adsl["SITEGR1"].unique()):
        sl = adsl.filter(pl.col("SITEGR1") == s)
        d.add_study(s, adae.filter(pl.col("USUBJID").is_in(sl["USUBJID"].implode())), sl, exposure="TRTDURD")
    yield d
    d.close()


def test_pooled_counts_match_r(db, ref):
    ard = db.soc_pt().to_frame()
    got = {(r["group1_level"], r["group2_level"], r["variable_level"]): r["stat"]
           for r in ard.filter((pl.col("variable") == "AEDECOD") & (pl.col("stat_name") == "n")).iter_rows(named=True)}
    expected = {(r["study"], r["arm"], r["pt"]): r["n"] for r in ref["pooled_counts"]}
    assert len(expected) > 500
    for k, v in expected.items():
        assert got[k] == v, k
    assert all(v == 0 for k, v in got.items() if k not in expected)
    for r in ref["pooled_counts"]:
        assert lookup(ard, "ISS_SOC_PT", "N", STUDYID=r["study"], ARM=r["arm"]) == r["N"]


def test_pooled_eair_matches_r(db, ref):
    ard = db.eair(time_at_risk="total").to_frame()
    worst = 0.0
    for r in ref["pooled_eair"]:
        if r["py"] == 0:
            continue
        kw = dict(variable_level="Y", STUDYID=r["study"], ARM=r["arm"])
        assert lookup(ard, "ISS_EAIR", "n", **kw) == r["x"]
        for ours, theirs in (("exposure", "py"), ("rate", "rate"), ("ci_low", "lo"), ("ci_high", "hi")):
            v = lookup(ard, "ISS_EAIR", ours, **kw)
            if r[theirs] == 0:
                assert v == 0
            else:
                worst = max(worst, abs(v - r[theirs]) / r[theirs])
    assert worst < 1e-6


def test_pooled_first_event_equals_single_study_polars(pilot, db):
    """DuckDB pooled (sum over site groups) vs the polars single-study functions on the whole study."""
    adae, adsl = pilot
    ours = db.eair(by="AEDECOD").to_frame().filter(pl.col("group1_level") == POOLED)
    single = tables.ae_eair(adae, adsl, exposure="TRTDURD").to_frame()
    for r in ours.filter(pl.col("stat_name").is_in(["n", "exposure", "rate", "ci_high"])).iter_rows(named=True):
        v = lookup(single, "AE_EAIR", r["stat_name"], variable_level=r["variable_level"], TRT01A=r["group2_level"])
        assert math.isclose(v, r["stat"], rel_tol=1e-9), r
    soc = db.soc_pt(threshold=0.05, by_study=False).to_frame()
    flat = tables.ae_soc_pt(adae, adsl, threshold=0.05).to_frame()
    a = soc.filter(pl.col("stat_name") == "n").select("variable", "variable_level", "stat")
    b = flat.filter(pl.col("stat_name") == "n").select("variable", "variable_level", "stat")
    assert a.equals(b)  # same rows in the same display order


def test_arm_map_and_one_call_api(pilot):
    adae, adsl = pilot
    sl1 = adsl.filter(pl.col("SITEGR1") == "701")
    sl2 = adsl.filter(pl.col("SITEGR1") != "701")
    pick = lambda sl: adae.filter(pl.col("USUBJID").is_in(sl["USUBJID"].implode()))  # noqa: E731
    amap = {"Xanomeline Low Dose": "Xanomeline", "Xanomeline High Dose": "Xanomeline"}
    socpt, eair = pooled_safety({"A": (pick(sl1), sl1), "B": (pick(sl2), sl2)}, arm_map=amap, exposure="TRTDURD")
    f = socpt.to_frame()
    assert set(f["group2_level"].drop_nulls()) == {"Placebo", "Xanomeline"}
    assert lookup(f, "ISS_SOC_PT", "N", STUDYID=POOLED, ARM="Xanomeline") == 168
    assert lookup(f, "ISS_SOC_PT", "n", variable="TRTEMFL", STUDYID=POOLED, ARM="Xanomeline") == 77 + 76
    assert lookup(eair.to_frame(), "ISS_EAIR", "n", variable_level="Y", STUDYID=POOLED, ARM="Placebo") == 65


def test_database_file_and_replace(tmp_path, pilot):
    adae, adsl = pilot
    path = tmp_path / "iss.duckdb"
    with SafetyDatabase(path) as d:
        d.add_study("X", adae, adsl)
        d.add_study("X", adae, adsl)  # replacing, not appending
    with SafetyDatabase(path) as d:
        assert d.studies == ["X"]
        assert lookup(d.soc_pt().to_frame(), "ISS_SOC_PT", "N", STUDYID="X", ARM="Placebo") == 86
        with pytest.raises(TrialkitError, match="AEDECOD"):
            d.add_study("Y", adae.drop("AEDECOD"), adsl)
