"""Shortcut and closed testing against brute-force closure, R fixtures and worked examples."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from bruteforce import all_intersection_weights, closed_test, sequential_rejections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trialkit.errors import TrialkitError
from trialkit.multiplicity import Graph, holm, two_doses_coprimary
from trialkit.multiplicity.procedures import _shortcut_dense, _shortcut_table

VAL = Path(__file__).parents[2] / "validation" / "multiplicity"
ALPHA = 0.025


def random_graph(rng: np.random.Generator, m: int) -> tuple[np.ndarray, np.ndarray]:
    w = rng.exponential(size=m) * (rng.random(m) < 0.8)
    if w.sum() == 0:
        w[0] = 1
    w = w / w.sum() * (1.0 if rng.random() < 0.7 else rng.uniform(0.3, 1))
    t = rng.exponential(size=(m, m)) * (rng.random((m, m)) < 0.6)
    np.fill_diagonal(t, 0)
    s = t.sum(1, keepdims=True)
    t = np.where(s > 0, t / np.where(s > 0, s, 1), 0) * np.where(rng.random((m, 1)) < 0.7, 1, rng.uniform(0.2, 1))
    if rng.random() < 0.2:  # epsilon edges
        i, j = rng.choice(m, 2, replace=False) if m > 1 else (0, 0)
        if i != j:
            t[i] *= 1 - 1e-4
            t[i, j] += 1e-4 * (1 if t[i].sum() + 1e-4 <= 1 else 0)
    return w, t


def random_p(rng: np.random.Generator, m: int, n: int) -> np.ndarray:
    p = rng.uniform(size=(n, m)) ** 3 * rng.choice([0.05, 0.2, 1.0], size=(n, 1))
    ties = rng.random((n, m)) < 0.1
    p[ties] = np.round(p[ties], 2)  # some ties and exact zeros
    return p


def far_from_alpha(adj: np.ndarray, alpha: float = ALPHA) -> np.ndarray:
    return np.abs(adj - alpha) > 1e-9


def test_bonferroni_shortcut_equals_bruteforce_closure_random():
    """2000 random graphs x 5 p-value vectors: shortcut == brute-force closed Bonferroni test."""
    rng = np.random.default_rng(20240611)
    n_cases = 0
    for _ in range(2000):
        m = int(rng.integers(1, 6))
        w, t = random_graph(rng, m)
        g = Graph(w, t)
        P = random_p(rng, m, 5)
        res = g.test(P, alpha=ALPHA)  # vectorised over the 5 rows
        table = all_intersection_weights(w, t, seed=int(rng.integers(1 << 30)))
        for r in range(5):
            adj_bf, rej_bf = closed_test(w, t, P[r], "bonferroni", ALPHA, weights_table=table)
            np.testing.assert_allclose(res.adjusted_pvalues[r], adj_bf, rtol=1e-9, atol=1e-15)
            ok = far_from_alpha(adj_bf)
            np.testing.assert_array_equal(res.rejected[r][ok], rej_bf[ok])
            n_cases += 1
    assert n_cases == 10_000


def test_shortcut_rejections_do_not_depend_on_order():
    rng = np.random.default_rng(7)
    rnd = random.Random(7)
    for _ in range(300):
        m = int(rng.integers(2, 7))
        w, t = random_graph(rng, m)
        p = random_p(rng, m, 1)[0]
        res = Graph(w, t).test(p, alpha=ALPHA)
        ok = far_from_alpha(res.adjusted_pvalues)
        for _rep in range(3):
            got = sequential_rejections(w, t, p, ALPHA, rnd)
            expect = {i for i in range(m) if res.rejected[i]}
            assert {i for i in got if ok[i]} == {i for i in expect if ok[i]}


@pytest.mark.parametrize("method", ["simes", "hochberg"])
def test_simes_hochberg_closure_random(method):
    rng = np.random.default_rng(11 if method == "simes" else 12)
    for _ in range(300):
        m = int(rng.integers(1, 6))
        if method == "hochberg":
            g = holm(m)  # Hochberg needs equal weights in every intersection
            w, t = g.weights, g.transitions
        else:
            w, t = random_graph(rng, m)
            g = Graph(w, t)
        P = random_p(rng, m, 4)
        res = g.test(P, alpha=ALPHA, method=method)
        table = all_intersection_weights(w, t)
        for r in range(4):
            adj_bf, rej_bf = closed_test(w, t, P[r], method, ALPHA, weights_table=table)
            np.testing.assert_allclose(res.adjusted_pvalues[r], adj_bf, rtol=1e-9, atol=1e-15)
            ok = far_from_alpha(adj_bf)
            np.testing.assert_array_equal(res.rejected[r][ok], rej_bf[ok])


def test_parametric_closure_random_bivariate_groups():
    rng = np.random.default_rng(5)
    for _ in range(60):
        m = int(rng.integers(2, 6))
        w, t = random_graph(rng, m)
        corr = np.full((m, m), np.nan)
        np.fill_diagonal(corr, 1)
        rho = rng.uniform(-0.5, 0.95)
        corr[0, 1] = corr[1, 0] = rho
        groups = [[0, 1]] + [[i] for i in range(2, m)]
        P = random_p(rng, m, 3)
        res = Graph(w, t).test(P, alpha=ALPHA, method="parametric", correlation=corr)
        full = np.where(np.isnan(corr), 0, corr)
        for r in range(3):
            adj_bf, _ = closed_test(w, t, P[r], "parametric", ALPHA, groups=groups, corr=full)
            np.testing.assert_allclose(res.adjusted_pvalues[r], adj_bf, rtol=1e-6, atol=1e-12)


# ------------------------------------------------------------------ property-based (hypothesis)
@st.composite
def graphs_and_p(draw):
    m = draw(st.integers(1, 5))
    unit = st.floats(0, 1, allow_nan=False)
    w = np.array(draw(st.lists(unit, min_size=m, max_size=m)))
    scale = draw(st.sampled_from([1.0, 0.5, 0.9]))
    w = w / w.sum() * scale if w.sum() > 0 else np.full(m, scale / m)
    t = np.array(draw(st.lists(st.lists(unit, min_size=m, max_size=m), min_size=m, max_size=m)))
    np.fill_diagonal(t, 0)
    s = t.sum(1, keepdims=True)
    t = np.where(s > 1, t / np.where(s > 0, s, 1), t)
    p = np.array(draw(st.lists(st.one_of(st.floats(0, 1), st.sampled_from([0.0, 0.01, 0.0125, 0.025, 1.0])),
                               min_size=m, max_size=m)))
    return w, t, p


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # denormal weights drawn by hypothesis
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs_and_p(), st.sampled_from(["bonferroni", "simes"]))
def test_property_closure(case, method):
    w, t, p = case
    g = Graph(w, t)
    res = g.test(p, alpha=ALPHA, method=method)
    adj_bf, rej_bf = closed_test(w, t, p, method, ALPHA)
    np.testing.assert_allclose(res.adjusted_pvalues, adj_bf, rtol=1e-9, atol=1e-12)
    ok = far_from_alpha(adj_bf)
    np.testing.assert_array_equal(res.rejected[ok], rej_bf[ok])
    # monotone in alpha: what is rejected at alpha stays rejected at 2 alpha
    assert np.all(g.test(p, alpha=2 * ALPHA, method=method).rejected[res.rejected])
    # Simes closure rejects at least what Bonferroni rejects
    if method == "simes":
        assert np.all(res.adjusted_pvalues <= g.test(p, alpha=ALPHA).adjusted_pvalues + 1e-12)


def test_table_and_dense_shortcut_agree():
    rng = np.random.default_rng(9)
    for _ in range(100):
        m = int(rng.integers(1, 8))
        w, t = random_graph(rng, m)
        g = Graph(w, t)
        P = random_p(rng, m, 50)
        a1, _ = _shortcut_table(g, P)
        a2, _ = _shortcut_dense(g, P)
        np.testing.assert_allclose(a1, a2, rtol=1e-9, atol=1e-14)


def test_large_graph_uses_dense_path():
    g = holm(20)
    p = np.linspace(0.0001, 0.02, 20)
    adj = g.test(p, alpha=0.05).adjusted_pvalues
    # Holm: adjusted p_(i) = max_{k<=i} (m - k + 1) p_(k)
    expect = np.maximum.accumulate((20 - np.arange(20)) * p)
    np.testing.assert_allclose(adj, np.minimum(expect, 1), rtol=1e-12)
    with pytest.raises(TrialkitError, match="2\\^20"):
        g.test(p, method="simes")


# ------------------------------------------------------------------ fixtures
def _graph(e):
    return Graph(e["weights"], e["transitions"], e["names"])


BRETZ = json.loads((VAL / "bretz2009_examples.json").read_text())["examples"]


@pytest.mark.parametrize("ex", BRETZ, ids=[e["name"] for e in BRETZ])
def test_bretz2009_examples(ex):
    g = _graph(ex)
    res = g.test(ex["pvalues"], alpha=ex["alpha"])
    assert res.rejected.tolist() == ex["rejected"]
    assert list(res.rejection_order) == ex["rejection_order"]
    if "adjusted_pvalues_decimals" in ex:  # printed output, rounded
        np.testing.assert_array_equal(np.round(res.adjusted_pvalues, ex["adjusted_pvalues_decimals"]),
                                      ex["adjusted_pvalues"])
    else:
        np.testing.assert_allclose(res.adjusted_pvalues, ex["adjusted_pvalues"], rtol=1e-6)
    np.testing.assert_allclose(res.final_graph.weights, ex["weights_after_rejections"], rtol=1e-6, atol=1e-12)
    if "intermediate_after_H2_H1" in ex:
        mid = res.graphs[2]
        np.testing.assert_allclose(mid.weights, ex["intermediate_after_H2_H1"]["weights"])
        np.testing.assert_allclose(mid.transitions, ex["intermediate_after_H2_H1"]["transitions"])
        for k, name in enumerate(res.rejection_order):
            before = res.graphs[k]
            assert before.weights[before.index(name)] == pytest.approx(ex["test_value_weights"][name])


PRINTED = json.loads((VAL / "bretz2009_printed.json").read_text())


@pytest.mark.parametrize("ex", PRINTED["examples"], ids=[e["name"] for e in PRINTED["examples"]])
def test_bretz2009_printed_examples(ex):
    """The numbers printed in Bretz et al. (2009), as transcribed (provenance in validation/multiplicity/
    bretz2009_printed.py): rejections, their order, Algorithm 2's adjusted p-values, levels and edges after steps."""
    alpha = PRINTED["alpha"]
    g = _graph(ex)
    res = g.test(ex["pvalues"], alpha=alpha)
    pr = ex["printed"]
    assert res.rejected.tolist() == pr["rejected"]
    if "rejection_order" in pr:
        assert list(res.rejection_order) == pr["rejection_order"]
    if "adjusted_pvalues" in pr:  # printed to three decimals
        np.testing.assert_array_equal(np.round(res.adjusted_pvalues, 3), pr["adjusted_pvalues"])
    for step, name in enumerate(res.rejection_order):
        after = res.graphs[step + 1]
        for h, level in pr.get("levels_after", {}).get(name, {}).items():
            assert after.weights[after.index(h)] * alpha == pytest.approx(level, abs=1e-8)
        tr = pr.get("transition_after", {}).get(name)
        if tr:
            assert after.transitions[after.index(tr["from"]), after.index(tr["to"])] == pytest.approx(tr["weight"])


R_REF = json.loads((VAL / "closed_testing_reference.json").read_text())


def _corr(c):
    return np.array([[np.nan if v is None else v for v in row] for row in c], dtype=float)


@pytest.mark.parametrize("method", ["bonferroni", "simes", "parametric"])
def test_against_r_closed_testing(method):
    worst = 0.0
    for c in R_REF["closure"]:
        g = Graph(c["weights"], c["transitions"])
        kw = {"correlation": _corr(c["correlation"])} if method == "parametric" else {}
        adj = g.test(c["pvalues"], alpha=ALPHA, method=method, **kw).adjusted_pvalues
        ref = np.array(c[method])
        trivariate = method == "parametric" and max(np.atleast_1d(x).size for x in c["groups"]) > 2
        # trivariate probabilities come from scipy's quasi-Monte Carlo (absolute error ~1e-7)
        np.testing.assert_allclose(adj, ref, rtol=1e-6, atol=2e-7 if trivariate else 1e-14)
        if not trivariate:
            worst = max(worst, float(np.max(np.abs(adj - ref) / ref)))
    assert worst < 1e-6


def test_against_multcomp_dunnett():
    for c in R_REF["dunnett"]:
        k = len(c["pvalues"])
        res = holm(k).test(c["pvalues"], method="parametric", correlation=c["correlation"])
        tol = dict(rtol=1e-6) if k == 2 else dict(rtol=1e-6, atol=2e-7)
        # closed Dunnett (Holm graph + parametric) = step-down Dunnett ("free" in multcomp)
        np.testing.assert_allclose(res.adjusted_pvalues, c["free"], **tol)
        i = int(np.argmin(c["pvalues"]))
        assert res.adjusted_pvalues[i] == pytest.approx(c["single_step"][i], rel=1e-6, abs=tol.get("atol", 0))


def test_bvn_against_mvtnorm():
    from trialkit.multiplicity._mvn import bvn_upper

    for b in R_REF["bvn"]:
        got = float(bvn_upper(b["h"], b["k"], b["r"]))
        assert got == pytest.approx(b["p"], rel=1e-6, abs=1e-15)


# ------------------------------------------------------------------ interface
def test_leading_axes_and_single_vector_agree():
    g = two_doses_coprimary(["high", "low"], ["EASI75", "VIGA01"], ["RIGA01"])
    rng = np.random.default_rng(1)
    P = rng.uniform(0, 0.03, size=(3, 4, 6))
    corr = np.full((6, 6), np.nan)
    np.fill_diagonal(corr, 1)
    for a, b in ((0, 2), (1, 3), (4, 5)):
        corr[a, b] = corr[b, a] = 0.5
    for method, kw in (("bonferroni", {}), ("simes", {}), ("parametric", {"correlation": corr})):
        res = g.test(P, method=method, **kw)
        assert res.rejected.shape == (3, 4, 6) and res.rejection_order is None
        one = g.test(P[1, 2], method=method, **kw)
        np.testing.assert_allclose(res.adjusted_pvalues[1, 2], one.adjusted_pvalues)
        assert len(one.graphs) == len(one.rejection_order) + 1


def test_parametric_beats_bonferroni_for_positive_correlation():
    g = holm(2)
    p = [0.013, 0.014]
    bon = g.test(p, alpha=0.025)
    par = g.test(p, alpha=0.025, method="parametric", correlation=[[1, 0.5], [0.5, 1]])
    assert not bon.rejected.any() and par.rejected.all()


def test_input_errors():
    g = holm(2)
    with pytest.raises(TrialkitError, match="last axis"):
        g.test([0.01, 0.02, 0.03])
    with pytest.raises(TrialkitError) as e:
        g.test([0.01, np.nan])
    assert e.value.rows == ["H2"]
    with pytest.raises(TrialkitError, match="unknown method"):
        g.test([0.01, 0.02], method="sidak")
    with pytest.raises(TrialkitError, match="needs the correlation"):
        g.test([0.01, 0.02], method="parametric")
    with pytest.raises(TrialkitError, match="only used"):
        g.test([0.01, 0.02], correlation=[[1, 0], [0, 1]])
    with pytest.raises(TrialkitError, match="partly unknown"):
        holm(3).test([0.01, 0.02, 0.03], method="parametric",
                     correlation=[[1, 0.5, 0.5], [0.5, 1, np.nan], [0.5, np.nan, 1]])
    with pytest.raises(TrialkitError, match="alpha"):
        g.test([0.01, 0.02], alpha=1.5)
    with pytest.raises(TrialkitError, match="equal weights"):
        Graph([0.7, 0.3], [[0, 1], [1, 0]]).test([0.01, 0.02], method="hochberg")
