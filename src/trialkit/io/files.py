"""Format dispatch, Parquet and CSV, and finding the datasets of a folder."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import polars as pl

from trialkit import _files
from trialkit.errors import TrialkitError
from trialkit.io.dataset_json import read_dataset_json, write_dataset_json
from trialkit.io.meta import Dataset, DatasetMeta, infer_meta
from trialkit.io.xpt import read_xpt, write_xpt

#: file extension -> format name
FORMATS = {".xpt": "xpt", ".json": "json", ".parquet": "parquet", ".csv": "csv"}
_META_KEY = b"trialkit.meta"
#: CSV columns read as text whatever they look like: identifiers and groups (SITEGR1 "1" is not a number)
_CSV_TEXT = re.compile(r"^(.*ID|SITEGR\d*|.*GR\d+|ARM|ACTARM|TRT\d\d[PA]|.*DTC|DOMAIN|VISIT)$")


def _format(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise TrialkitError(f"unknown file type {path.suffix!r}", source=str(path),
                            fix=f"use one of {', '.join(FORMATS)}")
    return fmt


def write_parquet(df: pl.DataFrame, path: str | os.PathLike[str], meta: DatasetMeta | None = None) -> Path:
    """Parquet with the metadata (labels, types, lengths) as JSON in the schema metadata."""
    path = Path(path)
    meta = infer_meta(df, (meta.name if meta else "") or path.stem.upper(), meta.label if meta else "", meta)
    # polars' own writer: no Arrow copy of large frames (QS of a big simulation has tens of millions of rows)
    kv = {_META_KEY.decode(): meta.to_json()}
    return _files.write_with(path, lambda tmp: df.write_parquet(tmp, metadata=kv))


def read_parquet(path: str | os.PathLike[str]) -> tuple[pl.DataFrame, DatasetMeta]:
    path = Path(path)
    if not path.is_file():
        raise TrialkitError("file not found", source=str(path), fix="check the path")
    try:
        df = pl.read_parquet(path)
        kv = pl.read_parquet_metadata(path) or {}
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise TrialkitError(f"not a readable Parquet file ({exc})", source=str(path),
                            fix="re-write the file; it may be truncated") from None
    raw = kv.get(_META_KEY.decode())
    base = None
    if raw:
        try:
            base = DatasetMeta.from_json(raw)
        except (ValueError, TypeError, KeyError):
            base = None
    return df, infer_meta(df, base.name if base else path.stem.upper(), base.label if base else "", base)


def write_csv(df: pl.DataFrame, path: str | os.PathLike[str], meta: DatasetMeta | None = None) -> Path:
    """CSV (UTF-8, header row); CSV cannot keep labels or lengths."""
    del meta
    return _files.write_with(Path(path), lambda tmp: df.write_csv(tmp))


def read_csv(path: str | os.PathLike[str]) -> tuple[pl.DataFrame, DatasetMeta]:
    """CSV with types inferred, except identifiers and groups (``*ID``, ``SITEGR1``, ``*GR1``, ``--DTC``,
    ...) which stay text, and ISO dates parsed as dates."""
    path = Path(path)
    if not path.is_file():
        raise TrialkitError("file not found", source=str(path), fix="check the path")
    try:
        header = pl.read_csv(path, n_rows=0).columns
        overrides = {c: pl.Utf8 for c in header if _CSV_TEXT.match(c.upper())}
        df = pl.read_csv(path, schema_overrides=overrides, try_parse_dates=True, infer_schema_length=None)
    except (pl.exceptions.PolarsError, UnicodeDecodeError) as exc:
        raise TrialkitError(f"not a readable CSV file ({str(exc).splitlines()[0]})", source=str(path),
                            fix="save the file as UTF-8 CSV with a header row") from None
    return df, infer_meta(df, path.stem.upper())


def read_dataset(path: str | os.PathLike[str]) -> Dataset:
    """Read a dataset in any supported format, chosen by the extension; returns ``Dataset(df, meta)``."""
    path = Path(path)
    fmt = _format(path)
    reader = {"xpt": read_xpt, "json": read_dataset_json, "parquet": read_parquet, "csv": read_csv}[fmt]
    df, meta = reader(path)
    return Dataset(df, meta)


def write_dataset(
    df: pl.DataFrame, path: str | os.PathLike[str], meta: DatasetMeta | None = None
) -> Path:
    """Write ``df`` in the format named by the extension of ``path`` (atomically)."""
    path = Path(path)
    fmt = _format(path)
    writer = {"xpt": write_xpt, "json": write_dataset_json, "parquet": write_parquet, "csv": write_csv}[fmt]
    return writer(df, path, meta)


def _is_dataset_json(path: Path) -> bool:
    """Whether a .json file is Dataset-JSON (cheap look at its start); other JSON files are skipped."""
    with path.open("rb") as fh:
        head = fh.read(4096)
    return b"datasetJSONVersion" in head or b"itemGroupOID" in head or b'"columns"' in head


def read_folder(
    folder: str | os.PathLike[str],
    names: Iterable[str] | None = None,
    prefer: Sequence[str] | None = None,
) -> dict[str, Dataset]:
    """Datasets of ``folder`` keyed by upper-case name (``dm.xpt`` -> ``"DM"``).

    ``names`` restricts (and requires) the datasets to read. A dataset present in several formats is an
    error unless ``prefer`` orders the formats (e.g. ``("parquet", "xpt")``). JSON files that are not
    Dataset-JSON (e.g. ``ard.json``) are ignored.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise TrialkitError("folder not found", source=str(folder), fix="give the folder holding the datasets")
    found: dict[str, dict[str, Path]] = {}
    for p in sorted(folder.iterdir()):
        fmt = FORMATS.get(p.suffix.lower())
        if fmt is None or not p.is_file() or p.name.startswith("."):
            continue
        if fmt == "json" and not _is_dataset_json(p):
            continue
        found.setdefault(p.stem.upper(), {})[fmt] = p
    wanted = [n.upper() for n in names] if names is not None else sorted(found)
    missing = [n for n in wanted if n not in found]
    if missing:
        raise TrialkitError(
            f"dataset(s) {', '.join(missing)} not found (found: {', '.join(sorted(found)) or 'none'})",
            source=str(folder),
            fix=f"add {', '.join(n.lower() for n in missing)} as .xpt, .json, .parquet or .csv",
        )
    out: dict[str, Dataset] = {}
    for name in wanted:
        files = found[name]
        if len(files) > 1:
            order = [f for f in (prefer or ()) if f in files]
            if not order:
                raise TrialkitError(
                    f"dataset {name} is present in several formats ({', '.join(p.name for p in files.values())})",
                    source=str(folder), fix="keep one file per dataset, or say which format to prefer")
            path = files[order[0]]
        else:
            path = next(iter(files.values()))
        out[name] = read_dataset(path)
    return out

