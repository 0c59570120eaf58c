"""A saved trace folder (``nnparity run --save-traces DIR``): what it holds, and reading it back.

The folder holds, per language that trained (``python``, and ``r`` when R
trained on its own):

* ``<language>.npz``: matrix name -> array ``[epochs, rows, cols]`` (numpy);
* ``<language>.rds``: the same arrays, names and bits as a named list for R
  (``readRDS``), written by ``nnparity.rds``;

and, once for the run:

* ``case/``: the case the run started from (the format of ``fixtures/``), so a
  saved trace can be compared under the same bound without the original case;
* ``trace.json``: the case's name, the epochs, the modes run, the files, and the
  environment that made the traces (``nnparity.fingerprint``: Python, numpy and
  its BLAS, R and its BLAS).

The output's manifest (``atomic.MANIFEST``), written last of all, lets a later run
tell that the folder is nnparity's own and replace it.

``nnparity compare A B`` reads two such folders, each checked against its
trace.json first (``open_folder``): every file it lists present, every member of
each .npz one of the article's matrices as nnparity writes it (little-endian
doubles, C order, ``[epochs, rows, cols]`` with trace.json's epochs, and rows and
cols each one of the saved case's dimensions or 1). Anything else is a damaged
folder, refused in one line, never compared.
"""

from __future__ import annotations

import io
import json
import math
import os
import struct
import tokenize
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import rds, steps
from .atomic import staged_file
from .cases import Case, CaseError, load_case, write_case
from .oneline import has_control
from .policy import MODES
from .port import describe_dtype

TRACE_JSON = "trace.json"
CASE_DIR = "case"
LANGUAGES = ("python", "r")
FORMAT = "nnparity trace folder"
#: How every matrix of a trace is stored (traces.TraceWriter): little-endian doubles.
DTYPE = np.dtype("<f8")


class TraceFolderError(ValueError):
    """A folder that is not a complete trace folder, or two that cannot be compared."""


def complete(
    folder: Path | str,
    npz: list[Path],
    case: Case,
    epochs: int,
    modes: tuple[str, ...],
    environment: dict,
) -> list[Path]:
    """Beside each of the run's ``.npz`` files (``npz``), its ``.rds``; then ``case/``
    and ``trace.json``.

    Returns the files written. Each file appears whole (written beside, then
    renamed); ``trace.json`` is written last, so a folder with one is complete.
    """
    folder = Path(folder)
    written = []
    npz = [Path(p) for p in npz]
    for path in npz:
        written.append(rds.write_rds_from_npz(path, path.with_suffix(".rds")))
    os.chmod(write_case(case, folder / CASE_DIR), 0o777 & ~rds.current_umask())
    info = {
        "format": FORMAT,
        "case": case.name,
        "epochs": int(epochs),
        "modes": list(modes),
        "files": sorted(p.name for p in npz + written),
        "environment": environment,
    }
    written.append(_write_json(folder / TRACE_JSON, info))
    return written


def _write_json(path: Path, data: dict) -> Path:
    with staged_file(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n")
    return path


@dataclass
class TraceFolder:
    """A trace folder checked against its trace.json (``open_folder``)."""

    path: Path
    info: dict
    case: Case
    epochs: int  # trace.json's; every matrix holds this many
    traces: dict[str, dict[str, np.ndarray]]  # language -> matrix name -> [epochs, rows, cols]

    @property
    def environment(self) -> dict[str, str]:
        return self.info.get("environment", {})

    @property
    def languages(self) -> list[str]:
        return list(self.traces)

    def arrays(self, language: str) -> dict[str, np.ndarray]:
        """The trace of one language, each matrix mapped from the file rather than read whole."""
        return self.traces[language]


def open_folder(path: Path | str) -> TraceFolder:
    """A trace folder checked against its trace.json: its epochs, its files, every matrix of
    every .npz it lists (``npz_arrays``). TraceFolderError (one line) when it is not one, or
    is damaged."""
    path = Path(path)
    if not path.is_dir():
        raise TraceFolderError(
            f"{path}: no such folder (give a folder written by `nnparity run --save-traces`)"
        )
    info_path = path / TRACE_JSON
    if not info_path.is_file():
        has_npz = any((path / f"{language}.npz").is_file() for language in LANGUAGES)
        why = (
            "saved by an nnparity without trace.json; save it again"
            if has_npz
            else "not a trace folder"
        )
        raise TraceFolderError(
            f"{path}: no {TRACE_JSON} ({why}: `nnparity run --save-traces DIR` writes one)"
        )
    try:
        info = json.loads(info_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise TraceFolderError(f"{info_path}: cannot be read as JSON ({error})") from None
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise TraceFolderError(
            f'{info_path}: not an nnparity trace description (no "format": "{FORMAT}")'
        )
    epochs, files = _described(info_path, info)
    try:
        case = load_case(path / CASE_DIR)
    except CaseError as error:
        raise TraceFolderError(f"{path}: the saved case is unusable: {error}") from None
    case.name = str(info.get("case", case.name))
    traces = {
        language: npz_arrays(path / f"{language}.npz", epochs, case.dims)
        for language in LANGUAGES
        if f"{language}.npz" in files
    }
    if not traces:
        raise TraceFolderError(f"{path}: holds no python.npz or r.npz")
    return TraceFolder(path, info, case, epochs, traces)


def _described(info_path: Path, info: dict) -> tuple[int, list[str]]:
    """The epochs and the files trace.json describes, each file present and each .npz
    listed; TraceFolderError when it does not describe them plainly or the folder differs."""

    def shown(key: str) -> str:
        return json.dumps(info[key])[:40] if key in info else "missing"

    epochs, files = info.get("epochs"), info.get("files")
    if type(epochs) is not int or epochs < 1:
        raise TraceFolderError(
            f'{info_path}: "epochs" is {shown("epochs")}; expected a positive whole number'
        )
    if not isinstance(files, list) or not all(isinstance(name, str) for name in files):
        raise TraceFolderError(
            f'{info_path}: "files" is {shown("files")}; expected a list of file names'
        )
    if not isinstance(info.get("environment", {}), dict):
        raise TraceFolderError(
            f'{info_path}: "environment" is {shown("environment")}; expected an object'
        )
    if not isinstance(info.get("case", ""), str):
        raise TraceFolderError(f'{info_path}: "case" is {shown("case")}; expected a name')
    environment = info.get("environment", {})
    texts = [("case", "", info.get("case", ""))] + [
        (f"environment's {json.dumps(k)[:40]}", k, v) for k, v in environment.items()]
    for what, key, text in texts:  # an escape sequence here cleared the terminal compare printed
        if not isinstance(text, str) or has_control(text) or has_control(key):
            raise TraceFolderError(
                f"{info_path}: {what} is {json.dumps(text)[:60]}; expected plain text (no "
                "control characters)"
            )
    modes = info.get("modes", [])
    if not isinstance(modes, list) or not all(mode in MODES for mode in modes):
        raise TraceFolderError(
            f'{info_path}: "modes" is {shown("modes")}; expected a list of '
            + " and ".join(f'"{mode}"' for mode in MODES)
        )
    folder = info_path.parent
    for name in [*files, CASE_DIR]:
        if (folder / name).is_symlink():
            raise TraceFolderError(
                f"{folder / name}: a symbolic link (to {os.readlink(folder / name)}); a trace "
                "folder holds its own files, as `nnparity run --save-traces` writes them"
            )
    for name in files:
        if name in ("", ".", "..") or "/" in name or "\0" in name:
            raise TraceFolderError(
                f'{info_path}: "files" lists {json.dumps(name)[:80]}; expected the plain name '
                "of a file in the folder"
            )
    for name in files:
        if not (folder / name).is_file():
            raise TraceFolderError(
                f"{folder / name}: missing, though {TRACE_JSON} lists it (the folder is damaged)"
            )
    for language in LANGUAGES:
        name = f"{language}.npz"
        if name not in files and (folder / name).exists():
            raise TraceFolderError(
                f"{folder / name}: not listed in {TRACE_JSON}'s files (the folder is damaged)"
            )
    return epochs, files


#: What numpy's .npy header parser, zipfile and zlib raise on damaged bytes (zipfile's
#: NotImplementedError: a zip feature it cannot read, _check_zipped's first).
DAMAGED = (
    OSError, ValueError, EOFError, SyntaxError, tokenize.TokenError, struct.error,
    zipfile.BadZipFile, zlib.error, NotImplementedError,
)

#: More than the header of any array of doubles: a member's header is read from this many
#: of its first bytes at most, so a damaged header cannot run into the next member.
HEADER_BYTES = 4096

#: A compressed member is inflated this many bytes at a time, straight into its array.
PIECE_BYTES = 1 << 20


def npz_arrays(
    path: Path | str, epochs: int, dims: tuple[int, ...]
) -> dict[str, np.ndarray]:
    """``{name: array [epochs, rows, cols]}`` of a trace's .npz; members stored uncompressed
    (as nnparity writes them) are memory-mapped.

    A trace can be larger than memory: mapping reads only the epochs used.
    Compressed members are read whole, piece by piece into their array. Each member is
    checked (``_matrix``) before any of its data is mapped or inflated, its shape against
    ``epochs`` and the case's ``dims`` (``Case.dims``), so that no more is read than a
    trace of that case holds: TraceFolderError (one line, naming the file and the member)
    when the file is not such an .npz.
    """
    path = Path(path)
    arrays = {}
    try:
        with zipfile.ZipFile(path) as archive, path.open("rb") as handle:
            for member in archive.infolist():
                name = member.filename.removesuffix(".npy")
                if name not in steps.NAMES or not member.filename.endswith(".npy"):
                    raise TraceFolderError(
                        f"{path}: {member.filename} is not a matrix of a trace "
                        f"(nnparity writes {steps.NAMES[0]}.npy ... {steps.NAMES[-1]}.npy)"
                    )
                if name in arrays:
                    raise TraceFolderError(
                        f"{path}: holds {member.filename} twice (a trace holds each matrix once)"
                    )
                _check_zipped(path, member)
                try:
                    arrays[name] = _matrix(path, name, archive, handle, member, epochs, dims)
                except TraceFolderError:
                    raise
                except DAMAGED as error:
                    raise TraceFolderError(
                        f"{path}: {member.filename} cannot be read as a numpy array ({error})"
                    ) from None
    except (OSError, zipfile.BadZipFile) as error:
        raise TraceFolderError(f"{path}: not an .npz ({error})") from None
    if not arrays:
        raise TraceFolderError(f"{path}: holds no matrices (a trace holds {steps.NAMES[0]}, ...)")
    return arrays


#: A zip's general purpose flags zipfile cannot read past: an encrypted member (bit 0, and
#: bit 6, strong encryption), a patch of another file (bit 5). numpy sets none of them.
UNREADABLE_FLAGS = {0x1: "encrypted", 0x20: "a compressed patch", 0x40: "strongly encrypted"}


def _check_zipped(path: Path, member: zipfile.ZipInfo) -> None:
    """TraceFolderError unless the member is zipped as numpy zips: stored (``np.savez``, as
    nnparity writes a trace) or deflated (``np.savez_compressed``), not encrypted."""
    where = f"{path}: {member.filename}"
    for flag, what in UNREADABLE_FLAGS.items():
        if member.flag_bits & flag:
            raise TraceFolderError(f"{where} is {what} (zip flag {flag:#x}); a trace's is not")
    if member.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise TraceFolderError(
            f"{where} is compressed by zip method {member.compress_type}; a trace's members "
            f"are stored (method {zipfile.ZIP_STORED}, as np.savez writes them) or deflated "
            f"(method {zipfile.ZIP_DEFLATED}, np.savez_compressed)"
        )
    if member.compress_type == zipfile.ZIP_STORED and member.compress_size != member.file_size:
        raise TraceFolderError(
            f"{where} is stored, yet the zip says {member.compress_size} bytes stored "
            f"for {member.file_size} read"
        )


def _matrix(
    path: Path, name: str, archive, handle, member: zipfile.ZipInfo, epochs: int,
    dims: tuple[int, ...],
):
    """One member, checked from its first bytes (``_checked_header``): then mapped when
    stored, inflated piece by piece when compressed."""
    head_bytes = min(member.file_size, HEADER_BYTES)
    if member.compress_type != zipfile.ZIP_STORED:
        with archive.open(member) as stream:
            head = io.BytesIO(stream.read(head_bytes))
            shape = _checked_header(path, name, head, member.file_size, epochs, dims)
            return _inflated(f"{path}: {name}", head, stream, shape)
    handle.seek(member.header_offset + 26)  # the local header's name and extra lengths
    name_length, extra_length = struct.unpack("<HH", handle.read(4))
    start = member.header_offset + 30 + name_length + extra_length
    handle.seek(start)
    head = io.BytesIO(handle.read(head_bytes))
    shape = _checked_header(path, name, head, member.file_size, epochs, dims)
    _check_crc(path, member, handle, start)
    return np.memmap(path, dtype=DTYPE, mode="r", offset=start + head.tell(), shape=shape)


def _check_crc(path: Path, member: zipfile.ZipInfo, handle, start: int) -> None:
    """TraceFolderError unless a stored member's bytes have the CRC-32 its zip headers hold:
    mapped, they are not read through zipfile, which checks it (a flipped bit in a stored
    member was compared as if the run had made it). Read once, PIECE_BYTES at a time."""
    handle.seek(start)
    crc, left = 0, member.file_size
    while left:
        piece = handle.read(min(PIECE_BYTES, left))
        if not piece:
            raise TraceFolderError(
                f"{path}: {member.filename} ends after {member.file_size - left} of its "
                f"{member.file_size} bytes"
            )
        crc, left = zlib.crc32(piece, crc), left - len(piece)
    if crc != member.CRC:
        raise TraceFolderError(
            f"{path}: {member.filename} is damaged: its bytes do not match the CRC-32 its zip "
            f"holds ({crc:08x} against {member.CRC:08x})"
        )


def _inflated(where: str, head: io.BytesIO, stream, shape: tuple[int, ...]) -> np.ndarray:
    """A compressed member's data (the rest of ``head``, then ``stream``) read into its array
    ``PIECE_BYTES`` at a time: never more than the array, checked against the case first."""
    array = np.empty(shape, DTYPE)
    data = array.reshape(-1).view(np.uint8)
    first = head.read()
    data[: len(first)] = np.frombuffer(first, np.uint8)
    done = len(first)
    while done < len(data):
        piece = stream.read(min(PIECE_BYTES, len(data) - done))
        if not piece:
            raise TraceFolderError(
                f"{where} ends after {done} of the {len(data)} bytes of data it declares"
            )
        data[done : done + len(piece)] = np.frombuffer(piece, np.uint8)
        done += len(piece)
    return array


def _checked_header(
    path: Path, name: str, head: io.BytesIO, size: int, epochs: int, dims: tuple[int, ...]
):
    """The shape a member's .npy header declares, read from ``head`` (the member's first
    bytes; ``size``: all its bytes), which it leaves at the data. TraceFolderError unless
    the header declares what nnparity writes, little-endian doubles in C order
    [epochs, rows, cols], rows and cols each one of the case's ``dims`` or 1 (every
    matrix of the network is built of them, even one a port got wrong: transposed, or a
    bias copied per sample), and the member holds as many doubles. Nothing is mapped,
    inflated or unpickled before this passes."""
    version = np.lib.format.read_magic(head)
    read_header = (
        np.lib.format.read_array_header_1_0
        if version == (1, 0)
        else np.lib.format.read_array_header_2_0
    )
    shape, fortran, dtype = read_header(head)
    where = f"{path}: {name}"
    if dtype != DTYPE:
        raise TraceFolderError(
            f"{where} holds {describe_dtype(dtype)} ({dtype.str}); "
            f"a trace holds little-endian doubles ({DTYPE.str})"
        )
    if fortran:
        raise TraceFolderError(f"{where} is stored in Fortran order; a trace is stored in C order")
    if len(shape) != 3 or shape[0] != epochs:
        raise TraceFolderError(
            f"{where} is {shape_text(shape)}, where the {epochs} epochs {TRACE_JSON} says "
            f"need {epochs} x rows x cols"
        )
    sizes = sorted({*dims, 1})
    if not all(n in sizes for n in shape[1:]):
        case = ", ".join(f"{dim} {n}" for n, dim in zip(dims, steps.DIMENSIONS, strict=True))
        raise TraceFolderError(
            f"{where} is {shape_text(shape)}, where a trace of the saved case ({case}) "
            f"is {epochs} x rows x cols, rows and cols each one of "
            f"{', '.join(map(str, sizes))}"
        )
    data, needed = size - head.tell(), DTYPE.itemsize * math.prod(shape)
    if data != needed:
        raise TraceFolderError(
            f"{where} holds {data} bytes of data, where its {shape_text(shape)} doubles "
            f"need {needed}"
        )
    return shape


def shape_text(shape: tuple[int, ...]) -> str:
    """``40 x 4 x 3``."""
    return " x ".join(str(n) for n in shape) or "a single number"
