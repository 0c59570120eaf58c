# Every test file sees the R port (r_impl/) and the repository's root.
# testthat runs the tests from r_tests/testthat, two levels below the root.
root <- normalizePath(file.path(getwd(), "..", ".."))
for (file in c("activations.R", "steps.R", "train.R", "read_case.R")) {
  source(file.path(root, "r_impl", file))
}

article <- read_case(file.path(root, "fixtures", "article"))

train_case <- function(case, epochs) {
  train(case$X, case$y, case$wh, case$bh, case$wout, case$bout, case$lr, epochs, record = TRUE)
}

# The article's steps as nnparity/steps.py defines them (the one definition):
# a data frame of step numbers and recorded names, in recording order.
article_steps <- function() {
  text <- readLines(file.path(root, "nnparity", "steps.py"))
  found <- regmatches(text, regexec('Quantity\\((\\d+), "(\\w+)"', text))
  found <- Filter(function(m) length(m) == 3, found)
  data.frame(
    step = vapply(found, function(m) as.integer(m[2]), integer(1)),
    name = vapply(found, function(m) m[3], character(1))
  )
}
