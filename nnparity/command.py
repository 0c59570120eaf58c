"""What every nnparity command shares: the exit codes, the --case option, and
which errors are bad input.

A command's handler loads what it needs inside ``with bad_input():``; any
error there becomes one line and exit code 2. A PortError raised later, while a
port runs, is a failure of that port: exit code 1. ``cli.main`` does the
mapping, once for every command.
"""

from __future__ import annotations

from contextlib import contextmanager

from .bridge import PortError, RUnavailable
from .cases import CaseError

OK, FAILS, BAD_INPUT = 0, 1, 2


class BadInput(Exception):
    """A case, a path, a port that does not load, or no R: the user's input cannot be used."""


@contextmanager
def bad_input():
    """Inside, a case error, a missing R, a port that does not load or a file problem is bad input."""
    try:
        yield
    except (CaseError, RUnavailable, PortError, OSError) as error:
        raise BadInput(str(error)) from None


def add_case_option(parser) -> None:
    parser.add_argument("--case", default="article", help="a case name in fixtures/ or a path to a case folder (default: article)")
