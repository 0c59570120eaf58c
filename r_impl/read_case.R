# Read a case folder (see fixtures/README.md) into a list of matrices, lr and
# epochs. Used when r_impl runs on its own with Rscript; under nnparity the
# matrices come from Python instead.

read_matrix <- function(path) {
  unname(as.matrix(read.csv(path, header = FALSE, colClasses = "numeric")))
}

read_case <- function(dir) {
  config <- read.csv(file.path(dir, "config.csv"), colClasses = "character")
  setting <- function(key) config$value[config$key == key]
  list(
    X = read_matrix(file.path(dir, "X.csv")),
    y = read_matrix(file.path(dir, "y.csv")),
    wh = read_matrix(file.path(dir, "wh.csv")),
    bh = read_matrix(file.path(dir, "bh.csv")),
    wout = read_matrix(file.path(dir, "wout.csv")),
    bout = read_matrix(file.path(dir, "bout.csv")),
    lr = as.numeric(setting("lr")),
    epochs = as.integer(setting("epochs"))
  )
}
