# Reference values for recurrence.models.logistic, firth and margins.
# Run from the repository root after tests/r/make_glm_datasets.py:
#   Rscript tests/r/glm_reference.R
# Writes tests/r/ref/glm_*.csv in long form: case, term, quantity, value.
suppressPackageStartupMessages({
  library(sandwich)
  library(clubSandwich)
  library(brglm2)
})
options(digits = 17)
dat <- function(f) read.csv(file.path("tests/r/data", f), colClasses = c(la_code = "character"))
long <- function(case, terms, quantity, value) {
  data.frame(case = case, term = terms, quantity = quantity, value = unname(value))
}
ctl <- glm.control(epsilon = 1e-14, maxit = 100)
out <- list()

# --- LA-clustered design ----------------------------------------------------------------------
la <- dat("glm_la.csv")
f <- glm(y ~ age + female + n_pp, family = binomial, data = la, control = ctl)
tn <- names(coef(f))
se <- function(v) sqrt(diag(v))
out[[length(out) + 1]] <- long("la", tn, "estimate", coef(f))
out[[length(out) + 1]] <- long("la", tn, "se_model", se(vcov(f)))
out[[length(out) + 1]] <- long("la", tn, "se_hc0", se(vcovHC(f, type = "HC0")))
out[[length(out) + 1]] <- long("la", tn, "se_cr1_la",
  se(vcovCL(f, cluster = ~la_code, type = "HC1", cadjust = TRUE)))
out[[length(out) + 1]] <- long("la", tn, "se_cr1_family",
  se(vcovCL(f, cluster = ~family_id, type = "HC1", cadjust = TRUE)))
out[[length(out) + 1]] <- long("la", tn, "se_cr2_la",
  se(as.matrix(vcovCR(f, cluster = la$la_code, type = "CR2"))))
out[[length(out) + 1]] <- long("la", "(all)", "loglik", as.numeric(logLik(f)))

# Weighted fit (prior weights 1..3).
la$w <- 1 + (seq_len(nrow(la)) %% 3)
fw <- glm(y ~ age + female + n_pp, family = binomial, data = la, weights = w, control = ctl)
out[[length(out) + 1]] <- long("la_weighted", tn, "estimate", coef(fw))
out[[length(out) + 1]] <- long("la_weighted", tn, "se_model", se(vcov(fw)))

# Average marginal effects and standardised risks, delta method by central differences.
ame <- function(b) {
  f2 <- f; f2$coefficients <- b
  p <- predict(f2, newdata = la, type = "response")  # newdata: recompute from b
  d1 <- la; d1$female <- 1; d0 <- la; d0$female <- 0
  r1 <- mean(predict(f2, newdata = d1, type = "response"))
  r0 <- mean(predict(f2, newdata = d0, type = "response"))
  c(age = mean(p * (1 - p)) * b[["age"]],
    female = r1 - r0,
    n_pp = mean(p * (1 - p)) * b[["n_pp"]],
    risk1 = r1, risk0 = r0, rd = r1 - r0, log_rr = log(r1 / r0))
}
b <- coef(f)
g0 <- ame(b)
J <- sapply(seq_along(b), function(k) {
  h <- 1e-6 * max(1, abs(b[k])); bp <- b; bm <- b; bp[k] <- b[k] + h; bm[k] <- b[k] - h
  (ame(bp) - ame(bm)) / (2 * h)
})
V <- J %*% vcov(f) %*% t(J)
out[[length(out) + 1]] <- long("la_margins", names(g0), "estimate", g0)
out[[length(out) + 1]] <- long("la_margins", names(g0), "se", sqrt(diag(V)))

# The same margins for a fit with an offset, off = (age - 10) / 20, which every predicted risk
# includes: logit p = x'b + off. Predictions are computed by hand from the design matrix.
la$off <- (la$age - 10) / 20
fo <- glm(y ~ age + female + n_pp, family = binomial, data = la, offset = off, control = ctl)
out[[length(out) + 1]] <- long("la_offset", tn, "estimate", coef(fo))
out[[length(out) + 1]] <- long("la_offset", tn, "se_model", se(vcov(fo)))
Xo <- model.matrix(~ age + female + n_pp, data = la)
X1 <- Xo; X1[, "female"] <- 1
X0 <- Xo; X0[, "female"] <- 0
ame_off <- function(b) {
  p <- plogis(drop(Xo %*% b) + la$off)
  r1 <- mean(plogis(drop(X1 %*% b) + la$off))
  r0 <- mean(plogis(drop(X0 %*% b) + la$off))
  c(age = mean(p * (1 - p)) * b[["age"]], female = r1 - r0,
    n_pp = mean(p * (1 - p)) * b[["n_pp"]],
    risk1 = r1, risk0 = r0, rd = r1 - r0, log_rr = log(r1 / r0))
}
bo <- coef(fo)
go <- ame_off(bo)
Jo <- sapply(seq_along(bo), function(k) {
  h <- 1e-6 * max(1, abs(bo[k])); bp <- bo; bm <- bo; bp[k] <- bo[k] + h; bm[k] <- bo[k] - h
  (ame_off(bp) - ame_off(bm)) / (2 * h)
})
Vo <- Jo %*% vcov(fo) %*% t(Jo)
out[[length(out) + 1]] <- long("la_margins_offset", names(go), "estimate", go)
out[[length(out) + 1]] <- long("la_margins_offset", names(go), "se", sqrt(diag(Vo)))

# --- Few clusters -----------------------------------------------------------------------------
sm <- dat("glm_small.csv")
fs <- glm(y ~ x1 + x2, family = binomial, data = sm, control = ctl)
tn <- names(coef(fs))
out[[length(out) + 1]] <- long("small", tn, "estimate", coef(fs))
out[[length(out) + 1]] <- long("small", tn, "se_model", se(vcov(fs)))
out[[length(out) + 1]] <- long("small", tn, "se_cr1",
  se(vcovCL(fs, cluster = ~cluster, type = "HC1", cadjust = TRUE)))
out[[length(out) + 1]] <- long("small", tn, "se_cr2",
  se(as.matrix(vcovCR(fs, cluster = sm$cluster, type = "CR2"))))

# --- Firth (brglm2 AS_mean) with profile penalised-likelihood intervals -----------------------
pen_loglik <- function(beta, X, y) {
  eta <- drop(X %*% beta); p <- plogis(eta)
  W <- p * (1 - p)
  sum(y * plogis(eta, log.p = TRUE) + (1 - y) * plogis(-eta, log.p = TRUE)) +
    0.5 * determinant(crossprod(X * sqrt(W)), logarithm = TRUE)$modulus[1]
}
profile_ci <- function(fit, X, y, level = 0.95) {
  bhat <- coef(fit); lmax <- pen_loglik(bhat, X, y); q <- qchisq(level, 1)
  se <- sqrt(diag(vcov(fit)))
  prof <- function(j, bj) {
    obj <- function(b) { bb <- bhat; bb[j] <- bj; bb[-j] <- b; -pen_loglik(bb, X, y) }
    o <- optim(bhat[-j], obj, method = "BFGS", control = list(reltol = 1e-15, maxit = 10000))
    o <- optim(o$par, obj, method = "Nelder-Mead", control = list(reltol = 1e-15, maxit = 20000))
    o <- optim(o$par, obj, method = "BFGS", control = list(reltol = 1e-15, maxit = 10000))
    2 * (lmax + o$value) - q
  }
  t(sapply(seq_along(bhat), function(j) {
    lo <- uniroot(function(v) prof(j, v), c(bhat[j] - 10 * se[j], bhat[j]),
                  tol = 1e-11, extendInt = "downX")$root
    hi <- uniroot(function(v) prof(j, v), c(bhat[j], bhat[j] + 10 * se[j]),
                  tol = 1e-11, extendInt = "upX")$root
    c(lo, hi)
  }))
}
for (case in c("sep", "sparse")) {
  d <- dat(paste0("glm_", case, ".csv"))
  form <- if (case == "sep") y ~ x + z else y ~ a + b
  fb <- glm(form, family = binomial, data = d, method = "brglm_fit",
            type = "AS_mean", control = brglmControl(epsilon = 1e-14, maxit = 1000))
  X <- model.matrix(fb); tn <- names(coef(fb))
  ci <- profile_ci(fb, X, d$y)
  out[[length(out) + 1]] <- long(paste0("firth_", case), tn, "estimate", coef(fb))
  out[[length(out) + 1]] <- long(paste0("firth_", case), tn, "se", se(vcov(fb)))
  out[[length(out) + 1]] <- long(paste0("firth_", case), tn, "ci_lower", ci[, 1])
  out[[length(out) + 1]] <- long(paste0("firth_", case), tn, "ci_upper", ci[, 2])
}

# Firth with prior weights 1..3.
d <- dat("glm_sparse.csv")
d$w <- 1 + (seq_len(nrow(d)) %% 3)
fb <- glm(y ~ a + b, family = binomial, data = d, weights = w, method = "brglm_fit",
          type = "AS_mean", control = brglmControl(epsilon = 1e-14, maxit = 1000))
out[[length(out) + 1]] <- long("firth_sparse_weighted", names(coef(fb)), "estimate", coef(fb))
out[[length(out) + 1]] <- long("firth_sparse_weighted", names(coef(fb)), "se", se(vcov(fb)))

res <- do.call(rbind, out)
write.csv(res, "tests/r/ref/glm_reference.csv", row.names = FALSE)
cat(R.version.string, "\n", "sandwich", format(packageVersion("sandwich")), "clubSandwich",
    format(packageVersion("clubSandwich")), "brglm2", format(packageVersion("brglm2")), "\n")
