"""The doses x co-primaries x secondaries templates: no trial in them, one dose or more, IGNITE's graph unchanged,
errors that name the study file's key."""

from __future__ import annotations

import doctest
import tomllib
from pathlib import Path

import numpy as np
import pytest

import trialkit.multiplicity.strategy as strategy_module
import trialkit.multiplicity.templates as templates
from trialkit.errors import TrialkitError
from trialkit.multiplicity import Strategy, fixed_sequence, from_dict, two_doses_coprimary
from trialkit.multiplicity.templates import dose_pairs, doses_coprimary, doses_coprimary_claims

ROOT = Path(__file__).resolve().parents[2]

# IGNITE's graph as two_doses_coprimary built it before the general template existed (frozen numbers)
IGNITE_NAMES = ("EASI75_ROC300", "VIGA01_ROC300", "EASI75_ROC150", "VIGA01_ROC150", "RIGA01_ROC300",
                "RIGA01_ROC150")
IGNITE_WEIGHTS = [0.5, 0.0, 0.5, 0.0, 0.0, 0.0]
IGNITE_TRANSITIONS = [
    [0.0, 1.0, 0.0, 0.0, 0.0, 0.0],
    [0.0, 0.0, 0.5, 0.0, 0.5, 0.0],
    [0.0, 0.0, 0.0, 1.0, 0.0, 0.0],
    [0.5, 0.0, 0.0, 0.0, 0.0, 0.5],
    [0.0, 0.0, 1.0, 0.0, 0.0, 0.0],
    [1.0, 0.0, 0.0, 0.0, 0.0, 0.0],
]


def _ignite_multiplicity() -> dict:
    return tomllib.loads((ROOT / "studies" / "ignite.toml").read_text(encoding="utf-8"))["multiplicity"]


@pytest.mark.parametrize("module", [templates, strategy_module])
def test_doctests(module):
    res = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert res.attempted > 0 and res.failed == 0


def test_no_trial_defaults():
    with pytest.raises(TypeError):
        two_doses_coprimary()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        doses_coprimary(["D"])  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        dose_pairs()  # type: ignore[call-arg]
    with pytest.raises(TrialkitError) as e:
        from_dict({"template": "two_doses_coprimary"})
    assert e.value.variable == "doses" and "needs the parameter 'doses'" in str(e.value)


def test_ignite_graph_is_unchanged():
    spec = _ignite_multiplicity()
    for template in ("two_doses_coprimary", "doses_coprimary"):
        g = Strategy.from_dict({**spec, "graph": {**spec["graph"], "template": template}}).graph
        assert g.names == IGNITE_NAMES
        np.testing.assert_array_equal(g.weights, IGNITE_WEIGHTS)
        np.testing.assert_array_equal(g.transitions, IGNITE_TRANSITIONS)
    # and the results of a test with it
    p = [0.001, 0.004, 0.002, 0.2, 0.005, 0.003]
    res = Strategy.from_dict(spec).test(p)
    assert res.rejected.tolist() == [True, True, True, False, True, False]


@pytest.mark.parametrize("gamma", [0.0, 0.25, 0.5, 1.0])
@pytest.mark.parametrize("dose_weights", [(0.5, 0.5), (0.8, 0.2), (1.0, 0.0)])
@pytest.mark.parametrize(("coprimary", "secondary"), [(["E"], []), (["E", "V"], ["R"]), (["E", "V", "W"], ["R", "S"])])
def test_general_equals_two_dose_template(gamma, dose_weights, coprimary, secondary):
    a = doses_coprimary(["HI", "LO"], coprimary, secondary, dose_weights, gamma)
    b = two_doses_coprimary(["HI", "LO"], coprimary, secondary, dose_weights, gamma)
    assert a == b


def test_one_dose_is_a_fixed_sequence():
    g = doses_coprimary(["ARM"], ["E", "V"], ["R", "S"])
    assert g == fixed_sequence(["E_ARM", "V_ARM", "R_ARM", "S_ARM"])
    assert doses_coprimary(["ARM"], ["E"]) == fixed_sequence(["E_ARM"])
    # gamma has nothing to pass on with one dose
    assert doses_coprimary(["ARM"], ["E", "V"], ["R"], gamma=0.2) == doses_coprimary(["ARM"], ["E", "V"], ["R"])
    res = g.test([0.01, 0.04, 0.03, 0.06], alpha=0.05)
    assert res.rejected.tolist() == [True, True, True, False]
    res = g.test([0.01, 0.06, 0.001, 0.001], alpha=0.05)  # secondaries wait for every co-primary
    assert res.rejected.tolist() == [True, False, False, False]
    claims = doses_coprimary_claims(["ARM"], ["E", "V"], ["R"])
    assert claims == {"primary_ARM": ["E_ARM", "V_ARM"], "R_ARM": ["E_ARM", "V_ARM", "R_ARM"]}
    assert dose_pairs(["ARM"], ["E", "V"]) == []


def test_three_doses():
    g = doses_coprimary(["A", "B", "C"], ["E", "V"], ["R"], gamma=0.4)
    assert g.names[:6] == ("E_A", "V_A", "E_B", "V_B", "E_C", "V_C") and g.names[6:] == ("R_A", "R_B", "R_C")
    np.testing.assert_allclose(g.weights, [1 / 3, 0, 1 / 3, 0, 1 / 3, 0, 0, 0, 0])
    i = {n: k for k, n in enumerate(g.names)}
    assert g.transitions[i["V_A"], i["R_A"]] == pytest.approx(0.6)
    assert g.transitions[i["V_A"], i["E_B"]] == g.transitions[i["V_A"], i["E_C"]] == pytest.approx(0.2)
    assert g.transitions[i["R_B"], i["E_A"]] == g.transitions[i["R_B"], i["E_C"]] == pytest.approx(0.5)
    np.testing.assert_allclose(g.transitions.sum(1)[[1, 3, 5, 6, 7, 8]], 1.0)
    assert len(dose_pairs(["A", "B", "C"], ["E"])) == 3
    # everything significant: every hypothesis falls (the graph passes all of alpha around)
    assert g.test(np.full(9, 0.001), alpha=0.05).rejected.all()


@pytest.mark.parametrize(
    ("graph", "variable", "needle"),
    [
        ({"template": "doses_coprimary", "coprimary": ["E"]}, "doses", "needs the parameter 'doses'"),
        ({"template": "doses_coprimary", "doses": ["D"]}, "coprimary", "needs the parameter 'coprimary'"),
        ({"template": "doses_coprimary", "doses": [], "coprimary": ["E"]}, "doses", "at least one dose"),
        ({"template": "doses_coprimary", "doses": "D", "coprimary": ["E"]}, "doses", "must be a list"),
        ({"template": "doses_coprimary", "doses": ["D"], "coprimary": ["E"], "secondaries": ["R"]}, "secondaries",
         "no parameter"),
        ({"template": "doses_coprimary", "doses": ["D"], "coprimary": ["E"], "gamma": 2}, "gamma", "outside"),
        ({"template": "doses_coprimary", "doses": ["D", "C"], "coprimary": ["E"], "dose_weights": [1]},
         "dose_weights", "one weight per dose"),
        ({"template": "doses_coprimary", "doses": ["D", "C"], "coprimary": ["E"], "dose_weights": [0.8, 0.8]},
         "dose_weights", "sum to at most 1"),
        ({"template": "doses_coprimary", "doses": ["D", "D"], "coprimary": ["E"]}, "doses", "duplicates"),
        ({"template": "doses_coprimary", "doses": ["D"], "coprimary": ["E"], "secondary": ["E"]}, "secondary",
         "both co-primary and secondary"),
        ({"template": "two_doses_coprimary", "doses": ["D"], "coprimary": ["E"]}, "doses", "exactly two doses"),
    ],
)
def test_bad_parameters_name_the_study_file_key(graph, variable, needle):
    with pytest.raises(TrialkitError) as e:
        from_dict(graph, source="studies/x.toml: multiplicity.graph")
    assert e.value.variable == variable and needle in str(e.value) and e.value.fix
    # through the strategy, the key is the whole key under [multiplicity]
    with pytest.raises(TrialkitError) as e:
        Strategy.from_dict({"graph": graph}, source="studies/x.toml: multiplicity")
    assert e.value.variable == f"graph.{variable}"
    assert str(e.value).startswith(f"studies/x.toml: multiplicity: graph.{variable}: ")
    if "two_doses" in graph["template"]:
        assert "doses_coprimary" in e.value.fix
