# Lint every R file of the project in tidyverse style; exit 1 on any finding.
# The article's names (E, X, Error_at_hidden_layer, ...) are kept as written,
# so object_name_linter is off. object_usage_linter is off because a port is
# several files sourced together (train.R uses steps from steps.R), and lintr
# reads one file at a time.
linters <- lintr::linters_with_defaults(
  object_name_linter = NULL,
  object_usage_linter = NULL,
  line_length_linter = lintr::line_length_linter(80)
)
folders <- c("r_impl", "nnparity/r", "scripts", "r_tests")
files <- list.files(
  folders,
  pattern = "[.]R$", full.names = TRUE, recursive = TRUE
)

# nnparity explain reads each step's line of a port's train.R by the
# `# step N` marker at its end, so such a line cannot be wrapped: the one
# exception to 80 columns.
long_lines_allowed <- function(file) {
  if (basename(file) != "train.R") {
    return(integer(0))
  }
  grep("# step [0-9]+$", readLines(file))
}

lint_one <- function(file) {
  exclusions <- list()
  exclusions[[file]] <- list(line_length_linter = long_lines_allowed(file))
  lintr::lint(file, linters = linters, exclusions = exclusions)
}
found <- unlist(lapply(files, lint_one), recursive = FALSE)
for (lint in found) print(lint)
if (length(found) > 0) quit(status = 1)
cat(length(files), "R files linted, no findings\n")
