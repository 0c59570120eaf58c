"""``nnparity`` and ``python -m nnparity``: start a run's workers, then the command line."""

import os
import sys

from . import signals  # alone at first: it imports nothing but signal and sys
from .oneline import one_line  # imports nothing


def main() -> int:
    """The command line as a program: it ends the process when the command is done (``end``)."""
    end(command())


def command() -> int:
    _hold_standard_fds()  # before any file or socket is opened (spawn.early's)
    signals.catch_signals()  # from the first moment: Ctrl-C or SIGTERM during start-up too
    try:  # every import after it: a Ctrl-C while one runs is one line, not a traceback
        return start_and_run()
    except (KeyboardInterrupt, signals.Interrupted) as stop:  # before the run, or after it
        message, code = signals.stopped(stop)
        return failed(message, code)
    except ModuleNotFoundError as error:  # a dependency the command line itself imports
        from . import installation

        message = installation.missing_dependency(error)
        if message is None:
            raise
        return failed(message, 2)


def _hold_standard_fds() -> None:
    """Started with stdin, stdout or stderr closed (`2>&-`), the first file or socket the
    command opens would take that number: the workers' sockets landed on fd 2, a port's
    message then went into them, and the run ended with no result and no word. A closed one
    is opened on /dev/null (stdout stays None to Python: command.write_out says it is
    closed)."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
            if fd == 2 and sys.stderr is None:
                sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115 (the process's own)


def failed(message: str, code: int) -> int:
    """One line on stderr for a command that never ran, and `run --json`'s document."""
    print(f"nnparity: {one_line(message)}", file=sys.stderr)
    # `run --json` prints one document whatever happens: before the command line was read
    # too (later signals are ignored by now: signals.on_signal). Not cli's own: it imports
    # numpy, which a signal may have cut short.
    from .failed_run import json_asked, print_failed_run

    if json_asked(sys.argv[1:]):
        print_failed_run(sys.argv[1:], code, message)
    return code


def start_and_run() -> int:
    from . import spawn

    # This process's numpy, imported below, starts OpenBLAS's threads, and each spins for
    # OpenBLAS's default 2**28 cycles (a tenth of a second) before it sleeps, on the cores
    # where the workers are starting R and numpy: the run's slowest part, R's worker,
    # was ready later. bench/ab.py, medians of 11: scale case, 100 epochs, free-running
    # 1.97 -> 1.92 s; the article's 0.90 -> 0.85 s (docs/benchmarks.md). How idle threads
    # wait changes no result (spawn.BLAS_THREAD_TIMEOUT); a value of the user's is kept.
    os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", spawn.BLAS_THREAD_TIMEOUT)
    spawn.adopt_orphans(sys.argv[1:])  # what a port's children leave ends with it (end)
    spawn.early(sys.argv[1:])  # before the harness's imports: the workers warm up meanwhile
    from .cli import main as command_line

    return command_line()  # which says how a run was stopped, once it has begun


def end(code: int) -> None:
    """End the process once everything is written and every exit handler has run, without
    Python's clean-up of its modules (numpy, pandas, rich...): 0.1 s of a 1.4 s run on the
    article case (docs/benchmarks.md). Every output is whole before this: each is written,
    closed and moved into place by its command."""
    import atexit
    import os

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):  # none, closed, or a closed pipe (| head)
            pass
    run_handlers = getattr(atexit, "_run_exitfuncs", None)
    if run_handlers is None:  # another Python: its own clean-up, as usual
        sys.exit(code)
    run_handlers()
    spawn = sys.modules.get("nnparity.spawn")
    if spawn is not None:
        spawn.end_adopted()
    os._exit(code)


if __name__ == "__main__":
    main()
