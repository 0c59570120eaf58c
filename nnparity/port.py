"""The port interface: what every implementation of the article's network offers.

A port is one implementation (ours or a user's) in one language. The harness
asks it to ``start`` from a case's weights, to ``advance`` some epochs (and
record every matrix of each), and, when it can, to recompute each step in
``lockstep`` from another trace's inputs. Capability flags say what a kind of
port can do, as in Arrow's integration testers: the runner asks the flag, never
the class.

Ports normally run in a worker process of their own (nnparity/supervise.py);
the same objects run in-process for the teaching commands and the tests.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import steps
from .cells import StepFailure  # noqa: F401 - what lockstep returns for a step that failed


class PortError(RuntimeError):
    """An implementation failed while it ran; the message carries the language's own error."""


class BorderError(PortError):
    """What a port returned is not a trace (wrong type, unnamed, not doubles): exit code 1."""


class Port:
    """One implementation of the network, trained chunk by chunk."""

    language = "?"  # "Python" or "R": how reports name this side
    can_lockstep = False  # recomputes single steps from given inputs (lockstep mode)
    can_chunk = True  # keeps its weights between calls to advance

    def __init__(self, path: Path | str):
        self.path = Path(path)

    def describe(self) -> str:
        return f"the {self.language} port {self.path}"

    def start(self, case) -> None:
        raise NotImplementedError

    def advance(self, epochs: int, record: bool = True) -> dict[str, np.ndarray]:
        """Train ``epochs`` more epochs; with ``record``, return the trace of every matrix."""
        raise NotImplementedError

    def weights(self) -> dict[str, np.ndarray]:
        """The weights and biases the next epoch starts from (steps.STATE)."""
        raise NotImplementedError

    def lockstep(self, case, trace: dict[str, np.ndarray], start: dict[str, np.ndarray]) -> dict:
        raise PortError(f"{self.describe()} cannot recompute single steps")


def describe_dtype(dtype: np.dtype) -> str:
    """What an array of this dtype holds, in words: "complex numbers", "float32 numbers"."""
    what = {
        "i": "integers",
        "u": "integers",
        "b": "logicals",
        "U": "strings",
        "S": "strings",
        "O": "objects",
        "f": f"{'big-endian ' if dtype.byteorder == '>' else ''}{dtype.name} numbers",
        "c": "complex numbers",
    }
    return what.get(dtype.kind, str(dtype))


def check_trace(port: Port, trace, epochs: int) -> dict[str, np.ndarray]:
    """What a port's train returned, checked where it crosses into the harness.

    A trace is a mapping from the article's names to arrays of doubles
    [epochs, rows, cols]. Anything else is the port's failure, named in one line:
    "the R port r_impl returned ...; expected ...". A missing matrix or a wrong
    shape is left to the comparison, which names the step it belongs to.
    """
    expected = "a named trace: matrix name -> array of doubles [epochs, rows, cols]"
    if not hasattr(trace, "items"):
        raise BorderError(
            f"{port.describe()} returned {_kind(trace)} as its trace; expected {expected}"
        )
    if len(trace) == 0 and epochs > 0:
        raise BorderError(f"{port.describe()} returned an empty trace; expected {expected}")
    checked = {}
    for name, value in trace.items():
        if not isinstance(name, str) or not name:
            raise BorderError(
                f"{port.describe()} returned a trace with an unnamed entry; expected {expected}"
            )
        # a str subclass (an enum's member, np.str_) as the plain str of its characters: its
        # class's code (its pickling among it) stays with the port
        name = str.__str__(name)
        if not isinstance(value, np.ndarray):
            raise BorderError(
                f"{port.describe()} returned {_kind(value)} for {name}; expected {expected}"
            )
        if value.dtype != np.float64:
            raise BorderError(
                f"{port.describe()} returned {describe_dtype(value.dtype)} for {name}; "
                f"expected doubles (float64)"
            )
        checked[name] = plain(value)
    unknown = sorted(set(checked) - set(steps.NAMES))
    if unknown and not set(checked) & set(steps.NAMES):
        raise BorderError(
            f"{port.describe()} returned a trace with none of the article's names "
            f"({', '.join(unknown[:4])}); "
            f"expected {', '.join(steps.NAMES[:3])}, ..."
        )
    return checked


def plain(value: np.ndarray) -> np.ndarray:
    """A port's array as numpy's own ndarray: a subclass's code (its arithmetic, and its class,
    which the supervisor would have to import to read a worker's reply) stays with the port;
    only its numbers cross."""
    return value if type(value) is np.ndarray else np.asarray(value)


def _kind(value) -> str:
    if value is None:
        return "nothing (None/NULL)"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__}"
    if isinstance(value, str):
        return "a string"
    return f"a {type(value).__name__}"


class Answer:
    """An in-process port's answer, in the shape of a worker's pending reply (supervise.Pending)."""

    def __init__(self, call):
        try:
            self.value, self.error = call(), None
        except PortError as error:
            self.value, self.error = None, error

    def result(self):
        if self.error is not None:
            raise self.error
        return self.value


def submit(port, operation: str, *args):
    """Ask a port for something; a worker queues it and starts at once, an in-process port answers
    now. ``result()`` gives the answer or raises. ``advance`` takes (epochs, record=True,
    weights=True) and answers ``{"trace", "weights"}``: the weights after those epochs, or
    None when not asked for (``advance_reply``, which a worker answers with too)."""
    if hasattr(port, "submit"):
        return port.submit(operation, *args)
    if operation == "advance":
        return Answer(lambda: advance_reply(port, *args))
    return Answer(lambda: getattr(port, operation)(*args))


def advance_reply(port, epochs: int, record: bool = True, weights: bool = True) -> dict:
    """What ``advance`` answers, in this process or a worker's: ``{"trace", "weights"}``."""
    trace = port.advance(epochs, record)
    carried = getattr(port, "weights", None) if weights else None  # a script has none to carry on
    reply = {"trace": trace, "weights": carried() if carried else None}
    if getattr(port, "notes", None):  # a script's: its own lr and epochs, which the case replaced
        reply["notes"] = list(port.notes)
    return reply
