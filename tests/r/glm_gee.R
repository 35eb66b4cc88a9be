# Reference values for recurrence.models.gee (GEE logistic, clusters = LA), from geepack::geeglm.
# Run from the repository root: Rscript tests/r/glm_gee.R -> tests/r/ref/glm_gee.csv
suppressPackageStartupMessages(library(geepack))
options(digits = 17)
la <- read.csv("tests/r/data/glm_la.csv", colClasses = c(la_code = "character"))
la <- la[order(la$la_code), ]  # geeglm needs each cluster's rows contiguous
out <- list()
for (cs in c("independence", "exchangeable")) {
  m <- geeglm(y ~ age + female + n_pp, id = factor(la_code), data = la, family = binomial,
              corstr = cs, scale.fix = TRUE, control = geese.control(epsilon = 1e-12, maxit = 100))
  s <- summary(m)$coefficients
  out[[length(out) + 1]] <- data.frame(corstr = cs, term = rownames(s), estimate = s[, "Estimate"],
    std_err = s[, "Std.err"], alpha = if (cs == "exchangeable") unname(m$geese$alpha) else NA)
}
write.csv(do.call(rbind, out), "tests/r/ref/glm_gee.csv", row.names = FALSE)
cat("geepack", format(packageVersion("geepack")), "\n")
