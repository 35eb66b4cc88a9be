# Reference values for recurrence.models.glmm (random-intercept logistic, Laplace = nAGQ 1).
# Run from the repository root: Rscript tests/r/glmm_reference.R -> tests/r/ref/glmm_reference.csv
suppressPackageStartupMessages(library(lme4))
options(digits = 17)
la <- read.csv("tests/r/data/glm_la.csv", colClasses = c(la_code = "character"))
out <- list()
long <- function(case, terms, quantity, value)
  data.frame(case = case, term = terms, quantity = quantity, value = unname(value))
for (agq in c(1, 10)) {
  m <- glmer(y ~ age + female + n_pp + (1 | la_code), data = la, family = binomial, nAGQ = agq,
             control = glmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5),
                                    tolPwrss = 1e-10))
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
