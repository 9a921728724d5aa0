"""Worked examples with PUBLISHED numbers for graphical multiple testing, as a JSON fixture.

Rerun (from the repository root; standard library only, does not import trialkit):
    python validation/multiplicity/published_examples.py
Writes validation/multiplicity/published_examples.json.

Every number under "published" below is transcribed by hand from the file named in the example's "source"
(repository + path + test/section, read from the stored public copy of that repository); nothing in "published" is
computed here. Under "derived_exact" this script adds the intermediate graphs that the sources do not print in full,
computed in exact rational arithmetic (fractions.Fraction) with the Algorithm 1 update of Bretz, Maurer, Brannath
and Posch (2009), Statistics in Medicine 28:586-604 (the same update as bretz2009_examples.py); these are
labelled as derived, not published.

What this fixture is NOT: the printed numbers of Bretz et al. (2009) itself. The paper's body text was not
available offline (only its abstract, which says the approach "is illustrated with the visualization of several
common gatekeeping strategies" and "a case study" - i.e. graphs, not p-values). The graphs of its Figures 2, 8, 12,
14 and 15 are known through the R package gMCP (kornl/gMCP, pkg/gMCP/R/exampleGraphs.R: parallelGatekeeping,
BauerEtAl2001, improvedParallelGatekeeping, BretzEtAl2009a/b/c); numbers computed on them are in
bretz2009_examples.json (exact arithmetic, not published). The examples here are published outputs of independent
implementations (gMCP, gMCPLite, lrstat, graphicalMCP) on graphs from Bretz et al. (2009, 2011) and Bretz, Maurer
and Hommel (2011).

Not reproducible with the current trialkit API (recorded under "not_reproduced"): closed tests that mix test types
across groups (parametric for some groups, Simes for others), e.g. graphicalMCP's closed-testing vignette.
"""

from __future__ import annotations

import json
import platform
from fractions import Fraction as F
from pathlib import Path

from bretz2009_examples import remove  # exact Algorithm 1 update (same folder)

GMCP = "kornl/gMCP"
GMCPLITE = "Merck/gMCPLite"
LRSTAT = "kaifenglu/lrstat"
GRAPHICALMCP_OP = "openpharma/graphicalMCP"
GRAPHICALMCP_GS = "Gilead-BioStats/graphicalMCP"


def s(x: F) -> str:
    return str(x)


def derive(weights: list[str], transitions: list[list[str]], order: list[int]) -> list[dict]:
    """Graphs after each removal in ``order``, exact (as 'p/q' strings)."""
    w = [F(x) for x in weights]
    g = [[F(x) for x in row] for row in transitions]
    out = []
    for j in order:
        w, g = remove(w, g, j)
        out.append({"removed": j, "weights": [s(x) for x in w], "transitions": [[s(x) for x in r] for r in g]})
    return out


def main() -> None:
    ex: list[dict] = []

    # ---------------------------------------------------------------- gMCP, Bretz-Maurer-Hommel (2011) Figure 2
    names = ["H11", "H21", "H31", "H12", "H22", "H32"]
    w = ["1/3", "1/3", "1/3", "0", "0", "0"]
    t = [["0", "1/2", "0", "1/2", "0", "0"],
         ["1/3", "0", "1/3", "0", "1/3", "0"],
         ["0", "1/2", "0", "0", "0", "1/2"],
         ["0", "1", "0", "0", "0", "0"],
         ["1/2", "0", "1/2", "0", "0", "0"],
         ["0", "1", "0", "0", "0", "0"]]
    fin_t = [["0"] * 6 for _ in range(6)]
    fin_t[0][3], fin_t[0][4] = 0.666666666666667, 0.333333333333333  # H11 -> H12, H22 (as printed)
    fin_t[3][0], fin_t[3][4] = 0.5, 0.5  # H12 -> H11, H22
    fin_t[4][0] = 1  # H22 -> H11
    fin_t = [[float(x) for x in r] for r in fin_t]
    ex.append({
        "name": "gmcp_bretz_maurer_hommel_2011_fig2",
        "source": {"repository": GMCP, "path": "pkg/gMCP/inst/unitTests/runit.graphSRMTP.R",
                   "where": "test.srmtpBretzEtAl; graph createGraphFromBretzEtAl = BretzEtAl2011() in "
                            "pkg/gMCP/R/exampleGraphs.R ('Bretz et al. (2011) - Figure 2': Bretz, Maurer, Hommel, "
                            "Stat Med 30:1489-1501); the same p-values in the vignette inst/doc/gMCP/gMCP.Rnw, "
                            "'Final graph ... after rejection of H21, H31 and H32'"},
        "names": names, "weights": w, "transitions": t,
        "pvalues": [0.1, 0.008, 0.005, 0.15, 0.04, 0.006],
        "alpha": 0.05, "alpha_note": "gMCP's default alpha (not passed in the test)",
        "method": "bonferroni",
        "published": {
            "rejected": [False, True, True, False, False, True],
            "graphs": [{"removed": ["H21", "H31", "H32"], "transitions": fin_t, "transitions_tol": 1e-9,
                        "note": "result@graphs[[4]]: edgeWeights of the final graph; every edge not listed is "
                                "absent (0)"}],
        },
        "derived_exact": derive(w, t, [2, 1, 5]),
    })

    # ---------------------------------------------------------------- gMCP, Holm m = 3 adjusted p-values
    holm3_w = ["1/3"] * 3
    holm3_t = [["0", "1/2", "1/2"], ["1/2", "0", "1/2"], ["1/2", "1/2", "0"]]
    ex.append({
        "name": "gmcp_holm3_adjusted_pvalues",
        "source": {"repository": GMCP, "path": "pkg/gMCP/inst/unitTests/runit.graphSRMTP.R",
                   "where": "test.adjPValues: adjPValues(createBonferroniHolmGraph(3), c(0.02,0.055,0.012))"},
        "names": ["H1", "H2", "H3"], "weights": holm3_w, "transitions": holm3_t,
        "pvalues": [0.02, 0.055, 0.012], "alpha": 0.05, "method": "bonferroni",
        "published": {"adjusted_pvalues": [0.04, 0.055, 0.036], "adjusted_pvalues_tol": 1e-12},
    })

    # ---------------------------------------------------------------- gMCP vignette, Holm m = 3 worked example
    ex.append({
        "name": "gmcp_vignette_holm3_example",
        "source": {"repository": GMCP, "path": "pkg/gMCP/inst/doc/gMCP/gMCP.Rnw",
                   "where": "Section 1.2 'Example and diving in': p = (0.01, 0.07, 0.02), alpha = 0.05; 'In the "
                            "first step H1 can be rejected ... now also H3 can be rejected ... H2 can not be "
                            "rejected'"},
        "names": ["H1", "H2", "H3"], "weights": holm3_w, "transitions": holm3_t,
        "pvalues": [0.01, 0.07, 0.02], "alpha": 0.05, "method": "bonferroni",
        "published": {"rejected": [True, False, True], "rejection_order": ["H1", "H3"]},
        "derived_exact": derive(holm3_w, holm3_t, [0, 2]),
    })

    # ---------------------------------------------------------------- gMCP, parallel gatekeeping, zero back-edges
    pg_w = ["1/2", "1/2", "0", "0"]
    pg_t = [["0", "0", "1/2", "1/2"], ["0", "0", "1/2", "1/2"], ["0", "0", "0", "1"], ["0", "0", "1", "0"]]
    ex.append({
        "name": "gmcp_parallel_gatekeeping_updates",
        "source": {"repository": GMCP, "path": "pkg/gMCP/inst/unitTests/runit.graphSRMTP.R",
                   "where": "test.srmtpIGK: createGraphForImprovedParallelGatekeeping() (Bretz et al. 2009 "
                            "Figure 2 plus edges H3->H1 and H4->H2 of weight 0 in that version), rejectNode H1 then "
                            "H4; checks edgeWeights after each step. The H3->H2 weight 0 after the second step is "
                            "the 'g_lj g_jl = 1 -> 0' rule of Algorithm 1."},
        "names": ["H1", "H2", "H3", "H4"], "weights": pg_w, "transitions": pg_t,
        "published": {
            "graphs": [
                {"removed": ["H1"], "transitions_tol": 0.0,
                 "transitions": [[0, 0, 0, 0], [0, 0, 0.5, 0.5], [0, 0, 0, 1], [0, 0, 1, 0]]},
                {"removed": ["H1", "H4"], "transitions_tol": 0.0,
                 "transitions": [[0, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0]]},
            ],
        },
        "derived_exact": derive(pg_w, pg_t, [0, 3]),
    })

    # ---------------------------------------------------------------- Bretz et al. (2011) Examples 1-2 graph
    b11_w = ["1/2", "1/2", "0", "0"]
    b11_t = [["0", "0", "1", "0"], ["0", "0", "0", "1"], ["0", "1", "0", "0"], ["1", "0", "0", "0"]]
    b11_src = ("graph of Examples 1 and 2 of Bretz, Posch, Glimm, Klinglmueller, Maurer, Rohmeyer (2011), Biom J "
               "53:894-913 (two doses x primary/secondary; as stated in kornl/gMCP pkg/gMCP/vignettes/parametric.Rnw)")
    ex.append({
        "name": "gmcplite_bretz2011_bonferroni_simes_parametric",
        "source": {"repository": GMCPLITE, "path": "tests/testthat/test-gMCP.R",
                   "where": "tests 'Bonferroni-based', 'weighted Simes', 'parametric' (correlation all ones), "
                            "alpha = 0.05; " + b11_src + "; an older copy in kornl/gMCP "
                            "pkg/gMCP/inst/unitTests/runit.gMCP.R (test.Simes) has the same p-values"},
        "names": ["H1", "H2", "H3", "H4"], "weights": b11_w, "transitions": b11_t,
        "alpha": 0.05,
        "cases": [
            {"method": "bonferroni", "pvalues": [0.01, 0.005, 0.01, 0.5],
             "published": {"rejected": [True, True, True, False],
                           "adjusted_below_alpha": [True, True, True, False]}},
            {"method": "bonferroni", "pvalues": [0.01, 0.005, 0.015, 0.022],
             "published": {"rejected": [True, True, True, True],
                           "adjusted_below_alpha": [True, True, True, True]}},
            {"method": "simes", "pvalues": [0.01, 0.005, 0.01, 0.5],
             "published": {"rejected": [True, True, True, False],
                           "adjusted_below_alpha": [True, True, True, False]}},
            {"method": "simes", "pvalues": [0.01, 0.005, 0.015, 0.022],
             "published": {"rejected": [True, True, True, True],
                           "adjusted_below_alpha": [True, True, True, True]}},
            {"method": "simes", "pvalues": [0.1, 0.1, 0.1, 0.1], "published": {"rejected": [False] * 4}},
            {"method": "simes", "pvalues": [0.01, 0.01, 0.01, 0.01], "published": {"rejected": [True] * 4}},
            {"method": "parametric", "pvalues": [0.01, 0.005, 0.01, 0.5], "correlation": [[1.0] * 4] * 4,
             "published": {"rejected": [True, True, True, False],
                           "adjusted_below_alpha": [True, True, True, False]}},
        ],
    })
    nan = None  # JSON null = unknown correlation
    ex.append({
        "name": "lrstat_bretz2011_bonferroni_simes_dunnett",
        "source": {"repository": LRSTAT, "path": "tests/testthat/test-multiplicity-adjustment.R",
                   "where": "test 'Bonferroni, Dunnett, and Simes benchmarks match known references' (fadjpbon, "
                            "fadjpsim with family {H1,H2},{H3,H4}, fadjpdun with correlation 0.5 within "
                            "families, NA across); the same inputs are the examples of lrstat's fadjpbon/fadjpsim "
                            "help pages; " + b11_src},
        "names": ["H1", "H2", "H3", "H4"], "weights": b11_w, "transitions": b11_t,
        "alpha": 0.025,
        "pvalues": [[0.01, 0.005, 0.015, 0.022], [0.02, 0.015, 0.010, 0.023]],
        "cases": [
            {"method": "bonferroni",
             "published": {"adjusted_pvalues": [[0.02, 0.01, 0.03, 0.03], [0.04, 0.03, 0.04, 0.04]],
                           "adjusted_pvalues_tol": 1e-10}},
            {"method": "simes", "groups": [["H1", "H2"], ["H3", "H4"]],
             "published": {"adjusted_pvalues": [[0.02, 0.01, 0.022, 0.022], [0.04, 0.02, 0.04, 0.04]],
                           "adjusted_pvalues_tol": 1e-10}},
            {"method": "parametric",
             "correlation": [[1, 0.5, nan, nan], [0.5, 1, nan, nan], [nan, nan, 1, 0.5], [nan, nan, 0.5, 1]],
             "published": {"adjusted_pvalues": [[0.02, 0.01, 0.02772937, 0.02772937],
                                                [0.04, 0.02772937, 0.04, 0.04]],
                           "adjusted_pvalues_tol": 5e-9,
                           "note": "printed to 8 decimals (lrstat compares at tolerance 1e-6)"}},
        ],
    })

    # ---------------------------------------------------------------- graphicalMCP shortcut vignette
    sv_w = ["1/2", "1/2", "0", "0"]
    sv_t = [["0", "1/2", "1/2", "0"], ["1/2", "0", "0", "1/2"], ["0", "1", "0", "0"], ["1", "0", "0", "0"]]
    ex.append({
        "name": "graphicalmcp_shortcut_vignette",
        "source": {"repository": GRAPHICALMCP_OP, "path": "articles/shortcut-testing.md",
                   "where": "'Adjusted p-values and rejections', 'Obtain final and intermediate graphs', 'Obtain "
                            "possible orders of rejections', 'Obtain adjusted significance levels' (printed R "
                            "output)"},
        "names": ["H1", "H2", "H3", "H4"], "weights": sv_w, "transitions": sv_t,
        "pvalues": [0.018, 0.01, 0.105, 0.006], "alpha": 0.025, "method": "bonferroni",
        "published": {
            "rejected": [True, True, False, True],
            "adjusted_pvalues": [0.024, 0.020, 0.105, 0.024], "adjusted_pvalues_tol": 5e-4,
            "rejection_order": ["H2", "H1", "H4"],
            "test_value_weights": {"H2": 0.5, "H1": 0.75, "H4": 0.5, "H3": 1.0},
            "graphs": [
                {"removed": ["H2", "H1"], "weights": [0, 0, 0.5, 0.5], "transitions_tol": 0.0,
                 "transitions": [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]]},
                {"removed": ["H2", "H1", "H4"], "weights": [0, 0, 1, 0], "transitions_tol": 0.0,
                 "transitions": [[0] * 4] * 4},
                {"removed": ["H2", "H4"], "weights": [1, 0, 0, 0], "transitions_tol": 0.0,
                 "transitions": [[0, 0, 1, 0], [0, 0, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]],
                 "note": "alternative valid order H2 -> H4 (graph_update(g, delete = orders[[2]]))"},
            ],
        },
    })

    # ---------------------------------------------------------------- graphicalMCP closed-testing vignette
    eps = "1/100000"
    ct_w = ["1/2", "1/2", "0", "0", "0", "0"]
    ct_t = [["0", "1/2", "1/4", "0", "1/4", "0"],
            ["1/2", "0", "0", "1/4", "0", "1/4"],
            ["0", "0", "0", "0", "1", "0"],
            [eps, "0", "0", "0", "0", "99999/100000"],
            ["0", eps, "99999/100000", "0", "0", "0"],
            ["0", "0", "0", "1", "0", "0"]]
    ct_p = [0.015, 0.013, 0.01, 0.007, 0.1, 0.0124]
    corr12 = [[1, 0.5, nan, nan, nan, nan], [0.5, 1, nan, nan, nan, nan]] + [
        [nan] * k + [1] + [nan] * (5 - k) for k in range(2, 6)]
    ex.append({
        "name": "graphicalmcp_closed_testing_vignette",
        "source": {"repository": GRAPHICALMCP_OP, "path": "articles/closed-testing.md",
                   "where": "'Bonferroni tests' and 'Parametric tests for primary hypotheses' (printed R output; "
                            "epsilon = 1e-5; parametric group {H1,H2} with correlation 0.5, Bonferroni for "
                            "H3..H6; the printed c value is 1.0782936582)"},
        "names": ["H1", "H2", "H3", "H4", "H5", "H6"], "weights": ct_w, "transitions": ct_t,
        "pvalues": ct_p, "alpha": 0.025,
        "cases": [
            {"method": "bonferroni",
             "published": {"rejected": [False] * 6,
                           "adjusted_pvalues": [0.026, 0.026, 0.028, 0.028, 0.100, 0.028],
                           "adjusted_pvalues_tol": 5e-4}},
            {"method": "parametric", "correlation": corr12,
             "published": {"rejected": [True, True, False, False, False, False],
                           "adjusted_pvalues": [0.02413846, 0.02413846, 0.028, 0.028, 0.1, 0.028],
                           "adjusted_pvalues_tol": 5e-9}},
        ],
    })

    # ---------------------------------------------------------------- graphicalMCP, floating-point edge case
    ex.append({
        "name": "graphicalmcp_alpha_boundary_float",
        "source": {"repository": GRAPHICALMCP_GS, "path": "tests/testthat/test-graph_test_shortcut.R",
                   "where": "test 'adjusted p that exceeds alpha by floating point diff is rejected' (alpha = "
                            "0.025, the default)"},
        "names": ["H1", "H2", "H3", "H4", "H5", "H6"],
        "weights": ["1/2", "1/2", "0", "0", "0", "0"],
        "transitions": [["0", "1/2", "1/4", "0", "1/4", "0"],
                        ["1/2", "0", "0", "1/4", "0", "1/4"],
                        ["0", "0", "0", "0", "1", "0"],
                        ["1/10000", "0", "0", "0", "0", "9999/10000"],
                        ["0", "1/10000", "9999/10000", "0", "0", "0"],
                        ["0", "0", "0", "1", "0", "0"]],
        "pvalues": [0.001, 0.01875, 0.013, 0.0002, 0.03, 0.04], "alpha": 0.025, "method": "bonferroni",
        "published": {"rejected": [True, True, False, True, False, False]},
    })

    not_reproduced = [{
        "name": "graphicalmcp_closed_testing_parametric_plus_simes",
        "source": {"repository": GRAPHICALMCP_OP, "path": "articles/closed-testing.md",
                   "where": "'Parametric tests for primary hypotheses and Simes tests for secondary hypotheses'"},
        "published": {"rejected": [True, True, True, True, False, True],
                      "adjusted_pvalues": [0.02413846, 0.02413846, 0.02480008, 0.02480000, 0.1, 0.02480008]},
        "reason": "mixes test types across groups (parametric {H1,H2}, Simes {H3,H5} and {H4,H6}); "
                  "trialkit's graph.test runs one method for all groups",
    }]
    doc = {
        "generated_by": "validation/multiplicity/published_examples.py",
        "rerun": "python validation/multiplicity/published_examples.py",
        "python": platform.python_version(),
        "note": "graph entries are exact rationals written as strings ('1/3'); 'published' values are "
                "transcribed from the named source; 'derived_exact' graphs are computed here in exact arithmetic "
                "(removed = 0-based index), not published",
        "examples": ex,
        "not_reproduced": not_reproduced,
    }
    path = Path(__file__).with_name("published_examples.json")
    path.write_text(json.dumps(doc, indent=1) + "\n")
    print("wrote", path)


if __name__ == "__main__":
    main()
