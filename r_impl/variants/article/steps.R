# The article's own R, step by step: what its code computes, not what its text
# says. A negative control: `nnparity run --r-variant article` must fail, and
# name epoch 1, step 11. docs/errata.md has every line that differs and why.
#
# A variant is an overlay: r_impl's own files are sourced first, and this file
# replaces only the steps the article's R writes differently. bh and bout are
# held once per sample (nrow(X) x units), as the article's R holds them, so the
# bias is added with a plain `+`, and the bias updates sum each sample's row
# (rowSums) instead of each unit's column. The article's `%%` and `**` (scraped
# from `%*%`) stay repaired, as in r_impl.

# step 2: the article's `hidden_layer_input1 + bh`, bh per sample
steps$hidden_layer_input <- function(X, wh, bh) {
  hidden_layer_input1 <- X %*% wh
  hidden_layer_input1 + bh
}

# step 4: the article's `output_layer_input1 + bout`, bout per sample
steps$output_layer_input <- function(hiddenlayer_activations, wout, bout) {
  output_layer_input1 <- hiddenlayer_activations %*% wout
  output_layer_input1 + bout
}

# step 11, the article's line: `bout= bout+rowSums(d_output)*lr`. rowSums
# gives one number per sample, recycled down bout's column: sample i's bias
# moves by its own delta only, where Python moves every sample's by the sum.
steps$bout <- function(bout, d_output, lr) {
  bout + rowSums(d_output) * lr
}

# step 11, the article's line: `bh = bh + rowSums(d_hiddenlayer)*lr`. The sum
# runs over the hidden units of one sample, and is recycled down bh's columns:
# every unit of sample i moves by the same amount.
steps$bh <- function(bh, d_hiddenlayer, lr) {
  bh + rowSums(d_hiddenlayer) * lr
}
