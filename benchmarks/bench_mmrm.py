"""Benchmark: unstructured MMRM on 769 subjects x 8 visits, trialkit vs R nlme::gls on the same data.

Run: .venv/bin/python benchmarks/bench_mmrm.py [--repeats 7] [--r-repeats 1]

The data are simulated with a fixed seed (2 arms, 8 visits, baseline covariate, monotone dropout reaching about
25% at the last visit, heterogeneous correlated errors). The model is CHG = ARM + VISIT + ARM:VISIT + BASE +
BASE:VISIT with an unstructured covariance, REML. trialkit's time includes Satterthwaite degrees of freedom for
every coefficient. R's time is nlme::gls(corSymm + varIdent) only (no degrees of freedom), measured inside R
(system.time, excluding R start-up and data loading) in the same run; skipped with a note when Rscript is absent.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from trialkit.stats import mmrm

N_SUBJECTS, N_VISITS = 769, 8


def simulate(seed: int = 20250308) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    T = N_VISITS
    sd = np.linspace(4.0, 8.0, T)
    lag = np.abs(np.subtract.outer(np.arange(T), np.arange(T)))
    Sigma = np.outer(sd, sd) * (0.3 + 0.6 * 0.8**lag)
    np.fill_diagonal(Sigma, sd**2)
    arm = rng.integers(0, 2, N_SUBJECTS)
    base = rng.normal(50, 10, N_SUBJECTS)
    mean = -0.5 * np.arange(1, T + 1)[None, :] * (1 + arm[:, None]) - 0.1 * (base[:, None] - 50)
    y = mean + rng.multivariate_normal(np.zeros(T), Sigma, N_SUBJECTS)
    last = np.where(rng.random(N_SUBJECTS) < 0.25, rng.integers(1, T, N_SUBJECTS), T)  # monotone dropout
    rows = []
    for i in range(N_SUBJECTS):
        for t in range(T):
            rows.append((f"S{i:04d}", f"V{t + 1}", t + 1, "TRT" if arm[i] else "PBO", base[i],
                         y[i, t] if t < last[i] else None))
    return pl.DataFrame(rows, schema=["USUBJID", "AVISIT", "VISITN", "ARM", "BASE", "CHG"], orient="row")


R_SCRIPT = r"""
suppressPackageStartupMessages(library(nlme))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1]); d <- d[!is.na(d$CHG), ]
d$ARM <- factor(d$ARM, levels = c("PBO", "TRT")); d$AVISIT <- factor(d$AVISIT, levels = paste0("V", 1:8))
times <- numeric(0)
for (i in seq_len(as.integer(args[2]))) {
  t <- system.time(fit <- gls(CHG ~ ARM * AVISIT + BASE * AVISIT, data = d, method = "REML",
                              correlation = corSymm(form = ~ VISITN | USUBJID),
                              weights = varIdent(form = ~ 1 | AVISIT)))[["elapsed"]]
  times <- c(times, t)
}
cat(sprintf("%.6f %.6f\n", median(times), -2 * as.numeric(logLik(fit))))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--r-repeats", type=int, default=1, help="nlme::gls takes minutes here; 1 run by default")
    args = ap.parse_args()
    data = simulate()
    n_obs = data["CHG"].is_not_null().sum()
    kw = dict(response="CHG", fixed=["ARM", "AVISIT", "ARM:AVISIT", "BASE", "BASE:AVISIT"], visit="AVISIT",
              subject="USUBJID", covariance="us", levels={"AVISIT": [f"V{t}" for t in range(1, 9)]})
    mmrm(data, **kw)  # warm-up (imports, caches)
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        fit = mmrm(data, **kw)
        times.append(time.perf_counter() - t0)
    t_tk = float(np.median(times))
    kr_times = []
    for _ in range(max(1, args.repeats // 2)):
        t0 = time.perf_counter()
        mmrm(data, df="kenward-roger", **kw)
        kr_times.append(time.perf_counter() - t0)
    print(f"data: {N_SUBJECTS} subjects x {N_VISITS} visits, {n_obs} observations, {len(fit.beta)} fixed effects, "
          f"36 covariance parameters")
    print(f"trialkit mmrm (us, REML, Satterthwaite df): median {t_tk:.3f} s over {args.repeats} runs "
          f"(min {min(times):.3f} s); -2 log L = {fit.neg2_loglik:.6f}")
    print(f"trialkit mmrm (us, REML, Kenward-Roger):    median {float(np.median(kr_times)):.3f} s")
    # multiple imputation: 100 J2R imputations from the same MMRM, each analysed by ANCOVA at the last visit
    from trialkit.stats.imputation import impute, mi_ancova

    t0 = time.perf_counter()
    imp = impute(data, arm="ARM", reference="PBO", strategy="J2R", n_imputations=100, seed=1, **kw)
    t_imp = time.perf_counter() - t0
    res = mi_ancova(imp, at_visit="V8", fixed=["ARM", "BASE"])
    t_mi = time.perf_counter() - t0
    print(f"trialkit impute (J2R, 100 imputations) + mi_ancova: {t_mi:.3f} s (imputation {t_imp:.3f} s); "
          f"pooled TRT - PBO = {res['estimate'][0]:.4f} (se {res['se'][0]:.4f})")
    if shutil.which("Rscript") is None:
        print("R nlme::gls: skipped (Rscript not found)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "bench.csv"
        script = Path(tmp) / "bench.R"
        data.write_csv(csv)
        script.write_text(R_SCRIPT)
        out = subprocess.run(["Rscript", str(script), str(csv), str(args.r_repeats)], capture_output=True, text=True,
                             check=True).stdout.split()
    t_r, ll_r = float(out[0]), float(out[1])
    print(f"R nlme::gls (corSymm + varIdent, REML):     median {t_r:.3f} s over {args.r_repeats} run(s); "
          f"-2 log L = {ll_r:.6f} (difference {fit.neg2_loglik - ll_r:+.2e})")
    print(f"speed-up vs nlme::gls: {t_r / t_tk:.1f} x")


if __name__ == "__main__":
    main()
