"""Threshold filter, ordering, EAIR limits, events of special interest and input errors."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from scipy import stats

from trialkit.ard import lookup
from trialkit.errors import TrialkitError
from trialkit.safety import tables
from trialkit.safety._stats import poisson_rate_ci


def _toy() -> tuple[pl.DataFrame, pl.DataFrame]:
    """10 subjects per arm; PT counts chosen to sit on both sides of a 20% threshold."""
    ids = [f"P{i}" for i in range(10)] + [f"A{i}" for i in range(10)]
    adsl = pl.DataFrame({"USUBJID": ids, "TRT01A": ["Placebo"] * 10 + ["Active"] * 10,
                         "TRT01AN": [0] * 10 + [1] * 10, "SAFFL": "Y",
                         "TRTSDT": dt.date(2024, 1, 1), "TRTEDT": dt.date(2024, 12, 30)})
    rows = []

    def add(subj: str, soc: str, pt: str, sev: str = "MILD", te: str | None = "Y", day: int = 10) -> None:
        rows.append((subj, soc, pt, sev, te, day))

    for i in range(3):
        add(f"A{i}", "Gastrointestinal disorders", "Nausea")       # Active 30%
    add("P0", "Gastrointestinal disorders", "Nausea")               # Placebo 10%
    for i in range(2):
        add(f"P{i}", "Nervous system disorders", "Headache", "SEVERE")  # Placebo 20% (exactly at threshold)
    add("A5", "Nervous system disorders", "Headache")
    add("A5", "Nervous system disorders", "Headache", "MODERATE", day=40)  # second episode, worse
    add("A6", "Gastrointestinal disorders", "Diarrhoea")            # 10%, below threshold
    add("A7", "Gastrointestinal disorders", "Gastric ulcer", "SEVERE", day=100)
    add("A8", "Gastrointestinal disorders", "Diarrhoea", te=None)   # not treatment-emergent
    s, c, p, v, t, d = zip(*rows, strict=True)
    adae = pl.DataFrame({"USUBJID": s, "AEBODSYS": c, "AEDECOD": p, "AESEV": v, "TRTEMFL": t, "ASTDY": d,
                         "AESER": ["N"] * len(s), "AEREL": ["RELATED"] * len(s), "AEACN": [None] * len(s)},
                        schema_overrides={"AEACN": pl.Utf8})
    return adae, adsl


def test_threshold_and_order():
    adae, adsl = _toy()
    full = tables.ae_soc_pt(adae, adsl).to_frame()
    rows = full.filter((pl.col("stat_name") == "n") & (pl.col("group1_level") == "Placebo"))
    assert rows["variable_level"].to_list() == [
        "Y", "Gastrointestinal disorders", "Nausea", "Diarrhoea", "Gastric ulcer",
        "Nervous system disorders", "Headache"]
    assert tables.ae_soc_pt(adae, adsl).to_frame()["group1_level"].unique(maintain_order=True).to_list() == [
        "Placebo", "Active"]  # arm order from TRT01AN
    cut = tables.ae_soc_pt(adae, adsl, threshold=0.2).to_frame()
    kept = cut.filter((pl.col("variable") == "AEDECOD") & (pl.col("stat_name") == "n"))
    assert set(kept["variable_level"]) == {"Nausea", "Headache"}  # 20% exactly is kept
    # the SOC row still counts all its PTs: GI SOC in Active = A0-A2, A6, A7
    assert lookup(cut, "AE_SOC_PT", "n", variable="AEBODSYS", variable_level="Gastrointestinal disorders",
                  TRT01A="Active") == 5
    only_active = tables.ae_soc_pt(adae, adsl, threshold=0.2, threshold_arms=["Active"]).to_frame()
    assert set(only_active.filter(pl.col("variable") == "AEDECOD")["variable_level"]) == {"Nausea"}
    assert "Nervous system disorders" not in set(only_active["variable_level"].drop_nulls())
    flat = tables.ae_soc_pt(adae, adsl, include_soc=False, sort_by="Placebo").to_frame()
    order = flat.filter((pl.col("stat_name") == "n") & (pl.col("group1_level") == "Active")
                        & (pl.col("variable") == "AEDECOD"))["variable_level"].to_list()
    assert order == ["Headache", "Nausea", "Diarrhoea", "Gastric ulcer"]
    with pytest.raises(TrialkitError, match="proportion"):
        tables.ae_soc_pt(adae, adsl, threshold=5)


def test_events_and_max_severity():
    adae, adsl = _toy()
    t = tables.ae_soc_pt(adae, adsl).to_frame()
    assert lookup(t, "AE_SOC_PT", "events", variable="AEDECOD", variable_level="Headache", TRT01A="Active") == 2
    assert lookup(t, "AE_SOC_PT", "n", variable="AEDECOD", variable_level="Headache", TRT01A="Active") == 1
    ms = tables.ae_max_severity(adae, adsl).to_frame()
    hd = dict(AEBODSYS="Nervous system disorders", AEDECOD="Headache")
    assert lookup(ms, "AE_MAXSEV", "n", variable_level="MODERATE", TRT01A="Active", **hd) == 1
    assert lookup(ms, "AE_MAXSEV", "n", variable_level="MILD", TRT01A="Active", **hd) == 0
    assert lookup(ms, "AE_MAXSEV", "n", variable_level="SEVERE", TRT01A="Placebo", **hd) == 2


def test_overview_categories():
    adae, adsl = _toy()
    ov = tables.ae_overview(adae, adsl, reference="Placebo").to_frame()
    assert lookup(ov, "AE_OVERVIEW", "n", variable_level="ANY", TRT01A="Active") == 6
    assert lookup(ov, "AE_OVERVIEW", "n", variable_level="SEVERE", TRT01A="Active") == 1
    assert lookup(ov, "AE_OVERVIEW", "n", variable_level="DEATH", TRT01A="Active") == 0
    rd = lookup(ov, "AE_OVERVIEW_RD", "estimate", variable_level="ANY", TRT01A="Active", REFERENCE="Placebo")
    assert rd == pytest.approx(0.6 - 0.2)  # Placebo: P0 and P1
    with pytest.raises(TrialkitError, match="reference arm"):
        tables.ae_overview(adae, adsl, reference="placebo")


def test_aesi_summary_and_listing():
    adae, adsl = _toy()
    terms = {"GI ulceration": ["Gastric ulcer", "Duodenal ulcer"]}
    s = tables.aesi_summary(adae, adsl, terms, reference="Placebo").to_frame()
    assert lookup(s, "AESI", "n", variable="AESI", variable_level="GI ulceration", TRT01A="Active") == 1
    assert lookup(s, "AESI", "n", variable="AEDECOD", variable_level="Duodenal ulcer", TRT01A="Active") == 0
    lst = tables.aesi_listing(adae, terms)
    assert lst.height == 1 and lst["USUBJID"].to_list() == ["A7"] and lst.columns[0] == "AESI"


def test_eair_first_event_time_at_risk():
    adae, adsl = _toy()
    ard = tables.ae_eair(adae, adsl, by="AEDECOD").to_frame()
    # Headache, Active: A5 at risk until day 10, nine others the whole 365 days
    py = lookup(ard, "AE_EAIR", "exposure", variable_level="Headache", TRT01A="Active")
    assert py == pytest.approx((9 * 365 + 10) / 365.25)
    # terms absent in an arm still get a row, with the whole exposure
    assert lookup(ard, "AE_EAIR", "n", variable_level="Gastric ulcer", TRT01A="Placebo") == 0
    assert lookup(ard, "AE_EAIR", "exposure", variable_level="Gastric ulcer", TRT01A="Placebo") == pytest.approx(
        10 * 365 / 365.25)
    ev = tables.ae_eair(adae, adsl, by=None, count="events").to_frame()
    assert lookup(ev, "AE_EAIR", "n", variable_level="Y", TRT01A="Active") == 7


@pytest.mark.parametrize("x", [0, 1, 2, 7, 30, 250])
def test_garwood_limits_are_exact_poisson_tail_limits(x):
    """The limits solve P(X >= x; mu_lo) = alpha/2 and P(X <= x; mu_hi) = alpha/2 (scipy's Poisson law)."""
    t = 12.5
    r = poisson_rate_ci(x, t, per=100, alpha=0.05)
    mu_lo, mu_hi = r.ci_low / 100 * t, r.ci_high / 100 * t
    if x == 0:
        assert r.ci_low == 0
    else:
        assert stats.poisson.sf(x - 1, mu_lo) == pytest.approx(0.025, rel=1e-8)
    assert stats.poisson.cdf(x, mu_hi) == pytest.approx(0.025, rel=1e-8)
    assert r.estimate == pytest.approx(100 * x / t)


def test_garwood_vectorized_and_errors():
    x = np.array([[0, 3], [5, 9]])
    r = poisson_rate_ci(x, 4.0)
    assert r.ci_high.shape == (2, 2) and np.all(r.ci_low <= r.estimate) and np.all(r.estimate <= r.ci_high)
    with pytest.raises(TrialkitError):
        poisson_rate_ci(-1, 2.0)
    with pytest.raises(TrialkitError):
        poisson_rate_ci(1.5, 2.0)


def test_risk_difference_methods_and_zero_cells():
    adae, adsl = _toy()
    ard = tables.aesi_summary(adae, adsl, ["Duodenal ulcer", "Gastric ulcer"], reference="Placebo").to_frame()
    k = dict(variable="AEDECOD", variable_level="Duodenal ulcer", TRT01A="Active", REFERENCE="Placebo")
    assert lookup(ard, "AESI_RD", "estimate", **k) == 0  # 0/10 vs 0/10
    assert lookup(ard, "AESI_RD", "ci_low", **k) < 0 < lookup(ard, "AESI_RD", "ci_high", **k)
    wald = tables.ae_overview(adae, adsl, reference="Placebo", rd_method="wald").to_frame()
    lo = lookup(wald, "AE_OVERVIEW_RD", "ci_low", variable_level="ANY", TRT01A="Active", REFERENCE="Placebo")
    se = np.sqrt(0.6 * 0.4 / 10 + 0.2 * 0.8 / 10)
    assert lo == pytest.approx(0.4 - 1.959963984540054 * se)
