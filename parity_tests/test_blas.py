"""R on another BLAS for one process (docs/blas.md): what the process starts after R keeps it."""

from __future__ import annotations

import os
import subprocess
import sys

from nnparity import blas

SHOW = (
    "import os; from nnparity.bridge import r; r(); "
    "print(os.environ.get('LD_LIBRARY_PATH'))"
)


def test_starting_r_leaves_ld_library_path_as_the_user_set_it(r_available):
    """R's start-up puts its own folders first; the ports' workers would then load the system's
    BLAS instead of the one this process was started on."""
    folder = str(blas.r_library_dir())
    env = dict(os.environ, LD_LIBRARY_PATH=folder)
    result = subprocess.run([sys.executable, "-c", SHOW], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == folder, f"after R started, LD_LIBRARY_PATH is {result.stdout}"


def test_rscript_can_be_started_on_the_embedded_rs_blas(r_available):
    folder = blas.r_library_dir()
    loaded = blas.rscript_blas(blas.rscript_env(folder))
    assert os.path.dirname(loaded) == str(folder), f"Rscript loaded {loaded}, R here {folder}"
