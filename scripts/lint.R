# Lint every R file of the project in tidyverse style; exit 1 on any finding.
# The article's names (E, X, Error_at_hidden_layer, ...) are kept as written,
# so object_name_linter is off. object_usage_linter is off because a port is
# several files sourced together (train.R uses steps from steps.R), and lintr
# reads one file at a time.
linters <- lintr::linters_with_defaults(
  object_name_linter = NULL,
  object_usage_linter = NULL,
  line_length_linter = lintr::line_length_linter(120)
)
folders <- c("r_impl", "nnparity/r", "scripts", "r_tests")
files <- list.files(folders, pattern = "[.]R$", full.names = TRUE, recursive = TRUE)
found <- unlist(lapply(files, function(file) lintr::lint(file, linters = linters)), recursive = FALSE)
for (lint in found) print(lint)
if (length(found) > 0) quit(status = 1)
cat(length(files), "R files linted, no findings\n")
