# A learner's network as a class: its loop trains self.wh ..., attributes nnparity cannot
# start from the case's weights (parity_tests/test_scripts.py: refused, naming them).
import numpy as np

X = np.array([[1, 0, 1, 0], [1, 0, 1, 1], [0, 1, 0, 1]])
y = np.array([[1], [1], [0]])


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


class Network:
    def __init__(self, n_in, n_hidden, n_out):
        self.wh = np.random.uniform(size=(n_in, n_hidden))
        self.bh = np.random.uniform(size=(1, n_hidden))
        self.wout = np.random.uniform(size=(n_hidden, n_out))
        self.bout = np.random.uniform(size=(1, n_out))

    def train(self, X, y, lr, epochs):
        for i in range(epochs):
            hidden_layer_input = np.dot(X, self.wh) + self.bh
            hiddenlayer_activations = sigmoid(hidden_layer_input)
            output_layer_input = np.dot(hiddenlayer_activations, self.wout) + self.bout
            output = sigmoid(output_layer_input)
            E = y - output
            slope_output_layer = output * (1 - output)
            slope_hidden_layer = hiddenlayer_activations * (1 - hiddenlayer_activations)
            d_output = E * slope_output_layer
            Error_at_hidden_layer = d_output.dot(self.wout.T)
            d_hiddenlayer = Error_at_hidden_layer * slope_hidden_layer
            self.wout += hiddenlayer_activations.T.dot(d_output) * lr
            self.wh += X.T.dot(d_hiddenlayer) * lr
            self.bout += np.sum(d_output, axis=0, keepdims=True) * lr
            self.bh += np.sum(d_hiddenlayer, axis=0, keepdims=True) * lr
        return output


net = Network(4, 3, 1)
print(net.train(X, y, 0.1, 5000))
