# Full-batch gradient descent, as in the article. Its Python twin is train.py
# in python_impl.

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
  new_bout <- steps$bout(bout, d_output, lr) # step 11
  new_wh <- steps$wh(wh, X, d_hiddenlayer, lr) # step 10
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

# What training reads (step 0: X, y) and starts from (step 1: the weights and
# biases). Recorded once per call of train(), each as an array [1, rows, cols];
# the weights are named initial_wh, ... so as not to clash with their updates.
starting_point <- function(X, y, wh, bh, wout, bout) {
  start <- list(
    X = X, y = y, initial_wh = wh, initial_bh = bh, initial_wout = wout,
    initial_bout = bout
  )
  lapply(start, function(value) array(as.double(value), c(1, dim(value))))
}

# Train for `epochs` epochs from the given weights (step 1 is the caller's).
# Returns the final weights and output, and, when `record` is TRUE, a trace:
# steps 0 and 1 once (starting_point()), then for every matrix of
# one_epoch(), the list of its value at each epoch (trace$E[[i]]: the matrix
# one_epoch() made, kept, not copied).
train <- function(X, y, wh, bh, wout, bout, lr, epochs, record = FALSE) {
  trace <- list()
  if (record) trace <- starting_point(X, y, wh, bh, wout, bout) # steps 0 and 1
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
        if (i == 1) trace[[name]] <- vector("list", epochs)
        trace[[name]][[i]] <- values[[name]]
      }
    }
  }
  list(
    wh = wh, bh = bh, wout = wout, bout = bout, output = output, trace = trace
  )
}
