"""Traces: run both ports on a case, chunk by chunk, and feed the comparisons.

A trace is ``{name: array[epochs, rows, cols]}`` with the names of
``steps.NAMES``. Epochs are produced in chunks small enough for the memory
budget; each port keeps its weights between chunks, so a chunk costs one
border crossing per mode, whatever its size.

The ports may be in-process (port.py) or in worker processes
(supervise.WorkerPort); with workers, both train at the same time and the
comparison of one chunk runs while the next one trains.
"""

from __future__ import annotations

import collections
import gc
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import determinism, policy, steps, tracefolder
from .atomic import OutputError, StagedFolder, _reason, size_text
from .cases import Case
from .compare import Comparison, ParityReport, lockstep_markers, trace_problems
from .fingerprint import fingerprint
from .port import PortError, submit

MODES = policy.MODES

#: Bytes of trace held per chunk, per language. A chunk is in several places at
#: once: the Python trace, R's free-running one and R's lockstep one in the
#: supervisor (and the next chunk arriving), and in the R worker R's arrays and
#: their numpy copies. Measured peak RSS, all processes summed, on the scale
#: case (2000 x 50 x 64; 40 epochs, both modes; every process sampled every
#: 20 ms, as bench/benchmark.py does): 673 MB with 32 MiB chunks,
#: 501 MB with 16 MiB, 366 MB with 8 MiB; 16 MiB keeps the 2000-epoch run under
#: issue 9's 600 MB (docs/benchmarks.md).
CHUNK_BYTES = 16 * 2**20


def epoch_bytes(case: Case) -> int:
    """Bytes one epoch of a trace takes."""
    return 8 * sum(int(np.prod(steps.shape_of(name, *case.dims))) for name in steps.NAMES)


def chunks(epochs: int, per_epoch: int, budget: int = CHUNK_BYTES) -> list[int]:
    size = max(1, min(epochs, budget // max(per_epoch, 1)))
    full, rest = divmod(epochs, size)
    return [size] * full + ([rest] if rest else [])


def lockstep_worker(case: Case, epochs: int, modes, chunk_bytes: int = CHUNK_BYTES) -> bool:
    """Whether lockstep is worth an R worker of its own: when the whole run is one chunk.

    One R worker trains, then recomputes every step (lockstep), one after the
    other, while the other core has nothing left to do once Python has trained:
    on the article's case (5000 epochs, one chunk) 0.9 s of training, then 0.9 s
    of lockstep. A second R worker recomputes the steps beside the training.
    Over many chunks all three processes are busy already: a fourth only adds
    its start (0.35 s of CPU) and its memory (docs/benchmarks.md).
    """
    return "lockstep" in modes and len(chunks(epochs, epoch_bytes(case), chunk_bytes)) == 1


class TraceWriter:
    """Writes one language's trace chunk by chunk: a .npy per matrix, then zipped into an .npz.

    Plain appends to ordinary files, never a memory map: a full disk is an
    OSError naming the file, not a SIGBUS. Each matrix is stored with the
    shape the port recorded it in; a matrix whose chunks disagree in shape
    (a port bug the comparison names) is left out.
    """

    def __init__(self, folder: Path, language: str, epochs: int):
        self.folder, self.language, self.epochs = folder, language, epochs
        self.path = folder / f"{language}.npz"
        self.files: dict[str, object] = {}
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.written: dict[str, int] = {}

    def write(self, trace: dict[str, np.ndarray]) -> None:
        for name, value in trace.items():
            if (
                not isinstance(value, np.ndarray) or name not in steps.NAMES
            ):  # once-per-chunk records are not saved
                continue
            if name not in self.files:
                self.shapes[name] = (self.epochs, *value.shape[1:])
                handle = open(self.folder / f".{self.language}.{name}.npy", "wb")
                header = {
                    "descr": tracefolder.DTYPE.str, "fortran_order": False,
                    "shape": self.shapes[name],
                }
                np.lib.format.write_array_header_2_0(handle, header)
                self.files[name], self.written[name] = handle, 0
            handle = self.files[name]
            if handle is None or value.shape[1:] != self.shapes[name][1:]:
                self._drop(name)
                continue
            handle.write(np.ascontiguousarray(value, dtype=tracefolder.DTYPE).tobytes())
            self.written[name] += len(value)

    def _drop(self, name: str) -> None:
        if self.files.get(name) is not None:
            try:  # on a full disk, closing flushes the last bytes and fails: the file goes anyway
                self.files[name].close()
            except OSError:
                pass
            (self.folder / f".{self.language}.{name}.npy").unlink(missing_ok=True)
        self.files[name] = None

    def close(self) -> Path:
        """Zip the complete matrices into ``<language>.npz`` (each .npy removed once stored)."""
        with zipfile.ZipFile(
            self.path, "w", compression=zipfile.ZIP_STORED, allowZip64=True
        ) as archive:
            for name, handle in self.files.items():
                if handle is None:
                    continue
                handle.close()
                npy = self.folder / f".{self.language}.{name}.npy"
                if self.written[name] == self.epochs:
                    archive.write(npy, arcname=f"{name}.npy")
                npy.unlink()
        return self.path

    def abort(self) -> None:
        for name in list(self.files):
            self._drop(name)


class TraceOutput:
    """--save-traces: checked before any port runs, staged beside, moved into place whole."""

    def __init__(self, target: Path | str, case: Case, epochs: int, modes: tuple[str, ...]):
        self.output = StagedFolder(target, "traces")
        self.case, self.epochs, self.modes = case, epochs, modes
        # python.npz, and r.npz when R trains on its own (free-running);
        # lockstep's R values are not a training.
        self.languages = ("python", "r") if "free" in modes else ("python",)
        self.check_space()
        self.writers: dict[str, TraceWriter] = {}

    def needed_bytes(self) -> int:
        """The most the staging folder holds: every trace twice (.npz, .rds), a matrix zipping."""
        per_language = self.epochs * epoch_bytes(self.case)
        largest = (
            self.epochs
            * 8
            * max(int(np.prod(steps.shape_of(n, *self.case.dims))) for n in steps.NAMES)
        )
        return 2 * len(self.languages) * per_language + largest

    def check_space(self) -> None:
        import shutil

        parent = self.output._existing_parent()
        free = shutil.disk_usage(parent).free
        need = self.needed_bytes()
        if need > free:
            raise OutputError(
                f"{self.output.target}: the traces need {size_text(need)} and {parent} has "
                f"{size_text(free)} free; save fewer epochs (--epochs) or elsewhere"
            )

    def open(self) -> None:
        staging = self.output.open()
        self.writers = {lang: TraceWriter(staging, lang, self.epochs) for lang in self.languages}

    def write(self, language: str, trace: dict[str, np.ndarray]) -> None:
        if language in self.writers:
            try:
                self.writers[language].write(trace)
            except OSError as error:
                raise OutputError(
                    f"{self.output.target}: cannot be written ({_reason(error)})"
                ) from None

    def drop(self, language: str) -> None:
        """This language's trace stops here: write none rather than half of one."""
        writer = self.writers.pop(language, None)
        if writer is not None:
            writer.abort()

    def commit(self, environment: dict | None = None) -> list[Path]:
        """Complete the folder (``finish``) and move it in (``move``)."""
        saved = self.finish(environment)
        self.move()
        return saved

    def finish(self, environment: dict | None = None) -> list[Path]:
        """Complete the staging folder (.rds, case/, trace.json: tracefolder.complete), not
        moved in yet: the paths its files will have."""
        try:
            npz = [writer.close() for writer in self.writers.values()]
            more = tracefolder.complete(
                self.output.staging, npz, self.case, self.epochs, self.modes, environment or {}
            )
        except OSError as error:
            self.abort()
            raise OutputError(
                f"{self.output.target}: cannot be written ({_reason(error)})"
            ) from None
        return [self.output.target / path.name for path in npz + more]

    def move(self) -> None:
        """Move the finished folder into place, replacing an earlier one of nnparity's."""
        try:
            self.output.commit()
        except OSError as error:
            self.abort()
            raise OutputError(
                f"{self.output.target}: cannot be written ({_reason(error)})"
            ) from None

    def abort(self) -> None:
        for writer in self.writers.values():
            writer.abort()
        self.output.abort()


@dataclass
class Run:
    """The outcome of one run: a report per mode asked for."""

    case: Case
    epochs: int
    reports: dict[str, ParityReport]
    saved: list[Path] = field(default_factory=list)  # trace files written (--save-traces)
    environment: dict[str, str] | None = None  # the fingerprint (None: read it in this process)
    # language -> whether that port gave the same bits twice (nnparity/determinism.py)
    determinism: dict[str, determinism.Determinism] = field(default_factory=dict)
    # the epochs of each call of a port's train() (the run's chunks, CHUNK_BYTES of trace each)
    calls: list[int] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Exit 0: every mode within the bound at every step it compared, every step compared
        (ParityReport.complete), and each port's train() ran (a lockstep-only run calls R's
        train() only to check its bits: it failing is a port that failed, not a pass)."""
        complete = all(report.complete for report in self.reports.values())
        return complete and not self.failed_trainings

    @property
    def failed_trainings(self) -> list[str]:
        """Each port whose train() failed in the determinism check, as its check says it."""
        return [d.describe() for d in self.determinism.values()
                if d.same_bits is None and d.error and not d.first_call_failed]

    def calls_note(self) -> str | None:
        """What streaming in chunks leaves unseen, when the run trained in more than one call."""
        if len(self.calls) < 2:
            return None
        return (
            f"each port's train() was called {len(self.calls)} times, for at most "
            f"{max(self.calls)} epochs each (the run streams its trace a chunk at a time): a "
            "train() that behaves otherwise past that many epochs of one call (a schedule on "
            "its own loop counter) is not seen here; a program that trains once makes one call"
        )


def can_lockstep(port) -> bool:
    return bool(getattr(port, "can_lockstep", False))


def run(
    case: Case,
    python_port,
    r_port,
    epochs: int | None = None,
    modes: tuple[str, ...] = MODES,
    save_traces: Path | TraceOutput | None = None,
    progress: Callable[[int], None] | None = None,
    chunk_bytes: int = CHUNK_BYTES,
    observe: Callable[[str, dict[str, np.ndarray]], None] | None = None,
    environment: Callable[[], dict] | None = None,
    full_bounds: bool = False,
    check_determinism: bool = True,
    lockstep_port=None,
    move_traces: bool = True,
) -> Run:
    """Train both ports on `case` and compare every step of every epoch.

    ``observe(language, trace)`` sees every chunk of both free-running traces
    (the report keeps the loss from it); ``environment()`` is saved with traces.
    ``full_bounds``: the bound in every cell of every epoch, for the statistics table's
    ``bound`` column (--save-stats), not only where a cell needs it.

    ``lockstep_port``: a second R port of the same code, for lockstep (``lockstep_worker``);
    by default `r_port` recomputes the steps after its own training.

    ``move_traces``: False leaves the saved traces finished beside their target, for the
    caller to move in (``TraceOutput.move``) with its other outputs, or abort.

    First (unless `check_determinism` is false) each port trains a few epochs
    twice, to say whether it gives the same bits twice (determinism.py).
    Workers are asked for everything as early as the order allows, so that
    R never waits for the supervisor: the checks, the start and the first
    chunk in one go, then R's chunk k+1 while chunk k is compared (and
    Python's once it is: _Runner.chunk).
    """
    epochs = epochs or case.epochs
    comparisons = {mode: Comparison(case, mode, full_bounds=full_bounds, expected_epochs=epochs)
                   for mode in modes}
    folder = save_traces
    if save_traces is not None and not isinstance(save_traces, TraceOutput):
        folder = TraceOutput(save_traces, case, epochs, modes)
    runner = _Runner(case, python_port, r_port, comparisons, observe, folder, lockstep_port)
    sizes = chunks(epochs, epoch_bytes(case), chunk_bytes)
    try:
        if folder:
            folder.open()
        asked = runner.ask_determinism(epoch_bytes(case), chunk_bytes, sizes[0]) if (
            check_determinism) else {}
        runner.start(sizes, asked)  # asked is emptied: its traces are let go of
        for k, size in enumerate(sizes):
            runner.chunk(k, sizes)
            if progress:
                progress(size)
        same_bits = runner.determinism()
        for language, checked in same_bits.items():
            if not checked.breaks_free_running:
                continue
            # free-running compares both trainings; lockstep reads Python's (R's steps are
            # called on their own, not through its train())
            for mode in comparisons if language == python_port.language else ("free",):
                if mode in comparisons:
                    comparisons[mode].fail(checked.describe())
        info = environment() if environment else None
        saved = (folder.commit if move_traces else folder.finish)(fingerprint(info)) if (
            folder) else []
    except BaseException:
        if folder:
            folder.abort()
        raise
    reports = {mode: c.report() for mode, c in comparisons.items()}
    if "lockstep" in reports:
        reports["lockstep"].remarks += positional_remarks(reports["lockstep"], runner.lockstep_port)
    return Run(case, epochs, reports, saved, info, determinism=same_bits, calls=sizes)


def positional_remarks(report, r_port) -> list[str]:
    """For each step lockstep found wrong whose R function takes its inputs by position (its
    argument names are not the step list's), how its inputs were handed: a faithful step
    with its arguments renamed and swapped (function(out, target) target - out) read as a
    wrong formula."""
    positional = getattr(r_port, "positional", None)
    if positional is None:
        positional = r_port.positional_steps() if hasattr(r_port, "positional_steps") else {}
    said = []
    for s in report.stats:
        if s.name not in positional or (s.passed and not s.problem):
            continue
        inputs = steps.BY_NAME[s.name].inputs
        handed = ", ".join(f"{mine} = {theirs}" for mine, theirs in zip(
            positional[s.name], inputs, strict=False))
        said.append(
            f"lockstep handed steps${s.name} its inputs by position ({handed}), as its "
            f"arguments ({', '.join(positional[s.name])}) are not the step list's names "
            f"({', '.join(inputs)}): if that is not what they mean, name them so, in any order"
        )
    return said


#: How many of R's free-running chunks are asked for before the first is in, when the run is
#: free-running alone. R's worker is the run's slowest: asked for chunk k+1 only once chunk k
#: was collected, it waited for the supervisor (Python's chunk, the comparison) 50-220 ms a
#: run on the scale case; with two asked for it always has the next one queued. Scale case,
#: 100 epochs, `--mode free`, medians of 11 interleaved: 2.31 -> 2.15 s; three ahead, 2.47
#: against 2.43 s for two (docs/benchmarks.md). With lockstep, R's worker also recomputes
#: Python's chunks, queued behind its own: two ahead there held lockstep's chunk k back behind
#: R's chunk k+1 (4.44 -> 4.82 s), so lockstep runs keep one.
R_AHEAD = 2


class _Runner:
    """The steps of one run: what to ask each port for, and what to do with each chunk."""

    def __init__(self, case: Case, python_port, r_port, comparisons: dict[str, Comparison],
                 observe=None, folder: TraceOutput | None = None, lockstep_port=None):
        self.case, self.python_port, self.r_port = case, python_port, r_port
        self.lockstep_port = lockstep_port or r_port  # the R port that recomputes the steps
        self.comparisons, self.observe, self.folder = comparisons, observe, folder
        self.free = "free" in comparisons
        self.lockstep = "lockstep" in comparisons and can_lockstep(r_port)
        if "lockstep" in comparisons and not self.lockstep:
            comparisons["lockstep"].fail(
                f"the R port {r_port.path} defines no `steps` list: lockstep recomputes each step "
                "with steps$<matrix name>(inputs), as r_impl/steps.R defines them; "
                "`--mode free` checks the training alone"
            )
        self.python_next = None
        self.r_next: collections.deque = collections.deque()  # R's chunks asked for, in order
        # an in-process port answers as it is asked: asking ahead would only hold more chunks
        self.r_ahead = R_AHEAD if hasattr(r_port, "submit") and not self.lockstep else 1
        self.weights = None  # the weights at the start of the next chunk
        self.done = 0  # epochs compared
        self.same_bits: dict = {}  # language -> determinism.Determinism
        self.checked_in_chunk: dict = {}  # port -> (epochs, answers): judged with chunk 0

    def ask_determinism(self, per_epoch: int, budget: int, first_chunk: int) -> dict:
        """Both ports' determinism checks, asked for at once. Returns those that train twice,
        {port: (epochs, answers)}, for ``start`` to judge. A port that trains in this run
        trains once for its check (kept in ``checked_in_chunk``): the run's first chunk,
        from the same start, is its second training (judged in chunk 0, _judge_with).
        """
        n = determinism.epochs_to_check(self.case, per_epoch, budget)
        asked = {}
        for port in (self.python_port, self.r_port):
            if getattr(port, "kind", "").endswith("-script"):
                continue  # a learner's script runs once, as written: its prints, files, prompts
            once = n <= first_chunk and self._trains(port)
            answers = determinism.ask(port, self.case, n, trainings=1 if once else 2)
            (self.checked_in_chunk if once else asked)[port] = (n, answers)
        return asked

    def _trains(self, port) -> bool:
        return port is self.python_port or self.free

    def start(self, sizes: list[int], asked: dict) -> None:
        """Start the training(s) on the case and ask for the first chunk; then judge the
        determinism checks `asked` (ask_determinism's, each trained twice) and let go of
        their traces (``asked`` is emptied). Python's first chunk is asked for at once: R's
        lockstep waits for it."""
        total = sum(sizes)
        for port in (self.python_port, self.r_port):
            if hasattr(port, "epochs_total"):
                port.epochs_total = total
        training = [self.python_port] + ([self.r_port] if self.free else [])
        started = [submit(port, "start", self.case) for port in training]
        self.python_next = submit(self.python_port, "advance", sizes[0])
        if hasattr(self.r_port, "ask_environment"):
            # before R's chunks (4 ms): a chunk asked for ahead of a failed one is never read,
            # and the environment must not wait behind it (a port may hang there)
            self.r_port.ask_environment()
        if self.free:
            for k in range(min(self.r_ahead, len(sizes))):
                self.r_next.append(self._advance_r(sizes, k))
        for port, (n, answers) in asked.items():
            self.same_bits[port.language] = determinism.judge(port, n, answers)
        asked.clear()  # their traces: 4 x 16 MB on the scale case
        for answer in started:
            answer.result()
        self.weights = {name: value.copy() for name, value in self.case.state().items()}

    def determinism(self) -> dict:
        """Each port's determinism check, Python's first: {language: Determinism}."""
        order = [port.language for port in (self.python_port, self.r_port)]
        return {language: self.same_bits[language] for language in order
                if language in self.same_bits}

    def _judge_with(self, port, chunk: dict | PortError) -> None:
        """The determinism check of a port whose second training is chunk 0 (or its failure)."""
        if port in self.checked_in_chunk:
            n, answers = self.checked_in_chunk.pop(port)
            self.same_bits[port.language] = determinism.judge(port, n, answers, chunk)

    def _advance_r(self, sizes: list[int], k: int):
        """Ask R's free-running training for chunk k. Only Python's weights start lockstep's
        chunks: R's are not asked for (on the scale case, 1-2 ms of each of R's 34 chunks,
        which R's worker, the slower, spends in rpy2)."""
        return submit(self.r_port, "advance", sizes[k], True, False)

    def chunk(self, k: int, sizes: list[int]) -> None:
        """Compare chunk k of both modes: R's next chunk is asked for first, Python's last.

        R is the slower port, so it trains ahead (chunk k+1 with lockstep, k+1 and
        k+2 free-running alone: R_AHEAD) while chunk k is compared.
        Free-running alone, R's chunk 2 is asked for as soon as its chunk 0 is in,
        before the run waits for Python's chunk 0, which comes late (numpy's first
        products and its determinism check: 160 ms on the scale case, where R's
        worker waited 55 ms). Later chunks keep the order below: asking R first
        in every chunk made the scale case slower (1.99 -> 2.07 s, medians of 11).
        Python's is asked for once chunk k is compared and let go of: numpy then
        trains while this process waits for R, and its two BLAS threads are not
        kept from the cores by this process's comparison: each waits for the other
        inside a product, spinning, whenever one is off its core. Scale case, 100
        epochs, medians of 3 to 5 (docs/benchmarks.md): the Python worker's CPU
        time 1.0 s -> 0.76 s free-running, 3.1 s -> 0.74 s with lockstep; the
        runs 2.66 s -> 2.51 s and 5.23 s -> 4.51 s. A Python port slower than R
        pays the comparison of each chunk once more.
        """
        size = sizes[k]
        early = k == 0 and not self.lockstep and bool(self.r_next)
        r_trace = self._receive_r(k, sizes) if early else None
        python, self.python_next = self.python_next.result(), None  # held here only
        trace = python["trace"]
        if k == 0:
            self._judge_with(self.python_port, trace)
        lockstep = markers = None
        if self.lockstep:
            # Python's trace is lockstep's input: a matrix it cannot read is Python's finding
            # at that step (compare.trace_problems); R recomputes every step that does not
            # read one.
            unreadable = trace_problems(self.case, trace, size)
            markers = lockstep_markers(unreadable)
            readable = {name: value for name, value in trace.items() if name not in unreadable}
            if len(markers) < len(steps.NAMES):
                lockstep = submit(self.lockstep_port, "lockstep", self.case, readable,
                                  self.weights)
        if not early and self.r_next:
            r_trace = self._receive_r(k, sizes)
        if r_trace is not None:
            self.comparisons["free"].add(trace, r_trace, size, self.weights)
            self._keep("r", "R", r_trace)
        if markers is not None:
            recomputed = lockstep.result() if lockstep is not None else {}
            self.comparisons["lockstep"].add(trace, {**recomputed, **markers}, size,
                                             self.weights)
        self._keep("python", "Python", trace)
        self.weights = python["weights"] if python["weights"] is not None else self.weights
        self.done += size
        # Let this chunk go before the next one is compared. rpy2's wrappers of
        # R's arrays sit in reference cycles, so R's memory is released only by
        # the cycle collector: without this call the peak on a 2000 x 64 case
        # grew from 0.52 to 0.95 GB in 5 chunks. A worker collects its own
        # (worker.py); here only an in-process port needs it.
        python = trace = r_trace = None
        if not all(hasattr(port, "submit") for port in (self.python_port, self.r_port)):
            gc.collect()
        if k + 1 < len(sizes):
            self.python_next = submit(self.python_port, "advance", sizes[k + 1])

    def _receive_r(self, k: int, sizes: list[int]) -> dict | None:
        """R's free-running chunk k, with its next chunk (``r_ahead`` on) asked for at once;
        None when R failed, which ends the free-running mode only (the chunks asked for
        beyond it are left unread: the worker that owes them is ended when the run lets it
        go, WorkerPort.let_go)."""
        try:
            r_trace = self.r_next.popleft().result()["trace"]
        except PortError as error:
            if type(error) is not PortError:  # the worker ended, or the run timed out
                raise
            if k == 0:
                self._judge_with(self.r_port, error)
            # lockstep, if asked for, can still say which step is wrong
            first, last = self.done + 1, self.done + sizes[k]
            self.comparisons["free"].fail(f"while training epochs {first}-{last}: {error}")
            self.r_next.clear()
            if self.folder:
                self.folder.drop("r")
            return None
        if k + self.r_ahead < len(sizes):
            self.r_next.append(self._advance_r(sizes, k + self.r_ahead))
        if k == 0:
            self._judge_with(self.r_port, r_trace)
        return r_trace

    def _keep(self, language: str, label: str, trace: dict) -> None:
        """A chunk of trace into the saved traces (--save-traces) and to the observer."""
        if self.folder:
            self.folder.write(language, trace)
        if self.observe:
            self.observe(label, trace)


def load_trace(path: Path | str) -> dict[str, np.ndarray]:
    """A saved trace (.npz) as {name: array}."""
    with np.load(path) as archive:
        return {name: archive[name] for name in archive.files}
