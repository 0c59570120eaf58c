"""R's own file format for a trace: a named list of double arrays that base R opens with readRDS.

An R user does not read .npz. This module writes the same arrays, with the
same names and the same shapes (``[epochs, rows, cols]``, so ``x[e, i, j]`` in R
is ``a[e, i, j]`` in numpy), as an .rds file: R's serialization format,
version 3, XDR (big-endian), optionally gzip-compressed, exactly as
``saveRDS(list(...), compress = FALSE)`` lays it out. It needs no R: the lead
process may not have one (R can live in a worker process).

The layout, as R's serialize.c writes it:

* the header: ``X\\n``, the format version (3), the version of R that wrote
  it, the oldest R that can read it (3.5.0), and the native encoding;
* a list (VECSXP) with an attribute flag, its length, then each element;
* each element a double vector (REALSXP) with a ``dim`` attribute, its length,
  its doubles in column-major order (big-endian IEEE 754: every bit kept,
  R's NA included), then its attributes as a pairlist;
* after the elements, the list's ``names`` attribute.

A symbol (``dim``, ``names``) is written once; later uses refer back to it, as
R does. The writer streams: one array at a time, one slice of it at a time,
so a trace is never held twice; the file appears only when complete.

``read_rds`` reads back the same subset of the format (named lists, double,
integer and character vectors, attributes), for tests and tools.
"""

from __future__ import annotations

import gzip
import io
import struct
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .atomic import current_umask, staged_file  # noqa: F401 - current_umask: for readers of rds

# SEXP types and flag bits of R's serialization (src/main/serialize.c).
NILVALUE_SXP, REFSXP = 254, 255
SYMSXP, LISTSXP, CHARSXP, INTSXP, REALSXP, STRSXP, VECSXP = 1, 2, 9, 13, 14, 16, 19
HAS_ATTR, HAS_TAG = 1 << 9, 1 << 10
UTF8_MASK, ASCII_MASK = 1 << 3, 1 << 6

VERSION = 3
#: Format 3 is read by R 3.5.0 and later; this writer names the same R as its writer.
R_3_5_0 = 3 * 65536 + 5 * 256 + 0
NATIVE_ENCODING = b"UTF-8"
#: Longer vectors are written as R's long vectors (length -1, then two 32-bit halves).
INT_MAX = 2**31 - 1


class RdsError(ValueError):
    """A file that is not an .rds this module can read, or an array it cannot write."""


def _flags(sexp_type: int, levels: int = 0, attr: bool = False, tag: bool = False) -> int:
    return sexp_type | (levels << 12) | (HAS_ATTR if attr else 0) | (HAS_TAG if tag else 0)


class _Writer:
    def __init__(self, out: BinaryIO):
        self.out = out
        self.symbols: dict[str, int] = {}  # symbol -> its index in R's reference table (from 1)

    def int(self, *values: int) -> None:
        self.out.write(struct.pack(f">{len(values)}i", *values))

    def length(self, n: int) -> None:
        if n > INT_MAX:
            self.int(-1, n // 2**32, n % 2**32)
        else:
            self.int(n)

    def header(self) -> None:
        self.out.write(b"X\n")
        self.int(VERSION, R_3_5_0, R_3_5_0, len(NATIVE_ENCODING))
        self.out.write(NATIVE_ENCODING)

    def charsxp(self, text: str) -> None:
        raw = text.encode("utf-8")
        self.int(_flags(CHARSXP, ASCII_MASK if raw.isascii() else UTF8_MASK), len(raw))
        self.out.write(raw)

    def symbol(self, name: str) -> None:
        if name in self.symbols:
            self.int((self.symbols[name] << 8) | REFSXP)
            return
        self.symbols[name] = len(self.symbols) + 1
        self.int(SYMSXP)
        self.charsxp(name)

    def attribute(self, name: str, write_value, last: bool = True) -> None:
        """One cell of an attribute pairlist (tag, value), then its end when ``last``."""
        self.int(_flags(LISTSXP, tag=True))
        self.symbol(name)
        write_value()
        if last:
            self.int(NILVALUE_SXP)

    def integers(self, values: Iterable[int]) -> None:
        values = [int(v) for v in values]
        self.int(_flags(INTSXP), len(values))
        self.int(*values)

    def strings(self, values: list[str]) -> None:
        self.int(_flags(STRSXP), len(values))
        for value in values:
            self.charsxp(value)

    def doubles(self, array: np.ndarray) -> None:
        """A double vector; with a dim attribute unless it is 1-D. Column-major, slice by slice."""
        array = np.asarray(array)
        if array.dtype != np.float64:
            raise RdsError(f"only float64 arrays are written as R doubles, got {array.dtype}")
        has_dim = array.ndim != 1
        self.int(_flags(REALSXP, attr=has_dim))
        self.length(array.size)
        transposed = array.T  # C order of the transpose is R's column-major order of the array
        if transposed.ndim <= 1:
            self.out.write(np.ascontiguousarray(transposed, dtype=">f8").tobytes())
        else:
            for (
                block
            ) in transposed:  # one slice of the last axis at a time: a trace is never copied whole
                self.out.write(np.ascontiguousarray(block, dtype=">f8").tobytes())
        if has_dim:
            self.attribute("dim", lambda: self.integers(array.shape or (1,)))


def write_rds(arrays: Mapping[str, np.ndarray], path: Path | str, compress: bool = False) -> Path:
    """Write ``{name: float64 array}`` as an .rds file holding a named list; atomic.

    ``arrays`` may be lazy (an open ``np.load`` of an .npz): each value is
    fetched once, written and let go. With ``compress``, the file is
    gzip-compressed, as saveRDS does by default; readRDS reads either.
    """
    path = Path(path)
    names = list(arrays.keys())
    with staged_file(path) as tmp, open(tmp, "wb") as raw:
        out = gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) if compress else raw
        buffered = io.BufferedWriter(out, buffer_size=1 << 20) if compress else out
        writer = _Writer(buffered)
        writer.header()
        writer.int(_flags(VECSXP, attr=True), len(names))
        for name in names:
            writer.doubles(arrays[name])
        writer.attribute("names", lambda: writer.strings(names))
        buffered.flush()
        if compress:
            out.close()
    return path


def write_rds_from_npz(npz_path: Path | str, rds_path: Path | str, compress: bool = False) -> Path:
    """The .npz at ``npz_path`` as an .rds at ``rds_path``: same names, shapes and bits."""
    with np.load(npz_path) as archive:
        return write_rds({name: _Lazy(archive, name) for name in archive.files}, rds_path, compress)


class _Lazy:
    """One member of an open .npz, read when the writer asks for it."""

    def __init__(self, archive, name: str):
        self.archive, self.name = archive, name

    def __array__(self, dtype=None, copy=None):
        value = self.archive[self.name]
        return value if dtype is None else value.astype(dtype)


# --- reading ---------------------------------------------------------------------------


class _Reader:
    def __init__(self, data: bytes, source: str):
        self.data, self.pos, self.source = data, 0, source
        self.refs: list[str] = []

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise RdsError(f"{self.source}: ends early (truncated .rds)")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def int(self) -> int:
        return struct.unpack(">i", self.take(4))[0]

    def length(self) -> int:
        n = self.int()
        if n == -1:
            upper, lower = self.int(), self.int()
            return upper * 2**32 + (lower & 0xFFFFFFFF)
        return n

    def item(self):
        flags = self.int()
        kind, has_attr, has_tag = flags & 0xFF, bool(flags & HAS_ATTR), bool(flags & HAS_TAG)
        if kind == NILVALUE_SXP:
            return None
        if kind == REFSXP:
            return self.refs[(flags >> 8) - 1]
        if kind == SYMSXP:
            name = self.item()
            self.refs.append(name)
            return name
        if kind == CHARSXP:
            n = self.int()
            return None if n == -1 else self.take(n).decode("utf-8")
        if kind == LISTSXP:
            cells = {}
            while kind == LISTSXP:
                if has_attr:
                    self.item()
                tag = self.item() if has_tag else str(len(cells))
                cells[tag] = self.item()
                flags = self.int()
                kind, has_attr, has_tag = (
                    flags & 0xFF,
                    bool(flags & HAS_ATTR),
                    bool(flags & HAS_TAG),
                )
            if kind != NILVALUE_SXP:
                raise RdsError(
                    f"{self.source}: a pairlist ends with type {kind}; "
                    "this reader knows only plain pairlists"
                )
            return cells
        if kind in (REALSXP, INTSXP, STRSXP, VECSXP):
            n = self.length()
            if kind == REALSXP:
                value = np.frombuffer(self.take(8 * n), dtype=">f8").astype(np.float64)
            elif kind == INTSXP:
                value = np.frombuffer(self.take(4 * n), dtype=">i4").astype(np.int32)
            else:
                value = [self.item() for _ in range(n)]
            attributes = self.item() if has_attr else {}
            return _with_attributes(value, attributes or {})
        raise RdsError(
            f"{self.source}: holds an R object of type {kind}; "
            "this reader knows lists and vectors only"
        )


def _with_attributes(value, attributes: dict):
    dim = attributes.get("dim")
    if dim is not None and isinstance(value, np.ndarray):
        value = value.reshape(tuple(int(d) for d in dim), order="F")
    names = attributes.get("names")
    if names is not None and isinstance(value, list):
        return dict(zip(names, value, strict=True))
    return value


def read_rds(path: Path | str):
    """Read an .rds of a named list of arrays (compressed with gzip or not) back into Python.

    A named list becomes a dict, a double or integer vector a numpy array
    (shaped by its ``dim``, column-major as R holds it), a character vector a
    list of str. Raises RdsError for anything else.
    """
    data = Path(path).read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if data[:2] != b"X\n":
        raise RdsError(f"{path}: not an .rds in R's XDR format (it starts with {data[:2]!r})")
    reader = _Reader(data, str(path))
    reader.take(2)
    version = reader.int()
    if version not in (2, 3):
        raise RdsError(
            f"{path}: serialization version {version}; this reader knows versions 2 and 3"
        )
    reader.int()
    reader.int()
    if version == 3:
        reader.take(reader.int())
    return reader.item()
