"""An R port records each matrix as a list of its epochs (r_impl) or as one array.

r_impl's train() keeps each epoch's matrix in a list (``trace$E[[i]]``): no
copy per cell, where writing into an array [epochs, rows, cols] costs R's
``[<-`` per cell. A user's port may still record arrays; both must give the
same trace, bit for bit, and an epoch a port forgot to record must show as a
wrong value at that epoch, as an unwritten cell of an array does.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from nnparity import steps
from nnparity.ports import RPort
from parity_tests.test_supervision import nnparity

pytestmark = pytest.mark.usefixtures("r_available")

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


def test_an_r_port_recording_arrays_gives_the_trace_of_one_recording_lists(port_copy, case):
    arrays = RPort(port_copy("r_impl", "train.R", LIST_RECORDING, ARRAY_RECORDING))
    expected = trained(RPort(), case)
    got = trained(arrays, case)
    for name in steps.NAMES:
        np.testing.assert_array_equal(
            got[name],
            expected[name],
            err_msg=f"{case.name}: {name} recorded as an array [epochs, rows, cols] differs from "
            "the same port recording a list of epochs (harness.R epochs_last, bridge.py_arrays)",
            strict=True,
        )


def test_an_epoch_the_port_did_not_record_fails_parity_at_that_epoch(port_copy, tmp_path):
    skips_third = LIST_RECORDING.replace(
        "trace[[name]][[i]] <- values[[name]]", "if (i != 3) trace[[name]][[i]] <- values[[name]]"
    )
    port = port_copy("r_impl", "train.R", LIST_RECORDING, skips_third)
    result = nnparity(
        "run", "--epochs", "5", "--mode", "free", "--json", "--r-impl", str(port), cwd=tmp_path
    )
    assert result.returncode == 1, result.stdout + result.stderr
    first = json.loads(result.stdout)["modes"]["free"]["first_difference"]
    assert (first["epoch"], first["matrix"]) == (3, "hidden_layer_input"), (
        f"an epoch left unrecorded should read NA and fail at epoch 3, its first matrix: {first}"
    )
