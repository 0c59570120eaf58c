"""The environment a parity verdict was reached in.

Rounding differences depend on the BLAS each language uses, so a failure
message that does not say which BLAS ran cannot be reproduced by a stranger.
"""

from __future__ import annotations

import platform
from functools import lru_cache

import numpy as np


@lru_cache(maxsize=1)
def fingerprint() -> dict[str, str]:
    from . import bridge

    config = np.show_config(mode="dicts")
    blas = config.get("Build Dependencies", {}).get("blas", {})
    info = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numpy BLAS": blas.get("openblas configuration")
        or f"{blas.get('name', '?')} {blas.get('version', '')}".strip(),
        "machine": f"{platform.system()} {platform.machine()}",
    }
    try:
        import rpy2

        robjects, _ = bridge.r()
        info["rpy2"] = rpy2.__version__
        info["R"] = str(robjects.r("R.version.string")[0])
        info["R BLAS"] = str(robjects.r('extSoftVersion()[["BLAS"]]')[0])
        info["R LAPACK"] = str(robjects.r("La_library()")[0])
    except Exception as error:  # the fingerprint must never hide the verdict it accompanies
        info["R"] = f"unavailable ({type(error).__name__})"
    from .blas import numpy_blas_line

    # numpy's BLAS as loaded: its threads and kernels change the last bits.
    info["numpy BLAS loaded"] = numpy_blas_line(info.get("R BLAS"))
    return info


def one_line() -> str:
    return "; ".join(f"{key} {value}" for key, value in fingerprint().items())
