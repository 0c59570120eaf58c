"""The tolerance policy: how far Python and R may differ, and why.

Both bounds are decisions backed by measurement. The measurements below were
made on Debian bookworm, R 4.2.2 with its reference BLAS, numpy 2.4 with
OpenBLAS, rpy2 3.5.17, over every case in fixtures/ at its full epoch count
(scripts: ``nnparity run --case NAME --json`` prints the same statistics).
Re-measure and update this page before changing a number.

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

Relative differences are large only where a value crosses zero (1.2e-9 in
hidden_layer_input), so the bound is absolute plus relative:

    |python - r| <= FREE_ATOL + FREE_RTOL * max(|python|, |r|)

with both set to 1e-12: about 100 times the largest difference measured, and
still nine orders of magnitude below the smallest real port error we know of
(the article's own R bias update moves outputs by about 2e-3 in one epoch).
The difference grows with epochs, so this bound is calibrated for runs of up
to a few thousand epochs; the lockstep check below does not grow and is the
one that proves each step faithful.

Lockstep (R recomputes every step from Python's recorded inputs)
----------------------------------------------------------------
Every elementwise step (sigmoid, E, the slopes, d_output, d_hiddenlayer) was
bitwise equal in every cell of every epoch of every case. Steps that sum
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
    every elementwise step 0.00

It does not grow with epochs (it is a property of one step). The bound is
``LOCKSTEP_ULPS[step] * eps * magnitude``: 8 for a step that sums (almost 4
times the largest measured) and 4 for an elementwise step (measured 0, but exp
differs between libm builds; DESIGN.md saw 2 ULP in the sigmoid elsewhere).
"""

from __future__ import annotations

import numpy as np

FREE_ATOL = 1e-12
FREE_RTOL = 1e-12

ELEMENTWISE_ULPS = 4
SUMMING_ULPS = 8
SUMMING = {"hidden_layer_input", "output_layer_input", "Error_at_hidden_layer", "wout", "wh", "bout", "bh"}


def lockstep_ulps(name: str) -> int:
    return SUMMING_ULPS if name in SUMMING else ELEMENTWISE_ULPS


def free_running_bound(name: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The largest difference allowed in each cell when both languages run free."""
    with np.errstate(invalid="ignore", over="ignore"):
        scale = np.maximum(np.abs(a), np.abs(b))
        finite = np.isfinite(scale.sum())
    if not finite:  # NaN or Inf somewhere: read them as 0 and the largest double
        with np.errstate(invalid="ignore"):
            scale = np.maximum(np.abs(np.nan_to_num(a)), np.abs(np.nan_to_num(b)))
    return FREE_ATOL + FREE_RTOL * scale


def magnitude(name: str, value, get) -> np.ndarray:
    """The scale of the rounding error one step can make, per cell.

    For a sum, floating-point error is bounded relative to the sum of the
    absolute values of its terms, not to the result (which may cancel to near
    zero): for C = A @ B that is |A| @ |B|. ``get(input)`` returns an input of
    the step as recorded (arrays [epochs, rows, cols]; X and y as matrices; lr
    as a number).
    """
    mag = np.abs
    if name == "hidden_layer_input":
        return mag(get("X")) @ mag(get("wh")) + mag(get("bh"))
    if name == "output_layer_input":
        return mag(get("hiddenlayer_activations")) @ mag(get("wout")) + mag(get("bout"))
    if name == "Error_at_hidden_layer":
        return mag(get("d_output")) @ np.swapaxes(mag(get("wout")), -1, -2)
    if name == "wout":
        return mag(get("wout")) + get("lr") * (np.swapaxes(mag(get("hiddenlayer_activations")), -1, -2) @ mag(get("d_output")))
    if name == "wh":
        return mag(get("wh")) + get("lr") * (mag(get("X")).T @ mag(get("d_hiddenlayer")))
    if name == "bout":
        return mag(get("bout")) + get("lr") * mag(get("d_output")).sum(axis=-2, keepdims=True)
    if name == "bh":
        return mag(get("bh")) + get("lr") * mag(get("d_hiddenlayer")).sum(axis=-2, keepdims=True)
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
            scale = magnitude(name, a, get)
        # A magnitude that overflows is at least the largest double: bounding with that
        # is never looser than the truth (a case whose weights overflow: test_nan.py).
        scale = np.nan_to_num(scale, nan=0.0, posinf=np.finfo(np.float64).max)
    return np.broadcast_to(lockstep_ulps(name) * np.finfo(np.float64).eps * scale, a.shape)


def describe(mode: str) -> str:
    if mode == "free":
        return f"|Python - R| <= {FREE_ATOL:g} + {FREE_RTOL:g} * max(|Python|, |R|)"
    return (
        f"|Python - R| <= N * eps * magnitude, magnitude = |value| elementwise or the sum of |terms| "
        f"for a sum (N = {ELEMENTWISE_ULPS} elementwise, {SUMMING_ULPS} for sums)"
    )
