"""Chunked execution of design simulations: seeds, backends (numpy, numba, dask, cupy), checkpoints, progress.

Replicates are split into chunks of ``chunk_size`` trials; chunk ``i`` draws from
``SeedSequence(seed, spawn_key=(i,))`` (what ``SeedSequence(seed).spawn(...)[i]`` gives), so a chunk's numbers
depend only on the seed, the chunk index and the chunk size, never on which process or machine runs it. Each
chunk hands back sums over its replicates (:mod:`trialkit.design.analysis`); the totals are added in chunk order,
so numpy (threads), dask (any cluster) and a resumed run give identical numbers for the same seed and chunking.
Memory is bounded by ``workers x chunk`` whatever the number of replicates. With an output folder, every finished
chunk is saved atomically under ``checkpoints/``; a rerun with the same settings loads them instead of recomputing.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trialkit import _files
from trialkit.design.analysis import Layout, add, analyse_grid, study_layout
from trialkit.design.backend import array_backend
from trialkit.design.simulator import (
    Outcomes,
    design_endpoints,
    simulate_outcomes,
    simulate_outcomes_numba,
)
from trialkit.errors import TrialkitError
from trialkit.study import Study

#: Patients per chunk by default: about 12 MB of working memory per chunk in flight (tracemalloc peak 24 MB for
#: two threads; the model runs in blocks of trialkit.design.model.BLOCK patients), whatever the number of replicates.
CHUNK_PATIENTS = 200_000
#: Default number of threads of the numpy backend (at most this many chunks in flight).
MAX_THREADS = 4
BACKENDS = ("numpy", "numba", "dask", "dask-numba", "cupy")
#: 2: fused model (trialkit.design.model), SFC64 streams; 3: the numba kernel's rare ziggurat candidates finished
#: in another order (its numbers changed); 4: its recorded-EASI thresholds in float32 (a boundary case may differ);
#: 5: its stratum cells from one uniform each; 6: the baseline rIGA drawn once per patient (both models; the numpy
#: model's draws moved).
CHECKPOINT_FORMAT = 6


def default_chunk_size(n: int) -> int:
    return max(1, CHUNK_PATIENTS // max(int(n), 1))


def chunk_plan(replicates: int, chunk_size: int) -> list[tuple[int, int]]:
    """(chunk index, replicates in the chunk) covering ``replicates``."""
    if replicates < 1 or chunk_size < 1:
        raise TrialkitError(f"replicates ({replicates}) and chunk size ({chunk_size}) must be positive",
                            variable="--replicates", fix="use at least one replicate and one trial per chunk")
    return [(i, min(chunk_size, replicates - i * chunk_size)) for i in range(-(-replicates // chunk_size))]


def chunk_seed(seed: int, index: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(int(seed), spawn_key=(int(index),))


def run_chunk(study: Study, n_sim: int, ns: list[int], replicates: int, seed: int, index: int,
              backend: str = "numpy", xp: Any = None, cache: dict[int, Outcomes] | None = None,
              ) -> dict[str, np.ndarray]:
    """Simulate one chunk of ``replicates`` trials of ``n_sim`` patients and analyse the first ``n`` of each trial
    for every ``n`` in ``ns``. A top-level function, so dask can ship it to workers."""
    eps = design_endpoints(study)
    if cache is not None and index in cache:
        out = cache[index]
    elif backend == "numba":
        out = simulate_outcomes_numba(study, n_sim, replicates, chunk_seed(seed, index), eps)
    else:
        out = simulate_outcomes(study, n_sim, replicates, chunk_seed(seed, index), array_backend(backend, xp), eps)
    if cache is not None:
        cache[index] = out
    return analyse_grid(out, study_layout(study), ns)


@dataclass
class EngineRun:
    """Totals of a run (sums over all replicates, one row per sample size) and how they were obtained."""

    totals: dict[str, np.ndarray]
    layout: Layout
    ns: list[int]
    replicates: int
    seconds: float
    computed_chunks: list[int] = field(default_factory=list)
    resumed_chunks: list[int] = field(default_factory=list)


def _checkpoint_dir(out: Path, study: Study, tag: str, n_sim: int, ns: list[int], seed: int, chunk_size: int,
                    backend: str) -> Path:
    spec = {"format": CHECKPOINT_FORMAT, "study": study.model_dump(mode="json"), "n_sim": n_sim, "ns": ns,
            "seed": seed, "chunk_size": chunk_size, "array_backend": backend}
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
    return out / "checkpoints" / f"{tag}-{digest}"


def _save(path: Path, res: dict[str, np.ndarray]) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, **res)

    _files.write_with(path, write)


def _load(path: Path) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError):  # a damaged file is recomputed
        return None


def run(study: Study, *, n_sim: int, ns: list[int], replicates: int, seed: int = 1, chunk_size: int | None = None,
        backend: str = "numpy", scheduler: str | None = None, workers: int | None = None,
        checkpoint: Path | None = None, tag: str = "run", progress: Any = None, xp: Any = None,
        cache: dict[int, Outcomes] | None = None,
        on_chunk: Callable[[int], None] | None = None) -> EngineRun:
    """Run all chunks and add up their results (in chunk order).

    ``backend``: ``numpy`` (threads in this process; ``workers`` defaults to the CPU count, at most 4), ``dask`` (a
    ``dask.distributed`` cluster: ``scheduler`` address, else a LocalCluster with 2 worker processes), ``cupy`` or
    ``numba`` (the compiled kernel of :mod:`trialkit.design.fast`, threads like numpy; same model, other streams),
    ``dask-numba`` (that kernel on the dask workers: the same numbers as ``numba`` for the same seed and chunks).
    ``progress(done, total)`` is called after each chunk; ``on_chunk(index)`` after each chunk is saved.
    """
    if max(ns) > n_sim:
        raise ValueError("sample sizes must not exceed the simulated trial size")
    chunk_size = chunk_size or default_chunk_size(n_sim)
    plan = chunk_plan(replicates, chunk_size)
    array_name = {"cupy": "cupy", "numba": "numba", "dask-numba": "numba"}.get(backend, "numpy")
    ck = _checkpoint_dir(checkpoint, study, tag, n_sim, ns, seed, chunk_size, array_name) if checkpoint else None
    results: dict[int, dict[str, np.ndarray]] = {}
    resumed = []
    if ck is not None and ck.is_dir():
        for i, r in plan:
            got = _load(ck / f"chunk_{i:06d}_{r}.npz")
            if got is not None:
                results[i] = got
                resumed.append(i)
    todo = [(i, r) for i, r in plan if i not in results]
    t0 = time.perf_counter()
    done = len(results)
    if progress:
        progress(done, len(plan))
    for i, res in _execute(study, n_sim, ns, todo, seed, backend, scheduler, workers, xp, cache):
        results[i] = res
        if ck is not None:
            _save(ck / f"chunk_{i:06d}_{dict(plan)[i]}.npz", res)
        done += 1
        if progress:
            progress(done, len(plan))
        if on_chunk:
            on_chunk(i)
    seconds = time.perf_counter() - t0
    totals = None
    for i, _ in plan:
        totals = add(totals, results[i])
    assert totals is not None
    return EngineRun(totals, study_layout(study), list(ns), replicates, seconds, [i for i, _ in todo], resumed)


def _execute(study: Study, n_sim: int, ns: list[int], todo: list[tuple[int, int]], seed: int, backend: str,
             scheduler: str | None, workers: int | None, xp: Any,
             cache: dict[int, Outcomes] | None) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    if not todo:
        return
    if backend not in BACKENDS:
        raise TrialkitError(f"unknown backend {backend!r}", variable="--backend", fix=f"use {', '.join(BACKENDS)}")
    if backend in ("numba", "dask-numba"):
        from trialkit.design.fast import numba_available

        if not numba_available():
            raise TrialkitError(f"the {backend} backend needs numba, which does not import", variable="--backend",
                                fix='pip install "numba>=0.68.1", or use the numpy backend')
    if backend.startswith("dask"):
        kernel = "numba" if backend == "dask-numba" else "numpy"
        yield from _execute_dask(study, n_sim, ns, todo, seed, scheduler, kernel)
        return
    if backend == "cupy":
        array_backend(backend, xp)  # fail early when cupy is missing
    n_workers = 1 if backend == "cupy" else (workers or min(os.cpu_count() or 1, MAX_THREADS))
    if n_workers == 1:
        for i, r in todo:
            yield i, run_chunk(study, n_sim, ns, r, seed, i, backend, xp, cache)
        return
    # numpy releases the GIL in random draws and array arithmetic, the numba kernel throughout: threads share
    # the cores
    with ThreadPoolExecutor(n_workers) as pool:
        futures = {pool.submit(run_chunk, study, n_sim, ns, r, seed, i, backend, xp, cache): i for i, r in todo}
        try:
            for fut in futures:  # in chunk order; each chunk is independent of the others
                yield futures[fut], fut.result()
        finally:
            for fut in futures:
                fut.cancel()


def _execute_dask(study: Study, n_sim: int, ns: list[int], todo: list[tuple[int, int]], seed: int,
                  scheduler: str | None, kernel: str) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    """Chunks on a dask.distributed cluster, each simulated by ``kernel`` (numpy or numba) on a worker."""
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise TrialkitError("the dask backend needs dask.distributed", variable="--backend",
                            fix='pip install "dask[distributed]"') from None
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    try:
        study_f = client.scatter(study, broadcast=True)
        futures = [client.submit(run_chunk, study_f, n_sim, ns, r, seed, i, kernel, pure=False) for i, r in todo]
        index = {f.key: i for f, (i, _) in zip(futures, todo, strict=True)}
        for fut in as_completed(futures):
            yield index[fut.key], fut.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
