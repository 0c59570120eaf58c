# Same network, my own names: W1/b1 for the hidden layer, W2/b2 for the output.
act = function(z) 1 / (1 + exp(-z))
act_slope = function(a) a * (1 - a)

inputs = rbind(c(1, 0, 1, 0), c(1, 0, 1, 1), c(0, 1, 0, 1))
targets = cbind(c(1, 1, 0))
rate = 0.1
n_epochs = 1000

W1 = matrix(runif(12), 4, 3)
b1 = matrix(runif(3), 1, 3)
W2 = matrix(runif(3), 3, 1)
b2 = matrix(runif(1), 1, 1)
ones = matrix(1, nrow(inputs), 1)

for (step in seq_len(n_epochs)) {
  z1 = inputs %*% W1 + ones %*% b1
  a1 = act(z1)
  z2 = a1 %*% W2 + ones %*% b2
  a2 = act(z2)
  err = targets - a2
  s2 = act_slope(a2)
  s1 = act_slope(a1)
  delta2 = err * s2
  err1 = delta2 %*% t(W2)
  delta1 = err1 * s1
  W2 = W2 + t(a1) %*% delta2 * rate
  W1 = W1 + t(inputs) %*% delta1 * rate
  b2 = b2 + colSums(delta2) * rate
  b1 = b1 + colSums(delta1) * rate
}
cat("final error:", sum(err^2) / 2, "\n")
