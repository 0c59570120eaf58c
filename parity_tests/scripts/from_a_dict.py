# A learner's network whose loop takes its weights from a dict at the start of each pass
# and puts them back at its end (parity_tests/test_scripts.py: refused, naming the line).
import numpy as np

X = np.array([[1, 0, 1, 0],
              [1, 0, 1, 1],
              [0, 1, 0, 1]])
y = np.array([[1], [1], [0]])


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def derivatives_sigmoid(x):
    return x * (1 - x)


epoch = 4000
lr = 0.1
n_in, n_hidden, n_out = X.shape[1], 3, 1

wh = np.random.uniform(size=(n_in, n_hidden))
bh = np.random.uniform(size=(1, n_hidden))
wout = np.random.uniform(size=(n_hidden, n_out))
bout = np.random.uniform(size=(1, n_out))

params = {'wh': wh, 'bh': bh, 'wout': wout, 'bout': bout}
for i in range(epoch):
    wh, bh, wout, bout = params['wh'], params['bh'], params['wout'], params['bout']
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

    params = {'wh': wh, 'bh': bh, 'wout': wout, 'bout': bout}
print(output)
