"""Figures rendered from the ARD (matplotlib, Agg backend; PNG without timestamps, so output is reproducible)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

from trialkit.study import Study  # noqa: E402

TRT = "TRT01P"
COLORS = ["#1b6ca8", "#55a868", "#7f7f7f", "#c44e52", "#8172b2"]


def responder_rates_by_visit(ard: pl.DataFrame, study: Study, endpoint_ids: list[str]) -> plt.Figure:
    """Responder rate (%) by visit and arm with 95% CIs, one panel per endpoint; published week-24 rates as x."""
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
    fig.text(0.01, 0.01, "x = published week-24 rate. Composite strategy: rescue, discontinuation and missing data "
             "= non-response.", fontsize=7)
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
