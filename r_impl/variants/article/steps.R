# The article's own R, step by step: what its code computes, not what its text
# says. A negative control: `nnparity run --r-variant article` must fail, and
# name epoch 1, step 11. See docs/errata.md for every line that differs from
# r_impl/steps.R and why.
#
# bh and bout are held once per sample (nrow(X) x units), as the article's R
# holds them, so the bias is added with a plain `+` (no sweep), and the bias
# updates sum each sample's row (rowSums) instead of each unit's column. The
# article's `%%` and `**` (scraped from `%*%`) are written `%*%`.

steps <- list(
  # step 2: the article's `hidden_layer_input1 + bh`, bh per sample
  hidden_layer_input = function(X, wh, bh) {
    hidden_layer_input1 <- X %*% wh
    hidden_layer_input1 + bh
  },

  # step 3 (the article's R calls it hidden_layer_activations)
  hiddenlayer_activations = function(hidden_layer_input) {
    sigmoid(hidden_layer_input)
  },

  # step 4: the article's `output_layer_input1 + bout`, bout per sample
  output_layer_input = function(hiddenlayer_activations, wout, bout) {
    output_layer_input1 <- hiddenlayer_activations %*% wout
    output_layer_input1 + bout
  },

  # step 4
  output = function(output_layer_input) {
    sigmoid(output_layer_input)
  },

  # step 5 (the article's R calls y `Y`)
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

  # step 8: the article writes `d_output**t(wout)`
  Error_at_hidden_layer = function(d_output, wout) {
    d_output %*% t(wout)
  },

  # step 9
  d_hiddenlayer = function(Error_at_hidden_layer, slope_hidden_layer) {
    Error_at_hidden_layer * slope_hidden_layer
  },

  # step 10: the article writes `(t(hidden_layer_activations)**d_output)*lr`
  wout = function(wout, hiddenlayer_activations, d_output, lr) {
    wout + (t(hiddenlayer_activations) %*% d_output) * lr
  },

  # step 10: the article writes `(t(X)**d_hiddenlayer)*lr`
  wh = function(wh, X, d_hiddenlayer, lr) {
    wh + (t(X) %*% d_hiddenlayer) * lr
  },

  # step 11, the article's line: `bout= bout+rowSums(d_output)*lr`. rowSums
  # gives one number per sample, recycled down bout's column: sample i's bias
  # moves by its own delta only, where Python moves every sample's by the sum.
  bout = function(bout, d_output, lr) {
    bout + rowSums(d_output) * lr
  },

  # step 11, the article's line: `bh = bh + rowSums(d_hiddenlayer)*lr`. The sum
  # runs over the hidden units of one sample, and is recycled down bh's columns:
  # every unit of sample i moves by the same amount.
  bh = function(bh, d_hiddenlayer, lr) {
    bh + rowSums(d_hiddenlayer) * lr
  }
)
