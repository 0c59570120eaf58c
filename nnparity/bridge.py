"""The R transport: one embedded R per process, reached through rpy2.

Only a transport: R errors become PortError where they are raised, and the
R port (r_port.py) says which port and what it was doing. Arrays cross through
rpy2's numpy2ri converter in a local converter context.
"""

from __future__ import annotations

import os
import shutil
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np

from .paths import HARNESS_R
from .port import PortError

FIX_R = (
    "run `make setup` (it installs Debian's r-base-core and rpy2==3.5.17), "
    "or `apt-get install r-base-core`"
)


class RUnavailable(RuntimeError):
    """R, or an rpy2 that loads with it, cannot be had in this process."""


@lru_cache(maxsize=1)
def r():
    """The embedded R, started once per process, with harness.R sourced."""
    home = os.environ.get("R_HOME")
    home_has_r = bool(home) and (Path(home) / "bin" / "R").exists()
    if shutil.which("R") is None and not home_has_r:
        where = f" and R_HOME={home} holds no bin/R" if home else " and no R_HOME"
        raise RUnavailable(f"R is not installed (no `R` on PATH{where}): {FIX_R}.")
    if home and not home_has_r:
        # rpy2 would start R there anyway, and R would end the process with
        # "Fatal error: unable to open the base package".
        raise RUnavailable(
            f"R_HOME={home} holds no R (no {Path(home) / 'bin' / 'R'}): unset R_HOME, "
            "or set it to what `R RHOME` prints."
        )
    # Starting R rewrites this process's LD_LIBRARY_PATH with R's own folders first
    # ($R_HOME/etc/ldpaths); every process started after it (the ports' workers, an
    # Rscript) would then load the system's libblas.so.3, not the one the user chose
    # for this process (docs/blas.md). This process's loader read it at start-up: the
    # user's value is put back.
    library_path = os.environ.get("LD_LIBRARY_PATH")
    try:
        import rpy2.robjects as robjects
        from rpy2.rinterface_lib import callbacks
        from rpy2.robjects import numpy2ri
    except Exception as error:  # ImportError, or R failing to initialise inside rpy2
        first = str(error).splitlines()[0] if str(error) else ""
        raise RUnavailable(
            f"rpy2 does not load with the R found ({type(error).__name__}: {first}): "
            "run `pip install rpy2==3.5.17` (rpy2 3.6 needs R >= 4.5; Debian bookworm has R 4.2)."
        ) from None
    if library_path is None:
        os.environ.pop("LD_LIBRARY_PATH", None)
    else:
        os.environ["LD_LIBRARY_PATH"] = library_path
    # R's echo of an error ("Error in ...", written through the console) would add
    # lines to every failure, whose message reaches Python as an RRuntimeError
    # anyway: what R writes to its error stream is held until the call ends, and
    # passed on to stderr only when the call succeeded (a port's message()s).
    callbacks.consolewrite_warnerror = _held.append
    callbacks.consolewrite_print = lambda text: sys.stderr.write(
        text
    )  # a port's print() goes to stderr
    robjects.r["source"](str(HARNESS_R))
    return robjects, robjects.default_converter + numpy2ri.converter


_held: list[str] = []


def call(function: str, *args, **kwargs):
    """Call an R function with numpy conversion; R errors become PortError (one line)."""
    robjects, converter = r()
    from rpy2.rinterface_lib.embedded import RRuntimeError

    _held.clear()
    with converter.context():
        try:
            value = robjects.r[function](*args, **kwargs)
        except RRuntimeError as error:
            _held.clear()
            raise PortError(r_error_text(str(error))) from None
    if _held:
        sys.stderr.write("".join(_held))
        _held.clear()
    return value


def named_list(arrays: dict[str, np.ndarray]):
    """An R named list of numeric arrays (converted with numpy2ri)."""
    robjects, converter = r()
    with converter.context():
        convert = robjects.conversion.get_conversion().py2rpy
        return robjects.ListVector(
            {k: convert(np.asarray(v, dtype=np.float64)) for k, v in arrays.items()}
        )


def r_error_text(text: str) -> str:
    """R's error as one line: "Error in f(x) : message" reads "message (in f(x))"."""
    text = " ".join(text.split())
    if text.startswith("Error: "):
        return text.removeprefix("Error: ")
    if text.startswith("Error in ") and " : " in text:
        where, message = text.removeprefix("Error in ").split(" : ", 1)
        return f"{message} (in {where})"
    return text
