"""The tolerance policy: how far Python and R may differ, and why.

Both bounds are decisions backed by measurement, over every case in fixtures/
at its full epoch count (``nnparity run --case NAME --json`` prints the same
statistics; ``python bench/measure_bounds.py fixtures/NAME`` the ratios below).
Rounding depends on the numpy build, its libm and each language's BLAS, so each
measurement says where it was made (the fields of ``nnparity.fingerprint``,
which every failing run prints):

A. Debian bookworm, R 4.2.2 on Debian's reference BLAS, numpy 2.4 on OpenBLAS,
   rpy2 3.5.17 (the exact numpy and OpenBLAS builds were not recorded): the
   free-running figures of the first six cases, the lockstep table of sums and
   the scale case.
B. Linux x86_64, Python 3.11.7, numpy 2.4.6 on OpenBLAS 0.3.31 (DYNAMIC_ARCH,
   Haswell kernels), glibc libm, rpy2 3.5.17, R 4.2.2 Patched (2022-11-10
   r83330) on Debian's reference BLAS (libblas.so.3.11.0): the cases added
   later, the elementwise section, and a re-measurement of the first six
   cases (bench/measure_bounds.py on each), which stays within both bounds:
   largest free-running difference article 1.07e-14, iris 7.99e-15,
   many_features 3.55e-15, many_hidden 8.88e-15, many_samples 5.33e-15,
   two_outputs 7.11e-15; lockstep sums in eps * magnitude hidden_layer_input
   1.82 (iris), output_layer_input 2.10 (many_hidden), Error_at_hidden_layer
   1.00, wout 1.11, wh 0.98, bout 0.92, bh 0.99 (at most 0.81 per
   sqrt(terms)); the sigmoid steps 1.41 in eps * |value| (98.8% of the
   article's hiddenlayer_activations cells bitwise equal, at most 2 ULP).

Re-measure and update this page before changing a number.
The same measurements with R on OpenBLAS and BLIS, and numpy on 1 or 2
threads, are in docs/blas.md (``python scripts/blas_matrix.py --measure``):
every bound holds on each, with the margins listed there.

Free-running (each language trains on its own from the same start)
--------------------------------------------------------------------
Rounding differences appear in the first epoch on every case but the article's
(the article case is bitwise equal for 6 epochs; the first difference is 1 ULP
in output_layer_input at epoch 7) and grow slowly. Largest absolute difference
seen in any matrix at any epoch, per case:

    article        5000 epochs   1.04e-14  (hidden_layer_input)
    iris           2000 epochs   7.55e-15  (hidden_layer_input)
    many_features  3000 epochs   4.00e-15  (hidden_layer_input)
    many_hidden    3000 epochs   8.88e-15  (output_layer_input)
    many_samples   4000 epochs   8.88e-15  (output_layer_input)
    two_outputs    2000 epochs   7.11e-15  (output_layer_input)
    square          300 epochs   2.66e-15  (hidden_layer_input)
    square_weights  300 epochs   3.55e-15  (hidden_layer_input)
    samples_as_features  300     3.61e-15  (hidden_layer_input)
    all_different  5000 epochs   4.71e-14  (output_layer_input, epoch 2553)
    saturated       200 epochs   7.11e-15  (hidden_layer_input)

(With a faithful rewrite of the sigmoid (tools/rewrites.py) the saturated
case reaches 2.6e-13 by its last epoch, in a hidden_layer_input whose
magnitude is about 20: a bound of 2e-11 there.)

Relative differences are large only where a value crosses zero (1.2e-9 in
hidden_layer_input), so the bound is absolute plus relative:

    |python - r| <= FREE_ATOL + FREE_RTOL * max(|python|, |r|, magnitude)
                                         (magnitude: for steps that sum, below)

with both set to 1e-12: about 100 times the largest difference measured, and
still nine orders of magnitude below the smallest real port error we know of
(the article's own R bias update moves outputs by about 2e-3 in one epoch).
The difference grows with epochs, so this bound is calibrated for runs of up
to a few thousand epochs; the lockstep check below does not grow and is the
one that proves each step faithful.

On the scale case (2000 samples, 50 features, 64 hidden units, lr 0.001,
2000 epochs; parity_tests/test_scale.py) the differences are larger and peak
around epoch 73, then shrink: 2.11e-12 in output_layer_input (a cell whose
value is 0.082 but whose 65 terms add up, in absolute value, to about 15),
2.7e-13 in hidden_layer_input, under 6e-13 everywhere else. A bound relative
to the value failed there (2694 cells, from epoch 69): a sum that cancels
carries its inputs' differences at the scale of its terms, as in lockstep.
So for a step that sums, the relative part scales with the larger of |value|
and ``magnitude()``. Only output_layer_input differs there by more than
FREE_ATOL, and by at most 1.4e-13 of its magnitude, so FREE_RTOL = 1e-12
keeps a margin of 7 there (every other difference is under FREE_ATOL / 1.6);
on the small cases magnitude >= |value| only loosens the bound. Script:
``python bench/measure_bounds.py [CASE]`` prints all of these numbers.

Lockstep (R recomputes every step from Python's recorded inputs)
----------------------------------------------------------------
The elementwise steps E, the slopes, d_output and d_hiddenlayer were bitwise
equal in every cell of every epoch of every case. The sigmoid is not: numpy's
exp (its own SIMD code) and R's (the C library's) round differently for 4.6%
of arguments on [-30, 30], and the sigmoid then differs in 1.9% of them, by at
most 1 eps (measured here on 200001 points; on another numpy build 98.8% of
hiddenlayer_activations' cells were bitwise equal, at most 2 ULP apart). Its
bound is below ("Elementwise steps"). Steps that sum
(matrix products, bias updates) differ because OpenBLAS and R's reference BLAS
(and R's colSums, which sums in long double) add in a different order. Per
cell the difference in ULPs of the result is unbounded where a sum cancels to
near zero (2.1e6 ULP in one hidden_layer_input cell of iris; 56 ULP in bout of
the article case at epoch 545, where bout crosses zero), so the bound follows
the textbook error analysis of a sum: it scales with the sum of the absolute
values of the terms, ``magnitude()`` below (|A| @ |B| for A @ B). Largest
difference seen, in units of eps * magnitude (eps = 2**-52), over all cases
and all epochs:

    hidden_layer_input 1.59 (iris)      output_layer_input 2.11 (many_hidden)
    Error_at_hidden_layer 1.00          wout 1.27 (iris)    wh 0.99 (iris)
    bout 0.95                           bh 0.99
    (elementwise steps: see "Elementwise steps" below)

It does not grow with epochs (it is a property of one step), but it does grow
with the number of terms a sum adds. A flat 8 (the first version of this
policy, measured on sums of at most 151 terms) failed on the scale case
(2000 samples, 50 features, 64 hidden units, lr 0.001; parity_tests/test_scale.py):
the weight and bias updates sum over the 2000 samples, and R's reference BLAS
adds them one after the other, so its rounding error grows like the square
root of the number of terms (the probabilistic analysis of Higham and Mary,
SIAM J. Sci. Comput. 41(5), 2019; the worst case grows linearly). Measured on
that case over its 2000 epochs, in the same units (A):

    wout 10.00 (2001 terms, epoch 73)   wh 6.31   bh 2.11   bout 0.81   (all 2001 terms)
    output_layer_input 3.04 (65 terms)   hidden_layer_input 0.00   elementwise steps 0.00

Divided by sqrt(terms), every measurement of a sum above, A and B, on every case,
is at most 1.00 (Error_at_hidden_layer: one product, no sum); the scale case's wout is
0.22. So the bound for a step that sums is ``SUMMING_ULPS * sqrt(terms) * eps
* magnitude`` with SUMMING_ULPS = 4 (4 times the largest measured; 8.9 for the
article's 5-term hidden_layer_input, close to the flat 8 it replaces; 179 for
2001 terms, 4e-14 relative, still 10 orders of magnitude below a real port error), where
``terms`` is the length of the sum (``terms()`` below).

Elementwise steps: the magnitude of the terms, not of the value
----------------------------------------------------------------
An elementwise step first had ``4 * eps * |value|``: the unmodified ports
were bitwise equal there. That flags rewrites a careful engineer accepts as
faithful (tools/rewrites.py): sigmoid as tanh(x/2)/2 + 1/2 rounds a tail
value near 0 at the scale of the 1/2 it adds (thousands of ULP of the
value); the slope as x - x**2 subtracts two terms near 1 where the slope is
near 0 (again thousands of ULP); and numpy 2.4's exp (SIMD) is not R's, so even the
unmodified sigmoid now differs by up to 1.4 eps (3 ULP of a value near 1).
So an elementwise step's magnitude is, like a sum's, the size of the terms
its faithful forms add (``elementwise_magnitude()``): 1/2 + |value - 1/2|
for the sigmoid (at most 1), |x| + x**2 for a slope of activation x,
|y| + |output| for E, |value| for d_output and d_hiddenlayer (one product,
one rounding). Largest |Python - R| measured in lockstep, in units of
eps * magnitude, over every cell of every epoch of all 11 cases at their full
epoch counts (``python bench/measure_bounds.py CASE [--python-impl|--r-impl
PORT]``; numpy 2.4.6, R 4.2.2, glibc libm):

    port (the other one unmodified)     sigmoid steps   slopes   E, d_output, d_hiddenlayer
    python_impl and r_impl              1.40            0.00     0.00
    Python sigmoid via tanh             1.33            0.00     0.00
    Python sigmoid via logaddexp        1.50            0.00     0.00
    R sigmoid via tanh                  1.33            0.00     0.00
    R sigmoid via plogis                1.40            0.00     0.00
    R slope as x - x^2                  1.40            1.00     0.00

The sums, in the same runs: at most 1.15 per sqrt(terms) (Error_at_hidden_layer
of all_different with the logaddexp sigmoid; 1.11 unmodified). The error
analysis of 1/(1 + exp(-x)) in either language (exp within 1 ULP, moved
through the sigmoid's slope, which is at most 1/4, plus two roundings of at
most |value| * eps / 2) gives at most 1.25 eps per language, 2.5 for the
difference. ELEMENTWISE_ULPS = 4 keeps a margin of 2.7 over the largest
measured (1.50) and of 1.6 over that analysis; SUMMING_ULPS = 4 a margin of
3.5 over the largest measured per sqrt(terms) (1.15). For a sigmoid value in
the tails the bound is now about 9e-16 absolute: a mistake in the tails
(outputs clipped to [1e-7, 1 - 1e-7]) is still 8 orders of magnitude beyond
it, on the saturated case whose outputs lie within 3e-10 of 0 or 1.

The spreadsheet (``nnparity run --spreadsheet``)
-----------------------------------------------
LibreOffice Calc recalculates the article's workbook (nnparity/workbook.py)
and is compared, free-running, with each language. Its arithmetic is not
numpy's; measured on LibreOffice 7.4.7 (Debian bookworm) against numpy 2.4,
2000 operations of each kind on random doubles (``python
bench/measure_spreadsheet.py engine``):

    SUM of 8 terms       the correctly rounded sum in 100% (compensated summation);
                         numpy's sum in 93.9%, up to 32 ULP apart where the sum cancels
    MMULT, 8 terms       the rounded products summed exactly in 100%; numpy's a @ b
                         (OpenBLAS) in 51.0% (largest difference 4.4e-16)
    EXP                  the C library's exp in 100%; np.exp in 95.8% (1 ULP apart)
    1/(1+EXP(-x))        numpy's sigmoid in 98.0% (up to 2 ULP apart)
    a - b, a + b         snapped to 0 when |a - b| < 2**-48 * |a| (808 of 2000 near-
                         cancelling differences; the largest relative gap snapped was
                         3.54e-15, the smallest kept 3.56e-15), where numpy keeps the
                         exact difference
    a number cell        read from the .xlsx up to 4 ULP off in 26% of cells (its
                         number parser is not correctly rounded); a constant formula
                         (=0.42) is read exactly, so the workbook types inputs that way

Over whole runs, the largest difference between the recalculated workbook
and either language, at any cell of any step of any epoch, absolute and as a
share of the bound below (``python bench/measure_spreadsheet.py run CASE
EPOCHS``):

    all_different        200 epochs   2.7e-15   0.00057
    article             1000 epochs   3.2e-15   0.00156  (hidden_layer_input, Python; R 1.1e-15)
    iris                 100 epochs   5.6e-16   0.00035
    many_features        300 epochs   3.6e-15   0.00042
    many_hidden          200 epochs   3.6e-15   0.00049
    many_samples         300 epochs   2.7e-15   0.00067
    samples_as_features  200 epochs   1.3e-15   0.00058
    saturated            200 epochs   7.1e-15   0.00032  (hidden_layer_input)
    square               200 epochs   1.8e-15   0.00071
    square_weights       200 epochs   3.1e-15   0.00086
    two_outputs          200 epochs   1.8e-15   0.00044

These are the size of the Python/R differences (above), for the same reason:
sums added in another order (here, more exactly) and one ULP here and there
in exp, carried forward by training. A snapped difference is off by at most
2**-48 of its operands, 3.6e-15 * |value|. So the spreadsheet is held to the
free-running bound with its own constants, SPREADSHEET_ATOL = SPREADSHEET_RTOL
= 1e-12: the largest difference measured is 0.16% of it (a margin of 640;
the largest absolute difference, 7.1e-15, is 1/140 of the 1e-12 floor), and still nine
orders of magnitude below a real error in a formula (the hidden bias added to
one row only moves hidden_layer_input by 0.46 in the first epoch). A run with
--spreadsheet holds at most spreadsheet.MAX_EPOCHS = 1000 epochs (one sheet
each), the length of the longest run measured.
"""

from __future__ import annotations

import numpy as np

from . import steps

#: The two ways of comparing, each with its bound below: free-running (each language trains
#: on its own from the same start) and lockstep (each step recomputed from the other's inputs).
MODES = ("free", "lockstep")

FREE_ATOL = 1e-12
FREE_RTOL = 1e-12

ELEMENTWISE_ULPS = 4
SUMMING_ULPS = 4  # per square root of the number of terms summed

_LARGEST = np.finfo(np.float64).max

#: The steps that sum (steps.csv's ``operation`` column).
SUMMING: frozenset[str] = frozenset(q.name for q in steps.QUANTITIES if q.sums)


def lockstep_ulps(name: str) -> int:
    return SUMMING_ULPS if name in SUMMING else ELEMENTWISE_ULPS


class _Dims:
    """The case's dimensions, read off a step's inputs when asked (``dims["samples"]``).

    Lazily: a dimension is read from the one input that carries it (X for
    samples and features, wout for hidden and outputs), only when a count
    needs it. (A class of its own, not one made per call: a class made per
    call sits in a reference cycle and kept each chunk's trace alive until
    the cycle collector ran, 9 chunks of 32 MB on the scale case.)
    """

    def __init__(self, get):
        self.get = get

    def __getitem__(self, name: str) -> int:
        if name in ("samples", "features"):
            return np.shape(self.get("X"))[-2 if name == "samples" else -1]
        return np.shape(self.get("wout"))[-2 if name == "hidden" else -1]


dims_of = _Dims


def terms(name: str, get) -> int:
    """How many terms one cell of a summing step adds (1 for an elementwise step).

    steps.csv's ``terms`` column: a matrix product adds one product per inner
    index, plus the bias or the old weight it is added to.
    """
    return steps.BY_NAME[name].term_count(dims_of(get))


def _bounded(scale: np.ndarray) -> np.ndarray:
    """A magnitude with NaN read as 0 and Inf as the largest double; most are finite, and
    one sum tells (it is finite only when every value is), without nan_to_num's passes."""
    if np.isfinite(np.sum(scale)):
        return scale
    return np.nan_to_num(scale, nan=0.0, posinf=_LARGEST)


def free_running_bound(name: str, a: np.ndarray, b: np.ndarray, get=None) -> np.ndarray:
    """The largest difference allowed in each cell when both languages run free.

    With ``get`` (the step's inputs), the scale of a step that sums is at least
    its magnitude (the sum of |terms|), as in lockstep: a sum that cancels to
    near zero carries its inputs' differences at the scale of its terms.
    """
    with np.errstate(invalid="ignore", over="ignore"):
        scale = np.maximum(np.abs(a), np.abs(b))
        finite = np.isfinite(scale.sum())
    if not finite:  # NaN or Inf somewhere: read them as 0 and the largest double
        with np.errstate(invalid="ignore"):
            scale = np.maximum(np.abs(np.nan_to_num(a)), np.abs(np.nan_to_num(b)))
    if get is not None and name in SUMMING:
        with np.errstate(invalid="ignore", over="ignore"):
            terms_scale = _bounded(magnitude(name, a, get))
        scale = np.maximum(scale, terms_scale)
    return FREE_ATOL + FREE_RTOL * scale


def _abs(x):
    return np.abs(x)


def _t(x):
    return np.swapaxes(x, -1, -2)


def _colsum(x):
    return x.sum(axis=-2, keepdims=True)


#: For each step that sums, the sum of the absolute values of its terms (see magnitude).
#: steps.csv says which steps sum; a test keeps these keys equal to SUMMING.
SUM_MAGNITUDES = {
    "hidden_layer_input": lambda get: _abs(get("X")) @ _abs(get("wh")) + _abs(get("bh")),
    "output_layer_input": lambda get: (
        _abs(get("hiddenlayer_activations")) @ _abs(get("wout")) + _abs(get("bout"))
    ),
    "Error_at_hidden_layer": lambda get: _abs(get("d_output")) @ _t(_abs(get("wout"))),
    "wout": lambda get: _abs(get("wout")) + get("lr") * (
        _t(_abs(get("hiddenlayer_activations"))) @ _abs(get("d_output"))
    ),
    "wh": lambda get: _abs(get("wh")) + get("lr") * (_abs(get("X")).T @ _abs(get("d_hiddenlayer"))),
    "bout": lambda get: _abs(get("bout")) + get("lr") * _colsum(_abs(get("d_output"))),
    "bh": lambda get: _abs(get("bh")) + get("lr") * _colsum(_abs(get("d_hiddenlayer"))),
}


def magnitude(name: str, value, get) -> np.ndarray:
    """The scale of the rounding error one step can make, per cell.

    For a sum, floating-point error is bounded relative to the sum of the
    absolute values of its terms, not to the result (which may cancel to near
    zero): for C = A @ B that is |A| @ |B|. ``get(input)`` returns an input of
    the step as recorded (arrays [epochs, rows, cols]; X and y as matrices; lr
    as a number). An elementwise step's: ``elementwise_magnitude``.
    """
    if name in SUMMING:
        return SUM_MAGNITUDES[name](get)
    return elementwise_magnitude(name, value, get)


#: The sigmoid's value lies in (0, 1); its faithful forms add terms of up to that size.
SIGMOID = {"hiddenlayer_activations", "output"}
#: derivatives_sigmoid(x) = x * (1 - x) = x - x**2, of an activation x.
SLOPES = {"slope_output_layer": "output", "slope_hidden_layer": "hiddenlayer_activations"}


def elementwise_magnitude(name: str, value, get) -> np.ndarray:
    """The size of the terms an elementwise step's faithful forms add, per cell.

    A faithful rewrite of an elementwise step can round at the scale of the
    terms it adds, not of the result: sigmoid(x) as 1/2 + tanh(x/2)/2 adds
    1/2 to a term of up to 1/2 (so a tail value near 0 is rounded at the
    scale of 1/2); x * (1 - x) as x - x**2 subtracts two terms near 1 where
    the slope is near 0; y - output is a difference of two terms. So the
    magnitude is 1/2 + |value - 1/2| for the sigmoid, |x| + x**2 for a slope
    of activation x, |y| + |output| for E, and |value| for a product of two
    matrices cell by cell (d_output, d_hiddenlayer), which rounds once.
    """
    mag = np.abs
    if name in SIGMOID:
        return 0.5 + mag(np.asarray(value) - 0.5)
    if name in SLOPES:
        x = mag(get(SLOPES[name]))
        return x + x * x
    if name == "E":
        return mag(get("y")) + mag(get("output"))
    return mag(value)


def lockstep_bound(name: str, a: np.ndarray, b: np.ndarray, get=None) -> np.ndarray:
    """The largest difference allowed in each cell when both compute one step from the same inputs.

    Without ``get`` (the step's inputs are not at hand, or do not fit), the
    scale is the larger of the two values in each cell.
    """
    with np.errstate(invalid="ignore", over="ignore"):
        if get is None:
            scale = np.maximum(np.abs(a), np.abs(b))
        else:
            root = np.sqrt(terms(name, get)) if name in SUMMING else 1.0
            scale = magnitude(name, a, get) * root
        # A magnitude that overflows is at least the largest double: bounding with that
        # is never looser than the truth (a case whose weights overflow: test_nan.py).
        scale = _bounded(scale)
    return np.broadcast_to(lockstep_ulps(name) * np.finfo(np.float64).eps * scale, a.shape)


def describe(mode: str) -> str:
    if mode == "spreadsheet":
        return (
            f"|language - spreadsheet| <= {SPREADSHEET_ATOL:g} + {SPREADSHEET_RTOL:g}"
            " * max(|language|, |spreadsheet|, sum of |terms| for a sum)"
        )
    if mode == "free":
        return (
            f"|Python - R| <= {FREE_ATOL:g} + {FREE_RTOL:g} * "
            "max(|Python|, |R|, sum of |terms| for a sum)"
        )
    return (
        "|Python - R| <= N * eps * magnitude, magnitude = the size of the terms the step adds "
        "(sigmoid 1/2 + |value - 1/2|, slope |x| + x^2, E |y| + |output|, |value| for a product; "
        "the sum of |terms| "
        f"for a sum (N = {ELEMENTWISE_ULPS} elementwise, {SUMMING_ULPS} * sqrt(terms) for sums)"
    )


# The spreadsheet (LibreOffice Calc) against either language: the measurements are above.
SPREADSHEET_ATOL = 1e-12
SPREADSHEET_RTOL = 1e-12


def spreadsheet_bound(name: str, a: np.ndarray, b: np.ndarray, get=None) -> np.ndarray:
    """The largest difference allowed between a language and the spreadsheet, free-running."""
    scale = (free_running_bound(name, a, b, get) - FREE_ATOL) / FREE_RTOL
    return SPREADSHEET_ATOL + SPREADSHEET_RTOL * scale
