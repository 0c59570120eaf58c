"""Compare two traces step by step, chunk by chunk, under the tolerance policy.

``Comparison`` is fed chunks of epochs (so a trace never has to be held whole)
and keeps, for every recorded matrix: cells compared, cells bitwise equal, the
largest absolute, relative and ULP differences, the largest per epoch (for
plots), the first cell beyond the policy's bound, and, over all matrices, the
first cell that differs at all (where a free-running difference is born).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import policy, steps


def is_r_na(x: np.ndarray) -> np.ndarray:
    """R's NA_real_ is a NaN whose low word is 1954; np.isnan cannot tell it from NaN."""
    return np.isnan(x) & ((x.view(np.int64) & np.int64(0xFFFFFFFF)) == 1954)


def describe_value(v: float) -> str:
    v = float(v)
    if np.isnan(v):
        return "NA" if is_r_na(np.array([v]))[0] else "NaN"
    return repr(v)


def ulp_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """How many doubles lie between a and b (0 when equal, inf when one is NaN)."""
    a, b = np.ascontiguousarray(a, dtype=np.float64), np.ascontiguousarray(b, dtype=np.float64)
    # Map the sign-magnitude bit patterns onto one monotone integer line, where
    # neighbouring doubles are neighbouring integers (and -0.0 meets +0.0).
    ia = a.view(np.int64)
    ib = b.view(np.int64)
    ia = np.where(ia < 0, np.int64(-(2**63)) - ia, ia)
    ib = np.where(ib < 0, np.int64(-(2**63)) - ib, ib)
    same_side = (ia < 0) == (ib < 0)
    with np.errstate(over="ignore"):
        exact = np.abs(ia - ib).astype(np.float64)  # exact in int64 when both lie on one side of zero
    across = np.abs(ia.astype(np.float64)) + np.abs(ib.astype(np.float64))
    d = np.where(same_side, exact, across)
    return np.where(np.isnan(a) | np.isnan(b), np.where(np.isnan(a) & np.isnan(b), 0.0, np.inf), d)


def finite_ulp_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """ulp_distance for arrays without NaN or Inf, in fewer passes.

    Where a and b share a sign, the distance is the difference of their bit
    patterns read as integers; the few cells on opposite sides of zero go
    through ulp_distance.
    """
    ia, ib = a.view(np.int64), b.view(np.int64)
    with np.errstate(over="ignore"):
        d = np.abs(ia - ib).astype(np.float64)
    across = np.flatnonzero((ia ^ ib) < 0)
    if across.size:
        d.flat[across] = ulp_distance(a.flat[across], b.flat[across])
    return d


@dataclass
class Cell:
    """One matrix cell at one epoch, 1-based as a reader counts."""

    epoch: int
    name: str
    row: int
    col: int
    python: float
    r: float
    abs_diff: float
    ulps: float
    bound: float  # the largest difference the policy allows in this cell
    rounding_bound: float | None = None  # for the first difference: the lockstep bound of its step

    @property
    def step(self) -> int:
        return steps.BY_NAME[self.name].step

    def where(self) -> str:
        return f"epoch {self.epoch}, step {self.step} ({self.name}), cell [{self.row}, {self.col}]"

    @property
    def is_rounding(self) -> bool:
        """Whether a difference born here is within what one step's rounding can make."""
        return self.rounding_bound is not None and self.abs_diff <= self.rounding_bound

    def origin(self) -> str:
        """Where a free-running difference is born, and what kind it is."""
        verdict = (
            "rounding: within one step's rounding bound"
            if self.is_rounding
            else "a port error: beyond what one step's rounding can make"
        )
        return (
            f"born at {self.where()}: every input of that step was bitwise equal, its output was not; "
            f"{self.values()}; {verdict} ({self.rounding_bound:.3g})"
        )

    def values(self) -> str:
        return (
            f"Python {describe_value(self.python)}, R {describe_value(self.r)} "
            f"(difference {self.abs_diff:.3g}, {self.ulps:.0f} ULP; allowed {self.bound:.3g})"
        )


@dataclass
class NonFinite:
    """The first NaN, NA or Inf one language produced in a run: where, and which."""

    language: str  # "Python" or "R"
    epoch: int
    name: str
    row: int
    col: int
    value: float

    @property
    def step(self) -> int:
        return steps.BY_NAME[self.name].step

    def where(self) -> str:
        return f"epoch {self.epoch}, step {self.step} ({self.name}), cell [{self.row}, {self.col}]"

    def describe(self) -> str:
        return f"{self.language} first produced {describe_value(self.value)} at {self.where()}"


@dataclass(frozen=True)
class StepFailure:
    """A step R could not compute in lockstep (it errored or returned the wrong shape).

    ``RPort.lockstep`` puts one in place of the step's array; the comparison
    reports it as that step's problem and checks every other step as usual.
    ``epoch`` counts from the start of the chunk it came from, 1-based.
    """

    epoch: int
    message: str


@dataclass(frozen=True)
class NotComputed:
    """In a trace, in place of a matrix the implementation never computes (a learner's script
    that skips an intermediate): reported as not computed, not as a difference."""

    who: str  # "the R script it.R"
    reason: str

    def describe(self) -> str:
        return f"not computed by {self.who}: {self.reason}"


#: Why a bias may be n x k in R where Python's is 1 x k.
PER_SAMPLE_NOTE = "R holds this bias once per sample ({rows} x {cols}), Python once (1 x {cols}): each R row is compared with Python's row"


@dataclass
class StepStats:
    name: str
    cells: int = 0
    equal: int = 0
    max_abs: float = 0.0
    max_rel: float = 0.0
    max_ulp: float = 0.0
    violations: int = 0
    first_violation: Cell | None = None
    problem: str | None = None  # a structural problem: missing matrix, wrong shape
    note: str | None = None  # how the shapes were matched, when they were not equal (per-sample bias)
    not_computed: str | None = None  # a script never computes this matrix: nothing to compare
    per_epoch_max_abs: list[np.ndarray] = field(default_factory=list, repr=False)
    per_epoch_max_ulp: list[np.ndarray] = field(default_factory=list, repr=False)

    @property
    def step(self) -> int:
        return steps.BY_NAME[self.name].step

    @property
    def passed(self) -> bool:
        return self.problem is None and self.violations == 0

    @property
    def equal_share(self) -> float:
        return self.equal / self.cells if self.cells else 0.0

    def epoch_max_abs(self) -> np.ndarray:
        return np.concatenate(self.per_epoch_max_abs) if self.per_epoch_max_abs else np.zeros(0)

    def epoch_max_ulp(self) -> np.ndarray:
        return np.concatenate(self.per_epoch_max_ulp) if self.per_epoch_max_ulp else np.zeros(0)


@dataclass
class ParityReport:
    case: str
    mode: str  # "free" or "lockstep"
    epochs: int
    stats: list[StepStats]
    first_difference: Cell | None
    tolerance: str
    error: str | None = None  # why this mode could not be completed (a port failed, or lacks steps)
    non_finite: dict[str, NonFinite] = field(default_factory=dict)  # language -> its first NaN, NA or Inf
    remarks: list[str] = field(default_factory=list)  # said with the story (a script: free-running only)

    @property
    def passed(self) -> bool:
        return self.error is None and all(s.passed for s in self.stats)

    @property
    def first_violation(self) -> Cell | None:
        found = [s.first_violation for s in self.stats if s.first_violation is not None]
        order = {name: i for i, name in enumerate(steps.NAMES)}
        return min(found, key=lambda c: (c.epoch, order[c.name]), default=None)

    @property
    def problems(self) -> list[str]:
        return [f"step {s.step} ({s.name}): {s.problem}" for s in self.stats if s.problem]

    @property
    def not_computed(self) -> list[str]:
        return [f"step {s.step} ({s.name}): {s.not_computed}" for s in self.stats if s.not_computed]

    @property
    def notes(self) -> list[str]:
        return [f"step {s.step} ({s.name}): {s.note}" for s in self.stats if s.note]


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
        if name in steps.STATE:
            return np.concatenate([np.asarray(start[name])[None], trace[name][:-1]])
        return trace[name]

    return get


class Comparison:
    """Feed it chunks of two traces with ``add``; ``report`` gives the verdict.

    ``mode`` is "free" (both trained on their own) or "lockstep" (the second
    trace was recomputed step by step from the first one's inputs).
    """

    def __init__(self, case, mode: str):
        self.case = case
        self.mode = mode
        self.stats = {name: StepStats(name) for name in steps.NAMES}
        self.epochs = 0
        self.first_difference: Cell | None = None
        self.error: str | None = None
        self.non_finite: dict[str, NonFinite] = {}

    def fail(self, error: str) -> None:
        """A port failed while running: this mode cannot hold, and says why."""
        self.error = error

    def bound(self, name: str, a: np.ndarray, b: np.ndarray, get) -> np.ndarray:
        return self.scaled(policy.free_running_bound if self.mode == "free" else policy.lockstep_bound, name, a, b, get)

    @classmethod
    def rounding_bound(cls, name: str, a: np.ndarray, b: np.ndarray, get) -> np.ndarray:
        return cls.scaled(policy.lockstep_bound, name, a, b, get)

    @staticmethod
    def scaled(bound, name: str, a: np.ndarray, b: np.ndarray, get) -> np.ndarray:
        """A policy bound from the step's inputs, or from the values alone when an input is missing or misshapen."""
        try:
            return bound(name, a, b, get)
        except (KeyError, ValueError):
            return bound(name, a, b)

    def add(self, python: dict[str, np.ndarray], r: dict[str, np.ndarray], epochs: int, start: dict[str, np.ndarray]) -> None:
        """Compare one chunk; `start` holds the weights at the chunk's first epoch."""
        offset = self.epochs
        self.epochs += epochs
        get = inputs_of(self.case, python, start)
        for name in steps.NAMES:
            stats = self.stats[name]
            if stats.problem or stats.not_computed:
                continue
            missing = [x for x in (python.get(name), r.get(name)) if isinstance(x, NotComputed)]
            if missing:
                stats.not_computed = "; ".join(m.describe() for m in missing)
                continue
            stats.problem = structural_problem(name, python.get(name), r.get(name), epochs, offset, self.case.dims[0])
            if stats.problem:
                continue
            a, b = self._pair(name, python, r)
            self._add_step(stats, offset, a, b, get)
        self._note_first_difference(python, r, offset, get)

    def _pair(self, name: str, python, r) -> tuple[np.ndarray, np.ndarray]:
        """The two arrays of one step, Python's broadcast over R's rows where R holds a bias per sample."""
        a, b = np.asarray(python[name], dtype=np.float64), np.asarray(r[name], dtype=np.float64)
        if a.shape != b.shape and is_per_sample_bias(name, a.shape, b.shape, self.case.dims[0]):
            self.stats[name].note = PER_SAMPLE_NOTE.format(rows=b.shape[1], cols=b.shape[2])
            a = np.ascontiguousarray(np.broadcast_to(a, b.shape))
        return a, b

    def _add_step(self, stats: StepStats, offset: int, a: np.ndarray, b: np.ndarray, get) -> None:
        with np.errstate(invalid="ignore", over="ignore"):
            diff = np.abs(a - b)
            finite = bool(np.isfinite(diff.sum()))  # a NaN or an Inf on either side makes the sum NaN or Inf
        if finite:  # the common case, in as few passes over the chunk as possible (see bench/)
            same = a.view(np.int64) == b.view(np.int64)
            ulps = finite_ulp_distance(a, b)
            scale = np.maximum(np.abs(a), np.abs(b))
        else:  # NaN must meet NaN, NA must meet NA, Inf must meet the same Inf
            self._note_non_finite(stats.name, offset, a, b)
            nan_a, nan_b, na_a, na_b = np.isnan(a), np.isnan(b), is_r_na(a), is_r_na(b)
            same = (a.view(np.int64) == b.view(np.int64)) | (nan_a & nan_b & (na_a == na_b))
            mismatch = (nan_a != nan_b) | (nan_a & nan_b & (na_a != na_b))
            with np.errstate(invalid="ignore"):
                diff = np.where(mismatch, np.inf, np.nan_to_num(np.where(same, 0.0, diff), nan=0.0))
                scale = np.maximum(np.abs(np.nan_to_num(a)), np.abs(np.nan_to_num(b)))
            ulps = np.where(same, 0.0, ulp_distance(a, b))
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = np.divide(diff, scale, out=np.zeros_like(diff), where=diff != 0)
        allowed = self._allowed(stats.name, a, b, diff, get)
        bad = diff > allowed
        if not finite:
            bad |= mismatch

        stats.cells += a.size
        stats.equal += int(same.sum())
        stats.max_abs = max(stats.max_abs, float(diff.max(initial=0.0)))
        stats.max_rel = max(stats.max_rel, float(rel.max(initial=0.0)))
        stats.max_ulp = max(stats.max_ulp, float(ulps.max(initial=0.0)))
        stats.per_epoch_max_abs.append(diff.reshape(len(a), -1).max(axis=1))
        stats.per_epoch_max_ulp.append(ulps.reshape(len(a), -1).max(axis=1))
        n_bad = int(bad.sum())
        stats.violations += n_bad
        if n_bad and stats.first_violation is None:
            e, i, j = np.argwhere(bad)[0]
            stats.first_violation = Cell(
                offset + int(e) + 1, stats.name, int(i) + 1, int(j) + 1,
                float(a[e, i, j]), float(b[e, i, j]), float(diff[e, i, j]), float(ulps[e, i, j]), float(allowed[e, i, j]),
            )

    def _allowed(self, name: str, a: np.ndarray, b: np.ndarray, diff: np.ndarray, get) -> np.ndarray:
        """The bound, computed in full only in the epochs where it can matter.

        The magnitude of a sum costs a matrix product per epoch (half the
        comparison's time on the scale case), so it is computed only for epochs
        with a cell that a cheaper bound cannot settle: in lockstep, a cell
        that differs at all; free-running, a cell beyond the bound relative to
        the values, which is never larger than the full one.
        """
        if self.mode == "free":
            cheap = policy.free_running_bound(name, a, b)
            if name not in policy.SUMMING:
                return cheap
        else:
            cheap = np.zeros_like(diff)
        need = (diff > cheap).reshape(len(diff), -1).any(axis=1)
        if need.all():
            return self.bound(name, a, b, get)
        if need.any():
            epochs = np.flatnonzero(need)
            cheap[epochs] = self.bound(name, a[epochs], b[epochs], at_epochs(get, epochs))
        return cheap

    def _note_non_finite(self, name: str, offset: int, a: np.ndarray, b: np.ndarray) -> None:
        """Keep, per language, the first cell (in epoch, then step order) that is NaN, NA or Inf."""
        order = steps.NAMES.index(name)
        for language, x in (("Python", a), ("R", b)):
            cells = np.argwhere(~np.isfinite(x))
            if not len(cells):
                continue
            e, i, j = (int(k) for k in cells[0])
            seen = self.non_finite.get(language)
            if seen is None or (offset + e + 1, order) < (seen.epoch, steps.NAMES.index(seen.name)):
                self.non_finite[language] = NonFinite(language, offset + e + 1, name, i + 1, j + 1, float(x[e, i, j]))

    def _note_first_difference(self, python, r, offset, get) -> None:
        """The first cell, in epoch then step order, that is not bitwise equal."""
        if self.first_difference is not None:
            return
        best = None
        for order, name in enumerate(steps.NAMES):
            if self.stats[name].problem or self.stats[name].not_computed:
                continue
            a, b = self._pair(name, python, r)
            # -0.0 against 0.0 differs in its bits but in no value that follows from it: not a birth.
            differs = (a.view(np.int64) != b.view(np.int64)) & (a != b) & ~(np.isnan(a) & np.isnan(b) & (is_r_na(a) == is_r_na(b)))
            per_epoch = differs.reshape(len(a), -1).any(axis=1)
            if per_epoch.any():
                e = int(np.argmax(per_epoch))
                if best is None or (e, order) < best[:2]:
                    best = (e, order, name, a, b, differs)
        if best is None:
            return
        e, _, name, a, b, differs = best
        i, j = np.argwhere(differs[e])[0]
        x, y = a[e : e + 1, i : i + 1, j : j + 1], b[e : e + 1, i : i + 1, j : j + 1]
        at_epoch = at_epochs(get, slice(e, e + 1))
        self.first_difference = Cell(
            offset + e + 1, name, int(i) + 1, int(j) + 1, float(x.item()), float(y.item()),
            float(abs(x.item() - y.item())), float(ulp_distance(x, y).item()),
            float(self.bound(name, a[e : e + 1], b[e : e + 1], at_epoch)[0, i, j]),
            rounding_bound=float(self.rounding_bound(name, a[e : e + 1], b[e : e + 1], at_epoch)[0, i, j]),
        )

    def report(self) -> ParityReport:
        tolerance = policy.describe(self.mode)
        return ParityReport(self.case.name, self.mode, self.epochs, list(self.stats.values()), self.first_difference, tolerance, self.error, dict(self.non_finite))


def is_per_sample_bias(name: str, a: tuple[int, ...], b: tuple[int, ...], n_samples: int | None) -> bool:
    """Python holds a bias once (epochs x 1 x k), R once per sample (epochs x n x k), as the article's R does."""
    return (
        n_samples is not None
        and name in steps.STATE
        and steps.shape_of(name, 2, 2, 2, 2)[0] == 1  # bh and bout: one row whatever the dimensions
        and len(a) == len(b) == 3
        and (a[0], a[2]) == (b[0], b[2])
        and a[1] == 1
        and b[1] == n_samples
    )


def structural_problem(name: str, a, b, epochs: int, offset: int = 0, n_samples: int | None = None) -> str | None:
    """Why two recorded arrays of one step cannot be compared cell by cell, or None.

    ``offset`` is the number of epochs before this chunk (to name the epoch an
    R step failed at); with ``n_samples``, an R bias held per sample is
    comparable (see is_per_sample_bias).
    """
    if a is None and b is None:
        return "neither trace has this matrix"
    if a is None:
        return "the Python trace does not record this matrix"
    if isinstance(b, StepFailure):
        return f"R's step function failed at epoch {offset + b.epoch}: {b.message}"
    if b is None:
        return "the R trace does not record this matrix"
    a, b = np.shape(a), np.shape(b)
    if a != b and is_per_sample_bias(name, a, b, n_samples):
        a = b
    if a != b:
        return f"shapes differ: Python {a[1:]} per epoch over {a[0]} epochs, R {b[1:]} over {b[0]}"
    if a[0] != epochs:
        return f"recorded {a[0]} epochs, expected {epochs}"
    return None
