"""The R bridge: one embedded R per process, reached through rpy2.

R code is sourced once per port; a training session keeps the case and the
weights inside R, and each chunk of epochs crosses the border once (arrays go
through rpy2's numpy2ri converter in a local converter context).
"""

from __future__ import annotations

import shutil
from functools import lru_cache
from pathlib import Path

import numpy as np

from . import steps
from .compare import StepFailure
from .paths import HARNESS_R, R_IMPL

FIX_R = "run `make setup` (it installs Debian's r-base-core and rpy2==3.5.17), or `apt-get install r-base-core`"


class RUnavailable(RuntimeError):
    """R, or an rpy2 that loads with it, cannot be had in this process."""


class PortError(RuntimeError):
    """An implementation failed while it ran; the message carries the language's own error."""


@lru_cache(maxsize=1)
def r():
    """The embedded R, started once per process, with harness.R sourced."""
    if shutil.which("R") is None and not _r_home_set():
        raise RUnavailable(f"R is not installed (no `R` on PATH and no R_HOME): {FIX_R}.")
    try:
        import rpy2.robjects as robjects
        from rpy2.robjects import numpy2ri
    except Exception as error:  # ImportError, or R failing to initialise inside rpy2
        raise RUnavailable(
            f"rpy2 does not load with the R found ({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}): "
            "run `pip install rpy2==3.5.17` (rpy2 3.6 needs R >= 4.5; Debian bookworm has R 4.2)."
        ) from None
    robjects.r["source"](str(HARNESS_R))
    return robjects, robjects.default_converter + numpy2ri.converter


def _r_home_set() -> bool:
    import os

    home = os.environ.get("R_HOME")
    return bool(home) and (Path(home) / "bin" / "R").exists()


def call(function: str, *args, **kwargs):
    """Call an R function with numpy conversion; R errors become PortError."""
    robjects, converter = r()
    from rpy2.rinterface_lib.embedded import RRuntimeError

    with converter.context():
        try:
            return robjects.r[function](*args, **kwargs)
        except RRuntimeError as error:
            raise PortError(str(error).strip()) from None


def port_files(path: Path | str | None) -> list[Path]:
    """The .R files that make up a port: a file, or every .R file in a folder but main.R.

    A folder inside a port's ``variants/`` is an overlay: the port's own files
    are sourced first, then the variant's, which redefine only what differs.
    """
    path = Path(path) if path is not None else R_IMPL
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such R file or folder")
    files = sorted(p for p in path.glob("*.R") if p.name != "main.R")
    if not files:
        raise FileNotFoundError(f"{path}: no .R files in this folder")
    if path.resolve().parent.name == "variants":
        return port_files(path.resolve().parent.parent) + files
    return files


class RPort:
    """An R implementation of the article's network, loaded into the embedded R."""

    language = "R"

    def __init__(self, path: Path | str | None = None):
        self.path = Path(path) if path is not None else R_IMPL
        files = [str(f) for f in port_files(self.path)]
        try:
            self.env = call("nnparity_load_port", np.array(files))
        except PortError as error:
            raise PortError(f"{self.path}: {error}") from None
        self.state = None
        # For lockstep: each recorded matrix's inputs, as the step list gives them.
        robjects, _ = r()
        self.quantities = robjects.ListVector({q.name: robjects.StrVector(q.inputs) for q in steps.QUANTITIES})

    @property
    def has_steps(self) -> bool:
        """Whether the port defines `steps` (one function per recorded matrix), which lockstep needs."""
        return bool(np.asarray(call("exists", "steps", envir=self.env, inherits=False))[0])

    def start(self, case) -> None:
        self.state = call("nnparity_start", self.env, case.X, case.y, case.wh, case.bh, case.wout, case.bout, float(case.lr))

    def advance(self, epochs: int, record: bool = True) -> dict[str, np.ndarray]:
        try:
            result = call("nnparity_advance", self.state, int(epochs), bool(record))
        except PortError as error:
            raise PortError(f"the R port {self.path} failed: {error}") from None
        return {name: np.ascontiguousarray(result[name], dtype=np.float64) for name in result.keys()}

    def lockstep(self, case, trace: dict[str, np.ndarray], start: dict[str, np.ndarray]) -> dict[str, np.ndarray | StepFailure]:
        """R's step functions applied to another trace's recorded inputs, all epochs in one call.

        A step whose R function errors or returns the wrong shape maps to a
        StepFailure (epoch within this chunk, R's message) instead of an array.
        """
        with_trace = _named_list({name: trace[name] for name in steps.NAMES})
        with_start = _named_list(start)
        try:
            result = call(
                "nnparity_lockstep", self.env, with_trace, with_start, case.X, case.y, float(case.lr),
                self.quantities, np.array(steps.STATE),
            )
        except PortError as error:
            raise PortError(f"the R port {self.path} failed in lockstep: {error}") from None
        # A step that failed in R is a finding about that step: it comes back
        # as a StepFailure in place of its array (see harness.R).
        values, problems = result["values"], result["problems"]
        out: dict = {name: np.ascontiguousarray(values[name], dtype=np.float64) for name in values.keys()}
        for name in problems.keys():
            failure = problems[name]
            out[name] = StepFailure(int(np.ravel(failure["epoch"])[0]), str(np.ravel(failure["message"])[0]))
        return out


def _named_list(arrays: dict[str, np.ndarray]):
    """An R named list of numeric arrays (converted with numpy2ri)."""
    robjects, converter = r()
    with converter.context():
        return robjects.ListVector({k: robjects.conversion.get_conversion().py2rpy(np.asarray(v, dtype=np.float64)) for k, v in arrays.items()})
