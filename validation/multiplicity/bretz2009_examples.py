"""Worked examples for graphical multiple testing, as JSON fixtures with the source of every number.

Rerun (from the repository root; standard library only, does not import trialkit):
    python validation/multiplicity/bretz2009_examples.py
Writes validation/multiplicity/bretz2009_examples.json.

Sources
- Graph structures: Bretz, Maurer, Brannath and Posch (2009), Statistics in Medicine 28:586-604, as transcribed in
  the R package gMCP's example graphs (kornl/gMCP, R/exampleGraphs.R: parallelGatekeeping = Figure 2,
  improvedParallelGatekeeping = Figure 12, BauerEtAl2001 = Figure 8, BretzEtAl2009a/b = Figure 14,
  improvedFallbackI/II) and in graphicalMCP's vignette "graph-examples" (Holm, fixed sequence, fallback).
- "published" expected values: printed output of graphicalMCP's vignette "shortcut-testing"
  (openpharma/graphicalMCP, articles/shortcut-testing.md), an independent R implementation.
- "exact" expected values: computed here with exact rational arithmetic (fractions.Fraction), by the sequentially
  rejective Algorithm 1 and the adjusted p-values of Algorithm 2 of Bretz et al. (2009). The paper's own printed
  p-values were not available offline; where an example re-creates a situation the paper describes (Figure 2 vs
  Figure 12: "H1, H3, H4 rejected, H2 not, because p2 = 0.04 > alpha/2"), the p-values are constructed to match
  that description and say so.
- Published outputs of independent implementations (gMCP, gMCPLite, lrstat, graphicalMCP) with their sources:
  published_examples.py / published_examples.json (tests/multiplicity/test_published_examples.py).
"""

from __future__ import annotations

import json
import platform
from fractions import Fraction as F
from pathlib import Path

EPS = F(1, 10**6)


def remove(w, g, j):
    m = len(w)
    w2 = [w[l] + w[j] * g[j][l] if l != j else F(0) for l in range(m)]
    g2 = [[F(0)] * m for _ in range(m)]
    for l in range(m):
        for k in range(m):
            if l == k or l == j or k == j:
                continue
            d = 1 - g[l][j] * g[j][l]
            g2[l][k] = (g[l][k] + g[l][j] * g[j][k]) / d if d > 0 else F(0)
    return w2, g2


def sequential(w, g, p, alpha):
    """Algorithm 1: reject any H_j with p_j <= w_j alpha (smallest p_j / w_j first), update, repeat."""
    active = set(range(len(w)))
    order, graphs = [], []
    while True:
        cand = [j for j in active if w[j] > 0 and p[j] <= w[j] * alpha]
        if not cand:
            return order, graphs
        j = min(cand, key=lambda i: (p[i] / w[i], i))
        order.append(j)
        active.discard(j)
        w, g = remove(w, g, j)
        graphs.append((w, g))


def adjusted(w, g, p):
    """Algorithm 2 (Bretz et al. 2009, Section 4)."""
    active = set(range(len(w)))
    adj = [None] * len(w)
    qmax = F(0)
    while active:
        ratios = {j: (p[j] / w[j] if w[j] > 0 else None) for j in active}
        finite = {j: r for j, r in ratios.items() if r is not None}
        if not finite:
            for j in active:
                adj[j] = F(1)
            break
        j = min(finite, key=lambda i: (finite[i], i))
        qmax = max(qmax, finite[j])
        adj[j] = min(qmax, F(1))
        active.discard(j)
        w, g = remove(w, g, j)
    return adj


def f(x):
    return float(x)


def example(name, source, names, w, g, p, alpha, note=""):
    order, graphs = sequential(w, g, p, alpha)
    adj = adjusted(w, g, p)
    final_w = graphs[-1][0] if graphs else w
    return {
        "name": name,
        "graph_source": source,
        "expected_source": "exact: Algorithms 1-2 in rational arithmetic (this script)",
        "note": note,
        "names": names,
        "weights": [f(x) for x in w],
        "transitions": [[f(x) for x in row] for row in g],
        "pvalues": [f(x) for x in p],
        "alpha": f(alpha),
        "rejected": [i in order for i in range(len(w))],
        "rejection_order": [names[i] for i in order],
        "adjusted_pvalues": [f(x) for x in adj],
        "weights_after_rejections": [f(x) for x in final_w],
    }


def main() -> None:
    h = F(1, 2)
    third = F(1, 3)
    out = []
    # Figure 1: weighted Bonferroni-Holm, m = 2
    out.append(example("figure1_holm_m2", "Bretz 2009 Figure 1", ["H1", "H2"], [h, h], [[0, 1], [1, 0]],
                       [F("0.01"), F("0.02")], F("0.025")))
    # Figure 3: Holm, m = 3
    g3 = [[0, h, h], [h, 0, h], [h, h, 0]]
    out.append(example("figure3_holm_m3", "Bretz 2009 Figure 3", ["H1", "H2", "H3"], [third] * 3, g3,
                       [F("0.01"), F("0.03"), F("0.015")], F("0.05")))
    # Fixed sequence and fallback (Bretz 2009, Section 3; Wiens 2003)
    chain = [[0, 1, 0], [0, 0, 1], [0, 0, 0]]
    out.append(example("fixed_sequence", "Bretz 2009 Section 3 (fixed sequence)", ["H1", "H2", "H3"],
                       [F(1), F(0), F(0)], chain, [F("0.01"), F("0.04"), F("0.001")], F("0.05"),
                       "H3 has the smallest p-value but is never reached"))
    out.append(example("fallback", "Bretz 2009 Section 3 (fallback, Wiens 2003)", ["H1", "H2", "H3"],
                       [h, F(1, 4), F(1, 4)], chain, [F("0.03"), F("0.01"), F("0.04")], F("0.05")))
    # Improved fallback I (Wiens and Dmitrienko 2005; Bretz 2009 Figure 7 family), gMCP improvedFallbackI
    out.append(example("improved_fallback_1", "gMCP improvedFallbackI(rep(1/3, 3))", ["H1", "H2", "H3"],
                       [third] * 3, [[0, 1, 0], [0, 0, 1], [h, h, 0]],
                       [F("0.04"), F("0.02"), F("0.01")], F("0.05")))
    # Figure 5 bottom (loop): rejecting H2 gives levels (a1 + a2/2, 0, a3 + a2/2) and g13 = 1
    out.append(example("figure5_loop", "Bretz 2009 Figure 5 (bottom), loop H1 <-> H2", ["H1", "H2", "H3"],
                       [F(2, 5), F(2, 5), F(1, 5)], [[0, h, h], [h, 0, h], [0, 0, 0]],
                       [F("0.03"), F("0.001"), F("0.012")], F("0.05"),
                       "after H2: w = (0.6, 0, 0.4) and g13 = 1; then H3 (0.012 <= 0.4 alpha), then H1 at alpha"))
    # Figure 2 (parallel gatekeeping, Dmitrienko et al. 2003) vs Figure 12 (epsilon-improved)
    fig2 = [[0, 0, h, h], [0, 0, h, h], [0, 0, 0, 1], [0, 0, 1, 0]]
    fig12 = [[0, 0, h, h], [0, 0, h, h], [EPS, 0, 0, 1 - EPS], [0, EPS, 1 - EPS, 0]]
    p_gk = [F("0.01"), F("0.04"), F("0.005"), F("0.01")]
    note = ("p-values constructed to match the paper's description of its example (Figure 2 rejects H1, H3, "
            "H4 but not H2 because p2 = 0.04 > alpha/2; Figure 12 rejects all four); epsilon = 1e-6")
    out.append(example("figure2_parallel_gatekeeping", "Bretz 2009 Figure 2", ["H1", "H2", "H3", "H4"],
                       [h, h, F(0), F(0)], fig2, p_gk, F("0.05"), note))
    out.append(example("figure12_improved_gatekeeping", "Bretz 2009 Figure 12", ["H1", "H2", "H3", "H4"],
                       [h, h, F(0), F(0)], fig12, p_gk, F("0.05"), note))
    # Figure 8 (Bauer et al. 2001 step-down, gMCP BauerEtAl2001)
    fig8 = [[0, 0, 0, 1, 0, 0], [0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 1],
            [0, h, h, 0, 0, 0], [h, 0, h, 0, 0, 0], [h, h, 0, 0, 0, 0]]
    out.append(example("figure8_bauer2001", "Bretz 2009 Figure 8", ["E1", "E2", "E3", "S1", "S2", "S3"],
                       [third] * 3 + [F(0)] * 3, fig8,
                       [F("0.005"), F("0.02"), F("0.3"), F("0.01"), F("0.012"), F("0.001")], F("0.05")))
    # Figure 14 (case study, two doses x three hierarchical endpoints), gMCP BretzEtAl2009a and b
    names14 = ["H11", "H21", "H12", "H22", "H13", "H23"]
    fig14a = [[0, 0, 1, 0, 0, 0], [0, 0, 0, 1, 0, 0], [0, 0, 0, 0, 1, 0],
              [0, 0, 0, 0, 0, 1], [0, 1, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0]]
    fig14b = [[0, h, h, 0, 0, 0], [h, 0, 0, h, 0, 0], [0, 0, 0, h, h, 0],
              [0, 0, h, 0, 0, h], [0, 1, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0]]
    p14 = [F("0.01"), F("0.02"), F("0.005"), F("0.015"), F("0.03"), F("0.02")]
    for nm, gg in (("figure14_left", fig14a), ("figure14_right", fig14b)):
        out.append(example(nm, f"Bretz 2009 Figure 14 (gMCP BretzEtAl2009{'a' if gg is fig14a else 'b'})",
                           names14, [h, h] + [F(0)] * 4, gg, p14, F("0.025")))
    for e in out:
        e["graph_entries_exact"] = True
    # Published output of an independent implementation (graphicalMCP vignette "shortcut-testing")
    out.append({
        "name": "graphicalmcp_shortcut_vignette",
        "graph_source": "graphicalMCP vignette 'shortcut-testing' (two doses, primary and secondary endpoint)",
        "expected_source": "published: printed output in openpharma/graphicalMCP articles/shortcut-testing.md",
        "note": "adjusted p-values printed to 3 decimals; test-value weights 0.5, 0.75, 0.5, 1.0 for H2, H1, H4, H3",
        "names": ["H1", "H2", "H3", "H4"],
        "weights": [0.5, 0.5, 0.0, 0.0],
        "transitions": [[0, 0.5, 0.5, 0], [0.5, 0, 0, 0.5], [0, 1, 0, 0], [1, 0, 0, 0]],
        "pvalues": [0.018, 0.01, 0.105, 0.006],
        "alpha": 0.025,
        "rejected": [True, True, False, True],
        "rejection_order": ["H2", "H1", "H4"],
        "adjusted_pvalues": [0.024, 0.020, 0.105, 0.024],
        "adjusted_pvalues_decimals": 3,
        "weights_after_rejections": [0.0, 0.0, 1.0, 0.0],
        "intermediate_after_H2_H1": {"weights": [0, 0, 0.5, 0.5],
                                     "transitions": [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]]},
        "test_value_weights": {"H2": 0.5, "H1": 0.75, "H4": 0.5, "H3": 1.0},
    })
    doc = {
        "generated_by": "validation/multiplicity/bretz2009_examples.py",
        "rerun": "python validation/multiplicity/bretz2009_examples.py",
        "python": platform.python_version(),
        "examples": out,
    }
    path = Path(__file__).with_name("bretz2009_examples.json")
    path.write_text(json.dumps(doc, indent=1) + "\n")
    print("wrote", path)


if __name__ == "__main__":
    main()
