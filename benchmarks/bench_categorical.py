"""Benchmark: CMH test + Mantel-Haenszel risk difference (Sato CI) over 100,000 replicate 2x2x8 tables.

Run: .venv/bin/python benchmarks/bench_categorical.py [--n 100000] [--baseline 2000]

Baseline: a Python loop over statsmodels' StratifiedTable (CMH test and pooled odds ratio; statsmodels has no
stratified risk difference), timed on the first ``--baseline`` tables and scaled per table, because looping
over all 100,000 takes minutes. Both are checked to give the same CMH statistic on those tables.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
from statsmodels.stats.contingency_tables import StratifiedTable

from trialkit.stats import mh_test, stratified_risk_difference


def simulate(n: int, k: int = 8, seed: int = 1) -> np.ndarray:
    """n replicate trials, k strata, about 25 subjects per arm and stratum, response 40% vs 30%."""
    rng = np.random.default_rng(seed)
    size = rng.integers(15, 35, size=(n, k, 2))
    resp = rng.binomial(size, np.array([0.4, 0.3]))
    return np.stack([resp, size - resp], axis=-1).astype(float)


def best_of(fun, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fun()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--baseline", type=int, default=2_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    x = simulate(args.n)

    def ours() -> None:
        mh_test(x)
        stratified_risk_difference(x, "mh")

    t_ours = best_of(ours, args.repeat)

    sub = x[: args.baseline]

    def baseline() -> list[float]:
        out = []
        for t in sub:
            s = StratifiedTable(np.transpose(t, (1, 2, 0)))
            out.append(s.test_null_odds(correction=False).statistic)
            _ = s.oddsratio_pooled
        return out

    t0 = time.perf_counter()
    ref = baseline()
    t_base = (time.perf_counter() - t0) / args.baseline * args.n
    np.testing.assert_allclose(mh_test(sub).statistic, ref, rtol=1e-9)

    print(f"machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} cores, "
          f"numpy {np.__version__}, python {platform.python_version()}")
    print(f"tables: {args.n:,} replicates x 8 strata x 2x2")
    print(f"trialkit mh_test + stratified_risk_difference(mh): {t_ours:.3f} s (best of {args.repeat})")
    print(f"statsmodels StratifiedTable loop (scaled from {args.baseline:,} tables): {t_base:.1f} s")
    print(f"speed-up: {t_base / t_ours:.0f}x")


if __name__ == "__main__":
    main()
