"""Distances between doubles: bitwise equality and units in the last place (ULP).

Both distances read a double's bits as an integer. IEEE 754 stores a double as
sign and magnitude, so for two doubles of the same sign the difference of their
bit patterns, read as int64, is the number of doubles between them. Negative
doubles read as negative int64 in two's complement, in the wrong order; mapping
a negative pattern ``i`` to ``-2**63 - i`` puts every double on one monotone
integer line, where -0.0 meets +0.0. This is numpy's own trick:
``numpy.testing.assert_array_max_ulp`` measures with ``nulp_diff``, which maps
the bits the same way (``integer_repr`` in numpy/testing/_private/utils.py).
"""

from __future__ import annotations

import numpy as np

_SIGN = np.int64(-(2**63))


def bitwise_equal(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per cell, whether two float64 arrays hold the very same bits (a NaN meets only its own)."""
    return a.view(np.int64) == b.view(np.int64)


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two float64 arrays of one shape hold the same bits in every cell."""
    return bool(np.array_equal(a.view(np.int64), b.view(np.int64)))


def integer_line(x: np.ndarray) -> np.ndarray:
    """Each double's place on one monotone integer line (numpy's ``integer_repr``)."""
    i = x.view(np.int64)
    return np.where(i < 0, _SIGN - i, i)


def ulp_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """How many doubles lie between a and b (0 when equal, inf when one is NaN)."""
    a = np.ascontiguousarray(a, dtype=np.float64)
    b = np.ascontiguousarray(b, dtype=np.float64)
    ia, ib = integer_line(a), integer_line(b)
    same_side = (ia < 0) == (ib < 0)
    with np.errstate(over="ignore"):
        exact = np.abs(ia - ib).astype(np.float64)  # exact in int64 on one side of zero
    across = np.abs(ia.astype(np.float64)) + np.abs(ib.astype(np.float64))
    d = np.where(same_side, exact, across)
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    return np.where(nan_a | nan_b, np.where(nan_a & nan_b, 0.0, np.inf), d)


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
