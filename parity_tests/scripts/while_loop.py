# Train until the error is small enough.
import numpy as np

X = np.array([[1, 0, 1, 0], [1, 0, 1, 1], [0, 1, 0, 1]])
y = np.array([[1], [1], [0]])
wh = np.random.uniform(size=(4, 3))
bh = np.random.uniform(size=(1, 3))
wout = np.random.uniform(size=(3, 1))
bout = np.random.uniform(size=(1, 1))
lr = 0.1
loss = 1.0
while loss > 0.01:
    hidden_layer_input = X.dot(wh) + bh
    hiddenlayer_activations = 1 / (1 + np.exp(-hidden_layer_input))
    output = 1 / (1 + np.exp(-(hiddenlayer_activations.dot(wout) + bout)))
    E = y - output
    d_output = E * output * (1 - output)
    d_hiddenlayer = d_output.dot(wout.T) * hiddenlayer_activations * (1 - hiddenlayer_activations)
    wout += hiddenlayer_activations.T.dot(d_output) * lr
    wh += X.T.dot(d_hiddenlayer) * lr
    loss = float((E ** 2).sum() / 2)
