"""Integrated summary of safety (ISS): several studies pooled in an embedded DuckDB database.

Each study contributes its ADSL (population flag, arm, exposure) and ADAE (treatment-emergent events); arms are
mapped to pooled labels (e.g. both rocatinlimab doses -> "Rocatinlimab"). Subjects are identified by
(STUDYID, USUBJID). Pooled figures are crude: subjects with the event over subjects in the arm, and events over
patient-years summed across studies. Crude pooling can mislead when randomization ratios differ between
studies (Simpson's paradox; see Chuang-Stein and Beltangady 2011, Pharm Stat 10:3-7); report the by-study
rows next to it.

    db = SafetyDatabase()                       # or SafetyDatabase("iss.duckdb") to keep it on disk
    db.add_study("IGNITE", adae, adsl, arm_map={"Rocatinlimab 150 mg": "Rocatinlimab", ...})
    db.add_study("HORIZON", adae2, adsl2)
    ard = db.soc_pt(threshold=0.05)             # by study and pooled
    ard = db.eair(by="AEDECOD")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import duckdb
import numpy as np
import polars as pl

from trialkit.adam.verbs import assert_vars
from trialkit.ard import ARD
from trialkit.errors import TrialkitError
from trialkit.safety._stats import DAYS_PER_YEAR, poisson_rate_ci
from trialkit.safety.tables import FMT_N, FMT_P, FMT_RATE, exposure_days

POOLED = "POOLED"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS iss_adsl (SID BIGINT, STUDYID VARCHAR, USUBJID VARCHAR, ARM VARCHAR, ARMORD INTEGER,
                                     EXPDAYS DOUBLE);
CREATE TABLE IF NOT EXISTS iss_terms (TID INTEGER, SOC VARCHAR, PT VARCHAR);
CREATE TABLE IF NOT EXISTS iss_adae (SID BIGINT, STUDYID VARCHAR, TID INTEGER, ONSET DOUBLE);
"""


class SafetyDatabase:
    """Pooled safety data of several studies in DuckDB (in memory, or in the file ``path``).

    Only population subjects (``pop_flag == "Y"``) and treatment-emergent events (``te_flag == "Y"``) are
    stored, one row per subject (``iss_adsl``) and per event (``iss_adae``). ``SID`` numbers subjects over
    all studies and ``TID`` the SOC/PT pairs (``iss_terms``), so the event table holds numbers only and the
    counts never hash text.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.con = duckdb.connect(str(path) if path is not None else ":memory:")
        self._run(_SCHEMA)

    def _run(self, sql: str, params: list[object] | None = None) -> list[tuple]:
        """Execute and fetch everything (DuckDB refuses new work while a result is unfinished)."""
        return self.con.execute(sql, params or []).fetchall()

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> SafetyDatabase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def studies(self) -> list[str]:
        return [r[0] for r in self._run("SELECT DISTINCT STUDYID FROM iss_adsl ORDER BY 1")]

    def arms(self) -> list[str]:
        """Pooled arms, in the order of the first study's arm numbering (ARMORD), then by name."""
        q = "SELECT ARM FROM iss_adsl GROUP BY ARM ORDER BY min(ARMORD), ARM"
        return [r[0] for r in self._run(q)]

    def add_study(
        self,
        studyid: str,
        adae: pl.DataFrame,
        adsl: pl.DataFrame,
        *,
        arm: str = "TRT01A",
        arm_map: Mapping[str, str] | None = None,
        arm_order: Sequence[str] | None = None,
        soc: str = "AEBODSYS",
        pt: str = "AEDECOD",
        pop_flag: str | None = "SAFFL",
        te_flag: str | None = "TRTEMFL",
        exposure: str | None = None,
        extra_days: float = 0.0,
        onset_day: str = "ASTDY",
    ) -> None:
        """Add (or replace) one study. ``arm_map`` maps the study's arms to pooled labels (unmapped arms keep
        their name); ``arm_order`` gives the display order of pooled arms (default: sorted by ``<arm>N`` when
        ADSL has it, else by name). Exposure days as in :func:`trialkit.safety.tables.exposure_days`."""
        studyid = str(studyid)
        assert_vars(adsl, ["USUBJID", arm] + ([pop_flag] if pop_flag else []), f"ADSL ({studyid})")
        assert_vars(adae, ["USUBJID", soc, pt] + ([te_flag] if te_flag else []), f"ADAE ({studyid})")
        sl = adsl.filter(pl.col(pop_flag) == "Y") if pop_flag else adsl
        amap = dict(arm_map or {})
        armn = f"{arm}N"
        sl = sl.select(
            pl.lit(studyid).alias("STUDYID"),
            pl.col("USUBJID").cast(pl.Utf8),
            pl.col(arm).cast(pl.Utf8).replace(amap).alias("ARM"),
            pl.col(armn).cast(pl.Float64).alias("__armn") if armn in adsl.columns else pl.lit(None, pl.Float64)
            .alias("__armn"),
            exposure_days(adsl, exposure, extra_days).alias("EXPDAYS"),
        )
        if sl["USUBJID"].is_duplicated().any():
            raise TrialkitError("duplicate subjects", source=f"ADSL ({studyid})", variable="USUBJID")
        bad = sl.filter(pl.col("EXPDAYS").is_null() | (pl.col("EXPDAYS") < 0) | pl.col("ARM").is_null())
        if bad.height:
            raise TrialkitError("subjects without arm or exposure", source=f"ADSL ({studyid})",
                                variable=f"{arm}, {exposure or 'TRTSDT/TRTEDT'}", rows=bad["USUBJID"].to_list(),
                                fix="derive the treatment dates for every subject in the safety population")
        if arm_order is not None:
            order = {a: i for i, a in enumerate(arm_order)}
            miss = sorted(set(sl["ARM"].unique().to_list()) - set(order))
            if miss:
                raise TrialkitError(f"arms {miss} not in arm_order", source=f"ADSL ({studyid})", variable=arm)
            sl = sl.with_columns(pl.col("ARM").replace_strict(order, return_dtype=pl.Int32).alias("ARMORD"))
        else:
            sl = sl.with_columns(pl.col("__armn").rank("dense").cast(pl.Int32).fill_null(0).alias("ARMORD"))
        self._run("DELETE FROM iss_adsl WHERE STUDYID = ?", [studyid])
        self._run("DELETE FROM iss_adae WHERE STUDYID = ?", [studyid])
        offset = self._run("SELECT coalesce(max(SID), -1) + 1 FROM iss_adsl")[0][0]
        sl = sl.with_row_index("SID", offset=int(offset)).with_columns(pl.col("SID").cast(pl.Int64)).select(
            "SID", "STUDYID", "USUBJID", "ARM", "ARMORD", "EXPDAYS")
        ae = adae.lazy().filter(pl.col(te_flag) == "Y") if te_flag else adae.lazy()
        ae = ae.select(
            "USUBJID",
            pl.col(soc).alias("__soc"), pl.col(pt).alias("__pt"),
            (pl.col(onset_day).cast(pl.Float64) if onset_day in adae.columns else pl.lit(None, pl.Float64))
            .alias("ONSET"),
        ).join(sl.lazy().select("USUBJID", "SID"), on="USUBJID", how="inner").drop("USUBJID").collect()
        if ae["__soc"].null_count() or ae["__pt"].null_count():
            raise TrialkitError("treatment-emergent events without SOC or PT", source=f"ADAE ({studyid})",
                                variable=f"{soc}, {pt}")
        # term dictionary: reuse the ids of SOC/PT pairs already stored, number the new ones
        pairs = ae.select("__soc", "__pt").unique().with_columns(
            pl.col("__soc").cast(pl.Utf8).alias("SOC"), pl.col("__pt").cast(pl.Utf8).alias("PT"))
        known = self.con.sql("SELECT TID, SOC, PT FROM iss_terms").pl()
        pairs = pairs.join(known, on=["SOC", "PT"], how="left")
        start = int(known["TID"].max() + 1) if known.height else 0  # type: ignore[operator]
        new = pairs.filter(pl.col("TID").is_null()).sort("SOC", "PT").with_row_index("__new", offset=start)
        pairs = pairs.join(new.select("SOC", "PT", "__new"), on=["SOC", "PT"], how="left").with_columns(
            pl.coalesce("TID", pl.col("__new").cast(pl.Int32)).cast(pl.Int32).alias("TID"))
        terms_new = new.select(pl.col("__new").cast(pl.Int32).alias("TID"), "SOC", "PT")
        ae = ae.join(pairs.select("__soc", "__pt", "TID"), on=["__soc", "__pt"], how="left").select(
            "SID", pl.lit(studyid).alias("STUDYID"), "TID", "ONSET")
        for table, frame in (("iss_adsl", sl), ("iss_adae", ae), ("iss_terms", terms_new)):
            self.con.register("__incoming", frame.to_arrow())
            try:
                self._run(f"INSERT INTO {table} SELECT * FROM __incoming")
            finally:
                self.con.unregister("__incoming")

    # ------------------------------------------------------------------------------------------------

    def _denominators(self) -> pl.DataFrame:
        return self.con.sql(
            f"""SELECT STUDYID, ARM, count(*) AS N, sum(EXPDAYS) AS DAYS FROM iss_adsl GROUP BY STUDYID, ARM
                UNION ALL
                SELECT '{POOLED}', ARM, count(*), sum(EXPDAYS) FROM iss_adsl GROUP BY ARM"""
        ).pl()

    def counts(self) -> pl.DataFrame:
        """Subjects per study (and ``POOLED``) x arm x SOC x PT, with SOC and any-TEAE levels.

        Columns: STUDYID, ARM, level (ANY/SOC/PT), SOC, PT, n, events, N.
        """
        # subject x term first (SIDs are unique over studies, so every later count is a plain count and
        # pooled figures are sums of the by-study ones)
        q = f"""
        WITH sp AS (
            SELECT e.STUDYID, s.ARM, e.SID, e.TID, count(*) AS k
            FROM iss_adae e JOIN iss_adsl s ON e.SID = s.SID GROUP BY ALL
        ),
        spt AS (SELECT sp.*, t.SOC, t.PT FROM sp JOIN iss_terms t ON sp.TID = t.TID),
        ssoc AS (SELECT STUDYID, ARM, SID, SOC, sum(k) AS k FROM spt GROUP BY ALL),
        sany AS (SELECT STUDYID, ARM, SID, sum(k) AS k FROM ssoc GROUP BY ALL),
        by_study AS (
            SELECT STUDYID, ARM, 'PT' AS level, SOC, PT, count(*) AS n, sum(k) AS events FROM spt GROUP BY ALL
            UNION ALL
            SELECT STUDYID, ARM, 'SOC', SOC, NULL, count(*), sum(k) FROM ssoc GROUP BY ALL
            UNION ALL
            SELECT STUDYID, ARM, 'ANY', NULL, NULL, count(*), sum(k) FROM sany GROUP BY ALL
        )
        SELECT STUDYID, ARM, level, SOC, PT, n, events::BIGINT AS events FROM by_study
        UNION ALL
        SELECT '{POOLED}', ARM, level, SOC, PT, sum(n)::BIGINT, sum(events)::BIGINT FROM by_study
        GROUP BY ARM, level, SOC, PT
        """
        c = self.con.sql(q).pl()
        den = self._denominators().select("STUDYID", "ARM", "N")
        return c.join(den, on=["STUDYID", "ARM"], how="left")

    def soc_pt(
        self,
        *,
        threshold: float | None = None,
        by_study: bool = True,
        analysis_id: str = "ISS_SOC_PT",
    ) -> ARD:
        """Pooled TEAE table by SOC and PT: ``n``, ``p``, ``events`` per study (``group1=STUDYID``, level the
        study or ``POOLED``) and arm (``group2=ARM``); PT rows carry ``group3=AEBODSYS``. SOCs and PTs sort by
        descending pooled frequency; ``threshold`` keeps PTs with pooled ``p >= threshold`` in some arm.
        ``N`` rows per study x arm (variable ``USUBJID``)."""
        if threshold is not None and not 0 <= threshold <= 1:
            raise TrialkitError(f"threshold {threshold} must be a proportion in [0, 1]", variable="threshold")
        c = self.counts()
        den = self._denominators()
        arms = self.arms()
        studies = [POOLED] + (self.studies if by_study else [])
        pooled = c.filter(pl.col("STUDYID") == POOLED).with_columns((pl.col("n") / pl.col("N")).alias("p"))
        pts = pooled.filter(pl.col("level") == "PT")
        if threshold is not None:
            pts_kept = pts.group_by("SOC", "PT").agg(pl.col("p").max()).filter(pl.col("p") >= threshold - 1e-12)
        else:
            pts_kept = pts.select("SOC", "PT").unique()
        tot = pooled.group_by("level", "SOC", "PT").agg(pl.col("n").sum().alias("tot"))
        soc_order = (tot.filter(pl.col("level") == "SOC").join(pts_kept.select("SOC").unique(), on="SOC")
                     .sort(["tot", "SOC"], descending=[True, False])["SOC"].to_list())
        pt_tot = tot.filter(pl.col("level") == "PT").join(pts_kept.select("SOC", "PT"), on=["SOC", "PT"])
        look = {(r["STUDYID"], r["ARM"], r["level"], r["SOC"], r["PT"]): (r["n"], r["events"])
                for r in c.iter_rows(named=True)}
        n_den = {(r["STUDYID"], r["ARM"]): r["N"] for r in den.iter_rows(named=True)}
        ard = ARD()
        for st in studies:
            for a in arms:
                if (st, a) in n_den:
                    ard.add(analysis_id, "USUBJID", "N", n_den[(st, a)], groups={"STUDYID": st, "ARM": a},
                            fmt=FMT_N)
        fm = {"n": FMT_N, "p": FMT_P, "events": FMT_N}

        def emit(level: str, soc: str | None, pt: str | None, variable: str, vlevel: str,
                 extra: dict[str, str]) -> None:
            for st in studies:
                for a in arms:
                    N = n_den.get((st, a))
                    if N is None:
                        continue
                    n, e = look.get((st, a, level, soc, pt), (0, 0))
                    ard.add_many(analysis_id, variable, {"n": n, "p": n / N if N else float("nan"), "events": e},
                                 groups={"STUDYID": st, "ARM": a, **extra}, variable_level=vlevel, fmts=fm)

        emit("ANY", None, None, "TRTEMFL", "Y", {})
        for s in soc_order:
            emit("SOC", s, None, "AEBODSYS", s, {})
            for p_ in (pt_tot.filter(pl.col("SOC") == s).sort(["tot", "PT"], descending=[True, False])["PT"]
                       .to_list()):
                emit("PT", s, p_, "AEDECOD", p_, {"AEBODSYS": s})
        return ard

    def eair(
        self,
        *,
        by: Literal["AEDECOD", "AEBODSYS"] | None = None,
        time_at_risk: Literal["first_event", "total"] = "first_event",
        per: float = 100.0,
        alpha: float = 0.05,
        by_study: bool = True,
        analysis_id: str = "ISS_EAIR",
    ) -> ARD:
        """Exposure-adjusted incidence rates per ``per`` patient-years with Garwood limits, by study and pooled.

        Same definitions as :func:`trialkit.safety.tables.ae_eair` (first-event time at risk by default);
        the pooled rate sums subjects with the event and patient-years over studies. ``by=None`` is any TEAE.
        Groups: ``STUDYID`` (study or ``POOLED``), ``ARM``; stats ``n``, ``exposure``, ``rate``, ``ci_low``,
        ``ci_high``.
        """
        if time_at_risk not in ("first_event", "total"):
            raise TrialkitError(f"unknown time_at_risk {time_at_risk!r}", variable="time_at_risk")
        term = {"AEDECOD": "t.PT", "AEBODSYS": "t.SOC", None: "'Y'"}.get(by)
        if term is None:
            raise TrialkitError(f"by must be AEDECOD, AEBODSYS or None, got {by!r}", variable="by")
        saved = "sum(s.EXPDAYS - greatest(coalesce(f.ONSET, s.EXPDAYS), 0))"
        if time_at_risk == "total":
            saved = "0.0"
        q = f"""
        WITH f AS (
            SELECT e.STUDYID, e.SID, {term} AS TERM, min(e.ONSET) AS ONSET
            FROM iss_adae e JOIN iss_terms t ON e.TID = t.TID GROUP BY ALL
        ),
        per_term AS (
            SELECT f.STUDYID, s.ARM, f.TERM, count(*) AS x, {saved} AS saved
            FROM f JOIN iss_adsl s ON f.SID = s.SID
            GROUP BY f.STUDYID, s.ARM, f.TERM
        )
        SELECT STUDYID, ARM, TERM, x, saved FROM per_term
        UNION ALL
        SELECT '{POOLED}', ARM, TERM, sum(x), sum(saved) FROM per_term GROUP BY ARM, TERM
        """
        t = self.con.sql(q).pl()
        den = self._denominators()
        arms = self.arms()
        studies = [POOLED] + (self.studies if by_study else [])
        terms = (t.filter(pl.col("STUDYID") == POOLED).group_by("TERM").agg(pl.col("x").sum())
                 .sort(["x", "TERM"], descending=[True, False])["TERM"].to_list())
        if by is None and not terms:
            terms = ["Y"]
        grid = (pl.DataFrame({"STUDYID": studies}).join(pl.DataFrame({"ARM": arms}), how="cross")
                .join(den, on=["STUDYID", "ARM"], how="inner")
                .join(pl.DataFrame({"TERM": terms}), how="cross"))
        t = grid.join(t, on=["STUDYID", "ARM", "TERM"], how="left").with_columns(
            pl.col("x").fill_null(0), pl.col("saved").fill_null(0.0)
        ).with_columns(((pl.col("DAYS") - pl.col("saved")) / DAYS_PER_YEAR).alias("PY"))
        r = poisson_rate_ci(t["x"].to_numpy().astype(float), t["PY"].to_numpy(), per=per, alpha=alpha)
        t = t.with_columns(pl.Series("rate", np.atleast_1d(r.estimate)), pl.Series("lo", np.atleast_1d(r.ci_low)),
                           pl.Series("hi", np.atleast_1d(r.ci_high)))
        rank_t = {x: i for i, x in enumerate(terms)}
        rank_s = {x: i for i, x in enumerate(studies)}
        rank_a = {x: i for i, x in enumerate(arms)}
        rows = sorted(t.iter_rows(named=True),
                      key=lambda r: (rank_t[r["TERM"]], rank_s[r["STUDYID"]], rank_a[r["ARM"]]))
        ard = ARD()
        for st in studies:
            for a in arms:
                hit = den.filter((pl.col("STUDYID") == st) & (pl.col("ARM") == a))
                if hit.height:
                    ard.add(analysis_id, "USUBJID", "N", hit["N"][0], groups={"STUDYID": st, "ARM": a}, fmt=FMT_N)
        fm = {"n": FMT_N, "exposure": "{:.1f}", "rate": FMT_RATE, "ci_low": FMT_RATE, "ci_high": FMT_RATE}
        variable = by if by is not None else "TRTEMFL"
        for r_ in rows:
            ard.add_many(analysis_id, variable, {"n": r_["x"], "exposure": r_["PY"], "rate": r_["rate"],
                                                 "ci_low": r_["lo"], "ci_high": r_["hi"]},
                         groups={"STUDYID": r_["STUDYID"], "ARM": r_["ARM"]}, variable_level=r_["TERM"], fmts=fm)
        return ard


def pooled_safety(
    studies: Mapping[str, tuple[pl.DataFrame, pl.DataFrame]],
    *,
    arm_map: Mapping[str, str] | None = None,
    threshold: float | None = None,
    eair_by: Literal["AEDECOD", "AEBODSYS"] | None = None,
    **add_kwargs: object,
) -> tuple[ARD, ARD]:
    """One-call ISS: ``studies`` maps STUDYID -> (ADAE, ADSL); returns (SOC/PT ARD, EAIR ARD), by study and
    pooled. ``add_kwargs`` go to :meth:`SafetyDatabase.add_study` (arm, exposure, ...)."""
    if not studies:
        raise TrialkitError("no studies to pool", variable="studies")
    with SafetyDatabase() as db:
        for sid, (adae, adsl) in studies.items():
            db.add_study(sid, adae, adsl, arm_map=arm_map, **add_kwargs)  # type: ignore[arg-type]
        return db.soc_pt(threshold=threshold), db.eair(by=eair_by)
