# Reference values for recurrence.validity.metrics (AUC, DeLong variance and CI, paired DeLong test)
# from pROC, and the continuous NRI of score2 over score1 (as probabilities, plogis) from
# Hmisc::improveProb. Run from the repository root:  Rscript tests/r/validity_roc.R
# Writes tests/r/ref/validity_roc.csv (quantity, value), committed so CI needs no R.
suppressPackageStartupMessages(library(pROC))
d <- read.csv("tests/r/data/validity_roc.csv")
out <- list()
rocs <- list()
for (s in c("score1", "score2", "flag")) {
  r <- roc(d$truth, d[[s]], levels = c(0, 1), direction = "<", quiet = TRUE)
  rocs[[s]] <- r
  ci <- ci.auc(r, method = "delong", conf.level = 0.95)
  out[[paste0(s, "_auc")]] <- as.numeric(auc(r))
  out[[paste0(s, "_var")]] <- var(r, method = "delong")
  out[[paste0(s, "_ci_lower")]] <- ci[1]
  out[[paste0(s, "_ci_upper")]] <- ci[3]
}
for (pair in list(c("score1", "score2"), c("score1", "flag"))) {
  t <- roc.test(rocs[[pair[1]]], rocs[[pair[2]]], method = "delong", paired = TRUE)
  key <- paste0(pair[1], "_vs_", pair[2])
  out[[paste0(key, "_z")]] <- unname(t$statistic)
  out[[paste0(key, "_p")]] <- t$p.value
}
suppressPackageStartupMessages(library(Hmisc))
ip <- improveProb(plogis(d$score1), plogis(d$score2), d$truth)
out[["nri_continuous"]] <- ip$nri
out[["nri_continuous_se"]] <- ip$se.nri
out[["nri_continuous_events"]] <- ip$nri.ev
out[["nri_continuous_nonevents"]] <- ip$nri.ne
res <- data.frame(quantity = names(out), value = unlist(out), row.names = NULL)
write.csv(res, "tests/r/ref/validity_roc.csv", row.names = FALSE, quote = FALSE)
