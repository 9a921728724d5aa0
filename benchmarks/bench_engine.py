"""Repeated runs of the design engine alone (numba backend by default): IGNITE-size trials per second, each run and
their median, with the CPU time the runs used (from ``/proc/stat`` where there is one) to tell a slow machine from
slow code.

The machine's speed drifts by 10-20 % between runs, so compare versions by alternating them, e.g. the commit
before a change in a worktree::

    git worktree add /tmp/old HEAD~1
    for i in 1 2; do PYTHONPATH=/tmp/old/src .venv/bin/python benchmarks/bench_engine.py; \\
        .venv/bin/python benchmarks/bench_engine.py; done

Run: .venv/bin/python benchmarks/bench_engine.py [--replicates 12000] [--runs 3] [--threads 2] [--backend numba]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import trialkit
from trialkit.design import engine
from trialkit.study import load_study

STUDY = load_study(Path(__file__).resolve().parents[1] / "studies" / "ignite.toml")


def cpu_ticks() -> list[int] | None:
    try:
        with open("/proc/stat") as fh:
            return [int(x) for x in fh.readline().split()[1:]]
    except OSError:
        return None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--replicates", type=int, default=12000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--backend", default="numba")
    args = ap.parse_args()
    n = STUDY.study.n_randomized
    engine.run(STUDY, n_sim=n, ns=[n], replicates=520, seed=9, backend=args.backend, workers=args.threads)  # warm-up
    rates = []
    for _ in range(args.runs):
        a = cpu_ticks()
        t = time.perf_counter()
        engine.run(STUDY, n_sim=n, ns=[n], replicates=args.replicates, seed=1, backend=args.backend,
                   workers=args.threads)
        dt = time.perf_counter() - t
        b = cpu_ticks()
        rates.append(args.replicates / dt)
        ticks = "" if a is None or b is None else \
            f" (user {b[0] - a[0]}, steal {b[7] - a[7]} ticks of 10 ms over all CPUs)"
        print(f"{rates[-1]:,.0f} trials/s{ticks}")
    where = Path(trialkit.__file__).parents[1]
    print(f"{where}: {args.backend}, {args.threads} threads, {args.replicates} replicates: "
          f"median {statistics.median(rates):,.0f} trials/s over {args.runs} runs")


if __name__ == "__main__":
    main()
