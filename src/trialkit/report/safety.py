"""Safety tables and the safety part of the topline, rendered from the ARD only."""

from __future__ import annotations

from typing import Any

import polars as pl

from trialkit.report.formats import fmt_pct
from trialkit.study import Study

ARM = "TRT01A"


def _rows(ard: pl.DataFrame, analysis_id: str) -> pl.DataFrame:
    d = ard.filter((pl.col("analysis_id") == analysis_id) & (pl.col("group1") == ARM)
                   & pl.col("stat_name").is_in(["n", "p"]) & (pl.col("variable") != "USUBJID"))
    return d.with_columns(
        pl.when(pl.col("group2") == "AESI").then(pl.col("group2_level")).otherwise(None).alias("_aesi"))


def n_pct_table(ard: pl.DataFrame, analysis_id: str, study: Study, label: str = "Term") -> pl.DataFrame:
    """Rows in the ARD's order, one column per arm with "n (%)" and the arm's N in the header."""
    d = _rows(ard, analysis_id)
    ns = ard.filter((pl.col("analysis_id") == analysis_id) & (pl.col("stat_name") == "N"))
    n_by_arm = dict(zip(ns["group1_level"], ns["stat"], strict=False))
    keys: list[tuple[str, str]] = []
    cells: dict[tuple[str, str, str], dict[str, float]] = {}
    for r in d.iter_rows(named=True):
        key = (r["variable"], r["variable_level"] or "")
        if key not in keys:
            keys.append(key)
        cells.setdefault((*key, r["group1_level"]), {})[r["stat_name"]] = r["stat"]
    rows = []
    for var, lvl in keys:
        name = lvl if var != "TRTEMFL" else "Any TEAE"
        row = {label: ("  " + name) if var == "AEDECOD" and analysis_id != "AE_PT_GE5" else name}
        for a in study.arms:
            c = cells.get((var, lvl, a.label), {})
            n, p = c.get("n"), c.get("p")
            col = f"{a.label} (N={int(n_by_arm.get(a.label, 0))})"
            row[col] = "" if n is None else f"{int(n)} ({fmt_pct(p)})"
        rows.append(row)
    return pl.DataFrame(rows)


def safety_topline(ard: pl.DataFrame, study: Study) -> dict[str, Any] | None:
    """Subjects with TEAEs, preferred terms in >= 5% of any arm, and events of special interest, by arm id."""
    if ard.filter(pl.col("analysis_id") == "AE_OVERVIEW").height == 0:
        return None
    by_label = {a.label: a.id for a in study.arms}

    def collect(analysis_id: str, var: str) -> list[dict[str, Any]]:
        d = _rows(ard, analysis_id).filter(pl.col("variable") == var)
        out: dict[str, dict[str, Any]] = {}
        for r in d.iter_rows(named=True):
            e = out.setdefault(r["variable_level"], {"term": r["variable_level"], "by_arm": {}})
            e["by_arm"].setdefault(by_label[r["group1_level"]], {})[r["stat_name"]] = r["stat"]
        return list(out.values())

    return {"overview": collect("AE_OVERVIEW", "TEAE"), "pt_ge_5pct": collect("AE_PT_GE5", "AEDECOD"),
            "special_interest": collect("AESI", "AESI")}
