"""The numerical examples printed in Bretz, Maurer, Brannath and Posch (2009), "A graphical approach to sequentially
rejective multiple test procedures", Statistics in Medicine 28:586-604 (doi 10.1002/sim.3495), as JSON fixtures.

Rerun (from the repository root; standard library only, does not import trialkit):
    python validation/multiplicity/bretz2009_printed.py
Writes validation/multiplicity/bretz2009_printed.json.

Provenance (read this before trusting a number). The paper's text was not available offline. The printed values
below come from two public transcriptions by people who read it:

- A: licklider-ai/nomue-protocol, review-inputs/r3-srd-primary-investigation/reproduce-sr-d.py and REVIEW-RESULT.md
  (commit 09353d41133aa20ad66bdb8d19929b4ddb7a743e): "Expected values are transcribed from the printed originals
  and are cited by printed page". It gives every example here, with page numbers, and notes a misprint on p. 598.
- B: entjos/entjosR, R/p_adjust_graph.R (commit 0cb4780a95540b03fbc0fe80e7e84e042e876893), an independent R
  implementation whose documented example is "Example from Figure 3 in the original article":
  p = c(0.02, 0.055, 0.012), alpha = 0.05, the Holm graph. It confirms example 1 (the p-values and the graph).

Example 1 is confirmed by both; examples 2-4 rest on transcription A alone (and the graphs of examples 3 and 4 are
A's encoding of Figures 9 and 10, epsilon-graphs of Section 3.3). Expected values are the printed ones; this script
also recomputes them by Algorithms 1 and 2 of the paper in exact rational arithmetic (epsilon = 1e-9) and stops if
they disagree, so the fixture is at least internally consistent. The tests
(tests/multiplicity/test_procedures.py::test_bretz2009_printed_examples) check trialkit against these values.
"""

from __future__ import annotations

import json
import platform
from fractions import Fraction as F
from pathlib import Path

# Algorithms 1 and 2 in exact arithmetic: the sibling script's (this directory is on sys.path when run as a script)
from bretz2009_examples import adjusted, sequential

EPS = F(1, 10**9)
ALPHA = F(5, 100)


def zeros(m):
    return [[F(0)] * m for _ in range(m)]


def examples():
    out = []
    # 1. Holm, m = 3 (Figure 3 graph; worked in Figure 4, pp. 590-591; Algorithm 2 example, p. 595)
    g = [[F(0), F(1, 2), F(1, 2)], [F(1, 2), F(0), F(1, 2)], [F(1, 2), F(1, 2), F(0)]]
    out.append(dict(
        name="holm_m3_figure4_algorithm2", pages="pp. 590-591 (Figure 4), p. 595 (Algorithm 2)", sources=["A", "B"],
        weights=[F(1, 3)] * 3, transitions=g, pvalues=[F(2, 100), F(55, 1000), F(12, 1000)],
        printed={"rejection_order": ["H3", "H1"], "rejected": [True, False, True],
                 "adjusted_pvalues": [0.04, 0.055, 0.036],
                 "levels_after": {"H3": {"H1": 0.025, "H2": 0.025}, "H1": {"H2": 0.05}}},
        note="H2 is not rejected: after H3 and H1 its level is 0.05 < 0.055."))
    # 2. Parallel gatekeeping, Figure 2 vs its epsilon-improvement Figure 12, with the p-values of p. 598
    p = [F(2, 100), F(4, 100), F(1, 100), F(15, 1000)]
    w = [F(1, 2), F(1, 2), F(0), F(0)]
    g2 = zeros(4)
    for i in (0, 1):
        g2[i][2] = g2[i][3] = F(1, 2)
    g2[2][3] = g2[3][2] = F(1)
    g12 = [row[:] for row in g2]
    g12[2][0], g12[2][3] = EPS, 1 - EPS
    g12[3][1], g12[3][2] = EPS, 1 - EPS
    out.append(dict(
        name="figure2_parallel_gatekeeping_p598", pages="p. 598", sources=["A"], weights=w, transitions=g2,
        pvalues=p, printed={"rejected": [True, False, True, True]},
        note="The paragraph's trace gives H1, H3, H4 (H2 not: p2 = 0.04 > alpha/2); its last sentence misprints "
             "the set as 'H_1, H_2, and H_3' (noted by transcription A)."))
    out.append(dict(
        name="figure12_improved_gatekeeping_p598", pages="p. 598", sources=["A"], weights=w, transitions=g12,
        pvalues=p, printed={"rejected": [True, True, True, True]},
        note="The epsilon edges pass H3 and H4's level back to H1 and H2 once both are rejected."))
    # 3. Figure 9: Holm on H1, H2; H3 tested only after both are rejected (epsilon edge H2 -> H3)
    g9 = zeros(3)
    g9[0][1] = F(1)
    g9[1][0], g9[1][2] = 1 - EPS, EPS
    out.append(dict(
        name="figure9_epsilon_graph", pages="pp. 596-597", sources=["A"], weights=[F(1, 2), F(1, 2), F(0)],
        transitions=g9, pvalues=[F(4, 100), F(1, 100), F(3, 100)],
        printed={"rejected": [True, True, True], "transition_after": {"H2": {"from": "H1", "to": "H3", "weight": 1.0}}},
        note="After H2 is rejected the edge H1 -> H3 has weight eps / (1 - (1 - eps)) = 1."))
    # 4. Figure 10: as Figure 9 with two secondary hypotheses, split r1 = 0.8, r2 = 0.2
    g10 = zeros(4)
    g10[0][1] = F(1)
    g10[1][0], g10[1][2], g10[1][3] = 1 - EPS, F(8, 10) * EPS, F(2, 10) * EPS
    g10[2][3] = g10[3][2] = F(1)
    out.append(dict(
        name="figure10_epsilon_graph", pages="pp. 597-598", sources=["A"], weights=[F(1, 2), F(1, 2), F(0), F(0)],
        transitions=g10, pvalues=[F(4, 100), F(1, 100), F(3, 100), F(4, 100)],
        printed={"rejected": [True, True, True, True], "levels_after": {"H1": {"H3": 0.04, "H4": 0.01}}},
        note="levels_after H1 means after H2 and then H1 are rejected (up to terms of order eps)."))
    return out


def check(ex):
    """Recompute the printed values exactly; stop on disagreement."""
    names = [f"H{i + 1}" for i in range(len(ex["weights"]))]
    order, graphs = sequential(ex["weights"], ex["transitions"], ex["pvalues"], ALPHA)
    pr = ex["printed"]
    rejected = [i in order for i in range(len(names))]
    assert rejected == pr["rejected"], (ex["name"], rejected)
    if "rejection_order" in pr:
        assert [names[i] for i in order] == pr["rejection_order"], ex["name"]
    if "adjusted_pvalues" in pr:
        adj = adjusted(ex["weights"], ex["transitions"], ex["pvalues"])
        assert [round(float(a), 3) for a in adj] == pr["adjusted_pvalues"], (ex["name"], adj)
    for j, (w, g) in zip(order, graphs, strict=True):  # the graph after each rejection
        for h, lev in pr.get("levels_after", {}).get(names[j], {}).items():
            assert abs(float(w[names.index(h)] * ALPHA) - lev) < 1e-8, (ex["name"], h)
        tr = pr.get("transition_after", {}).get(names[j])
        if tr:
            assert g[names.index(tr["from"])][names.index(tr["to"])] == F(1), ex["name"]


def main() -> None:
    exs = examples()
    for ex in exs:
        check(ex)
    out = {
        "generated_by": "validation/multiplicity/bretz2009_printed.py",
        "rerun": "python validation/multiplicity/bretz2009_printed.py",
        "python": platform.python_version(),
        "alpha": float(ALPHA),
        "epsilon": float(EPS),
        "sources": {
            "A": "licklider-ai/nomue-protocol review-inputs/r3-srd-primary-investigation/reproduce-sr-d.py and "
                 "REVIEW-RESULT.md @ 09353d41133aa20ad66bdb8d19929b4ddb7a743e (transcribed from the printed paper)",
            "B": "entjos/entjosR R/p_adjust_graph.R @ 0cb4780a95540b03fbc0fe80e7e84e042e876893 ('Example from "
                 "Figure 3 in the original article')",
        },
        "examples": [
            {**{k: v for k, v in ex.items() if k not in ("weights", "transitions", "pvalues")},
             "names": [f"H{i + 1}" for i in range(len(ex["weights"]))],
             "weights": [float(x) for x in ex["weights"]],
             "transitions": [[float(x) for x in row] for row in ex["transitions"]],
             "pvalues": [float(x) for x in ex["pvalues"]]}
            for ex in exs
        ],
    }
    path = Path(__file__).with_suffix(".json")
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {path} ({len(exs)} examples, all printed values recomputed exactly)")


if __name__ == "__main__":
    main()
