"""trialkit.safety tables on CDISC Pilot 01 vs base R (validation/safety/safety_reference.R -> JSON)."""

from __future__ import annotations

import math

import polars as pl
import pytest

from trialkit.ard import lookup
from trialkit.safety import tables

ARMS = ["Placebo", "Xanomeline Low Dose", "Xanomeline High Dose"]


def rel_close(a: float, b: float, tol: float = 1e-6) -> bool:
    return math.isclose(a, b, rel_tol=tol, abs_tol=1e-12)


def test_soc_pt_counts_match_r(pilot, ref):
    adae, adsl = pilot
    ard = tables.ae_soc_pt(adae, adsl).to_frame()
    assert len(ref["counts"]) > 700
    checked = 0
    for r in ref["counts"]:
        if r["level"] == "ANY":
            kw = dict(variable="TRTEMFL", variable_level="Y")
        elif r["level"] == "SOC":
            kw = dict(variable="AEBODSYS", variable_level=r["soc"])
        else:
            kw = dict(variable="AEDECOD", variable_level=r["pt"], AEBODSYS=r["soc"])
        n = lookup(ard, "AE_SOC_PT", "n", TRT01A=r["arm"], **kw)
        ev = lookup(ard, "AE_SOC_PT", "events", TRT01A=r["arm"], **kw)
        p = lookup(ard, "AE_SOC_PT", "p", TRT01A=r["arm"], **kw)
        assert (n, ev) == (r["n"], r["events"]), r
        assert rel_close(p, r["n"] / r["N"])
        checked += 1
    for a, N in ref["meta"]["N"].items():
        assert lookup(ard, "AE_SOC_PT", "N", TRT01A=a) == N
    # nothing extra: every PT row of ours is in the reference
    ours = ard.filter((pl.col("variable") == "AEDECOD") & (pl.col("stat_name") == "n"))
    assert ours.height == sum(r["level"] == "PT" for r in ref["counts"])
    assert checked == len(ref["counts"])


def test_overview_matches_r(pilot, ref):
    adae, adsl = pilot
    ard = tables.ae_overview(adae, adsl).to_frame()
    for r in ref["overview"]:
        assert lookup(ard, "AE_OVERVIEW", "n", variable_level=r["category"], TRT01A=r["arm"]) == r["n"], r
        assert lookup(ard, "AE_OVERVIEW", "events", variable_level=r["category"], TRT01A=r["arm"]) == r["events"]


def test_max_severity_matches_r(pilot, ref):
    adae, adsl = pilot
    ard = tables.ae_max_severity(adae, adsl).to_frame().filter(pl.col("stat_name") == "n")
    expected = {}
    for r in ref["max_severity"]:
        expected[(r["arm"], r["soc"], r["pt"], r["severity"])] = r["n"]
    got = {(r["group1_level"], r["group2_level"], r["group3_level"], r["variable_level"]): r["stat"]
           for r in ard.iter_rows(named=True)}
    # only SOC-level rows (group2 set, group3 not) are not in the reference
    got_cmp = {k: v for k, v in got.items() if not (k[1] is not None and k[2] is None)}
    for k, v in got_cmp.items():
        assert v == expected.get(k, 0), k
    for k, v in expected.items():
        assert got_cmp.get(k) == v, k
    assert "MISSING" not in {k[3] for k in got}


@pytest.mark.parametrize("kind", ["first_event", "total"])
def test_eair_matches_r(pilot, ref, kind):
    adae, adsl = pilot
    rows = ref["eair_first_event"] if kind == "first_event" else ref["eair_total"]
    by_pt = tables.ae_eair(adae, adsl, exposure="TRTDURD", time_at_risk=kind).to_frame()
    anyte = tables.ae_eair(adae, adsl, by=None, exposure="TRTDURD", time_at_risk=kind).to_frame()
    worst = 0.0
    for r in rows:
        if r["term"] is None:
            ard, kw = anyte, dict(variable="TRTEMFL", variable_level="Y")
        else:
            ard, kw = by_pt, dict(variable="AEDECOD", variable_level=r["term"])
        assert lookup(ard, "AE_EAIR", "n", TRT01A=r["arm"], **kw) == r["x"]
        for ours, theirs in (("exposure", "py"), ("rate", "rate"), ("ci_low", "lo"), ("ci_high", "hi")):
            v = lookup(ard, "AE_EAIR", ours, TRT01A=r["arm"], **kw)
            if r[theirs] == 0:
                assert v == 0
                continue
            worst = max(worst, abs(v - r[theirs]) / abs(r[theirs]))
    assert worst < 1e-6, worst


def test_risk_difference_matches_r(pilot, ref):
    adae, adsl = pilot
    ard = tables.ae_soc_pt(adae, adsl, reference="Placebo").to_frame()
    worst = 0.0
    for r in ref["risk_difference"]:
        hit = ard.filter((pl.col("analysis_id") == "AE_SOC_PT_RD") & (pl.col("variable") == "AEDECOD")
                         & (pl.col("variable_level") == r["pt"]) & (pl.col("group1_level") == r["arm"]))
        got = dict(zip(hit["stat_name"], hit["stat"], strict=True))
        assert hit["group3_level"].unique().to_list() == ["Placebo"]
        for ours, theirs in (("estimate", "estimate"), ("ci_low", "lo"), ("ci_high", "hi")):
            worst = max(worst, abs(got[ours] - r[theirs]) / max(abs(r[theirs]), 1e-3))
    assert worst < 1e-6, worst
