# Reference values for the IGNITE topline analysis of one simulated trial (validation/ignite/trial_seed2024.csv):
# per endpoint and active arm vs placebo, the CMH test stratified by BLIGA x REGION x PRIORBIO
# (stats::mantelhaen.test, no continuity correction), the Mantel-Haenszel risk difference with Sato's variance
# (formula of the SAS PROC FREQ documentation, "Common Risk Difference"; written here independently) and the
# Wilson interval of each arm's rate (stats::prop.test without correction).
# Rerun:  Rscript validation/ignite/reference.R   (writes reference.json next to this script)
suppressMessages(library(jsonlite))
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("--file=", "", args[grep("--file=", args)])))
d <- read.csv(file.path(here, "trial_seed2024.csv"), colClasses = "character")
pbo <- "Placebo"
arms <- c("Rocatinlimab 300 mg", "Rocatinlimab 150 mg")
d$stratum <- interaction(d$BLIGA, d$REGION, d$PRIORBIO, drop = TRUE)
out <- list()
for (ep in c("EASI75", "VIGA01", "RIGA01")) {
  y <- as.numeric(d[[ep]])
  for (arm in c(arms, pbo)) {
    x <- sum(y[d$TRT01P == arm]); n <- sum(d$TRT01P == arm)
    ci <- as.numeric(prop.test(x, n, correct = FALSE)$conf.int)
    out[[length(out) + 1]] <- list(endpoint = ep, arm = arm, kind = "rate", N = n, n = x, p = x / n,
                                   ci_low = ci[1], ci_high = ci[2])
  }
  for (arm in arms) {
    s <- d[d$TRT01P %in% c(arm, pbo), ]
    yy <- as.numeric(s[[ep]])
    trt <- factor(s$TRT01P, levels = c(arm, pbo))
    resp <- factor(ifelse(yy == 1, "Y", "N"), levels = c("Y", "N"))
    st <- droplevels(s$stratum)
    tab <- table(trt, resp, st)
    keep <- apply(tab, 3, function(t) sum(t) > 1)
    mh <- mantelhaen.test(tab[, , keep, drop = FALSE], correct = FALSE)
    x1 <- tab[1, 1, ]; n1 <- tab[1, 1, ] + tab[1, 2, ]; x2 <- tab[2, 1, ]; n2 <- tab[2, 1, ] + tab[2, 2, ]
    k <- n1 > 0 & n2 > 0
    x1 <- x1[k]; n1 <- n1[k]; x2 <- x2[k]; n2 <- n2[k]; n <- n1 + n2
    w <- n1 * n2 / n
    est <- sum(w * (x1 / n1 - x2 / n2)) / sum(w)
    P <- (n1^2 * x2 - n2^2 * x1 + n1 * n2 * (n2 - n1) / 2) / n^2
    Q <- (x1 * (n2 - x2) + x2 * (n1 - x1)) / (2 * n)
    se <- sqrt((est * sum(P) + sum(Q)) / sum(w)^2)
    z <- qnorm(0.975)
    out[[length(out) + 1]] <- list(endpoint = ep, arm = arm, kind = "comparison",
                                   cmh_statistic = unname(mh$statistic), cmh_pvalue = mh$p.value,
                                   rd = est, rd_se = se, rd_ci_low = est - z * se, rd_ci_high = est + z * se)
  }
}
res <- list(generated_by = "validation/ignite/reference.R", r_version = R.version.string,
            jsonlite = as.character(packageVersion("jsonlite")), results = out)
writeLines(toJSON(res, auto_unbox = TRUE, digits = NA, pretty = TRUE), file.path(here, "reference.json"))
cat("wrote", length(out), "results\n")
