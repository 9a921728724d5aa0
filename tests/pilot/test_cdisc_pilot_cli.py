"""``trialkit cdisc-pilot --out DIR``: files, links, and that tables and figure are rendered from the ARD only."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest

from trialkit.cli import main
from trialkit.errors import TrialkitError

TABLE_STEMS = ["t_14_2_01", "t_14_3_01", "t_14_3_13", "t_14_5_01"]


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("pilot") / "out"
    assert main(["cdisc-pilot", "--out", str(d)]) == 0
    return d


def test_all_outputs_written_and_linked(out):
    expected = {"ard.parquet", "ard.json", "index.html", "f_14_1_km_ttde.png", "f_14_1_km_ttde.svg"}
    expected |= {f"{s}.{ext}" for s in TABLE_STEMS for ext in ("html", "rtf")}
    assert {p.name for p in out.iterdir()} == expected | {"study-file"}, "no temporary or extra files"
    topline = json.loads((out / "study-file" / "topline.json").read_text())
    assert topline["study"] == "CDISCPILOT01" and topline["source"] == "observed"
    index = (out / "index.html").read_text()
    for name in expected - {"index.html"}:
        assert f"href='{name}'" in index, name
    assert (out / "f_14_1_km_ttde.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in (out / "f_14_1_km_ttde.svg").read_bytes()[:2000]
    for s in TABLE_STEMS:
        assert (out / f"{s}.rtf").read_text().startswith("{\\rtf1")


def test_ard_files_agree(out):
    pq = pl.read_parquet(out / "ard.parquet")
    js = json.loads((out / "ard.json").read_text())
    assert pq.height == len(js) > 3000
    assert set(pq["analysis_id"].unique()) == {"14-2.01", "14-3.01", "14-3.13", "14-5.01", "14-1"}


def test_tables_show_the_csr_numbers(out):
    t301 = (out / "t_14_3_01.html").read_text()
    for cell in ("0.245", "0.569", "0.233", "0.520", "-0.5 (0.82)", "-1.0 (0.84)", "(-2.1;1.1)", "(-2.7;0.7)",
                 "(-2.2;1.1)", "24.1 (12.19)", "2.0 (-11;17)"):
        assert cell in t301, cell
    rtf = (out / "t_14_3_01.rtf").read_text()
    assert "-0.5 (0.82)" in rtf and "0.245" in rtf
    t313 = (out / "t_14_3_13.html").read_text()
    assert all(p in t313 for p in ("0.2727", "0.4003", "0.6180"))
    t201 = (out / "t_14_2_01.html").read_text()
    assert all(p in t201 for p in ("0.5934", "0.0030", "75.2", "14 (16%)", "Total (N=254)"))
    t501 = (out / "t_14_5_01.html").read_text()
    assert "APPLICATION SITE PRURITUS" in t501 and "Placebo (N=86)" in t501


def test_rendering_reads_the_ard_only(out):
    """Change a number in the ARD: the rendered table changes with it."""
    from trialkit.pilot.render import Lookup, table_14_3_01, to_html

    ard = pl.read_parquet(out / "ard.parquet")
    f = (pl.col("analysis_id") == "14-3.01") & (pl.col("variable_level") == "dose-response") & (
        pl.col("stat_name") == "pvalue")
    assert ard.filter(f).height == 1
    tampered = ard.with_columns(pl.when(f).then(0.7777).otherwise(pl.col("stat")).alias("stat"))
    html = to_html(table_14_3_01(Lookup(tampered)))
    assert "0.778" in html and "0.245" not in html


def test_bad_input_writes_nothing(tmp_path):
    from trialkit import pilot

    ds = pilot.load_pilot()
    ds["ADADAS"] = ds["ADADAS"].drop("SITEGR1")
    target = tmp_path / "never"
    with pytest.raises(TrialkitError, match=re.escape("SITEGR1")):
        pilot.run(target, datasets=ds)
    assert not target.exists()
