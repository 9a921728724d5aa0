"""Benchmark: testing a graph for many simulated replicates at once (the design simulator's use).

Run: .venv/bin/python benchmarks/bench_multiplicity.py
Baseline in the same run: a plain Python loop applying Algorithm 1/2 of Bretz et al. (2009) one replicate at a
time (what a straightforward implementation would do), on a subsample, scaled per replicate.
"""

from __future__ import annotations

import time

import numpy as np

from trialkit.multiplicity import dose_correlation, two_doses_coprimary
from trialkit.multiplicity.templates import dose_pairs

#: IGNITE's hypotheses (studies/ignite.toml)
DOSES, COPRIMARY, SECONDARY = ["ROC300", "ROC150"], ["EASI75", "VIGA01"], ["RIGA01"]

def loop_shortcut(w, g, p):
    w, g = list(w), [list(r) for r in g]
    m = len(w)
    active = set(range(m))
    adj = [1.0] * m
    qmax = 0.0
    while active:
        fin = {j: p[j] / w[j] for j in active if w[j] > 0}
        if not fin:
            break
        j = min(fin, key=fin.get)
        qmax = max(qmax, fin[j])
        adj[j] = min(qmax, 1.0)
        active.discard(j)
        w2 = [w[l] + w[j] * g[j][l] if l != j else 0.0 for l in range(m)]
        g2 = [[0.0] * m for _ in range(m)]
        for l in active:
            for k in active:
                if l != k:
                    d = 1 - g[l][j] * g[j][l]
                    g2[l][k] = (g[l][k] + g[l][j] * g[j][k]) / d if d > 0 else 0.0
        w, g = w2, g2
    return adj


def best_of(f, reps=3):
    t = []
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        t.append(time.perf_counter() - t0)
    return min(t)


def main() -> None:
    g = two_doses_coprimary(DOSES, COPRIMARY, SECONDARY)
    rng = np.random.default_rng(1)
    n = 100_000
    z = rng.normal(2.5, 1.0, size=(n, g.m))
    from scipy.stats import norm

    p = norm.sf(z)
    t_vec = best_of(lambda: g.test(p, alpha=0.025, method="bonferroni"))
    n_loop = 5_000
    t_loop = best_of(lambda: [loop_shortcut(g.weights, g.transitions, row) for row in p[:n_loop]], reps=1)
    t_loop_scaled = t_loop * n / n_loop
    a = g.test(p[:n_loop]).adjusted_pvalues
    b = np.array([loop_shortcut(g.weights, g.transitions, row) for row in p[:n_loop]])
    assert np.allclose(a, b)
    corr = dose_correlation(g, dose_pairs(DOSES, [*COPRIMARY, *SECONDARY]), 0.5)
    t_simes = best_of(lambda: g.test(p, method="simes"), reps=1)
    t_par = best_of(lambda: g.test(p, method="parametric", correlation=corr), reps=1)
    print(f"graph: two_doses_coprimary (m = {g.m}), replicates: {n:,}")
    print(f"bonferroni shortcut, vectorised : {t_vec:8.3f} s  ({n / t_vec:,.0f} replicates/s)")
    print(f"bonferroni, Python loop baseline: {t_loop_scaled:8.3f} s  (measured on {n_loop:,}, scaled)")
    print(f"speed-up                        : {t_loop_scaled / t_vec:8.1f} x")
    print(f"simes closed testing            : {t_simes:8.3f} s")
    print(f"parametric closed testing       : {t_par:8.3f} s")


if __name__ == "__main__":
    main()
