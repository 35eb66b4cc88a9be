# Reference values for recurrence.models.discrete: discrete-time hazard models on person-period
# data, built here independently with base R. Run from the repository root:
#   Rscript tests/r/glm_discrete.R -> tests/r/ref/glm_discrete.csv
options(digits = 17)
d <- read.csv("tests/r/data/disc.csv")
pp <- do.call(rbind, lapply(seq_len(nrow(d)), function(i) {
  data.frame(id = d$id[i], period = seq_len(d$time[i]), x = d$x[i], g = d$g[i],
             y = as.integer(d$event[i] == 1 & seq_len(d$time[i]) == d$time[i]))
}))
ctl <- glm.control(epsilon = 1e-14, maxit = 100)
out <- list()
for (lk in c("logit", "cloglog")) {
  m <- glm(y ~ factor(period) + x + g, family = binomial(link = lk), data = pp, control = ctl)
  tn <- sub("factor\\(period\\)", "period[T.", names(coef(m)))
  tn <- ifelse(grepl("^period\\[T\\.", tn), paste0(tn, "]"), tn)
  out[[length(out) + 1]] <- data.frame(link = lk, term = tn, estimate = unname(coef(m)),
                                      std_err = sqrt(diag(vcov(m))))
}
write.csv(do.call(rbind, out), "tests/r/ref/glm_discrete.csv", row.names = FALSE)
cat("rows", nrow(pp), "events", sum(pp$y), "\n")
