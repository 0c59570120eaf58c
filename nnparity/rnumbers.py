"""How R's ``read.csv`` reads a decimal number, so that a case file means the same doubles to
both languages.

Python's ``float`` rounds a decimal correctly. R's reader (``R_strtod`` in R's
``arithmetic.c``, used by ``read.csv``, ``scan`` and ``as.numeric``) does not: it
accumulates the digits in a long double (``ans = 10 * ans + digit``), scales by a power of
ten built by repeated squaring, also in long double, and rounds the result to a double.
The two roundings make about one number in 5,000 with 12 or more significant digits come
out one ULP away from Python's (measured with R 4.2.2: 55 of 220,000 random decimals of
12 to 22 digits with exponents from -30 to 30; 12 of 100,000 of mixed forms, ``repr``
included). Near the largest double R also overflows where Python rounds down
(``1.7976931348623158e308`` is Inf to R).

``r_reads`` computes, with numpy's long double (C's long double, which R's ``LDOUBLE`` is:
x87's 80-bit format on x86-64), the very operations ``R_strtod`` does: on those 320,000
strings it gave R's double every time, and parity_tests/test_read_matrix.py checks it
against R's read.csv on 20,000 more. ``both_read`` finds, for a double, a decimal that
both languages read as that double (``repr`` when R reads it alike, else more digits).
"""

from __future__ import annotations

import numpy as np

_LD = np.longdouble
_DBL_MAX = _LD(np.finfo(np.float64).max)
#: Digits whose integer a long double holds exactly (and a uint64 too): 19 on x86-64.
EXACT_DIGITS = min(19, int((np.finfo(_LD).nmant + 1) * np.log10(2)))


#: Cells read at once. Loading the scale case (X.csv: 2000 x 50), a process's peak was 38 MB
#: without this check, 55 MB with all cells in one block, 42 MB in slices of this size.
SLICE = 8192


def _power_of_ten(expn: int) -> np.longdouble:
    """R's ``fac`` for an exponent: 10^|expn| by repeated squaring in long double (for
    expn < -307, its reciprocal built the same way, as R builds it)."""
    p10, fac, n = _LD(10), _LD(1), abs(expn)
    while n:
        if n & 1:
            fac = fac / p10 if expn < -307 else fac * p10
        n >>= 1
        p10 *= p10
    return fac


def r_strtod(text: str) -> float:
    """The double R reads from one decimal string (digits, optional sign, point, exponent)."""
    return float(r_reads([text])[0])


def r_reads(cells: list[str]) -> np.ndarray:
    """The doubles R's ``read.csv`` reads from decimal strings (each already checked to be an
    optional sign, digits with at most one point, and an optional exponent of at most
    four digits after its leading zeros; spaces and tabs around it allowed)."""
    if not cells:
        return np.zeros(0)
    if len(cells) > SLICE:  # a few MB of temporaries at most, whatever the file's size
        return np.concatenate([r_reads(cells[i:i + SLICE]) for i in range(0, len(cells), SLICE)])
    # ASCII bytes, one row per cell: spaces and tabs are neither digits, point, sign nor
    # exponent, so they take no part below, as in R's reader, which skips them.
    u = np.array(cells, dtype="S").view(np.uint8).reshape(len(cells), -1)
    n, width = u.shape
    column = np.arange(width)
    is_e = (u == ord("e")) | (u == ord("E"))
    e_at = np.where(is_e.any(axis=1), is_e.argmax(axis=1), width)[:, None]
    digit = (u >= ord("0")) & (u <= ord("9"))
    mantissa = digit & (column < e_at)
    dot = (u == ord(".")) & (column < e_at)
    dot_at = np.where(dot.any(axis=1), dot.argmax(axis=1), width)[:, None]
    ndigits = mantissa.sum(axis=1)
    expn = -(mantissa & (column > dot_at)).sum(axis=1)
    exponent = np.zeros(n, dtype=np.int64)
    for j in range(width):  # at most four digits after leading zeros: no overflow
        here = digit[:, j] & (j > e_at[:, 0])
        exponent = np.where(here, exponent * 10 + (u[:, j].astype(np.int64) - ord("0")), exponent)
    after_e = u[np.arange(n), np.minimum(e_at[:, 0] + 1, width - 1)]
    expn += np.where((e_at[:, 0] < width) & (after_e == ord("-")), -exponent, exponent)
    # R's ans = 10 * ans + digit, left to right, in long double: exact while ans stays an
    # integer the long double holds (19 digits in x87's 64-bit significand; 15 where long
    # double is double), so those are summed as integers.
    whole = np.zeros(n, dtype=np.uint64)
    for j in range(width):
        here = mantissa[:, j]
        whole = np.where(here, whole * np.uint64(10) + (u[:, j] - np.uint8(ord("0"))), whole)
    ans = whole.astype(_LD)
    long = ndigits > EXACT_DIGITS  # rounded at each step: R's own loop, in long double
    if long.any():
        rounded = np.zeros(int(long.sum()), dtype=_LD)
        for j in range(width):
            here = mantissa[long, j]
            digit_j = u[long, j].astype(_LD) - _LD(ord("0"))
            rounded = np.where(here, _LD(10) * rounded + digit_j, rounded)
        ans[long] = rounded
    # R divides the digits down first when the number is very small (expn + ndigits < -300)
    tiny = expn + ndigits < -300
    for i in np.nonzero(tiny)[0]:
        for _ in range(int(ndigits[i])):
            ans[i] /= _LD(10.0)
        expn[i] += ndigits[i]
    powers, which = np.unique(expn, return_inverse=True)
    fac = np.array([_power_of_ten(int(power)) for power in powers], dtype=_LD)[which]
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        scaled = np.where((expn < 0) & (expn >= -307), ans / fac, ans * fac)
        scaled = np.where(ans == 0, ans, scaled)  # R scales no zero: 0e9999 is 0, not 0 * Inf
        value = np.where(scaled > _DBL_MAX, np.inf, scaled.astype(np.float64))
    minus = ((u == ord("-")) & (column < e_at)).any(axis=1)  # the mantissa's sign
    return np.where(minus, -value, value)


def both_read(value: float) -> str | None:
    """A decimal that Python and R both read as ``value`` (a finite double): ``repr`` when R
    reads it alike, else the shortest of 17 to 25 significant digits that R reads alike;
    None when none does (next to the largest double, R reads them all as Inf)."""
    for text in (repr(float(value)), *(f"{value:.{digits}g}" for digits in range(17, 26))):
        if float(text) == value and r_strtod(text) == value:
            return text
    return None
