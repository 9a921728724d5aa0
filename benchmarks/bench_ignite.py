"""IGNITE end to end: `trialkit run` for 769 patients (target < 60 s), and the multiple-imputation + tipping-point
sensitivity analysis of one co-primary endpoint (100 imputations, 10 shifts; target: 100 imputations with their
analyses < 10 s). Baseline measured in the same run: the primary (CMH + MH) analysis of all endpoints alone.

Reproduce: .venv/bin/python benchmarks/bench_ignite.py
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from trialkit import pipeline
from trialkit.ard import ARD
from trialkit.efficacy import analyse_study
from trialkit.sensitivity import analyse_mi
from trialkit.study import load_study

ROOT = Path(__file__).resolve().parents[1]


def timed(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    study = load_study(ROOT / "studies" / "ignite.toml")
    with tempfile.TemporaryDirectory() as tmp:
        t_run = timed(lambda: pipeline.run(study, Path(tmp) / "o", seed=1), repeat=3)
    adam = pipeline.derive_adam(study, pipeline.simulate_sdtm(study, seed=1))
    t_primary = timed(lambda: analyse_study(adam["ADSL"], adam["ADEFF"], study, sensitivity=False))
    for ep_id in ("EASI75", "VIGA01"):
        t_mi = timed(lambda ep_id=ep_id: analyse_mi(adam["ADEFF"], adam["ADSL"], study, study.endpoint(ep_id), ARD()))
        print(f"MI (100 imputations) + tipping grid, {ep_id}: {t_mi:.2f} s")
    print(f"trialkit run, 769 patients (simulate, SDTM, ADaM, all analyses, report): {t_run:.2f} s")
    print(f"primary analyses only (baseline): {t_primary:.3f} s")


if __name__ == "__main__":
    main()
