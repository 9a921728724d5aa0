"""ROCKET-HORIZON (studies/horizon.toml): a second study file, one active arm against placebo (3:1).

It validates, its calibrated disease model meets the published week-24 rates, the one-dose multiplicity strategy
(template ``doses_coprimary``) is the fixed sequence EASI-75 -> vIGA-AD 0/1 -> rIGA 0/1, and the design simulator
and the one-trial pipeline run with a single active arm.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

from trialkit.calibrate import composite_responders
from trialkit.cli import main
from trialkit.errors import TrialkitError
from trialkit.multiplicity import fixed_sequence
from trialkit.simulate import simulate_cohort
from trialkit.study import load_study, parse_study

ROOT = Path(__file__).resolve().parents[1]
PATH = ROOT / "studies" / "horizon.toml"
STUDY = load_study(PATH)

# ../shared/domain/atopic-dermatitis.md: HORIZON week 24, rocatinlimab 300 mg vs placebo
PUBLISHED = {("EASI75", "ROC300"): 0.328, ("EASI75", "PBO"): 0.137, ("VIGA01", "ROC300"): 0.193,
             ("VIGA01", "PBO"): 0.066, ("RIGA01", "ROC300"): 0.164, ("RIGA01", "PBO"): 0.049}


def test_validates_and_matches_the_source():
    assert main(["validate-study", str(PATH)]) == 0
    s = STUDY
    assert s.study.id == "HORIZON" and s.study.registry == "NCT05651711"
    assert s.study.n_randomized == 726 and s.study.duration_weeks == 24
    assert [(a.id, a.label, a.allocation, a.placebo) for a in s.arms] == [
        ("ROC300", "Rocatinlimab 300 mg", 3, False), ("PBO", "Placebo", 1, True)]
    roles = {e.id: e.role for e in s.endpoints}
    assert (roles["EASI75"], roles["VIGA01"], roles["RIGA01"]) == ("co-primary", "co-primary", "key-secondary")
    assert {(p.endpoint, p.arm): p.rate for p in s.published} == PUBLISHED
    assert set(s.model.arms) == {"ROC300", "PBO"} and [sc.name for sc in s.scenarios] == [
        "published", "null", "pessimistic"]
    labels = {a.label for a in s.arms}
    assert all(set(t["incidence"]) == labels for t in s.safety["terms"].values())


def test_one_dose_strategy_is_the_fixed_sequence():
    st = STUDY.strategy()
    assert STUDY.multiplicity["graph"]["template"] == "doses_coprimary"
    assert st.graph == fixed_sequence(["EASI75_ROC300", "VIGA01_ROC300", "RIGA01_ROC300"])
    assert st.alpha == 0.05
    assert st.claims_met([0.001, 0.03, 0.01]) == {"primary_ROC300": True, "RIGA01_ROC300": True}
    # rIGA cannot be claimed, however small its p-value, when a co-primary fails
    assert st.claims_met([0.001, 0.06, 1e-6]) == {"primary_ROC300": False, "RIGA01_ROC300": False}


@pytest.mark.parametrize(
    ("graph", "key", "needle"),
    [
        ({"coprimary": None}, "multiplicity.graph.coprimary", "needs the parameter 'coprimary'"),
        ({"doses": "ROC300"}, "multiplicity.graph.doses", "must be a list"),
        ({"secondaries": ["RIGA01"]}, "multiplicity.graph.secondaries", "no parameter"),
        ({"template": "two_doses_coprimary"}, "multiplicity.graph.doses", "exactly two doses"),
    ],
)
def test_bad_template_parameters_name_the_key(graph, key, needle):
    data = tomllib.loads(PATH.read_text(encoding="utf-8"))
    g = data["multiplicity"]["graph"]
    for k, v in graph.items():
        if v is None:
            del g[k]
        else:
            g[k] = v
    with pytest.raises(TrialkitError) as e:
        parse_study(data, source="horizon.toml")
    assert e.value.variable == key and needle in str(e.value) and e.value.fix


def test_calibrated_rates_at_200000_patients():
    """Week-24 composite rates of 200,000 randomized patients (3:1) lie within 1 percentage point of the
    published ones, placebo included."""
    c = simulate_cohort(STUDY, 200_000, seed=424242)
    diffs = {}
    for ep_id in ("EASI75", "VIGA01", "RIGA01"):
        ep = STUDY.endpoint(ep_id)
        resp = composite_responders(STUDY, c, ep)[:, STUDY.visit_weeks.index(ep.visit_week)]
        for a, arm in enumerate(STUDY.arms):
            diffs[(ep_id, arm.id)] = resp[c.arm == a].mean() - PUBLISHED[(ep_id, arm.id)]
    assert max(abs(d) for d in diffs.values()) < 0.01, diffs
    assert abs((c.arm == 0).mean() - 0.75) < 0.005


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_design_runs_with_one_active_arm(backend, tmp_path):
    r = 500
    assert main(["design", str(PATH), "--replicates", str(r), "--backend", backend, "--out", str(tmp_path)]) == 0
    d = json.loads((tmp_path / "design.json").read_text())
    sc = {s["name"]: s for s in d["scenarios"]}
    assert list(sc) == ["published", "null", "pessimistic"] and d["replicates"] == r
    hyps = {"EASI75_ROC300", "VIGA01_ROC300", "RIGA01_ROC300"}
    for s in sc.values():
        assert set(s["power"]) == hyps and set(s["prob_success"]) == {"ROC300"}
        assert set(s["claims"]) == {"primary_ROC300", "RIGA01_ROC300"}
        assert s["initial_weight"] == {"EASI75_ROC300": 1.0, "VIGA01_ROC300": 0.0, "RIGA01_ROC300": 0.0}
    null = sc["null"]
    se = np.sqrt(0.05 * 0.95 / r)
    # the fixed sequence rejects anything only when EASI-75 is rejected at the full 0.05
    assert null["fwer"] == pytest.approx(null["power"]["EASI75_ROC300"])
    assert 0.05 - 3.5 * se <= null["fwer"] <= 0.05 + 3 * se
    assert null["prob_success"]["ROC300"] <= null["fwer"]
    assert sc["published"]["prob_success"]["ROC300"] > 0.95  # 726 patients, 3:1: the observed effects are large
    assert sc["null"]["prob_success"]["ROC300"] < sc["pessimistic"]["prob_success"]["ROC300"] <= (
        sc["published"]["prob_success"]["ROC300"] + 3 * se)


def test_one_trial_pipeline(tmp_path):
    assert main(["run", str(PATH), "--out", str(tmp_path), "--seed", "3"]) == 0
    t = json.loads((tmp_path / "topline.json").read_text())
    assert t["study"] == "HORIZON" and sum(a["n"] for a in t["arms"]) == 726
    mult = t["multiplicity"]
    assert [h["id"] for h in mult["hypotheses"]] == ["EASI75_ROC300", "VIGA01_ROC300", "RIGA01_ROC300"]
    assert [h["weight"] for h in mult["hypotheses"]] == [1.0, 0.0, 0.0]
    assert set(mult["claims"]) == {"primary_ROC300", "RIGA01_ROC300"}
