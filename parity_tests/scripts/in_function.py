# My training wrapped in a function; the data stays global.
import numpy as np

X = np.array([[1, 0, 1, 0], [1, 0, 1, 1], [0, 1, 0, 1]])
y = np.array([[1], [1], [0]])


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def train(epochs, lr=0.1, hidden=3):
    wh = np.random.uniform(size=(X.shape[1], hidden))
    bh = np.random.uniform(size=(1, hidden))
    wout = np.random.uniform(size=(hidden, 1))
    bout = np.random.uniform(size=(1, 1))
    for _ in range(epochs):
        hidden_layer_input = X.dot(wh) + bh
        hiddenlayer_activations = sigmoid(hidden_layer_input)
        output_layer_input = hiddenlayer_activations.dot(wout) + bout
        output = sigmoid(output_layer_input)
        E = y - output
        slope_output_layer = output * (1 - output)
        slope_hidden_layer = hiddenlayer_activations * (1 - hiddenlayer_activations)
        d_output = E * slope_output_layer
        Error_at_hidden_layer = d_output.dot(wout.T)
        d_hiddenlayer = Error_at_hidden_layer * slope_hidden_layer
        wout = wout + hiddenlayer_activations.T.dot(d_output) * lr
        wh = wh + X.T.dot(d_hiddenlayer) * lr
        bout = bout + d_output.sum(axis=0, keepdims=True) * lr
        bh = bh + d_hiddenlayer.sum(axis=0, keepdims=True) * lr
    return output


if __name__ == "__main__":
    print(train(1000))
