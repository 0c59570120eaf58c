# Train the network on one case folder and print the final output.
#
#   Rscript r_impl/main.R fixtures/article [EPOCHS] [--trace DIR]
#
# With --trace, every matrix of every epoch is also written to DIR as .npy
# files (write_trace.R), named as the article names them.

file_arg <- grep("^--file=", commandArgs(FALSE), value = TRUE)
script <- sub("^--file=", "", file_arg)
here <- dirname(script)
source(file.path(here, "load.R"))
load_r_impl(here, tools = c("read_case.R", "write_trace.R"))

args <- commandArgs(trailingOnly = TRUE)
trace_dir <- NULL
at <- match("--trace", args)
if (!is.na(at)) {
  trace_dir <- args[at + 1]
  args <- args[-c(at, at + 1)]
}
if (length(args) < 1 || (!is.null(trace_dir) && is.na(trace_dir))) {
  stop("usage: Rscript r_impl/main.R CASE_FOLDER [EPOCHS] [--trace DIR]")
}
case <- read_case(args[1])
epochs <- if (length(args) >= 2) as.integer(args[2]) else case$epochs

record <- !is.null(trace_dir)
result <- train(
  case$X, case$y, case$wh, case$bh, case$wout, case$bout, case$lr, epochs,
  record
)
if (record) write_trace(result$trace, trace_dir)
print(result$output)
