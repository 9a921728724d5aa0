"""SAS transport (XPT) version 5: a writer of our own and pyreadstat as the reader.

The writer follows SAS Technical Support document TS-140 ("The record layout of a data set in SAS
transport (XPORT) format"): 80-byte header records, one 140-byte NAMESTR per variable, observations as
fixed-width records, numbers as IBM System/370 double precision. Writing it ourselves lets us keep the
declared character lengths (pyreadstat's writer uses the longest value) and check the v5 limits first:
names of 8 characters, labels of 40, character values of 200 bytes (counted in UTF-8), dataset name of 8.
Reading goes through pyreadstat (ReadStat), an independent implementation, so every round trip in the
tests is also a cross-check of the writer.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import re
import struct
from pathlib import Path

import polars as pl

from trialkit import _files
from trialkit.errors import TrialkitError
from trialkit.io.meta import DatasetMeta, VariableMeta, infer_meta

MAX_NAME = 8
MAX_LABEL = 40
MAX_CHAR_BYTES = 200
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SAS_EPOCH = _dt.date(1960, 1, 1)
_SAS_EPOCH_DT = _dt.datetime(1960, 1, 1)


def _rows(mask: pl.Series, limit: int = 10) -> list[int]:
    return [int(i) + 1 for i in mask.fill_null(False).arg_true()[:limit]]


def check_xpt_limits(df: pl.DataFrame, meta: DatasetMeta, source: str | None = None) -> list[TrialkitError]:
    """All violations of the XPT v5 limits, each naming the dataset, the variable and example rows."""
    ds = source or meta.name or "dataset"
    errs: list[TrialkitError] = []
    if not meta.name or len(meta.name) > MAX_NAME or not _NAME_RE.match(meta.name):
        errs.append(TrialkitError(
            f"dataset name {meta.name!r} is not a valid XPT v5 name (1-{MAX_NAME} letters, digits, _)",
            source=ds, fix="give a dataset name of at most 8 characters, e.g. ADSL"))
    if len(meta.label.encode("utf-8")) > MAX_LABEL:
        errs.append(TrialkitError(f"dataset label is longer than {MAX_LABEL} bytes: {meta.label!r}",
                                  source=ds, fix="shorten the dataset label"))
    seen: dict[str, str] = {}
    for col, dtype in df.schema.items():
        if len(col) > MAX_NAME or not _NAME_RE.match(col):
            errs.append(TrialkitError(
                f"variable name is not a valid XPT v5 name (at most {MAX_NAME} letters, digits, _; "
                "not starting with a digit)", source=ds, variable=col,
                fix="rename the variable to at most 8 characters"))
        up = col.upper()
        if up in seen:
            errs.append(TrialkitError(f"variable names {seen[up]!r} and {col!r} differ only in case",
                                      source=ds, variable=col, fix="rename one of them"))
        seen[up] = col
        vm = meta.variables.get(col)
        if vm is not None and len(vm.label.encode("utf-8")) > MAX_LABEL:
            errs.append(TrialkitError(f"label is longer than {MAX_LABEL} bytes: {vm.label!r}", source=ds,
                                      variable=col, fix="shorten the label to 40 characters"))
        if dtype == pl.Utf8:
            nbytes = df.get_column(col).str.len_bytes()
            too_long = nbytes > MAX_CHAR_BYTES
            if too_long.any():
                errs.append(TrialkitError(
                    f"character values longer than {MAX_CHAR_BYTES} bytes (UTF-8; longest {nbytes.max()})",
                    source=ds, variable=col, rows=_rows(too_long),
                    fix="split the text over several variables (e.g. --TERM, --TERM1), as SDTM does"))
            elif vm is not None and vm.length is not None and vm.length > MAX_CHAR_BYTES:
                errs.append(TrialkitError(f"declared length {vm.length} exceeds {MAX_CHAR_BYTES}", source=ds,
                                          variable=col, fix="declare a length of at most 200"))
        elif not (dtype.is_numeric() or dtype in (pl.Date, pl.Boolean) or isinstance(dtype, pl.Datetime)):
            errs.append(TrialkitError(f"type {dtype} cannot be stored in XPT", source=ds, variable=col,
                                      fix="cast to text, a number or a date"))
    return errs


def _ibm(x: float | None) -> bytes:
    """IEEE double -> IBM System/370 double (exact: 53 significant bits fit the 56-bit fraction)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return b"\x2e" + b"\x00" * 7  # SAS missing "."
    if x == 0:
        return b"\x00" * 8
    if math.isinf(x):
        raise ValueError("infinite value")
    sign = 0x80 if x < 0 else 0
    m, e = math.frexp(abs(x))  # abs(x) = m * 2**e, 0.5 <= m < 1
    e16 = -((-e) // 4)  # ceil(e / 4)
    shift = 4 * e16 - e  # 0..3
    frac = int(m * (1 << 53)) << (3 - shift)  # m * 2**(56 - shift), exact
    exp = e16 + 64
    if exp > 127:
        raise OverflowError("value too large for IBM floating point")
    if exp < 0:
        return b"\x00" * 8  # underflow to zero (|x| < 5.4e-79)
    return bytes([sign | exp]) + frac.to_bytes(7, "big")


def _pad(text: str, n: int) -> bytes:
    b = text.encode("utf-8")[:n]
    return b + b" " * (n - len(b))


def _sas_dt(now: _dt.datetime) -> bytes:
    return now.strftime("%d%b%y:%H:%M:%S").upper().encode("ascii")


def _header(kind: str, tail: str = "0" * 30) -> bytes:
    return _pad(f"HEADER RECORD*******{kind:<8}HEADER RECORD!!!!!!!{tail}", 80)


def _numeric_values(s: pl.Series) -> list[float | None]:
    if s.dtype == pl.Date:
        return [None if v is None else float((v - _SAS_EPOCH).days) for v in s.to_list()]
    if isinstance(s.dtype, pl.Datetime):
        return [None if v is None else (v.replace(tzinfo=None) - _SAS_EPOCH_DT).total_seconds() for v in s.to_list()]
    return s.cast(pl.Float64).to_list()


def write_xpt(df: pl.DataFrame, path: str | os.PathLike[str], meta: DatasetMeta | None = None) -> Path:
    """Write ``df`` as an XPT v5 file (atomically), keeping labels, declared lengths and formats.

    Dates are written as SAS dates with format ``DATE9.`` and datetimes as SAS datetimes with
    ``DATETIME20.`` unless ``meta`` names another format. Violations of the v5 limits raise one
    :class:`~trialkit.errors.TrialkitErrors` listing them all.
    """
    from trialkit.errors import TrialkitErrors

    path = Path(path)
    # categorical text (polars Categorical/Enum) is plain text in XPT
    df = df.with_columns(pl.col(pl.Categorical, pl.Enum).cast(pl.Utf8))
    meta = infer_meta(df, (meta.name if meta else "") or path.stem.upper(), meta.label if meta else "", meta)
    errs = check_xpt_limits(df, meta, source=f"{path.name} ({meta.name})")
    if errs:
        raise TrialkitErrors(errs, summary=f"cannot write {path.name} as XPT v5")
    now = _dt.datetime.now().replace(microsecond=0)
    stamp = _sas_dt(now)
    out = bytearray()
    out += _header("LIBRARY")
    out += _pad("SAS     SAS     SASLIB  9.4     trialkit", 64) + stamp
    out += stamp + b" " * 64
    out += _header("MEMBER", "000000000000000001600000000140")
    out += _header("DSCRPTR")
    out += _pad(f"SAS     {meta.name:<8}SASDATA 9.4     trialkit", 64) + stamp
    out += stamp + b" " * 16 + _pad(meta.label, 40) + _pad("", 8)
    out += _header("NAMESTR", f"000000{df.width:04d}" + "0" * 20)
    cols: list[tuple[str, bool, int]] = []
    names = bytearray()
    pos = 0
    for i, (col, dtype) in enumerate(df.schema.items(), start=1):
        vm = meta.variables[col]
        is_char = dtype == pl.Utf8
        length = int(vm.length or 1) if is_char else 8
        fmt = vm.format
        if fmt is None and dtype == pl.Date:
            fmt = "DATE9."
        elif fmt is None and isinstance(dtype, pl.Datetime):
            fmt = "DATETIME20."
        fname, fl, fd = _split_format(fmt)
        names += struct.pack(">hhhh", 2 if is_char else 1, 0, length, i)
        names += _pad(col, 8) + _pad(vm.label, 40) + _pad(fname, 8)
        names += struct.pack(">hhh", fl, fd, 0) + b"\x00\x00" + _pad("", 8) + struct.pack(">hh", 0, 0)
        names += struct.pack(">i", pos) + b"\x00" * 52
        cols.append((col, is_char, length))
        pos += length
    names += b" " * (-len(names) % 80)
    out += names
    out += _header("OBS")
    columns = []
    for col, is_char, length in cols:
        s = df.get_column(col)
        if is_char:
            columns.append([_pad(v or "", length) for v in s.to_list()])
        else:
            try:
                columns.append([_ibm(v) for v in _numeric_values(s)])
            except (ValueError, OverflowError) as exc:
                raise TrialkitError(f"numeric value cannot be stored in XPT ({exc})",
                                    source=f"{path.name} ({meta.name})", variable=col,
                                    fix="replace infinite or huge values by missing") from None
    data = bytearray()
    for row in zip(*columns, strict=True):
        data += b"".join(row)
    if pos and df.height:
        data += b" " * (-len(data) % 80)
    out += data
    return _files.write_bytes(path, bytes(out))


def _split_format(fmt: str | None) -> tuple[str, int, int]:
    """``"DATE9."`` -> ("DATE", 9, 0); ``"8.2"`` -> ("", 8, 2)."""
    if not fmt:
        return "", 0, 0
    m = re.match(r"^(\$?[A-Za-z_]*?)(\d*)\.(\d*)$", fmt)
    if not m:
        return fmt[:8], 0, 0
    return m.group(1)[:8], int(m.group(2) or 0), int(m.group(3) or 0)


def read_xpt(path: str | os.PathLike[str]) -> tuple[pl.DataFrame, DatasetMeta]:
    """Read an XPT (v5 or v8) file with pyreadstat; blank character values become null (SAS has no
    distinction). A file that is not valid XPT raises :class:`TrialkitError` naming it."""
    import pyreadstat

    path = Path(path)
    if not path.is_file():
        raise TrialkitError("file not found", source=str(path), fix="check the path")
    pdf = None
    last: Exception | None = None
    for enc in ("utf-8", "latin1"):
        try:
            pdf, m = pyreadstat.read_xport(str(path), encoding=enc)
            break
        except Exception as exc:  # noqa: BLE001 - pyreadstat raises several types; all mean "bad file"
            last = exc
            if "encoding" not in str(exc).lower() and "convert" not in str(exc).lower():
                break
    if pdf is None:
        raise TrialkitError(f"not a readable SAS transport (XPT) file ({type(last).__name__}: {last})",
                            source=str(path), fix="re-export the dataset as SAS XPT v5, or check the file "
                            "is complete (not truncated by a download or copy)")
    df = pl.from_pandas(pdf)
    widths = dict(m.variable_storage_width or {})
    formats = dict(m.original_variable_types or {})
    labels = dict(m.column_names_to_labels or {})
    fixes = []
    for col, dtype in df.schema.items():
        if dtype == pl.Utf8:
            fixes.append(pl.when(pl.col(col).str.strip_chars_end() == "").then(None).otherwise(pl.col(col))
                         .alias(col))
        elif dtype == pl.Object:
            fixes.append(pl.col(col).cast(pl.Utf8))
        elif isinstance(dtype, pl.Datetime) and (formats.get(col) or "").upper().startswith(
            ("DATE", "YYMMDD", "MMDDYY", "DDMMYY", "E8601DA", "IS8601DA")
        ) and not (formats.get(col) or "").upper().startswith("DATETIME"):
            fixes.append(pl.col(col).dt.date())
    if fixes:
        df = df.with_columns(fixes)
    name = (m.table_name or path.stem).upper()
    variables = {}
    for col, dtype in df.schema.items():
        typ = "string" if dtype == pl.Utf8 else ("date" if dtype == pl.Date else
                                                 "datetime" if isinstance(dtype, pl.Datetime) else "double")
        fmt = formats.get(col)
        variables[col] = VariableMeta(name=col, label=labels.get(col) or "", type=typ,
                                      length=int(widths[col]) if col in widths else None,
                                      format=None if not fmt or fmt in ("$", "NULL") else _norm_format(fmt))
    return df, DatasetMeta(name=name, label=m.file_label or "", variables=variables)


def _norm_format(fmt: str) -> str:
    return fmt if "." in fmt else fmt + "."
