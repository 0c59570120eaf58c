"""An R port may record each matrix as one array [epochs, rows, cols] or as the list of its epochs.

r_impl's train() fills a matrix [epochs, cells] one row per epoch and shapes it
[epochs, rows, cols] at the end (R writes a row of a matrix faster than a slice
of an array). A user's port may write the array's slices (``trace$E[i, , ]``) or
keep each epoch's matrix in a list (``trace$E[[i]]``, laid out by harness.R's
epochs_last): all must give the same trace, bit for bit, and an epoch a port
forgot to record must show as a wrong value at that epoch, as an unwritten cell
of an array does.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from nnparity import steps
from nnparity.ports import RPort
from parity_tests.test_supervision import nnparity

pytestmark = pytest.mark.usefixtures("r_available")

OURS = """      for (name in names(values)) {
        if (i == 1) {
          trace[[name]] <- matrix(NA_real_, epochs, length(values[[name]]))
        }
        trace[[name]][i, ] <- values[[name]]
        if (i == epochs) dim(trace[[name]]) <- c(epochs, dim(values[[name]]))
      }"""

LIST_RECORDING = """      for (name in names(values)) {
        if (i == 1) trace[[name]] <- vector("list", epochs)
        trace[[name]][[i]] <- values[[name]]
      }"""

ARRAY_RECORDING = """      for (name in names(values)) {
        if (i == 1) {
          trace[[name]] <- array(NA_real_, c(epochs, dim(values[[name]])))
        }
        trace[[name]][i, , ] <- values[[name]]
      }"""


def trained(port: RPort, case, chunks=(3, 4)) -> dict[str, np.ndarray]:
    """The port's trace over `chunks` (its weights carried between them), chunks end to end."""
    port.start(case)
    parts = [port.advance(size) for size in chunks]
    return {name: np.concatenate([part[name] for part in parts]) for name in steps.NAMES}


@pytest.mark.parametrize(
    "recording", [ARRAY_RECORDING, LIST_RECORDING], ids=["array-slices", "list-of-epochs"]
)
def test_an_r_ports_way_of_recording_does_not_change_its_trace(port_copy, case, recording):
    other = RPort(port_copy("r_impl", "train.R", OURS, recording))
    expected = trained(RPort(), case)
    got = trained(other, case)
    for name in steps.NAMES:
        np.testing.assert_array_equal(
            got[name],
            expected[name],
            err_msg=f"{case.name}: {name} recorded another way differs from r_impl's "
            "(harness.R epochs_last, bridge.py_arrays)",
            strict=True,
        )


def test_an_epoch_the_port_did_not_record_fails_parity_at_that_epoch(port_copy, tmp_path):
    skips_third = LIST_RECORDING.replace(
        "trace[[name]][[i]] <- values[[name]]", "if (i != 3) trace[[name]][[i]] <- values[[name]]"
    )
    port = port_copy("r_impl", "train.R", OURS, skips_third)
    result = nnparity(
        "run", "--epochs", "5", "--mode", "free", "--json", "--r-impl", str(port), cwd=tmp_path
    )
    assert result.returncode == 1, result.stdout + result.stderr
    first = json.loads(result.stdout)["modes"]["free"]["first_difference"]
    assert (first["epoch"], first["matrix"]) == (3, "hidden_layer_input"), (
        f"an epoch left unrecorded should read NA and fail at epoch 3, its first matrix: {first}"
    )
