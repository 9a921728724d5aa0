"""Benchmark: TEAE table by SOC and PT over 1,000,000 subjects and ~10,000,000 adverse-event records.

Run from the repository root:
    .venv/bin/python benchmarks/bench_safety.py            # full size (needs ~3 GB of free memory)
    .venv/bin/python benchmarks/bench_safety.py --subjects 100000 --repeats 1   # quick look

Steps: (1) simulate the AE domain with trialkit.safety.simulate (all 37 PTs of the built-in coding
table, ~10 records per subject), mark ~5% of records not treatment-emergent, write ADAE/ADSL Parquet
files in a temp folder (not timed). (2) In a fresh child process per run, time reading the needed
columns plus building the table (imports excluded) and record the child's peak resident memory
(VmHWM from /proc/self/status): trialkit.safety.tables.ae_soc_pt (polars, lazy scan); as baseline the same counts with
pandas groupby (pyarrow read, categoricals, observed=True); and trialkit's DuckDB pooled table
(SafetyDatabase.soc_pt, one study). (3) Check that all methods give the same PT-level counts.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

AE_COLS = ["USUBJID", "AEBODSYS", "AEDECOD", "TRTEMFL"]


def make_data(folder: Path, n_subjects: int, seed: int) -> dict[str, float]:
    import numpy as np
    import polars as pl

    from trialkit.safety.coding import CODING_TABLE
    from trialkit.safety.simulate import simulate_adverse_events

    rng = np.random.default_rng(seed)
    arms = np.array(["Placebo", "Low dose", "High dose"])
    arm = arms[rng.integers(0, 3, n_subjects)]
    ids = pl.Series("USUBJID", [f"BENCH-{i:07d}" for i in range(n_subjects)])
    # ~10 records per subject: 37 PTs x incidence 0.13-0.17 x (1 + Poisson(0.8)) episodes
    terms = {pt: {"incidence": {"Placebo": 0.13, "Low dose": 0.15, "High dose": 0.17}, "recurrence": 0.8}
             for pt in CODING_TABLE}
    t0 = time.perf_counter()
    ae = simulate_adverse_events(ids, arm, np.full(n_subjects, 168.0), "2024-01-01",
                                 {"period_days": 168, "terms": terms}, rng=rng, studyid="BENCH", categorical=True)
    t_sim = time.perf_counter() - t0
    te = pl.Series(rng.random(ae.height) < 0.95)
    ae = ae.with_columns(pl.when(te).then(pl.lit("Y")).otherwise(None).alias("TRTEMFL"))
    ae.write_parquet(folder / "adae.parquet")
    pl.DataFrame({"USUBJID": ids, "TRT01A": arm, "SAFFL": "Y", "TRTDURD": 168.0}).write_parquet(
        folder / "adsl.parquet")
    return {"records": ae.height, "simulate_s": t_sim}


CHILD = r"""
import json, resource, sys, time
from pathlib import Path
folder, method = Path(sys.argv[1]), sys.argv[2]
cols = __COLS__
import polars as pl
if method == "pandas":
    import pandas as pd
else:
    from trialkit.safety.pooled import SafetyDatabase
    from trialkit.safety.tables import ae_soc_pt
t0 = time.perf_counter()  # imports excluded; reading the data is included
if method == "trialkit":
    adsl = pl.read_parquet(folder / "adsl.parquet", columns=["USUBJID", "TRT01A", "SAFFL"])
    adae = pl.scan_parquet(folder / "adae.parquet").select(cols)
    ard = ae_soc_pt(adae, adsl).to_frame()
    out = ard.filter((pl.col("variable") == "AEDECOD") & (pl.col("stat_name") == "n")).select(
        pl.col("group1_level").alias("arm"), pl.col("variable_level").alias("pt"),
        pl.col("stat").cast(pl.Int64).alias("n"))
elif method == "duckdb":
    adsl = pl.read_parquet(folder / "adsl.parquet", columns=["USUBJID", "TRT01A", "SAFFL", "TRTDURD"])
    adae = pl.read_parquet(folder / "adae.parquet", columns=cols)
    db = SafetyDatabase()
    db.add_study("BENCH", adae, adsl, exposure="TRTDURD")
    del adae
    ard = db.soc_pt(by_study=False).to_frame()
    out = ard.filter((pl.col("variable") == "AEDECOD") & (pl.col("stat_name") == "n")).select(
        pl.col("group2_level").alias("arm"), pl.col("variable_level").alias("pt"),
        pl.col("stat").cast(pl.Int64).alias("n"))
else:
    adsl = pd.read_parquet(folder / "adsl.parquet", columns=["USUBJID", "TRT01A", "SAFFL"])
    adae = pd.read_parquet(folder / "adae.parquet", columns=cols)
    adsl = adsl[adsl["SAFFL"] == "Y"]
    N = adsl.groupby("TRT01A").size()
    ev = adae[adae["TRTEMFL"] == "Y"].merge(adsl[["USUBJID", "TRT01A"]], on="USUBJID", how="inner")
    sub = ev.drop_duplicates(["USUBJID", "AEBODSYS", "AEDECOD"])
    pt_n = sub.groupby(["TRT01A", "AEBODSYS", "AEDECOD"], observed=True).size()
    pt_e = ev.groupby(["TRT01A", "AEBODSYS", "AEDECOD"], observed=True).size()
    soc_n = sub.drop_duplicates(["USUBJID", "AEBODSYS"]).groupby(["TRT01A", "AEBODSYS"], observed=True).size()
    any_n = sub.drop_duplicates(["USUBJID"]).groupby("TRT01A", observed=True).size()
    pct = pt_n.div(N, level="TRT01A")
    pt_n = pt_n.sort_values(ascending=False)
    out = pl.DataFrame({"arm": pt_n.index.get_level_values(0).astype(str),
                        "pt": pt_n.index.get_level_values(2).astype(str), "n": pt_n.to_numpy()})
elapsed = time.perf_counter() - t0
out.write_parquet(folder / f"counts_{method}.parquet")
# VmHWM (peak RSS of this process image); ru_maxrss can carry the parent's peak over fork + exec
try:
    hwm = next(int(x.split()[1]) for x in open("/proc/self/status") if x.startswith("VmHWM:")) / 1024
except (OSError, StopIteration):
    hwm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": elapsed, "peak_rss_mb": hwm}))
""".replace("__COLS__", repr(AE_COLS))


def run_child(folder: Path, method: str) -> dict[str, float]:
    res = subprocess.run([sys.executable, "-c", CHILD, str(folder), method], capture_output=True, text=True,
                         check=False)
    if res.returncode != 0:
        raise RuntimeError(f"{method} failed:\n{res.stderr}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--subjects", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=20250308)
    ap.add_argument("--no-duckdb", action="store_true", help="skip the DuckDB pooled-table timing")
    args = ap.parse_args()
    import polars as pl

    methods = ["trialkit", "pandas"] + ([] if args.no_duckdb else ["duckdb"])
    with tempfile.TemporaryDirectory(prefix="bench_safety_") as tmp:
        folder = Path(tmp)
        info = make_data(folder, args.subjects, args.seed)
        size_mb = (folder / "adae.parquet").stat().st_size / 1e6
        print(f"subjects={args.subjects:,} AE records={info['records']:,} (simulated in {info['simulate_s']:.1f} s; "
              f"adae.parquet {size_mb:.0f} MB); cores={os.cpu_count()}; python {sys.version.split()[0]}; "
              f"polars {pl.__version__}")
        results: dict[str, list[dict[str, float]]] = {m: [] for m in methods}
        for _ in range(args.repeats):
            for m in methods:  # interleaved so background load hits every method alike
                results[m].append(run_child(folder, m))
        ref = pl.read_parquet(folder / "counts_pandas.parquet").sort("arm", "pt")
        for m in methods:
            got = pl.read_parquet(folder / f"counts_{m}.parquet").sort("arm", "pt")
            assert got.equals(ref), f"{m} PT counts differ from pandas"
        base = statistics.median(r["seconds"] for r in results["pandas"])
        print("\n| method | median s (min-max) | peak RSS MB (max) | vs pandas |")
        print("|---|---|---|---|")
        for m in methods:
            s = [r["seconds"] for r in results[m]]
            rss = max(r["peak_rss_mb"] for r in results[m])
            med = statistics.median(s)
            print(f"| {m} | {med:.2f} ({min(s):.2f}-{max(s):.2f}) | {rss:,.0f} | {base / med:.2f}x |")
        print("\nPT-level subject counts identical across methods: yes")


if __name__ == "__main__":
    main()
