# Reference values for recurrence.models.glmm (random-intercept logistic, Laplace = nAGQ 1).
# Run from the repository root: Rscript tests/r/glmm_reference.R -> tests/r/ref/glmm_reference.csv
#
# Tolerances are tightened so that the reference is lme4's optimum of its own criterion, not a
# point its stopping rules leave it at: bobyqa's final trust radius rhoend = 1e-10, and
# tolPwrss = 1e-13 for the penalised IRLS of the conditional modes. With the default-like
# tolPwrss = 1e-10, lme4 factors L at the modes of the previous PIRLS iteration, so its Laplace
# deviance carried an error of 4e-6 near the optimum (ldL2 54.3725885 instead of 54.3725845 at
# the same modes), which moved the estimates by about 1e-5 and the finite-difference SEs by 3e-4.
suppressPackageStartupMessages(library(lme4))
options(digits = 17)
la <- read.csv("tests/r/data/glm_la.csv", colClasses = c(la_code = "character"))
out <- list()
long <- function(case, terms, quantity, value)
  data.frame(case = case, term = terms, quantity = quantity, value = unname(value))
for (agq in c(1, 10)) {
  m <- glmer(y ~ age + female + n_pp + (1 | la_code), data = la, family = binomial, nAGQ = agq,
             control = glmerControl(optimizer = "bobyqa",
                                    optCtrl = list(maxfun = 1e5, rhoend = 1e-10),
                                    tolPwrss = 1e-13))
  case <- paste0("agq", agq)
  fe <- fixef(m)
  out[[length(out) + 1]] <- long(case, names(fe), "estimate", fe)
  out[[length(out) + 1]] <- long(case, names(fe), "se", sqrt(diag(as.matrix(vcov(m)))))
  out[[length(out) + 1]] <- long(case, "la_code", "sigma", attr(VarCorr(m)$la_code, "stddev"))
  out[[length(out) + 1]] <- long(case, "(all)", "loglik", as.numeric(logLik(m)))
  re <- ranef(m)$la_code
  out[[length(out) + 1]] <- long(case, rownames(re), "ranef", re[, 1])
}
write.csv(do.call(rbind, out), "tests/r/ref/glmm_reference.csv", row.names = FALSE)
cat("lme4", format(packageVersion("lme4")), "\n")
