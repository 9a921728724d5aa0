"""Design simulation throughput: IGNITE-size trials (769 patients, 8 visits, three binary endpoints x two doses,
stratified CMH, MH risk difference, graphical multiplicity), full patient-level model.

Vectorized engine (numpy; 1 thread and all cores), and the compiled kernel (``--backend numba``,
trialkit.design.fast; skipped when numba does not import), against a plain per-trial loop measured in the same run: the
one-trial simulator, then pandas crosstabs per stratum, statsmodels ``StratifiedTable`` (CMH test), the MH risk
difference in pandas, and the study's multiplicity strategy, trial by trial.

Run: .venv/bin/python benchmarks/bench_design.py [--replicates 2000] [--loop-trials 20]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from statsmodels.stats.contingency_tables import StratifiedTable

from trialkit.calibrate import composite_responders
from trialkit.design import engine
from trialkit.design.analysis import analyse_grid, layout
from trialkit.design.backend import array_backend
from trialkit.design.fast import numba_available
from trialkit.design.simulator import analysis_levels, design_endpoints, simulate_outcomes, simulate_outcomes_numba
from trialkit.simulate import simulate_cohort
from trialkit.study import load_study

STUDY = load_study(Path(__file__).resolve().parents[1] / "studies" / "ignite.toml")


def loop_trial(seed: int) -> np.ndarray:
    """One trial the plain way; returns the graph's rejections."""
    s = STUDY
    c = simulate_cohort(s, None, seed)
    k = s.visit_weeks.index(24)
    df = pd.DataFrame({"arm": c.arm, **{f.id: c.strata[:, j] for j, f in enumerate(s.strata)}})
    strat = s.analysis.stratify_by
    df["stratum"] = df[strat].astype(str).agg("-".join, axis=1)
    strategy = s.strategy()
    p = {}
    pbo = [a.id for a in s.arms].index(s.placebo.id)
    for ep in design_endpoints(s):
        df["resp"] = composite_responders(s, c, ep)[:, k]
        for a in s.active_arms:
            ai = [x.id for x in s.arms].index(a.id)
            sub = df[df["arm"].isin([ai, pbo])]
            tables = []
            rd_num = rd_den = 0.0
            for _, g in sub.groupby("stratum"):
                t = pd.crosstab(g["arm"] == ai, g["resp"]).reindex(index=[True, False], columns=[True, False],
                                                                 fill_value=0).to_numpy(float)
                tables.append(t)
                n1, n2 = t[0].sum(), t[1].sum()
                if n1 > 0 and n2 > 0:
                    w = n1 * n2 / (n1 + n2)
                    rd_num += w * (t[0, 0] / n1 - t[1, 0] / n2)
                    rd_den += w
            st = StratifiedTable([t for t in tables if t.sum() > 1])
            p[f"{ep.id}_{a.id}"] = st.test_null_odds(correction=False).pvalue
            _ = rd_num / rd_den
    pv = np.array([p[h] for h in strategy.graph.names])
    return strategy.test(pv).rejected


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--replicates", type=int, default=2000)
    ap.add_argument("--loop-trials", type=int, default=20)
    args = ap.parse_args()
    n = STUDY.study.n_randomized
    print(f"IGNITE: n = {n}, {len(STUDY.visits)} visits, {os.cpu_count()} cores; replicates = {args.replicates}")

    # breakdown of one chunk
    be = array_backend()
    eps = design_endpoints(STUDY)
    lay = layout(STUDY, eps, int(np.prod(analysis_levels(STUDY))))
    cs = engine.default_chunk_size(n)
    simulate_outcomes(STUDY, n, 20, np.random.SeedSequence(0), be, eps)  # warm-up
    t = time.perf_counter()
    out = simulate_outcomes(STUDY, n, cs, np.random.SeedSequence(1), be, eps)
    t_sim = time.perf_counter() - t
    analyse_grid(out, lay, [n])  # warm-up (loads the compiled table counter)
    t = time.perf_counter()
    analyse_grid(out, lay, [n])
    t_ana = time.perf_counter() - t
    print(f"one chunk of {cs} trials: simulate {t_sim:.3f} s ({cs / t_sim:,.0f} trials/s), "
          f"counts + CMH + MH RD + multiplicity {t_ana:.3f} s ({cs / t_ana:,.0f} trials/s)")

    backends = ["numpy"]
    if numba_available():
        backends.append("numba")
        simulate_outcomes_numba(STUDY, n, 4, np.random.SeedSequence(0), eps)  # compile or load from cache
        simulate_outcomes_numba(STUDY, n, 4, np.random.SeedSequence(0), eps, parallel=True)
        for par in (False, True):
            t = time.perf_counter()
            out = simulate_outcomes_numba(STUDY, n, cs, np.random.SeedSequence(1), eps, parallel=par)
            dt = time.perf_counter() - t
            print(f"numba kernel, one chunk of {cs} trials, {'prange over all cores' if par else '1 thread'}: "
                  f"{dt:.3f} s ({cs / dt:,.0f} trials/s)")
    else:
        print("numba does not import: numba path skipped")

    rates = {}
    for backend in backends:
        for workers in (1, os.cpu_count() or 1):
            t = time.perf_counter()
            engine.run(STUDY, n_sim=n, ns=[n], replicates=args.replicates, seed=1, workers=workers, backend=backend)
            dt = time.perf_counter() - t
            rates[backend, workers] = args.replicates / dt
            print(f"vectorized {backend}, {workers} thread(s): {args.replicates} trials in {dt:.2f} s = "
                  f"{rates[backend, workers]:,.0f} trials/s")

    loop_trial(0)
    t = time.perf_counter()
    for i in range(args.loop_trials):
        loop_trial(i + 1)
    dt = time.perf_counter() - t
    loop_rate = args.loop_trials / dt
    print(f"per-trial loop (simulate_cohort + pandas + statsmodels StratifiedTable + graph): "
          f"{args.loop_trials} trials in {dt:.2f} s = {loop_rate:,.1f} trials/s")
    for backend in backends:
        best = max(v for (b, _), v in rates.items() if b == backend)
        print(f"{backend}: speed-up vs loop {best / loop_rate:,.0f} x;  target 15,000 trials/s: "
              f"{best / 15000:.1%} of it")


if __name__ == "__main__":
    main()
