# Reference values for recurrence.models.km (Kaplan-Meier, survival::survfit defaults:
# Greenwood variance, log-transformed 95% CI). Run from the repository root:
#   Rscript tests/r/km_reference.R -> tests/r/ref/km_reference.csv
suppressPackageStartupMessages(library(survival))
options(digits = 17)
d <- read.csv("tests/r/data/km_ties.csv")
one <- function(fit, group) data.frame(group = group, time = fit$time, n_risk = fit$n.risk,
  n_event = fit$n.event, n_censor = fit$n.censor, surv = fit$surv, std_err = fit$std.err,
  lower = fit$lower, upper = fit$upper)
all <- one(survfit(Surv(time, status) ~ 1, data = d), "all")
g0 <- one(survfit(Surv(time, status) ~ 1, data = d[d$group == 0, ]), "0")
g1 <- one(survfit(Surv(time, status) ~ 1, data = d[d$group == 1, ]), "1")
pl <- survfit(Surv(time, status) ~ 1, data = d, conf.type = "plain")
ll <- survfit(Surv(time, status) ~ 1, data = d, conf.type = "log-log")
d$w <- 1 + (seq_len(nrow(d)) %% 4) / 2  # case weights 1, 1.5, 2, 2.5
wt <- survfit(Surv(time, status) ~ 1, data = d, weights = w)
# Non-integer weights and a curve that reaches 0 (every row at the last time has an event):
# the IJ variance there is exactly 0 and the plain limits are 0.
z <- d
z$status[z$time == max(z$time)] <- 1
wz <- survfit(Surv(time, status) ~ 1, data = z, weights = w, conf.type = "plain")
res <- rbind(all, g0, g1, one(pl, "plain"), one(ll, "log-log"), one(wt, "weighted"),
             one(wz, "weighted_to_zero"))
write.csv(res, "tests/r/ref/km_reference.csv", row.names = FALSE)
# Medians, including curves that are exactly 0.5 over an interval (R takes its midpoint).
cases <- list(a = list(t = c(1, 2, 3, 4), e = c(1, 1, 1, 1)),
              b = list(t = c(1, 2, 3, 4), e = c(1, 1, 0, 0)),
              c = list(t = c(1, 2, 3, 4, 5, 6), e = c(1, 1, 1, 0, 1, 1)),
              d = list(t = c(1, 2, 2, 3, 4), e = c(1, 1, 1, 1, 1)),
              e = list(t = c(1, 2, 5, 9), e = c(1, 1, 0, 1)),
              f = list(t = c(1, 2, 3, 3, 4, 4), e = c(1, 1, 1, 0, 1, 0)),
              g = list(t = c(1, 2, 3), e = c(1, 0, 0)))
med <- do.call(rbind, lapply(names(cases), function(k) {
  x <- cases[[k]]
  q <- unname(quantile(survfit(Surv(x$t, x$e) ~ 1), 0.5)$quantile)
  data.frame(case = k, time = paste(x$t, collapse = " "), event = paste(x$e, collapse = " "),
             median = q)
}))
write.csv(med, "tests/r/ref/km_median.csv", row.names = FALSE)
cat("survival", format(packageVersion("survival")), "\n")
