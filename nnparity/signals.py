"""Ctrl-C, SIGTERM and SIGHUP: how the supervising process stops.

Installed first thing (``nnparity/__main__.py``), before the workers start and
before the harness is imported, so that a signal at any moment stops the run
the same way: the first one raises (KeyboardInterrupt, or Interrupted), later
ones are ignored while the run cleans up, and the exit code says which
signal it was (130, 128 + its number). This module imports nothing heavy.
"""

from __future__ import annotations

import signal


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


def on_signal(number, frame) -> None:
    """The first SIGINT, SIGTERM or SIGHUP stops the run; later ones are ignored during clean-up."""
    for each in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(each, signal.SIG_IGN)
    if number == signal.SIGINT:
        raise KeyboardInterrupt
    raise Interrupted(number)


def catch_signals() -> None:
    for each in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(each) is not signal.SIG_IGN:  # nohup's ignored SIGHUP stays ignored
            signal.signal(each, on_signal)


def stopped(error: BaseException) -> tuple[str, int]:
    """What to say, and the exit code, for a run stopped by Ctrl-C or a signal."""
    if isinstance(error, Interrupted):
        return (
            f"stopped by {signal_name(error.number)}: "
            "the ports were stopped and nothing was left half-written"
        ), 128 + error.number
    return "interrupted (Ctrl-C): the ports were stopped and nothing was left half-written", 130
