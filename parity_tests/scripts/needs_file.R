# The data comes from a file I saved earlier.
data = read.csv("my_training_data.csv")
X = as.matrix(data[, 1:4])
Y = as.matrix(data[, 5])
wh = matrix(runif(12), 4, 3)
bh = matrix(runif(3), 1, 3)
wout = matrix(runif(3), 3, 1)
bout = matrix(runif(1), 1, 1)
for (i in 1:100) {
  hidden_layer_input = X %*% wh + matrix(1, nrow(X), 1) %*% bh
}
