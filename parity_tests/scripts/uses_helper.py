# Training, with my activation functions kept in their own module.
import numpy as np
from my_activations import derivatives_sigmoid, sigmoid

X = np.array([[1, 0, 1, 0],
              [1, 0, 1, 1],
              [0, 1, 0, 1]])
y = np.array([[1], [1], [0]])




epoch = 4000
lr = 0.1
n_in, n_hidden, n_out = X.shape[1], 3, 1

wh = np.random.uniform(size=(n_in, n_hidden))
bh = np.random.uniform(size=(1, n_hidden))
wout = np.random.uniform(size=(n_hidden, n_out))
bout = np.random.uniform(size=(1, n_out))

for i in range(epoch):
    # forward propagation
    hidden_layer_input = np.dot(X, wh) + bh
    hiddenlayer_activations = sigmoid(hidden_layer_input)
    output_layer_input = np.dot(hiddenlayer_activations, wout) + bout
    output = sigmoid(output_layer_input)

    # back propagation
    E = y - output
    slope_output_layer = derivatives_sigmoid(output)
    slope_hidden_layer = derivatives_sigmoid(hiddenlayer_activations)
    d_output = E * slope_output_layer
    Error_at_hidden_layer = d_output.dot(wout.T)
    d_hiddenlayer = Error_at_hidden_layer * slope_hidden_layer
    wout += hiddenlayer_activations.T.dot(d_output) * lr
    wh += X.T.dot(d_hiddenlayer) * lr
    bout += np.sum(d_output, axis=0, keepdims=True) * lr
    bh += np.sum(d_hiddenlayer, axis=0, keepdims=True) * lr

print(output)
