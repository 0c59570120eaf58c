"""What every nnparity command shares: the exit codes, the --case option, and
which errors are bad input.

A command's handler loads what it needs inside ``with bad_input():``; any
error there becomes one line and exit code 2. A PortError raised later, while a
port runs, is a failure of that port: exit code 1. ``cli.main`` does the
mapping, once for every command.
"""

from __future__ import annotations

import errno
import math
import os
import sys
from contextlib import contextmanager

from .bridge import RUnavailable
from .cases import CaseError, epochs_count
from .oneline import one_line
from .port import PortError

OK, FAILS, BAD_INPUT = 0, 1, 2


class BadInput(Exception):
    """A case, a path, a port that does not load, or no R: the user's input cannot be used."""


@contextmanager
def bad_input():
    """Inside, a case error, a missing R, a port that will not load or a file problem: bad input."""
    try:
        yield
    except (CaseError, RUnavailable, PortError, OSError) as error:
        raise BadInput(str(error)) from None


def add_case_option(parser) -> None:
    parser.add_argument(
        "--case",
        default="article",
        help="a case name in fixtures/ or a path to a case folder (default: article)",
    )


def add_timeout_option(parser) -> None:
    parser.add_argument(
        "--timeout",
        metavar="SECONDS",
        help="end the run, with exit code 1, when it takes longer (a port that hangs); "
        "default: no limit",
    )


def parse_timeout(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        seconds = float(text)
    except ValueError:
        raise BadInput(f"--timeout: {text!r} is not a number of seconds") from None
    if not (math.isfinite(seconds) and seconds > 0):
        raise BadInput(f"--timeout: must be a positive number of seconds, got {text!r}")
    return seconds


def parse_epochs_option(option: str, text: str | None) -> int:
    """A number of epochs given on the command line (--epochs, --epoch): bad input names it."""
    epochs = epochs_count(text)
    if isinstance(epochs, str):
        raise BadInput(f"{option}: {epochs}")
    return epochs


#: Set when a result could not be written to stdout (closed, full, an I/O error): the
#: command, if it would have exited 0, exits 2 instead (cli.main), as for any output that
#: cannot be written: `nnparity run --json > result.json` on a full disk is no pass.
RESULT_LOST: list[str] = []


def write_out(console, err, write) -> None:
    """Write the result to stdout; a closed or full stdout gets one line on stderr, no traceback.

    The exit code follows the verdict, or is 2 where the verdict was 0 and the result was
    not written (RESULT_LOST); a reader that stops early (``| head``) is no failure.
    """
    if sys.stdout is None:  # started with stdout closed (>&-)
        _say(err, "cannot write the result: standard output is closed")
        RESULT_LOST.append("standard output is closed")
        return
    from .signals import finishing

    try:
        with finishing():  # the result whole: a signal now is too late to cut it short
            write()
            sys.stdout.flush()
    except SystemExit:  # rich's answer to a broken pipe (it has already sent stdout to devnull)
        return
    except OSError as error:
        try:  # nothing more can reach this stdout, including Python's flush at exit
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        if error.errno != errno.EPIPE:  # a reader that stopped reading is no error
            _say(err, f"cannot write the result to standard output ({error.strerror or error})")
            RESULT_LOST.append(error.strerror or str(error))


def _say(err, message: str) -> None:
    try:
        err.print(f"nnparity: {one_line(message)}", highlight=False, markup=False)
    except OSError:
        pass
