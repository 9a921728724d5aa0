"""ADaM derivation verbs on small hand-made frames (expected values worked out by hand)."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from trialkit.adam import (
    assert_vars,
    derive_locf_records,
    derive_param_tte,
    derive_var_ablfl,
    derive_var_base,
    derive_var_chg,
    derive_var_crit_flag,
    derive_var_pchg,
    derive_var_trtemfl,
    derive_vars_avisit,
    derive_vars_dt,
    derive_vars_dy,
    derive_vars_exposure,
    derive_vars_trtdur,
)
from trialkit.errors import TrialkitError


def d(day: int, month: int = 1) -> date:
    return date(2024, month, day)


@pytest.fixture
def bds() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "USUBJID": ["1", "1", "1", "1", "2", "2", "2"],
            "PARAMCD": ["EASI"] * 7,
            "ADY": [-7, 1, 29, 57, -2, 1, 29],
            "AVAL": [30.0, 28.0, 14.0, 7.0, 20.0, None, 0.0],
        }
    )


def test_assert_vars_names_dataset_variables_and_fix() -> None:
    with pytest.raises(TrialkitError) as e:
        assert_vars(pl.DataFrame({"AVAL": [1.0]}), ["AVAL", "BASE", "ADY"], dataset="ADQS")
    msg = str(e.value)
    assert "ADQS" in msg and "BASE, ADY" in msg and "Fix:" in msg
    assert e.value.source == "ADQS" and e.value.variable == "BASE, ADY"
    with pytest.raises(TrialkitError, match="polars DataFrame"):
        assert_vars({"AVAL": [1]}, ["AVAL"])  # type: ignore[arg-type]


def test_verbs_check_their_variables_first(bds: pl.DataFrame) -> None:
    for call in (
        lambda: derive_var_ablfl(bds.drop("ADY")),
        lambda: derive_var_base(bds),  # no ABLFL yet
        lambda: derive_var_chg(bds),
        lambda: derive_var_pchg(bds),
        lambda: derive_vars_dy(bds, dates=["ADT"]),
        lambda: derive_var_crit_flag(bds, pl.col("PCHG") <= -75),
        lambda: derive_var_trtemfl(bds),
    ):
        with pytest.raises(TrialkitError, match="missing required variable"):
            call()


def test_ablfl_last_eligible_nonmissing(bds: pl.DataFrame) -> None:
    out = derive_var_ablfl(bds, filter=pl.col("ADY") <= 1)
    # subject 1: day 1 is the last pre-dose value; subject 2: day 1 is missing -> day -2
    assert out["ABLFL"].to_list() == [None, "Y", None, None, "Y", None, None]
    # without requiring a value the missing day-1 record of subject 2 is baseline
    out2 = derive_var_ablfl(bds, filter=pl.col("ADY") <= 1, require_value=False)
    assert out2["ABLFL"].to_list() == [None, "Y", None, None, None, "Y", None]
    # no filter: the last non-missing record overall (shows why a filter is needed)
    assert derive_var_ablfl(bds)["ABLFL"].to_list() == [None, None, None, "Y", None, None, "Y"]
    assert out.columns == [*bds.columns, "ABLFL"]


def test_ablfl_ties_keep_later_input_record() -> None:
    df = pl.DataFrame({"USUBJID": ["1", "1"], "PARAMCD": ["X", "X"], "ADY": [1, 1], "AVAL": [1.0, 2.0]})
    assert derive_var_ablfl(df, filter=pl.col("ADY") <= 1)["ABLFL"].to_list() == [None, "Y"]


def test_base_chg_pchg(bds: pl.DataFrame) -> None:
    out = (
        bds.pipe(derive_var_ablfl, filter=pl.col("ADY") <= 1)
        .pipe(derive_var_base)
        .pipe(derive_var_chg)
        .pipe(derive_var_pchg)
    )
    assert out["BASE"].to_list() == [28.0, 28.0, 28.0, 28.0, 20.0, 20.0, 20.0]
    assert out["CHG"].to_list() == [2.0, None, -14.0, -21.0, None, None, -20.0]
    assert out["PCHG"].to_list() == pytest.approx([100 * 2 / 28, None, -50.0, -75.0, None, None, -100.0],
                                                  nan_ok=True)
    # admiral convention: CHG = 0 on the baseline record
    assert derive_var_chg(out, null_at_baseline=False)["CHG"][1] == 0.0


def test_pchg_null_when_base_zero_or_null_and_uses_abs_base() -> None:
    df = pl.DataFrame({"AVAL": [3.0, 3.0, 3.0, -1.0], "BASE": [0.0, None, 2.0, -2.0]})
    assert derive_var_pchg(df)["PCHG"].to_list() == [None, None, 50.0, 50.0]


def test_base_character_and_missing_baseline() -> None:
    df = pl.DataFrame(
        {
            "USUBJID": ["1", "1", "2"],
            "PARAMCD": ["IGA"] * 3,
            "AVALC": ["Severe", "Mild", "Clear"],
            "ABLFL": ["Y", None, None],
        }
    )
    out = derive_var_base(df, source="AVALC", new="BASEC")
    assert out["BASEC"].to_list() == ["Severe", "Severe", None]
    assert out.schema["BASEC"] == pl.Utf8


def test_base_two_baselines_is_an_error() -> None:
    df = pl.DataFrame({"USUBJID": ["1", "1"], "PARAMCD": ["X", "X"], "AVAL": [1.0, 2.0], "ABLFL": ["Y", "Y"]})
    with pytest.raises(TrialkitError, match="more than one baseline") as e:
        derive_var_base(df)
    assert e.value.rows == ["1 X"]


WINDOWS = [("Baseline", 0, 1, None, 1), ("Week 4", 4, 29, 2, 42), ("Week 8", 8, 57, 43, None)]


def test_avisit_windows_closest_then_later() -> None:
    df = pl.DataFrame(
        {"USUBJID": ["1"] * 6, "PARAMCD": ["X"] * 6, "ADY": [-3, 1, 26, 32, 30, 90], "AVAL": [1.0] * 6}
    )
    out = derive_vars_avisit(df, WINDOWS)
    assert out["AVISIT"].to_list() == ["Baseline", "Baseline", "Week 4", "Week 4", "Week 4", "Week 8"]
    assert out["AWTDIFF"].to_list() == [4.0, 0.0, 3.0, 3.0, 1.0, 33.0]
    assert out["ANL01FL"].to_list() == [None, "Y", None, None, "Y", "Y"]
    # without day 30 the days 26 and 32 tie at 3 days: the later one wins
    out2 = derive_vars_avisit(df.filter(pl.col("ADY") != 30), WINDOWS)
    assert out2["ANL01FL"].to_list() == [None, "Y", None, "Y", "Y"]
    # a filter removes records from selection (here: missing values)
    out3 = derive_vars_avisit(df.with_columns(AVAL=pl.when(pl.col("ADY") == 30).then(None).otherwise(1.0)),
                              WINDOWS, filter=pl.col("AVAL").is_not_null())
    assert out3["ANL01FL"].to_list() == [None, "Y", None, "Y", None, "Y"]


def test_avisit_outside_windows_and_bad_windows() -> None:
    df = pl.DataFrame({"USUBJID": ["1", "1"], "PARAMCD": ["X", "X"], "ADY": [50, None]})
    out = derive_vars_avisit(df, [("Week 4", 4, 29, 2, 42)])
    assert out["AVISIT"].to_list() == [None, None] and out["ANL01FL"].to_list() == [None, None]
    with pytest.raises(TrialkitError, match="overlap"):
        derive_vars_avisit(df, [("A", 1, 10, 1, 20), ("B", 2, 25, 20, 30)])
    with pytest.raises(TrialkitError, match="5 items"):
        derive_vars_avisit(df, [("A", 1, 10)])  # type: ignore[list-item]


def _visits() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "USUBJID": ["1", "1", "1", "2", "2", "3", "4", "4"],
            "PARAMCD": ["X"] * 8,
            "AVISIT": ["Baseline", "Week 4", "Week 12", "Baseline", "Week 8", "Baseline", "Baseline",
                       "Week 4"],
            "AVISITN": [0.0, 4.0, 12.0, 0.0, 8.0, 0.0, 0.0, 4.0],
            "AVAL": [10.0, 8.0, 6.0, 20.0, 15.0, 30.0, 40.0, 41.0],
            "ABLFL": ["Y", None, None, "Y", None, "Y", "Y", None],
            "ANL01FL": ["Y", "Y", "Y", "Y", "Y", "Y", "Y", None],
        }
    )


def test_locf_fills_intermittent_and_after_dropout() -> None:
    vis = [("Week 4", 4), ("Week 8", 8), ("Week 12", 12)]
    out = derive_locf_records(_visits(), visits=vis, filter=pl.col("ANL01FL") == "Y")
    new = out.filter(pl.col("DTYPE") == "LOCF").select("USUBJID", "AVISIT", "AVISITN", "AVAL").rows()
    # 1: Week 8 missing between Week 4 and Week 12 -> Week 4 value; 2: Week 4 has no earlier post-baseline
    # value (no record), Week 12 after dropout -> Week 8 value; 3: baseline only -> nothing; 4: Week 4 is not
    # an analysis record -> no donor
    assert new == [("1", "Week 8", 8.0, 8.0), ("2", "Week 12", 12.0, 15.0)]
    assert out.height == _visits().height + 2
    # the pilot's convention: carry baseline forward too
    out2 = derive_locf_records(_visits(), visits=vis, filter=pl.col("ANL01FL") == "Y", carry_baseline=True)
    new2 = out2.filter(pl.col("DTYPE") == "LOCF").select("USUBJID", "AVISITN", "AVAL").rows()
    assert ("2", 4.0, 20.0) in new2 and ("3", 12.0, 30.0) in new2 and ("4", 4.0, 40.0) in new2
    assert len(new2) == 2 + 1 + 3 + 3
    assert out2.filter(pl.col("DTYPE") == "LOCF")["ABLFL"].null_count() == len(new2)
    # donors may come from other records than those checked for presence (subject 4's Week 4 record)
    out3 = derive_locf_records(_visits(), visits=vis, filter=pl.col("ANL01FL") == "Y",
                               donor_filter=pl.lit(True))
    new3 = out3.filter(pl.col("DTYPE") == "LOCF", pl.col("USUBJID") == "4").select("AVISITN", "AVAL").rows()
    assert new3 == [(8.0, 41.0), (12.0, 41.0)]  # only to later visits


def test_locf_needs_visits() -> None:
    with pytest.raises(TrialkitError, match="no expected visits"):
        derive_locf_records(_visits(), visits=[])


def test_crit_flag() -> None:
    df = pl.DataFrame({"PCHG": [-80.0, -75.0, -10.0, None]})
    out = derive_var_crit_flag(df, pl.col("PCHG") <= -75, label="EASI-75")
    assert out["CRIT1FL"].to_list() == ["Y", "Y", "N", None]
    assert out["CRIT1"].to_list() == ["EASI-75"] * 4
    out2 = derive_var_crit_flag(df, pl.col("PCHG") <= -75, crit_var="CRIT2", flag_var="CRIT2FL",
                                values_yn=False)
    assert out2["CRIT2FL"].to_list() == ["Y", "Y", None, None]


def test_trtemfl_rules() -> None:
    ae = pl.DataFrame(
        {
            "ASTDT": [d(1), d(2), d(20), d(22), d(25), None, None, d(5)],
            "AENDT": [d(3), None, None, None, None, None, d(1), None],
            "TRTSDT": [d(2)] * 7 + [None],
            "TRTEDT": [d(20)] * 8,
        }
    )
    assert derive_var_trtemfl(ae)["TRTEMFL"].to_list() == [None, "Y", "Y", None, None, "Y", None, None]
    assert derive_var_trtemfl(ae, end_window_days=2)["TRTEMFL"].to_list()[3:5] == ["Y", None]
    assert derive_var_trtemfl(ae, end_window_days=None)["TRTEMFL"].to_list()[3:5] == ["Y", "Y"]
    assert derive_var_trtemfl(ae, missing_start_te=False)["TRTEMFL"].to_list()[5] is None


def test_study_day_has_no_day_zero_and_trtdur() -> None:
    df = pl.DataFrame(
        {"TRTSDT": [d(10)] * 4, "TRTEDT": [d(10), d(11), None, d(31)], "ADT": [d(8), d(9), d(10), None]}
    )
    assert derive_vars_dy(df)["ADY"].to_list() == [-2, -1, 1, None]
    assert derive_vars_dy(df, dates=["TRTEDT"])["TRTEDY"].to_list() == [1, 2, None, 22]
    assert derive_vars_trtdur(df)["TRTDURD"].to_list() == [1, 2, None, 22]


def test_exposure() -> None:
    adsl = pl.DataFrame({"USUBJID": ["1", "2", "3"], "TRTEDT": [d(20), d(5), None], "TRTDURD": [20, 5, None]})
    ex = pl.DataFrame(
        {
            "USUBJID": ["1", "1", "2"],
            "EXDOSE": [54.0, 81.0, 0.0],
            "EXSTDT": [d(1), d(11), d(1)],
            "EXENDT": [d(10), None, d(5)],
        }
    )
    out = derive_vars_exposure(adsl, ex)
    assert out["CUMDOSE"].to_list() == [54 * 10 + 81 * 10, 0.0, None]
    assert out["NEXREC"].to_list() == [2, 1, None]
    assert out["AVGDD"].to_list() == [67.5, 0.0, None]
    bad = ex.with_columns(EXENDT=pl.lit(d(1)))
    with pytest.raises(TrialkitError, match="end before they start"):
        derive_vars_exposure(adsl, bad)


def test_dates_partial_and_invalid() -> None:
    df = pl.DataFrame({"XXDTC": ["2024-02-10T08:30:00", "2024-02", "2023", "", None]})
    assert derive_vars_dt(df)["ADT"].to_list() == [d(10, 2), None, None, None, None]
    first = derive_vars_dt(df, date_imputation="first")
    assert first["ADT"].to_list() == [d(10, 2), d(1, 2), date(2023, 1, 1), None, None]
    assert first["ADTF"].to_list() == [None, "D", "M", None, None]
    last = derive_vars_dt(df, date_imputation="last")
    assert last["ADT"].to_list()[:3] == [d(10, 2), d(29, 2), date(2023, 12, 31)]
    day_only = derive_vars_dt(df, date_imputation="first", highest_imputation="D")
    assert day_only["ADT"].to_list()[:3] == [d(10, 2), d(1, 2), None]
    with pytest.raises(TrialkitError, match="not ISO 8601") as e:
        derive_vars_dt(pl.DataFrame({"XXDTC": ["2024-01-01", "01/02/2024"]}))
    assert e.value.rows == [2]
    with pytest.raises(TrialkitError, match="impossible dates"):
        derive_vars_dt(pl.DataFrame({"XXDTC": ["2023-02-29"]}))


def test_param_tte() -> None:
    adsl = pl.DataFrame(
        {
            "USUBJID": ["1", "2", "3", "4"],
            "TRTSDT": [d(1)] * 4,
            "EOSDT": [d(31)] * 4,
        }
    )
    ae = pl.DataFrame(
        {
            "USUBJID": ["1", "1", "1", "2", "3", "4"],
            "ASTDT": [d(15), d(10), d(10), date(2023, 12, 30), d(9, 2), d(5)],
            "AESEQ": [1, 3, 2, 1, 1, 1],
            "DERM": ["Y", "Y", "Y", "Y", "Y", "N"],
        }
    )
    tte = derive_param_tte(adsl, ae, event=pl.col("DERM") == "Y", censor_date="EOSDT", paramcd="TTDE",
                           evntdesc="Derm event", cnsrdesc="End of study")
    rows = tte.select("USUBJID", "ADT", "AVAL", "CNSR", "SRCSEQ", "EVNTDESC", "CNSRDESC").rows()
    assert rows == [
        ("1", d(10), 10.0, 0, 2.0, "Derm event", None),  # earliest date, then lowest sequence
        ("2", d(31), 31.0, 1, None, "End of study", "End of study"),  # event before start ignored
        ("3", d(9, 2), 40.0, 0, 1.0, "Derm event", None),  # after censor date still counts by default
        ("4", d(31), 31.0, 1, None, "End of study", "End of study"),  # not an event
    ]
    tte2 = derive_param_tte(adsl, ae, event=pl.col("DERM") == "Y", censor_date="EOSDT",
                            ignore_after_censor=True)
    assert tte2["CNSR"].to_list() == [0, 1, 1, 1]
    with pytest.raises(TrialkitError, match="more than one row"):
        derive_param_tte(pl.concat([adsl, adsl]), ae, censor_date="EOSDT")
