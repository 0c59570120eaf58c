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
    ulps: np.ndarray  # inf where NaN/NA meets a number or the other kind
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
        # Inf against a number stays inf; inf - inf (NaN) is only where the two are the same
        diff = np.where(mismatch, np.inf, np.where(same, 0.0, diff))
        with np.errstate(invalid="ignore"):
            scale = np.maximum(np.abs(np.nan_to_num(a)), np.abs(np.nan_to_num(b)))
        ulps = np.where(same, 0.0, np.where(mismatch, np.inf, ulp_distance(a, b)))
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.divide(diff, scale, out=np.zeros_like(diff), where=diff != 0)
    return Differences(diff, same, ulps, rel, mismatch)


def cell_difference(x: float, y: float) -> tuple[float, float]:
    """The difference and ULP distance of one cell's two values, as ``differences`` measures
    them: the one rule every report of a cell follows (0 and 0 where NaN meets NaN or NA
    meets NA; inf and inf where either meets a number or the other kind)."""
    d = differences(np.array([[[x]]], dtype=np.float64), np.array([[[y]]], dtype=np.float64))
    return float(d.diff.item()), float(d.ulps.item())


#: Cells per block of ``finite_figures``: its few temporaries (256 KiB each) stay in cache.
BLOCK = 1 << 15
#: The smallest positive double: a scale of zero (both values zero) divides to a relative
#: difference of 0 when raised to it, and no other scale changes.
_TINY = np.float64(5e-324)


def _blocks(shape: tuple[int, int, int], block: int):
    """Blocks of about `block` cells of an [epochs, rows, cols] array: whole epochs, or rows
    of one epoch; yields (epochs, rows) slices, and the size of the largest block."""
    n, rows, cols = shape
    if rows * cols <= block:
        epochs_per_block, rows_per_block = max(1, block // max(rows * cols, 1)), rows
    else:
        epochs_per_block, rows_per_block = 1, max(1, block // max(cols, 1))
    size = epochs_per_block * rows_per_block * cols
    spans = [
        (slice(e0, min(n, e0 + epochs_per_block)), slice(r0, min(rows, r0 + rows_per_block)))
        for e0 in range(0, n, epochs_per_block)
        for r0 in range(0, rows, rows_per_block)
    ]
    return spans, size


def finite_figures(a: np.ndarray, b: np.ndarray, scale: bool = True,
                   block: int | None = None) -> dict | None:
    """Per epoch, what ``differences`` measures in every cell, reduced: ``equal`` (cells
    bitwise equal), ``max_abs``, ``max_rel``, ``max_ulp``, and with `scale` ``max_scale``
    (the largest max(|a|, |b|)); None when a difference is not finite (a NaN or an Inf in
    a or b).

    The same numbers as reducing ``differences(a, b)`` per epoch, without a chunk-sized
    array for each measure: the work goes in blocks of about `block` cells (whole epochs
    or rows of one), each through a few preallocated buffers that stay in cache. ULPs
    are the difference of the bit patterns as integers, maximised before they become
    doubles (the conversion is monotone); a block where a cell may cross zero (a relative
    difference of at least 1, or only +0.0 against -0.0) takes ``finite_ulp_distance``.
    """
    with np.errstate(invalid="ignore", over="ignore"):
        return _finite_figures(a, b, scale, block or BLOCK) if a.size else None


def _finite_figures(a: np.ndarray, b: np.ndarray, need_scale: bool, block: int) -> dict | None:
    n = len(a)
    spans, size = _blocks(a.shape, block)
    d_buf, s_buf, t_buf = np.empty(size), np.empty(size), np.empty(size)
    i_buf, q_buf = np.empty(size, dtype=np.int64), np.empty(size, dtype=bool)
    out = {
        "equal": np.zeros(n, dtype=np.intp), "max_abs": np.zeros(n), "max_rel": np.zeros(n),
        "max_ulp": np.zeros(n), "max_scale": np.zeros(n) if need_scale else None,
    }
    ai, bi = a.view(np.int64), b.view(np.int64)
    for epochs, rows in spans:
        x, y = a[epochs, rows], b[epochs, rows]
        k, m = len(x), x.size
        d = np.subtract(x, y, out=d_buf[:m].reshape(x.shape))
        np.abs(d, out=d)
        d2 = d.reshape(k, -1)
        dmax = d2.max(axis=1)
        if not np.isfinite(dmax).all():
            return None
        q = np.equal(ai[epochs, rows], bi[epochs, rows], out=q_buf[:m].reshape(x.shape))
        equal = np.count_nonzero(q) if k == 1 else np.count_nonzero(q.reshape(k, -1), axis=1)
        differ = dmax.max() > 0  # else bitwise equal, or +0.0 against -0.0: no rel, no ULP
        figures = [("max_abs", dmax)]
        if differ or need_scale:
            s2 = np.abs(x, out=s_buf[:m].reshape(x.shape)).reshape(k, -1)
            np.maximum(s2, np.abs(y, out=t_buf[:m].reshape(x.shape)).reshape(k, -1), out=s2)
            if need_scale:
                figures.append(("max_scale", s2.max(axis=1)))
        if differ:
            np.maximum(s2, _TINY, out=s2)
            rmax = np.divide(d2, s2, out=s2).max(axis=1)
            i = np.subtract(ai[epochs, rows], bi[epochs, rows], out=i_buf[:m].reshape(x.shape))
            np.abs(i, out=i)
            imax = i.reshape(k, -1).max(axis=1)
            if rmax.max() >= 1 or imax.min() < 0:  # a cell may lie across zero
                umax = finite_ulp_distance(
                    np.ascontiguousarray(x), np.ascontiguousarray(y)
                ).reshape(k, -1).max(axis=1)
            else:
                umax = imax.astype(np.float64)
            figures += [("max_rel", rmax), ("max_ulp", umax)]
        out["equal"][epochs] += equal
        for key, value in figures:
            np.maximum(out[key][epochs], value, out=out[key][epochs])
    return out


def finite_over(a: np.ndarray, b: np.ndarray, allowed: np.ndarray, block: int | None = None):
    """Per epoch of finite `a` and `b`, the cells with |a - b| > allowed, and the largest
    allowed; and the first such cell (epoch, row, col; 0-based), or None. In blocks, as
    ``finite_figures``."""
    n = len(a)
    over, top, first = np.zeros(n, dtype=np.intp), np.full(n, -np.inf), None
    spans, size = _blocks(a.shape, block or BLOCK)
    d_buf, q_buf = np.empty(size), np.empty(size, dtype=bool)
    with np.errstate(invalid="ignore", over="ignore"):
        for epochs, rows in spans:
            x, y, bound = a[epochs, rows], b[epochs, rows], allowed[epochs, rows]
            k, m = len(x), x.size
            d = np.subtract(x, y, out=d_buf[:m].reshape(x.shape))
            np.abs(d, out=d)
            bad = np.greater(d, bound, out=q_buf[:m].reshape(x.shape)).reshape(k, -1)
            count = np.count_nonzero(bad) if k == 1 else np.count_nonzero(bad, axis=1)
            np.maximum(top[epochs], np.reshape(bound, (k, -1)).max(axis=1), out=top[epochs])
            if np.any(count):
                over[epochs] += count
                if first is None:
                    e, i, j = (int(q) for q in np.argwhere(bad.reshape(x.shape))[0])
                    first = (epochs.start + e, rows.start + i, j)
    return over, top, first


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
    def not_compared(self) -> bool:
        """Nothing compared, for no reason of its own (no problem, computed by both sides):
        the comparison stopped before it (a port failed first). Not a pass: the mode's error
        says why."""
        return self.cells == 0 and self.problem is None and self.not_computed is None

    def figures(self) -> dict[str, np.ndarray]:
        """Every per-epoch figure (EPOCH_FIGURES) over all epochs compared so far."""
        return {k: np.concatenate(v) if v else np.zeros(0) for k, v in self.per_epoch.items()}

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
        first = None
        if self.first_violation is None and figures["over"].any():
            e, i, j = (int(k) for k in np.argwhere(bad)[0])
            first = Cell(
                offset + e + 1, self.name, i + 1, j + 1, float(a[e, i, j]), float(b[e, i, j]),
                float(d.diff[e, i, j]), float(d.ulps[e, i, j]), float(allowed[e, i, j]),
            )
        self.record(a.size, figures, first)

    def record(self, cells: int, figures: dict[str, np.ndarray], first: Cell | None) -> None:
        """Fold one chunk's per-epoch figures (EPOCH_FIGURES) over `cells` cells into the
        totals; `first`: the chunk's first cell beyond the bound, if any."""
        for key in EPOCH_FIGURES:
            self.per_epoch[key].append(figures[key])
        self.cells += cells
        self.equal += int(figures["equal"].sum())
        self.max_abs = max(self.max_abs, float(figures["max_abs"].max(initial=0.0)))
        self.max_rel = max(self.max_rel, float(figures["max_rel"].max(initial=0.0)))
        self.max_ulp = max(self.max_ulp, float(figures["max_ulp"].max(initial=0.0)))
        self.violations += int(figures["over"].sum())
        if first is not None and self.first_violation is None:
            self.first_violation = first
