"""Declarative input checks, run before any analysis; every problem is reported, not just the first.

Each analysis step declares what it needs from a dataset::

    Requirement(dataset="ADSL", variables={"USUBJID": "str", "TRT01P": "str", "AGE": "num"},
                keys=["USUBJID"], flags=["ITTFL", "SAFFL"], ranges={"AGE": (0, 120)},
                levels={"TRT01P": Levels(["Placebo", "Active"], "arm labels of the study file")},
                levels_where=["ITTFL"])

``run_checks(datasets, requirements)`` returns the list of problems (each a
:class:`~trialkit.errors.TrialkitError` naming dataset, variable, example rows and the fix);
``assert_checks`` raises them together as one :class:`~trialkit.errors.TrialkitErrors`. Row numbers are
1-based positions in the dataset as given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from trialkit.errors import TrialkitError, TrialkitErrors

#: accepted spellings of the types a requirement can ask for
TYPES = ("str", "num", "int", "date", "datetime", "any")
FLAG_VALUES = frozenset({"Y", "N", ""})
MAX_ROWS = 10


@dataclass(frozen=True)
class Levels:
    """The values a variable may take (compared as text, or as numbers for a numeric variable): ``what`` they
    are in messages (e.g. "arm labels of the study file"), ``fix`` what to do; blanks are bad unless
    ``allow_null``."""

    values: Sequence[str | float]
    what: str = ""
    fix: str = ""
    allow_null: bool = False


@dataclass
class Requirement:
    """What one step needs from one dataset.

    ``variables`` maps names to ``"str"``, ``"num"``, ``"int"``, ``"date"``, ``"datetime"`` or ``"any"``;
    ``keys`` must identify rows uniquely (blank equals blank; keys also listed in ``variables`` must be
    filled on every row); ``flags`` hold only ``Y``/``N``/blank;
    ``ranges`` bound numeric variables (``None`` = open); ``param_ranges`` bound ``value_var`` within each
    ``param_var`` value (the study file's score ranges, by PARAMCD or QSTESTCD); ``visits``
    lists (number, label) pairs that must map one-to-one. ``step`` names the analysis for messages.
    ``filled`` variables must not be blank on any row where the requirement asks for them (by default USUBJID:
    a record without its subject is never usable). ``levels`` restricts variables to listed values (a sequence
    or :class:`Levels`), on the rows where one of the ``levels_where`` flags is ``Y`` (on every row when it is
    empty, or when one of those flags is absent or not text); ``param_levels`` restricts ``value_var`` within
    each ``param_var`` value (the levels of an ordinal score), blanks allowed.
    """

    dataset: str
    variables: Mapping[str, str] = field(default_factory=dict)
    keys: Sequence[str] = ()
    flags: Sequence[str] = ()
    ranges: Mapping[str, tuple[float | None, float | None]] = field(default_factory=dict)
    param_ranges: Mapping[str, tuple[float, float]] | None = None
    param_var: str = "PARAMCD"
    value_var: str = "AVAL"
    visits: Sequence[tuple[str, str]] = (("AVISITN", "AVISIT"), ("VISITNUM", "VISIT"))
    optional: bool = False
    step: str = ""
    filled: Sequence[str] = ("USUBJID",)
    levels: Mapping[str, Sequence[str] | Levels] = field(default_factory=dict)
    levels_where: Sequence[str] = ()
    param_levels: Mapping[str, Sequence[str | float]] | None = None

    def __post_init__(self) -> None:
        bad = {k: v for k, v in self.variables.items() if v not in TYPES}
        if bad:
            raise ValueError(f"unknown variable types {bad}; use one of {TYPES}")


def _frame(obj: Any) -> pl.DataFrame:
    """Accept a DataFrame or a ``(df, meta)`` pair such as :class:`trialkit.io.Dataset`."""
    if isinstance(obj, pl.DataFrame):
        return obj
    if isinstance(obj, tuple) and obj and isinstance(obj[0], pl.DataFrame):
        return obj[0]
    raise TypeError(f"expected a polars DataFrame, got {type(obj).__name__}")


def _rows(mask: pl.Series) -> list[int]:
    return [int(i) + 1 for i in mask.fill_null(False).arg_true()[:MAX_ROWS]]


def _type_ok(dtype: pl.DataType, want: str) -> bool:
    if want == "any":
        return True
    if want == "str":
        return dtype in (pl.Utf8, pl.Categorical) or isinstance(dtype, pl.Enum)
    if want == "num":
        return dtype.is_numeric()
    if want == "int":
        return dtype.is_integer()
    if want == "date":
        return dtype == pl.Date or isinstance(dtype, pl.Datetime)
    if want == "datetime":
        return isinstance(dtype, pl.Datetime)
    return False


_TYPE_WORDS = {"str": "text", "num": "numeric", "int": "integer", "date": "a date", "datetime": "a datetime"}


def _type_fix(col: str, dtype: pl.DataType, want: str) -> str:
    if want == "str":
        return f"store {col} as text (identifiers and codes such as SITEGR1 must not be numbers)"
    if want in ("num", "int") and dtype == pl.Utf8:
        return f"store {col} as numbers (remove non-numeric text, use blank for missing)"
    if want in ("date", "datetime"):
        return f"store {col} as a date (or derive it from the --DTC text with derive_vars_dt)"
    return f"store {col} as {_TYPE_WORDS.get(want, want)}"


def _check_one(df: pl.DataFrame, req: Requirement, name: str) -> list[TrialkitError]:
    errs: list[TrialkitError] = []
    where = f"{name} ({req.step})" if req.step else name
    needed = dict(req.variables)
    for v in [*req.keys, *req.flags, *req.ranges]:
        needed.setdefault(v, "any")
    missing = [v for v in needed if v not in df.columns]
    if missing:
        errs.append(TrialkitError(
            f"missing required variable(s) {', '.join(missing)}", source=where, variable=", ".join(missing),
            fix=f"add {', '.join(missing)} to {name} (or rename the column that holds it)"))
    mistyped = set()
    for v, want in needed.items():
        if v in df.columns and not _type_ok(df.schema[v], want):
            mistyped.add(v)
            ex = df.get_column(v).drop_nulls().head(3).to_list()
            errs.append(TrialkitError(
                f"is {df.schema[v]} but must be {_TYPE_WORDS.get(want, want)} (e.g. {ex})", source=where,
                variable=v, fix=_type_fix(v, df.schema[v], want)))
    # keys declared in ``variables`` and the ``filled`` variables asked for must be filled on every row (each
    # checked whether or not the other keys are there); other keys (e.g. DTYPE) may be blank
    must_fill = [*(k for k in req.keys if k in req.variables), *(v for v in req.filled if v in needed)]
    for k in dict.fromkeys(must_fill):
        if k in df.columns and df.height:
            nulls = df.get_column(k).is_null()
            if nulls.any():
                what = "key variable" if k in req.keys else "variable"
                errs.append(TrialkitError(f"{what} {k} missing on some rows ({int(nulls.sum())} of {df.height})",
                                          source=where, variable=k, rows=_rows(nulls),
                                          fix=f"fill {k} on every row or drop the empty rows"))
    keys = [k for k in req.keys if k in df.columns]
    if keys and len(keys) == len(req.keys) and df.height:
        dup = df.select(keys).is_duplicated()
        if dup.any():
            ex = df.filter(dup).select(keys).unique(maintain_order=True).head(3).rows()
            shown = ", ".join("/".join(str(x) for x in r) for r in ex)
            errs.append(TrialkitError(
                f"{'/'.join(keys)} is not unique ({int(dup.sum())} rows share a key, e.g. {shown})",
                source=where, variable="/".join(keys), rows=_rows(dup),
                fix=f"keep one row per {'/'.join(keys)} in {name}"))
    for f in req.flags:
        if f not in df.columns:
            continue
        s = df.get_column(f)
        if s.dtype != pl.Utf8:
            errs.append(TrialkitError(f"flag is {s.dtype}, must be text Y/N/blank", source=where, variable=f,
                                      fix=f"recode {f} to 'Y', 'N' or blank"))
            continue
        bad = ~s.is_null() & ~s.str.strip_chars().is_in(list(FLAG_VALUES))
        if bad.any():
            vals = sorted(set(s.filter(bad).head(50).to_list()))[:5]
            errs.append(TrialkitError(f"flag values other than Y/N/blank: {vals}", source=where, variable=f,
                                      rows=_rows(bad), fix=f"recode {f} to 'Y', 'N' or blank"))
    for v, (lo, hi) in req.ranges.items():
        if v in df.columns and df.schema[v].is_numeric():
            errs += _range(df, v, lo, hi, where, pl.lit(True), "")
    pr = req.param_ranges
    if pr and req.param_var in df.columns and req.value_var in df.columns and df.schema[req.value_var].is_numeric():
        present = set(df.get_column(req.param_var).drop_nulls().cast(pl.Utf8).unique().to_list())
        for p, (lo, hi) in pr.items():
            if p in present:
                errs += _range(df, req.value_var, lo, hi, where, pl.col(req.param_var) == p,
                               f" for {req.param_var} = {p}")
    if req.levels:
        rows = _levels_rows(df, req.levels_where)
        for v, lv in req.levels.items():
            if v in df.columns and v not in mistyped:
                errs += _levels(df, v, lv if isinstance(lv, Levels) else Levels(list(lv)), rows, where, "")
    pl_ = req.param_levels
    if pl_ and req.param_var in df.columns and req.value_var in df.columns and req.value_var not in mistyped:
        present = set(df.get_column(req.param_var).drop_nulls().cast(pl.Utf8).unique().to_list())
        for p, values in pl_.items():
            if p in present:
                rows = (df.get_column(req.param_var).cast(pl.Utf8) == p).fill_null(False)
                errs += _levels(df, req.value_var, Levels(list(values), f"levels of {p}", allow_null=True), rows,
                                where, f" for {req.param_var} = {p}")
    for num, lab in req.visits:
        if num in df.columns and lab in df.columns:
            errs += _visits(df, num, lab, where)
    return errs


def _levels_rows(df: pl.DataFrame, flags: Sequence[str]) -> pl.Series | None:
    """Rows where one of ``flags`` is Y; None (every row) without flags or when one is absent or not text."""
    if not flags or any(f not in df.columns or df.schema[f] != pl.Utf8 for f in flags):
        return None
    return df.select(pl.any_horizontal([pl.col(f).str.strip_chars().eq("Y").fill_null(False) for f in flags])
                     ).to_series()


def _levels(df: pl.DataFrame, v: str, lv: Levels, rows: pl.Series | None, where: str,
            what: str) -> list[TrialkitError]:
    s = df.get_column(v)
    if s.dtype.is_numeric():
        nums = []
        for x in lv.values:
            try:
                nums.append(float(x))
            except (TypeError, ValueError):
                continue
        bad = ~s.cast(pl.Float64).is_in(nums)
    else:
        try:
            text = s.cast(pl.Utf8)
        except pl.exceptions.PolarsError:
            return []  # not a scalar variable: its type is reported where it matters
        bad = ~text.is_in([str(x) for x in lv.values])
    bad = bad.fill_null(True) & s.is_not_null() if lv.allow_null else bad.fill_null(True) | s.is_null()
    if rows is not None:
        bad = bad & rows
    if not bad.any():
        return []
    vals = s.filter(bad).unique(maintain_order=True).head(5).to_list()
    shown = ", ".join(repr(x) for x in lv.values[:12]) + (", ..." if len(lv.values) > 12 else "")
    return [TrialkitError(f"{int(bad.sum())} row(s){what} with values {vals} that are not "
                          f"{lv.what or 'allowed values'} ({shown})", source=where, variable=v, rows=_rows(bad),
                          fix=lv.fix or f"use one of the allowed values of {v}")]


def _range(df: pl.DataFrame, v: str, lo: float | None, hi: float | None, where: str, cond: pl.Expr,
           what: str) -> list[TrialkitError]:
    x = pl.col(v)
    out = pl.lit(False)
    if lo is not None:
        out = out | (x < lo)
    if hi is not None:
        out = out | (x > hi)
    bad = df.select((cond & out).fill_null(False)).to_series()
    if not bad.any():
        return []
    vals = df.get_column(v).filter(bad).head(5).to_list()
    rng = f"[{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}]"
    return [TrialkitError(f"values outside {rng}{what}: {vals}", source=where, variable=v, rows=_rows(bad),
                          fix=f"correct the values or check that {v} holds the intended scale")]


def _visits(df: pl.DataFrame, num: str, lab: str, where: str) -> list[TrialkitError]:
    errs = []
    pairs = df.select(num, lab).drop_nulls().unique()
    for a, b in ((num, lab), (lab, num)):
        multi = pairs.group_by(a).agg(pl.col(b).n_unique().alias("n"), pl.col(b).sort().alias("vals")).filter(
            pl.col("n") > 1)
        if multi.height:
            ex = multi.sort(a).row(0)
            rows = _rows(df.select(pl.col(a).is_in(multi.get_column(a).implode())).to_series())
            errs.append(TrialkitError(
                f"{a} {ex[0]!r} goes with several {b} values {list(ex[2])}; {num} and {lab} must match "
                "one-to-one", source=where, variable=f"{num}/{lab}", rows=rows,
                fix=f"give each {lab} one {num} (and the reverse)"))
    return errs


def run_checks(
    datasets: Mapping[str, Any], requirements: Sequence[Requirement]
) -> list[TrialkitError]:
    """All problems found in ``datasets`` (name -> DataFrame or (df, meta)); names match case-insensitively."""
    by_name = {k.upper(): v for k, v in datasets.items()}
    errs: list[TrialkitError] = []
    for req in requirements:
        name = req.dataset.upper()
        if name not in by_name:
            if not req.optional:
                errs.append(TrialkitError(
                    f"dataset {name} is required{' for ' + req.step if req.step else ''} but was not given",
                    source=name, fix=f"add {name.lower()}.xpt (or .json/.parquet) to the data folder"))
            continue
        errs += _check_one(_frame(by_name[name]), req, name)
    return errs


def assert_checks(datasets: Mapping[str, Any], requirements: Sequence[Requirement]) -> None:
    """Raise one :class:`TrialkitErrors` listing every problem, or return quietly."""
    errs = run_checks(datasets, requirements)
    if errs:
        raise TrialkitErrors(errs, summary="input checks failed")


def check_levels(df: pl.DataFrame, variable: str, levels: Sequence[str], source: str) -> None:
    """Every value of ``variable`` is one of ``levels`` (e.g. the treatment variable and the study's arm labels)."""
    bad = df.filter(pl.col(variable).is_null() | ~pl.col(variable).cast(pl.Utf8).is_in(list(levels)))
    if bad.height:
        vals = bad.get_column(variable).unique().head(5).to_list()
        raise TrialkitError(f"{bad.height} subject(s) with values {vals} that are not arm labels of the study file "
                            f"({list(levels)})", source=source, variable=variable,
                            rows=bad["USUBJID"].head(10).to_list() if "USUBJID" in bad.columns else None,
                            fix="make the [[arms]] labels match the treatment values, or set [adam] treatment")
