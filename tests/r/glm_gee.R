# Reference values for recurrence.models.gee (GEE logistic, clusters = LA), from geepack.
# Run from the repository root: Rscript tests/r/glm_gee.R -> tests/r/ref/glm_gee.csv
#
# Two sources per working correlation:
#   "geeglm"    geepack::geeglm(scale.fix = TRUE), as most users call it. geeglm does not pass
#               scale.value on: geese.fit starts the scale at the mean squared Pearson residual
#               of the initial glm fit (gamma below, e.g. 0.99927) and scale.fix holds it there,
#               so the exchangeable alpha is divided by that gamma, not by 1.
#   "geese_gm1" geepack:::geese.fit with gm = 1: the same estimating equations with the
#               binomial scale held at exactly 1, which is what recurrence.models.gee fits.
suppressPackageStartupMessages(library(geepack))
options(digits = 17)
la <- read.csv("tests/r/data/glm_la.csv", colClasses = c(la_code = "character"))
la <- la[order(la$la_code), ]  # geepack needs each cluster's rows contiguous
ctl <- geese.control(epsilon = 1e-12, maxit = 100)
X <- model.matrix(~ age + female + n_pp, data = la)
out <- list()
for (cs in c("independence", "exchangeable")) {
  m <- geeglm(y ~ age + female + n_pp, id = factor(la_code), data = la, family = binomial,
              corstr = cs, scale.fix = TRUE, control = ctl)
  s <- summary(m)$coefficients
  out[[length(out) + 1]] <- data.frame(source = "geeglm", corstr = cs, term = rownames(s),
    estimate = s[, "Estimate"], std_err = s[, "Std.err"],
    alpha = if (cs == "exchangeable") unname(m$geese$alpha) else NA,
    gamma = unname(m$geese$gamma))
  f <- geepack:::geese.fit(X, la$y, id = factor(la$la_code), family = binomial(), corstr = cs,
                           scale.fix = TRUE, gm = 1, control = ctl)
  stopifnot(f$error == 0)
  out[[length(out) + 1]] <- data.frame(source = "geese_gm1", corstr = cs, term = colnames(X),
    estimate = unname(f$beta), std_err = sqrt(diag(f$vbeta)),
    alpha = if (cs == "exchangeable") unname(f$alpha) else NA, gamma = unname(f$gamma))
}
write.csv(do.call(rbind, out), "tests/r/ref/glm_gee.csv", row.names = FALSE)
cat("geepack", format(packageVersion("geepack")), "\n")
