"""Steps 0 and 1, and what train() returns: recorded once per chunk, compared bit for bit.

Each port records, once per call of train(), the X and y it reads (step 0)
and the weights and biases it starts from (step 1, ``initial_<name>``); the
harness keeps what train() returned (``returned_<name>``). None of these is
computed from anything, so each must be exactly what it should be:

- step 0: the case's X and y;
- step 1: the case's weights at the first chunk; later, what the same port's
  train() returned at the end of the chunk before;
- returned: the same port's last recorded epoch of that matrix;

and across languages: free-running, Python's and R's records agree bitwise at
the start of a run (both start from the case) and within the free-running
bound later; in lockstep R reads X, y and the starting weights from what
Python was handed, and its last epoch's recomputation must match what
Python's train() returned within the lockstep bound.

A mistake in train() itself (R rounding its starting weights to 15 digits, a
returned output from a fresh forward pass, weights returned one update
behind) changes nothing any step function computes: only these checks see it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import policy, steps
from .accumulate import EPOCH_FIGURES, cell_difference, differences
from .cells import Cell
from .floats import bitwise_equal, same_bits
from .missing import same_missing


@dataclass
class OnceCheck:
    """One once-per-chunk record (X, initial_wh, returned_output, ...) over a run."""

    name: str
    chunks: int = 0
    violations: int = 0
    first_violation: Cell | None = None
    problem: str | None = None  # a record misshapen
    problem_epoch: int = 1
    not_computed: str | None = None  # a port that does not record it (a learner's script)
    # epoch -> the figures of every comparison of this record there (EPOCH_FIGURES, cells)
    rows: dict[int, dict] = field(default_factory=dict, repr=False)

    @property
    def step(self) -> int:
        return steps.step_of(self.name)

    def measure(self, epoch: int, a: np.ndarray, b: np.ndarray, over: int, allowed,
                differ: bool = False) -> None:
        """Fold one comparison of this record at `epoch` into its figures there: `over` cells
        of `a` against `b` beyond `allowed` (the bound per cell; None: not computed in full);
        `differ`: the caller has found `a` and `b` not the same bits (no second pass)."""
        if over == 0 and not differ and same_bits(a, b):
            return self.measure_equal(epoch, a.size, allowed)
        row = self._row(epoch, a.size, allowed)
        d = differences(a, b)
        row["equal"] += int(np.count_nonzero(d.same))
        for key, values in (("max_abs", d.diff), ("max_rel", d.rel), ("max_ulp", d.ulps)):
            row[key] = max(row[key], float(values.max(initial=0.0)))
        row["over"] += over

    def measure_equal(self, epoch: int, cells: int, allowed) -> None:
        """``measure`` of two records known to be bitwise equal: every difference is 0, so none
        is computed (X's 100,000 cells per language per chunk on the scale case: 0.3 s of the
        supervisor's 1.3 s)."""
        self._row(epoch, cells, allowed)["equal"] += cells

    def _row(self, epoch: int, cells: int, allowed) -> dict:
        row = self.rows.setdefault(epoch, {"cells": 0, "equal": 0, "max_abs": 0.0,
                                           "max_rel": 0.0, "max_ulp": 0.0, "over": 0,
                                           "bound": np.nan})
        row["cells"] += cells
        if allowed is not None:
            row["bound"] = float(np.fmax(row["bound"], np.max(allowed, initial=0.0)))
        return row

    def figures(self) -> dict[str, np.ndarray]:
        """Per epoch it was checked at: ``epoch``, ``cells`` and EPOCH_FIGURES."""
        epochs = sorted(self.rows)
        figures = {key: np.array([self.rows[e][key] for e in epochs])
                   for key in ("cells", *EPOCH_FIGURES)}
        return {"epoch": np.array(epochs, dtype=np.int64), **figures}

    def total(self, key: str, how=max):
        """One figure over every epoch it was checked at, as StepStats keeps it."""
        values = [row[key] for row in self.rows.values()]
        return how(values) if values else 0

    @property
    def cells(self) -> int:
        return self.total("cells", sum)

    @property
    def equal(self) -> int:
        return self.total("equal", sum)

    @property
    def max_abs(self) -> float:
        return float(self.total("max_abs"))

    @property
    def max_rel(self) -> float:
        return float(self.total("max_rel"))

    @property
    def max_ulp(self) -> float:
        return float(self.total("max_ulp"))

    @property
    def passed(self) -> bool:
        return self.problem is None and self.violations == 0

    @property
    def not_compared(self) -> bool:
        """As StepStats.not_compared: nothing compared, for no reason of its own."""
        return self.cells == 0 and self.problem is None and self.not_computed is None


def _shape_problem(who: str, value, expected: np.ndarray) -> str | None:
    shape, wanted = np.shape(value), (1, *np.shape(expected))
    if shape == wanted:
        return None
    if len(shape) == 3 and shape[0] == 1:  # one record of another matrix: say the matrices
        return f"shapes differ: {who} {shape[1:]}, expected {wanted[1:]}"
    return f"shapes differ: {who} {shape}, expected {wanted} (one record: [1, rows, cols])"


class OnceComparison:
    """Feed it the same chunks as ``Comparison``; it keeps one ``OnceCheck`` per record."""

    def __init__(self, case, mode: str, sides: tuple[str, str] = ("Python", "R")):
        self.case = case
        self.mode = mode
        self.sides = sides  # what the two traces come from (the spreadsheet's comparisons)
        self.checks = {name: OnceCheck(name) for name in (*steps.ONCE, *steps.RETURNED)}
        self.returned: dict[str, dict] = {}  # language -> the weights it last returned

    def add(self, python: dict, r: dict, offset: int, epochs: int, start: dict, bound_last,
            cheap_last=None) -> None:
        """One chunk: its first epoch is ``offset + 1``; `start` is what Python was handed;
        ``bound_last(name, a, b)`` is the mode's bound for the chunk's last epoch of `name`;
        ``cheap_last(name, a, b)``, if given, a bound never larger, tried first (the full
        one may cost a matrix product, and is needed only where the cheap one fails)."""
        first, last = offset + 1, offset + epochs
        first_side, other_side = self.sides
        sides = ({first_side: python} if self.mode == "lockstep"
                 else {first_side: python, other_side: r})
        for name, quantity in steps.ONCE.items():
            plain = quantity.name
            for language, trace in sides.items():
                expected = self._expected_start(language, plain, start, offset)
                self._bitwise(name, first, trace.get(name), expected, f"{language}'s record",
                              "what it was handed")
            if self.mode == "free":  # in lockstep R reads what Python was handed: checked above
                bound = None if (quantity.step == 0 or offset == 0) else policy.free_running_bound
                self._across(name, first, python.get(name), r.get(name), bound, plain)
        for name, plain in steps.RETURNED.items():
            for language, trace in sides.items():
                last_epoch = trace.get(plain)
                expected = None if not isinstance(last_epoch, np.ndarray) else last_epoch[-1]
                self._bitwise(name, last, trace.get(name), expected,
                              f"{language}'s train() returned", f"its own epoch {last} ({plain})")
            # Free-running, R's returned value; in lockstep, R's recomputation of the last epoch.
            other = r.get(name) if self.mode == "free" else r.get(plain)
            if isinstance(other, np.ndarray) and other.ndim == 3:
                self._across(name, last, python.get(name), other[-1:], bound_last, plain,
                             cheap_last)
        for language, trace in sides.items():
            self.returned[language] = {w: trace.get(steps.returned(w)) for w in steps.STATE}
        for check in self.checks.values():
            check.chunks += 1

    def _expected_start(self, language: str, plain: str, start: dict, offset: int):
        """What a port should have read or started from in this chunk."""
        if plain in steps.DATA or offset == 0:
            return getattr(self.case, plain)
        if language == self.sides[0]:
            return np.asarray(start[plain])
        previous = self.returned.get(language, {}).get(plain)
        return None if previous is None else np.asarray(previous)[0]

    def _copied_per_sample(self, name: str, copies: tuple, once: tuple) -> bool:
        """A bias held once per sample (the article's R, a script's), where 1 x k is expected:
        each row is compared with the one row (see compare.is_bias_copied_per_sample)."""
        from .compare import is_bias_copied_per_sample  # compare imports this module

        plain = steps.ONCE[name].name if name in steps.ONCE else steps.RETURNED.get(name, name)
        return plain in steps.STATE and is_bias_copied_per_sample(
            plain, once, copies, self.case.dims[0]
        )

    def _note(self, name: str, epoch: int, problem: str) -> None:
        check = self.checks[name]
        if check.problem is None and check.first_violation is None:
            check.problem, check.problem_epoch = problem, epoch

    def _bitwise(self, name, epoch, value, expected, who: str, what: str) -> None:
        """`value` ([1, rows, cols]) must be `expected` (rows x cols) bit for bit."""
        if expected is None:
            return
        if not isinstance(value, np.ndarray):  # a port that does not record it: said, not compared
            self.checks[name].not_computed = f"{who.split(chr(39))[0]} does not record it"
            return
        expected = np.asarray(expected, dtype=np.float64)
        if self._copied_per_sample(name, np.shape(value), (1, *expected.shape)):
            expected = np.broadcast_to(expected, np.shape(value)[1:])
        problem = _shape_problem(who, value, expected)
        if problem:
            return self._note(name, epoch, problem)
        a, b = np.asarray(value, dtype=np.float64)[0], expected
        if same_bits(a, b):
            return self.checks[name].measure_equal(epoch, a.size, 0.0)
        differs = (a.view(np.int64) != b.view(np.int64)) & ~same_missing(a, b)
        allowed = np.zeros_like(a)
        self.checks[name].measure(epoch, a, b, int(differs.sum()), allowed, differ=True)
        self._violation(name, epoch, a, b, differs, allowed, (who, what))

    def _across(self, name, epoch, a, b, bound, plain: str, cheap=None) -> None:
        """Python's record against R's (or R's lockstep value), under `bound` (None: bitwise);
        `cheap`: a bound never larger than `bound`, that settles every cell it holds for."""
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
            return
        if self._copied_per_sample(name, np.shape(b), np.shape(a)):
            a = np.broadcast_to(a, np.shape(b))
        elif self._copied_per_sample(name, np.shape(a), np.shape(b)):  # a Python script's
            b = np.broadcast_to(b, np.shape(a))
        if np.shape(a) != np.shape(b) or len(a) != 1:
            first, other = self.sides
            return self._note(name, epoch,
                              f"shapes differ: {first} {np.shape(a)}, {other} {np.shape(b)}")
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        check = self.checks[name]
        asked = bound is None or cheap is not None  # past here, then, the bits differ
        if asked and same_bits(a, b):  # holds under any bound
            return check.measure_equal(epoch, a.size, 0.0 if bound is None else None)
        with np.errstate(invalid="ignore", over="ignore"):
            diff = np.abs(a - b)
            if bound is not None and cheap is not None and (diff <= cheap(plain, a, b)).all():
                return check.measure(epoch, a, b, 0, None, differ=True)
            allowed = np.zeros_like(a) if bound is None else np.asarray(bound(plain, a, b))
            # inf - inf is NaN: the same Inf on both sides is no difference, as NaN meeting NaN
            differs = ~(diff <= allowed) & ~(bitwise_equal(a, b) | same_missing(a, b))
        check.measure(epoch, a, b, int(differs.sum()), allowed, differ=asked)
        self._violation(name, epoch, a[0], b[0], differs[0], allowed[0], self.sides)

    def _violation(self, name, epoch, a, b, differs, allowed, labels) -> None:
        n = int(differs.sum())
        if not n:
            return
        check = self.checks[name]
        check.violations += n
        if check.first_violation is None:
            i, j = (int(k) for k in np.argwhere(differs)[0])
            x, y = float(a[i, j]), float(b[i, j])
            check.first_violation = Cell(
                epoch, name, i + 1, j + 1, x, y, *cell_difference(x, y), float(allowed[i, j]),
                sides=labels,
            )
