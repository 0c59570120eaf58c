# Typed in 2017, under Python 2.
import numpy as np

X = np.array([[1, 0, 1, 0], [1, 0, 1, 1], [0, 1, 0, 1]])
y = np.array([[1], [1], [0]])
wh = np.random.uniform(size=(4, 3))
bh = np.random.uniform(size=(1, 3))
wout = np.random.uniform(size=(3, 1))
bout = np.random.uniform(size=(1, 1))
lr = 0.1

for i in xrange(5000):
    hidden_layer_input = np.dot(X, wh) + bh
    hiddenlayer_activations = 1 / (1 + np.exp(-hidden_layer_input))
    output = 1 / (1 + np.exp(-(np.dot(hiddenlayer_activations, wout) + bout)))

print output
