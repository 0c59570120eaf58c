# Full-batch gradient descent with the article's per-sample biases. Only the
# bias layout differs from r_impl/train.R: the harness hands every port a
# 1 x units bias, and the article's R holds it as an nrow(X) x units matrix.

# The article's layout, one row per sample, each row the bias. The article
# writes `matrix(rep(bias_in, nrow(X)), nrow = nrow(X), byrow = FALSE)`, but
# matrix() fills column by column, so with byrow = FALSE that line puts
# bias_in[i] across row i whenever nrow(X) equals the number of units (the
# article's 3 x 3): every sample would start with a different, transposed
# bias. byrow = TRUE gives what the article means, and starts both languages
# from the same network (docs/errata.md has the measured difference).
per_sample <- function(bias, n) {
  if (nrow(bias) == n) {
    return(bias)
  }
  matrix(rep(bias, n), nrow = n, byrow = TRUE)
}

# One forward and backward pass; returns every matrix the article names.
one_epoch <- function(X, y, wh, bh, wout, bout, lr) {
  # Forward Propagation
  hidden_layer_input <- steps$hidden_layer_input(X, wh, bh) # step 2
  hiddenlayer_activations <- steps$hiddenlayer_activations(hidden_layer_input) # step 3
  output_layer_input <- steps$output_layer_input(hiddenlayer_activations, wout, bout) # step 4
  output <- steps$output(output_layer_input) # step 4

  # Back Propagation
  E <- steps$E(y, output) # step 5
  slope_output_layer <- steps$slope_output_layer(output) # step 6
  slope_hidden_layer <- steps$slope_hidden_layer(hiddenlayer_activations) # step 6
  d_output <- steps$d_output(E, slope_output_layer) # step 7
  Error_at_hidden_layer <- steps$Error_at_hidden_layer(d_output, wout) # step 8
  d_hiddenlayer <- steps$d_hiddenlayer(Error_at_hidden_layer, slope_hidden_layer) # step 9
  new_wout <- steps$wout(wout, hiddenlayer_activations, d_output, lr) # step 10
  new_wh <- steps$wh(wh, X, d_hiddenlayer, lr) # step 10
  new_bout <- steps$bout(bout, d_output, lr) # step 11
  new_bh <- steps$bh(bh, d_hiddenlayer, lr) # step 11

  list(
    hidden_layer_input = hidden_layer_input,
    hiddenlayer_activations = hiddenlayer_activations,
    output_layer_input = output_layer_input,
    output = output,
    E = E,
    slope_output_layer = slope_output_layer,
    slope_hidden_layer = slope_hidden_layer,
    d_output = d_output,
    Error_at_hidden_layer = Error_at_hidden_layer,
    d_hiddenlayer = d_hiddenlayer,
    wout = new_wout,
    wh = new_wh,
    bout = new_bout,
    bh = new_bh
  )
}

# Train for `epochs` epochs from the given weights; as r_impl/train.R, but bh
# and bout are laid out per sample first (and stay so between chunks).
train <- function(X, y, wh, bh, wout, bout, lr, epochs, record = FALSE) {
  bh <- per_sample(bh, nrow(X))
  bout <- per_sample(bout, nrow(X))
  trace <- list()
  output <- NULL
  for (i in seq_len(epochs)) {
    values <- one_epoch(X, y, wh, bh, wout, bout, lr)
    wh <- values$wh
    bh <- values$bh
    wout <- values$wout
    bout <- values$bout
    output <- values$output
    if (record) {
      for (name in names(values)) {
        if (i == 1) trace[[name]] <- array(NA_real_, c(epochs, dim(values[[name]])))
        trace[[name]][i, , ] <- values[[name]]
      }
    }
  }
  list(wh = wh, bh = bh, wout = wout, bout = bout, output = output, trace = trace)
}
