# One function per matrix the article names, in the article's step order.
# Each function is the article's line for that matrix; one_epoch() in train.R
# calls them in order. The Python twin is python_impl/steps.py.
#
# bh and bout are 1-row matrices, as in the Python. R does not broadcast a
# 1-row matrix over the rows of another, so the bias is added to every row
# with sweep(); see README.md for why the article's per-sample layout is wrong.

steps <- list(
  # step 2
  hidden_layer_input = function(X, wh, bh) {
    hidden_layer_input1 <- X %*% wh
    sweep(hidden_layer_input1, 2, bh, "+")
  },

  # step 3
  hiddenlayer_activations = function(hidden_layer_input) {
    sigmoid(hidden_layer_input)
  },

  # step 4
  output_layer_input = function(hiddenlayer_activations, wout, bout) {
    output_layer_input1 <- hiddenlayer_activations %*% wout
    sweep(output_layer_input1, 2, bout, "+")
  },

  # step 4
  output = function(output_layer_input) {
    sigmoid(output_layer_input)
  },

  # step 5
  E = function(y, output) {
    y - output
  },

  # step 6
  slope_output_layer = function(output) {
    derivatives_sigmoid(output)
  },

  # step 6
  slope_hidden_layer = function(hiddenlayer_activations) {
    derivatives_sigmoid(hiddenlayer_activations)
  },

  # step 7
  d_output = function(E, slope_output_layer) {
    E * slope_output_layer
  },

  # step 8
  Error_at_hidden_layer = function(d_output, wout) {
    d_output %*% t(wout)
  },

  # step 9
  d_hiddenlayer = function(Error_at_hidden_layer, slope_hidden_layer) {
    Error_at_hidden_layer * slope_hidden_layer
  },

  # step 10
  wout = function(wout, hiddenlayer_activations, d_output, lr) {
    wout + (t(hiddenlayer_activations) %*% d_output) * lr
  },

  # step 10
  wh = function(wh, X, d_hiddenlayer, lr) {
    wh + (t(X) %*% d_hiddenlayer) * lr
  },

  # step 11: bout is 1 x outputs; the sum runs over the samples (the rows).
  bout = function(bout, d_output, lr) {
    bout + colSums(d_output) * lr
  },

  # step 11: bh is 1 x hidden units; the sum runs over the samples (the rows).
  bh = function(bh, d_hiddenlayer, lr) {
    bh + colSums(d_hiddenlayer) * lr
  }
)
