"""A/B timing of the compiled design kernel: two or more versions of ``trialkit/design/_kernel.py``, alternated in one
process (best of ``--rounds``), on the IGNITE study, in ns per simulated patient (one thread, ``run_serial``).

The machine's speed drifts by 10-20 % between runs, so versions are only compared within one run. Example (the
kernel before and after a commit)::

    git show HEAD~1:src/trialkit/design/_kernel.py > /tmp/kernel_old.py
    .venv/bin/python benchmarks/kernel_ab.py /tmp/kernel_old.py src/trialkit/design/_kernel.py

It also says whether each version gives the same responder flags as the first (same seeds).
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import tempfile
import time
from pathlib import Path

import numpy as np

from trialkit.design import fast
from trialkit.design.simulator import design_endpoints
from trialkit.study import load_study

STUDY = load_study(Path(__file__).resolve().parents[1] / "studies" / "ignite.toml")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("kernels", nargs="+", type=Path, help="paths of _kernel.py versions")
    ap.add_argument("--trials", type=int, default=130)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    n = STUDY.study.n_randomized
    eps = design_endpoints(STUDY)
    d = fast.study_arrays(STUDY, eps)
    mods = []
    tmp = Path(tempfile.mkdtemp(prefix="kernel_ab_"))
    for i, path in enumerate(args.kernels):
        # a copy compiled without numba's disk cache (a cache written under one module name does not load under
        # another)
        copy = tmp / f"kernel_ab_{i}.py"
        copy.write_text(path.read_text().replace("cache=True", "cache=False"))
        spec = importlib.util.spec_from_file_location(f"kernel_ab_{i}", copy)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        mods.append(mod)
    r = args.trials
    seeds = fast._seeds(np.random.SeedSequence(1), r)

    def run(mod: object) -> tuple[float, np.ndarray]:
        """One timed call; outputs and study arrays are passed by the kernel's own parameter names (versions differ
        in what they take)."""
        params = list(inspect.signature(mod.run_serial.py_func).parameters)  # type: ignore[attr-defined]
        resp = np.zeros((len(eps), r * n), bool)
        given = {"arm_out": np.empty((r, n), np.int8), "strata_out": np.zeros((r * n, d["n_fac"]), np.int8),
                 "stratum_out": np.zeros((r, n), np.int16), "resp": resp, "aux": np.zeros((0, 3))}
        args = [given[k] if k in given else d[k] for k in params[3:]]
        t = time.perf_counter()
        mod.run_serial(r, n, seeds, *args)  # type: ignore[attr-defined]
        return time.perf_counter() - t, resp

    flags = [run(m)[1] for m in mods]  # compile (or load from numba's cache), and the flags
    best = [float("inf")] * len(mods)
    for _ in range(args.rounds):
        for i, m in enumerate(mods):
            best[i] = min(best[i], run(m)[0])
    for path, b, f in zip(args.kernels, best, flags, strict=True):
        same = "same flags as the first" if np.array_equal(f, flags[0]) else "other flags (other random streams)"
        print(f"{path}: {b / r / n * 1e9:.1f} ns per patient ({r / b:,.0f} trials/s on one thread); {same}")


if __name__ == "__main__":
    main()
