"""Graph validity checks, updates, templates, study-file round trip, claims, figure."""

from __future__ import annotations

import numpy as np
import pytest

from trialkit.errors import TrialkitError
from trialkit.multiplicity import (
    Graph,
    Strategy,
    claims_met,
    dose_correlation,
    dunnett_rho,
    fallback,
    fixed_sequence,
    from_dict,
    hochberg,
    holm,
    two_doses_coprimary,
    two_doses_coprimary_claims,
)
from trialkit.multiplicity.templates import dose_pairs

# a two-dose design with two co-primaries and one key secondary (the templates have no defaults for these)
DOSES = ("high", "low")
COPRIMARY = ("EASI75", "VIGA01")
SECONDARY = ("RIGA01",)
TWO = {"doses": DOSES, "coprimary": COPRIMARY, "secondary": SECONDARY}


@pytest.mark.parametrize(
    ("weights", "trans", "needle", "variable"),
    [
        ([0.6, 0.6], [[0, 1], [1, 0]], "sum to 1.2", "weights"),
        ([-0.1, 0.5], [[0, 1], [1, 0]], "outside [0, 1]", "weights[H1]"),
        ([0.5, 0.5], [[0, 1.2], [1, 0]], "outside [0, 1]", "transitions[H1][H2]"),
        ([0.5, 0.5], [[0.5, 0.5], [1, 0]], "self-loop", "transitions[H1][H1]"),
        ([0.5, 0.25, 0.25], [[0, 0.7, 0.7], [1, 0, 0], [1, 0, 0]], "sum to 1.4", "transitions[H1]"),
        ([0.5, 0.5], [[0, 1, 0], [1, 0, 0]], "2 x 2", "transitions"),
        ([0.5, np.nan], [[0, 1], [1, 0]], "outside [0, 1]", "weights[H2]"),
    ],
)
def test_invalid_graphs_name_the_entry(weights, trans, needle, variable):
    with pytest.raises(TrialkitError) as e:
        Graph(weights, trans, source="studies/ignite.toml: multiplicity")
    assert needle in str(e.value)
    assert e.value.variable == variable
    assert "studies/ignite.toml" in str(e.value)


def test_names_are_checked():
    with pytest.raises(TrialkitError, match="duplicate"):
        Graph([0.5, 0.5], [[0, 1], [1, 0]], ["A", "A"])
    with pytest.raises(TrialkitError, match="3 names"):
        Graph([0.5, 0.5], [[0, 1], [1, 0]], ["A", "B", "C"])


def test_thirds_sum_to_one_within_tolerance():
    holm(3)  # 1/3 + 1/3 + 1/3 must pass
    Graph([1 / 3] * 3, [[0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]])


def test_remove_matches_bretz_update_by_hand():
    # Bretz et al. 2009 Figure 5 (bottom): rejecting H2 gives levels (a1 + a2/2, 0, a3 + a2/2), g13 = 1
    g = Graph([0.4, 0.4, 0.2], [[0, 0.5, 0.5], [0.5, 0, 0.5], [0, 0, 0]])
    g2 = g.remove("H2")
    np.testing.assert_allclose(g2.weights, [0.6, 0.0, 0.4])
    assert g2.transitions[0, 2] == pytest.approx(1.0)
    assert g2.transitions[:, 1].sum() == 0 and g2.transitions[1].sum() == 0


def test_intersection_weights_order_free():
    from bruteforce import all_intersection_weights

    rng = np.random.default_rng(3)
    for _ in range(20):
        m = int(rng.integers(2, 6))
        w = rng.dirichlet(np.ones(m))
        t = rng.random((m, m)) * (rng.random((m, m)) < 0.7)
        np.fill_diagonal(t, 0)
        t = t / np.maximum(t.sum(1, keepdims=True), 1e-12)
        g = Graph(w, t)
        W = g.intersection_weights()
        for J, wJ in all_intersection_weights(w, t, seed=int(rng.integers(1000))).items():
            mask = sum(1 << i for i in J)
            np.testing.assert_allclose(W[mask], wJ, rtol=1e-10, atol=1e-14)


def test_templates_structure():
    fs = fixed_sequence(3)
    np.testing.assert_array_equal(fs.weights, [1, 0, 0])
    assert fs.transitions[0, 1] == 1 and fs.transitions[1, 2] == 1
    fb = fallback([0.5, 0.3, 0.2])
    np.testing.assert_allclose(fb.weights, [0.5, 0.3, 0.2])
    h = holm(4)
    np.testing.assert_allclose(h.transitions.sum(1), 1)
    assert hochberg(4) == h
    # weighted Holm: every intersection gets weights proportional to the initial ones
    wh = holm(3, [0.5, 0.3, 0.2])
    W = wh.intersection_weights()
    np.testing.assert_allclose(W[0b110][1:], np.array([0.3, 0.2]) / 0.5)


def test_two_doses_coprimary_template():
    g = two_doses_coprimary(**TWO)
    assert g.names == ("EASI75_high", "VIGA01_high", "EASI75_low", "VIGA01_low", "RIGA01_high", "RIGA01_low")
    np.testing.assert_allclose(g.weights, [0.5, 0, 0.5, 0, 0, 0])
    assert g.transitions[0, 1] == 1  # co-primaries in sequence within a dose
    assert g.transitions[1, 4] == 0.5 and g.transitions[1, 2] == 0.5
    assert g.transitions[4, 2] == 1
    # secondaries only reachable through their own dose's co-primaries: no weight until VIGA01 falls
    W = g.intersection_weights()
    full = (1 << 6) - 1
    assert W[full & ~0b1][4] == 0  # EASI75_high rejected only
    claims = two_doses_coprimary_claims(**TWO)
    assert claims["primary_high"] == ["EASI75_high", "VIGA01_high"]
    assert claims["RIGA01_low"] == ["EASI75_low", "VIGA01_low", "RIGA01_low"]
    # IGNITE-like p-values: high dose wins both co-primaries, low dose misses VIGA01
    p = [0.001, 0.004, 0.002, 0.2, 0.005, 0.003]
    res = g.test(p, alpha=0.025)
    met = claims_met(res, claims)
    assert met["primary_high"] and not met["primary_low"]
    assert met["RIGA01_high"] and not met["RIGA01_low"]
    # the low-dose secondary is small but cannot be claimed without its co-primaries
    assert not res.rejected[5]


def test_claims_vectorised_and_errors():
    r = np.array([[True, True, False], [True, False, True]])
    out = claims_met(r, {"a": ["H1", "H2"], "b": ["H3"]}, names=["H1", "H2", "H3"])
    np.testing.assert_array_equal(out["a"], [True, False])
    np.testing.assert_array_equal(out["b"], [False, True])
    with pytest.raises(TrialkitError, match="unknown hypotheses"):
        claims_met(r, {"a": ["H9"]}, names=["H1", "H2", "H3"])


def test_dict_round_trip_and_errors():
    g = two_doses_coprimary(**TWO, gamma=0.25)
    assert from_dict(g.to_dict()) == g
    assert from_dict({"weights": [0.5, 0.5], "transitions": [[0, 1], [1, 0]]}) == holm(2)
    assert from_dict({"template": "holm", "m": 2}) == holm(2)
    t = from_dict({"template": "two_doses_coprimary", "doses": ["d1", "d2"], "coprimary": ["E"], "secondary": []})
    assert t.names == ("E_d1", "E_d2")
    with pytest.raises(TrialkitError) as e:
        from_dict({"hypotheses": [{"name": "A", "weight": 1}], "edges": [{"from": "A", "to": "B", "weight": 1}]},
                  source="studies/x.toml: multiplicity.graph")
    assert e.value.variable == "edges[0].to"
    with pytest.raises(TrialkitError, match="unknown template"):
        from_dict({"template": "nope"})
    with pytest.raises(TrialkitError) as e:
        from_dict({"hypotheses": [{"name": "A", "weight": 0.7}, {"name": "B", "weight": 0.7}]})
    assert "sum to 1.4" in str(e.value)


def test_strategy_from_dict_parametric():
    spec = {
        "graph": {"template": "two_doses_coprimary", **{k: list(v) for k, v in TWO.items()}},
        "alpha": 0.025,
        "method": "parametric",
        "correlation": {"pairs": [list(p) for p in dose_pairs(DOSES, COPRIMARY + SECONDARY)],
                        "rho": dunnett_rho(100, 100, 100)},
        "claims": two_doses_coprimary_claims(**TWO),
    }
    s = Strategy.from_dict(spec, source="studies/ignite.toml: multiplicity")
    assert dunnett_rho(100, 100, 100) == pytest.approx(0.5)
    met = s.claims_met([0.001, 0.004, 0.002, 0.2, 0.005, 0.003])
    assert met["primary_high"] and not met["primary_low"]
    again = Strategy.from_dict(s.to_dict())
    np.testing.assert_array_equal(np.isnan(again.correlation), np.isnan(s.correlation))
    with pytest.raises(TrialkitError, match="unknown hypotheses"):
        Strategy.from_dict({"graph": {"template": "holm", "m": 2}, "claims": {"x": ["H7"]}})


def test_dose_correlation():
    g = two_doses_coprimary(**TWO)
    c = dose_correlation(g, dose_pairs(DOSES, COPRIMARY + SECONDARY), 0.5)
    assert c[0, 2] == 0.5 and np.isnan(c[0, 1]) and c[4, 5] == 0.5


def test_draw_graph(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from trialkit.report.multiplicity_figure import draw_graph

    g = two_doses_coprimary(**TWO)
    res = g.test([0.001, 0.004, 0.002, 0.2, 0.01, 0.003])
    ax = draw_graph(g, result=res, title="IGNITE")
    # shaded nodes = rejected hypotheses
    faces = [p.get_facecolor() for p in ax.patches if type(p).__name__ == "Circle"]
    shaded = [f[:3] != (1.0, 1.0, 1.0) for f in faces]
    assert shaded == res.rejected.tolist()
    n_arrows = sum(type(p).__name__ == "FancyArrowPatch" for p in ax.patches)
    assert n_arrows == np.count_nonzero(g.transitions)
    ax.figure.savefig(tmp_path / "g.png")
    plt.close(ax.figure)
    with pytest.raises(ValueError):
        draw_graph(g, result=g.test(np.full((2, 6), 0.01)))
