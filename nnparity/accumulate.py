"""Per-step accumulation: the statistics of one recorded matrix over every chunk.

``differences`` measures two arrays of one step cell by cell (absolute,
relative, ULP, bitwise equality; NaN and NA matched by kind), and
``StepStats.add`` folds one chunk's measurements into the step's running
statistics, keeping the first cell beyond the bound. The figures are kept per
epoch (``EPOCH_FIGURES``): they are the rows of the statistics table
(``nnparity.stats``), and the totals over all epochs follow from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import steps
from .cells import Cell
from .floats import bitwise_equal, finite_ulp_distance, ulp_distance
from .missing import missing_mismatch, same_missing


@dataclass
class Differences:
    """Two arrays of one step, [epochs, rows, cols], measured cell by cell."""

    diff: np.ndarray  # |a - b|; inf where NaN/NA meets a number or the other kind
    same: np.ndarray  # bitwise equal, or both NaN of one kind
    ulps: np.ndarray
    rel: np.ndarray  # diff / max(|a|, |b|); 0 where equal
    mismatch: np.ndarray | None  # NaN/NA against a number or the other kind; None when all finite

    @property
    def finite(self) -> bool:
        return self.mismatch is None


def differences(a: np.ndarray, b: np.ndarray) -> Differences:
    """Cell-by-cell differences of two float64 arrays of the same shape."""
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(a - b)
        finite = bool(np.isfinite(diff.sum()))  # a NaN or an Inf on either side makes it NaN or Inf
    mismatch = None
    if finite:  # the common case, in as few passes over the chunk as possible (see bench/)
        same = bitwise_equal(a, b)
        ulps = finite_ulp_distance(a, b)
        scale = np.maximum(np.abs(a), np.abs(b))
    else:  # NaN must meet NaN, NA must meet NA, Inf must meet the same Inf
        same = bitwise_equal(a, b) | same_missing(a, b)
        mismatch = missing_mismatch(a, b)
        with np.errstate(invalid="ignore"):
            diff = np.where(mismatch, np.inf, np.nan_to_num(np.where(same, 0.0, diff), nan=0.0))
            scale = np.maximum(np.abs(np.nan_to_num(a)), np.abs(np.nan_to_num(b)))
        ulps = np.where(same, 0.0, ulp_distance(a, b))
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.divide(diff, scale, out=np.zeros_like(diff), where=diff != 0)
    return Differences(diff, same, ulps, rel, mismatch)


#: The figures kept per epoch for every step: columns of the statistics table (nnparity.stats).
EPOCH_FIGURES = ("equal", "max_abs", "max_rel", "max_ulp", "over", "bound")


def _per_epoch(x: np.ndarray, how) -> np.ndarray:
    return how(x.reshape(len(x), -1), axis=1)


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
    problem_epoch: int = 1  # where the problem was found: a chunk's first epoch, or R's failing one
    note: str | None = None  # how unequal shapes were matched (a bias R holds per sample)
    not_computed: str | None = None  # a script never computes this matrix: nothing to compare
    # figure -> one array per chunk, one value per epoch (EPOCH_FIGURES)
    per_epoch: dict[str, list[np.ndarray]] = field(
        default_factory=lambda: {k: [] for k in EPOCH_FIGURES}, repr=False
    )

    @property
    def step(self) -> int:
        return steps.BY_NAME[self.name].step

    @property
    def passed(self) -> bool:
        return self.problem is None and self.violations == 0

    @property
    def equal_share(self) -> float:
        return self.equal / self.cells if self.cells else 0.0

    def figures(self) -> dict[str, np.ndarray]:
        """Every per-epoch figure (EPOCH_FIGURES) over all epochs compared so far."""
        return {k: np.concatenate(v) if v else np.zeros(0) for k, v in self.per_epoch.items()}

    def epoch_max_abs(self) -> np.ndarray:
        return self.figures()["max_abs"]

    def epoch_max_ulp(self) -> np.ndarray:
        return self.figures()["max_ulp"]

    def add(self, offset: int, a: np.ndarray, b: np.ndarray, d: Differences,
            allowed: np.ndarray, full: np.ndarray | None = None) -> None:
        """Fold one chunk (its first epoch is ``offset + 1``) into the statistics.

        ``full`` tells, per epoch, whether ``allowed`` is the full bound there (not
        a cheaper one that settled every cell); the bound is kept only there.
        """
        bad = d.diff > allowed
        if not d.finite:
            bad |= d.mismatch
        n = len(a)
        full = np.ones(n, dtype=bool) if full is None else full
        bound = np.full(n, np.nan)
        if full.any():
            bound[full] = _per_epoch(allowed[full], np.max)
        figures = {  # count_nonzero: a bool sum per row is 80x slower on a small matrix
            "equal": _per_epoch(d.same, np.count_nonzero),
            "max_abs": _per_epoch(d.diff, np.max),
            "max_rel": _per_epoch(d.rel, np.max),
            "max_ulp": _per_epoch(d.ulps, np.max),
            "over": _per_epoch(bad, np.count_nonzero),
            "bound": bound,
        }
        for key, value in figures.items():
            self.per_epoch[key].append(value)
        self.cells += a.size
        self.equal += int(figures["equal"].sum())
        self.max_abs = max(self.max_abs, float(figures["max_abs"].max(initial=0.0)))
        self.max_rel = max(self.max_rel, float(figures["max_rel"].max(initial=0.0)))
        self.max_ulp = max(self.max_ulp, float(figures["max_ulp"].max(initial=0.0)))
        n_bad = int(figures["over"].sum())
        self.violations += n_bad
        if n_bad and self.first_violation is None:
            e, i, j = (int(k) for k in np.argwhere(bad)[0])
            self.first_violation = Cell(
                offset + e + 1, self.name, i + 1, j + 1, float(a[e, i, j]), float(b[e, i, j]),
                float(d.diff[e, i, j]), float(d.ulps[e, i, j]), float(allowed[e, i, j]),
            )
