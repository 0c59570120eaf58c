"""Full-batch gradient descent, as in the article. The R twin is r_impl/train.R."""

import numpy as np

from . import steps


def one_epoch(X, y, wh, bh, wout, bout, lr):
    """One forward and backward pass; returns every matrix the article names."""
    # Forward Propagation
    hidden_layer_input = steps.hidden_layer_input(X, wh, bh)  # step 2
    hiddenlayer_activations = steps.hiddenlayer_activations(hidden_layer_input)  # step 3
    output_layer_input = steps.output_layer_input(hiddenlayer_activations, wout, bout)  # step 4
    output = steps.output(output_layer_input)  # step 4

    # Backpropagation
    E = steps.E(y, output)  # step 5
    slope_output_layer = steps.slope_output_layer(output)  # step 6
    slope_hidden_layer = steps.slope_hidden_layer(hiddenlayer_activations)  # step 6
    d_output = steps.d_output(E, slope_output_layer)  # step 7
    Error_at_hidden_layer = steps.Error_at_hidden_layer(d_output, wout)  # step 8
    d_hiddenlayer = steps.d_hiddenlayer(Error_at_hidden_layer, slope_hidden_layer)  # step 9
    new_wout = steps.wout(wout, hiddenlayer_activations, d_output, lr)  # step 10
    new_bout = steps.bout(bout, d_output, lr)  # step 11
    new_wh = steps.wh(wh, X, d_hiddenlayer, lr)  # step 10
    new_bh = steps.bh(bh, d_hiddenlayer, lr)  # step 11

    return dict(
        hidden_layer_input=hidden_layer_input,
        hiddenlayer_activations=hiddenlayer_activations,
        output_layer_input=output_layer_input,
        output=output,
        E=E,
        slope_output_layer=slope_output_layer,
        slope_hidden_layer=slope_hidden_layer,
        d_output=d_output,
        Error_at_hidden_layer=Error_at_hidden_layer,
        d_hiddenlayer=d_hiddenlayer,
        wout=new_wout,
        wh=new_wh,
        bout=new_bout,
        bh=new_bh,
    )


def starting_point(X, y, wh, bh, wout, bout):
    """What training reads (step 0: X, y) and starts from (step 1: the weights and biases).

    Recorded once per call of `train`, each as an array [1, rows, cols]; the
    weights are named initial_wh, ... so as not to clash with their updates.
    """
    start = dict(X=X, y=y, initial_wh=wh, initial_bh=bh, initial_wout=wout, initial_bout=bout)
    return {name: np.array(value, dtype=float)[None] for name, value in start.items()}


def train(X, y, wh, bh, wout, bout, lr, epochs, record=False):
    """Train for `epochs` epochs from the given weights (step 1 is the caller's).

    Returns the final weights and output, and, when `record` is true, a trace:
    steps 0 and 1 once (`starting_point`), then for every matrix of
    `one_epoch`, an array [epochs, rows, cols].
    """
    trace = starting_point(X, y, wh, bh, wout, bout) if record else {}  # steps 0 and 1
    output = None
    for i in range(epochs):
        values = one_epoch(X, y, wh, bh, wout, bout, lr)
        wh, bh, wout, bout = values["wh"], values["bh"], values["wout"], values["bout"]
        output = values["output"]
        if record:
            for name, value in values.items():
                if i == 0:
                    trace[name] = np.empty((epochs, *value.shape))
                trace[name][i] = value
    return dict(wh=wh, bh=bh, wout=wout, bout=bout, output=output, trace=trace)
