# Every test file sees the R port (r_impl/) and the repository's root.
# testthat runs the tests from r_tests/testthat, two levels below the root.
root <- normalizePath(file.path(getwd(), "..", ".."))
source(file.path(root, "r_impl", "load.R"))
load_r_impl(file.path(root, "r_impl"), environment(), tools = "read_case.R")

article <- read_case(file.path(root, "fixtures", "article"))

train_case <- function(case, epochs) {
  train(
    case$X, case$y, case$wh, case$bh, case$wout, case$bout, case$lr, epochs,
    record = TRUE
  )
}

# The step list, nnparity/steps.csv (the one definition; nnparity's Python
# reads the same file): one row per matrix the article names.
step_list <- function() {
  utils::read.csv(file.path(root, "nnparity", "steps.csv"))
}

# The matrices train() records once per epoch, in recording order.
article_steps <- function() {
  steps <- step_list()
  steps[steps$recorded == "per_epoch", ]
}

# The names train() records once per call (steps 0 and 1): X, y, then the
# starting weights as initial_wh, ... (their updates keep the plain names).
recorded_once <- function() {
  steps <- step_list()
  once <- steps[steps$recorded == "once", ]
  ifelse(once$step == 1, paste0("initial_", once$name), once$name)
}

# The shape one epoch of a step list row must have, from a case's dimensions.
shape_of <- function(row, case) {
  dims <- c(
    samples = nrow(case$X), features = ncol(case$X),
    hidden = ncol(case$wh), outputs = ncol(case$wout), "1" = 1
  )
  unname(dims[c(row$rows, row$cols)])
}
