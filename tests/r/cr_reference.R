# Reference values for recurrence.models.cuminc (Aalen-Johansen via survfit with a multi-state
# factor status) and recurrence.models.finegray (cmprsk::crr).
# Run from the repository root: Rscript tests/r/cr_reference.R -> tests/r/ref/cr_*.csv
suppressPackageStartupMessages({library(survival); library(cmprsk)})
options(digits = 17)
aj <- list(); fg <- list()
for (f in c("cr", "cr_ties")) {
  d <- read.csv(file.path("tests/r/data", paste0(f, ".csv")))
  d$state <- factor(d$status, 0:2, c("censor", "cause1", "cause2"))
  fit <- survfit(Surv(time, state) ~ 1, data = d)
  for (k in 2:3) {
    aj[[length(aj) + 1]] <- data.frame(dataset = f, cause = k - 1, time = fit$time,
      n_risk = fit$n.risk[, 1], n_event = fit$n.event[, k], estimate = fit$pstate[, k],
      std_err = fit$std.err[, k],
      lower = fit$lower[, k], upper = fit$upper[, k])
  }
  for (cause in 1:2) {
    m <- crr(d$time, d$status, cov1 = cbind(x1 = d$x1, x2 = d$x2), failcode = cause,
             cencode = 0, gtol = 1e-12, maxiter = 100)
    fg[[length(fg) + 1]] <- data.frame(dataset = f, cause = cause, term = names(m$coef),
      estimate = unname(m$coef), std_err = sqrt(diag(m$var)), loglik = m$loglik)
    if (f == "cr" && cause == 1) {
      pr <- predict(m, cov1 = rbind(c(0, 0), c(1, 1)))
      write.csv(data.frame(time = pr[, 1], p00 = pr[, 2], p11 = pr[, 3]),
                "tests/r/ref/cr_finegray_predict.csv", row.names = FALSE)
    }
  }
}
# Case weights 1, 1.5, 2, 2.5 (survfit's IJ variance with weights).
d <- read.csv("tests/r/data/cr.csv")
d$state <- factor(d$status, 0:2, c("censor", "cause1", "cause2"))
d$w <- 1 + (seq_len(nrow(d)) %% 4) / 2
fit <- survfit(Surv(time, state) ~ 1, data = d, weights = w)
for (k in 2:3) {
  aj[[length(aj) + 1]] <- data.frame(dataset = "cr_weighted", cause = k - 1, time = fit$time,
    n_risk = fit$n.risk[, 1], n_event = fit$n.event[, k], estimate = fit$pstate[, k],
    std_err = fit$std.err[, k],
    lower = fit$lower[, k], upper = fit$upper[, k])
}
write.csv(do.call(rbind, aj), "tests/r/ref/cr_aalen_johansen.csv", row.names = FALSE)
write.csv(do.call(rbind, fg), "tests/r/ref/cr_finegray.csv", row.names = FALSE)
cat("survival", format(packageVersion("survival")), "cmprsk", format(packageVersion("cmprsk")), "\n")
