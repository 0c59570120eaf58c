# One forward pass, to see what the untrained network says.
X = matrix(c(1, 0, 1, 0, 1, 0, 1, 1, 0, 1, 0, 1), nrow = 3, byrow = TRUE)
wh = matrix(runif(12), 4, 3)
bh = matrix(runif(3), 1, 3)
hidden_layer_input = X %*% wh + matrix(1, 3, 1) %*% bh
hiddenlayer_activations = 1 / (1 + exp(-hidden_layer_input))
print(hiddenlayer_activations)
