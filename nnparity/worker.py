"""A worker process: one port, driven by the supervisor over a socket.

    python -m nnparity.worker FD LANGUAGE

The supervisor (supervise.py, through spawn.py) starts one worker per port, in a session of its
own, so that nothing a port does (quit(), sys.exit(), os._exit(), a crash, a
loop that never ends, a print) can end or corrupt the process that decides the
verdict. Requests and replies are pickled over the socket ``FD``; the worker
answers each request in order with ``("ok", value)`` or ``(kind, message)``
where kind is "port" (the port failed) or "unavailable" (no R to run it in).

Everything the port writes goes to stderr: the worker's stdout is its stderr.

Before its first request, a worker warms LANGUAGE's runtime (``warm``): numpy,
and for R, rpy2 and R itself. The first request loads the port.
"""

from __future__ import annotations

import ctypes
import gc
import os
import signal
import sys
from multiprocessing.connection import Connection
from pathlib import Path

from . import wire


def die_with_parent() -> None:
    """Ask Linux to kill this process when its parent dies (a supervisor killed with SIGKILL)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the socket's EOF ends an idle worker
        return
    # A parent that died before the request above was made is not watched: end now.
    if str(os.getppid()) != os.environ.get("NNPARITY_SUPERVISOR", str(os.getppid())):
        os._exit(0)


def open_port(kind: str, path: str | None, options: dict):
    from . import ports

    return ports.open_port(kind, path, **options)


def warm(language: str) -> None:
    """Import what a port of `language` will need, and start R, before any port is loaded.

    A failure here is not reported: loading the port meets it again and says it
    in one line (no R, an rpy2 that does not load).
    """
    import numpy  # noqa: F401

    if language == "R":
        from .bridge import RUnavailable, r

        try:
            r()
        except RUnavailable:
            pass


class Worker:
    def __init__(self):
        self.port = None
        self.folder = None  # where large replies travel (wire.py); None: through the socket
        self.arena = None  # this worker's slots in that folder

    def load(self, kind: str, path: str | None, options: dict, folder: str | None) -> dict:
        self.folder = folder
        self.arena = wire.Arena(folder) if folder is not None else None
        if kind == "r":  # this R runs the harness and this port only: the harness uncompiled
            from .bridge import interpret_harness

            interpret_harness()
        if kind == "python" and path is not None:
            # As `python port.py` runs it: the port's own folder (a package's, its parent)
            # first on sys.path, so that it imports the modules beside it (a worker does not
            # put the current folder there: spawn.start). Here only: this process runs no
            # other port.
            sys.path.insert(0, str(Path(path).resolve().parent))
        self.port = open_port(kind, path, options)
        if self.arena is not None and hasattr(self.port, "place"):  # an R port: copied from R
            self.port.place = self.arena.place  # straight into a slot, sent as it is
        gc.freeze()  # the port's modules and R's wrappers of its code: never collected again (warm)
        return {
            "path": str(self.port.path),
            "can_lockstep": bool(self.port.can_lockstep),
            "can_chunk": bool(getattr(self.port, "can_chunk", True)),
            "language": self.port.language,
            "describe": self.port.describe(),
            # an R port's steps whose inputs lockstep hands by position (a failure says so)
            "positional": getattr(self.port, "positional_steps", dict)(),
        }

    def start(self, case) -> None:
        self.port.start(case)

    def advance(self, epochs: int, record: bool = True, weights: bool = True) -> dict:
        from .port import advance_reply

        return advance_reply(self.port, epochs, record, weights)

    def lockstep(self, case, trace, start) -> dict:
        return self.port.lockstep(case, trace, start)

    def environment(self) -> dict:
        from .fingerprint import r_side

        return r_side() if self.port.language == "R" else {}


def serve(connection: Connection) -> int:
    from .bridge import RUnavailable
    from .command import BadInput
    from .port import PortError

    worker = Worker()
    while True:
        try:
            operation, args, released = wire.decode(connection.recv())
        except (EOFError, OSError):  # the supervisor is gone: nothing left to do
            return 0
        if worker.arena is not None:  # slots whose earlier replies the supervisor let go of
            worker.arena.release(released)
        try:
            reply = ("ok", getattr(worker, operation)(*args))
        except (RUnavailable, BadInput) as error:  # the user's input: exit code 2 wherever it shows
            reply = ("BadInput", str(error))
        except PortError as error:  # PortError or BorderError: the supervisor raises the same kind
            reply = (type(error).__name__, str(error))
        except OSError as error:  # a port's path that cannot be read
            reply = ("unavailable", str(error))
        except BaseException as error:  # whatever a port raises is its failure
            reply = ("port", f"{type(error).__name__}: {error}")
        args = None  # lockstep's input (another worker's slot, mapped here): not read again
        if operation in ("advance", "lockstep"):
            gc.collect()  # rpy2's wrappers sit in reference cycles: R's memory comes back here
        try:
            packed = wire.encode(reply, worker.arena, worker.folder)
        except Exception as error:  # a value of the port's that cannot be pickled
            packed = wire.encode(("port", f"its reply cannot be sent ({type(error).__name__}: "
                                          f"{error}); a port returns numbers and names"))
        try:
            connection.send(packed)
        except (OSError, ValueError):
            return 0


def main() -> int:
    die_with_parent()
    # spawn.early starts workers with these held (blocked); a worker takes them as usual
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM, signal.SIGHUP})
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor decides when a run stops
    os.dup2(2, 1)  # whatever the port prints goes to stderr, never into the supervisor's stdout
    sys.stdout = sys.stderr
    connection = Connection(int(sys.argv[1]))
    warm(sys.argv[2])
    # What was imported and started lives as long as the worker: out of the cycle collector's
    # way, so that the gc.collect() after each chunk (serve) scans only that chunk's objects:
    # 6 ms instead of 0.002 ms on an R worker's 30,000 objects, 34 times on the scale case.
    gc.freeze()
    code = serve(connection)
    # The supervisor has what it needs: end now, without Python's and R's clean-up at exit
    # (0.1 s and more). The supervisor removes this worker's TMPDIR, R's tempdir() in it.
    for stream in (sys.stderr, sys.__stderr__):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
