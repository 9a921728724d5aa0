"""Published worked examples (gMCP, gMCPLite, lrstat, graphicalMCP) reproduced by trialkit.multiplicity.

The fixture validation/multiplicity/published_examples.json holds numbers transcribed from the named public source
(see the header of validation/multiplicity/published_examples.py); its "derived_exact" graphs are exact-rational
Algorithm 1 updates computed there, not by trialkit.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from trialkit.multiplicity import Graph

VAL = Path(__file__).parents[2] / "validation" / "multiplicity"
DOC = json.loads((VAL / "published_examples.json").read_text())
EXAMPLES: list[dict[str, Any]] = DOC["examples"]


def _num(x: Any) -> float:
    return float(Fraction(x)) if isinstance(x, str) else float(x)


def _graph(ex: dict[str, Any]) -> Graph:
    return Graph([_num(w) for w in ex["weights"]], [[_num(v) for v in row] for row in ex["transitions"]],
                 ex["names"])


def _cases() -> list[tuple[dict[str, Any], dict[str, Any], str]]:
    out = []
    for ex in EXAMPLES:
        if "cases" in ex:
            for k, c in enumerate(ex["cases"]):
                out.append((ex, c, f"{ex['name']}[{k}:{c['method']}]"))
        elif "pvalues" in ex:
            out.append((ex, ex, ex["name"]))
    return out


CASES = _cases()


def _run(ex: dict[str, Any], case: dict[str, Any]):
    corr = case.get("correlation")
    if corr is not None:
        corr = np.array([[np.nan if v is None else v for v in row] for row in corr], dtype=float)
    return _graph(ex).test(case.get("pvalues", ex.get("pvalues")), alpha=ex["alpha"], method=case["method"],
                           correlation=corr, groups=case.get("groups"))


@pytest.mark.parametrize(("ex", "case"), [c[:2] for c in CASES], ids=[c[2] for c in CASES])
def test_published_decisions_and_adjusted_pvalues(ex, case):
    pub = case["published"]
    res = _run(ex, case)
    if "rejected" in pub:
        assert res.rejected.tolist() == pub["rejected"]
    if "adjusted_pvalues" in pub:
        np.testing.assert_allclose(res.adjusted_pvalues, pub["adjusted_pvalues"], rtol=0,
                                   atol=pub["adjusted_pvalues_tol"] + 1e-15)
    if "adjusted_below_alpha" in pub:  # gMCPLite checks adjPValues < alpha
        assert (res.adjusted_pvalues < ex["alpha"]).tolist() == pub["adjusted_below_alpha"]
    if "rejection_order" in pub:
        assert list(res.rejection_order) == pub["rejection_order"]
    if "test_value_weights" in pub:  # weight of each hypothesis in the graph it is tested in
        for k, name in enumerate(pub["rejection_order"]):
            before = res.graphs[k]
            assert before.weights[before.index(name)] == pytest.approx(pub["test_value_weights"][name], abs=1e-12)
        last = res.final_graph
        for name in set(pub["test_value_weights"]) - set(pub["rejection_order"]):
            assert last.weights[last.index(name)] == pytest.approx(pub["test_value_weights"][name], abs=1e-12)


GRAPH_CASES = [(ex, g) for ex in EXAMPLES for g in ex.get("published", {}).get("graphs", [])]


@pytest.mark.parametrize(("ex", "pub"), GRAPH_CASES,
                         ids=[f"{ex['name']}-after-{'-'.join(g['removed'])}" for ex, g in GRAPH_CASES])
def test_published_intermediate_graphs(ex, pub):
    g = _graph(ex)
    for h in pub["removed"]:
        g = g.remove(h)
    graphs = [g]
    if "pvalues" in ex and "cases" not in ex:
        res = _run(ex, ex)
        if set(pub["removed"]) == set(res.rejection_order[: len(pub["removed"])]):
            # the graph after the same set of rejections does not depend on their order (Bretz et al. 2009)
            graphs.append(res.graphs[len(pub["removed"])])
    for gg in graphs:
        np.testing.assert_allclose(gg.transitions, pub["transitions"], rtol=0, atol=pub["transitions_tol"] + 1e-12)
        if "weights" in pub:
            np.testing.assert_allclose(gg.weights, pub["weights"], rtol=0, atol=1e-12)


DERIVED = [(ex, k) for ex in EXAMPLES for k in range(len(ex.get("derived_exact", [])))]


@pytest.mark.parametrize(("ex", "k"), DERIVED, ids=[f"{ex['name']}-step{k + 1}" for ex, k in DERIVED])
def test_step_by_step_graphs_match_exact_arithmetic(ex, k):
    g = _graph(ex)
    for step in ex["derived_exact"][: k + 1]:
        g = g.remove(step["removed"])
    exp = ex["derived_exact"][k]
    np.testing.assert_allclose(g.weights, [_num(x) for x in exp["weights"]], rtol=0, atol=1e-12)
    np.testing.assert_allclose(g.transitions, [[_num(x) for x in r] for r in exp["transitions"]], rtol=0, atol=1e-12)


def test_every_example_names_its_source():
    for ex in EXAMPLES + DOC["not_reproduced"]:
        src = ex["source"]
        assert src["repository"].count("/") == 1 and src["path"] and src["where"], ex["name"]
        assert "published" in ex and ex["published"] or any("published" in c for c in ex.get("cases", []))


def test_lrstat_example_simes_rejects_what_bonferroni_cannot():
    # The point of the Bretz et al. (2011) example: at alpha = 0.025 Bonferroni rejects H1, H2 only, the Simes
    # closure all four (first p-value vector), the Dunnett closure H1, H2 only.
    ex = next(e for e in EXAMPLES if e["name"] == "lrstat_bretz2011_bonferroni_simes_dunnett")
    rej = {c["method"]: _run(ex, c).rejected[0].tolist() for c in ex["cases"]}
    assert rej == {"bonferroni": [True, True, False, False], "simes": [True] * 4,
                   "parametric": [True, True, False, False]}
