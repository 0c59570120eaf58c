# Train the network on one case folder and print the final output.
#
#   Rscript r_impl/main.R fixtures/article [epochs]

script <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
here <- dirname(script)
for (file in c("activations.R", "steps.R", "train.R", "read_case.R")) {
  source(file.path(here, file))
}

args <- commandArgs(trailingOnly = TRUE)
if (length(args) < 1) stop("usage: Rscript r_impl/main.R CASE_FOLDER [EPOCHS]")
case <- read_case(args[1])
epochs <- if (length(args) >= 2) as.integer(args[2]) else case$epochs

result <- train(case$X, case$y, case$wh, case$bh, case$wout, case$bout, case$lr, epochs)
print(result$output)
