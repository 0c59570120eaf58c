# Full-batch gradient descent with the article's per-sample biases: r_impl's
# train(), handed the biases in the article's layout. The harness hands every
# port a 1 x units bias; the article's R holds it as an nrow(X) x units matrix.

# The article's layout, one row per sample, each row the bias. The article
# writes `matrix(rep(bias_in, nrow(X)), nrow = nrow(X), byrow = FALSE)`, but
# matrix() fills column by column, so with byrow = FALSE that line puts
# bias_in[i] across row i whenever nrow(X) equals the number of units (the
# article's 3 x 3): every sample would start with a different, transposed
# bias. byrow = TRUE gives what the article means, and starts both languages
# from the same network (docs/errata.md has the measured difference).
copies_per_sample <- function(bias, n) {
  if (nrow(bias) == n) {
    return(bias)
  }
  matrix(rep(bias, n), nrow = n, byrow = TRUE)
}

r_impl_train <- train

train <- function(X, y, wh, bh, wout, bout, lr, epochs, record = FALSE) {
  bh <- copies_per_sample(bh, nrow(X))
  bout <- copies_per_sample(bout, nrow(X))
  r_impl_train(X, y, wh, bh, wout, bout, lr, epochs, record)
}
