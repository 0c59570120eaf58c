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

``nnparity compare A B`` reads two such folders.
"""

from __future__ import annotations

import json
import os
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import rds
from .atomic import staged_file
from .cases import Case, CaseError, load_case, write_case

TRACE_JSON = "trace.json"
CASE_DIR = "case"
LANGUAGES = ("python", "r")
FORMAT = "nnparity trace folder"


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
    path: Path
    info: dict
    case: Case

    @property
    def environment(self) -> dict[str, str]:
        return self.info.get("environment", {})

    @property
    def languages(self) -> list[str]:
        return [language for language in LANGUAGES if (self.path / f"{language}.npz").is_file()]

    def arrays(self, language: str) -> dict[str, np.ndarray]:
        """The trace of one language, each matrix mapped from the file rather than read whole."""
        return npz_arrays(self.path / f"{language}.npz")


def open_folder(path: Path | str) -> TraceFolder:
    """A trace folder's description and case; TraceFolderError (one line) when it is not one."""
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
    try:
        case = load_case(path / CASE_DIR)
    except CaseError as error:
        raise TraceFolderError(f"{path}: the saved case is unusable: {error}") from None
    case.name = str(info.get("case", case.name))
    folder = TraceFolder(path, info, case)
    if not folder.languages:
        raise TraceFolderError(f"{path}: holds no python.npz or r.npz")
    return folder


def npz_arrays(path: Path | str) -> dict[str, np.ndarray]:
    """``{name: array}`` of an .npz; members stored uncompressed (as nnparity writes
    them) are memory-mapped.

    A trace can be larger than memory: mapping reads only the epochs used.
    Compressed members are read whole. TraceFolderError when the file is not
    an .npz.
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (OSError, zipfile.BadZipFile) as error:
        raise TraceFolderError(f"{path}: not an .npz ({error})") from None
    arrays = {}
    try:
        with path.open("rb") as handle:
            for member in members:
                if not member.filename.endswith(".npy"):
                    continue
                name = member.filename[: -len(".npy")]
                if member.compress_type != zipfile.ZIP_STORED:
                    with np.load(path) as archive:
                        arrays[name] = archive[name]
                    continue
                handle.seek(member.header_offset + 26)  # the local header's name and extra lengths
                name_length, extra_length = struct.unpack("<HH", handle.read(4))
                handle.seek(member.header_offset + 30 + name_length + extra_length)
                version = np.lib.format.read_magic(handle)
                read_header = (
                    np.lib.format.read_array_header_1_0
                    if version == (1, 0)
                    else np.lib.format.read_array_header_2_0
                )
                shape, fortran, dtype = read_header(handle)
                arrays[name] = np.memmap(
                    path,
                    dtype=dtype,
                    mode="r",
                    offset=handle.tell(),
                    shape=shape,
                    order="F" if fortran else "C",
                )
    except (OSError, ValueError, struct.error) as error:
        raise TraceFolderError(
            f"{path}: a member cannot be read as a numpy array ({error})"
        ) from None
    return arrays
