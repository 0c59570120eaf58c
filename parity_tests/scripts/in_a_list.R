# A learner's R network kept in a list: its loop trains net$wh ..., parts of an object
# nnparity cannot start from the case's weights (parity_tests/test_scripts.py: refused).
X = matrix(c(1, 0, 1, 0,
             1, 0, 1, 1,
             0, 1, 0, 1), nrow = 3, byrow = TRUE)
Y = matrix(c(1, 1, 0), ncol = 1)
sigmoid = function(x) 1 / (1 + exp(-x))
derivatives_sigmoid = function(x) x * (1 - x)
epoch = 3000
lr = 0.1
n_hidden = 3
set.seed(42)
wh = matrix(rnorm(ncol(X) * n_hidden), ncol(X), n_hidden)
wout = matrix(rnorm(n_hidden), n_hidden, 1)
bh = matrix(rep(runif(n_hidden), each = nrow(X)), nrow = nrow(X))
bout = matrix(rep(runif(1), nrow(X)), nrow = nrow(X))
net = list(wh = wh, wout = wout, bh = bh, bout = bout)
for (i in 1:epoch) {
  hidden_layer_input = X %*% net$wh + net$bh
  hidden_layer_activations = sigmoid(hidden_layer_input)
  output_layer_input = hidden_layer_activations %*% net$wout + net$bout
  output = sigmoid(output_layer_input)
  E = Y - output
  slope_output_layer = derivatives_sigmoid(output)
  slope_hidden_layer = derivatives_sigmoid(hidden_layer_activations)
  d_output = E * slope_output_layer
  Error_at_hidden_layer = d_output %*% t(net$wout)
  d_hiddenlayer = Error_at_hidden_layer * slope_hidden_layer
  net$wout = net$wout + t(hidden_layer_activations) %*% d_output * lr
  net$wh = net$wh + t(X) %*% d_hiddenlayer * lr
  net$bout = net$bout + sum(d_output) * lr
  net$bh = net$bh + matrix(colSums(d_hiddenlayer), nrow(X), n_hidden, byrow = TRUE) * lr
}
