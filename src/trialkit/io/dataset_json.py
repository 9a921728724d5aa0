"""CDISC Dataset-JSON v1.1 (JSON representation), written and read with the column metadata.

Spec: CDISC Dataset-JSON v1.1 (github.com/cdisc-org/DataExchange-DatasetJson, schema/dataset.yaml):
top-level ``datasetJSONCreationDateTime``, ``datasetJSONVersion``, ``itemGroupOID``, ``records``, ``name``,
``label``, ``columns`` (``itemOID``, ``name``, ``label``, ``dataType``, optional ``targetDataType``,
``length``, ``displayFormat``, ``keySequence``) and ``rows`` (a list of lists). Dates and datetimes are
ISO 8601 strings with ``dataType`` ``date`` / ``datetime``.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from trialkit import _files
from trialkit.errors import TrialkitError
from trialkit.io.meta import DatasetMeta, VariableMeta, infer_meta

VERSION = "1.1.0"
REQUIRED = ("datasetJSONCreationDateTime", "datasetJSONVersion", "itemGroupOID", "records", "name", "label",
            "columns")
_POLARS = {
    "string": pl.Utf8, "integer": pl.Int64, "decimal": pl.Float64, "float": pl.Float64, "double": pl.Float64,
    "boolean": pl.Boolean, "date": pl.Date, "datetime": pl.Datetime("us"), "time": pl.Time, "URI": pl.Utf8,
}


def write_dataset_json(
    df: pl.DataFrame,
    path: str | os.PathLike[str],
    meta: DatasetMeta | None = None,
    *,
    keys: Sequence[str] = (),
    study_oid: str | None = None,
    originator: str = "trialkit",
) -> Path:
    """Write ``df`` as Dataset-JSON v1.1 (atomically). ``keys`` become ``keySequence`` 1, 2, ..."""
    path = Path(path)
    meta = infer_meta(df, (meta.name if meta else "") or path.stem.upper(), meta.label if meta else "", meta)
    cols: list[dict[str, Any]] = []
    for col in df.columns:
        vm = meta.variables[col]
        c: dict[str, Any] = {"itemOID": f"IT.{meta.name}.{col}", "name": col, "label": vm.label,
                             "dataType": vm.type}
        if vm.type == "string" and vm.length:
            c["length"] = vm.length
        if vm.format:
            c["displayFormat"] = vm.format
        if col in keys:
            c["keySequence"] = list(keys).index(col) + 1
        cols.append(c)
    out = df.with_columns(
        [pl.col(c).dt.strftime("%Y-%m-%dT%H:%M:%S") for c, t in df.schema.items() if isinstance(t, pl.Datetime)]
        + [pl.col(c).cast(pl.Utf8) for c, t in df.schema.items() if t in (pl.Date, pl.Time)]
        + [pl.col(c).cast(pl.Utf8) for c, t in df.schema.items() if t == pl.Categorical or isinstance(t, pl.Enum)]
    )
    rows = [list(r) for r in out.iter_rows()]
    for r in rows:  # JSON has no NaN: a missing number is null
        for i, v in enumerate(r):
            if isinstance(v, float) and v != v:
                r[i] = None
    doc: dict[str, Any] = {
        "datasetJSONCreationDateTime": _dt.datetime.now().replace(microsecond=0).isoformat(),
        "datasetJSONVersion": VERSION,
        "fileOID": f"trialkit.{meta.name}",
        "originator": originator,
        "sourceSystem": {"name": "trialkit", "version": _version()},
        "itemGroupOID": f"IG.{meta.name}",
        "records": df.height,
        "name": meta.name,
        "label": meta.label,
        "columns": cols,
        "rows": rows,
    }
    if study_oid:
        doc["studyOID"] = study_oid
    return _files.write_text(path, json.dumps(doc, ensure_ascii=False, allow_nan=False))


def _version() -> str:
    from trialkit import __version__

    return __version__


def _bad(path: Path, problem: str, fix: str = "re-export the file as Dataset-JSON v1.1") -> TrialkitError:
    return TrialkitError(problem, source=str(path), fix=fix)


def parse_dataset_json(doc: Any, path: Path) -> tuple[pl.DataFrame, DatasetMeta]:
    """Validate a parsed Dataset-JSON document and turn it into a frame and metadata."""
    if not isinstance(doc, dict):
        raise _bad(path, "not a Dataset-JSON document (top level is not an object)")
    missing = [k for k in REQUIRED if k not in doc]
    if missing:
        raise _bad(path, f"not a Dataset-JSON v1.1 document: missing {', '.join(missing)}")
    version = str(doc["datasetJSONVersion"])
    if not version.startswith("1.1"):
        raise _bad(path, f"Dataset-JSON version {version} is not supported (only 1.1)",
                   fix="convert the file to Dataset-JSON v1.1")
    columns = doc["columns"]
    if not isinstance(columns, list) or not all(isinstance(c, dict) and "name" in c for c in columns):
        raise _bad(path, "'columns' must be a list of objects with a name")
    variables: dict[str, VariableMeta] = {}
    for c in columns:
        typ = c.get("dataType", "string")
        if typ not in _POLARS:
            raise TrialkitError(f"unknown dataType {typ!r}", source=str(path), variable=c["name"],
                                fix="use string, integer, decimal, float, double, boolean, date, datetime, time")
        variables[c["name"]] = VariableMeta(name=c["name"], label=c.get("label", ""), type=typ,
                                            length=c.get("length"), format=c.get("displayFormat"))
    rows = doc.get("rows", [])
    if not isinstance(rows, list):
        raise _bad(path, "'rows' must be a list of lists")
    ncol = len(columns)
    bad_rows = [i + 1 for i, r in enumerate(rows) if not isinstance(r, list) or len(r) != ncol]
    if bad_rows:
        raise TrialkitError(f"rows do not have {ncol} values (one per column)", source=str(path),
                            variable="rows", rows=bad_rows, fix="re-export the file")
    if doc["records"] != len(rows):
        raise _bad(path, f"'records' says {doc['records']} but the file holds {len(rows)} rows",
                   fix="the file may be truncated; re-export it")
    data = {name: [r[j] for r in rows] for j, name in enumerate(variables)}
    frame: dict[str, pl.Series] = {}
    for name, vm in variables.items():
        values = data[name]
        target = _POLARS[vm.type]
        try:
            if vm.type in ("date", "datetime", "time"):
                s = pl.Series(name, values, dtype=pl.Utf8)
                if vm.type == "date":
                    s = s.str.to_date("%Y-%m-%d", strict=True)
                elif vm.type == "datetime":
                    s = s.str.to_datetime(strict=True, time_unit="us")
                else:
                    s = s.str.to_time(strict=True)
            elif vm.type == "decimal":
                s = pl.Series(name, [None if v is None else float(v) for v in values], dtype=pl.Float64)
            else:
                s = pl.Series(name, values, dtype=target, strict=True)
        except (TypeError, ValueError, pl.exceptions.PolarsError) as exc:
            raise TrialkitError(f"values do not match dataType {vm.type!r} ({exc})".split("\n")[0],
                                source=str(path), variable=name, fix="correct the values or the dataType") from None
        frame[name] = s
    df = pl.DataFrame(list(frame.values())) if frame else pl.DataFrame()
    return df, DatasetMeta(name=str(doc["name"]), label=str(doc.get("label", "")), variables=variables)


def read_dataset_json(path: str | os.PathLike[str]) -> tuple[pl.DataFrame, DatasetMeta]:
    """Read a Dataset-JSON v1.1 file; a truncated or malformed file raises :class:`TrialkitError`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _bad(path, "file not found", fix="check the path") from None
    except UnicodeDecodeError as exc:
        raise _bad(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _bad(path, f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); the file may be "
                   "truncated") from None
    return parse_dataset_json(doc, path)
