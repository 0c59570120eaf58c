"""Which BLAS each language loaded, and how to start R on another one for one process.

numpy brings its own OpenBLAS (in the wheel); R uses whatever ``libblas.so.3``
the dynamic loader finds. Debian's OpenBLAS and BLIS packages put theirs in a
folder of their own (``/usr/lib/<arch>/openblas-pthread/``, ``.../blis-pthread/``),
so ``LD_LIBRARY_PATH=<that folder>`` switches the BLAS of the R embedded in one
Python process without touching the system's alternatives (docs/blas.md).

Rscript is different: R's start-up script (``$R_HOME/etc/ldpaths``) puts R's own
library folders *before* the caller's LD_LIBRARY_PATH, so an Rscript started
with only LD_LIBRARY_PATH set finds the system's libblas.so.3 first. Giving it
``R_LD_LIBRARY_PATH`` with the folder first (``rscript_env``) makes it load the
same library as the embedded R.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def numpy_blas(r_blas: str | None = None) -> list[dict]:
    """threadpoolctl's view of the BLAS numpy loaded: library, version, threads, kernels.

    The embedded R's BLAS lives in the same process: libraries in the folder of
    `r_blas` (its file, as R names it: Debian's libblas.so.3 of OpenBLAS is a
    small library that loads libopenblas beside it) are left out. Empty without
    threadpoolctl.
    """
    import numpy  # noqa: F401  (loads numpy's BLAS)

    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    r_dir = Path(r_blas).resolve().parent if r_blas else None
    return [
        info for info in threadpool_info()
        if info.get("user_api") == "blas" and Path(info["filepath"]).resolve().parent != r_dir
    ]


def numpy_blas_line(r_blas: str | None = None) -> str:
    """One line: numpy's BLAS as loaded, e.g. 'openblas 0.3.31 (SkylakeX kernels, 2 threads)'."""
    found = numpy_blas(r_blas)
    if not found:
        return "unknown (threadpoolctl not installed)"
    return "; ".join(
        f"{info['internal_api']} {info.get('version')} ({info.get('architecture') or '?'} kernels, "
        f"{info['num_threads']} threads)"
        for info in found
    )


def r_library_dir() -> Path | None:
    """The folder the embedded R's libblas.so.3 was loaded from, or None when R is not available."""
    from .fingerprint import fingerprint

    blas = fingerprint().get("R BLAS")
    return Path(blas).parent if blas and blas.startswith("/") else None


def rscript_env(blas_dir: Path | str | None, env: dict | None = None) -> dict:
    """An environment in which Rscript loads its BLAS from `blas_dir` (None: as it would anyway)."""
    env = dict(os.environ if env is None else env)
    if blas_dir is None:
        return env
    home = subprocess.run(["R", "RHOME"], capture_output=True, text=True, check=True).stdout.strip()
    # ldpaths' default, with the BLAS folder first: R_HOME/lib and the multiarch folder.
    default = [f"{home}/lib", str(Path(blas_dir).parent)]
    env["R_LD_LIBRARY_PATH"] = ":".join([str(blas_dir), *default])
    return env


def rscript_blas(env: dict) -> str:
    """The BLAS an Rscript started with `env` loads (R's extSoftVersion())."""
    command = ["Rscript", "-e", 'cat(extSoftVersion()[["BLAS"]])']
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return result.stdout.strip()
