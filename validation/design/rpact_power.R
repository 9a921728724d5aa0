# Reference values for trialkit.design.power.cmh_power with one stratum (the two-proportion normal approximation,
# which rpact::getPowerRates also uses for a fixed design).
# Rerun from the repository root:  Rscript validation/design/rpact_power.R
# Writes validation/design/rpact_power.json (read by tests/design/test_power.py).
suppressPackageStartupMessages({library(rpact); library(jsonlite)})
cases <- list(
  list(p1 = 0.40, p2 = 0.20, n = 200, r = 1, alpha = 0.05),
  list(p1 = 0.423, p2 = 0.1285, n = 549, r = 1.5, alpha = 0.025),
  list(p1 = 0.236, p2 = 0.0875, n = 549, r = 1.5, alpha = 0.05),
  list(p1 = 0.191, p2 = 0.0875, n = 440, r = 1, alpha = 0.025),
  list(p1 = 0.163, p2 = 0.083, n = 300, r = 1, alpha = 0.05),
  list(p1 = 0.30, p2 = 0.25, n = 600, r = 2, alpha = 0.01),
  list(p1 = 0.10, p2 = 0.15, n = 800, r = 0.5, alpha = 0.05)
)
out <- lapply(cases, function(cs) {
  d <- getPowerRates(groups = 2, pi1 = cs$p1, pi2 = cs$p2, maxNumberOfSubjects = cs$n, sided = 2,
                     alpha = cs$alpha, allocationRatioPlanned = cs$r)
  n1 <- cs$n * cs$r / (1 + cs$r)
  n2 <- cs$n - n1
  # Fleiss, Levin and Paik (2003) section 4.2, written out with base R (pooled null variance, both tails)
  pbar <- (n1 * cs$p1 + n2 * cs$p2) / cs$n
  s0 <- sqrt(pbar * (1 - pbar) * (1 / n1 + 1 / n2))
  s1 <- sqrt(cs$p1 * (1 - cs$p1) / n1 + cs$p2 * (1 - cs$p2) / n2)
  z <- qnorm(1 - cs$alpha / 2)
  dlt <- cs$p1 - cs$p2
  fleiss <- pnorm((dlt - z * s0) / s1) + pnorm((-dlt - z * s0) / s1)
  c(cs, list(n1 = n1, n2 = n2, power = d$overallReject, power_fleiss = fleiss))
})
res <- list(
  source = paste("power: rpact::getPowerRates(groups = 2, sided = 2), fixed design (rejection probability",
                 "evaluated numerically, about 1e-5 absolute); power_fleiss: the closed form in base R"),
  versions = list(R = as.character(getRversion()), rpact = as.character(packageVersion("rpact"))),
  cases = out)
writeLines(toJSON(res, auto_unbox = TRUE, digits = NA, pretty = TRUE), "validation/design/rpact_power.json")
