# Reference values for trialkit's categorical statistics (trialkit.stats: CMH, MH odds ratio / relative risk,
# Breslow-Day, risk differences, Fisher, exact unconditional, proportion CIs, logistic regression).
#
# Rerun (from the repository root; needs R with jsonlite, vcdExtra (with vcd)):
#   .venv/bin/python validation/categorical/export_cibic.py     # CDISC Pilot CIBIC+ records -> cibic_week24.csv
#   Rscript validation/categorical/reference.R                   # -> reference.json next to this script
#
# Independent implementations used:
#   stats::mantelhaen.test (MH chi-square with/without correction, MH odds ratio with RBG limits),
#   vcdExtra::CMHtest internals (generalized CMH; per-stratum scores computed here and passed as numbers),
#   stats::friedman.test (Friedman = CMH row mean scores with rank scores, SAS Hypnosis example),
#   stats::fisher.test (p-values), stats::prop.test / binom.test (Wilson / Clopper-Pearson),
#   stats::glm (logistic regression, Wald and LR), and R code written here from the SAS PROC FREQ
#   documentation formulas where R has no implementation (Sato variance, logit estimators, Breslow-Day via
#   uniroot, Newcombe, Miettinen-Nurminen via optimize/uniroot, stratified Newcombe (Yan-Su), summary score,
#   exact unconditional limits by brute force). Counts are stored as [stratum][row][column], rows
#   (treatment, control), columns (responder, non-responder) for 2x2 tables.
suppressMessages({library(jsonlite); library(vcdExtra)})

args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("--file=", "", args[grep("--file=", args)])))
z975 <- qnorm(0.975)

# ---- helpers ---------------------------------------------------------------------------------------------
to_krc <- function(x) aperm(x, c(3, 1, 2))       # R table (r, c, k) -> (k, r, c)
xlogp <- function(x, p) ifelse(x == 0, 0, x * log(pmin(pmax(p, 0), 1)))

mh_tests <- function(x) {   # x: 2 x 2 x K; drop strata with n < 2 (no variance; SAS leaves them out)
  keep <- apply(x, 3, sum) > 1
  y <- x[, , keep, drop = FALSE]
  # mantelhaen.test needs K >= 2: add a stratum with one arm empty (it contributes nothing to any term)
  if (dim(y)[3] == 1) y <- array(c(y, 2, 0, 0, 0), dim = c(2, 2, 2))
  u <- suppressWarnings(mantelhaen.test(y, correct = FALSE))
  c <- suppressWarnings(mantelhaen.test(y, correct = TRUE))
  list(uncorrected = unname(c(u$statistic, u$p.value)), corrected = unname(c(c$statistic, c$p.value)),
       or_mh = unname(c(u$estimate, u$conf.int)))
}

stratum_scores <- function(margin, kind, table_scores) {
  if (kind == "table") return(table_scores)
  rk <- cumsum(margin) - margin + (margin + 1) / 2
  switch(kind, rank = rk, ridit = rk / sum(margin), modridit = rk / (sum(margin) + 1))
}

gen_cmh <- function(x, kind = "table") tryCatch(gen_cmh_vcd(x, kind), error = function(e) gen_cmh_ginv(x, kind))

# vcdExtra's per-stratum matrices (n, m, V, A) without its per-stratum tests, whose solve() fails for a stratum
# with an empty row or column although the summed matrix used by CMHtest3 is regular.
cmh2_no_stratum_tests <- vcdExtra:::CMHtest2
local({ e <- new.env(parent = environment(cmh2_no_stratum_tests))
        e$cmh <- function(n, m, A, V, df) c(NA, df, NA)
        environment(cmh2_no_stratum_tests) <<- e })

gen_cmh_vcd <- function(x, kind = "table") {  # x: R x C x K
  keep <- apply(x, 3, sum) > 1
  x <- x[, , keep, drop = FALSE]
  R <- dim(x)[1]; C <- dim(x)[2]
  res <- lapply(seq_len(dim(x)[3]), function(k) {
    s <- x[, , k]
    rs <- stratum_scores(rowSums(s), kind, seq_len(R))
    cs <- stratum_scores(colSums(s), kind, seq_len(C))
    cmh2_no_stratum_tests(s, rscores = rs, cscores = cs, types = c("cor", "rmeans", "general"), details = TRUE)
  })
  tab <- vcdExtra:::CMHtest3(res, types = c("cor", "rmeans", "general"))$table
  list(correlation = unname(tab["cor", ]), row_mean_scores = unname(tab["rmeans", ]),
       general_association = unname(tab["general", ]), implementation = "vcdExtra")
}

# Same statistics written out here (Landis, Heyman and Koch 1978), with a Moore-Penrose inverse and df = rank
# when the summed covariance matrix is singular; used when vcdExtra's per-stratum solve() fails (a stratum
# with an empty row or column).
gen_cmh_ginv <- function(x, kind = "table") {
  keep <- apply(x, 3, sum) > 1
  x <- x[, , keep, drop = FALSE]
  R <- dim(x)[1]; C <- dim(x)[2]
  Ir <- cbind(diag(R - 1), 0); Ic <- cbind(diag(C - 1), 0)
  acc <- list(cor = list(G = 0, V = 0), rmeans = list(G = 0, V = 0), general = list(G = 0, V = 0))
  for (k in seq_len(dim(x)[3])) {
    s <- x[, , k]; nt <- sum(s); pr <- rowSums(s) / nt; pc <- colSums(s) / nt
    rs <- stratum_scores(rowSums(s), kind, seq_len(R)); cs <- stratum_scores(colSums(s), kind, seq_len(C))
    D <- s - nt * outer(pr, pc)
    Vr <- diag(pr, R) - pr %*% t(pr); Vc <- diag(pc, C) - pc %*% t(pc); f <- nt^2 / (nt - 1)
    for (type in names(acc)) {
      Ar <- switch(type, cor = t(rs), rmeans = Ir, general = Ir)
      Ac <- switch(type, cor = t(cs), rmeans = t(cs), general = Ic)
      acc[[type]]$G <- acc[[type]]$G + as.vector(t(Ar %*% D %*% t(Ac)))
      acc[[type]]$V <- acc[[type]]$V + f * kronecker(Ar %*% Vr %*% t(Ar), Ac %*% Vc %*% t(Ac))
    }
  }
  out <- lapply(acc, function(a) {
    e <- eigen(a$V, symmetric = TRUE); keep <- e$values > max(e$values) * nrow(a$V) * 1e-10
    if (!any(keep)) return(c(NA, 0, NA))
    proj <- t(e$vectors[, keep, drop = FALSE]) %*% a$G
    q <- sum(proj^2 / e$values[keep]); df <- sum(keep)
    c(q, df, pchisq(q, df, lower.tail = FALSE))
  })
  list(correlation = out$cor, row_mean_scores = out$rmeans, general_association = out$general,
       implementation = "ginv")
}

logit_pool <- function(lg, v) { w <- 1 / v; e <- sum(w * lg) / sum(w); se <- sqrt(1 / sum(w))
  c(exp(e), se, exp(e - z975 * se), exp(e + z975 * se)) }

or_logit <- function(x) {
  a <- x[1, 1, ]; b <- x[1, 2, ]; c <- x[2, 1, ]; d <- x[2, 2, ]
  use <- (a + b) > 0 & (c + d) > 0
  adj <- ifelse(a == 0 | b == 0 | c == 0 | d == 0, 0.5, 0)
  a <- a + adj; b <- b + adj; c <- c + adj; d <- d + adj
  logit_pool(log(a * d / (b * c))[use], (1 / a + 1 / b + 1 / c + 1 / d)[use])
}

rr_mh <- function(x) {
  a <- x[1, 1, ]; b <- x[1, 2, ]; c <- x[2, 1, ]; d <- x[2, 2, ]
  n1 <- a + b; n2 <- c + d; n <- n1 + n2; m1 <- a + c; k <- n > 0
  num <- sum((a * n2 / n)[k]); den <- sum((c * n1 / n)[k])
  v <- sum(((n1 * n2 * m1 - a * c * n) / n^2)[k]) / (num * den)
  e <- num / den; se <- sqrt(v)
  c(e, se, e * exp(-z975 * se), e * exp(z975 * se))
}

rr_logit <- function(x) {
  a <- x[1, 1, ]; b <- x[1, 2, ]; c <- x[2, 1, ]; d <- x[2, 2, ]
  use <- (a + b) > 0 & (c + d) > 0
  adj <- ifelse(a == 0 | b == 0 | c == 0 | d == 0, 0.5, 0)
  a <- a + adj; b <- b + adj; c <- c + adj; d <- d + adj
  logit_pool(log((a / (a + b)) / (c / (c + d)))[use], (1 / a - 1 / (a + b) + 1 / c - 1 / (c + d))[use])
}

breslow_day_ref <- function(x, psi) {
  if (!is.finite(psi) || psi <= 0) return(list(bd = c(NA, NA, NA), tarone = c(NA, NA, NA)))
  stat <- 0; dev <- 0; vs <- 0; df <- -1
  for (k in seq_len(dim(x)[3])) {
    a <- x[1, 1, k]; n1 <- sum(x[1, , k]); n2 <- sum(x[2, , k]); m1 <- sum(x[, 1, k]); m2 <- sum(x[, 2, k])
    if (n1 == 0 || n2 == 0 || m1 == 0 || m2 == 0) next
    lo <- max(0, m1 - n2); hi <- min(n1, m1)
    f <- function(A) A * (n2 - m1 + A) - psi * (n1 - A) * (m1 - A)
    A <- uniroot(f, c(lo, hi), tol = 1e-14)$root
    V <- 1 / (1 / A + 1 / (n1 - A) + 1 / (m1 - A) + 1 / (n2 - m1 + A))
    stat <- stat + (a - A)^2 / V; dev <- dev + a - A; vs <- vs + V; df <- df + 1
  }
  tarone <- stat - dev^2 / vs
  if (df < 1) return(list(bd = c(NA, NA, NA), tarone = c(NA, NA, NA)))  # fewer than two informative strata
  list(bd = c(stat, df, pchisq(stat, df, lower.tail = FALSE)),
       tarone = c(tarone, df, pchisq(tarone, df, lower.tail = FALSE)))
}

rd_mh_sato <- function(x) {
  x1 <- x[1, 1, ]; n1 <- colSums(x[1, , , drop = FALSE][1, , ]); x2 <- x[2, 1, ]
  n1 <- x[1, 1, ] + x[1, 2, ]; n2 <- x[2, 1, ] + x[2, 2, ]; n <- n1 + n2
  k <- n1 > 0 & n2 > 0
  x1 <- x1[k]; n1 <- n1[k]; x2 <- x2[k]; n2 <- n2[k]; n <- n[k]
  w <- n1 * n2 / n; d <- x1 / n1 - x2 / n2
  est <- sum(w * d) / sum(w)
  P <- (n1^2 * x2 - n2^2 * x1 + n1 * n2 * (n2 - n1) / 2) / n^2
  Q <- (x1 * (n2 - x2) + x2 * (n1 - x1)) / (2 * n)
  se <- sqrt((est * sum(P) + sum(Q)) / sum(w)^2)
  c(est, se, est - z975 * se, est + z975 * se, 2 * pnorm(-abs(est / se)))
}

wilson <- function(x, n, conf = 0.95) {
  if (n == 0) return(c(NA, NA))
  as.numeric(suppressWarnings(prop.test(x, n, correct = FALSE, conf.level = conf)$conf.int))
}

# restricted MLE under p1 - p2 = delta by direct maximization (independent of the closed form)
restricted <- function(x1, n1, x2, n2, delta) {
  lo <- max(0, -delta); hi <- min(1, 1 - delta)
  if (hi - lo < 1e-15) return(c(lo + delta, lo))
  ll <- function(p2) xlogp(x1, p2 + delta) + xlogp(n1 - x1, 1 - p2 - delta) + xlogp(x2, p2) + xlogp(n2 - x2, 1 - p2)
  p2 <- optimize(ll, c(lo, hi), maximum = TRUE, tol = 1e-13)$maximum
  # the log-likelihood can be maximal at a boundary
  cand <- c(p2, lo, hi); vals <- sapply(cand, ll); p2 <- cand[which.max(vals)]
  c(p2 + delta, p2)
}
mn_var <- function(x1, n1, x2, n2, delta) {
  p <- restricted(x1, n1, x2, n2, delta)
  (p[1] * (1 - p[1]) / n1 + p[2] * (1 - p[2]) / n2) * (n1 + n2) / (n1 + n2 - 1)
}
mn_ci <- function(x1, n1, x2, n2) {
  d <- x1 / n1 - x2 / n2
  zf <- function(delta) { v <- mn_var(x1, n1, x2, n2, delta); if (v <= 0) return(sign(d - delta) * 1e6); (d - delta) / sqrt(v) }
  lo <- if (d <= -1) -1 else uniroot(function(t) zf(t) - z975, c(-1 + 1e-12, d), tol = 1e-13)$root
  hi <- if (d >= 1) 1 else uniroot(function(t) zf(t) + z975, c(d, 1 - 1e-12), tol = 1e-13)$root
  c(d, lo, hi, 2 * pnorm(-abs(zf(0))))
}

rd_single <- function(t) {  # t: 2 x 2, rows (trt, ctrl)
  x1 <- t[1, 1]; n1 <- sum(t[1, ]); x2 <- t[2, 1]; n2 <- sum(t[2, ])
  p1 <- x1 / n1; p2 <- x2 / n2; d <- p1 - p2
  se <- sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
  w1 <- wilson(x1, n1); w2 <- wilson(x2, n2)
  q1 <- (x1 + 1) / (n1 + 2); q2 <- (x2 + 1) / (n2 + 2); sa <- sqrt(q1 * (1 - q1) / (n1 + 2) + q2 * (1 - q2) / (n2 + 2))
  list(wald = c(d, se, d - z975 * se, d + z975 * se),
       newcombe = c(d, d - sqrt((p1 - w1[1])^2 + (w2[2] - p2)^2), d + sqrt((w1[2] - p1)^2 + (p2 - w2[1])^2)),
       mn = mn_ci(x1, n1, x2, n2),
       agresti_caffo = c(d, sa, max(-1, q1 - q2 - z975 * sa), min(1, q1 - q2 + z975 * sa)))
}

strat_newcombe <- function(x) {
  n1 <- x[1, 1, ] + x[1, 2, ]; n2 <- x[2, 1, ] + x[2, 2, ]; k <- n1 > 0 & n2 > 0
  w <- (n1 * n2 / (n1 + n2))[k]; w <- w / sum(w)
  arm <- function(xs, ns) {
    p <- xs / ns; v <- p * (1 - p) / ns
    zs <- if (sum(w * sqrt(v)) > 0) sqrt(sum(w^2 * v)) / sum(w * sqrt(v)) * z975 else z975
    conf <- 2 * pnorm(zs) - 1
    ci <- sapply(seq_along(xs), function(i) wilson(xs[i], ns[i], conf))
    c(sum(w * p), sum(w * ci[1, ]), sum(w * ci[2, ]))
  }
  a <- arm(x[1, 1, k], n1[k]); b <- arm(x[2, 1, k], n2[k])
  d <- a[1] - b[1]
  c(d, d - sqrt((a[1] - a[2])^2 + (b[3] - b[1])^2), d + sqrt((a[3] - a[1])^2 + (b[1] - b[2])^2))
}

strat_mn <- function(x) {
  n1 <- x[1, 1, ] + x[1, 2, ]; n2 <- x[2, 1, ] + x[2, 2, ]; k <- n1 > 0 & n2 > 0
  x1 <- x[1, 1, k]; x2 <- x[2, 1, k]; n1 <- n1[k]; n2 <- n2[k]
  w <- n1 * n2 / (n1 + n2); dh <- x1 / n1 - x2 / n2; est <- sum(w * dh) / sum(w)
  zf <- function(delta) {
    v <- sapply(seq_along(x1), function(i) mn_var(x1[i], n1[i], x2[i], n2[i], delta))
    s <- sum(w * (dh - delta)); vv <- sum(w^2 * v)
    if (vv <= 0) return(sign(s) * 1e6); s / sqrt(vv)
  }
  lo <- uniroot(function(t) zf(t) - z975, c(-1 + 1e-12, est), tol = 1e-13)$root
  hi <- uniroot(function(t) zf(t) + z975, c(est, 1 - 1e-12), tol = 1e-13)$root
  c(est, lo, hi, 2 * pnorm(-abs(zf(0))))
}

summary_score <- function(x) {
  n1 <- x[1, 1, ] + x[1, 2, ]; n2 <- x[2, 1, ] + x[2, 2, ]; k <- which(n1 > 0 & n2 > 0)
  ci <- sapply(k, function(i) mn_ci(x[1, 1, i], n1[i], x[2, 1, i], n2[i]))
  mid <- (ci[2, ] + ci[3, ]) / 2; s <- (ci[3, ] - ci[2, ]) / (2 * z975); w <- 1 / s^2
  est <- sum(w * mid) / sum(w); se <- sqrt(1 / sum(w))
  c(est, se, est - z975 * se, est + z975 * se, 2 * pnorm(-abs(est / se)))
}

logistic_ref <- function(x) {
  K <- dim(x)[3]
  d <- data.frame(s = factor(rep(seq_len(K), each = 2)), t = factor(rep(c(1, 0), K), levels = c(0, 1)),
                  y = as.vector(x[, 1, ]), n = as.vector(x[, 1, ] + x[, 2, ]))
  d <- d[d$n > 0, ]
  ctl <- glm.control(epsilon = 1e-14, maxit = 200)
  f <- if (nlevels(droplevels(d$s)) > 1) suppressWarnings(glm(cbind(y, n - y) ~ factor(s) + t, binomial, data = d, control = ctl))
       else suppressWarnings(glm(cbind(y, n - y) ~ t, binomial, data = d, control = ctl))
  f0 <- if (nlevels(droplevels(d$s)) > 1) suppressWarnings(glm(cbind(y, n - y) ~ factor(s), binomial, data = d, control = ctl))
        else suppressWarnings(glm(cbind(y, n - y) ~ 1, binomial, data = d, control = ctl))
  cf <- coef(summary(f))["t1", ]
  lr <- deviance(f0) - deviance(f)
  c(exp(cf[1]), cf[2], exp(cf[1] - z975 * cf[2]), exp(cf[1] + z975 * cf[2]), cf[4], lr, pchisq(lr, 1, lower.tail = FALSE))
}

# Fisher: p-values from fisher.test; conditional MLE and limits re-derived with tight tolerances
# (fisher.test itself uses uniroot's default tolerance, about 1e-4).
fisher_ref <- function(t) {
  m <- matrix(c(t[1, 1], t[2, 1], t[1, 2], t[2, 2]), 2)  # fisher.test: OR = m[1,1] m[2,2] / (m[1,2] m[2,1])
  p2 <- fisher.test(m)$p.value; pg <- fisher.test(m, alternative = "greater")$p.value
  pl <- fisher.test(m, alternative = "less")$p.value
  x <- m[1, 1]; mm <- sum(m[, 1]); n <- sum(m[, 2]); k <- sum(m[1, ])
  lo <- max(0L, k - n); hi <- min(k, mm); support <- lo:hi
  logdc <- dhyper(support, mm, n, k, log = TRUE)
  dn <- function(ncp) { d <- logdc + log(ncp) * support; d <- exp(d - max(d)); d / sum(d) }
  mnh <- function(ncp) sum(support * dn(ncp))
  pn <- function(q, ncp, upper) { d <- dn(ncp); if (upper) sum(d[support >= q]) else sum(d[support <= q]) }
  root <- function(f) exp(uniroot(function(t) f(exp(t)), c(-30, 30), tol = 1e-14)$root)
  if (lo == hi) return(list(two_sided = p2, greater = pg, less = pl, or = c(NaN, 0, Inf)))  # no information
  est <- if (x == lo) 0 else if (x == hi) Inf else root(function(ncp) mnh(ncp) - x)
  cil <- if (x == lo) 0 else root(function(ncp) pn(x, ncp, TRUE) - 0.025)
  ciu <- if (x == hi) Inf else root(function(ncp) pn(x, ncp, FALSE) - 0.025)
  list(two_sided = p2, greater = pg, less = pl, or = c(est, cil, ciu))
}

# exact unconditional limits for the risk difference, brute force (score statistic, Chan-Zhang)
exact_uncond <- function(t) {
  x1 <- t[1, 1]; n1 <- sum(t[1, ]); x2 <- t[2, 1]; n2 <- sum(t[2, ]); d <- x1 / n1 - x2 / n2
  tabs <- expand.grid(i = 0:n1, j = 0:n2)
  score <- function(delta) {
    apply(tabs, 1, function(r) {
      p <- restricted(r[1], n1, r[2], n2, delta); v <- p[1] * (1 - p[1]) / n1 + p[2] * (1 - p[2]) / n2
      num <- r[1] / n1 - r[2] / n2 - delta
      if (v <= 1e-300) return(if (abs(num) < 1e-12) 0 else sign(num) * Inf); num / sqrt(v)
    })
  }
  maxp <- function(delta, ind) {
    lo <- max(0, -delta); hi <- min(1, 1 - delta)
    pr <- function(p2) sum(dbinom(tabs$i, n1, p2 + delta) * dbinom(tabs$j, n2, p2) * ind)
    g <- seq(lo, hi, length.out = 2001); v <- sapply(g, pr); b <- which.max(v)
    o <- optimize(pr, c(g[max(b - 1, 1)], g[min(b + 1, length(g))]), maximum = TRUE, tol = 1e-12)
    max(v[b], o$objective)
  }
  obs <- which(tabs$i == x1 & tabs$j == x2)
  # ties: scores from optimize() are accurate to about 1e-8, so tables within 1e-6 count as tied
  pu <- function(delta) { s <- score(delta); maxp(delta, s >= s[obs] - 1e-6 * max(1, abs(s[obs]))) }
  pl <- function(delta) { s <- score(delta); maxp(delta, s <= s[obs] + 1e-6 * max(1, abs(s[obs]))) }
  bis <- function(f, lo, hi, incr) {
    while (hi - lo > 1e-8) { mid <- (lo + hi) / 2; inside <- f(mid) > 0.025
      if (incr) { if (inside) hi <- mid else lo <- mid } else { if (inside) lo <- mid else hi <- mid } }
    (lo + hi) / 2 }
  lo <- if (x1 == 0 && x2 == n2) -1 else bis(pu, -1, d, TRUE)
  hi <- if (x1 == n1 && x2 == 0) 1 else bis(pl, d, 1, FALSE)
  c(d, lo, hi)
}

analyse_2x2xk <- function(x, name, extra = list()) {  # x: 2 x 2 x K in R layout
  out <- list(name = name, counts = to_krc(x))
  out$mh_test <- mh_tests(x)
  out$cmh_table <- gen_cmh(x)
  out$or_logit <- or_logit(x)
  out$rr_mh <- rr_mh(x)
  out$rr_logit <- rr_logit(x)
  out$breslow_day <- breslow_day_ref(x, out$mh_test$or_mh[1])
  out$rd_mh <- rd_mh_sato(x)
  out$rd_newcombe <- strat_newcombe(x)
  out$rd_mn <- strat_mn(x)
  out$rd_summary_score <- summary_score(x)
  out$logistic <- logistic_ref(x)
  c(out, extra)
}

analyse_2x2 <- function(t, name) {
  list(name = name, counts = t, rd = rd_single(t), fisher = fisher_ref(t), exact_rd = exact_uncond(t),
       wilson = rbind(wilson(t[1, 1], sum(t[1, ])), wilson(t[2, 1], sum(t[2, ]))),
       clopper_pearson = rbind(as.numeric(binom.test(t[1, 1], sum(t[1, ]))$conf.int),
                               as.numeric(binom.test(t[2, 1], sum(t[2, ]))$conf.int)))
}

# ---- SAS documentation examples ---------------------------------------------------------------------------
# Migraine (PROC FREQ Example "Cochran-Mantel-Haenszel Statistics"): Gender x Treatment x Response.
migraine <- array(c(16, 5, 11, 20, 12, 7, 16, 19), dim = c(2, 2, 2))
# Chinese smoking and lung cancer, 8 cities (SAS PROC FREQ CMH listing in Stokes-Davis-Koch style course notes).
smoking <- array(c(126, 35, 100, 61, 908, 497, 688, 807, 913, 336, 747, 598, 235, 58, 172, 121,
                   402, 121, 308, 215, 182, 72, 156, 98, 60, 11, 99, 43, 104, 21, 89, 36), dim = c(2, 2, 8))
sas2x2 <- list(
  analyse_2x2xk(migraine, "sas_migraine", list(published = list(cmh = 8.3052, cmh_p = 0.0040))),
  analyse_2x2xk(smoking, "sas_smoking_8_cities", list(published = list(
    cmh = 280.138, or_mh = 2.174, or_logit = c(2.173, 1.983, 2.382), rr_mh = 1.519,
    rr_logit = c(1.513, 1.436, 1.594), breslow_day = c(5.200, 7, 0.636)))))

# Hypnosis (PROC FREQ Example "Friedman's Chi-Square Test"): Subject strata x Emotion x SkinResponse.
hyp <- data.frame(subject = rep(1:8, each = 4), emotion = rep(c("fear", "joy", "sadness", "calmness"), 8),
  y = c(23.1, 22.7, 22.5, 22.6, 57.6, 53.2, 53.7, 53.1, 10.5, 9.7, 10.8, 8.3, 23.6, 19.6, 21.1, 21.6,
        11.9, 13.8, 13.7, 13.3, 54.6, 47.1, 39.2, 37.0, 21.0, 13.6, 13.7, 14.8, 20.3, 23.6, 16.3, 14.8))
hyp$emotion <- factor(hyp$emotion, levels = c("calmness", "fear", "joy", "sadness"))  # SAS sorts levels
hyp_tab <- table(hyp$emotion, factor(hyp$y), hyp$subject)
fr <- friedman.test(y ~ emotion | subject, data = hyp)
hypnosis <- list(name = "sas_hypnosis_friedman", counts = to_krc(unclass(hyp_tab)),
                 friedman = unname(c(fr$statistic, fr$parameter, fr$p.value)),
                 cmh_rank = gen_cmh(unclass(hyp_tab), "rank"))

# Arthritis (vcd): Treatment x Improved (None < Some < Marked) stratified by Sex; all score types.
data(Arthritis, package = "vcd")
art <- unclass(table(factor(Arthritis$Treatment, levels = c("Treated", "Placebo")), Arthritis$Improved,
                     Arthritis$Sex))
arthritis <- list(name = "arthritis_sex_strata", counts = to_krc(art))
for (kind in c("table", "rank", "ridit", "modridit")) arthritis[[paste0("cmh_", kind)]] <- gen_cmh(art, kind)

# ---- CDISC Pilot 01 CIBIC+ Week 24 -----------------------------------------------------------------------
cib <- read.csv(file.path(here, "cibic_week24.csv"), colClasses = c(SITEGR1 = "character"))
arms <- c("Xanomeline High Dose", "Xanomeline Low Dose", "Placebo")
cib_rxc <- unclass(table(factor(cib$TRTP, levels = arms), factor(cib$AVAL), factor(cib$SITEGR1)))
cibic <- list(name = "cdisc_pilot_cibic_w24", counts = to_krc(cib_rxc),
              strata = dimnames(cib_rxc)[[3]], columns = dimnames(cib_rxc)[[2]])
for (kind in c("table", "modridit")) cibic[[paste0("cmh_", kind)]] <- gen_cmh(cib_rxc, kind)
sub <- cib[cib$TRTP %in% c("Xanomeline High Dose", "Placebo"), ]
cib_2x2 <- unclass(table(factor(sub$TRTP, levels = c("Xanomeline High Dose", "Placebo")),
                         factor(ifelse(sub$AVAL <= 3, "improved", "not"), levels = c("improved", "not")),
                         factor(sub$SITEGR1)))
cibic_2x2 <- analyse_2x2xk(cib_2x2, "cdisc_pilot_cibic_w24_high_vs_placebo_improved",
                           list(strata = dimnames(cib_2x2)[[3]]))

# ---- random tables, including sparse and degenerate strata -----------------------------------------------
set.seed(20250308)
random <- list()
for (i in 1:12) {
  K <- sample(2:6, 1)
  x <- array(0, dim = c(2, 2, K))
  for (k in 1:K) {
    n1 <- sample(0:25, 1); n2 <- sample(0:25, 1)
    p1 <- runif(1, 0, 1); p2 <- runif(1, 0, 1)
    y1 <- rbinom(1, n1, p1); y2 <- rbinom(1, n2, p2)
    x[, , k] <- matrix(c(y1, y2, n1 - y1, n2 - y2), 2)
  }
  if (i %% 4 == 1) x[2, , 1] <- 0                        # one arm empty in a stratum
  if (i %% 4 == 2) x[, 1, 1] <- 0                        # no responders in a stratum
  if (i %% 4 == 3) x[, , 1] <- matrix(c(1, 0, 0, 0), 2)  # a single subject
  if (i %% 4 == 0) x[, 2, 1] <- 0                        # only responders in a stratum
  if (sum(x[1, , ]) == 0 || sum(x[2, , ]) == 0) x[, , K] <- matrix(c(3, 1, 2, 4), 2)
  random[[i]] <- tryCatch(analyse_2x2xk(x, paste0("random_", i)), error = function(e) {
    message("random_", i, ": ", conditionMessage(e)); NULL })
}
random <- Filter(Negate(is.null), random)

random_rxc <- list()
for (i in 1:6) {
  R <- sample(2:4, 1); C <- sample(2:5, 1); K <- sample(1:5, 1)
  x <- array(rpois(R * C * K, runif(1, 0.5, 6)), dim = c(R, C, K))
  if (i == 3) x[, 1, ] <- 0   # a response category never observed (singular covariance)
  entry <- list(name = paste0("random_rxc_", i), counts = to_krc(x))
  for (kind in c("table", "rank", "ridit", "modridit")) entry[[paste0("cmh_", kind)]] <- gen_cmh(x, kind)
  random_rxc[[i]] <- entry
}

singles <- list(analyse_2x2(matrix(c(7, 2, 3, 8), 2), "small_7_3_2_8"),
                analyse_2x2(matrix(c(0, 4, 10, 6), 2), "zero_responders_trt"),
                analyse_2x2(matrix(c(12, 12, 0, 0), 2), "all_responders"),
                analyse_2x2(matrix(c(15, 9, 5, 11), 2), "moderate_15_5_9_11"))

versions <- list(R = paste(R.version$major, R.version$minor, sep = "."),
                 jsonlite = as.character(packageVersion("jsonlite")),
                 vcdExtra = as.character(packageVersion("vcdExtra")), vcd = as.character(packageVersion("vcd")))
out <- list(generated_by = "validation/categorical/reference.R", versions = versions,
            stratified_2x2 = c(sas2x2, list(cibic_2x2), random), rxc = c(list(hypnosis, arthritis, cibic), random_rxc),
            single_2x2 = singles)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, na = "string", pretty = FALSE),
           file.path(here, "reference.json"))
cat("wrote", file.path(here, "reference.json"), "\n")
