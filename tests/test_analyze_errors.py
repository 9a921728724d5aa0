"""Malformed inputs through ``trialkit analyze``: each gets one clear message (exit 2, no traceback) and
nothing is written.

The base data are the SDTM of a small simulated IGNITE run (60 patients), written as Parquet; each case corrupts
one thing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from trialkit.cli import main
from trialkit.io import read_dataset, write_dataset

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "studies" / "ignite.toml"


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    from trialkit.pipeline import simulate_sdtm
    from trialkit.study import load_study

    d = tmp_path_factory.mktemp("sdtm")
    for name, df in simulate_sdtm(load_study(STUDY), seed=7, n=60).items():
        write_dataset(df, d / f"{name.lower()}.parquet")
    return d


def _edit(name: str, fn: Callable[[pl.DataFrame], pl.DataFrame]) -> Callable[[Path], None]:
    def apply(d: Path) -> None:
        p = d / f"{name}.parquet"
        write_dataset(fn(read_dataset(p).df), p)
    return apply


def _missing_variable(d: Path) -> None:
    _edit("dm", lambda df: df.drop("SEX"))(d)


def _duplicate_subject(d: Path) -> None:
    _edit("dm", lambda df: pl.concat([df, df.head(1)]))(d)


def _age_as_text(d: Path) -> None:
    _edit("dm", lambda df: df.with_columns(pl.col("AGE").cast(pl.Utf8)))(d)


def _viga_out_of_range(d: Path) -> None:
    def fn(df: pl.DataFrame) -> pl.DataFrame:
        row = (pl.col("QSTESTCD").cast(pl.Utf8) == "VIGA") & (pl.int_range(pl.len()) == pl.col("QSTESTCD").cast(
            pl.Utf8).eq("VIGA").arg_true().first())
        return df.with_columns(pl.when(row).then(7.0).otherwise(pl.col("QSSTRESN")).alias("QSSTRESN"))
    _edit("qs", fn)(d)


def _corrupt_xpt(d: Path) -> None:
    (d / "dm.parquet").unlink()
    (d / "dm.xpt").write_bytes(b"HEADER RECORD*******LIBRARY HEADER RECORD" + os.urandom(2000))


def _truncated_dataset_json(d: Path) -> None:
    p = d / "qs.json"
    write_dataset(read_dataset(d / "qs.parquet").df, p)
    (d / "qs.parquet").unlink()
    raw = p.read_bytes()
    p.write_bytes(raw[: len(raw) // 2])


CASES = {
    "missing variable": (_missing_variable, ["DM", "SEX"]),
    "duplicate subject": (_duplicate_subject, ["DM", "USUBJID"]),
    "wrong type": (_age_as_text, ["DM", "AGE"]),
    "out-of-range score": (_viga_out_of_range, ["QS", "QSSTRESN", "VIGA"]),
    "corrupted XPT": (_corrupt_xpt, ["dm.xpt"]),
    "truncated Dataset-JSON": (_truncated_dataset_json, ["qs.json"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_malformed_input_exits_2_and_writes_nothing(case, base, tmp_path, capsys):
    corrupt, names = CASES[case]
    data = tmp_path / "data"
    shutil.copytree(base, data)
    corrupt(data)
    out = tmp_path / "out"
    code = main(["analyze", str(STUDY), "--data", str(data), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "error:" in err and "Traceback" not in err
    for n in names:
        assert n in err, f"{n!r} not named in: {err}"
    assert not out.exists(), "nothing may be written on failure"


def test_clean_data_passes_the_checks(base):
    from trialkit.pipeline import load_user_data
    from trialkit.study import load_study

    kind, datasets = load_user_data(load_study(STUDY), base)
    assert kind == "sdtm" and "DM" in datasets


def test_subprocess_exit_code_and_message(base, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(base, data)
    _duplicate_subject(data)
    out = tmp_path / "out"
    res = subprocess.run([sys.executable, "-m", "trialkit", "analyze", str(STUDY), "--data", str(data), "--out",
                          str(out)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    assert "DM" in res.stderr and "USUBJID" in res.stderr and "[rows: " in res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    assert not out.exists()
