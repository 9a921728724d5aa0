"""The self-contained HTML report: topline table (published vs simulated), figures, methods; from the ARD."""

from __future__ import annotations

import base64
import html
from typing import Any

import polars as pl

from trialkit.report.formats import fmt_pct, fmt_pct_ci, fmt_pvalue
from trialkit.report.gt import make_gt

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1200px;margin:2em auto;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
.note{color:#555;font-size:.9em}img{max-width:100%}
"""


def labels_of(topline: dict[str, Any]) -> dict[str, str]:
    return {a["id"]: a["label"] for a in topline["arms"]}


def topline_frame(topline: dict[str, Any]) -> pl.DataFrame:
    """Display rows of the binary endpoints: simulated next to published."""
    labels = {a["id"]: a["label"] for a in topline["arms"]}
    comparator = next((a["label"] for a in topline["arms"] if a["placebo"]), "comparator")
    rows = []
    for ep in topline["endpoints"]:
        if ep["type"] != "binary":
            continue
        for r in ep["results"]:
            pub = r.get("published") or {}
            diff = fmt_pct_ci(r["diff_vs_placebo"], r["ci_low"], r["ci_high"])
            rows.append({
                "Endpoint": f"{ep['label']} (week {ep['visit_week']}, {ep['role']})",
                "Arm": labels[r["arm"]], "n/N": f"{r['responders']}/{r['n']}", "Rate %": fmt_pct(r["rate"]),
                f"Difference vs {comparator} % (95% CI)": diff, "p": fmt_pvalue(r["p_value"]),
                "Published rate %": fmt_pct(pub.get("rate")), "Published diff %": fmt_pct(pub.get("diff_vs_placebo")),
                "Published p": pub.get("p_value") or "",
            })
    return pl.DataFrame(rows)


def _continuous_frame(topline: dict[str, Any]) -> pl.DataFrame | None:
    labels = {a["id"]: a["label"] for a in topline["arms"]}
    rows = []
    for ep in topline["endpoints"]:
        if ep["type"] == "binary":
            continue
        for r in ep["results"]:
            f = lambda x: "" if x is None else f"{x:.1f}"  # noqa: E731
            rows.append({"Endpoint": f"{ep['label']} (week {ep['visit_week']}, observed cases)",
                         "Arm": labels[r["arm"]], "n": str(r["n"]), "Mean": f(r["mean"]), "SD": f(r["sd"]),
                         "Median": f(r["median"])})
    return pl.DataFrame(rows) if rows else None


def render_report(topline: dict[str, Any], figures: dict[str, bytes], *,
                  tables: dict[str, pl.DataFrame] | None = None, extra_sections: list[str] | None = None) -> str:
    """HTML text of the report (figures embedded as base64 PNG)."""
    title = f"{topline['study']}: {topline['source']} results vs published topline"
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<style>{CSS}</style></head><body>", f"<h1>{html.escape(title)}</h1>",
             f"<p>{html.escape(topline['title'])}</p>",
             f"<p class='note'>{topline['n_randomized']} randomized ("
             + ", ".join(f"{html.escape(a['label'])}: {a['n']}" for a in topline["arms"])
             + f"); seed {topline['seed']}.</p>", "<p class='note'>Estimands: " + "; ".join(
                 html.escape(f"{e['id']}: population {e['estimand']['population']}, rescue {e['estimand']['rescue']}"
                             f", discontinuation {e['estimand']['discontinuation']}, missing {e['estimand']['missing']}"
                             f" ({e['analysis']})") for e in topline["endpoints"] if "estimand" in e) + ".</p>"]
    gt = (make_gt(topline_frame(topline).to_pandas(), groupname_col="Endpoint")
          .tab_header(title=f"Responder endpoints: {topline['source']} vs published",
                      subtitle="; ".join(sorted({e["analysis"] for e in topline["endpoints"]
                                                 if e.get("type") == "binary"}))))
    parts += ["<h2>Topline</h2>", gt.as_raw_html()]
    sens_rows = []
    for ep in topline["endpoints"]:
        sens = ep.get("sensitivity")
        if not sens:
            continue
        for r in sens["mi_mar"]:
            t = sens["tipping_delta"].get(r["arm"])
            sens_rows.append({"Endpoint": ep["label"], "Arm": labels_of(topline)[r["arm"]],
                              "MI (MAR) difference % (95% CI)":
                                  fmt_pct_ci(r["diff_vs_placebo"], r["ci_low"], r["ci_high"]),
                              "p": fmt_pvalue(r["p_value"]),
                              "Tipping point (shift)": f"not reached (> {sens['tipping_max_delta']:g})" if t is None
                              else f"{t:g}"})
    if sens_rows:
        parts += ["<h2>Sensitivity analyses of the primary endpoints</h2>",
                  make_gt(pl.DataFrame(sens_rows).to_pandas()).tab_header(
                      title="Multiple imputation under MAR and tipping point",
                      subtitle="Underlying score imputed by MMRM (100 imputations), dichotomized; MH risk difference "
                               "pooled by Rubin's rules").as_raw_html()]
    for kind in ("mmrm", "ancova"):
        for ep in topline["endpoints"]:
            mm_rows = []
            for r in ep.get(kind) or []:
                diff = ("" if r["diff_vs_placebo"] is None else
                        f"{r['diff_vs_placebo']:.1f} ({r['ci_low']:.1f}, {r['ci_high']:.1f})")
                mm_rows.append({"Arm": labels_of(topline)[r["arm"]],
                                "LS mean (SE)": f"{r['lsmean']:.1f} ({r['se']:.2f})",
                                "Difference vs comparator (95% CI)": diff, "p": fmt_pvalue(r["p_value"])})
            if mm_rows:
                est = ep.get("estimand", {})
                parts += [f"<h2>{html.escape(ep['label'])}: {kind.upper()}</h2>",
                          make_gt(pl.DataFrame(mm_rows).to_pandas()).tab_header(
                              title=f"{ep['label']} (week {ep['visit_week']})",
                              subtitle=f"{ep['analysis']}; rescue {est.get('rescue')}, discontinuation "
                                       f"{est.get('discontinuation')}, missing {est.get('missing')}").as_raw_html()]
    for ep in topline["endpoints"]:
        if ep.get("cmh_rms_pvalue") is not None:
            parts.append(f"<p>{html.escape(ep['label'])}: {html.escape(ep['analysis'])}, p = "
                         f"{fmt_pvalue(ep['cmh_rms_pvalue'])}</p>")
    cont = _continuous_frame(topline)
    if cont is not None:
        parts += ["<h2>Continuous endpoints</h2>",
                  make_gt(cont.to_pandas(), groupname_col="Endpoint").as_raw_html()]
    mult = topline.get("multiplicity")
    if mult:
        mf = pl.DataFrame([{"Hypothesis": h["id"], "Initial weight": f"{h['weight']:.3f}",
                            "p (raw)": fmt_pvalue(h["p_value"]), "Adjusted p": fmt_pvalue(h["adjusted_p_value"]),
                            "Rejected": "yes" if h["rejected"] else "no"} for h in mult["hypotheses"]])
        claims = ", ".join(f"{html.escape(k)}: {'met' if v else 'not met'}" for k, v in mult["claims"].items())
        parts += ["<h2>Multiplicity-adjusted conclusions</h2>",
                  make_gt(mf.to_pandas()).tab_header(
                      title=f"Graphical procedure ({mult['method']}), overall alpha {mult['alpha']:g} (two-sided)"
                  ).as_raw_html(), f"<p>Claims: {claims}</p>"]
    for name, png in figures.items():
        b64 = base64.b64encode(png).decode("ascii")
        parts += [f"<h2>{html.escape(name)}</h2>", f"<img alt='{html.escape(name)}' src='data:image/png;base64,{b64}'>"]
    if tables:
        parts.append("<h2>Safety</h2>")
        for title, frame in tables.items():
            if frame.height:
                parts.append(make_gt(frame.to_pandas()).tab_header(title=title).as_raw_html())
    parts += extra_sections or []
    parts += ["<h2>Methods</h2><p class='note'>Rates: Wilson 95% CI. Differences: Mantel-Haenszel weighted risk "
              "difference with Sato's variance (Sato 1989; SAS PROC FREQ COMMONRISKDIFF). p: Cochran-Mantel-Haenszel "
              "test (general association, 1 df) stratified by the randomization strata. Every number on this page "
              "comes from the analysis results data (ard.parquet / ard.json) written next to it.</p>",
              "</body></html>"]
    return "\n".join(parts) + "\n"
