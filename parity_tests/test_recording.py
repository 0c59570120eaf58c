"""An R port may record each matrix as one array [epochs, rows, cols] or as the list of its epochs.

r_impl's train() keeps each epoch's matrix in a list (``trace$E[[i]]``: harness.R's
epochs_last lays a small matrix's epochs end to end, and leaves a large one's list for
bridge.py_arrays to copy epoch by epoch). A user's port may instead write an array's
slices (``trace$E[i, , ]``) or a matrix [epochs, cells] one row per epoch, shaped
[epochs, rows, cols] at the end: all must give the same trace, bit for bit, and an
epoch a port forgot to record must show as a wrong value at that epoch, as an
unwritten cell of an array does.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from nnparity import bridge, steps
from nnparity.cells import Unrecorded
from nnparity.paths import FIXTURES
from nnparity.ports import PythonPort, RPort
from parity_tests.test_supervision import nnparity

sys.path.insert(0, str(FIXTURES))
from generate import generated  # noqa: E402

pytestmark = pytest.mark.usefixtures("r_available")


OURS = LIST_RECORDING = """      for (name in names(values)) {
        if (i == 1) trace[[name]] <- vector("list", epochs)
        trace[[name]][[i]] <- values[[name]]
      }"""

ROWS_RECORDING = """      for (name in names(values)) {
        if (i == 1) {
          trace[[name]] <- matrix(NA_real_, epochs, length(values[[name]]))
        }
        trace[[name]][i, ] <- values[[name]]
        if (i == epochs) dim(trace[[name]]) <- c(epochs, dim(values[[name]]))
      }"""

ARRAY_RECORDING = """      for (name in names(values)) {
        if (i == 1) {
          trace[[name]] <- array(NA_real_, c(epochs, dim(values[[name]])))
        }
        trace[[name]][i, , ] <- values[[name]]
      }"""


def wide_case():
    """200 samples x 8 hidden units: the hidden layer's matrices (1,600 cells) reach Python as
    the list of their epochs (harness.R's epochs_list_cells), the output layer's (200 cells)
    laid end to end in R; a run of this case takes both ways."""
    return generated("wide", 20261206, 200, 6, 8, 1, 0.01, 7, "two ways out of R in one run")


#: The other ways a port may record, each held to r_impl's trace bit for bit.
OTHER_WAYS = pytest.mark.parametrize(
    "recording", [ARRAY_RECORDING, ROWS_RECORDING], ids=["array-slices", "rows-of-cells"]
)

#: r_impl's recording, forgetting the third epoch of every matrix.
SKIPS_THIRD = LIST_RECORDING.replace(
    "trace[[name]][[i]] <- values[[name]]", "if (i != 3) trace[[name]][[i]] <- values[[name]]"
)


def assert_same_trace(got: dict, expected: dict, what: str) -> None:
    """Every recorded matrix bit for bit; `what` says, in the failure, what differs from what."""
    for name in steps.NAMES:
        np.testing.assert_array_equal(
            got[name], expected[name], err_msg=f"{name}: {what}", strict=True
        )


def trained(port: RPort, case, chunks=(3, 4)) -> dict[str, np.ndarray]:
    """The port's trace over `chunks` (its weights carried between them), chunks end to end."""
    port.start(case)
    parts = [port.advance(size) for size in chunks]
    return {name: np.concatenate([part[name] for part in parts]) for name in steps.NAMES}


@OTHER_WAYS
def test_an_r_ports_way_of_recording_does_not_change_its_trace(port_copy, case, recording):
    other = RPort(port_copy("r_impl", "train.R", OURS, recording))
    expected = trained(RPort(), case)
    assert_same_trace(
        trained(other, case), expected,
        f"{case.name}: recorded another way differs from r_impl's "
        "(harness.R epochs_last, bridge.py_arrays)",
    )


@OTHER_WAYS
def test_a_large_matrix_read_epoch_by_epoch_equals_one_laid_out_in_r(port_copy, recording):
    case = wide_case()
    assert case.X.shape[0] * case.wh.shape[1] >= bridge.epochs_list_cells() > case.X.shape[0], (
        "the wide case no longer takes both ways out of R: see harness.R's epochs_list_cells"
    )
    other = RPort(port_copy("r_impl", "train.R", OURS, recording))
    assert_same_trace(
        trained(RPort(), case), trained(other, case),
        "r_impl's list of epochs, read epoch by epoch when large (bridge.py_arrays), "
        "differs from the same values recorded as one array",
    )


@pytest.mark.parametrize("epochs", [7, 70], ids=["called-per-epoch", "batched"])
def test_lockstep_takes_a_large_matrix_as_its_list_of_epochs_as_it_takes_one_array(
    monkeypatch, epochs
):
    case = wide_case()
    python = PythonPort()
    python.start(case)
    trace = python.advance(epochs)
    from rpy2 import rinterface

    hidden = bridge.r_epochs_last(trace["hidden_layer_input"])
    assert isinstance(hidden, rinterface.ListSexpVector) and len(hidden) == epochs, (
        "the wide case's hidden layer should go to lockstep as the list of its epochs"
    )
    port = RPort()
    as_lists = port.lockstep(case, trace, case.state())  # hidden layer: a list per matrix
    monkeypatch.setattr(bridge, "epochs_list_cells", lambda: 2**62)
    as_arrays = port.lockstep(case, trace, case.state())  # every matrix one array
    failed = {k: v for k, v in {**as_lists, **as_arrays}.items() if not isinstance(v, np.ndarray)}
    assert not failed, f"lockstep failed a step: {failed}"
    assert_same_trace(
        as_lists, as_arrays,
        "lockstep fed a large matrix as the list of its epochs (bridge.r_epochs_last) differs "
        "from lockstep fed the same values as one array [rows, cols, epochs]",
    )


def test_an_epoch_a_port_left_unrecorded_is_marked_as_such(port_copy):
    """It read NA, and the comparison said R had produced NA there."""
    port = RPort(port_copy("r_impl", "train.R", OURS, SKIPS_THIRD))
    port.start(wide_case())
    trace = port.advance(4)
    assert trace["hidden_layer_input"] == Unrecorded(3), (
        f"epoch 3, left NULL in a large matrix's list: {trace['hidden_layer_input']!r}"
    )
    assert trace["output"] == Unrecorded(3), f"and in a small one's: {trace['output']!r}"


def test_an_epoch_the_port_did_not_record_fails_parity_at_that_epoch_naming_it(
    port_copy, tmp_path
):
    port = port_copy("r_impl", "train.R", OURS, SKIPS_THIRD)
    result = nnparity(
        "run", "--epochs", "5", "--mode", "free", "--json", "--r-impl", str(port), cwd=tmp_path
    )
    assert result.returncode == 1, result.stdout + result.stderr
    document = json.loads(result.stdout)
    verdict = document["verdict"]
    assert "First: epoch 3, step 2 (hidden_layer_input)" in verdict, verdict
    assert "recorded no hidden_layer_input at epoch 3" in verdict, verdict
    assert document["determinism"]["R"]["same_bits"] is not False, (
        f"an unrecorded epoch was taken for run-to-run noise: {document['determinism']['R']}"
    )


#: bh (1 x 3 on the article) recorded transposed at epoch 3 only: the same three cells in the
#: same order, so read in epoch 1's shape it would hold parity.
TRANSPOSES_THIRD = LIST_RECORDING.replace(
    "trace[[name]][[i]] <- values[[name]]",
    "trace[[name]][[i]] <- if (i == 3 && name == \"bh\") t(values[[name]]) else values[[name]]",
)


def test_an_epoch_recorded_in_another_shape_than_the_first_is_refused_naming_it(
    port_copy, tmp_path
):
    port = port_copy("r_impl", "train.R", OURS, TRANSPOSES_THIRD)
    result = nnparity(
        "run", "--epochs", "5", "--mode", "free", "--json", "--r-impl", str(port), cwd=tmp_path
    )
    assert result.returncode == 1, (
        f"a trace whose bh is 3 x 1 at epoch 3 and 1 x 3 elsewhere should fail the run, not be "
        f"read in epoch 1's shape (exit {result.returncode}): {result.stdout + result.stderr}"
    )
    said = json.loads(result.stdout)["error"]["message"]
    assert "a 3 x 1 matrix as epoch 3 of bh" in said and "epoch 1's is 1 x 3" in said, said


#: Every epoch recorded into an array, which the port then marks with the attribute the
#: harness uses for an epoch left NULL in a list ("unrecorded").
MARKS_ITS_ARRAY = ARRAY_RECORDING.replace(
    "trace[[name]][i, , ] <- values[[name]]",
    "trace[[name]][i, , ] <- values[[name]]\n"
    "        if (i == epochs) attr(trace[[name]], \"unrecorded\") <- 2L",
)


def test_a_ports_own_attribute_named_as_the_harnesss_marks_means_nothing(port_copy, tmp_path):
    # The run failed: "the R port recorded no E at epoch 2 (its trace's list holds NULL there)".
    port = port_copy("r_impl", "train.R", OURS, MARKS_ITS_ARRAY)
    result = nnparity("run", "--epochs", "5", "--mode", "free", "--r-impl", str(port),
                      cwd=tmp_path)
    assert result.returncode == 0, (
        "a port recording every epoch, its arrays carrying an attribute 'unrecorded' of its "
        f"own, was said to have left an epoch unrecorded: {result.stdout + result.stderr}"
    )


def test_r_memory_read_through_rs_c_api_equals_what_rpy2s_objects_read(monkeypatch):
    port = RPort()
    port.start(wide_case())
    fast = port.advance(3)
    monkeypatch.setattr(bridge, "_c_api", lambda: None)  # rpy2's objects only
    port.start(wide_case())
    assert_same_trace(
        fast, port.advance(3),
        "a chunk read through R's C API (bridge._c_api) differs from the same chunk read "
        "through rpy2's objects",
    )


@pytest.mark.parametrize(
    "epoch", ["1:12", "as.double(1:11)"], ids=["integers", "too-few-doubles"]
)
def test_a_list_of_epochs_with_an_epoch_of_the_wrong_kind_is_never_read_past_its_end(epoch):
    robjects, _ = bridge.r()
    listed = robjects.r(f"""
        epochs <- list(matrix(as.double(1:12), 3), {epoch})
        attr(epochs, "epochs_list") <- c(3L, 4L)
        list(E = epochs)
    """)
    assert bridge.py_arrays(listed) is None, (
        "an epoch that is not doubles of the list's marked shape should send the list to "
        "rpy2's own conversion (py_arrays None), not be read as 12 doubles"
    )


@pytest.mark.parametrize(
    "array",
    [
        np.arange(12.0).reshape(3, 4),
        np.asfortranarray(np.arange(12.0).reshape(3, 4)),
        np.arange(60.0).reshape(3, 4, 5)[:, ::2, 1:],
        np.zeros((0, 3)),
    ],
    ids=["c-order", "fortran-order", "strided-3d", "empty"],
)
def test_an_array_written_into_r_through_rs_c_api_equals_rpy2s_copy(monkeypatch, array):
    robjects, _ = bridge.r()
    as_r = robjects.r("function(x) list(values = as.vector(x), dim = dim(x))")
    written = as_r(bridge.r_array(array))
    monkeypatch.setattr(bridge, "_c_api", lambda: None)  # rpy2's FloatSexpVector only
    copied = as_r(bridge.r_array(array))
    for part in ("values", "dim"):
        assert list(written.rx2(part)) == list(copied.rx2(part)), (
            f"{part}: an array written into R's memory in R's order (bridge._r_doubles) "
            "differs from rpy2's copy of its column-major copy"
        )
    assert list(written.rx2("dim")) == list(array.shape)
    np.testing.assert_array_equal(
        np.array(written.rx2("values")), np.ravel(array, order="F"), strict=False
    )


def test_lockstep_writes_each_chunks_inputs_into_the_same_r_vectors_with_the_same_bits():
    case = wide_case()  # the hidden layer's inputs go as lists of epochs, the output's as arrays
    python = PythonPort()
    python.start(case)
    reused, start, held = RPort(), case.state(), {}
    for epochs in (3, 3, 1):  # the second chunk takes the first one's vectors; the last, new ones
        trace = python.advance(epochs)
        got = reused.lockstep(case, trace, start)
        fresh = RPort().lockstep(case, trace, start)  # R vectors made for this chunk
        assert_same_trace(
            got, fresh,
            f"lockstep of a {epochs}-epoch chunk whose inputs were written into the R vectors "
            "of the chunk before (bridge.LockstepInputs) differs from lockstep on new ones",
        )
        if held:
            same = {name: reused.lockstep_inputs.held[name][1] is value
                    for name, value in held.items()}
            assert all(same.values()) == (epochs == 3), (
                f"a chunk of {epochs} epochs after one of 3: which inputs went into the R vectors "
                f"of the chunk before: {same}"
            )
        held = {name: value for name, (_, value, _) in reused.lockstep_inputs.held.items()}
        start = python.weights()


#: r_impl's step E, and the same step returning its input
E_RETURNS_OUTPUT = "    y - output\n", "    output\n"


def test_a_step_returning_its_input_keeps_its_chunks_values_once_the_next_chunk_is_written(
    port_copy,
):
    case = wide_case()
    python = PythonPort()
    python.start(case)
    port = RPort(port_copy("r_impl", "steps.R", *E_RETURNS_OUTPUT))
    first = python.advance(3)
    values = port.lockstep(case, first, case.state())
    start = python.weights()
    port.lockstep(case, python.advance(3), start)
    np.testing.assert_array_equal(
        values["E"], first["output"], strict=True,
        err_msg="lockstep's E of the first chunk (the step returns R's vector of its input) "
        "changed when the second chunk's inputs were written into the same R vectors",
    )
