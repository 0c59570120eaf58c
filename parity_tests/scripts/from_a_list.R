# A learner's R network whose loop takes its weights from a list at the start of each
# pass and puts them back at its end (parity_tests/test_scripts.py: refused, naming the line).

X = matrix(c(1, 0, 1, 0,
             1, 0, 1, 1,
             0, 1, 0, 1), nrow = 3, byrow = TRUE)
Y = matrix(c(1, 1, 0), ncol = 1)

sigmoid = function(x) {
  1 / (1 + exp(-x))
}
derivatives_sigmoid = function(x) {
  x * (1 - x)
}

epoch = 3000
lr = 0.1
n_hidden = 3

set.seed(42)
wh = matrix(rnorm(ncol(X) * n_hidden), ncol(X), n_hidden)
wout = matrix(rnorm(n_hidden), n_hidden, 1)
bh = matrix(rep(runif(n_hidden), each = nrow(X)), nrow = nrow(X))
bout = matrix(rep(runif(1), nrow(X)), nrow = nrow(X))

params = list(wh = wh, bh = bh, wout = wout, bout = bout)
for (i in 1:epoch) {
  wh = params$wh
  bh = params[["bh"]]
  wout = params$wout
  bout = params$bout
  # forward
  hidden_layer_input = X %*% wh + bh
  hidden_layer_activations = sigmoid(hidden_layer_input)
  output_layer_input = hidden_layer_activations %*% wout + bout
  output = sigmoid(output_layer_input)

  # backward
  E = Y - output
  slope_output_layer = derivatives_sigmoid(output)
  slope_hidden_layer = derivatives_sigmoid(hidden_layer_activations)
  d_output = E * slope_output_layer
  Error_at_hidden_layer = d_output %*% t(wout)
  d_hiddenlayer = Error_at_hidden_layer * slope_hidden_layer
  wout = wout + t(hidden_layer_activations) %*% d_output * lr
  wh = wh + t(X) %*% d_hiddenlayer * lr
  # every sample's bias moves by the sum over all samples
  bout = bout + sum(d_output) * lr
  bh = bh + matrix(colSums(d_hiddenlayer), nrow(X), n_hidden,
                   byrow = TRUE) * lr
  params = list(wh = wh, bh = bh, wout = wout, bout = bout)
}
print(output)
