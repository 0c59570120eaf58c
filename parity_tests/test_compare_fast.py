"""The comparison's fast path gives exactly what the general one gives.

A chunk whose values are all finite is measured per epoch in cache-sized blocks
(``accumulate.finite_figures``), and only the epochs where a cell may be beyond
the bound are looked at cell by cell (``Comparison._add_finite``,
``accumulate.finite_over``). The general path measures every cell
(``accumulate.differences``, ``StepStats.add``); it still handles NaN, NA and
Inf, and it is the specification: the statistics table, the verdicts and the
first differences must not change by a bit. Hypothesis draws the values where
the shortcuts could go wrong: +0.0 against -0.0, subnormals, values either side
of zero, differences of a few ULP, near the bound, and beyond it, NaN, NA, Inf.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from nnparity import accumulate, policy, steps
from nnparity.accumulate import differences, finite_figures, finite_over
from nnparity.compare import Comparison, first_bit_difference
from nnparity.ports import PythonPort

R_NA = np.array([0x7FF00000000007A2], dtype=np.int64).view(np.float64)[0]
#: Values that make the shortcuts' corner cases, put on one side or both.
SPECIAL = [0.0, -0.0, 5e-324, -5e-324, 2.2e-308, -1e-310, 1.0, -1.0, 0.5, 1e300, -1e300,
           np.nan, R_NA, np.inf, -np.inf]
EPOCHS = 5

cells = st.one_of(
    st.sampled_from(SPECIAL),
    st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True, width=64),
    st.floats(-3, 3),
)


def bits(x) -> np.ndarray:
    """A float array as its bit patterns, so that -0.0 is not 0.0 and NaN equals its own."""
    return np.asarray(x, dtype=np.float64).view(np.int64)


@st.composite
def pairs(draw, finite: bool = False):
    """Two [epochs, rows, cols] arrays: b is a with some cells moved by a few ULP, by a
    relative amount, or replaced (on one side or both) by a special value."""
    shape = draw(st.tuples(st.integers(1, 4), st.integers(1, 5), st.integers(1, 5)))
    elements = st.floats(-1e6, 1e6, allow_subnormal=True) if finite else cells
    a = draw(hnp.arrays(np.float64, shape, elements=elements))
    b = a.copy()
    with np.errstate(over="ignore"):
        edit(draw, a, b, finite)
    return a, b


def edit(draw, a, b, finite):
    """Change a few cells of b (and, for "both", of a) in place."""
    # special values (inf, NaN) make numpy warn while the edits are drawn: not the test's subject
    with np.errstate(invalid="ignore", over="ignore"):
        for _ in range(draw(st.integers(0, 6))):
            k = draw(st.integers(0, a.size - 1))
            how = draw(st.sampled_from(["ulps", "relative", "special", "both"]))
            if how == "ulps":
                step = np.inf if draw(st.booleans()) else -np.inf
                for _ in range(draw(st.integers(1, 3))):
                    b.flat[k] = np.nextafter(b.flat[k], step)
            elif how == "relative":
                b.flat[k] = a.flat[k] * (1 + draw(st.sampled_from([1e-15, 1e-12, 1e-9, 1e-3])))
            else:
                value = draw(st.sampled_from(SPECIAL))
                if not (finite and not np.isfinite(value)):
                    b.flat[k] = value
                    if how == "both":
                        a.flat[k] = value if draw(st.booleans()) else -value


@given(pairs(), st.integers(1, 80))
def test_the_per_epoch_figures_are_the_reductions_of_every_cells_differences(pair, block):
    a, b = pair
    figures = finite_figures(a, b, block=block)
    d = differences(a, b)
    if figures is None:
        with np.errstate(invalid="ignore", over="ignore"):
            finite = np.isfinite(a - b).all()
        assert not finite, "the fast path refused a chunk whose differences are all finite"
        return
    expected = {
        "equal": d.same, "max_abs": d.diff, "max_rel": d.rel, "max_ulp": d.ulps,
        "max_scale": np.maximum(np.abs(a), np.abs(b)),
    }
    for key, cellwise in expected.items():
        how = np.count_nonzero if key == "equal" else np.max
        want = how(cellwise.reshape(len(a), -1), axis=1)
        got = figures[key]
        same = np.array_equal(*((got, want) if key == "equal" else (bits(got), bits(want))))
        assert same, f"{key} per epoch: fast {got}, every cell {want}\na={a!r}\nb={b!r}"


@given(pairs(finite=True), st.integers(1, 80), st.floats(0, 2))
def test_the_cells_over_the_bound_are_counted_as_cell_by_cell(pair, block, scale):
    a, b = pair
    allowed = scale * np.abs(a - b)[::-1]  # a bound some cells meet and some do not
    over, top, first = finite_over(a, b, allowed, block=block)
    bad = np.abs(a - b) > allowed
    np.testing.assert_array_equal(over, np.count_nonzero(bad.reshape(len(a), -1), axis=1))
    np.testing.assert_array_equal(bits(top), bits(allowed.reshape(len(a), -1).max(axis=1)))
    want = tuple(int(k) for k in np.argwhere(bad)[0]) if bad.any() else None
    assert first == want, f"first cell over the bound: fast {first}, cell by cell {want}"


# --- whole comparisons: the fast path against the general one ---------------------------


@pytest.fixture(scope="module")
def chunk(article):
    port = PythonPort()
    port.start(article)
    return port.advance(EPOCHS)


@st.composite
def edits(draw):
    """Changes to the R side (and sometimes both sides) of a real chunk: the steps of every
    epoch, and the records of steps 0 and 1 and of what train() returned."""
    return draw(st.lists(st.tuples(
        st.sampled_from([*steps.NAMES, *steps.ONCE, *steps.RETURNED]), st.integers(0, 10**6),
        st.sampled_from(["ulps", "relative", "near bound", "special", "both"]),
        st.sampled_from(SPECIAL), st.sampled_from([1e-15, 1e-13, 1e-11, 1e-3, 0.5, 1.5, 3.0]),
    ), max_size=8))


def edited(chunk, changes):
    python = {k: v.copy() for k, v in chunk.items()}
    r = {k: v.copy() for k, v in chunk.items()}
    with np.errstate(invalid="ignore", over="ignore"):
        for change in changes:
            edit_cell(python, r, *change)
    return python, r


def edit_cell(python, r, name, k, how, value, amount):
    """One change to a cell of `name` (flat index k, wrapped): R's side, or both sides."""
    a, b = python[name].reshape(-1), r[name].reshape(-1)
    k %= a.size
    if how == "ulps":
        b[k] = np.nextafter(np.nextafter(b[k], np.inf), np.inf)
    elif how == "relative":
        b[k] = a[k] * (1 + amount)
    elif how == "near bound":  # around the free-running bound relative to the value
        b[k] = a[k] + amount * (policy.FREE_ATOL + policy.FREE_RTOL * abs(a[k]))
    else:
        b[k] = value
        if how == "both":
            a[k] = value


def general(case, mode, **options):
    """The comparison without its shortcuts: every measure in every cell, and the
    once-per-chunk checks under the full bound from the start."""
    comparison = Comparison(case, mode, **options)
    comparison.fast = False
    full = comparison.once.add
    comparison.once.add = lambda *args: full(*args[:6])
    return comparison


def as_plain(value):
    """A Cell (or None) as a tuple, floats as bit patterns."""
    if value is None:
        return None
    return tuple(
        int(bits(v)) if isinstance(v, float) else v for v in dataclasses.astuple(value)
    )


@pytest.mark.parametrize("block", [accumulate.BLOCK, 5], ids=["blocks", "tiny-blocks"])
@pytest.mark.parametrize(
    "mode, options",
    [("free", {}), ("lockstep", {}), ("free", {"full_bounds": True}),
     ("lockstep", {"full_bounds": True}), ("free", {"bound": policy.spreadsheet_bound})],
    ids=["free", "lockstep", "free-save-stats", "lockstep-save-stats", "spreadsheet"],
)
@settings(max_examples=50)  # ten combinations: 500 comparisons of two chunks in all, about 30 s
@given(changes=edits())
def test_the_fast_comparison_gives_every_figure_and_cell_of_the_general_one(
    article, chunk, block, mode, options, changes
):
    python, r = edited(chunk, changes)
    results = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(accumulate, "BLOCK", block)
        for comparison in (Comparison(article, mode, **options), general(article, mode, **options)):
            comparison.add(python, r, EPOCHS, article.state())
            results.append(comparison)
    fast, slow = results
    assert fast.fast, "the fast path was not taken"
    for name in steps.NAMES:
        got, want = fast.stats[name], slow.stats[name]
        for key, value in want.figures().items():
            assert np.array_equal(bits(got.figures()[key]), bits(value)), (
                f"{name} {key} per epoch: fast {got.figures()[key]}, general {value}"
            )
        assert as_plain(got.first_violation) == as_plain(want.first_violation), name
        assert (got.cells, got.equal, got.violations) == (want.cells, want.equal, want.violations)
    assert as_plain(fast.first_difference) == as_plain(slow.first_difference)
    for name, check in slow.once.checks.items():
        mine = fast.once.checks[name]
        assert (mine.violations, as_plain(mine.first_violation)) == (
            check.violations, as_plain(check.first_violation)
        ), name
    # and the first difference is first_bit_difference over every whole array
    found = first_bit_difference((n, python[n], r[n]) for n in steps.NAMES)
    where = None if found is None else (found[0] + 1, found[3], found[1] + 1, found[2] + 1)
    first = fast.first_difference
    assert where == (None if first is None else (first.epoch, first.name, first.row, first.col))
