# The network in numpy, written compactly: a few steps fused into one line.
import numpy as np

X = np.array([[1, 0, 1, 0], [1, 0, 1, 1], [0, 1, 0, 1]], dtype=float)
y = np.array([[1.0], [1.0], [0.0]])


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


epoch = 2000
lr = 0.1
rng = np.random.default_rng(7)
wh = rng.uniform(size=(4, 3))
bh = rng.uniform(size=(1, 3))
wout = rng.uniform(size=(3, 1))
bout = rng.uniform(size=(1, 1))

for i in range(epoch):
    hidden_layer_input = X @ wh + bh
    hiddenlayer_activations = sigmoid(hidden_layer_input)
    output = sigmoid(hiddenlayer_activations @ wout + bout)
    E = y - output
    d_output = E * output * (1 - output)
    Error_at_hidden_layer = d_output @ wout.T
    d_hiddenlayer = Error_at_hidden_layer * hiddenlayer_activations * (1 - hiddenlayer_activations)
    wout = wout + hiddenlayer_activations.T @ d_output * lr
    wh = wh + X.T @ d_hiddenlayer * lr
    bout = bout + d_output.sum(axis=0, keepdims=True) * lr
    bh = bh + d_hiddenlayer.sum(axis=0, keepdims=True) * lr
    if i % 500 == 0:
        print("epoch", i, "loss", float((E**2).sum() / 2))

print(output)
