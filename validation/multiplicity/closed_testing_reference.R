# Reference values for trialkit.multiplicity, computed in R independently of the Python code.
#
# Rerun (from the repository root):
#   Rscript validation/multiplicity/closed_testing_reference.R
# Writes validation/multiplicity/closed_testing_reference.json next to this script.
#
# Contents
#  1. "closure": random graphs and p-value vectors (fixed seed, inputs saved), tested by full closed testing written
#     here from the definitions: intersection weights by removing the hypotheses outside J with the update rule of
#     Bretz et al. (2009, Algorithm 1) in a random order; local weighted Bonferroni, weighted Simes and weighted
#     parametric tests (Bretz et al. 2011, Biometrical Journal 53:894-913), the parametric probabilities by
#     mvtnorm::pmvnorm (Miwa algorithm, exact to ~1e-12 in 2-3 dimensions).
#  2. "dunnett": multcomp::glht on a parm() object (normal, df = 0; GenzBretz abseps 1e-9) for two and three doses,
#     one-sided; single-step and step-down ("free") adjusted p-values. A Holm graph tested with the parametric
#     method and the Dunnett correlation must reproduce the step-down values (closed Dunnett test).
#  3. "bvn": bivariate normal upper orthant probabilities P(X > h, Y > k) from mvtnorm::pmvnorm (Miwa).
suppressPackageStartupMessages({
  library(jsonlite)
  library(mvtnorm)
  library(multcomp)
})

here <- tryCatch(dirname(normalizePath(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)))),
                 error = function(e) "validation/multiplicity")
set.seed(20240611)

remove_node <- function(w, G, j) {
  m <- length(w)
  w2 <- w + w[j] * G[j, ]
  w2[j] <- 0
  G2 <- matrix(0, m, m)
  for (l in seq_len(m)) for (k in seq_len(m)) {
    if (l == k || l == j || k == j) next
    d <- 1 - G[l, j] * G[j, l]
    G2[l, k] <- if (d > 0) (G[l, k] + G[l, j] * G[j, k]) / d else 0
  }
  list(w = w2, G = G2)
}

intersection_weights <- function(w, G, J) {
  out <- setdiff(seq_along(w), J)
  out <- out[sample.int(length(out))]  # any removal order gives the same weights
  for (j in out) {
    r <- remove_node(w, G, j); w <- r$w; G <- r$G
  }
  w
}

mvn_any <- function(z, R) {
  # P(any Z_i > z_i) = 1 - P(all Z_i <= z_i)
  if (length(z) == 1) return(pnorm(z, lower.tail = FALSE))
  1 - as.numeric(pmvnorm(lower = rep(-Inf, length(z)), upper = z, corr = R, algorithm = Miwa(steps = 4096)))
}

local_p <- function(p, w, J, method, groups, R) {
  q <- Inf
  for (g in groups) {
    h <- intersect(g, J)
    h <- h[w[h] > 0]
    if (length(h) == 0) next
    if (method == "bonferroni") {
      qh <- min(p[h] / w[h])
    } else if (method == "simes") {
      qh <- min(sapply(h, function(i) p[i] / sum(w[h][p[h] <= p[i]])))
    } else {
      t <- min(p[h] / w[h])
      z <- qnorm(pmin(w[h] * t, 1), lower.tail = FALSE)
      qh <- mvn_any(z, R[h, h, drop = FALSE]) / sum(w[h])
    }
    q <- min(q, qh)
  }
  min(q, 1)
}

closed_adjusted <- function(p, w, G, method, groups, R) {
  m <- length(p)
  adj <- rep(0, m)
  for (mask in 1:(2^m - 1)) {
    J <- which(bitwAnd(mask, 2^(0:(m - 1))) > 0)
    wJ <- intersection_weights(w, G, J)
    q <- local_p(p, wJ, J, method, groups, R)
    adj[J] <- pmax(adj[J], q)
  }
  pmin(adj, 1)
}

random_graph <- function(m) {
  w <- rexp(m) * rbinom(m, 1, 0.8)
  if (sum(w) == 0) w[1] <- 1
  w <- w / sum(w) * sample(c(1, 1, runif(1, 0.5, 1)), 1)
  G <- matrix(rexp(m * m) * rbinom(m * m, 1, 0.7), m, m)
  diag(G) <- 0
  for (i in seq_len(m)) {
    s <- sum(G[i, ])
    if (s > 0) G[i, ] <- G[i, ] / s * sample(c(1, 1, runif(1, 0.3, 1)), 1)
  }
  list(w = w, G = G)
}

cases <- list()
for (k in 1:60) {
  m <- sample(2:5, 1)
  gr <- random_graph(m)
  p <- signif(runif(m)^3 * 0.1, 6)
  # parametric: pairs (1,2) and (3,4) correlated, the rest alone
  R <- diag(m)
  groups <- as.list(seq_len(m))
  if (m >= 2) { rho <- round(runif(1, -0.3, 0.9), 3); R[1, 2] <- R[2, 1] <- rho; groups <- c(list(1:2), as.list(seq_len(m))[-(1:2)]) }
  if (m >= 4) { rho2 <- round(runif(1, 0, 0.9), 3); R[3, 4] <- R[4, 3] <- rho2; groups <- c(list(1:2, 3:4), as.list(seq_len(m))[-(1:4)]) }
  if (m == 5 && k %% 3 == 0) {  # one trivariate group
    R[1:3, 1:3] <- 0.5; diag(R) <- 1; R[4, 5] <- R[5, 4] <- 0.3
    R[3, 4] <- R[4, 3] <- 0
    groups <- list(1:3, 4:5)
  }
  Rout <- R
  Rout[] <- NA
  for (g in groups) Rout[g, g] <- R[g, g]
  cases[[k]] <- list(
    weights = gr$w, transitions = gr$G, pvalues = p,
    correlation = Rout,
    groups = lapply(groups, function(g) g - 1),
    bonferroni = closed_adjusted(p, gr$w, gr$G, "bonferroni", list(seq_len(m)), R),
    simes = closed_adjusted(p, gr$w, gr$G, "simes", list(seq_len(m)), R),
    parametric = closed_adjusted(p, gr$w, gr$G, "parametric", groups, R)
  )
}

# 2. Dunnett via multcomp (normal: parm() with df = 0), one-sided "greater"
dunnett <- list()
for (k in 1:6) {
  ndose <- if (k <= 3) 2 else 3
  n <- c(100, sample(c(80, 100, 120), ndose, replace = TRUE))  # placebo first
  est <- rnorm(ndose, 0.25, 0.12)
  sd <- 1
  se <- sd * sqrt(1 / n[-1] + 1 / n[1])
  V <- matrix(sd^2 / n[1], ndose, ndose)
  diag(V) <- se^2
  names(est) <- paste0("D", seq_len(ndose))
  dimnames(V) <- list(names(est), names(est))
  pm <- parm(est, V, df = 0)
  K <- diag(ndose); rownames(K) <- names(est)
  g <- glht(pm, linfct = K, alternative = "greater")
  ss <- summary(g, test = adjusted("single-step", algorithm = GenzBretz(maxpts = 5e6, abseps = 1e-9, releps = 0)))$test
  fr <- summary(g, test = adjusted("free", algorithm = GenzBretz(maxpts = 5e6, abseps = 1e-9, releps = 0)))$test
  z <- est / se
  dunnett[[k]] <- list(
    z = unname(z), pvalues = unname(pnorm(z, lower.tail = FALSE)), correlation = unname(cov2cor(V)),
    single_step = unname(as.numeric(ss$pvalues)), free = unname(as.numeric(fr$pvalues)),
    n = n
  )
}

# 3. bivariate normal upper orthants
bvn <- list()
for (k in 1:40) {
  r <- round(runif(1, -0.98, 0.98), 3)
  h <- round(rnorm(1, 1, 1.5), 4); kk <- round(rnorm(1, 1, 1.5), 4)
  pr <- as.numeric(pmvnorm(lower = c(h, kk), upper = c(Inf, Inf), corr = matrix(c(1, r, r, 1), 2),
                           algorithm = Miwa(steps = 4096)))
  bvn[[k]] <- list(h = h, k = kk, r = r, p = pr)
}

out <- list(
  generated_by = "validation/multiplicity/closed_testing_reference.R",
  rerun = "Rscript validation/multiplicity/closed_testing_reference.R",
  r_version = R.version.string,
  packages = list(mvtnorm = as.character(packageVersion("mvtnorm")),
                  multcomp = as.character(packageVersion("multcomp")),
                  jsonlite = as.character(packageVersion("jsonlite"))),
  seed = 20240611,
  note = "indices in groups are 0-based; correlation null = unknown",
  closure = cases, dunnett = dunnett, bvn = bvn
)
write_json(out, file.path(here, "closed_testing_reference.json"), digits = NA, auto_unbox = TRUE, pretty = TRUE, na = "null")
cat("wrote", file.path(here, "closed_testing_reference.json"), "\n")
