# Reference values for trialkit.stats.imputation.rubin: Rubin's rules with Barnard-Rubin df from mice::pool.scalar.
# Rerun (from the repository root; needs R with mice and jsonlite):
#   Rscript validation/imputation/make_fixtures.R     # writes validation/imputation/fixtures_rubin.json
# Inputs: estimates Q and variances U generated below with a fixed seed (saved in the fixture).
suppressPackageStartupMessages({ library(mice); library(jsonlite) })
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("--file=", "", args[grep("--file=", args)])))
set.seed(20250308)
cases <- list()
for (spec in list(c(m = 5, n = 30, k = 3), c(m = 20, n = 200, k = 5), c(m = 100, n = 1000, k = 4),
                  c(m = 3, n = 12, k = 4))) {
  m <- spec[["m"]]; n <- spec[["n"]]; k <- spec[["k"]]
  Q <- rnorm(m, mean = 1.5, sd = 0.4)
  U <- rchisq(m, df = 10) / 10 * 0.2
  p <- pool.scalar(Q, U, n = n, k = k)
  p_inf <- pool.scalar(Q, U)  # no complete-data df: Rubin's (m - 1) / lambda^2
  cases[[length(cases) + 1]] <- list(Q = Q, U = U, n = n, k = k, qbar = p$qbar, ubar = p$ubar, b = p$b, t = p$t,
                                     df = p$df, r = p$r, fmi = p$fmi, df_large_sample = p_inf$df)
}
out <- list(meta = list(R = R.version.string, mice = as.character(packageVersion("mice")),
                        note = "mice::pool.scalar(Q, U, n, k): df is Barnard-Rubin with dfcom = n - k"),
            cases = cases)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), file.path(here, "fixtures_rubin.json"))
cat("wrote fixtures_rubin.json\n")
