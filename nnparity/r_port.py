"""An R implementation of the article's network (ours, r_impl/, or a user's), in the embedded R.

R code is sourced once per port; a training session keeps the case and the
weights inside R, and each chunk of epochs crosses the border once.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import steps
from .bridge import (
    LockstepInputs,
    call,
    converted,
    named_list,
    py_arrays,
    r,
    unrecorded_epochs,
)
from .cells import Unrecorded
from .paths import R_IMPL, R_VARIANTS
from .port import BorderError, Port, PortError, StepFailure, check_trace


def port_files(path: Path | str | None) -> list[Path]:
    """The .R files that make up a port: a file; a folder's load.R, which says which of its files
    make the port (as r_impl/load.R does); or else every .R file in the folder but main.R.

    A folder inside r_impl's ``variants/`` (``--r-variant``) is an overlay: r_impl's own
    files are sourced first, then the variant's, which redefine only what differs. Only
    r_impl's: a user's port in a folder of theirs named ``variants`` is that folder's files
    alone (the folder above it, whatever .R files it holds, is not sourced).
    """
    path = Path(path) if path is not None else R_IMPL
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such R file or folder")
    files = [path / "load.R"] if (path / "load.R").is_file() else sorted(
        p for p in path.glob("*.R") if p.name != "main.R"
    )
    if not files:
        raise FileNotFoundError(f"{path}: no .R files in this folder")
    if path.resolve().parent == R_VARIANTS.resolve():
        return port_files(R_IMPL) + files
    return files


def _as_dict(value) -> dict | None:
    """A named R list as a dict (rpy2 3.5 gives an OrdDict, 3.6 a NamedList); None otherwise."""
    keys = getattr(value, "keys", None)
    if keys is None:
        return None
    return {name: value[name] for name in keys()}


class RPort(Port):
    """An R implementation of the article's network, loaded into the embedded R."""

    language = "R"

    def __init__(self, path: Path | str | None = None):
        super().__init__(path if path is not None else R_IMPL)
        # absolute: a port file's setwd() moves R's folder before the next file is sourced
        files = [str(f.absolute()) for f in port_files(self.path)]
        try:
            self.env = call("nnparity_load_port", np.array(files))
        except PortError as error:
            raise PortError(f"{self.path}: {error}") from None
        self.state = None
        # For lockstep: each recorded matrix's inputs, as the step list gives them.
        robjects, _ = r()
        self.quantities = robjects.ListVector(
            {q.name: robjects.StrVector(q.inputs) for q in steps.QUANTITIES}
        )
        # The steps the step list says are elementwise: lockstep calls each once over the
        # chunk when the port's code for it is elementwise (harness.R, elementwise_code), kept
        # only where per-epoch calls agree (lockstep_batched).
        self.elementwise = np.array([q.name for q in steps.QUANTITIES if not q.sums])
        self.batch = True
        #: The steps the last lockstep call computed in one call over its chunk.
        self.batched_steps: list[str] = []
        # Where a chunk's arrays are copied out of R: new arrays, or a worker's slot (worker.py)
        self.place = None
        self.lockstep_inputs = LockstepInputs()  # the same R vectors for every chunk

    @property
    def can_lockstep(self) -> bool:
        """Whether the port defines `steps` (a function per recorded matrix), as lockstep needs:
        in its files' environment, or in R's global one (`steps <<- list(...)`)."""
        return bool(np.asarray(call("exists", "steps", envir=self.env, inherits=True))[0])

    def start(self, case) -> None:
        self.state = call(
            "nnparity_start",
            self.env,
            case.X,
            case.y,
            *(getattr(case, k) for k in steps.STATE),
            float(case.lr),
        )

    def advance(self, epochs: int, record: bool = True) -> dict[str, np.ndarray]:
        try:
            result = call(
                "nnparity_advance", self.state, int(epochs), bool(record), convert=False
            )
        except PortError as error:
            raise self.failed(error) from None
        skipped = unrecorded_epochs(result) if record else {}
        trace = py_arrays(result, self.place)  # double arrays, each copied once into C order
        if trace is None:  # anything else, as numpy2ri reads it: check_trace names it
            result = converted(result)
            trace = _as_dict(result)
            if trace is None and not record:
                return {}
            trace = trace if trace is not None else result
        trace = check_trace(self, trace, epochs)
        out = {name: np.ascontiguousarray(value) for name, value in trace.items()}
        # an epoch its list left NULL: that step's problem, named (compare.structural_problem)
        return out | {name: Unrecorded(epoch) for name, epoch in skipped.items() if name in out}

    def failed(self, error: PortError) -> PortError:
        """The port's error, named: a failed check of what train returned reads
        "the R port P returned ..."."""
        text = str(error)
        if "nnparity: " in text:  # R's "Error: " prefix, then the harness's check
            return BorderError(f"{self.describe()} {text.split('nnparity: ', 1)[1]}")
        return PortError(f"{self.describe()} failed: {text}")

    def weights(self) -> dict[str, np.ndarray]:
        state = _as_dict(call("nnparity_weights", self.state))
        return {name: np.array(state[name], dtype=np.float64) for name in steps.STATE}

    def positional_steps(self) -> dict[str, list[str]]:
        """The steps lockstep hands their inputs by position (their own argument names are
        not the step list's): name -> those argument names (harness.R)."""
        if not self.can_lockstep:
            return {}
        found = converted(call("nnparity_positional_steps", self.env, self.quantities,
                               convert=False))
        return {str(name): [str(a) for a in np.ravel(found[name])] for name in found.keys()}

    def lockstep(
        self, case, trace: dict[str, np.ndarray], start: dict[str, np.ndarray]
    ) -> dict[str, np.ndarray | StepFailure]:
        """R's step functions applied to another trace's recorded inputs, all epochs in one call.

        A step whose R function errors or returns the wrong shape maps to a
        StepFailure (epoch within this chunk, R's message) instead of an array.
        Only the steps whose own matrix and recorded inputs are in `trace` are
        recomputed (the runner leaves out what it cannot read: compare.trace_problems).
        """
        recorded = {name: trace[name] for name in steps.NAMES if name in trace}
        quantities = self.quantities
        if len(recorded) < len(steps.NAMES):
            robjects, _ = r()
            quantities = robjects.ListVector({
                q.name: robjects.StrVector(q.inputs) for q in steps.QUANTITIES
                if q.name in recorded
                and all(name in recorded for name in q.inputs if name in steps.BY_NAME)
            })
        try:
            result = call(
                "nnparity_lockstep",
                self.env,
                self.lockstep_inputs(recorded),
                named_list(start),
                case.X,
                case.y,
                float(case.lr),
                quantities,
                np.array(steps.STATE),
                self.elementwise,
                self.batch,
                convert=False,
            )
        except PortError as error:
            raise PortError(f"{self.describe()} failed in lockstep: {error}") from None
        values = py_arrays(result.rx2("values"), self.place)  # harness.R's: double arrays
        if values is None:
            values = _as_dict(converted(result.rx2("values")))
        problems = converted(result.rx2("problems"))
        self.batched_steps = [str(name) for name in result.rx2("batched")]
        out: dict = {
            name: np.ascontiguousarray(value, dtype=np.float64) for name, value in values.items()
        }
        for name in problems.keys():
            failure = problems[name]
            out[name] = StepFailure(
                int(np.ravel(failure["epoch"])[0]), str(np.ravel(failure["message"])[0])
            )
        return out
