import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


# The slope of the sigmoid, written in terms of its output: if s = sigmoid(x),
# then ds/dx = s * (1 - s). So x here is an activation, not a layer input.
def derivatives_sigmoid(x):
    return x * (1 - x)
