"""A second road out of R: Rscript writing its trace to files must agree bit for bit with rpy2.

The parity suite sees R's numbers through rpy2's numpy2ri converter. If that
conversion were wrong (a layout mix-up, a lost bit), both comparisons would be
checking a wrong trace. Here R runs alone (`Rscript r_impl/main.R --trace`),
reads the case from its CSV files, and writes .npy files; they must equal the
trace that came through rpy2, bit for bit.

Bit for bit needs the same BLAS on both roads, and a BLAS that gives the same
bits twice. Rscript is started on the embedded R's BLAS (``blas.rscript_env``:
R's start-up script would otherwise put the system's libblas.so.3 first, and an
R embedded on OpenBLAS would be compared with an Rscript on the reference BLAS);
when R's port does not give the same bits twice on this BLAS (determinism.py),
two runs can only agree within the free-running bound, and that is what is checked.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from nnparity import blas, determinism, steps
from nnparity.cases import load_case
from nnparity.compare import Comparison
from nnparity.paths import FIXTURES

EPOCHS = 25


@pytest.mark.parametrize("name", ["article", "two_outputs", "iris"])
def test_rscript_trace_files_equal_the_rpy2_trace_on_the_same_blas(name, tmp_path, r_port):
    folder = FIXTURES / name
    case = load_case(folder)
    env = blas.rscript_env(blas.r_library_dir())
    embedded = Path(blas.r_library_dir() or "?")
    loaded = Path(blas.rscript_blas(env)).parent
    assert loaded == embedded, f"Rscript's BLAS is from {loaded}, the embedded R's from {embedded}"
    result = subprocess.run(
        [
            "Rscript",
            str(FIXTURES.parent / "r_impl" / "main.R"),
            str(folder),
            str(EPOCHS),
            "--trace",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 0, f"Rscript r_impl/main.R failed:\n{result.stderr}"
    same_bits = determinism.check(r_port, case)
    r_port.start(case)
    through_rpy2 = r_port.advance(EPOCHS)
    if not same_bits.same_bits:  # a BLAS that does not repeat its bits: within the policy's bound
        comparison = Comparison(case, "free")
        from_files = {matrix: np.load(tmp_path / f"{matrix}.npy") for matrix in steps.NAMES}
        comparison.add(from_files, through_rpy2, EPOCHS, case.state())
        report = comparison.report()
        beyond = report.first_violation
        assert report.passed, f"{name}: {same_bits.describe()}; Rscript and rpy2 differ: {beyond}"
        return
    for matrix in steps.NAMES:
        from_file = np.load(tmp_path / f"{matrix}.npy")
        assert from_file.shape == through_rpy2[matrix].shape, (
            f"{name}/{matrix}: file {from_file.shape}, rpy2 {through_rpy2[matrix].shape}"
        )
        differs = np.argwhere(from_file.view(np.int64) != through_rpy2[matrix].view(np.int64))
        assert differs.size == 0, (
            f"{name}/{matrix}: Rscript and rpy2 disagree first at [epoch, row, col] "
            f"{differs[0] + 1}: "
            f"file {from_file[tuple(differs[0])]!r}, rpy2 "
            f"{through_rpy2[matrix][tuple(differs[0])]!r}"
        )
