"""The design simulator: agreement with analytic power and with the one-trial simulator, type I error,
reproducibility across backends and chunkings, checkpoint resume, CLI outputs."""

import json
from pathlib import Path

import numpy as np
import pytest

from trialkit.calibrate import composite_responders
from trialkit.cli import main
from trialkit.design import engine
from trialkit.design.randomization import cell_index, draw_strata, permuted_blocks
from trialkit.design.results import summarize
from trialkit.design.run import scenario_study, search_sample_size
from trialkit.simulate import simulate_cohort
from trialkit.study import load_study

ROOT = Path(__file__).resolve().parents[2]
STUDY_PATH = ROOT / "studies" / "ignite.toml"
STUDY = load_study(STUDY_PATH)
N = STUDY.study.n_randomized


@pytest.fixture(scope="module")
def published():
    s = scenario_study(STUDY, "published")
    run = engine.run(s, n_sim=N, ns=[385, N], replicates=1600, seed=11, chunk_size=200)
    return run


def _close(sim, an, r, k=3.5):
    se = np.sqrt(max(an * (1 - an), 1e-4) / r)
    return abs(sim - an) <= k * se


def test_simulated_power_matches_analytic(published):
    checked = 0
    for n in (385, N):
        res = summarize(published, n)
        r = res["replicates"]
        for h, an in res["analytic_raw_power"].items():
            if 0.05 < an < 0.995:
                assert _close(res["raw_power"][h], an, r), (n, h, res["raw_power"][h], an)
                checked += 1
        for h, an in res["analytic_split_power"].items():
            if 0.05 < an < 0.995:
                assert _close(res["split_power"][h], an, r), (n, h, res["split_power"][h], an)
                checked += 1
    assert checked >= 4  # the comparison is not vacuous


def test_strategy_power_bounds(published):
    res = summarize(published, N)
    for h, w in res["initial_weight"].items():
        if w > 0:  # a hypothesis tested first at w alpha is rejected at least as often by the graph
            assert res["power"][h] >= res["split_power"][h]
        assert res["power"][h] <= res["raw_power"][h] + 1e-12  # the graph never tests above the full alpha
    for arm, hs in res["coprimary_hypotheses"].items():
        assert res["prob_success"][arm] <= min(res["power"][h] for h in hs) + 1e-12


def test_null_scenario_controls_fwer():
    s = scenario_study(STUDY, "null")
    res = summarize(engine.run(s, n_sim=N, ns=[N], replicates=1600, seed=5, chunk_size=200), N)
    r = res["replicates"]
    assert res["fwer"] <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / r)
    for h, p in res["raw_power"].items():  # each raw test keeps its level
        assert abs(p - 0.05) <= 3.5 * np.sqrt(0.05 * 0.95 / r), (h, p)
    for rates in res["responder_rates"].values():
        assert max(rates.values()) - min(rates.values()) < 0.01


def test_vectorized_rates_match_one_trial_simulator(published):
    res = summarize(published, N)
    c = simulate_cohort(STUDY, 20_000, seed=3)
    k = STUDY.visit_weeks.index(24)
    for ep_id, by_arm in res["responder_rates"].items():
        resp = composite_responders(STUDY, c, STUDY.endpoint(ep_id))[:, k]
        for a_idx, arm in enumerate(STUDY.arms):
            x = resp[c.arm == a_idx]
            p1 = x.mean()
            se1 = np.sqrt(p1 * (1 - p1) / x.size)
            se2 = res["responder_rates_mc_se"][ep_id][arm.id]
            assert abs(by_arm[arm.id] - p1) <= 4 * np.hypot(se1, se2), (ep_id, arm.id, by_arm[arm.id], p1)


def test_per_replicate_randomization_is_blocked():
    rng = np.random.default_rng(1)
    r, n = 50, 300
    strata = draw_strata(STUDY, r * n, rng)
    levels = [len(s.levels) for s in STUDY.strata]
    cell = cell_index(strata.reshape(r, n, -1), levels)
    arm = permuted_blocks(cell, int(np.prod(levels)), [3, 2, 2], 2, rng)
    share = np.array([3, 2, 2]) / 7
    for i in range(r):
        for c in np.unique(cell[i]):
            a = arm[i][cell[i] == c]
            full = a.size // 14 * 14  # complete blocks hold the exact ratio
            assert np.array_equal(np.bincount(a[:full], minlength=3), (share * full).round().astype(int))
    assert len({tuple(arm[i]) for i in range(r)}) == r


def test_reproducible_and_seed_dependent():
    a = engine.run(STUDY, n_sim=200, ns=[200], replicates=30, seed=1, chunk_size=10)
    b = engine.run(STUDY, n_sim=200, ns=[200], replicates=30, seed=1, chunk_size=10, workers=1)
    c = engine.run(STUDY, n_sim=200, ns=[200], replicates=30, seed=2, chunk_size=10)
    for k in a.totals:
        assert np.array_equal(a.totals[k], b.totals[k]), k
    assert not np.array_equal(a.totals["pooled"], c.totals["pooled"])


def test_cupy_code_path_with_numpy_namespace():
    a = engine.run(STUDY, n_sim=150, ns=[150], replicates=12, seed=4, chunk_size=6)
    b = engine.run(STUDY, n_sim=150, ns=[150], replicates=12, seed=4, chunk_size=6, backend="cupy", xp=np)
    for k in a.totals:
        assert np.array_equal(a.totals[k], b.totals[k]), k


def test_dask_local_cluster_matches_numpy():
    pytest.importorskip("distributed")
    kw = dict(n_sim=150, ns=[100, 150], replicates=24, seed=9, chunk_size=6)
    a = engine.run(STUDY, **kw)
    b = engine.run(STUDY, backend="dask", **kw)  # LocalCluster(n_workers=2, processes=True)
    for k in a.totals:
        assert np.array_equal(a.totals[k], b.totals[k]), k


def test_checkpoint_resume(tmp_path, interrupted_run):
    kw = dict(n_sim=150, ns=[150], replicates=25, seed=7, chunk_size=5, workers=1)
    full = engine.run(STUDY, **kw)
    interrupted_run(STUDY, tmp_path, **kw)
    assert len(list(tmp_path.rglob("chunk_*.npz"))) == 2
    resumed = engine.run(STUDY, checkpoint=tmp_path, **kw)
    assert sorted(resumed.resumed_chunks) == [0, 1] and sorted(resumed.computed_chunks) == [2, 3, 4]
    for k in full.totals:
        assert np.array_equal(full.totals[k], resumed.totals[k]), k
    again = engine.run(STUDY, checkpoint=tmp_path, **kw)
    assert again.computed_chunks == [] and not list(tmp_path.rglob("*.tmp"))


def test_sample_size_search_is_consistent():
    res = search_sample_size(STUDY, 0.8, scenario="pessimistic", success="ROC150", replicates=150, seed=2,
                             n_min=280, n_max=1120)
    assert res["reached"]
    n = res["n"]
    ev = res["evaluated"]
    assert ev[n]["prob_success"] >= 0.8
    below = [m for m in ev if m < n]
    assert all(ev[m]["prob_success"] < 0.8 for m in below)
    assert n % 14 == 0 and 280 <= n <= 1120


def test_cli_design_outputs(tmp_path):
    rc = main(["design", str(STUDY_PATH), "--replicates", "40", "--scenario", "null", "--scenario", "published",
               "--out", str(tmp_path), "--seed", "3", "--chunk-size", "20"])
    assert rc == 0
    d = json.loads((tmp_path / "design.json").read_text())
    assert d["replicates"] == 40 and d["trials_per_second"] > 0
    names = [s["name"] for s in d["scenarios"]]
    assert names == ["null", "published"]
    hyps = set(STUDY.strategy().graph.names)
    for sc in d["scenarios"]:
        assert set(sc["power"]) == hyps and set(sc["mc_se"]) == hyps
        assert set(sc["prob_success"]) == {"ROC300", "ROC150"}
    html = (tmp_path / "report.html").read_text()
    assert "data:image/png;base64," in html and "Power per hypothesis" in html
    assert (tmp_path / "ard.parquet").stat().st_size > 0 and (tmp_path / "ard.json").stat().st_size > 0
    assert main(["design", str(STUDY_PATH), "--replicates", "5", "--scenario", "nope"]) == 2
