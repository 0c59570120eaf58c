"""Does a port give the same bits twice? Run-to-run noise is not a port difference.

A threaded BLAS may split a sum between threads differently from one call to
the next, and then the same program on the same case gives different last bits
on each run. A learner who saw such bits differ between Python and R would
blame a port. So before a comparison, each port trains the first few epochs of
the case twice from the same start and the two traces are compared bit for bit.

Cost: ``EPOCHS`` epochs once per port that trains in the run, whose own first
chunk, trained from the same start, is the second training; twice for a port
that does not (R with ``--mode lockstep``). On the article case, a few
milliseconds; fewer epochs on a case whose epochs would not fit in one chunk,
where a second training of its own had cost R's worker a chunk (60 ms on the
scale case).
A port is anything with ``start(case)`` and ``advance(epochs, record)``
returning ``{name: array[epochs, rows, cols]}``, in this process or behind a
worker's proxy.

Measured on Debian bookworm, 2 cores (docs/blas.md): R on its reference BLAS,
on OpenBLAS 0.3.21 (pthread) and on BLIS 0.9 (pthread), and numpy 2.4 with its
OpenBLAS on 1 or 2 threads, all gave the same bits twice on every case in
fixtures/, over 200 epochs each: the check costs little and says so when a
library does not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import policy, steps
from .missing import json_number
from .port import PortError, submit

#: Epochs trained twice per port. A BLAS that splits a sum between threads does
#: so in every epoch (the matrices keep their shapes), so a few epochs show it.
EPOCHS = 5


@dataclass(frozen=True)
class Determinism:
    """The outcome of training one port twice on the same case from the same start."""

    language: str
    epochs: int  # epochs trained twice (the second time, maybe as the run's first chunk)
    same_bits: bool | None  # None: the check could not be made (the port failed)
    # Where the two runs first differ: epoch, matrix, row, col, run 1's value, run 2's.
    first: tuple[int, str, int, int, float, float] | None = None
    error: str | None = None
    # The first cell (as `first`) where they differ by more than free-running allows
    # (policy.free_running_bound): no BLAS's run-to-run noise is that large in a few epochs.
    beyond: tuple[int, str, int, int, float, float] | None = None
    # Only the check's own training failed, not the run's (its second training): train()
    # fails on its first call alone.
    first_call_failed: bool = False

    @property
    def breaks_free_running(self) -> bool:
        """Whether free-running, which compared a later call of train(), cannot speak for the
        first: the two trainings differ beyond the bound, or only the first one failed."""
        return self.beyond is not None or self.first_call_failed

    def describe(self) -> str:
        who = f"the {self.language} port"
        if self.first_call_failed:
            return (
                f"{who} failed on its first training ({self.error}) but not on the run's, a later "
                "call of train() from the same start: train() depends on something besides its "
                "arguments (state kept between calls?), and the run compared a later call than "
                "the one a program that trains once makes"
            )
        if self.beyond is not None:
            epoch, name, row, col, a, b = self.beyond
            return (
                f"{who} does NOT give the same results twice: two trainings from the same start "
                f"differ beyond the free-running bound at epoch {epoch}, step "
                f"{steps.BY_NAME[name].step} ({name}), cell [{row}, {col}] ({a!r} then {b!r}), "
                "more than any BLAS's run-to-run noise: train() depends on something besides its "
                "arguments (state kept between calls, a random draw), and the run compared a "
                "later call than the one a program that trains once makes"
            )
        if self.same_bits is None:
            return f"{who} could not be run twice to check its bits: {self.error}"
        if self.same_bits:
            return f"{who} gave the same bits twice (first {self.epochs} epochs, trained twice)"
        epoch, name, row, col, a, b = self.first
        step = steps.BY_NAME[name].step
        return (
            f"{who} does NOT give the same bits twice: two runs on the same case from the same "
            f"start first differ at epoch {epoch}, step {step} ({name}), cell [{row}, {col}] "
            f"({a!r} then {b!r}); its BLAS is not deterministic (threads?), so differences of "
            "that size between Python and R may be run-to-run noise, not a port difference"
        )

    def as_json(self) -> dict:
        return {"epochs": self.epochs, "same_bits": self.same_bits,
                "first_difference": _cell_json(self.first), "beyond_bound": _cell_json(self.beyond),
                "first_call_failed": self.first_call_failed, "error": self.error}


def _cell_json(cell: tuple | None) -> dict | None:
    """A cell where two trainings differ (``Determinism.first``, ``.beyond``) for --json."""
    if cell is None:
        return None
    epoch, name, row, col, a, b = cell
    return {"epoch": epoch, "step": steps.BY_NAME[name].step, "matrix": name, "row": row,
            "col": col, "run_1": json_number(a), "run_2": json_number(b)}


def epochs_to_check(case, per_epoch_bytes: int, budget: int) -> int:
    """EPOCHS, or fewer on a short case or where they would not fit in one chunk's memory."""
    return max(1, min(EPOCHS, case.epochs, budget // max(per_epoch_bytes, 1)))


def check(port, case, epochs: int = EPOCHS) -> Determinism:
    """Train `port` on `case` twice for `epochs` epochs from the same start; compare bit for bit.

    The port is left started on the case with `epochs` epochs trained: call
    ``start(case)`` again before using it.
    """
    return judge(port, epochs, ask(port, case, epochs))


def ask(port, case, epochs: int, trainings: int = 2) -> list:
    """Ask `port` for the check's trainings at once: a worker queues them and the caller goes
    on (port.submit); an in-process port answers each in turn, here. With ``trainings=1`` the
    run's own first chunk, trained from the same start, is the second (``judge``'s ``chunk``)."""
    return [
        submit(port, operation, *args)
        for _ in range(trainings)
        for operation, args in (("start", (case,)), ("advance", (epochs, True, False)))
    ]


def judge(port, epochs: int, asked: list, chunk: dict | PortError | None = None) -> Determinism:
    """What ``ask``'s trainings say: the same bits, or where they first differ.

    ``chunk``: the run's first chunk (``ask(..., trainings=1)``), whose first `epochs` epochs
    are the second training; a PortError if the port failed to train it.
    """
    language = getattr(port, "language", type(port).__name__)
    runs, error = [], chunk if isinstance(chunk, PortError) else None
    for answer in asked:  # every reply is read, so none is left owed
        try:
            value = answer.result()
        except PortError as failure:
            error = error or failure
            continue
        if isinstance(value, dict) and "trace" in value:
            runs.append(value["trace"])
    if error is not None:
        # the check's training failed and the run's first chunk, the same training, did not
        first_only = isinstance(chunk, dict) and error is not chunk
        return Determinism(language, epochs, None, error=str(error), first_call_failed=first_only)
    if chunk is not None and runs:
        # The epochs both trained: the first `epochs`, or as many as the check's training
        # recorded of a matrix when fewer. A port that records too few or too many epochs
        # (a structural problem the comparison names) is no sign of noise for that.
        check = runs[0]
        shared = {name: min(len(value), epochs) for name, value in check.items()
                  if isinstance(value, np.ndarray) and value.ndim > 0}
        runs = [{name: value[:shared[name]] if name in shared else value
                 for name, value in check.items()},
                {name: value[:shared.get(name, epochs)] for name, value in chunk.items()
                 if isinstance(value, np.ndarray)}]
    first = first_difference(*runs)
    beyond = first_beyond_bound(*runs) if first is not None else None
    return Determinism(language, epochs, first is None, first, beyond=beyond)


def first_beyond_bound(a: dict, b: dict) -> tuple | None:
    """The first cell, in epoch then step order, where two trainings of one port differ by more
    than free-running allows between Python and R (NaN against a number included). Matrices
    of other shapes are left to first_difference, which names them."""

    def far(name: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", over="ignore"):
            within = np.abs(x - y) <= policy.free_running_bound(name, x, y)
        return ~(within | (x.view(np.int64) == y.view(np.int64)) | (np.isnan(x) & np.isnan(y)))

    return _first_cell(a, b, far, shapes_differ=False)


def first_difference(a: dict, b: dict) -> tuple | None:
    """The first cell, in epoch then step order, whose bits differ between two traces."""
    return _first_cell(a, b, lambda name, x, y: x.view(np.int64) != y.view(np.int64),
                       shapes_differ=True)


def _first_cell(a: dict, b: dict, differs, shapes_differ: bool) -> tuple | None:
    """The first cell, in epoch then step order, where ``differs(name, x, y)`` (per cell) holds:
    (epoch, name, row, col, a's value, b's value), 1-based. A matrix of another shape in each
    is such a cell at its start when `shapes_differ`, else passed over."""
    best = None
    for order, name in enumerate(steps.NAMES):
        x, y = a.get(name), b.get(name)
        if not (isinstance(x, np.ndarray) and isinstance(y, np.ndarray)):
            continue  # not recorded, or a marker (a script port's matrix it never computes)
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        if x.shape != y.shape:  # a different shape each time: not deterministic either
            if shapes_differ:
                return (1, name, 1, 1, float("nan"), float("nan"))
            continue
        cells = np.argwhere(differs(name, x, y))
        if len(cells) and (best is None or (cells[0][0], order) < best[0]):
            best = ((cells[0][0], order), name, tuple(int(k) for k in cells[0]), x, y)
    if best is None:
        return None
    _, name, (e, i, j), x, y = best
    return (e + 1, name, i + 1, j + 1, float(x[e, i, j]), float(y[e, i, j]))
