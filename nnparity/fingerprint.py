"""The environment a parity verdict was reached in.

Rounding differences depend on the BLAS each language uses, so a failure
message that does not say which BLAS ran cannot be reproduced by a stranger.
The R side is read in the process R runs in (a worker, for `nnparity run`).
"""

from __future__ import annotations

import platform
from functools import lru_cache

import numpy as np


def python_side() -> dict[str, str]:
    config = np.show_config(mode="dicts")
    blas = config.get("Build Dependencies", {}).get("blas", {})
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numpy BLAS": blas.get("openblas configuration")
        or f"{blas.get('name', '?')} {blas.get('version', '')}".strip(),
        "machine": f"{platform.system()} {platform.machine()}",
    }


def r_side() -> dict[str, str]:
    """R's version and libraries, read from the embedded R of this process."""
    from . import bridge, installation

    try:
        robjects, _ = bridge.r()
        import rpy2

        # rpy2's own: importlib.metadata (installation.rpy2_version) is 17 ms of imports in R's
        # worker, which answers this before its first chunk (traces._Runner.start)
        version = getattr(rpy2, "__version__", None) or installation.rpy2_version()
        return {
            "rpy2": version or "?",
            "R": str(robjects.r("R.version.string")[0]),
            "R BLAS": str(robjects.r('extSoftVersion()[["BLAS"]]')[0]),
            "R LAPACK": str(robjects.r("La_library()")[0]),
        }
    except Exception as error:  # the fingerprint must never hide the verdict it accompanies
        return {"R": f"unavailable ({type(error).__name__})"}


@lru_cache(maxsize=1)
def _in_process() -> dict[str, str]:
    return {**python_side(), **r_side()}


def fingerprint(r_info: dict[str, str] | None = None) -> dict[str, str]:
    """Python's side read here; R's from ``r_info`` (a worker's r_side()) or this process's R."""
    info = _in_process() if r_info is None else {**python_side(), **r_info}
    from .blas import numpy_blas_line

    # numpy's BLAS as loaded: its threads and kernels change the last bits.
    return {**info, "numpy BLAS loaded": numpy_blas_line(info.get("R BLAS"))}


def one_line(info: dict[str, str] | None = None) -> str:
    return "; ".join(f"{key} {value}" for key, value in (info or fingerprint()).items())
