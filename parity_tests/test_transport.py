"""A second road out of R: Rscript writing its trace to files must agree bit for bit with rpy2.

The parity suite sees R's numbers through rpy2's numpy2ri converter. If that
conversion were wrong (a layout mix-up, a lost bit), both comparisons would be
checking a wrong trace. Here R runs alone (`Rscript r_impl/main.R --trace`),
reads the case from its CSV files, and writes .npy files; they must equal the
trace that came through rpy2, bit for bit.
"""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from nnparity import steps
from nnparity.paths import FIXTURES

EPOCHS = 25


@pytest.mark.parametrize("name", ["article", "two_outputs", "iris"])
def test_rscript_trace_files_equal_the_rpy2_trace_bit_for_bit(name, tmp_path, r_port):
    folder = FIXTURES / name
    result = subprocess.run(
        ["Rscript", str(FIXTURES.parent / "r_impl" / "main.R"), str(folder), str(EPOCHS), "--trace", str(tmp_path)],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, f"Rscript r_impl/main.R failed:\n{result.stderr}"
    from nnparity.cases import load_case

    r_port.start(load_case(folder))
    through_rpy2 = r_port.advance(EPOCHS)
    for matrix in steps.NAMES:
        from_file = np.load(tmp_path / f"{matrix}.npy")
        assert from_file.shape == through_rpy2[matrix].shape, f"{name}/{matrix}: file {from_file.shape}, rpy2 {through_rpy2[matrix].shape}"
        differs = np.argwhere(from_file.view(np.int64) != through_rpy2[matrix].view(np.int64))
        assert differs.size == 0, (
            f"{name}/{matrix}: Rscript and rpy2 disagree first at [epoch, row, col] {differs[0] + 1}: "
            f"file {from_file[tuple(differs[0])]!r}, rpy2 {through_rpy2[matrix][tuple(differs[0])]!r}"
        )
