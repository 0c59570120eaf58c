"""Starting a worker process, and starting the two of a run early.

A worker (worker.py) spends most of its start-up in its language's runtime:
a fresh Python importing numpy, and for R, rpy2 loading and starting R
(0.55 s of the 0.7 s an R worker takes to be ready on this machine; docs/
benchmarks.md). None of that depends on the command line, so ``nnparity run``
starts both workers before it imports the harness (``early``), and each
warms its runtime while the supervisor imports its own modules and reads the
case. A warm worker runs no port code: the port is loaded by the first
request, after the run's input was checked.

This module imports nothing heavy: it runs before anything else.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from multiprocessing.connection import Connection
from pathlib import Path
from typing import NamedTuple


class Started(NamedTuple):
    """A worker process, the supervisor's end of its socket, and its temporary folder.

    The worker's TMPDIR is a folder of its own (R's tempdir() and Python's
    tempfile live there), removed by ``end`` once the process is gone: a worker
    that is killed leaves nothing behind in /tmp.
    """

    process: subprocess.Popen
    connection: Connection
    tmp: str
    mark: str = ""  # NNPARITY_WORKER's value in its environment, and its descendants'


#: Workers started ahead of their Supervisor, by language ("Python", "R").
_early: dict[str, Started] = {}

#: The commands that run ports in workers, and so start them early.
COMMANDS = ("run", "explain", "report")


#: A worker's program: ``nnparity.worker`` of the very package this process runs (its folder,
#: the first argument), not whichever one its Python would import by name: run from another
#: checkout sharing a virtualenv (a git worktree), the workers had imported the installed
#: one, its ports too, and a port changed in the checkout held parity.
WORKER = (
    "import importlib.util, sys; home = sys.argv.pop(1); "
    "spec = importlib.util.spec_from_file_location('nnparity', home + '/__init__.py', "
    "submodule_search_locations=[home]); package = importlib.util.module_from_spec(spec); "
    "sys.modules['nnparity'] = package; spec.loader.exec_module(package); "
    "from nnparity.worker import main; sys.exit(main())"
)


class WorkerStartError(OSError):
    """A worker process that could not be started: one line, exit 2 (cli.main), as no R is."""


def start(language: str) -> Started:
    """A worker process warming `language`'s runtime."""
    tmp = tempfile.mkdtemp(prefix="nnparity-worker-")
    mark = os.urandom(8).hex()
    parent, child = socket.socketpair()
    home = str(Path(__file__).resolve().parent)
    try:
        process = subprocess.Popen(
            # -P: not the current folder first on sys.path, where a learner's random.py or
            # csv.py would stand in for the standard library's in the worker (and our port).
            [sys.executable, "-P", "-c", WORKER, home, str(child.fileno()), language],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=(child.fileno(),),
            start_new_session=True,  # the terminal's Ctrl-C reaches the supervisor only
            env=dict(worker_env(tmp), NNPARITY_WORKER=mark),
        )
    except OSError as error:  # Python not executable by this user, no processes left...
        parent.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise WorkerStartError(
            f"cannot start the {language} port's worker process, {sys.executable} "
            f"({error.strerror or error})",
        ) from None
    finally:
        child.close()
    return Started(process, Connection(parent.detach()), tmp, mark)


#: How long an idle OpenBLAS thread spins before it sleeps: 2**4 cycles, against OpenBLAS's
#: default 2**28 (a tenth of a second). A worker's BLAS threads (numpy's OpenBLAS, and R's
#: where libblas.so.3 is OpenBLAS) spin after every product by default, on the cores the
#: other worker and the supervisor need: on the scale case (100 epochs, free-running, 2
#: cores) the Python worker used 3.8 s of CPU for 0.7 s of its own work, and the run took
#: 5.3 s; with 4, 3.6 s (docs/benchmarks.md). The number of threads is not changed, so
#: neither is any bit: OpenBLAS's results depend on how many threads split a product
#: (the scale case's trace differs between 1 and 2 threads), not on how they wait. The
#: supervisor sets it for its own numpy too (__main__.command).
BLAS_THREAD_TIMEOUT = "4"


#: glibc's malloc in a worker: memory freed is kept for the next chunk instead of given back
#: to the kernel. A chunk's arrays are megabytes each (the scale case: 15 MB a chunk, per
#: language), freed once sent; by default glibc returns the top of its heap (above a trim
#: threshold of twice the last large block), and the next chunk's arrays are new pages, each
#: faulted in and zeroed by the kernel. Scale case, 100 epochs in 34 chunks, one process
#: per port as a worker runs them (train, copy out, encode, collect): R 2.72 s -> 2.34 s,
#: Python 0.78 s -> 0.61 s. Blocks under 32 MiB (glibc's largest threshold) come from the
#: heap. Not a change to any arithmetic: only where the bytes live (docs/benchmarks.md).
MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(32 * 2**20), "MALLOC_TRIM_THRESHOLD_": str(2**40)}


#: R's heap in a worker: R collects its garbage when it holds R_NSIZE objects or R_VSIZE
#: bytes of vectors, and starts from 350,000 objects and 6 MB, then grows slowly. A recorded
#: chunk is the port's own matrices kept for the chunk (r_impl's lists), so each chunk of the
#: scale case made R collect all it holds several times: 0.3-0.4 s of R's collections in 100
#: epochs. With 1,000,000 objects and 100 MB (whole runs, one at a time): article, free,
#: 1.21 -> 1.00 s; scale, 100 epochs, free 3.3 -> 2.3 s, both modes 7.1 -> 4.8 s; the scale
#: case's 2000 epochs in both modes peak at 498 MB for the run (R's worker 316 MB), under
#: issue 9's 600. Not a change to any arithmetic: only when R frees what is garbage.
R_HEAP = {"R_NSIZE": "1000000", "R_VSIZE": "100M"}


def worker_env(tmp: str) -> dict[str, str]:
    """A worker's environment: the supervisor's, with its own TMPDIR, idle BLAS threads that
    sleep, a malloc that keeps what was freed and R's larger heap (unless the user chose
    any of these)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", TMPDIR=tmp, NNPARITY_SUPERVISOR=str(os.getpid()))
    env.setdefault("OPENBLAS_THREAD_TIMEOUT", BLAS_THREAD_TIMEOUT)
    for name, value in MALLOC.items():
        env.setdefault(name, value)
    for name, value in R_HEAP.items():
        env.setdefault(name, value)
    return env


def end(worker: Started, kill: bool = False, grace: float = 2.0) -> int:
    """Wait for a worker's process to end (kill its session first, or after `grace` seconds);
    remove its temporary folder. Returns its exit status."""
    if kill or worker.process.poll() is None and not _wait(worker.process, grace):
        _kill_session(worker)
    code = worker.process.wait()
    # What the port started and left running (a fork, R's system("... &")) is in the
    # worker's session, which outlives the worker: it ends with the run, however it ends;
    # and so does what left that session (setsid), found by the mark in its environment.
    _kill_session(worker)
    _kill_marked(worker.mark)
    shutil.rmtree(worker.tmp, ignore_errors=True)
    return code


def _kill_marked(mark: str) -> None:
    """SIGKILL to every process whose environment carries this worker's mark (1 ms to read
    the environments of the processes of this user)."""
    if not mark:
        return
    marked = f"NNPARITY_WORKER={mark}".encode()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry.name}/environ", "rb") as environ:
                if marked in environ.read().split(b"\0"):
                    os.kill(int(entry.name), signal.SIGKILL)
        except OSError:  # gone, another user's, or no /proc
            continue


#: Whether this process adopts what its workers' children leave behind (``adopt_orphans``).
_adopting: list[bool] = []


def adopt_orphans(argv: list[str]) -> None:
    """Make this process, nnparity's own command line, the parent of every process its
    workers' descendants leave orphaned (Linux's child subreaper), so that ``end_adopted``
    finds them when the command ends: a port's child that left the worker's session (setsid)
    and cleared its environment of the worker's mark (env -i) outlived the run. Only for a
    command that runs ports, and only in a process with no children yet: a shell that
    `exec`s nnparity hands it its background jobs, which are the user's. Not for a process
    that runs other code too (pytest's): everything it is left would be ended."""
    command = next((a for a in argv if not a.startswith("-")), None)
    if command not in COMMANDS or _children(os.getpid()):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(36, 1, 0, 0, 0) == 0:  # PR_SET_CHILD_SUBREAPER
            _adopting.append(True)
    except (OSError, AttributeError):  # not Linux: the session and the mark only
        pass


def end_adopted(rounds: int = 5) -> None:
    """SIGKILL to whatever this process was left (``adopt_orphans``), with its process group,
    and reap it; again for what that leaves, a few rounds."""
    if not _adopting:
        return
    for _ in range(rounds):
        left = _children(os.getpid())
        if not left:
            return
        for pid in left:
            for kill in (os.killpg, os.kill):
                try:
                    kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


def _children(parent: int) -> list[int]:
    """The processes whose parent is `parent`: its threads' /proc children lists (0.01 ms), or
    where Linux keeps none, every process's /proc/PID/stat's fourth field (about 1 ms)."""
    try:
        tasks = os.listdir(f"/proc/{parent}/task")
        return [int(pid) for task in tasks
                for pid in Path(f"/proc/{parent}/task/{task}/children").read_text().split()]
    except (OSError, ValueError):
        pass
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            found.append(int(entry.name))
    return found


def _kill_session(worker: Started) -> None:
    """SIGKILL to the worker's process group (its session: start_new_session)."""
    try:
        os.killpg(worker.process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _wait(process: subprocess.Popen, seconds: float) -> bool:
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return False
    return True


def early(argv: list[str]) -> None:
    """For a command that runs ports, start its R and Python workers now (R first: it is slower)."""
    command = next((a for a in argv if not a.startswith("-")), None)
    if command in COMMANDS and not {"-h", "--help"} & set(argv):
        # A signal now would leave a started worker unrecorded: it is held until both are.
        from .signals import STOPS  # every signal that stops a run (SIGUSR1 too)

        held = signal.pthread_sigmask(signal.SIG_BLOCK, STOPS)
        try:
            for language in ("R", "Python"):
                _early[language] = start(language)
        except OSError:  # said by the run, as it starts the worker again (take)
            pass
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)


def take(language: str) -> Started:
    """The worker started early for `language`, or a new one."""
    return _early.pop(language, None) or start(language)


@atexit.register
def _end_unused() -> None:
    """Workers started early for a run that never used them (bad input): end them now."""
    while _early:
        end(_early.popitem()[1], kill=True)
