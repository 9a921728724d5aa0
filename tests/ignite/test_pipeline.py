"""The walking skeleton end to end: simulate -> SDTM -> ADaM -> analysis -> ARD -> topline/report."""

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from trialkit import pipeline
from trialkit.calibrate import composite_responders
from trialkit.cli import main
from trialkit.io import read_parquet, write_dataset
from trialkit.sdtm import build_sdtm
from trialkit.simulate import simulate_cohort
from trialkit.study import load_study

ROOT = Path(__file__).resolve().parents[2]
STUDY = load_study(ROOT / "studies" / "ignite.toml")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    assert main(["run", str(ROOT / "studies" / "ignite.toml"), "--out", str(out), "--seed", "11"]) == 0
    return out


def test_outputs_written(run_dir):
    for name in ("dm", "suppdm", "ex", "ds", "qs", "cm"):
        assert (run_dir / "sdtm" / f"{name}.parquet").is_file()
    for name in ("adsl", "adeff"):
        assert (run_dir / "adam" / f"{name}.parquet").is_file()
    for name in ("ard.parquet", "ard.json", "topline.json", "topline.md", "report.html"):
        assert (run_dir / name).stat().st_size > 0
    html = (run_dir / "report.html").read_text()
    assert "Published rate %" in html and "data:image/png;base64," in html
    assert not list(run_dir.rglob("*.tmp"))


def test_topline_shape(run_dir):
    t = json.loads((run_dir / "topline.json").read_text())
    assert t["study"] == "IGNITE" and t["seed"] == 11 and t["n_randomized"] == 769
    assert sum(a["n"] for a in t["arms"]) == 769
    ns = {a["id"]: a["n"] for a in t["arms"]}
    # 3:2:2 by permuted blocks within strata: each arm within a few blocks' worth of its share
    for arm_id, share in (("ROC300", 3 / 7), ("ROC150", 2 / 7), ("PBO", 2 / 7)):
        assert abs(ns[arm_id] - 769 * share) < 30
    eps = {e["id"]: e for e in t["endpoints"]}
    assert {"EASI75", "VIGA01", "RIGA01"} <= set(eps)
    for ep_id in ("EASI75", "VIGA01", "RIGA01"):
        for r in eps[ep_id]["results"]:
            assert r["rate"] == pytest.approx(r["responders"] / r["n"])
            if r["arm"] == "PBO":
                assert r["diff_vs_placebo"] is None and r["p_value"] is None
            else:
                assert r["ci_low"] < r["diff_vs_placebo"] < r["ci_high"] and 0 <= r["p_value"] <= 1


def test_same_seed_byte_identical(run_dir, tmp_path):
    assert main(["run", str(ROOT / "studies" / "ignite.toml"), "--out", str(tmp_path), "--seed", "11"]) == 0
    for name in ("topline.json", "ard.json"):
        assert (tmp_path / name).read_bytes() == (run_dir / name).read_bytes()


def test_adam_matches_model_composite_rule():
    """ADEFF responders (polars derivation from SDTM) equal the simulator-side rule used by the calibration."""
    c = simulate_cohort(STUDY, 3000, seed=5)
    sdtm = build_sdtm(STUDY, c)
    adsl, adeff = pipeline.analyse_sdtm(STUDY, sdtm)
    order = sdtm["DM"].with_row_index().sort("USUBJID")["index"].to_numpy()
    for ep in [e for e in STUDY.endpoints if e.binary]:
        k = STUDY.visit_weeks.index(ep.visit_week)
        expected = composite_responders(STUDY, c, ep)[order, k]
        got = adeff.filter((pl.col("PARAMCD") == ep.id) & (pl.col("AVISITN") == ep.visit_week)).sort("USUBJID")
        assert np.array_equal(got["AVAL"].to_numpy() == 1, expected), ep.id


def test_riga_responders_are_viga_responders(run_dir):
    adeff, _ = read_parquet(run_dir / "adam" / "adeff.parquet")
    w = adeff.filter(pl.col("PARAMCD").is_in(["VIGA01", "RIGA01"])).pivot(
        on="PARAMCD", index=["USUBJID", "AVISITN"], values="AVAL")
    assert w.height > 0
    assert w.filter((pl.col("RIGA01") == 1) & (pl.col("VIGA01") == 0)).height == 0


def test_derivations(run_dir):
    adsl, _ = read_parquet(run_dir / "adam" / "adsl.parquet")
    adeff, _ = read_parquet(run_dir / "adam" / "adeff.parquet")
    assert adsl["USUBJID"].is_unique().all() and adsl.height == 769
    assert set(adsl["ITTFL"]) == {"Y"}
    easi = adeff.filter(pl.col("PARAMCD") == "EASI")
    base = easi.filter(pl.col("ABLFL") == "Y")
    assert base.height == 769 and base["AVAL"].min() >= 16  # eligibility
    post = easi.filter(pl.col("ABLFL").is_null() & pl.col("AVAL").is_not_null())
    assert np.allclose(post["CHG"], post["AVAL"] - post["BASE"])
    assert np.allclose(post["PCHG"], 100 * (post["AVAL"] - post["BASE"]) / post["BASE"])
    e75 = adeff.filter(pl.col("PARAMCD") == "EASI75")
    assert e75.height == 769 * 7  # every ITT subject at every post-baseline visit
    # composite: a rescued or missing record is never a responder
    assert e75.filter((pl.col("RESCFL") == "Y") & (pl.col("AVAL") == 1)).height == 0
    assert e75.filter((pl.col("DTYPE") == "NRI") & (pl.col("AVAL") == 1)).height == 0
    # CRIT1FL agrees with the percent change of the EASI record at the same analysis visit
    j = e75.filter(pl.col("CRIT1FL").is_not_null()).join(
        easi.filter(pl.col("ANL01FL") == "Y").select("USUBJID", "AVISITN", pl.col("PCHG").alias("EPCHG")),
        on=["USUBJID", "AVISITN"])
    assert j.height > 0.7 * e75.height
    assert ((j["CRIT1FL"] == "Y") == (j["EPCHG"] <= -75 + 1e-9)).all()


def test_analyze_sdtm_parquet_and_xpt(run_dir, tmp_path):
    ref = json.loads((run_dir / "topline.json").read_text())["endpoints"]
    xpt = tmp_path / "xpt"
    for p in (run_dir / "sdtm").glob("*.parquet"):
        df, meta = read_parquet(p)
        write_dataset(df, xpt / f"{p.stem}.xpt", meta)
    for data in (run_dir / "sdtm", xpt):
        out = tmp_path / f"out_{data.name}"
        assert main(["analyze", str(ROOT / "studies" / "ignite.toml"), "--data", str(data), "--out", str(out)]) == 0
        got = json.loads((out / "topline.json").read_text())["endpoints"]
        assert got == ref


def test_results_vary_with_seed():
    """At 769 patients, week-24 rates vary between seeds about as binomial sampling says."""
    ep = STUDY.endpoint("EASI75")
    k = STUDY.visit_weeks.index(24)
    rates = []
    for seed in range(30):
        c = simulate_cohort(STUDY, 769, seed=1000 + seed)
        r = composite_responders(STUDY, c, ep)[:, k]
        rates.append(r[c.arm == 0].mean())
    rates = np.array(rates)
    expected_sd = np.sqrt(0.423 * 0.577 / (769 * 3 / 7))
    assert 0.5 * expected_sd < rates.std(ddof=1) < 1.6 * expected_sd
    assert len(np.unique(rates)) > 20


def test_calibrated_rates_at_200000_patients():
    """Week-24 composite rates with 200,000 patients lie within 1 percentage point of the published ones."""
    c = simulate_cohort(STUDY, 200_000, seed=424242)
    for ep_id in ("EASI75", "VIGA01", "RIGA01"):
        ep = STUDY.endpoint(ep_id)
        resp = composite_responders(STUDY, c, ep)[:, STUDY.visit_weeks.index(ep.visit_week)]
        for a, arm in enumerate(STUDY.arms):
            pub = STUDY.published_for(ep_id, arm.id)
            assert abs(resp[c.arm == a].mean() - pub.rate) < 0.01, (ep_id, arm.id, resp[c.arm == a].mean())
    # the drug effect is still rising at week 24 (slow onset)
    ep = STUDY.endpoint("EASI75")
    r = composite_responders(STUDY, c, ep)
    w16, w24 = STUDY.visit_weeks.index(16), STUDY.visit_weeks.index(24)
    assert r[c.arm == 0, w24].mean() > r[c.arm == 0, w16].mean() + 0.02


def test_topline_multiplicity(run_dir):
    t = json.loads((run_dir / "topline.json").read_text())
    mult = t["multiplicity"]
    strategy = STUDY.strategy()
    assert [h["id"] for h in mult["hypotheses"]] == list(strategy.graph.names)
    raw = {(e["id"], r["arm"]): r["p_value"]
           for e in t["endpoints"] for r in e["results"] if r.get("p_value") is not None}
    pvals = [raw[(h["endpoint"], h["arm"])] for h in mult["hypotheses"]]
    assert [h["p_value"] for h in mult["hypotheses"]] == pvals
    res = strategy.test(np.array(pvals))
    assert [h["rejected"] for h in mult["hypotheses"]] == res.rejected.tolist()
    assert np.allclose([h["adjusted_p_value"] for h in mult["hypotheses"]], res.adjusted_pvalues)
    for claim, hyps in strategy.claims.items():
        assert mult["claims"][claim] == all(res.rejected[strategy.graph.names.index(h)] for h in hyps)
    assert (run_dir / "figures" / "multiplicity_graph.png").stat().st_size > 0


def test_scenarios():
    null = STUDY.scenario("null")
    pbo = null.model.arms["PBO"]
    for arm in ("ROC300", "ROC150"):
        p = null.model.arms[arm]
        assert p.drug_effect == 0 and p.iga_effect == pbo.iga_effect and p.riga_strictness == pbo.riga_strictness
    pess = STUDY.scenario("pessimistic").model.arms["ROC300"]
    assert pess.drug_effect == pytest.approx(0.75 * STUDY.model.arms["ROC300"].drug_effect)
