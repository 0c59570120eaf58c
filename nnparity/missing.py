"""NaN, R's NA and Inf: telling them apart and naming them.

R's NA_real_ is a NaN with a payload (1954 in its low word); ``np.isnan``
cannot tell it from NaN. Parity needs the same one in the same cells: NaN must
meet NaN, NA must meet NA, Inf must meet the same Inf.
"""

from __future__ import annotations

import numpy as np


def is_r_na(x: np.ndarray) -> np.ndarray:
    """R's NA_real_ is a NaN whose low word is 1954; np.isnan cannot tell it from NaN."""
    return np.isnan(x) & ((x.view(np.int64) & np.int64(0xFFFFFFFF)) == 1954)


def describe_value(v: float) -> str:
    """A value as a reader should see it: NA, NaN, or the shortest repr of the double."""
    v = float(v)
    if np.isnan(v):
        return "NA" if is_r_na(np.array([v]))[0] else "NaN"
    return repr(v)


def json_number(v: float):
    """A number for --json: itself when finite, else its one spelling (NaN, NA, inf, -inf)."""
    v = float(v)
    return v if np.isfinite(v) else describe_value(v)


def same_missing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per cell, whether both are NaN of the same kind (both NA, or both plain NaN)."""
    return np.isnan(a) & np.isnan(b) & (is_r_na(a) == is_r_na(b))


def missing_mismatch(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per cell, whether one side is NaN and the other is not, or one is NA and the other NaN."""
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    return (nan_a != nan_b) | (nan_a & nan_b & (is_r_na(a) != is_r_na(b)))


def first_non_finite(x: np.ndarray) -> tuple[int, int, int] | None:
    """The first cell (epoch, row, col; 0-based) that is NaN, NA or Inf, or None."""
    cells = np.argwhere(~np.isfinite(x))
    return tuple(int(k) for k in cells[0]) if len(cells) else None
