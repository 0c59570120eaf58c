"""Compare two traces step by step, chunk by chunk, under the tolerance policy.

``Comparison`` is fed chunks of epochs (so a trace never has to be held whole)
and keeps, for every recorded matrix, the statistics of ``accumulate`` (cells
compared, bitwise equal, largest differences, the first cell beyond the bound),
the first NaN, NA or Inf each language produced, and, over all matrices, the
first cell that differs at all (where a free-running difference is born).
Its pieces live in small modules: ``floats`` (ULP distance), ``missing`` (NaN
and NA), ``accumulate`` (per-step statistics), ``verdict`` (the report and
which failure comes first); the names other code imports from here stay here.
"""

from __future__ import annotations

import contextlib

import numpy as np

from . import policy, steps
from .accumulate import StepStats, cell_difference, differences, finite_figures, finite_over
from .cells import Cell, NonFinite, NotComputed, StepFailure, UnreadableInput, Unrecorded
from .floats import finite_ulp_distance, ulp_distance
from .missing import describe_value, first_non_finite, is_r_na, same_missing
from .once import OnceComparison
from .verdict import ParityReport, first_failure

__all__ = [
    "Cell", "Comparison", "NonFinite", "NotComputed", "ParityReport", "StepFailure", "StepStats",
    "UnreadableInput", "describe_value", "first_failure", "inputs_of", "is_r_na",
    "lockstep_markers", "structural_problem", "trace_problems", "ulp_distance",
]

#: Why a bias may be n x k in one language where the other's is 1 x k (the article's R holds
#: its biases once per sample; a learner's script in either language may).
BIAS_COPIES_NOTE = (
    "{copies} holds this bias once per sample ({rows} x {cols}), {once} once (1 x {cols}): "
    "each {copies} row is compared with {once}'s row"
)


_BLAS = []  # threadpoolctl's controller, made on first use (it looks up the loaded libraries)


def one_blas_thread():
    """A context in which numpy's BLAS runs on one thread: the bounds' matrix products.

    The comparison runs while both ports train, one per core on a 2-core machine, so
    BLAS threads of its own only wait for a core: measured under load, a 2000-sample
    |X|.T @ |d_hiddenlayer| over 6 epochs took 125 ms (median; up to 1.5 s) on numpy's
    two OpenBLAS threads and 13 ms on one. The bits do not change: OpenBLAS splits the
    output matrix between threads, never a sum (docs/blas.md).
    """
    if not _BLAS:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover - a declared dependency
            _BLAS.append(None)
        else:
            _BLAS.append(ThreadpoolController())
    controller = _BLAS[0]
    if controller is None:  # pragma: no cover
        return contextlib.nullcontext()
    return controller.limit(limits=1, user_api="blas")


def at_epochs(get, epochs):
    """The same getter, restricted to some epochs of the chunk (a slice or an index array)."""

    def get_at(name: str):
        value = get(name)
        return value[epochs] if np.ndim(value) == 3 else value

    return get_at


def inputs_of(case, trace: dict[str, np.ndarray], start: dict[str, np.ndarray]):
    """A getter for any step input over a chunk: ``get(name) -> array[epochs, rows, cols]``.

    Weights as inputs mean their value at the start of each epoch: the chunk's
    start for its first epoch, then the previous epoch's update.
    """

    def get(name: str):
        if name in steps.DATA:
            return getattr(case, name)
        if name == "lr":
            return case.lr
        if not isinstance(trace.get(name), np.ndarray):  # a script's loop never assigns it:
            raise KeyError(name)  # the bound comes from the values alone (scaled)
        if name in steps.STATE:
            first = np.asarray(start[name])
            if first.shape != trace[name].shape[1:]:  # a bias a port made per sample: the
                first = np.broadcast_to(first, trace[name].shape[1:])  # same numbers, each row
            return np.concatenate([first[None], trace[name][:-1]])
        return trace[name]

    return get


def scaled(bound, name: str, a: np.ndarray, b: np.ndarray, get) -> np.ndarray:
    """A policy bound from the step's inputs, or from the values alone when an input
    is missing or misshapen."""
    try:
        return bound(name, a, b, get)
    except (KeyError, ValueError):
        return bound(name, a, b)


class Comparison:
    """Feed it chunks of two traces with ``add``; ``report`` gives the verdict.

    ``mode`` is "free" (both trained on their own) or "lockstep" (the second
    trace was recomputed step by step from the first one's inputs).
    """

    def __init__(
        self, case, mode: str, sides: tuple[str, str] = ("Python", "R"), title: str | None = None,
        bound=None, tolerance: str | None = None, full_bounds: bool = False,
        expected_epochs: int | None = None, rounded_inputs: frozenset[str] = frozenset(),
    ):
        """``bound`` and ``tolerance``: a free-running bound of another pair (the spreadsheet's).

        ``expected_epochs``: the epochs the run asked for. The report cannot pass unless every
        step compared was compared in each of them (``coverage_gap``), whatever cut the run
        short; None: whatever was fed is the whole run.

        ``rounded_inputs``: the case's inputs (X, y, lr, the starting weights) that the second
        side holds rounded to 15 significant digits (a workbook LibreOffice saved).

        ``full_bounds``: the bound in full in every epoch, for the statistics table's ``bound``
        column (--save-stats); otherwise only in epochs where a cell needs more than a cheap one.
        """
        self.case = case
        self.mode = mode
        self.full_bounds = full_bounds
        self.sides = sides
        self.title = title
        self.free_bound = bound or policy.free_running_bound
        self.tolerance = tolerance or policy.describe(mode)
        self.stats = {name: StepStats(name) for name in steps.NAMES}
        self.epochs = 0
        self.expected_epochs = expected_epochs
        self.rounded_inputs = rounded_inputs
        self.first_difference: Cell | None = None
        self.error: str | None = None
        self.non_finite: dict[str, NonFinite] = {}
        self.once = OnceComparison(case, mode, sides)  # steps 0 and 1, what train() returned
        #: Whether a finite chunk's per-epoch figures settle what they can (_add_finite), which
        #: needs a cheap bound that grows with max(|a|, |b|), as these two do; False: every
        #: measure in every cell (the general path, which the fast one is tested against).
        self.fast = mode != "free" or self.free_bound in (
            policy.free_running_bound, policy.spreadsheet_bound
        )

    def fail(self, error: str) -> None:
        """A port failed while running: this mode cannot hold, and says why (the first reason
        given, which the others followed from)."""
        self.error = self.error or error

    def bound(self, name: str, a: np.ndarray, b: np.ndarray, get) -> np.ndarray:
        """This mode's bound, per cell."""
        free = self.mode == "free"
        return scaled(self.free_bound if free else policy.lockstep_bound, name, a, b, get)

    def add(self, python: dict[str, np.ndarray], r: dict[str, np.ndarray], epochs: int,
            start: dict[str, np.ndarray]) -> None:
        """Compare one chunk; `start` holds the weights at the chunk's first epoch."""
        with one_blas_thread():
            self._add(python, r, epochs, start)

    def _add(self, python, r, epochs: int, start) -> None:
        offset = self.epochs
        self.epochs += epochs
        get = inputs_of(self.case, python, start)
        max_abs = {}  # step -> its largest difference per epoch of this chunk
        for name in steps.NAMES:
            stats = self.stats[name]
            if stats.problem or stats.not_computed:
                continue
            missing = [x for x in (python.get(name), r.get(name)) if isinstance(x, NotComputed)]
            if missing:
                stats.not_computed = "; ".join(m.describe() for m in missing)
                continue
            stats.problem = structural_problem(
                name, python.get(name), r.get(name), epochs, offset, self.case.dims[0]
            )
            if stats.problem:
                failed = r.get(name)
                found = failed.epoch if isinstance(failed, StepFailure | Unrecorded) else 1
                stats.problem_epoch = offset + found
                continue
            a, b = self._pair(name, python, r)
            figures = finite_figures(a, b, scale=self._needs_scale(name)) if self.fast else None
            if figures is not None:
                self._add_finite(stats, offset, name, a, b, figures, get)
            else:  # a NaN, NA or Inf somewhere: every measure in every cell
                d = differences(a, b)
                if not d.finite:
                    self._note_non_finite(name, offset, a, b)
                stats.add(offset, a, b, d, *self._allowed(name, a, b, d.diff, get))
            max_abs[name] = stats.per_epoch["max_abs"][-1]
        last = at_epochs(get, slice(epochs - 1, epochs))
        cheap = self.free_bound if self.mode == "free" else lambda n, a, b: np.zeros_like(a)
        cheap = None if self.full_bounds else cheap  # the table's bound column, in full
        self.once.add(python, r, offset, epochs, start, lambda n, a, b: self.bound(n, a, b, last),
                      cheap)
        self._note_first_difference(python, r, offset, get, max_abs)  # after once: step 1

    def _needs_scale(self, name: str) -> bool:
        """Whether _add_finite reads the largest max(|a|, |b|) per epoch (the bound shown)."""
        return self.mode == "free" and not self.full_bounds and not steps.BY_NAME[name].sums

    def _floor(self, name: str) -> float:
        """The free-running bound without inputs where both values are 0: the least it allows
        anywhere, since it grows with max(|a|, |b|)."""
        zero = np.zeros((1, 1, 1))
        return float(self.free_bound(name, zero, zero).item())

    def _add_finite(self, stats: StepStats, offset: int, name: str, a: np.ndarray, b: np.ndarray,
                    figures: dict, get) -> None:
        """Fold a chunk with every value finite into `stats`, from its per-epoch figures
        (accumulate.finite_figures); only the epochs a cell of which may be beyond the bound
        are looked at cell by cell.

        The same statistics and bounds as ``StepStats.add`` with ``_allowed``: the bound is
        computed, in full, on the same epochs. An epoch none of whose differences exceeds the
        least the cheap bound allows anywhere (``_floor``; 0 in lockstep) has no cell over
        it; free-running, a step that does not sum keeps the cheap bound, whose largest
        value in an epoch is the bound at the epoch's largest max(|a|, |b|).
        """
        n = len(a)
        bound, checks = self._finite_checks(name, a, b, figures, get)
        over = np.zeros(n, dtype=np.intp)
        first = None
        for epochs, allowed, shown in checks:
            x, y = a[epochs], b[epochs]
            counts, top, found = finite_over(x, y, allowed)
            over[epochs] = counts
            if shown:
                bound[epochs] = top
            if found is not None and first is None and stats.first_violation is None:
                k, i, j = found
                e = int(np.arange(n)[epochs][k])
                u, v = x[k, i, j : j + 1], y[k, i, j : j + 1]
                first = Cell(
                    offset + e + 1, name, i + 1, j + 1, float(u[0]), float(v[0]),
                    float(np.abs(u - v)[0]), float(finite_ulp_distance(u, v)[0]),
                    float(allowed[k, i, j]),
                )
        stats.record(a.size, {
            "equal": figures["equal"], "max_abs": figures["max_abs"],
            "max_rel": figures["max_rel"], "max_ulp": figures["max_ulp"], "over": over,
            "bound": bound,
        }, first)

    def _finite_checks(self, name: str, a: np.ndarray, b: np.ndarray, figures: dict, get):
        """The per-epoch bound the table shows (NaN where not computed in full), and the
        epochs to look at cell by cell: [(epochs, the bound there, whether it is shown)]."""
        n = len(a)
        max_abs = figures["max_abs"]
        bound = np.full(n, np.nan)
        checks = []
        if self.full_bounds:
            checks.append((slice(None), self.bound(name, a, b, get), True))
        elif self.mode == "free" and not steps.BY_NAME[name].sums:
            top = figures["max_scale"][:, None, None]
            bound = np.asarray(self.free_bound(name, top, top), dtype=np.float64).reshape(n)
            near = np.flatnonzero(max_abs > self._floor(name))
            if near.size:
                checks.append((near, self.free_bound(name, a[near], b[near]), False))
        else:
            if self.mode == "free":
                need = np.zeros(n, dtype=bool)
                near = np.flatnonzero(max_abs > self._floor(name))
                if near.size:
                    x, y = a[near], b[near]
                    need[near] = _per_epoch_any(np.abs(x - y) > self.free_bound(name, x, y))
            else:
                need = max_abs > 0
            if need.all():
                checks.append((slice(None), self.bound(name, a, b, get), True))
            elif need.any():
                epochs = np.flatnonzero(need)
                full = self.bound(name, a[epochs], b[epochs], at_epochs(get, epochs))
                checks.append((epochs, full, True))
        return bound, checks

    def _pair(self, name: str, python, r) -> tuple[np.ndarray, np.ndarray]:
        """The two arrays of one step; where one language holds a bias once per sample and
        the other once, the one row broadcast over the other's rows."""
        a = np.asarray(python[name], dtype=np.float64)
        b = np.asarray(r[name], dtype=np.float64)
        n = self.case.dims[0]
        if a.shape != b.shape and is_bias_copied_per_sample(name, a.shape, b.shape, n):
            self.stats[name].note = BIAS_COPIES_NOTE.format(
                copies=self.sides[1], once=self.sides[0], rows=b.shape[1], cols=b.shape[2]
            )
            a = np.ascontiguousarray(np.broadcast_to(a, b.shape))
        elif a.shape != b.shape and is_bias_copied_per_sample(name, b.shape, a.shape, n):
            self.stats[name].note = BIAS_COPIES_NOTE.format(
                copies=self.sides[0], once=self.sides[1], rows=a.shape[1], cols=a.shape[2]
            )
            b = np.ascontiguousarray(np.broadcast_to(b, a.shape))
        return a, b

    def _allowed(self, name: str, a: np.ndarray, b: np.ndarray, diff: np.ndarray,
                 get) -> tuple[np.ndarray, np.ndarray]:
        """The bound, computed in full only in the epochs where it can matter; and, per
        epoch, whether it was (the statistics table shows the bound only there).

        The magnitude of a sum costs a matrix product per epoch (half the
        comparison's time on the scale case), so it is computed only for epochs
        with a cell that a cheaper bound cannot settle: in lockstep, a cell
        that differs at all; free-running, a cell beyond the bound relative to
        the values, which is never larger than the full one.
        """
        if self.full_bounds:
            return self.bound(name, a, b, get), np.ones(len(diff), dtype=bool)
        if self.mode == "free":
            cheap = self.free_bound(name, a, b)
            if not steps.BY_NAME[name].sums:
                return cheap, np.ones(len(diff), dtype=bool)
        else:
            cheap = np.zeros_like(diff)
        need = (diff > cheap).reshape(len(diff), -1).any(axis=1)
        if need.all():
            return self.bound(name, a, b, get), need
        if need.any():
            epochs = np.flatnonzero(need)
            cheap[epochs] = self.bound(name, a[epochs], b[epochs], at_epochs(get, epochs))
        return cheap, need

    def _note_non_finite(self, name: str, offset: int, a: np.ndarray, b: np.ndarray) -> None:
        """Keep, per language, the first cell (in epoch, then step order) that is NaN, NA or Inf."""
        for language, x in zip(self.sides, (a, b), strict=True):
            found = first_non_finite(x)
            if found is None:
                continue
            e, i, j = found
            seen = self.non_finite.get(language)
            here = NonFinite(language, offset + e + 1, name, i + 1, j + 1, float(x[e, i, j]))
            if seen is None or _order(here) < _order(seen):
                self.non_finite[language] = here

    def _note_first_difference(self, python, r, offset, get, max_abs: dict) -> None:
        """The first cell, in epoch then step order, that is not bitwise equal.

        ``max_abs``: each compared step's largest difference per epoch in this chunk. A
        cell differs (first_bit_difference) exactly where its difference is above 0 (NaN
        and NA met by their own kind count 0, met by anything else Inf), so the epoch comes
        from these figures and only that epoch of that step is searched.
        """
        if self.first_difference is not None:
            return
        best = None
        for order, name in enumerate(n for n in steps.NAMES if n in max_abs):
            differs = np.flatnonzero(max_abs[name] > 0)
            if differs.size and (best is None or (int(differs[0]), order) < best[:2]):
                best = (int(differs[0]), order, name)
        if best is not None:
            e, _, name = best
            a, b = self._pair(name, python, r)
            _, i, j, *_ = first_bit_difference([(name, a[e : e + 1], b[e : e + 1])])
            self.first_difference = self._difference_at(offset, e, i, j, name, a, b, get)

    def _difference_at(self, offset, e, i, j, name, a, b, get) -> Cell:
        """One differing cell (chunk epoch e, row i, col j; 0-based), with both bounds."""
        x, y = a[e : e + 1, i : i + 1, j : j + 1], b[e : e + 1, i : i + 1, j : j + 1]
        at_epoch = at_epochs(get, slice(e, e + 1))
        one_a, one_b = a[e : e + 1], b[e : e + 1]
        return Cell(
            offset + e + 1, name, i + 1, j + 1, float(x.item()), float(y.item()),
            *cell_difference(x.item(), y.item()),
            float(self.bound(name, one_a, one_b, at_epoch)[0, i, j]),
            rounding_bound=float(
                scaled(policy.lockstep_bound, name, one_a, one_b, at_epoch)[0, i, j]
            ),
            sides=self.sides,
            unrecorded_inputs=tuple(
                n for n in steps.BY_NAME[name].inputs
                if (n in self.stats and self.stats[n].not_computed) or self._not_as_handed(n)
            ),
            rounded_inputs=tuple(  # the data at every epoch, the weights at the first
                n for n in steps.BY_NAME[name].inputs
                if n in self.rounded_inputs and (n not in steps.STATE or offset + e == 0)
            ),
        )

    def _not_as_handed(self, name: str) -> bool:
        """Whether a port recorded starting from another `name` than it was handed (its
        step-1 record failed): the weights its step read are not known to be equal."""
        for record, quantity in steps.ONCE.items():
            if quantity.step == 1 and quantity.name == name:
                check = self.once.checks[record]
                return check.first_violation is not None or check.problem is not None
        return False

    def coverage_gap(self) -> str | None:
        """Why this mode cannot pass though no cell failed: epochs asked for that a step was
        never compared in. A step with a problem, or that a script never computes, says so
        on its own."""
        expected = self.expected_epochs
        if expected is None:
            return None
        if self.epochs != expected:
            return f"{self.epochs} of the {expected} epochs asked for were compared"
        for stats in self.stats.values():
            if stats.problem or stats.not_computed:
                continue
            compared = sum(len(figures) for figures in stats.per_epoch["max_abs"])
            if compared != expected:
                return (f"step {stats.step} ({stats.name}) was compared in {compared} of the "
                        f"{expected} epochs asked for")
        return None

    def report(self) -> ParityReport:
        for stats in self.stats.values():  # name the two sides in each step's first violation
            if stats.first_violation is not None:
                stats.first_violation.sides = self.sides
        return ParityReport(
            self.case.name, self.mode, self.epochs, list(self.stats.values()),
            self.first_difference, self.tolerance, self.error or self.coverage_gap(),
            dict(self.non_finite),
            sides=self.sides, title=self.title,
            once=list(self.once.checks.values()), asked=self.expected_epochs,
        )


def _per_epoch_any(x: np.ndarray) -> np.ndarray:
    return x.reshape(len(x), -1).any(axis=1)


def _order(cell) -> tuple[int, int]:
    return (cell.epoch, steps.position(cell.name))


def first_bit_difference(pairs):
    """The first cell, in epoch then step order, whose two values differ, or None.

    ``pairs``: (name, a, b) in step order, arrays [epochs, rows, cols] of one
    chunk. Returns (epoch, row, col, name, a, b), 0-based in the chunk. -0.0
    against 0.0 differs in its bits but in no value that follows from it, and
    NaN against NaN of the same kind is no difference: neither is a birth.
    """
    best = None
    for order, (name, a, b) in enumerate(pairs):
        differs = (a.view(np.int64) != b.view(np.int64)) & (a != b) & ~same_missing(a, b)
        per_epoch = differs.reshape(len(a), -1).any(axis=1)
        if per_epoch.any():
            e = int(np.argmax(per_epoch))
            if best is None or (e, order) < best[:2]:
                best = (e, order, name, a, b, differs)
    if best is None:
        return None
    e, _, name, a, b, differs = best
    i, j = (int(k) for k in np.argwhere(differs[e])[0])
    return e, i, j, name, a, b


def is_bias_copied_per_sample(name: str, a: tuple[int, ...], b: tuple[int, ...],
                              n_samples: int | None) -> bool:
    """Shape `a` holds a bias once (epochs x 1 x k), shape `b` a copy per sample (epochs x n
    x k), as the article's R does (and a learner's script in either language may)."""
    return (
        n_samples is not None
        and steps.BY_NAME[name].bias
        and len(a) == len(b) == 3
        and (a[0], a[2]) == (b[0], b[2])
        and a[1] == 1
        and b[1] == n_samples
    )


def structural_problem(name: str, a, b, epochs: int, offset: int = 0,
                       n_samples: int | None = None) -> str | None:
    """Why two recorded arrays of one step cannot be compared cell by cell, or None.

    ``offset`` is the number of epochs before this chunk (to name the epoch an
    R step failed at); with ``n_samples``, a bias either language copies per sample is
    comparable (see is_bias_copied_per_sample).
    """
    if isinstance(b, UnreadableInput):
        return b.message
    if a is None and b is None:
        return "neither trace has this matrix"
    if a is None:
        return "the Python trace does not record this matrix"
    if isinstance(b, StepFailure):
        return f"R's step function failed at epoch {offset + b.epoch}: {b.message}"
    if isinstance(b, Unrecorded):
        return (f"the R port recorded no {name} at epoch {offset + b.epoch} (its trace's list "
                "holds NULL there)")
    if b is None:
        return "the R trace does not record this matrix"
    a, b = np.shape(a), np.shape(b)
    if a != b and (is_bias_copied_per_sample(name, a, b, n_samples)
                   or is_bias_copied_per_sample(name, b, a, n_samples)):
        a = b
    if a != b:
        return (
            f"shapes differ: Python {a[1:]} per epoch over {a[0]} epochs, "
            f"R {b[1:]} over {b[0]}"
        )
    if a[0] != epochs:
        return f"recorded {a[0]} epochs, expected {epochs}"
    return None


def trace_problems(case, trace: dict, epochs: int, language: str = "Python") -> dict[str, str]:
    """The recorded matrices of one chunk of `trace` that cannot be read as inputs: name -> why,
    naming `language`. Each must be there, as an array [epochs, rows, cols] of this chunk's
    epochs and the shape the step list gives for the case (steps.shape_of).

    Lockstep reads Python's trace: a matrix that fails here is a finding about Python at its
    step (``lockstep_markers``), and R recomputes only the steps that do not read it.
    """
    problems = {}
    for name in steps.NAMES:
        value = trace.get(name)
        expected = steps.shape_of(name, *case.dims)
        if value is None:
            problems[name] = f"the {language} trace does not record this matrix"
            continue
        shape = np.shape(value)
        if len(shape) != 3:
            problems[name] = (
                f"the {language} trace records it as an array of shape {shape}; expected "
                f"[epochs, rows, cols]: {expected} per epoch over {epochs} epochs"
            )
        elif shape != (epochs, *expected):
            problems[name] = (
                f"the {language} trace records {shape[1:]} per epoch over {shape[0]} epochs; "
                f"expected {expected} over {epochs}"
            )
    return problems


def lockstep_markers(problems: dict[str, str], language: str = "Python") -> dict[str, object]:
    """What stands in lockstep's values for the steps R cannot recompute from a trace with
    `problems` (``trace_problems``): the unreadable matrix's own step reports its problem; a
    step that reads it is not computed, and says which input it lacked."""
    markers: dict[str, object] = {}
    for q in steps.QUANTITIES:
        if q.name in problems:
            markers[q.name] = UnreadableInput(problems[q.name])
            continue
        lacking = [name for name in q.inputs if name in problems]
        if lacking:
            markers[q.name] = NotComputed(
                "lockstep",
                f"it reads {', '.join(f'{n} (step {steps.BY_NAME[n].step})' for n in lacking)}, "
                f"which the {language} trace does not give as [epochs, rows, cols]",
            )
    return markers
