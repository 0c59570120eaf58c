# Which files make r_impl, in the order they are sourced: the one place that
# says so. main.R, r_tests' helper and the notebook source r_impl through
# load_r_impl(); nnparity's harness reads r_impl_files.
r_impl_files <- c("activations.R", "steps.R", "train.R")

# Source r_impl from `dir` into `envir`, then any `tools` of r_impl's own
# (read_case.R, write_trace.R) that a caller wants beside the port. The source
# is kept, so that an error can name the port's own file and line.
load_r_impl <- function(dir, envir = globalenv(), tools = character()) {
  for (file in c(r_impl_files, tools)) {
    tryCatch(
      sys.source(file.path(dir, file), envir = envir, keep.source = TRUE),
      error = function(e) stop(file, ": ", conditionMessage(e), call. = FALSE)
    )
  }
  invisible(envir)
}
