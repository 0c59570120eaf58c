"""Supervised ports: each port in a worker process, the verdict in this one.

The process that compares owns the terminal, the signals, the temporary files
and the exit code; the ports run in workers (``python -m nnparity.worker``),
one per port, each in a session of its own so that Ctrl-C reaches only the
supervisor, which then kills them. A worker that ends early for any reason
(quit(), sys.exit(), os._exit(), a segfault, the kernel's OOM killer) is seen
as the end of its socket and named in one line: which port, how far it got,
and its exit status or signal. Whatever a port prints is passed on to stderr.

``WorkerPort`` has the interface of an in-process port (port.py), plus
``submit``, which lets the runner keep both workers busy at once.
"""

from __future__ import annotations

import collections
import os
import pickle
import queue
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from . import spawn, wire
from .port import BorderError, Port, PortError
from .signals import raise_swallowed, signal_name


class LoadError(PortError):
    """A port could not be loaded (bad path, syntax error, no R): the user's input, exit code 2."""


class WorkerEnded(PortError):
    """A port's process ended while it owed a reply (quit, exit, crash, killed): exit code 1."""


class RunTimeout(Exception):
    """The run took longer than --timeout allowed: exit code 1."""


class Deadline:
    """When a run must end (None: never)."""

    def __init__(self, seconds: float | None):
        self.seconds = seconds
        self.at = None if seconds is None else time.monotonic() + seconds

    def left(self) -> float | None:
        return None if self.at is None else self.at - time.monotonic()


class Pending:
    """A reply the worker owes, in request order.

    Replies arrive in the order of the requests; collecting a later one reads
    the earlier ones first, and each keeps its own outcome: a failed request
    raises when its own result is asked for, not when a later one's is.
    """

    def __init__(self, worker: WorkerPort, what: str, epochs: tuple[int, int] | None = None):
        self.worker, self.what = worker, what
        self.epochs = epochs  # (first, last) it trains
        self.done, self.value, self.error = False, None, None

    def result(self):
        if not self.done:
            self.worker._collect(self)
        if self.error is not None:
            raise self.error
        return self.value


#: The largest reply a worker sends through its socket, with room to spare: a chunk's trace
#: (traces.CHUNK_BYTES, 16 MB) where no folder carries it. A port writing a frame header of
#: 2^62 bytes into its socket made the supervisor wait, or buffer gigabytes.
MAX_REPLY = 1 << 30


class WorkerPort(Port):
    """A port living in a worker process, used as if it were here."""

    def __init__(
        self,
        kind: str,
        path: Path | str | None,
        deadline: Deadline | None = None,
        options: dict | None = None,
        folder: str | None = None,
        quiet_load: bool = False,
    ):
        self.kind = kind
        self.folder = folder  # where large messages travel (wire.py); None: all through the socket
        self.language = "R" if kind.startswith("r") else "Python"
        self.deadline = deadline or Deadline(None)
        self.epochs_total = None  # set by the runner, for messages
        self._requested = 0  # epochs asked for so far
        self.loaded = False
        self.positional: dict[str, list[str]] = {}  # the load reply's (RPort.positional_steps)
        self._environment: Pending | None = None
        self._pending: collections.deque[Pending] = collections.deque()
        self._outbox: queue.Queue = queue.Queue()
        # the worker's slots whose replies are let go of (wire.decode), told with the next request
        self._released: list[int] = []
        self._released_lock = threading.Lock()
        self._tail: collections.deque[str] = collections.deque(maxlen=20)
        self._relay = threading.Event()  # once loaded, what the port prints goes straight to stderr
        self._held: list[bytes] = []
        self.quiet_load = quiet_load  # a second worker of a port already loaded (lockstep's)
        # a worker started early (spawn.early) has been warming its runtime meanwhile
        self.worker = spawn.take(self.language)
        self.process, self.connection = self.worker.process, self.worker.connection
        threading.Thread(target=self._send_loop, daemon=True).start()
        threading.Thread(target=self._read_output, daemon=True).start()
        self.path = Path(path) if path is not None else None
        self._load = self.submit(
            "load", kind, None if path is None else str(path), options or {}, folder
        )

    # -- the port interface ------------------------------------------------------------

    def wait_loaded(self) -> None:
        self._load.result()

    def _loaded(self, info: dict) -> None:
        """The port is loaded (its load reply, however it was collected): what it printed while
        it loaded goes to stderr, unless a twin said it already (``quiet_load``)."""
        self.path, self.language = Path(info["path"]), info["language"]
        self.can_lockstep, self.can_chunk = info["can_lockstep"], info["can_chunk"]
        self.description = info["describe"]
        self.positional = info.get("positional", {})
        self.loaded = True
        if not self.quiet_load:
            for chunk in self._held:
                sys.stderr.buffer.write(chunk)
            sys.stderr.flush()
        self._held.clear()
        self._relay.set()

    def start(self, case) -> None:
        self.submit("start", case).result()

    def advance(self, epochs: int, record: bool = True):
        return self.submit("advance", epochs, record).result()["trace"]

    def lockstep(self, case, trace, start):
        return self.submit("lockstep", case, trace, start).result()

    def environment(self) -> dict:
        self.ask_environment()
        return self._environment.result()

    def ask_environment(self) -> None:
        """Ask for the environment now (the runner does, before R's chunks): it is read later."""
        if self._environment is None:
            self._environment = self.submit("environment")

    # -- requests and replies ------------------------------------------------------------

    def submit(self, operation: str, *args) -> Pending:
        epochs = None
        if operation == "start":  # epochs count from each start (determinism starts twice)
            self._requested = 0
        elif operation == "advance":
            epochs = (self._requested + 1, self._requested + args[0])
            self._requested += args[0]
        pending = Pending(self, operation, epochs)
        self._pending.append(pending)
        self._outbox.put((operation, args))
        return pending

    def _send_loop(self) -> None:
        # Sending from a thread: a large request (a chunk of trace for lockstep)
        # never blocks the main thread while the worker is sending a reply.
        while True:
            message = self._outbox.get()
            if message is None:
                return
            with self._released_lock:
                released, self._released = self._released, []
            try:
                self.connection.send(wire.encode((*message, released), folder=self.folder))
            except Exception as error:
                # The worker is gone (the main thread sees the end of the socket), or the
                # run is ending and closed the socket while this was sent (let_go: the
                # write finds no handle, a TypeError inside multiprocessing).
                if isinstance(error, (OSError, ValueError)) or self.connection.closed:
                    return
                raise

    def _release(self, slot: int) -> None:
        """The last array on one of the worker's slots is gone (from any thread): tell it."""
        with self._released_lock:
            self._released.append(slot)

    def _read_output(self) -> None:
        for line in iter(self.process.stdout.readline, b""):
            self._tail.append(line.decode(errors="replace").rstrip())
            if self._relay.is_set():
                try:
                    sys.stderr.buffer.write(line)
                    sys.stderr.flush()
                except (OSError, ValueError):
                    pass
            else:
                self._held.append(line)

    def _collect(self, target: Pending) -> None:
        while not target.done:
            pending = self._pending[0]
            status, value = self._receive(pending)
            self._pending.popleft()
            pending.done = True
            if status == "ok" and pending.what in ("advance", "lockstep") and not (
                    isinstance(value, dict) and (pending.what == "lockstep" or "trace" in value)):
                self.kill()  # a reply of another shape: what it sends next cannot be trusted
                status, value = "error", (f"{self.describe()} sent a reply nnparity cannot read "
                                          f"(a {type(value).__name__} for its {pending.what})")
            if status == "ok":
                pending.value = value
                if pending.what == "advance" and isinstance(value, dict) and "notes" in value:
                    self.notes = value["notes"]  # a script's, said with the story (scripts.remark)
                if pending is self._load:
                    self._loaded(value)
            else:
                pending.error = self._error(status, value)
            if pending is not self._load and self._load.error is not None:
                pending.error = self._load.error  # the port never loaded: that is what failed

    def _error(self, status: str, message: str) -> Exception:
        """The exception a worker's failed reply stands for."""
        if status == "BorderError" and self.loaded:
            return BorderError(message)
        if status == "BadInput":
            from .command import BadInput

            return BadInput(message)
        return self._failure(message)

    def _wait_step(self, pending: Pending) -> float:
        """How long the next wait for the worker may last (0.2 s, or less where --timeout
        ends sooner); RunTimeout once the deadline has passed, the worker killed. A stop
        whose exception a finalizer or callback dropped is raised here first."""
        raise_swallowed()
        left = self.deadline.left()
        if left is not None and left <= 0:
            self.kill()
            raise RunTimeout(
                f"timed out after {self.deadline.seconds:g} s (--timeout): {self.describe()} "
                f"had not finished {self._doing(pending, waited=True)}"
            )
        return 0.2 if left is None else min(0.2, left)

    def _receive(self, pending: Pending):
        while True:
            wait = self._wait_step(pending)
            try:
                ready = self.connection.poll(wait)
                if ready:
                    # read as data only: a reply is the port's numbers, never code to run here
                    packed = wire.loads(self._frame(pending))
                    reply = wire.decode(packed, self._release, reply_of=self.folder)
                    if not (isinstance(reply, tuple) and len(reply) == 2
                            and isinstance(reply[0], str)):  # what a worker sends: (status, value)
                        raise ValueError(f"a {type(reply).__name__} where a reply is a status "
                                         "and a value")
                    return reply
            except (EOFError, OSError):
                raise self._ended(pending) from None
            except (pickle.UnpicklingError, ValueError, TypeError, IndexError, AttributeError,
                    KeyError, RecursionError, MemoryError) as error:
                self.kill()  # what it sends next cannot be trusted either
                raise self._failure(
                    f"{self.describe()} sent a reply nnparity cannot read ({error})"
                ) from None

    def _frame(self, pending: Pending) -> bytes:
        """One message as multiprocessing's Connection frames it (a 4-byte big-endian size, or
        -1 and an 8-byte one), read as it arrives with the deadline checked between reads:
        Connection.recv_bytes waits for the whole message, and a port that wrote a frame's
        header into its worker's socket and no more held the run past --timeout."""
        fd = self.connection.fileno()
        size = int.from_bytes(self._read(fd, 4, pending), "big", signed=True)
        if size == -1:
            size = int.from_bytes(self._read(fd, 8, pending), "big")
        if not 0 <= size <= MAX_REPLY:
            raise ValueError(f"a frame of {size:,} bytes")
        return self._read(fd, size, pending)

    def _read(self, fd: int, size: int, pending: Pending) -> bytes:
        data = bytearray()
        while len(data) < size:
            ready, _, _ = select.select([fd], [], [], self._wait_step(pending))
            if ready:
                piece = os.read(fd, min(size - len(data), 1 << 22))
                if not piece:
                    raise EOFError
                data += piece
        return bytes(data)

    def _failure(self, message: str) -> PortError:
        return PortError(message) if self.loaded else LoadError(message)

    def _doing(self, pending: Pending, waited: bool = False) -> str:
        """What the worker was asked to do; `waited`: for a run that timed out waiting."""
        if pending.what == "load":
            return "loading"
        if pending.epochs is not None:
            first, last = pending.epochs
            total = f" of {self.epochs_total}" if self.epochs_total else ""
            if waited and self.kind.endswith("-script"):  # it may hang before its loop
                return (f"running to the end of its training loop (epochs {first}-{last}"
                        f"{total}; its code before the loop included)")
            return f"training epochs {first}-{last}{total}"
        return {"lockstep": "recomputing the steps (lockstep)", "start": "starting"}.get(
            pending.what, pending.what
        )

    def _ended(self, pending: Pending) -> PortError:
        """The worker's process ended while it owed a reply: say how, and how far it got."""
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:  # its connection broke, its process lives on
            self.kill()
            self.process.wait()
            return self._failure(
                f"{self.describe()} broke its worker's connection to nnparity while "
                f"{self._doing(pending)} (something wrote into it or closed it, and its process "
                "went on): a port's code must leave the worker's file descriptors alone"
            )
        how = f"killed by {signal_name(-code)}" if code < 0 else f"exited with status {code}"
        if code < 0 and -code == signal.SIGKILL:
            how += " (out of memory, or killed from outside)"
        elif code >= 0:
            how += (
                " (R's quit() and q(), Python's sys.exit() and os._exit() "
                "end the process a port runs in)"
            )
        last = next((line for line in reversed(self._tail) if line.strip()), "")
        said = f"; its last words: {last.strip()}" if last else ""
        where = "while loading" if not self.loaded else f"while {self._doing(pending)}"
        message = f"{self.describe()} ended its process {where}: {how}{said}"
        return WorkerEnded(message) if self.loaded else LoadError(message)

    def describe(self) -> str:
        if getattr(self, "description", None):
            return self.description
        path = self.path if self.path is not None else "(ours)"
        return f"the {self.language} port {path}"

    # -- the end ------------------------------------------------------------------------

    def kill(self) -> None:
        """End the worker at once (its whole session: R may have started children)."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self._outbox.put(None)

    def let_go(self, kill: bool = False) -> None:
        """Close the worker's socket (or kill it first): it ends. Supervisor.__exit__ waits for
        it (spawn.end: killed if it has not ended within 2 s; its temporary folder removed).
        A worker still owing a reply nobody will read (R's chunk asked for ahead of one that
        failed) is killed: the port may be training it, or hanging in it."""
        if kill or any(not pending.done for pending in self._pending):
            self.kill()
        self._outbox.put(None)
        try:
            self.connection.close()
        except OSError:
            pass


class Supervisor:
    """The ports of one run, in workers; ``with Supervisor(...) as s:`` kills what is left.

    Interrupts (Ctrl-C, SIGTERM, SIGHUP) arrive in this process only: the
    workers live in sessions of their own, so the terminal's signals do not
    reach them, and leaving the block (for any reason) kills them.
    """

    def __init__(self, deadline: Deadline | None = None):
        self.deadline = deadline or Deadline(None)
        self.ports: list[WorkerPort] = []
        self.folder = wire.run_folder()  # the run's large messages (wire.py), removed at the end

    def port(self, kind: str, path=None, options: dict | None = None,
             quiet_load: bool = False) -> WorkerPort:
        worker = WorkerPort(kind, path, self.deadline, options, self.folder, quiet_load)
        self.ports.append(worker)
        return worker

    def __enter__(self) -> Supervisor:
        return self

    def let_go(self, kill: bool = False) -> None:
        """Tell every worker to end (or kill it), without waiting: leaving the block waits. A
        run lets its workers go once it has their last answers, and they end (R's: 10-20 ms)
        while the supervisor writes the verdict."""
        for worker in self.ports:
            worker.let_go(kill=kill)

    def __exit__(self, kind, error, tb) -> None:
        # Every worker told first, then each waited for: they end side by side.
        self.let_go(kill=kind is not None)
        for worker in self.ports:
            spawn.end(worker.worker, kill=kind is not None)
        shutil.rmtree(self.folder, ignore_errors=True)
