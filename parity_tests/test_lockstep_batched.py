"""Lockstep calls each elementwise step once over a whole chunk (harness.R, lockstep_batched):
it must give, bit for bit, what one call per epoch gives, whatever the port's function does."""

from __future__ import annotations

import numpy as np
import pytest

from nnparity import steps
from nnparity.cases import load_case
from nnparity.port import StepFailure
from nnparity.ports import PythonPort, RPort

EPOCHS = 80  # batching is tried from 64 epochs a chunk (harness.R, lockstep_batched)


def python_chunk(case, epochs=EPOCHS):
    """Python's trace of the first `epochs` epochs and the weights they start from."""
    port = PythonPort()
    port.start(case)
    start = port.weights()
    return port.advance(epochs, True), start


def both_ways(r_port: RPort, case, trace, start) -> tuple[dict, dict]:
    """The lockstep of one chunk with elementwise steps batched, and with every step per epoch."""
    r_port.batch = True
    batched = r_port.lockstep(case, trace, start)
    r_port.batch = False
    per_epoch = r_port.lockstep(case, trace, start)
    return batched, per_epoch


def assert_same(batched: dict, per_epoch: dict) -> None:
    assert batched.keys() == per_epoch.keys(), "batching changed which steps were computed"
    for name, value in per_epoch.items():
        other = batched[name]
        if isinstance(value, StepFailure):
            assert other == value, f"{name}: per epoch {value}, batched {other}"
            continue
        assert isinstance(other, np.ndarray), f"{name}: per epoch an array, batched {other}"
        assert other.shape == value.shape and other.tobytes() == value.tobytes(), (
            f"{name}: batched lockstep differs from per-epoch calls in "
            f"{int(np.sum(other != value))} cells"
        )


@pytest.mark.parametrize("name", ["article", "all_different", "two_outputs", "saturated", "iris"])
def test_batched_lockstep_has_the_bits_of_per_epoch_calls(r_available, name):
    case = load_case(name)
    trace, start = python_chunk(case)
    assert_same(*both_ways(RPort(), case, trace, start))


def test_the_articles_elementwise_steps_are_each_called_once_over_the_whole_chunk(r_available):
    """Without this, the test above would pass with batching never used."""
    port, case = RPort(), load_case("article")
    trace, start = python_chunk(case)
    port.lockstep(case, trace, start)
    elementwise = [q.name for q in steps.QUANTITIES if not q.sums]
    assert port.batched_steps == elementwise, (
        f"r_impl's elementwise steps should each be one call over the chunk: {port.batched_steps}"
    )


#: Ways a step's code can read one cell of its input (epoch 23's, which the batched call's
#: checks do not look at): in its body, in an argument's default, in a port function it calls.
READS_A_CELL = {
    "in-its-body": ("{\n    slope <- derivatives_sigmoid(output)\n"
                    "    if (output[1, 1] == MARKER) slope <- slope * 1.01\n    slope\n  }"),
    "in-a-default": "derivatives_sigmoid(output) * scale",
    "in-a-helper": "nudged(derivatives_sigmoid(output), output)",
}


@pytest.mark.parametrize("where", READS_A_CELL)
def test_a_step_whose_code_reads_one_of_its_cells_is_called_per_epoch(
    r_available, port_copy, where
):
    """Wrong at one epoch by a test of its own first cell (epoch 23, which the batched call's
    checks do not look at): over a stack of epochs that cell is epoch 1's, so one call over
    the chunk gave the right value at every epoch and the mistake held parity."""
    case = load_case("all_different")
    trace, start = python_chunk(case)
    marker = repr(float(trace["output"][23 - 1, 0, 0]))
    step = (f"  slope_output_layer = function(output, scale = 1 + (output[1, 1] == {marker}) / 100)"
            " {\n" if where == "in-a-default" else "  slope_output_layer = function(output) {\n")
    helper = (f"\nnudged <- function(slope, output) {{\n  if (output[1, 1] == {marker}) "
              "slope * 1.01 else slope\n}\n")
    port = port_copy("r_impl", "steps.R",
                     "  slope_output_layer = function(output) {\n    derivatives_sigmoid(output)\n",
                     step + "    " + READS_A_CELL[where].replace("MARKER", marker) + "\n")
    if where == "in-a-helper":
        from tools.port_copy import change_once

        change_once(port, "activations.R", "x * (1 - x)\n}\n", "x * (1 - x)\n}\n" + helper)
    port = RPort(port)
    batched = port.lockstep(case, trace, start)
    assert "slope_output_layer" not in port.batched_steps, (
        "a step whose code reads a cell of its input was called once over the whole chunk"
    )
    port.batch = False
    assert_same(batched, port.lockstep(case, trace, start))


# Functions a port may give an elementwise step that are not elementwise, or not for a stack
# of epochs: each must fall back to per-epoch calls, with the same values or failures.
NOT_ELEMENTWISE = [
    ("max-of-all", "E * slope_output_layer * max(E)"),
    ("mean-of-all", "E * slope_output_layer - mean(E) + mean(E)"),
    ("rows-counted", "E * slope_output_layer * nrow(E) / 3"),
    ("first-row-zeroed", "{\n    d <- E * slope_output_layer\n    d[1, ] <- 0\n    d\n  }"),
    (
        "last-row-doubled",
        "{\n    d <- E * slope_output_layer\n    d[nrow(d), ] <- 2 * d[nrow(d), ]\n    d\n  }",
    ),
    ("cumulative", "matrix(cumsum(E * slope_output_layer), nrow(E))"),
    ("reshaped", "matrix(E * slope_output_layer, nrow = 3)"),
    ("a-matrix-product", "E %*% t(slope_output_layer) %*% slope_output_layer / 1e3"),
    ("errors-on-a-stack", '{\n    stopifnot(nrow(E) <= 3)\n    E * slope_output_layer\n  }'),
    (
        "warns-on-a-stack",
        '{\n    if (nrow(E) > 3) warning("many rows")\n    E * slope_output_layer\n  }',
    ),
    ("integers", "round(E * slope_output_layer * 1e3) + 0L"),
]


@pytest.mark.parametrize(
    "body", [body for _, body in NOT_ELEMENTWISE], ids=[name for name, _ in NOT_ELEMENTWISE]
)
def test_a_step_that_is_not_elementwise_falls_back_to_per_epoch_calls(r_available, port_copy, body):
    port = RPort(port_copy("r_impl", "steps.R", "    E * slope_output_layer\n", f"    {body}\n"))
    case = load_case("article")
    trace, start = python_chunk(case)
    batched, per_epoch = both_ways(port, case, trace, start)
    assert_same(batched, per_epoch)


def test_a_step_that_errors_is_named_with_its_epoch(r_available, port_copy):
    case = load_case("all_different")
    trace, start = python_chunk(case)
    epoch = 23  # an epoch the batched call is not checked on (1, 14, 27, 40, 54, 67, 80)
    marker = repr(float(trace["E"][epoch - 1, 0, 0]))
    body = (
        f'{{\n    if (any(E == {marker})) stop("diverged here")\n'
        "    E * slope_output_layer\n  }"
    )
    port = RPort(port_copy("r_impl", "steps.R", "    E * slope_output_layer\n", f"    {body}\n"))
    batched, per_epoch = both_ways(port, case, trace, start)
    failure = batched["d_output"]
    assert isinstance(failure, StepFailure), f"the erroring step gave {failure!r}"
    assert failure.epoch == epoch and "diverged here" in failure.message, failure
    assert_same(batched, per_epoch)


def test_arrays_from_r_are_python_copies_not_views_of_r_memory(r_available):
    """A view of an R vector dangles once R frees it; an [epochs, 1, 1] array (bout) is both
    column- and row-major, so a conversion that copies only to reorder would keep the view."""
    case = load_case("article")
    trace, start = python_chunk(case)
    port = RPort()
    port.start(case)
    returned = {**port.advance(EPOCHS, True), **port.lockstep(case, trace, start)}
    views = [name for name, value in returned.items() if not value.flags.owndata]
    assert not views, f"views of R's memory, not copies: {views}"


@pytest.mark.parametrize("signature", ["function(output, y)",
                                       "function(output, y, verbose = FALSE)"],
                         ids=["swapped", "swapped-with-an-optional-argument"])
def test_a_step_whose_arguments_are_its_inputs_names_gets_them_by_name_whatever_their_order(
    r_available, port_copy, signature
):
    """steps$E <- function(output, y) y - output, called by its train() as
    steps$E(y = y, output = output), is right: handed y and output in the step list's order
    (y, output) by position, it would compute output - y and read as a wrong formula. An
    argument of its own with a default (verbose = FALSE) changes nothing."""
    port = RPort(port_copy("r_impl", "steps.R", "E = function(y, output) {",
                           f"E = {signature} {{"))
    case = load_case("all_different")
    trace, start = python_chunk(case)
    for how, values in zip(("batched", "per epoch"), both_ways(port, case, trace, start),
                           strict=True):
        E = values["E"]
        assert isinstance(E, np.ndarray), f"{how}: steps$E gave {E!r}"
        assert E.tobytes() == trace["E"].tobytes(), (
            f"{how}: steps$E(output, y) was not handed its inputs by name: "
            f"{int(np.sum(E != trace['E']))} cells differ from Python's y - output"
        )
