"""Figures rendered from the ARD (matplotlib, Agg backend; PNG without timestamps, so output is reproducible)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

from trialkit.errors import TrialkitError  # noqa: E402
from trialkit.study import Study  # noqa: E402

COLORS = ["#1b6ca8", "#55a868", "#7f7f7f", "#c44e52", "#8172b2"]


def responder_rates_by_visit(ard: pl.DataFrame, study: Study, endpoint_ids: list[str]) -> plt.Figure:
    """Responder rate (%) by visit and arm with 95% CIs, one panel per endpoint; published rates (at the endpoint's
    visit) as x; the footnote states each endpoint's strategies."""
    fig, axes = plt.subplots(1, len(endpoint_ids), figsize=(4.6 * len(endpoint_ids), 4.2), sharey=False,
                             squeeze=False)
    for ax, ep_id in zip(axes[0], endpoint_ids, strict=True):
        ep = study.endpoint(ep_id)
        d = ard.filter(pl.col("analysis_id") == f"{ep_id}.by_visit")
        for i, arm in enumerate(study.arms):
            da = d.filter(pl.col("group1_level") == arm.label)
            wide = da.pivot(on="stat_name", index="group2_level", values="stat").with_columns(
                pl.col("group2_level").cast(pl.Int64).alias("week")).sort("week")
            wk = wide["week"].to_numpy()
            p, lo, hi = (100 * wide[c].to_numpy() for c in ("p", "ci_low", "ci_high"))
            off = (i - (len(study.arms) - 1) / 2) * 0.35
            ax.errorbar(wk + off, p, yerr=np.vstack([p - lo, hi - p]), marker="o", ms=4, capsize=2, lw=1.4,
                        color=COLORS[i % len(COLORS)], label=arm.label)
            pub = study.published_for(ep_id, arm.id)
            if pub is not None:
                ax.plot([ep.visit_week + off], [100 * pub.rate], marker="x", ms=9, mew=2, ls="none",
                        color=COLORS[i % len(COLORS)])
        ax.set_title(ep.label, fontsize=10)
        ax.set_xlabel("Week")
        ax.set_ylabel("Responders, % (95% CI)")
        ax.set_xticks(study.visit_weeks[1:])
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8, loc="upper left")
    notes = sorted({"rescue {0.rescue}, discontinuation {0.discontinuation}, missing {0.missing}".format(
        study.strategies(study.endpoint(e))) for e in endpoint_ids})
    fig.text(0.01, 0.01, "x = published rate at the endpoint's visit. Strategies: " + "; ".join(notes) + ".",
             fontsize=7)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def to_png(fig: plt.Figure) -> bytes:
    """PNG bytes without metadata that would vary between runs."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def to_svg(fig: plt.Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    return buf.getvalue()


def multiplicity_graph(study: Study, ard: pl.DataFrame) -> plt.Figure | None:
    """The study's multiplicity graph with the rejected hypotheses shaded and adjusted p-values (from the ARD)."""
    from types import SimpleNamespace

    from trialkit.report.multiplicity_figure import draw_graph

    strategy = study.strategy()
    d = ard.filter(pl.col("analysis_id") == "MULT")
    if strategy is None or d.height == 0:
        return None
    names = list(strategy.graph.names)

    def stat(name: str) -> np.ndarray:
        sub = d.filter(pl.col("stat_name") == name)
        m = dict(zip(sub["variable"], sub["stat"], strict=True))
        return np.array([m[h] for h in names])

    res = SimpleNamespace(rejected=stat("rejected") == 1.0, adjusted_pvalues=stat("adjusted_pvalue"))
    # arms as columns, endpoints as rows (in the study file's order) when names are ENDPOINT_ARM
    arm_ids = [a.id for a in study.active_arms]
    ep_ids = [e.id for e in study.endpoints]
    def split(h: str) -> list[str]:
        try:
            return list(study.split_hypothesis(h))
        except TrialkitError:
            return [h]

    parts = [split(h) for h in names]
    layout = None
    if all(len(p) == 2 and p[0] in ep_ids and p[1] in arm_ids for p in parts):
        rows = sorted({ep_ids.index(p[0]) for p in parts})
        layout = np.array([[0.15 + 0.7 * arm_ids.index(a) / max(len(arm_ids) - 1, 1),
                            0.85 - 0.7 * rows.index(ep_ids.index(e)) / max(len(rows) - 1, 1)] for e, a in parts])
    fig, ax = plt.subplots(figsize=(8.5, 6.0))
    draw_graph(strategy.graph, ax=ax, result=res, layout=layout,
               title=f"Graphical multiplicity ({strategy.method}, alpha {strategy.alpha:g}); shaded = rejected")
    fig.tight_layout()
    return fig
