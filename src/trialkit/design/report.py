"""Design results as an ARD, ``design.json`` and an HTML report (great_tables, power curve), all from the ARD.

ARD ``analysis_id`` values (group1 = ``SCENARIO``): ``DESIGN.hypothesis`` (variable = hypothesis id; power,
mc_se, raw_power, raw_mc_se, analytic_raw_power, split_power, split_mc_se, analytic_split_power, mean_rd,
mean_rd_mc_se), ``DESIGN.success`` (variable = arm id; prob_success, mc_se), ``DESIGN.claims`` (variable = claim),
``DESIGN.fwer``, ``DESIGN.rates`` (group2 = ``TRT``, variable = endpoint; rate, mc_se) and ``DESIGN.curve``
(group2 = ``N``; variable = arm: prob_success, mc_se; variable = hypothesis: power, analytic_raw_power).
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

import polars as pl

from trialkit import _files, ard
from trialkit.ard import ARD
from trialkit.report.gt import make_gt


def to_ard(res: dict[str, Any]) -> pl.DataFrame:
    a = ARD()
    for sc in res["scenarios"]:
        g = {"SCENARIO": sc["name"]}
        for h in sc["power"]:
            vals = {"power": sc["power"][h], "mc_se": sc["mc_se"][h], "raw_power": sc["raw_power"][h],
                    "raw_mc_se": sc["raw_mc_se"][h], "analytic_raw_power": sc["analytic_raw_power"][h],
                    "mean_rd": sc["mean_risk_difference"][h], "mean_rd_mc_se": sc["mean_risk_difference_mc_se"][h],
                    "initial_weight": sc["initial_weight"][h]}
            if h in sc["split_power"]:
                vals |= {"split_power": sc["split_power"][h], "split_mc_se": sc["split_mc_se"][h],
                         "analytic_split_power": sc["analytic_split_power"].get(h)}
            a.add_many("DESIGN.hypothesis", h, vals, groups=g | {"N": str(sc["n"])},
                       fmts={k: "{:.4f}" for k in vals})
        for arm, p in sc["prob_success"].items():
            a.add_many("DESIGN.success", arm, {"prob_success": p, "mc_se": sc["prob_success_mc_se"][arm]},
                       groups=g | {"N": str(sc["n"])}, fmts={"prob_success": "{:.4f}", "mc_se": "{:.4f}"})
        for c, p in sc["claims"].items():
            a.add_many("DESIGN.claims", c, {"p": p, "mc_se": sc["claims_mc_se"][c]}, groups=g | {"N": str(sc["n"])},
                       fmts={"p": "{:.4f}", "mc_se": "{:.4f}"})
        a.add_many("DESIGN.fwer", "ANY", {"p": sc["fwer"], "mc_se": sc["fwer_mc_se"], "replicates": sc["replicates"]},
                   groups=g | {"N": str(sc["n"])}, fmts={"p": "{:.4f}", "mc_se": "{:.4f}", "replicates": "{:.0f}"})
        for ep, by_arm in sc["responder_rates"].items():
            for arm, rate in by_arm.items():
                a.add_many("DESIGN.rates", ep, {"rate": rate, "mc_se": sc["responder_rates_mc_se"][ep][arm]},
                           groups=g | {"TRT": arm}, fmts={"rate": "pct1", "mc_se": "{:.4f}"})
        for pt in sc["curve"]:
            gn = g | {"N": str(pt["n"])}
            for arm, p in pt["prob_success"].items():
                a.add_many("DESIGN.curve", arm, {"prob_success": p, "mc_se": pt["prob_success_mc_se"][arm]},
                           groups=gn, fmts={"prob_success": "{:.4f}", "mc_se": "{:.4f}"})
            for h, p in pt["power"].items():
                a.add_many("DESIGN.curve", h, {"power": p, "analytic_raw_power": pt["analytic_raw_power"][h]},
                           groups=gn, fmts={"power": "{:.4f}", "analytic_raw_power": "{:.4f}"})
    return a.to_frame()


def design_json(res: dict[str, Any]) -> str:
    """``{"replicates", "trials_per_second", "scenarios": [{"name", "power", "mc_se", "prob_success", ...}]}``."""
    return json.dumps(res, indent=1, default=float) + "\n"


def _stat(frame: pl.DataFrame, analysis_id: str, scenario: str) -> pl.DataFrame:
    return frame.filter((pl.col("analysis_id") == analysis_id) & (pl.col("group1_level") == scenario))


def curve_figure(frame: pl.DataFrame, scenario: str) -> bytes:
    """PNG: probability of success per dose over the sample size (simulated, +-2 MC SE)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = _stat(frame, "DESIGN.curve", scenario).filter(pl.col("stat_name").is_in(["prob_success", "mc_se"]))
    fig, ax = plt.subplots(figsize=(6.4, 3.8), dpi=110)
    for arm in d["variable"].unique(maintain_order=True).to_list():
        x = d.filter((pl.col("variable") == arm) & (pl.col("stat_name") == "prob_success"))
        s = d.filter((pl.col("variable") == arm) & (pl.col("stat_name") == "mc_se"))
        n = [int(v) for v in x["group2_level"].to_list()]
        order = sorted(range(len(n)), key=n.__getitem__)
        n = [n[i] for i in order]
        p = [x["stat"][i] for i in order]
        e = [2 * s["stat"][i] for i in order]
        ax.errorbar(n, p, yerr=e, marker="o", capsize=3, label=arm)
    ax.set_xlabel("patients randomized")
    ax.set_ylabel("P(all co-primaries succeed)")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(title="dose")
    ax.set_title(f"Probability of success by sample size ({scenario})")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def render_html(frame: pl.DataFrame, meta: dict[str, Any]) -> str:
    """The HTML report, rendered from the ARD (``meta``: study, replicates, seed, trials per second)."""
    title = f"{meta['study']}: design operating characteristics"
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}img{max-width:100%}"
             ".note{color:#555;font-size:.9em}</style></head><body>", f"<h1>{html.escape(title)}</h1>",
             f"<p class='note'>{meta['replicates']} simulated trials per scenario (seed {meta['seed']}, "
             f"{meta['backend']} backend, {meta['trials_per_second']:.0f} trials/s). Power after the graphical "
             "multiplicity strategy; raw power: the unadjusted CMH test at the full level; analytic: normal "
             "approximation for the stratified CMH test (Woolson, Bean and Rojas 1986) at the model's expected "
             "stratum rates. Monte Carlo standard errors in parentheses.</p>"]
    scen = frame.filter(pl.col("analysis_id") == "DESIGN.fwer")["group1_level"].to_list()
    for sc in scen:
        parts.append(f"<h2>Scenario: {html.escape(sc)}</h2>")
        h = _stat(frame, "DESIGN.hypothesis", sc).pivot(on="stat_name", index="variable", values="stat")
        rows = []
        for r in h.iter_rows(named=True):
            def f(k: str, r: dict = r) -> str:
                v = r.get(k)
                return "" if v is None else f"{v:.3f}"
            rows.append({"Hypothesis": r["variable"], "Power (adjusted)": f"{f('power')} ({f('mc_se')})",
                         "Raw power": f"{f('raw_power')} ({f('raw_mc_se')})",
                         "Analytic raw power": f("analytic_raw_power"),
                         "Initial weight": f("initial_weight"),
                         "Power at w x alpha": f"{f('split_power')}" if r.get("split_power") is not None else "",
                         "Analytic at w x alpha": f("analytic_split_power"),
                         "Mean MH risk difference": f"{f('mean_rd')} ({f('mean_rd_mc_se')})"})
        parts.append(make_gt(pl.DataFrame(rows)).tab_header("Power per hypothesis").as_raw_html())
        s = _stat(frame, "DESIGN.success", sc).pivot(on="stat_name", index="variable", values="stat")
        c = _stat(frame, "DESIGN.claims", sc).pivot(on="stat_name", index="variable", values="stat")
        fw = _stat(frame, "DESIGN.fwer", sc).pivot(on="stat_name", index="variable", values="stat")
        rows = [{"Quantity": f"All co-primaries succeed, {r['variable']}",
                 "Probability": f"{r['prob_success']:.3f} ({r['mc_se']:.3f})"} for r in s.iter_rows(named=True)]
        rows += [{"Quantity": f"Claim {r['variable']}", "Probability": f"{r['p']:.3f} ({r['mc_se']:.3f})"}
                 for r in c.iter_rows(named=True)]
        rows += [{"Quantity": "Any hypothesis rejected (FWER under a null scenario)",
                  "Probability": f"{r['p']:.4f} ({r['mc_se']:.4f})"} for r in fw.iter_rows(named=True)]
        parts.append(make_gt(pl.DataFrame(rows)).tab_header("Probability of success").as_raw_html())
        rt = _stat(frame, "DESIGN.rates", sc).filter(pl.col("stat_name") == "rate")
        rt = rt.with_columns((pl.col("stat") * 100).round(1).cast(pl.Utf8).alias("pct"))
        wide = rt.pivot(on="group2_level", index="variable", values="pct").rename({"variable": "Endpoint"})
        parts.append(make_gt(wide).tab_header("Expected responder rates %").as_raw_html())
        png = base64.b64encode(curve_figure(frame, sc)).decode()
        parts.append(f"<img alt='power curve {html.escape(sc)}' src='data:image/png;base64,{png}'>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_outputs(res: dict[str, Any], out: Path) -> list[Path]:
    """``design.json``, ``ard.parquet``/``ard.json`` and ``report.html`` in ``out`` (atomically)."""
    out = Path(out)
    frame = to_ard(res)
    files = [_files.write_text(out / "design.json", design_json(res))]
    files += list(ard.write(frame, out))
    files.append(_files.write_text(out / "report.html", render_html(frame, res)))
    return files
