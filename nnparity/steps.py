"""The article's steps, defined once.

Every other part of nnparity (the bridge, the comparison, the reports, the
tests, the explain command) reads this list; neither port repeats it. Both
ports must record exactly these names, in this order, once per epoch.

A *recorded quantity* is one matrix the article names. Its ``inputs`` are the
matrices (and ``lr``) its one line of code reads. Inputs listed in ``STATE``
mean "the value at the start of the epoch" (the weights before this epoch's
update); any other input means "this epoch's value", except ``X``, ``y`` and
``lr``, which come from the case.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Quantity:
    step: int  # the article's step number (1 init ... 11 bias update)
    name: str  # the article's variable name, the same in both ports
    formula: str  # the article's formula, for reports and `nnparity explain`
    inputs: tuple[str, ...]


#: Step 1: what a case provides and what every epoch carries to the next.
STATE: tuple[str, ...] = ("wh", "bh", "wout", "bout")

#: The case's constant inputs.
DATA: tuple[str, ...] = ("X", "y")

QUANTITIES: tuple[Quantity, ...] = (
    Quantity(2, "hidden_layer_input", "hidden_layer_input = matrix_dot_product(X, wh) + bh", ("X", "wh", "bh")),
    Quantity(3, "hiddenlayer_activations", "hiddenlayer_activations = sigmoid(hidden_layer_input)", ("hidden_layer_input",)),
    Quantity(4, "output_layer_input", "output_layer_input = matrix_dot_product(hiddenlayer_activations, wout) + bout", ("hiddenlayer_activations", "wout", "bout")),
    Quantity(4, "output", "output = sigmoid(output_layer_input)", ("output_layer_input",)),
    Quantity(5, "E", "E = y - output", ("y", "output")),
    Quantity(6, "slope_output_layer", "slope_output_layer = derivatives_sigmoid(output)", ("output",)),
    Quantity(6, "slope_hidden_layer", "slope_hidden_layer = derivatives_sigmoid(hiddenlayer_activations)", ("hiddenlayer_activations",)),
    Quantity(7, "d_output", "d_output = E * slope_output_layer", ("E", "slope_output_layer")),
    Quantity(8, "Error_at_hidden_layer", "Error_at_hidden_layer = matrix_dot_product(d_output, wout.T)", ("d_output", "wout")),
    Quantity(9, "d_hiddenlayer", "d_hiddenlayer = Error_at_hidden_layer * slope_hidden_layer", ("Error_at_hidden_layer", "slope_hidden_layer")),
    Quantity(10, "wout", "wout = wout + matrix_dot_product(hiddenlayer_activations.T, d_output) * lr", ("wout", "hiddenlayer_activations", "d_output", "lr")),
    Quantity(10, "wh", "wh = wh + matrix_dot_product(X.T, d_hiddenlayer) * lr", ("wh", "X", "d_hiddenlayer", "lr")),
    Quantity(11, "bout", "bout = bout + sum(d_output, axis=0) * lr", ("bout", "d_output", "lr")),
    Quantity(11, "bh", "bh = bh + sum(d_hiddenlayer, axis=0) * lr", ("bh", "d_hiddenlayer", "lr")),
)

#: Recorded names in recording order: the keys of every trace.
NAMES: tuple[str, ...] = tuple(q.name for q in QUANTITIES)

BY_NAME: dict[str, Quantity] = {q.name: q for q in QUANTITIES}

#: Step 1 and the article's headings, for reports.
STEP_TITLES: dict[int, str] = {
    1: "initialise weights and biases",
    2: "hidden layer input",
    3: "hidden layer activations",
    4: "output layer input and output",
    5: "error at the output",
    6: "slopes of both layers",
    7: "delta at the output layer",
    8: "error at the hidden layer",
    9: "delta at the hidden layer",
    10: "update the weights",
    11: "update the biases",
}


def shape_of(name: str, n_samples: int, n_features: int, n_hidden: int, n_outputs: int) -> tuple[int, int]:
    """The shape one epoch of ``name`` must have, from the case's dimensions."""
    per_sample = {"hidden_layer_input", "hiddenlayer_activations", "slope_hidden_layer", "Error_at_hidden_layer", "d_hiddenlayer"}
    per_output = {"output_layer_input", "output", "E", "slope_output_layer", "d_output"}
    fixed = {
        "wh": (n_features, n_hidden),
        "bh": (1, n_hidden),
        "wout": (n_hidden, n_outputs),
        "bout": (1, n_outputs),
        "X": (n_samples, n_features),
        "y": (n_samples, n_outputs),
    }
    if name in per_sample:
        return (n_samples, n_hidden)
    if name in per_output:
        return (n_samples, n_outputs)
    return fixed[name]
