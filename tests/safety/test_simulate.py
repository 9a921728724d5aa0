"""Simulated adverse events: SDTM shape, determinism, and convergence to the configured rates."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from trialkit.ard import lookup
from trialkit.errors import TrialkitError
from trialkit.safety import tables
from trialkit.safety.adae import derive_adae
from trialkit.safety.coding import CODING_TABLE, GI_ULCERATION
from trialkit.safety.simulate import IGNITE_EXAMPLE, AESimConfig, simulate_adverse_events

ARMS = ("Placebo", "Rocatinlimab 150 mg", "Rocatinlimab 300 mg")
SDTM_VARS = ["STUDYID", "DOMAIN", "USUBJID", "AESEQ", "AETERM", "AEDECOD", "AEBODSYS", "AESOC", "AESEV", "AESER",
             "AEREL", "AEACN", "AEOUT", "AESDTH", "AESTDTC", "AEENDTC", "AESTDY", "AEENDY"]


def _subjects(n: int, seed: int = 0, exposure: np.ndarray | None = None) -> tuple:
    rng = np.random.default_rng(seed)
    arm = np.array(ARMS)[rng.integers(0, 3, n)]
    ids = pl.Series([f"S{i:07d}" for i in range(n)])
    expo = np.full(n, 168.0) if exposure is None else exposure
    return ids, arm, expo


@pytest.fixture(scope="module")
def large():
    """200,000 subjects on the full 168-day period, through ADAE and the SOC/PT table."""
    n = 200_000
    ids, arm, expo = _subjects(n)
    ae = simulate_adverse_events(ids, arm, expo, "2024-01-01", IGNITE_EXAMPLE, rng=20250308, studyid="IGNITE")
    adsl = pl.DataFrame({"USUBJID": ids, "TRT01A": arm, "SAFFL": "Y",
                         "TRTSDT": dt.date(2024, 1, 1), "TRTEDT": dt.date(2024, 1, 1) + dt.timedelta(days=167)})
    adae = derive_adae(ae, adsl)
    return ae, adsl, adae


def test_sdtm_shape_and_codes(large):
    ae, _, adae = large
    assert ae.columns == SDTM_VARS
    assert ae["DOMAIN"].unique().to_list() == ["AE"]
    assert set(ae["AESEV"].unique()) <= {"MILD", "MODERATE", "SEVERE"}
    assert set(ae["AEOUT"].unique()) <= {"RECOVERED/RESOLVED", "NOT RECOVERED/NOT RESOLVED", "FATAL"}
    # SOC agrees with the coding table for every PT, and AEBODSYS == AESOC
    pairs = ae.select("AEDECOD", "AEBODSYS", "AESOC").unique()
    assert all(CODING_TABLE[p].soc == s for p, s, _ in pairs.iter_rows())
    assert (ae["AEBODSYS"] == ae["AESOC"]).all()
    # AESEQ is 1..k within subject; study days are consistent with the dates
    seq = ae.group_by("USUBJID").agg(pl.col("AESEQ").max().alias("m"), pl.len().alias("k"))
    assert (seq["m"] == seq["k"]).all()
    assert (adae["ASTDY"] == ae["AESTDY"]).all()
    assert (adae.filter(pl.col("AENDY").is_not_null())["AENDY"] >= adae.filter(pl.col("AENDY").is_not_null())
            ["ASTDY"]).all()
    assert (adae["TRTEMFL"] == "Y").all()
    assert ae["AEENDTC"].is_null().equals(ae["AEOUT"] == "NOT RECOVERED/NOT RESOLVED")
    fatal = ae.filter(pl.col("AEOUT") == "FATAL")
    assert (fatal["AESER"] == "Y").all() and (fatal["AESDTH"] == "Y").all()


def test_incidence_converges_to_configured(large):
    _, adsl, adae = large
    ard = tables.ae_soc_pt(adae, adsl, arms=list(ARMS)).to_frame()
    z_max = 0.0
    for pt, spec in IGNITE_EXAMPLE["terms"].items():
        for arm in ARMS:
            p = spec["incidence"][arm]
            got = lookup(ard, "AE_SOC_PT", "p", variable="AEDECOD", variable_level=pt, TRT01A=arm)
            N = lookup(ard, "AE_SOC_PT", "N", TRT01A=arm)
            if p == 0:
                assert got is None or got == 0, (pt, arm)
                continue
            z = abs(got - p) / np.sqrt(p * (1 - p) / N)
            z_max = max(z_max, z)
    assert z_max < 4.5, z_max


def test_event_attributes_converge(large):
    ae, _, _ = large
    pyr = ae.filter(pl.col("AEDECOD") == "Dermatitis atopic")
    n = pyr.height
    sev = pyr["AESEV"].value_counts(normalize=True)
    want = dict(zip(("MILD", "MODERATE", "SEVERE"), IGNITE_EXAMPLE["terms"]["Dermatitis atopic"]["severity"],
                    strict=True))
    for s, share in sev.iter_rows():
        assert abs(share - want[s]) < 4.5 * np.sqrt(want[s] * (1 - want[s]) / n)
    w = (pyr["AEACN"] == "DRUG WITHDRAWN").mean()
    assert abs(w - 0.08) < 4.5 * np.sqrt(0.08 * 0.92 / n)
    # recurrence: events per subject with the PT = 1 + Poisson(0.4)
    per_subj = pyr.group_by("USUBJID").len()["len"].mean()
    assert abs(per_subj - 1.4) < 0.02
    ulc = ae.filter(pl.col("AEDECOD").is_in(GI_ULCERATION))
    assert abs((ulc["AESER"] == "Y").mean() - 0.3) < 4.5 * np.sqrt(0.21 / ulc.height)


def test_partial_exposure_scales_incidence():
    n = 60_000
    rng = np.random.default_rng(3)
    expo = rng.uniform(10, 168, n)
    ids, arm, _ = _subjects(n, exposure=expo)
    arm = np.full(n, "A")
    cfg = {"period_days": 168, "terms": {"Headache": {"incidence": {"A": 0.3}}}}
    ae = simulate_adverse_events(ids, arm, expo, "2024-01-01", cfg, rng=11)
    expected = np.mean(1 - 0.7 ** (expo / 168))
    got = ae["USUBJID"].n_unique() / n
    assert abs(got - expected) < 4 * np.sqrt(expected * (1 - expected) / n)
    # onsets fall within exposure
    on = ae.join(pl.DataFrame({"USUBJID": ids, "e": expo}), on="USUBJID")
    assert (on["AESTDY"] <= np.ceil(on["e"])).all() and (on["AESTDY"] >= 1).all()


def test_deterministic_for_seed():
    ids, arm, expo = _subjects(2_000)
    a = simulate_adverse_events(ids, arm, expo, "2024-01-01", IGNITE_EXAMPLE, rng=np.random.default_rng(7))
    b = simulate_adverse_events(ids, arm, expo, "2024-01-01", IGNITE_EXAMPLE, rng=np.random.default_rng(7))
    c = simulate_adverse_events(ids, arm, expo, "2024-01-01", IGNITE_EXAMPLE, rng=8)
    assert a.equals(b)
    assert not a.equals(c)
    cat = simulate_adverse_events(ids, arm, expo, "2024-01-01", IGNITE_EXAMPLE, rng=7, categorical=True)
    assert cat.with_columns(pl.col(pl.Categorical).cast(pl.Utf8)).equals(a)


def test_ignite_example_meets_press_release_pattern(large):
    _, adsl, adae = large
    common = tables.ae_soc_pt(adae, adsl, arms=list(ARMS), threshold=0.05, threshold_arms=list(ARMS[1:]),
                              include_soc=False).to_frame()
    pts = set(common.filter(pl.col("variable") == "AEDECOD")["variable_level"])
    assert {"Pyrexia", "Chills", "Headache"} <= pts
    gi = tables.aesi_summary(adae, adsl, {"GI ulceration": list(GI_ULCERATION)}, arms=list(ARMS)).to_frame()
    p = {a: lookup(gi, "AESI", "p", variable="AESI", TRT01A=a) for a in ARMS}
    assert p["Placebo"] < p["Rocatinlimab 150 mg"] < 0.01
    assert p["Placebo"] < p["Rocatinlimab 300 mg"] < 0.01


def test_config_errors():
    ids, arm, expo = _subjects(10)
    with pytest.raises(TrialkitError, match="no incidence for arm"):
        simulate_adverse_events(ids, arm, expo, "2024-01-01",
                                {"terms": {"Headache": {"incidence": {"Placebo": 0.1}}}}, rng=1)
    with pytest.raises(TrialkitError, match="not in the built-in coding table"):
        AESimConfig.from_dict({"terms": {"Headach": {"incidence": {"A": 0.1}}}})
    with pytest.raises(TrialkitError, match="out of range"):
        AESimConfig.from_dict({"terms": {"Headache": {"incidence": {"A": 1.0}}}})
    with pytest.raises(TrialkitError, match="unknown keys"):
        AESimConfig.from_dict({"terms": {"Headache": {"incidence": {"A": 0.1}, "rate": 2}}})
    with pytest.raises(TrialkitError, match="exposure_days"):
        simulate_adverse_events(ids, arm, np.zeros(10), "2024-01-01", IGNITE_EXAMPLE, rng=1)
    custom = AESimConfig.from_dict({"terms": {"Vertigo": {"incidence": {"A": 0.5}, "soc": "Ear and labyrinth "
                                                          "disorders"}}})
    out = simulate_adverse_events(ids, np.full(10, "A"), expo, "2024-01-01", custom, rng=2)
    assert set(out["AEBODSYS"]) <= {"Ear and labyrinth disorders"}
