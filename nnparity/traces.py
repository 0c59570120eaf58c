"""Traces: run both ports on a case, chunk by chunk, and feed the comparisons.

A trace is ``{name: array[epochs, rows, cols]}`` with the names of
``steps.NAMES``. Epochs are produced in chunks small enough for the memory
budget; each port keeps its weights between chunks (R inside R), so a chunk
costs one border crossing per mode, whatever its size.
"""

from __future__ import annotations

import gc
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import determinism, steps, tracefolder
from .bridge import PortError
from .cases import Case
from .compare import Comparison, ParityReport
from .fingerprint import fingerprint

MODES = ("free", "lockstep")

#: Bytes of trace held per chunk, per language. A chunk holds the Python
#: trace, the R trace (free-running), Python's trace copied into R, R's
#: lockstep trace and the comparison's temporaries. Measured peak RSS on the
#: 2000-sample, 64-hidden-unit case (docs/benchmarks.md): 0.56 GB with 64 MiB,
#: 0.28 GB with 16 MiB, at the same speed; 32 MiB keeps a run well under 1 GB.
CHUNK_BYTES = 32 * 2**20


def epoch_bytes(case: Case) -> int:
    """Bytes one epoch of a trace takes."""
    return 8 * sum(int(np.prod(steps.shape_of(name, *case.dims))) for name in steps.NAMES)


def chunks(epochs: int, per_epoch: int, budget: int = CHUNK_BYTES) -> list[int]:
    size = max(1, min(epochs, budget // max(per_epoch, 1)))
    full, rest = divmod(epochs, size)
    return [size] * full + ([rest] if rest else [])


class TraceWriter:
    """Writes a trace chunk by chunk into an .npz, which appears only when complete.

    Each matrix is stored with the shape the port recorded it in (a port with a
    bug may record a wrong one; the file shows what it did).
    """

    def __init__(self, path: Path, epochs: int):
        self.path = Path(path)
        self.epochs = epochs
        self.tmp = Path(tempfile.mkdtemp(prefix=".trace.", dir=self.path.parent))
        self.arrays: dict[str, np.ndarray] = {}

    def write(self, offset: int, trace: dict[str, np.ndarray]) -> None:
        for name, value in trace.items():
            if not isinstance(value, np.ndarray) or name not in steps.NAMES:  # once-per-chunk records are not saved
                continue
            if name not in self.arrays:
                self.arrays[name] = np.lib.format.open_memmap(self.tmp / f"{name}.npy", mode="w+", shape=(self.epochs, *value.shape[1:]))
            if value.shape[1:] == self.arrays[name].shape[1:]:
                self.arrays[name][offset : offset + len(value)] = value

    def close(self) -> None:
        for array in self.arrays.values():
            array.flush()
        partial = self.tmp / "trace.npz"
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
            for name in self.arrays:
                archive.write(self.tmp / f"{name}.npy", arcname=f"{name}.npy")
        os.replace(partial, self.path)
        self.abort()

    def abort(self) -> None:
        self.arrays = {}
        shutil.rmtree(self.tmp, ignore_errors=True)


@dataclass
class Run:
    """The outcome of one run: a report per mode asked for."""

    case: Case
    epochs: int
    reports: dict[str, ParityReport]
    saved: list[Path] = field(default_factory=list)  # trace files written (--save-traces)
    # language -> whether that port gave the same bits twice (nnparity/determinism.py)
    determinism: dict[str, determinism.Determinism] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(report.passed for report in self.reports.values())


def run(
    case: Case,
    python_port,
    r_port,
    epochs: int | None = None,
    modes: tuple[str, ...] = MODES,
    save_traces: Path | None = None,
    progress: Callable[[int], None] | None = None,
    chunk_bytes: int = CHUNK_BYTES,
    full_bounds: bool = False,
    check_determinism: bool = True,
) -> Run:
    """Train both ports on `case` and compare every step of every epoch.

    ``full_bounds``: the bound in every cell of every epoch, for the statistics table's
    ``bound`` column (--save-stats), not only where a cell needs it.

    First (unless `check_determinism` is false) each port trains a few epochs
    twice, to say whether it gives the same bits twice (determinism.py).
    """
    epochs = epochs or case.epochs
    same_bits = {}
    if check_determinism:  # before start(): the check leaves each port started on the case
        ports = (python_port, r_port)
        same_bits = determinism.check_ports(case, ports, epoch_bytes(case), chunk_bytes)
    comparisons = {mode: Comparison(case, mode, full_bounds=full_bounds) for mode in modes}
    python_port.start(case)
    if "free" in modes:
        r_port.start(case)
    if "lockstep" in modes and not r_port.has_steps:
        comparisons["lockstep"].fail(
            f"the R port {r_port.path} defines no `steps` list: lockstep recomputes each step with "
            "steps$<matrix name>(inputs), as r_impl/steps.R defines them; `--mode free` checks the training alone"
        )
    writers = {}
    made_folder = save_traces is not None and not Path(save_traces).exists()
    if save_traces is not None:
        # python.npz, and r.npz when R trains on its own (free-running); lockstep's R values are not a training.
        Path(save_traces).mkdir(parents=True, exist_ok=True)
        writers = {lang: TraceWriter(Path(save_traces) / f"{lang}.npz", epochs) for lang in ("python", "r") if lang == "python" or "free" in modes}
    done = 0
    try:
        for size in chunks(epochs, epoch_bytes(case), chunk_bytes):
            start = {name: python_port.state[name].copy() for name in steps.STATE}
            python = python_port.advance(size)
            if "free" in modes and comparisons["free"].error is None:
                try:
                    r = r_port.advance(size)
                except PortError as error:  # lockstep, if asked for, can still say which step is wrong
                    comparisons["free"].fail(f"after epoch {done}: {error}")
                    if "r" in writers:  # R's trace stops here: write none rather than half of one
                        writers.pop("r").abort()
                else:
                    comparisons["free"].add(python, r, size, start)
                    if writers:
                        writers["r"].write(done, r)
            if "lockstep" in modes and comparisons["lockstep"].error is None:
                comparisons["lockstep"].add(python, r_port.lockstep(case, python, start), size, start)
            if writers:
                writers["python"].write(done, python)
            done += size
            # Let this chunk go before the next one is made. rpy2's wrappers of R's
            # arrays sit in reference cycles, so R's memory is released only by
            # Python's cycle collector; without this call the peak on a 2000 x 64
            # case grew from 0.52 to 0.95 GB in 5 chunks (docs/benchmarks.md).
            python = r = None
            gc.collect()
            if progress:
                progress(size)
    except BaseException:
        for writer in writers.values():
            writer.abort()
        if made_folder:
            shutil.rmtree(save_traces, ignore_errors=True)
        raise
    for writer in writers.values():
        writer.close()
    saved = [w.path for w in writers.values()]
    if save_traces is not None:  # beside each .npz its .rds for R; the case and trace.json (environment)
        saved += tracefolder.complete(save_traces, saved, case, epochs, modes, fingerprint())
    reports = {mode: c.report() for mode, c in comparisons.items()}
    return Run(case, epochs, reports, saved, determinism=same_bits)


def load_trace(path: Path | str) -> dict[str, np.ndarray]:
    with np.load(path) as archive:
        return {name: archive[name] for name in archive.files}
