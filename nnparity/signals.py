"""Ctrl-C, SIGTERM and SIGHUP: how the supervising process stops.

Installed first thing (``nnparity/__main__.py``), before the workers start and
before the harness is imported, so that a signal at any moment stops the run
the same way: the first one raises (KeyboardInterrupt, or Interrupted), later
ones are ignored while the run cleans up, and the exit code says which
signal it was (130, 128 + its number). This module imports nothing heavy.
"""

from __future__ import annotations

import signal
import sys
from contextlib import contextmanager


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class Interrupted(BaseException):
    """SIGTERM or SIGHUP: stop as Ctrl-C does, and exit with 128 + the signal's number."""

    def __init__(self, number: int):
        super().__init__(number)
        self.number = number


#: The stop a signal asked for and nobody has acted on yet (see ``raise_swallowed``).
_pending: int | None = None

#: How many ``finishing`` blocks are open: a command's outputs are moving into place and its
#: result is being printed (write_out opens one inside the run's own).
_finishing = 0


#: The signals that stop a run (on_signal): Ctrl-C, SIGTERM and SIGHUP, and those whose
#: default action ends a process and that nnparity's own process never uses (a port's
#: os.kill(os.getppid(), SIGUSR1) ended the run with no word, its workers' folders left).
STOPS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP} | {
    getattr(signal, name) for name in ("SIGUSR1", "SIGUSR2", "SIGALRM", "SIGVTALRM", "SIGPROF",
                                       "SIGIO", "SIGPWR") if hasattr(signal, name)
}


@contextmanager
def finishing():
    """``with finishing():`` the command's outputs move into place and its result is printed:
    a signal then is too late to stop it, and is ignored. Stopping there would leave an
    output moved in (the earlier one it replaced gone) under a message that the run was
    stopped; it takes milliseconds (and a reader that stops reading ends the printing).

    The signals are also held back from this thread meanwhile: one arriving while a write
    to a slow pipe waited ended that write part way (4096 of 12443 bytes of --json), and
    Python went on as if all were written. Let through at the end, it is ignored. A block
    inside another lets nothing through: the mask it restores holds them still."""
    global _finishing
    if not _finishing:
        # A stop whose exception Python dropped (raised in a weakref callback while the
        # garbage collector ran: "Exception ignored in ...") stops the command here, before
        # any output moves into place: it had gone on to exit 0.
        raise_swallowed()
    _finishing += 1
    held = signal.pthread_sigmask(signal.SIG_BLOCK, STOPS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        _let_handlers_run()  # a signal let through now meets _finishing, and is ignored
        _finishing -= 1


def _let_handlers_run() -> None:
    """A Python call: the interpreter runs the handlers of signals caught so far before it."""


def on_signal(number, frame) -> None:
    """The first SIGINT, SIGTERM or SIGHUP stops the run; later ones are ignored during clean-up."""
    global _pending
    if _finishing:  # too late: the command completes
        return
    for each in STOPS:
        signal.signal(each, signal.SIG_IGN)
    _pending = number
    if _inside_r(frame):
        _interrupt_r()
        return
    _raise(number)


#: rpy2's module whose functions R calls back while it runs (console, events).
_R_CALLBACKS = "rinterface_lib/callbacks.py"


def _inside_r(frame) -> bool:
    """Whether Python runs here because R called back into it: an exception raised there is
    printed by cffi ("Exception ignored from cffi callback", with a traceback) and dropped."""
    while frame is not None:
        if frame.f_code.co_filename.replace("\\", "/").endswith(_R_CALLBACKS):
            return True
        frame = frame.f_back
    return False


def _interrupt_r() -> None:
    """Ask R to stop as its own Ctrl-C would: R raises an error at its next check for
    interrupts (in every loop), the R call returns, and ``raise_swallowed`` raises the stop."""
    openrlib = sys.modules.get("rpy2.rinterface_lib.openrlib")
    if openrlib is not None:
        openrlib.rlib.R_interrupts_pending = 1


def _raise(number: int) -> None:
    if number == signal.SIGINT:
        raise KeyboardInterrupt
    raise Interrupted(number)


def raise_swallowed() -> None:
    """Raise again a stop that R swallowed.

    When the signal arrives while R runs in this process (a script's plan is
    read in R), Python runs the handler inside one of rpy2's callbacks, where an
    exception would be printed with a traceback and dropped (and the later
    signals are ignored by then): the handler asks R to stop instead. The R
    bridge calls this when R returns, and the command line when a command
    failed, since R's stop reaches Python as an R error.
    """
    if _pending is not None:
        _raise(_pending)


def acted_on() -> None:
    """The stop reached the command line's handler (cli.main): nothing is left pending."""
    global _pending
    _pending = None


def catch_signals() -> None:
    for each in STOPS:
        if signal.getsignal(each) is not signal.SIG_IGN:  # nohup's ignored SIGHUP stays ignored
            signal.signal(each, on_signal)
    if sys.unraisablehook is not _quiet_unraisable:
        _quiet_unraisable.previous = sys.unraisablehook
        sys.unraisablehook = _quiet_unraisable


def _quiet_unraisable(unraisable) -> None:
    """Python's report of an exception it cannot raise (in a weakref callback, a __del__),
    except for a stop on_signal raised there: no traceback for it, the stop being still
    pending (_pending), and raised where the command next can (finishing, raise_swallowed)."""
    stop = isinstance(unraisable.exc_value, (KeyboardInterrupt, Interrupted))
    if stop and _pending is not None:
        return
    _quiet_unraisable.previous(unraisable)


_quiet_unraisable.previous = sys.__unraisablehook__


def stopped(error: BaseException, ports: bool = True) -> tuple[str, int]:
    """What to say, and the exit code, for a command stopped by Ctrl-C or a signal; `ports`:
    whether it runs ports (run, explain, report), which were stopped too."""
    what = "the ports were stopped and nothing" if ports else "nothing"
    if isinstance(error, Interrupted):
        return (
            f"stopped by {signal_name(error.number)}: {what} was left half-written"
        ), 128 + error.number
    return f"interrupted (Ctrl-C): {what} was left half-written", 130
