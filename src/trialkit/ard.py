"""Analysis results data (ARD): every reported statistic in one long table.

Columns follow the CDISC analysis-results standard and R's ``cards``: ``analysis_id``, ``group1``,
``group1_level``, ``group2``, ``group2_level``, ``group3``, ``group3_level``, ``variable``, ``variable_level``,
``stat_name``, ``stat`` (unrounded float) and ``fmt`` (display format, e.g. ``"{:.1f}"`` or ``"pct1"``).
Tables and reports render from this table only.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import polars as pl

from trialkit import _files

N_GROUPS = 3
COLUMNS: tuple[str, ...] = (
    "analysis_id",
    *[c for i in range(1, N_GROUPS + 1) for c in (f"group{i}", f"group{i}_level")],
    "variable",
    "variable_level",
    "stat_name",
    "stat",
    "fmt",
)
SCHEMA: dict[str, pl.DataType] = {c: pl.Utf8 for c in COLUMNS} | {"stat": pl.Float64}

#: Plain statistic names used across trialkit.
STAT_NAMES = frozenset(
    "N n p mean sd median q1 q3 min max estimate se df ci_low ci_high statistic pvalue "
    "lsmean lsmean_se rate events exposure".split()
)


class ARD:
    """Collects analysis results row by row; ``to_frame()`` gives the long table.

    >>> ard = ARD()
    >>> ard.add("RESP", "AVALC", "n", 42, groups={"TRT01P": "Placebo"}, fmt="{:.0f}")
    >>> ard.to_frame().select("group1_level", "stat_name", "stat").row(0)
    ('Placebo', 'n', 42.0)
    """

    def __init__(self) -> None:
        self._rows: list[dict[str, Any]] = []

    def add(
        self,
        analysis_id: str,
        variable: str,
        stat_name: str,
        stat: float | int | None,
        *,
        groups: Mapping[str, str] | None = None,
        variable_level: str | None = None,
        fmt: str | None = None,
    ) -> None:
        """Append one statistic. ``groups`` maps grouping variable -> level, in order (at most 3)."""
        groups = dict(groups or {})
        if len(groups) > N_GROUPS:
            raise ValueError(f"at most {N_GROUPS} grouping variables, got {list(groups)}")
        row: dict[str, Any] = {c: None for c in COLUMNS}
        for i, (g, lvl) in enumerate(groups.items(), start=1):
            row[f"group{i}"] = str(g)
            row[f"group{i}_level"] = None if lvl is None else str(lvl)
        value = None if stat is None else float(stat)
        row.update(
            analysis_id=analysis_id,
            variable=variable,
            variable_level=None if variable_level is None else str(variable_level),
            stat_name=stat_name,
            stat=value,
            fmt=fmt,
        )
        self._rows.append(row)

    def add_many(
        self,
        analysis_id: str,
        variable: str,
        stats: Mapping[str, float | int | None],
        *,
        groups: Mapping[str, str] | None = None,
        variable_level: str | None = None,
        fmts: Mapping[str, str] | None = None,
    ) -> None:
        """Append several statistics sharing the same keys."""
        fmts = fmts or {}
        for name, value in stats.items():
            self.add(analysis_id, variable, name, value, groups=groups, variable_level=variable_level,
                     fmt=fmts.get(name))

    def extend(self, other: ARD | pl.DataFrame) -> None:
        """Append all rows of another ARD (or ARD-shaped frame)."""
        frame = other.to_frame() if isinstance(other, ARD) else other
        self._rows.extend(frame.select(COLUMNS).to_dicts())

    def to_frame(self) -> pl.DataFrame:
        """The long table with the standard columns and types."""
        return pl.DataFrame(self._rows, schema=SCHEMA, orient="row")

    def __len__(self) -> int:
        return len(self._rows)


def concat(ards: Iterable[ARD | pl.DataFrame]) -> pl.DataFrame:
    """Stack ARDs into one table."""
    frames = [a.to_frame() if isinstance(a, ARD) else a.select(COLUMNS) for a in ards]
    return pl.concat(frames, how="vertical") if frames else pl.DataFrame(schema=SCHEMA)


def lookup(
    ard: pl.DataFrame,
    analysis_id: str,
    stat_name: str,
    *,
    variable: str | None = None,
    variable_level: str | None = None,
    **group_levels: str,
) -> float | None:
    """Return the single ``stat`` matching the keys (group levels given as ``TRT01P="Placebo"``)."""
    f = (pl.col("analysis_id") == analysis_id) & (pl.col("stat_name") == stat_name)
    if variable is not None:
        f &= pl.col("variable") == variable
    if variable_level is not None:
        f &= pl.col("variable_level") == variable_level
    for g, lvl in group_levels.items():
        f &= pl.any_horizontal(
            [(pl.col(f"group{i}") == g) & (pl.col(f"group{i}_level") == lvl) for i in range(1, N_GROUPS + 1)]
        ).fill_null(False)
    hit = ard.filter(f)
    if hit.height == 0:
        return None
    if hit.height > 1:
        raise ValueError(f"{hit.height} ARD rows match {analysis_id}/{stat_name}/{group_levels}")
    return hit["stat"][0]


def _json_value(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def to_json(ard: pl.DataFrame) -> str:
    """Deterministic JSON: a list of records, unrounded floats (repr), NaN/inf as null."""
    rows = [{k: _json_value(v) for k, v in r.items()} for r in ard.select(COLUMNS).to_dicts()]
    return json.dumps(rows, indent=1, ensure_ascii=False) + "\n"


def write(ard: pl.DataFrame, directory: str | Path, stem: str = "ard") -> tuple[Path, Path]:
    """Write ``DIR/ard.parquet`` and ``DIR/ard.json`` atomically."""
    directory = Path(directory)
    pq = _files.write_with(directory / f"{stem}.parquet", lambda p: ard.select(COLUMNS).write_parquet(p))
    js = _files.write_text(directory / f"{stem}.json", to_json(ard))
    return pq, js
