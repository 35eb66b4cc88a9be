# Reference values for the Cox tests (tests/models/cox/), from R survival::coxph.
# Run from the repository root after `python tests/r/make_cox_datasets.py`:
#   Rscript tests/r/cox_reference.R
# Writes tests/r/ref/cox_*.csv (committed, so the tests need no R).
suppressPackageStartupMessages(library(survival))
options(digits = 17)
dat <- function(f) read.csv(file.path("tests/r/data", f))
out <- function(df, f) write.csv(df, file.path("tests/r/ref", f), row.names = FALSE)

right <- dat("cox_right.csv")
untied <- dat("cox_untied.csv")
rec <- dat("cox_recurrent.csv")

# One row per (config, ties, term): coef, model SE, robust SE (NA without robust), means;
# summary per (config, ties): loglik at 0 and at the estimate, events, rows, iterations.
configs <- list(
  right_basic = list(d = right, f = Surv(time, status) ~ x1 + x2 + x3),
  right_strata = list(d = right, f = Surv(time, status) ~ x1 + x2 + x3 + strata(s)),
  right_weights = list(d = right, f = Surv(time, status) ~ x1 + x2 + x3, w = "w"),
  right_cluster = list(d = right, f = Surv(time, status) ~ x1 + x2 + x3, cl = "la"),
  right_robust = list(d = right, f = Surv(time, status) ~ x1 + x2 + x3, robust = TRUE),
  right_all = list(d = right, f = Surv(time, status) ~ x1 + x2 + x3 + strata(s), w = "w", cl = "la"),
  untied = list(d = untied, f = Surv(time, status) ~ x1 + x2 + x3),
  untied_cluster = list(d = untied, f = Surv(time, status) ~ x1 + x2 + x3, cl = "la"),
  ag = list(d = rec, f = Surv(start, stop, event) ~ x1 + x2 + tv, cl = "id"),
  ag_la = list(d = rec, f = Surv(start, stop, event) ~ x1 + x2 + tv, cl = "la"),
  ag_weights_strata = list(d = rec, f = Surv(start, stop, event) ~ x1 + x2 + tv + strata(x2), cl = "la",
                           w = "x1pos"),
  pwp_total = list(d = rec, f = Surv(start, stop, event) ~ x1 + x2 + tv + strata(enum), cl = "id"),
  pwp_gap = list(d = rec, f = Surv(gstart, gstop, event) ~ x1 + x2 + tv + strata(enum), cl = "id")
)
rec$x1pos <- round(exp(rec$x1 / 2), 6)
configs$ag_weights_strata$d <- rec
# strata(x2) with x2 also a covariate would be singular; use tv-free strata instead
configs$ag_weights_strata$f <- Surv(start, stop, event) ~ x1 + tv + strata(x2)

coef_rows <- list()
fit_rows <- list()
fits <- list()
for (name in names(configs)) {
  cfg <- configs[[name]]
  for (ties in c("efron", "breslow")) {
    d <- cfg$d
    args <- list(formula = cfg$f, data = d, ties = ties)
    if (!is.null(cfg$w)) args$weights <- d[[cfg$w]]
    if (!is.null(cfg$cl)) args$cluster <- d[[cfg$cl]]
    # R turns on the robust variance by itself for non-integer weights; say it explicitly
    if (!is.null(cfg$robust)) args$robust <- TRUE else if (is.null(cfg$cl)) args$robust <- FALSE
    fit <- do.call(coxph, args)
    fits[[paste(name, ties)]] <- fit
    robust <- !is.null(fit$naive.var)
    se <- sqrt(diag(if (robust) fit$naive.var else fit$var))
    rse <- if (robust) sqrt(diag(fit$var)) else rep(NA, length(se))
    coef_rows[[length(coef_rows) + 1]] <- data.frame(
      config = name, ties = ties, term = names(coef(fit)), coef = unname(coef(fit)),
      se = unname(se), robust_se = unname(rse), mean = unname(fit$means))
    fit_rows[[length(fit_rows) + 1]] <- data.frame(
      config = name, ties = ties, loglik0 = fit$loglik[1], loglik = fit$loglik[2],
      nevent = fit$nevent, n = fit$n, iter = fit$iter, score = fit$score)
  }
}
out(do.call(rbind, coef_rows), "cox_coef.csv")
out(do.call(rbind, fit_rows), "cox_fit.csv")

# cox.zph (survival >= 3.0 score-test version) for three fits and three transforms.
zph_rows <- list()
for (name in c("right_basic", "right_strata", "ag", "pwp_gap")) {
  for (ties in c("efron", "breslow")) {
    for (tr in c("km", "identity", "rank")) {
      z <- cox.zph(fits[[paste(name, ties)]], transform = tr)
      zph_rows[[length(zph_rows) + 1]] <- data.frame(
        config = name, ties = ties, transform = tr, term = rownames(z$table),
        chisq = z$table[, "chisq"], df = z$table[, "df"], p = z$table[, "p"])
    }
  }
}
out(do.call(rbind, zph_rows), "cox_zph.csv")

# Concordance (Harrell's C as survival::concordance on the fit) and its standard error.
conc_rows <- list()
for (name in c("right_basic", "right_strata", "right_weights", "untied", "ag", "pwp_total")) {
  fit <- fits[[paste(name, "efron")]]
  cc <- concordance(fit)
  cnt <- if (is.matrix(cc$count)) colSums(cc$count) else cc$count  # stratified: per-stratum rows
  conc_rows[[length(conc_rows) + 1]] <- data.frame(
    config = name, concordance = cc$concordance, std = sqrt(cc$var), cstd = sqrt(cc$cvar), tied_xy = unname(cnt[5]),
    concordant = unname(cnt["concordant"]), discordant = unname(cnt["discordant"]),
    tied_x = unname(cnt["tied.x"]), tied_y = unname(cnt["tied.y"]))
}
out(do.call(rbind, conc_rows), "cox_concordance.csv")

# Predicted survival for new covariates (survfit.coxph) and linear predictors.
newd <- data.frame(x1 = c(0, 1.5, -1), x2 = c(0, 1, 1), x3 = c(8, 2, 15), s = c(0, 1, 2))
surv_rows <- list()
for (name in c("right_basic", "right_strata", "right_weights")) {
  for (ties in c("efron", "breslow")) {
    fit <- fits[[paste(name, ties)]]
    lp <- predict(fit, newdata = newd, type = "lp", reference = "sample")
    for (i in seq_len(nrow(newd))) {
      sf <- survfit(fit, newdata = newd[i, , drop = FALSE])
      tt <- c(30, 100, 250, 500, 800)
      sm <- summary(sf, times = tt, extend = TRUE)
      surv_rows[[length(surv_rows) + 1]] <- data.frame(
        config = name, ties = ties, row = i, lp = lp[[i]], time = tt, surv = sm$surv)
    }
  }
}
out(do.call(rbind, surv_rows), "cox_survfit.csv")

# Shared gamma frailty (penalised likelihood, theta by the "em" marginal-likelihood search).
# The inner Newton loop runs to eps = 1e-12 (default 1e-9, which left R's coefficients 1.5e-6
# to 2.3e-5 from the penalised optimum) with toler.chol below it, as coxph.control asks.
frail_control <- coxph.control(eps = 1e-12, toler.chol = 1e-14, iter.max = 100)
frail <- dat("cox_frailty.csv")
fr_rows <- list()
hist_rows <- list()
for (ties in c("efron", "breslow")) {
  fit <- coxph(Surv(time, status) ~ x1 + x2 + frailty(family, distribution = "gamma"),
               data = frail, ties = ties, control = frail_control)
  h <- fit$history[[1]]$history
  fr_rows[[length(fr_rows) + 1]] <- data.frame(
    ties = ties, term = c("x1", "x2"), coef = unname(coef(fit)),
    se = unname(sqrt(diag(fit$var))[1:2]), theta = h[nrow(h), "theta"], loglik = fit$loglik[2],
    outer = fit$iter[1])
  hist_rows[[length(hist_rows) + 1]] <- data.frame(
    ties = ties, theta = h[, "theta"], ppl = h[, "loglik"], c_loglik = h[, "c.loglik"])
}
# Recurrent events with a shared frailty per child (counting-process data, 300 children).
for (ties in c("efron", "breslow")) {
  fit <- coxph(Surv(start, stop, event) ~ x1 + x2 + tv + frailty(id, distribution = "gamma"),
               data = rec, ties = ties, control = frail_control)
  h <- fit$history[[1]]$history
  fr_rows[[length(fr_rows) + 1]] <- data.frame(
    ties = paste0("ag_", ties), term = c("x1", "x2", "tv"), coef = unname(coef(fit)),
    se = unname(sqrt(diag(fit$var))[1:3]), theta = h[nrow(h), "theta"],
    loglik = fit$loglik[2], outer = fit$iter[1])
  hist_rows[[length(hist_rows) + 1]] <- data.frame(
    ties = paste0("ag_", ties), theta = h[, "theta"], ppl = h[, "loglik"],
    c_loglik = h[, "c.loglik"])
}
out(do.call(rbind, fr_rows), "cox_frailty.csv")
out(do.call(rbind, hist_rows), "cox_frailty_history.csv")
