# r_impl's own tests, in R alone (no Python): testthat runs every
# testthat/test-*.R file. Exit status 1 when any test fails.
#
#   Rscript r_tests/run.R

script <- sub(
  "^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)
)
here <- if (length(script) == 1) dirname(normalizePath(script)) else "r_tests"
results <- as.data.frame(testthat::test_dir(
  file.path(here, "testthat"),
  reporter = "summary", stop_on_failure = FALSE
))
failed <- sum(results$failed > 0 | results$error)
cat(sprintf("%d passed, %d failed\n", nrow(results) - failed, failed))
if (failed > 0 || nrow(results) == 0) quit(status = 1)
