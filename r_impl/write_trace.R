# Write a trace to files, one .npy per matrix (numpy's format: a short header,
# then the doubles), so that a trace made by Rscript alone can be read in
# Python with numpy.load and checked against the one made through rpy2.
# R stores arrays column-major, which .npy calls fortran_order.

write_npy <- function(a, path) {
  one <- if (length(dim(a)) == 1) "," else ""
  shape <- paste0("(", paste0(dim(a), collapse = ", "), one, ")")
  header <- paste0(
    "{'descr': '<f8', 'fortran_order': True, 'shape': ", shape, ", }"
  )
  # magic (6) + version (2) + header length (2) + header + newline:
  # a multiple of 64
  padding <- 64 - (10 + nchar(header) + 1) %% 64
  header <- paste0(header, strrep(" ", padding %% 64), "\n")
  con <- file(path, "wb")
  on.exit(close(con))
  writeBin(as.raw(c(0x93, charToRaw("NUMPY"), 0x01, 0x00)), con)
  writeBin(as.integer(nchar(header)), con, size = 2, endian = "little")
  writeBin(charToRaw(header), con)
  writeBin(as.double(a), con, size = 8, endian = "little")
}

write_trace <- function(trace, dir) {
  dir.create(dir, showWarnings = FALSE, recursive = TRUE)
  for (name in names(trace)) {
    value <- trace[[name]]
    if (is.list(value)) value <- epochs_array(value)
    write_npy(value, file.path(dir, paste0(name, ".npy")))
  }
}

# The list of a matrix's epochs (train.R's trace$E[[i]]) as one array
# [epochs, rows, cols], the layout the Python trace has.
epochs_array <- function(matrices) {
  value <- array(unlist(matrices), c(dim(matrices[[1]]), length(matrices)))
  aperm(value, c(3, 1, 2))
}
