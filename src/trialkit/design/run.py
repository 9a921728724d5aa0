"""``trialkit design``: operating characteristics of a study's design over its scenarios, and the sample-size
search for a target probability of success (bisection over sample sizes on a block-size grid, with common random
numbers: every candidate size analyses the first n patients of the same simulated trials)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from trialkit.design import engine
from trialkit.design.results import summarize
from trialkit.design.simulator import Outcomes
from trialkit.errors import TrialkitError
from trialkit.study import Study

#: Sample sizes of the power curve, as fractions of the study's n (rounded to whole randomization blocks).
CURVE_FRACTIONS = (0.5, 0.75, 1.0, 1.25)
#: Keep simulated outcomes in memory for the sample-size search up to this size; beyond it, re-simulate.
SEARCH_CACHE_BYTES = 1 << 30


def scenario_study(study: Study, name: str) -> Study:
    """The study under scenario ``name``; a null scenario also gives the active arms the placebo dropout.

    Under the composite strategy a dropout is a non-responder, so unequal dropout alone makes the responder rates
    differ: for the type I error the active arms must behave as placebo in every respect.
    """
    s = study.scenario(name)
    sc = next(x for x in study.scenarios if x.name == name)
    if sc.null:
        m = s.model
        pbo = m.dropout_prob_per_visit[study.placebo.id]
        drop = {a.id: pbo for a in study.arms}
        s = s.model_copy(update={"model": m.model_copy(update={"dropout_prob_per_visit": drop})})
    return s


def block_size(study: Study) -> int:
    return sum(a.allocation for a in study.arms) * study.randomization.block_multiple


def curve_sizes(study: Study, fractions: tuple[float, ...] = CURVE_FRACTIONS) -> list[int]:
    n, b = study.study.n_randomized, block_size(study)
    sizes = {max(b, int(round(f * n / b)) * b) for f in fractions if f != 1.0} | {n}
    return sorted(sizes)


def design(study: Study, *, replicates: int, scenarios: list[str] | None = None, seed: int = 1,
           chunk_size: int | None = None, backend: str = "numpy", scheduler: str | None = None,
           out: Path | None = None, ns: list[int] | None = None, workers: int | None = None, xp: Any = None,
           progress: Callable[[str, int, int], None] | None = None) -> dict[str, Any]:
    """Simulate ``replicates`` trials per scenario (all the study's scenarios by default) and summarize them at
    the study's sample size, with the power curve over ``ns`` (default :func:`curve_sizes`)."""
    names = scenarios or [sc.name for sc in study.scenarios] or []
    if not names:
        raise TrialkitError("the study file defines no design scenarios", variable="scenarios",
                            fix='add [[scenarios]] tables, e.g. name = "published" and name = "null", null = true')
    n = study.study.n_randomized
    ns = sorted(set(ns or curve_sizes(study)) | {n})
    t0 = time.perf_counter()
    results = []
    for name in names:
        s = scenario_study(study, name)
        cb = (lambda d, t, name=name: progress(name, d, t)) if progress else None
        r = engine.run(s, n_sim=max(ns), ns=ns, replicates=replicates, seed=seed, chunk_size=chunk_size,
                       backend=backend, scheduler=scheduler, workers=workers, checkpoint=out, tag=name,
                       progress=cb, xp=xp)
        res = summarize(r, n)
        sc = next(x for x in study.scenarios if x.name == name)
        res.update(name=name, description=sc.description, null=sc.null, seconds=r.seconds,
                   computed_chunks=len(r.computed_chunks), resumed_chunks=len(r.resumed_chunks))
        results.append(res)
    seconds = time.perf_counter() - t0
    return {"study": study.study.id, "replicates": replicates, "seed": seed, "backend": backend,
            "chunk_size": chunk_size or engine.default_chunk_size(max(ns)), "n_randomized": n, "sizes": ns,
            "seconds": seconds, "trials_per_second": replicates * len(names) / seconds if seconds > 0 else None,
            "scenarios": results}


def search_sample_size(study: Study, target: float, *, scenario: str | None = None, success: str = "all",
                       replicates: int = 1000, seed: int = 1, n_min: int | None = None, n_max: int | None = None,
                       chunk_size: int | None = None, backend: str = "numpy", scheduler: str | None = None,
                       xp: Any = None) -> dict[str, Any]:
    """Smallest n (whole randomization blocks in [n_min, n_max]) whose probability of success reaches ``target``.

    ``success``: an active arm id (its co-primary hypotheses all rejected after multiplicity) or ``"all"`` (every
    active arm's). Trials of ``n_max`` patients are simulated once per chunk seed; a candidate n analyses their
    first n patients (common random numbers, so the estimated curve is close to monotone and bisection applies).
    """
    if not 0 < target < 1:
        raise TrialkitError(f"target probability {target} is not in (0, 1)", variable="--target")
    s = scenario_study(study, scenario) if scenario else study
    b = block_size(s)
    n0 = s.study.n_randomized
    lo_n = n_min or max(b, (n0 // 4) // b * b)
    hi_n = n_max or 2 * n0
    grid = list(range(-(-lo_n // b) * b, hi_n + 1, b))
    if not grid:
        raise TrialkitError(f"no sample size between {lo_n} and {hi_n} in whole blocks of {b}", variable="--n-max")
    act = [a.id for a in s.active_arms]
    if success != "all" and success not in act:
        raise TrialkitError(f"unknown arm {success!r}", variable="--success", fix=f"use all or one of {act}")
    cs = chunk_size or engine.default_chunk_size(grid[-1])
    est_bytes = replicates * grid[-1] * 6
    in_process = not backend.startswith("dask")
    cache: dict[int, Outcomes] | None = {} if in_process and est_bytes <= SEARCH_CACHE_BYTES else None
    evaluated: dict[int, dict[str, float]] = {}

    def pos(n: int) -> float:
        r = engine.run(s, n_sim=grid[-1], ns=[n], replicates=replicates, seed=seed, chunk_size=cs,
                       backend=backend, scheduler=scheduler, xp=xp, cache=cache)
        t = r.totals
        reps = int(t["replicates"][0])
        if success == "all":
            p = float(t["all_coprimary"][0]) / reps
        else:
            p = float(t["coprimary"][0][act.index(success)]) / reps
        evaluated[n] = {"prob_success": p, "mc_se": float(np.sqrt(p * (1 - p) / reps))}
        return p

    lo, hi = 0, len(grid) - 1
    if pos(grid[hi]) < target:
        return {"target": target, "success": success, "n": None, "reached": False, "evaluated": evaluated,
                "grid": [grid[0], grid[-1], b], "replicates": replicates}
    while lo < hi:
        mid = (lo + hi) // 2
        if pos(grid[mid]) >= target:
            hi = mid
        else:
            lo = mid + 1
    return {"target": target, "success": success, "n": grid[lo], "reached": True,
            "prob_success": evaluated.get(grid[lo], {}).get("prob_success", pos(grid[lo])),
            "evaluated": {k: evaluated[k] for k in sorted(evaluated)}, "grid": [grid[0], grid[-1], b],
            "replicates": replicates, "scenario": scenario}
