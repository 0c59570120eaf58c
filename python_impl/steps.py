"""One function per matrix the article names, in the article's step order.

Each function is the article's line for that matrix; ``train.one_epoch``
calls them in order. The R twin is ``r_impl/steps.R``.
"""

import numpy as np

from .activations import derivatives_sigmoid, sigmoid


# step 2
def hidden_layer_input(X, wh, bh):
    hidden_layer_input1 = np.dot(X, wh)
    return hidden_layer_input1 + bh


# step 3
def hiddenlayer_activations(hidden_layer_input):
    return sigmoid(hidden_layer_input)


# step 4
def output_layer_input(hiddenlayer_activations, wout, bout):
    output_layer_input1 = np.dot(hiddenlayer_activations, wout)
    return output_layer_input1 + bout


# step 4
def output(output_layer_input):
    return sigmoid(output_layer_input)


# step 5
def E(y, output):
    return y - output


# step 6
def slope_output_layer(output):
    return derivatives_sigmoid(output)


# step 6
def slope_hidden_layer(hiddenlayer_activations):
    return derivatives_sigmoid(hiddenlayer_activations)


# step 7
def d_output(E, slope_output_layer):
    return E * slope_output_layer


# step 8
def Error_at_hidden_layer(d_output, wout):
    return d_output.dot(wout.T)


# step 9
def d_hiddenlayer(Error_at_hidden_layer, slope_hidden_layer):
    return Error_at_hidden_layer * slope_hidden_layer


# step 10
def wout(wout, hiddenlayer_activations, d_output, lr):
    return wout + hiddenlayer_activations.T.dot(d_output) * lr


# step 10
def wh(wh, X, d_hiddenlayer, lr):
    return wh + X.T.dot(d_hiddenlayer) * lr


# step 11: bout is 1 x outputs; the sum runs over the samples (the rows).
def bout(bout, d_output, lr):
    return bout + np.sum(d_output, axis=0, keepdims=True) * lr


# step 11: bh is 1 x hidden units; the sum runs over the samples (the rows).
def bh(bh, d_hiddenlayer, lr):
    return bh + np.sum(d_hiddenlayer, axis=0, keepdims=True) * lr
