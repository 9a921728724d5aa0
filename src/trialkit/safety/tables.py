"""Adverse-event tables as analysis results data (ARD).

Every function takes ADAE and ADSL (polars; ADAE may be a LazyFrame) and returns a :class:`trialkit.ard.ARD`.
Conventions shared by all tables:

- Population: ADSL records with ``pop_flag == "Y"`` (default ``SAFFL``); the arm comes from ADSL's ``arm``
  variable (default ``TRT01A``), so numerators and denominators use the same arm. Events are ADAE records with
  ``TRTEMFL == "Y"`` of subjects in the population.
- ``group1`` is the arm variable with the arm as level. Every table has one ``N`` row per arm (variable
  ``USUBJID``). Subject counts are ``n``, proportions ``p`` (0-1, fmt ``pct1``), record counts ``events``.
- Risk differences (``reference=`` an arm) go under ``<analysis_id>_RD`` with ``group1`` the compared arm,
  the last group ``REFERENCE`` = reference arm, and stats ``estimate``, ``ci_low``, ``ci_high`` from
  :func:`trialkit.stats.risk_difference` (``rd_method``: Newcombe hybrid score by default; also ``wald``,
  ``mn``, ``agresti-caffo``, ``exact``).
- ARD row order is display order (SOCs and PTs by descending frequency, then name).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

import numpy as np
import polars as pl

from trialkit.adam.verbs import assert_vars
from trialkit.ard import ARD
from trialkit.errors import TrialkitError
from trialkit.safety._stats import DAYS_PER_YEAR, poisson_rate_ci
from trialkit.safety.adae import SEVERITY_RANK
from trialkit.stats import risk_difference

#: AEREL values counted as "related" (CDISC Pilot 01 scale and the binary one), compared upper-cased.
RELATED_VALUES = ("RELATED", "Y", "POSSIBLE", "PROBABLE", "DEFINITE", "POSSIBLY RELATED",
                  "PROBABLY RELATED", "DEFINITELY RELATED")

FMT_N, FMT_P, FMT_RATE = "{:.0f}", "pct1", "{:.2f}"
_ARM, _SID, _ACODE = "__ARM", "__SID", "__ACODE"


def _collect(df: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    return df.collect() if isinstance(df, pl.LazyFrame) else df


def _lazy_cols(df: pl.DataFrame | pl.LazyFrame) -> list[str]:
    return df.collect_schema().names() if isinstance(df, pl.LazyFrame) else df.columns


def _need(df: pl.DataFrame | pl.LazyFrame, variables: Iterable[str], dataset: str) -> None:
    cols = _lazy_cols(df)
    missing = [v for v in dict.fromkeys(variables) if v not in cols]
    if missing:
        assert_vars(pl.DataFrame({c: [] for c in cols}), missing, dataset)


class _Pop:
    """The analysis population: subject -> arm, arm order and denominators."""

    def __init__(self, adsl: pl.DataFrame | pl.LazyFrame, arm: str, arms: Sequence[str] | None,
                 pop_flag: str | None) -> None:
        _need(adsl, ["USUBJID", arm] + ([pop_flag] if pop_flag else []), "ADSL")
        sl = pl.LazyFrame(adsl) if isinstance(adsl, pl.DataFrame) else adsl
        if pop_flag:
            sl = sl.filter(pl.col(pop_flag) == "Y")
        extra = [f"{arm}N"] if f"{arm}N" in _lazy_cols(adsl) else []
        sl = sl.select(pl.col("USUBJID"), pl.col(arm).cast(pl.Utf8).alias(_ARM), *extra).collect()
        if sl.height == 0:
            raise TrialkitError(f"no subjects with {pop_flag} = 'Y'", source="ADSL", variable=pop_flag)
        if sl["USUBJID"].is_duplicated().any():
            raise TrialkitError("duplicate subjects", source="ADSL", variable="USUBJID",
                                rows=sl.filter(pl.col("USUBJID").is_duplicated())["USUBJID"].head(5).to_list())
        if sl[_ARM].null_count():
            raise TrialkitError("subjects without an arm", source="ADSL", variable=arm,
                                rows=sl.filter(pl.col(_ARM).is_null())["USUBJID"].head(5).to_list())
        present = sl[_ARM].unique().to_list()
        if arms is None:
            if extra:
                order = sl.group_by(_ARM).agg(pl.col(extra[0]).min()).sort(extra[0], _ARM)[_ARM].to_list()
            else:
                order = sorted(present)
        else:
            order = [str(a) for a in arms]
            unknown = sorted(set(present) - set(order))
            if unknown:
                raise TrialkitError(f"arms {unknown} in ADSL are not in arms=", source="ADSL", variable=arm,
                                    fix="list every arm, or filter ADSL first")
        self.arm = arm
        self.arms: list[str] = order
        codes = {a: i for i, a in enumerate(order)}
        self.subjects = sl.select("USUBJID", _ARM).with_row_index(_SID).with_columns(
            pl.col(_ARM).replace_strict(codes, return_dtype=pl.UInt32).alias(_ACODE))
        n = dict(sl.group_by(_ARM).len().iter_rows())
        self.N: dict[str, int] = {a: int(n.get(a, 0)) for a in order}

    def check_reference(self, reference: str | None) -> None:
        if reference is not None and reference not in self.arms:
            raise TrialkitError(f"reference arm {reference!r} not among {self.arms}", variable="reference",
                                fix="give the placebo/control arm exactly as in ADSL")

    def add_n(self, ard: ARD, analysis_id: str) -> None:
        for a in self.arms:
            ard.add(analysis_id, "USUBJID", "N", self.N[a], groups={self.arm: a}, fmt=FMT_N)

    def events(self, adae: pl.DataFrame | pl.LazyFrame, columns: Sequence[str], te_flag: str | None,
               codes: bool = False) -> pl.LazyFrame:
        """TEAE records of population subjects with the arm attached (lazy).

        ``codes=True`` replaces USUBJID and the arm by integer codes (``__SID``, ``__ACODE``): grouping on
        integers is several times faster than on text for millions of records.
        """
        need = ["USUBJID", *columns] + ([te_flag] if te_flag else [])
        _need(adae, need, "ADAE")
        ae = pl.LazyFrame(adae) if isinstance(adae, pl.DataFrame) else adae
        if te_flag:
            ae = ae.filter(pl.col(te_flag) == "Y")
        cols = [c for c in dict.fromkeys(["USUBJID", *columns]) if c != _ARM]
        if codes:
            subj = self.subjects.lazy().select("USUBJID", _SID, _ACODE)
            return ae.select(cols).join(subj, on="USUBJID", how="inner").drop("USUBJID")
        return ae.select(cols).join(self.subjects.lazy().select("USUBJID", _ARM), on="USUBJID", how="inner")


def _proportion(n: int, N: int) -> float:
    return n / N if N else float("nan")


def _add_rd(ard: ARD, analysis_id: str, pop: _Pop, counts: Mapping[str, int], reference: str | None,
            variable: str, variable_level: str | None, groups: Mapping[str, str] | None, method: str,
            alpha: float) -> None:
    """Risk difference of each arm vs ``reference`` from subject counts per arm."""
    if reference is None:
        return
    others = [a for a in pop.arms if a != reference]
    if not others:
        return
    x1 = np.array([counts.get(a, 0) for a in others], dtype=float)
    n1 = np.array([pop.N[a] for a in others], dtype=float)
    x2, n2 = float(counts.get(reference, 0)), float(pop.N[reference])
    # rows (arm, reference) x columns (with event, without), one 2x2 table per compared arm
    tab = np.stack([np.stack([x1, n1 - x1], -1), np.broadcast_to([x2, n2 - x2], (len(others), 2))], -2)
    r = risk_difference(tab, method=method, alpha=alpha)
    est, lo, hi = (np.atleast_1d(v) for v in (r.estimate, r.ci_low, r.ci_high))
    for i, a in enumerate(others):
        g = {pop.arm: a, **(groups or {}), "REFERENCE": reference}
        ard.add_many(f"{analysis_id}_RD", variable,
                     {"estimate": est[i], "ci_low": lo[i], "ci_high": hi[i]}, groups=g,
                     variable_level=variable_level, fmts={"estimate": FMT_P, "ci_low": FMT_P, "ci_high": FMT_P})


# ----------------------------------------------------------------------------------------------------
# Overview
# ----------------------------------------------------------------------------------------------------

OVERVIEW_CATEGORIES = ("ANY", "RELATED", "SEVERE", "SERIOUS", "DISCONTINUATION", "DEATH")


def _upper(col: str) -> pl.Expr:
    return pl.col(col).cast(pl.Utf8).str.to_uppercase()


def ae_overview(
    adae: pl.DataFrame | pl.LazyFrame,
    adsl: pl.DataFrame | pl.LazyFrame,
    *,
    arm: str = "TRT01A",
    arms: Sequence[str] | None = None,
    pop_flag: str | None = "SAFFL",
    te_flag: str | None = "TRTEMFL",
    reference: str | None = None,
    related_values: Sequence[str] = RELATED_VALUES,
    rd_method: str = "newcombe",
    alpha: float = 0.05,
    analysis_id: str = "AE_OVERVIEW",
) -> ARD:
    """Subjects with any TEAE, related, severe, serious, leading to discontinuation and leading to death.

    Variable ``TEAE`` with levels ``ANY``, ``RELATED`` (AEREL in ``related_values``), ``SEVERE`` (ASEV, else
    AESEV, is SEVERE), ``SERIOUS`` (AESER = Y), ``DISCONTINUATION`` (AEACN = DRUG WITHDRAWN), ``DEATH``
    (AESDTH = Y or AEOUT = FATAL); stats ``n``, ``p``, ``events`` per arm.
    """
    pop = _Pop(adsl, arm, arms, pop_flag)
    pop.check_reference(reference)
    cols = _lazy_cols(adae)
    sev = "ASEV" if "ASEV" in cols else "AESEV"
    need = [sev, "AESER", "AEREL", "AEACN"]
    _need(adae, need, "ADAE")
    death = _upper("AESDTH") == "Y" if "AESDTH" in cols else pl.lit(False)
    if "AEOUT" in cols:
        death = death.fill_null(False) | (_upper("AEOUT") == "FATAL").fill_null(False)
    rel = {v.upper() for v in related_values}
    flags = {
        "ANY": pl.lit(True),
        "RELATED": _upper("AEREL").str.strip_chars().is_in(list(rel)),
        "SEVERE": _upper(sev) == "SEVERE",
        "SERIOUS": _upper("AESER") == "Y",
        "DISCONTINUATION": _upper("AEACN") == "DRUG WITHDRAWN",
        "DEATH": death,
    }
    ev = pop.events(adae, [*need, *(c for c in ("AESDTH", "AEOUT") if c in cols)], te_flag)
    ev = ev.with_columns([e.fill_null(False).alias(f"__{k}") for k, e in flags.items()])
    agg = ev.group_by(_ARM).agg(
        [pl.col("USUBJID").filter(pl.col(f"__{k}")).n_unique().alias(f"n_{k}") for k in flags]
        + [pl.col(f"__{k}").sum().alias(f"e_{k}") for k in flags]
    ).collect()
    by_arm = {r[_ARM]: r for r in agg.iter_rows(named=True)}
    ard = ARD()
    pop.add_n(ard, analysis_id)
    for k in flags:
        counts = {}
        for a in pop.arms:
            r = by_arm.get(a, {})
            n, e = int(r.get(f"n_{k}", 0) or 0), int(r.get(f"e_{k}", 0) or 0)
            counts[a] = n
            ard.add_many(analysis_id, "TEAE", {"n": n, "p": _proportion(n, pop.N[a]), "events": e},
                         groups={arm: a}, variable_level=k, fmts={"n": FMT_N, "p": FMT_P, "events": FMT_N})
        _add_rd(ard, analysis_id, pop, counts, reference, "TEAE", k, None, rd_method, alpha)
    return ard


# ----------------------------------------------------------------------------------------------------
# SOC / PT
# ----------------------------------------------------------------------------------------------------


def soc_pt_counts(
    adae: pl.DataFrame | pl.LazyFrame,
    adsl: pl.DataFrame | pl.LazyFrame,
    *,
    arm: str = "TRT01A",
    arms: Sequence[str] | None = None,
    soc: str = "AEBODSYS",
    pt: str = "AEDECOD",
    pop_flag: str | None = "SAFFL",
    te_flag: str | None = "TRTEMFL",
) -> tuple[pl.DataFrame, _Pop]:
    """Subject and event counts per arm at three levels (``ANY``, ``SOC``, ``PT``), one row per arm x term.

    Columns: ``level``, ``soc``, ``pt``, ``arm``, ``n`` (subjects), ``events`` (records), ``N``, ``p``.
    """
    pop = _Pop(adsl, arm, arms, pop_flag)
    # subject x arm x SOC x PT on integer subject/arm codes and the input's own SOC/PT type (text is only
    # materialized for the few aggregated rows); SOC and any-TEAE counts come from that smaller frame
    sp = (pop.events(adae, [soc, pt], te_flag, codes=True)
          .group_by(_SID, _ACODE, soc, pt).agg(pl.len().alias("events")).collect())
    if sp[soc].null_count() or sp[pt].null_count():
        raise TrialkitError("treatment-emergent events without SOC or PT", source="ADAE",
                            variable=f"{soc}, {pt}", fix="code every event (MedDRA) before the tables")
    arm_of = pl.Series(pop.arms, dtype=pl.Utf8)
    pt_counts = sp.group_by(_ACODE, soc, pt).agg(pl.len().alias("n"), pl.col("events").sum())
    soc_counts = sp.group_by(_ACODE, soc).agg(pl.col(_SID).n_unique().alias("n"), pl.col("events").sum())
    any_counts = sp.group_by(_ACODE).agg(pl.col(_SID).n_unique().alias("n"), pl.col("events").sum())

    def text(frame: pl.DataFrame, level: str) -> pl.DataFrame:
        return frame.select(
            pl.lit(level).alias("level"),
            (pl.col(soc).cast(pl.Utf8) if level != "ANY" else pl.lit(None, pl.Utf8)).alias("soc"),
            (pl.col(pt).cast(pl.Utf8) if level == "PT" else pl.lit(None, pl.Utf8)).alias("pt"),
            arm_of.gather(frame[_ACODE]).alias("arm"),
            pl.col("n").cast(pl.Int64), pl.col("events").cast(pl.Int64),
        )

    long = pl.concat([text(any_counts, "ANY"), text(soc_counts, "SOC"), text(pt_counts, "PT")])
    # complete the arm grid so every term has a row (n = 0) in every arm
    terms = long.select("level", "soc", "pt").unique()
    grid = terms.join(pl.DataFrame({"arm": pop.arms}), how="cross")
    out = grid.join(long, on=["level", "soc", "pt", "arm"], how="left", nulls_equal=True).with_columns(
        pl.col("n").fill_null(0), pl.col("events").fill_null(0),
        pl.col("arm").replace_strict(pop.N, return_dtype=pl.Int64).alias("N"),
    ).with_columns((pl.col("n") / pl.col("N")).alias("p"))
    return out, pop


def _order_terms(counts: pl.DataFrame, sort_by: str, arms: list[str]) -> pl.DataFrame:
    """Sort key per term: subjects in ``sort_by`` arm (or over all arms for "total"), descending, then name."""
    if sort_by == "total":
        key = counts.group_by("level", "soc", "pt").agg(pl.col("n").sum().alias("__key"))
    else:
        if sort_by not in arms:
            raise TrialkitError(f"sort_by {sort_by!r} is neither 'total' nor an arm ({arms})",
                                variable="sort_by")
        key = counts.filter(pl.col("arm") == sort_by).select("level", "soc", "pt", pl.col("n").alias("__key"))
    return key


def ae_soc_pt(
    adae: pl.DataFrame | pl.LazyFrame,
    adsl: pl.DataFrame | pl.LazyFrame,
    *,
    arm: str = "TRT01A",
    arms: Sequence[str] | None = None,
    soc: str = "AEBODSYS",
    pt: str = "AEDECOD",
    pop_flag: str | None = "SAFFL",
    te_flag: str | None = "TRTEMFL",
    threshold: float | None = None,
    threshold_arms: Sequence[str] | None = None,
    sort_by: str = "total",
    include_soc: bool = True,
    reference: str | None = None,
    rd_method: str = "newcombe",
    alpha: float = 0.05,
    analysis_id: str = "AE_SOC_PT",
) -> ARD:
    """TEAEs by SOC and PT: subjects ``n`` (%) and ``events`` per arm, sorted by descending frequency.

    Rows: ``variable="TRTEMFL", variable_level="Y"`` (any TEAE); per SOC ``variable=soc``; per PT
    ``variable=pt`` with ``group2=soc`` (the SOC it sits in). SOCs sort by descending subject count in
    ``sort_by`` (``"total"`` = all arms together, or an arm), PTs likewise within their SOC; ties by name.
    With ``threshold`` (e.g. 0.05) only PTs with ``p >= threshold`` in at least one of ``threshold_arms``
    (default all arms) are kept, and SOCs without a kept PT are dropped; kept SOC rows still count all their
    PTs. ``include_soc=False`` gives a flat PT list sorted by frequency (the ">= 5%" table).
    """
    if threshold is not None and not 0 <= threshold <= 1:
        raise TrialkitError(f"threshold {threshold} must be a proportion in [0, 1]", variable="threshold",
                            fix="write 5% as 0.05")
    counts, pop = soc_pt_counts(adae, adsl, arm=arm, arms=arms, soc=soc, pt=pt, pop_flag=pop_flag,
                                te_flag=te_flag)
    pop.check_reference(reference)
    key = _order_terms(counts, sort_by, pop.arms)
    pts = counts.filter(pl.col("level") == "PT")
    if threshold is not None:
        t_arms = list(threshold_arms) if threshold_arms is not None else pop.arms
        bad = sorted(set(t_arms) - set(pop.arms))
        if bad:
            raise TrialkitError(f"threshold_arms {bad} not among {pop.arms}", variable="threshold_arms")
        kept = (pts.filter(pl.col("arm").is_in(t_arms)).group_by("soc", "pt").agg(pl.col("p").max())
                .filter(pl.col("p") >= threshold - 1e-12).select("soc", "pt"))
    else:
        kept = pts.select("soc", "pt").unique()
    pt_key = key.filter(pl.col("level") == "PT").join(kept, on=["soc", "pt"])
    soc_key = key.filter(pl.col("level") == "SOC").join(kept.select("soc").unique(), on="soc")
    if include_soc:
        soc_order = soc_key.sort(["__key", "soc"], descending=[True, False])["soc"].to_list()
        rank = {s: i for i, s in enumerate(soc_order)}
        pt_rows = (pt_key.with_columns(pl.col("soc").replace_strict(rank, return_dtype=pl.Int64).alias("__s"))
                   .sort(["__s", "__key", "pt"], descending=[False, True, False]))
    else:
        soc_order = []
        pt_rows = pt_key.sort(["__key", "pt", "soc"], descending=[True, False, False])
    lookup = {(r["level"], r["soc"], r["pt"], r["arm"]): (r["n"], r["events"], r["p"])
              for r in counts.iter_rows(named=True)}

    ard = ARD()
    pop.add_n(ard, analysis_id)
    fm = {"n": FMT_N, "p": FMT_P, "events": FMT_N}

    def emit(level: str, s: str | None, p: str | None, variable: str, vlevel: str,
             groups: Mapping[str, str] | None) -> None:
        cnt = {}
        for a in pop.arms:
            n, e, prop = lookup.get((level, s, p, a), (0, 0, _proportion(0, pop.N[a])))
            cnt[a] = n
            ard.add_many(analysis_id, variable, {"n": n, "p": prop, "events": e},
                         groups={arm: a, **(groups or {})}, variable_level=vlevel, fmts=fm)
        _add_rd(ard, analysis_id, pop, cnt, reference, variable, vlevel, groups, rd_method, alpha)

    emit("ANY", None, None, "TRTEMFL", "Y", None)
    by_soc: dict[str, list[tuple[str, str]]] = {}
    for s_, p_ in pt_rows.select("soc", "pt").iter_rows():
        by_soc.setdefault(s_ if include_soc else "", []).append((s_, p_))
    if include_soc:
        for s_ in soc_order:
            emit("SOC", s_, None, soc, s_, None)
            for _, p_ in by_soc.get(s_, []):
                emit("PT", s_, p_, pt, p_, {soc: s_})
    else:
        for s_, p_ in by_soc.get("", []):
            emit("PT", s_, p_, pt, p_, {soc: s_})
    return ard


# ----------------------------------------------------------------------------------------------------
# Maximum severity
# ----------------------------------------------------------------------------------------------------


def ae_max_severity(
    adae: pl.DataFrame | pl.LazyFrame,
    adsl: pl.DataFrame | pl.LazyFrame,
    *,
    arm: str = "TRT01A",
    arms: Sequence[str] | None = None,
    soc: str = "AEBODSYS",
    pt: str = "AEDECOD",
    severity: str = "AESEV",
    rank: Mapping[str, int] | None = None,
    pop_flag: str | None = "SAFFL",
    te_flag: str | None = "TRTEMFL",
    analysis_id: str = "AE_MAXSEV",
) -> ARD:
    """Subjects by maximum severity: overall, per SOC and per PT (each subject counted once, at its worst).

    Rows have ``variable="ASEV"`` and ``variable_level`` the severity; overall rows have only the arm
    group, SOC rows ``group2=soc``, PT rows ``group2=soc, group3=pt``. Records with missing severity are
    counted under ``variable_level="MISSING"`` only when the subject has no known severity for that term.
    Order: SOCs and PTs by descending total frequency.
    """
    rank = dict(rank or SEVERITY_RANK)
    levels = sorted(rank, key=rank.__getitem__)
    pop = _Pop(adsl, arm, arms, pop_flag)
    ev = pop.events(adae, [soc, pt, severity], te_flag).select(
        "USUBJID", _ARM, pl.col(soc).cast(pl.Utf8).alias("soc"), pl.col(pt).cast(pl.Utf8).alias("pt"),
        _upper(severity).replace_strict(rank, default=0, return_dtype=pl.Int64).alias("sevn"),
    )
    worst_pt = ev.group_by(_ARM, "USUBJID", "soc", "pt").agg(pl.col("sevn").max()).collect()
    worst_soc = worst_pt.group_by(_ARM, "USUBJID", "soc").agg(pl.col("sevn").max())
    worst_any = worst_pt.group_by(_ARM, "USUBJID").agg(pl.col("sevn").max())
    names = {v: k for k, v in rank.items()} | {0: "MISSING"}
    show = levels + (["MISSING"] if (worst_pt["sevn"] == 0).any() else [])

    def tab(frame: pl.DataFrame, keys: list[str]) -> dict[tuple, int]:
        t = frame.group_by([_ARM, *keys, "sevn"]).len()
        return {tuple(r[:-1]): int(r[-1]) for r in t.select([_ARM, *keys, "sevn", "len"]).iter_rows()}

    t_any, t_soc, t_pt = tab(worst_any, []), tab(worst_soc, ["soc"]), tab(worst_pt, ["soc", "pt"])
    tot_soc = worst_soc.group_by("soc").len().sort(["len", "soc"], descending=[True, False])
    tot_pt = worst_pt.group_by("soc", "pt").len()
    ard = ARD()
    pop.add_n(ard, analysis_id)
    fm = {"n": FMT_N, "p": FMT_P}

    def emit(table: dict[tuple, int], keys: tuple, groups: dict[str, str]) -> None:
        for a in pop.arms:
            for lv in show:
                code = next((c for c, nm in names.items() if nm == lv), 0)
                n = table.get((a, *keys, code), 0)
                ard.add_many(analysis_id, "ASEV", {"n": n, "p": _proportion(n, pop.N[a])},
                             groups={arm: a, **groups}, variable_level=lv, fmts=fm)

    emit(t_any, (), {})
    for s_ in tot_soc["soc"].to_list():
        emit(t_soc, (s_,), {soc: s_})
        pts = tot_pt.filter(pl.col("soc") == s_).sort(["len", "pt"], descending=[True, False])["pt"]
        for p_ in pts.to_list():
            emit(t_pt, (s_, p_), {soc: s_, pt: p_})
    return ard


# ----------------------------------------------------------------------------------------------------
# Events of special interest
# ----------------------------------------------------------------------------------------------------


def _aesi_terms(terms: Mapping[str, Sequence[str]] | Sequence[str], name: str) -> dict[str, list[str]]:
    if isinstance(terms, Mapping):
        out = {str(k): [str(t) for t in v] for k, v in terms.items()}
    else:
        out = {name: [str(t) for t in terms]}
    if not out or any(not v for v in out.values()):
        raise TrialkitError("no preferred terms given for the event(s) of special interest", variable="terms",
                            fix="pass {'GI ulceration': ['Gastric ulcer', ...]} or a list of PTs")
    return out


def aesi_summary(
    adae: pl.DataFrame | pl.LazyFrame,
    adsl: pl.DataFrame | pl.LazyFrame,
    terms: Mapping[str, Sequence[str]] | Sequence[str],
    *,
    name: str = "AESI",
    arm: str = "TRT01A",
    arms: Sequence[str] | None = None,
    pt: str = "AEDECOD",
    pop_flag: str | None = "SAFFL",
    te_flag: str | None = "TRTEMFL",
    reference: str | None = None,
    rd_method: str = "newcombe",
    alpha: float = 0.05,
    analysis_id: str = "AESI",
) -> ARD:
    """Subjects with an event of special interest (any of its PTs) and per PT, n (%) and events per arm.

    ``terms`` maps each AESI name to its PTs (or is a list of PTs named ``name``). Rows: ``variable="AESI"``,
    ``variable_level`` the AESI name; PT rows ``variable=pt`` with ``group2="AESI"`` = the AESI name (every
    listed PT appears, with 0 when absent). With ``reference``, risk differences as in the other tables.
    """
    groups_terms = _aesi_terms(terms, name)
    pop = _Pop(adsl, arm, arms, pop_flag)
    pop.check_reference(reference)
    ev = pop.events(adae, [pt], te_flag).select("USUBJID", _ARM, pl.col(pt).cast(pl.Utf8).alias("pt"))
    all_pts = sorted({t for v in groups_terms.values() for t in v})
    ev = ev.filter(pl.col("pt").is_in(all_pts)).collect()
    ard = ARD()
    pop.add_n(ard, analysis_id)
    fm = {"n": FMT_N, "p": FMT_P, "events": FMT_N}
    for aesi, pts in groups_terms.items():
        sub = ev.filter(pl.col("pt").is_in(pts))
        rows = [(None, sub)] + [(p_, sub.filter(pl.col("pt") == p_)) for p_ in pts]
        for p_, f in rows:
            n_by = dict(f.group_by(_ARM).agg(pl.col("USUBJID").n_unique()).iter_rows())
            e_by = dict(f.group_by(_ARM).len().iter_rows())
            var, lvl, g = ("AESI", aesi, {}) if p_ is None else (pt, p_, {"AESI": aesi})
            for a in pop.arms:
                n = int(n_by.get(a, 0))
                ard.add_many(analysis_id, var, {"n": n, "p": _proportion(n, pop.N[a]), "events": e_by.get(a, 0)},
                             groups={arm: a, **g}, variable_level=lvl, fmts=fm)
            _add_rd(ard, analysis_id, pop, {a: int(n_by.get(a, 0)) for a in pop.arms}, reference, var, lvl,
                    g, rd_method, alpha)
    return ard


LISTING_VARS = ("USUBJID", "TRTA", "AEBODSYS", "AEDECOD", "AETERM", "ASTDT", "AENDT", "ASTDY", "AENDY", "ADURN",
                "ASEV", "AESEV", "AESER", "AEREL", "AEACN", "AEOUT")


def aesi_listing(
    adae: pl.DataFrame | pl.LazyFrame,
    terms: Mapping[str, Sequence[str]] | Sequence[str],
    *,
    name: str = "AESI",
    pt: str = "AEDECOD",
    te_flag: str | None = "TRTEMFL",
    pop_flag: str | None = "SAFFL",
    variables: Sequence[str] = LISTING_VARS,
) -> pl.DataFrame:
    """Listing of the events of special interest: one row per TEAE record, with the AESI name first.

    Keeps the ``variables`` present in ADAE; sorted by AESI, arm (TRTA), subject, start day and PT.
    """
    groups_terms = _aesi_terms(terms, name)
    cols = _lazy_cols(adae)
    _need(adae, ["USUBJID", pt] + ([te_flag] if te_flag else []), "ADAE")
    ae = pl.LazyFrame(adae) if isinstance(adae, pl.DataFrame) else adae
    if te_flag:
        ae = ae.filter(pl.col(te_flag) == "Y")
    if pop_flag and pop_flag in cols:
        ae = ae.filter(pl.col(pop_flag) == "Y")
    keep = [v for v in dict.fromkeys([*variables, pt]) if v in cols]
    mapping = pl.DataFrame({"AESI": [k for k, v in groups_terms.items() for _ in v],
                            "__pt": [t for v in groups_terms.values() for t in v]})
    out = (ae.select(keep).with_columns(pl.col(pt).cast(pl.Utf8).alias("__pt"))
           .join(mapping.lazy(), on="__pt", how="inner").drop("__pt").collect())
    order = [c for c in ("AESI", "TRTA", "USUBJID", "ASTDY", pt) if c in out.columns]
    return out.select("AESI", *keep).sort(order, nulls_last=True, maintain_order=True)


# ----------------------------------------------------------------------------------------------------
# Exposure-adjusted incidence rates
# ----------------------------------------------------------------------------------------------------


def exposure_days(adsl: pl.DataFrame | pl.LazyFrame, exposure: str | None = None,
                  extra_days: float = 0.0) -> pl.Expr:
    """Expression for days at risk per subject: ``exposure`` (e.g. TRTDURD) if given, else
    ``TRTEDT - TRTSDT + 1``; plus ``extra_days`` (the treatment-emergent window after last dose)."""
    if exposure is not None:
        _need(adsl, [exposure], "ADSL")
        days = pl.col(exposure).cast(pl.Float64)
    else:
        _need(adsl, ["TRTSDT", "TRTEDT"], "ADSL")
        days = ((pl.col("TRTEDT").cast(pl.Date) - pl.col("TRTSDT").cast(pl.Date)).dt.total_days() + 1
                ).cast(pl.Float64)
    return days + float(extra_days)


def ae_eair(
    adae: pl.DataFrame | pl.LazyFrame,
    adsl: pl.DataFrame | pl.LazyFrame,
    *,
    by: str | Sequence[str] | None = "AEDECOD",
    arm: str = "TRT01A",
    arms: Sequence[str] | None = None,
    exposure: str | None = None,
    extra_days: float = 0.0,
    time_at_risk: Literal["first_event", "total"] = "first_event",
    count: Literal["subjects", "events"] = "subjects",
    per: float = 100.0,
    alpha: float = 0.05,
    pop_flag: str | None = "SAFFL",
    te_flag: str | None = "TRTEMFL",
    onset_day: str = "ASTDY",
    analysis_id: str = "AE_EAIR",
) -> ARD:
    """Exposure-adjusted incidence rate per ``per`` patient-years with exact Poisson (Garwood) limits.

    ``count="subjects"`` (EAIR): subjects with the event divided by the patient-years at risk; with
    ``time_at_risk="first_event"`` a subject with the event contributes the days up to its first onset
    (``onset_day`` = ASTDY of the first TEAE; the whole exposure when unknown), others their whole exposure
    (FDA's EAIR; Zhou et al. 2021, Ther Innov Regul Sci 55:1134); the onset day is not capped at the exposure,
    so an event in the post-treatment window counts its full time at risk. ``time_at_risk="total"`` uses the whole
    exposure for everyone. ``count="events"`` gives the event rate (all TEAE records / total exposure).
    Exposure days come from :func:`exposure_days`; patient-years = days / 365.25.

    Rows: ``by=None`` -> ``variable="TRTEMFL", variable_level="Y"``; otherwise ``variable`` = last ``by``
    column, earlier ``by`` columns as groups 2-3. Stats ``n`` (subjects or events), ``exposure``
    (patient-years), ``rate``, ``ci_low``, ``ci_high``, per arm.
    """
    if time_at_risk not in ("first_event", "total"):
        raise TrialkitError(f"unknown time_at_risk {time_at_risk!r}", variable="time_at_risk",
                            fix="use 'first_event' or 'total'")
    if count not in ("subjects", "events"):
        raise TrialkitError(f"unknown count {count!r}", variable="count", fix="use 'subjects' or 'events'")
    by_cols = [] if by is None else ([by] if isinstance(by, str) else list(by))
    if len(by_cols) > 2:
        raise TrialkitError("at most two by variables (e.g. AEBODSYS, AEDECOD)", variable="by")
    pop = _Pop(adsl, arm, arms, pop_flag)
    sl = pl.LazyFrame(adsl) if isinstance(adsl, pl.DataFrame) else adsl
    days = sl.select("USUBJID", exposure_days(adsl, exposure, extra_days).alias("__days")).collect()
    days = pop.subjects.join(days, on="USUBJID", how="left")
    if days["__days"].null_count() or (days["__days"] < 0).any():
        bad = days.filter(pl.col("__days").is_null() | (pl.col("__days") < 0))["USUBJID"].head(10).to_list()
        raise TrialkitError("missing or negative exposure", source="ADSL", variable=exposure or "TRTSDT/TRTEDT",
                            rows=bad, fix="derive TRTSDT/TRTEDT (or the exposure variable) for treated subjects")
    tot_days = dict(days.group_by(_ARM).agg(pl.col("__days").sum()).iter_rows())
    need = [*by_cols] + ([onset_day] if time_at_risk == "first_event" and count == "subjects" else [])
    ev = pop.events(adae, need, te_flag).select(
        "USUBJID", _ARM, *[pl.col(c).cast(pl.Utf8).alias(f"__by{i}") for i, c in enumerate(by_cols)],
        *([pl.col(onset_day).cast(pl.Float64).alias("__onset")] if onset_day in need else []),
    )
    keys = [f"__by{i}" for i in range(len(by_cols))]
    if count == "events":
        tab = ev.group_by(_ARM, *keys).agg(pl.len().alias("x")).collect().with_columns(
            pl.col(_ARM).replace_strict(tot_days, return_dtype=pl.Float64).alias("T"))
    elif time_at_risk == "total":
        tab = ev.group_by(_ARM, *keys).agg(pl.col("USUBJID").n_unique().alias("x")).collect().with_columns(
            pl.col(_ARM).replace_strict(tot_days, return_dtype=pl.Float64).alias("T"))
    else:
        first = (ev.group_by(_ARM, *keys, "USUBJID").agg(pl.col("__onset").min()).collect()
                 .join(days.select("USUBJID", "__days"), on="USUBJID", how="left")
                 .with_columns(pl.coalesce(pl.col("__onset"), pl.col("__days")).clip(0, None).alias("__risk")))
        tab = first.group_by(_ARM, *keys).agg(
            pl.len().alias("x"), (pl.col("__days") - pl.col("__risk")).sum().alias("__saved")
        ).with_columns(
            (pl.col(_ARM).replace_strict(tot_days, return_dtype=pl.Float64) - pl.col("__saved")).alias("T")
        )
    # every term in every arm (x = 0, T = whole exposure for arms without the term)
    if keys:
        terms = tab.select(keys).unique().sort(keys)
        grid = terms.join(pl.DataFrame({_ARM: pop.arms}), how="cross")
    else:
        grid = pl.DataFrame({_ARM: pop.arms})
    tab = grid.join(tab.select(_ARM, *keys, "x", "T"), on=[_ARM, *keys], how="left", nulls_equal=True)
    tab = tab.with_columns(
        pl.col("x").fill_null(0),
        pl.col("T").fill_null(pl.col(_ARM).replace_strict(tot_days, return_dtype=pl.Float64)),
    )
    py = tab["T"].to_numpy() / DAYS_PER_YEAR
    r = poisson_rate_ci(tab["x"].to_numpy().astype(float), py, per=per, alpha=alpha)
    tab = tab.with_columns(pl.Series("__py", py), pl.Series("rate", np.atleast_1d(r.estimate)),
                           pl.Series("lo", np.atleast_1d(r.ci_low)), pl.Series("hi", np.atleast_1d(r.ci_high)))
    if keys:
        order = (tab.group_by(keys).agg(pl.col("x").sum().alias("__tot"))
                 .sort(["__tot", *keys], descending=[True] + [False] * len(keys)))
        if len(keys) == 2:  # SOC blocks by SOC frequency, PTs inside by PT frequency
            soc_tot = order.group_by("__by0").agg(pl.col("__tot").sum().alias("__st"))
            order = order.join(soc_tot, on="__by0").sort(["__st", "__by0", "__tot", "__by1"],
                                                         descending=[True, False, True, False])
        rank = order.with_row_index("__rank").select(*keys, "__rank")
        tab = tab.join(rank, on=keys).with_columns(
            pl.col(_ARM).replace_strict({a: i for i, a in enumerate(pop.arms)}, return_dtype=pl.Int64)
            .alias("__arm")).sort("__rank", "__arm")
    else:
        tab = tab.with_columns(
            pl.col(_ARM).replace_strict({a: i for i, a in enumerate(pop.arms)}, return_dtype=pl.Int64)
            .alias("__arm")).sort("__arm")
    ard = ARD()
    pop.add_n(ard, analysis_id)
    fm = {"n": FMT_N, "exposure": "{:.1f}", "rate": FMT_RATE, "ci_low": FMT_RATE, "ci_high": FMT_RATE}
    for row in tab.iter_rows(named=True):
        if keys:
            variable, level = by_cols[-1], row[keys[-1]]
            groups = {arm: row[_ARM], **({by_cols[0]: row[keys[0]]} if len(keys) == 2 else {})}
        else:
            variable, level, groups = "TRTEMFL", "Y", {arm: row[_ARM]}
        ard.add_many(analysis_id, variable,
                     {"n": row["x"], "exposure": row["__py"], "rate": row["rate"], "ci_low": row["lo"],
                      "ci_high": row["hi"]}, groups=groups, variable_level=level, fmts=fm)
    return ard


def ard_frame(ard: ARD | pl.DataFrame) -> pl.DataFrame:
    """The ARD as a polars frame (helper for callers that take either)."""
    return ard.to_frame() if isinstance(ard, ARD) else ard


__all__ = [
    "RELATED_VALUES", "OVERVIEW_CATEGORIES", "ae_overview", "soc_pt_counts", "ae_soc_pt", "ae_max_severity",
    "aesi_summary", "aesi_listing", "exposure_days", "ae_eair", "ard_frame",
]
