# A typo in the backward pass: the weights are not transposed.
import numpy as np

X = np.array([[1, 0, 1, 0], [1, 0, 1, 1], [0, 1, 0, 1]])
y = np.array([[1], [1], [0]])
wh = np.random.uniform(size=(4, 3))
bh = np.random.uniform(size=(1, 3))
wout = np.random.uniform(size=(3, 1))
bout = np.random.uniform(size=(1, 1))
lr = 0.1
for i in range(5000):
    hidden_layer_input = X.dot(wh) + bh
    hiddenlayer_activations = 1 / (1 + np.exp(-hidden_layer_input))
    output_layer_input = hiddenlayer_activations.dot(wout) + bout
    output = 1 / (1 + np.exp(-output_layer_input))
    E = y - output
    d_output = E * output * (1 - output)
    Error_at_hidden_layer = d_output.dot(wout)
