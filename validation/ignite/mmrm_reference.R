# Reference values for the IGNITE MMRM of percent change in EASI (one simulated trial, validation/ignite/
# mmrm_seed2024.csv): nlme::gls with unstructured correlation (corSymm) and visit-specific variances (varIdent),
# REML; LS means by arm at Week 24 and differences vs placebo from emmeans (equal weights over REGION and
# PRIORBIO levels, BASE at its mean). Degrees of freedom are not compared: emmeans' df for gls fits are not
# Kenward-Roger (see validation/mmrm/README.md).
# Rerun:  .venv/bin/python validation/ignite/export_trial.py && Rscript validation/ignite/mmrm_reference.R
suppressPackageStartupMessages({library(nlme); library(emmeans); library(jsonlite)})
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("--file=", "", args[grep("--file=", args)])))
d <- read.csv(file.path(here, "mmrm_seed2024.csv"), stringsAsFactors = FALSE)
d$TRT01P <- factor(d$TRT01P, levels = c("Placebo", "Rocatinlimab 150 mg", "Rocatinlimab 300 mg"))
wk <- c("Week 2", "Week 4", "Week 8", "Week 12", "Week 16", "Week 20", "Week 24")
d$AVISIT <- factor(d$AVISIT, levels = wk)
d$VISN <- as.integer(d$AVISIT)
d$REGION <- factor(d$REGION)
d$PRIORBIO <- factor(d$PRIORBIO)
ctl <- glsControl(natural = FALSE, maxIter = 500, msMaxIter = 500, tolerance = 1e-10, msTol = 1e-10, opt = "nlminb")
fit <- gls(Y ~ TRT01P * AVISIT + BASE * AVISIT + REGION + PRIORBIO, data = d,
           correlation = corSymm(form = ~ VISN | USUBJID), weights = varIdent(form = ~ 1 | AVISIT),
           method = "REML", control = ctl)
emm_options(msg.interaction = FALSE)
em <- emmeans(fit, ~ TRT01P | AVISIT, mode = "df.error")
s <- as.data.frame(summary(em))
s <- s[s$AVISIT == "Week 24", ]
ct <- as.data.frame(summary(contrast(em, method = "trt.vs.ctrl", ref = 1)))
ct <- ct[ct$AVISIT == "Week 24", ]
out <- list(generated_by = "validation/ignite/mmrm_reference.R", R = R.version.string,
            nlme = as.character(packageVersion("nlme")), emmeans = as.character(packageVersion("emmeans")),
            neg2_loglik_reml = -2 * as.numeric(logLik(fit)),
            lsmeans = lapply(seq_len(nrow(s)), function(i) list(arm = as.character(s$TRT01P[i]),
                                                                 estimate = s$emmean[i], se = s$SE[i])),
            diffs = lapply(seq_len(nrow(ct)), function(i) list(contrast = as.character(ct$contrast[i]),
                                                               estimate = ct$estimate[i], se = ct$SE[i])))
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), file.path(here, "mmrm_reference.json"))
cat("written\n")
