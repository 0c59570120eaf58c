sigmoid <- function(x) {
  1 / (1 + exp(-x))
}

# The slope of the sigmoid, written in terms of its output: if s = sigmoid(x),
# then ds/dx = s * (1 - s). So x here is an activation, not a layer input.
derivatives_sigmoid <- function(x) {
  x * (1 - x)
}
