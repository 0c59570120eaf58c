"""What a comparison finds at one cell: a difference, a NaN, a step R could not compute."""

from __future__ import annotations

from dataclasses import dataclass

from . import steps
from .missing import describe_value


def where(epoch: int, name: str, row: int, col: int) -> str:
    """A cell as a reader finds it: epoch, the article's step and name, 1-based row and column."""
    return f"epoch {epoch}, step {steps.step_of(name)} ({name}), cell [{row}, {col}]"


@dataclass
class Cell:
    """One matrix cell at one epoch, 1-based as a reader counts."""

    epoch: int
    name: str
    row: int
    col: int
    python: float
    r: float
    abs_diff: float
    ulps: float
    bound: float  # the largest difference the policy allows in this cell
    rounding_bound: float | None = None  # first difference: the lockstep bound of its step
    sides: tuple[str, str] = ("Python", "R")  # what the two values came from
    # first difference: its step's inputs one side never recorded (a script's loop that never
    # assigns them), so that they were equal is not known
    unrecorded_inputs: tuple[str, ...] = ()
    # first difference: its step's inputs that the second side held rounded to 15 significant
    # digits from the start (a workbook LibreOffice saved), so they were not equal
    rounded_inputs: tuple[str, ...] = ()

    @property
    def step(self) -> int:
        return steps.step_of(self.name)

    def where(self) -> str:
        return where(self.epoch, self.name, self.row, self.col)

    @property
    def is_rounding(self) -> bool:
        """Whether a difference born here is within what one step's rounding can make."""
        return self.rounding_bound is not None and self.abs_diff <= self.rounding_bound

    def origin(self) -> str:
        """Where a free-running difference is born, and what kind it is."""
        verdict = (
            "rounding: within one step's rounding bound"
            if self.is_rounding
            else "a port error: beyond what one step's rounding can make"
        )
        if self.rounded_inputs:
            return (
                f"first seen at {self.where()}: its output differs, and its inputs "
                f"{', '.join(self.rounded_inputs)} were the case's numbers on one side and "
                f"rounded to 15 significant digits on the other (as LibreOffice saves a "
                f"workbook); {self.values()}; {verdict} ({self.rounding_bound:.3g})"
            )
        if self.unrecorded_inputs:
            names = ", ".join(self.unrecorded_inputs)
            return (
                f"first seen at {self.where()}: its output differs, and its inputs {names} went "
                "unrecorded on one side (a script's loop that never assigns them trains from "
                "names of its own?) or were not what the port was handed (step 1), so whether "
                "its inputs were equal is not known; "
                f"{self.values()}; {verdict} ({self.rounding_bound:.3g})"
            )
        return (
            f"born at {self.where()}: every input of that step was bitwise equal, "
            f"its output was not; {self.values()}; {verdict} ({self.rounding_bound:.3g})"
        )

    def values(self) -> str:
        return (
            f"{self.sides[0]} {describe_value(self.python)}, "
            f"{self.sides[1]} {describe_value(self.r)} "
            f"(difference {self.abs_diff:.3g}, {self.ulps:.0f} ULP; allowed {self.bound:.3g})"
        )


@dataclass
class NonFinite:
    """The first NaN, NA or Inf one language produced in a run: where, and which."""

    language: str  # "Python" or "R"
    epoch: int
    name: str
    row: int
    col: int
    value: float

    @property
    def step(self) -> int:
        return steps.BY_NAME[self.name].step

    def where(self) -> str:
        return where(self.epoch, self.name, self.row, self.col)

    def describe(self) -> str:
        return f"{self.language} first produced {describe_value(self.value)} at {self.where()}"


@dataclass(frozen=True)
class NotComputed:
    """In a trace, in place of a matrix the implementation never computes (a learner's script
    that skips an intermediate): reported as not computed, not as a difference."""

    who: str  # "the R script it.R"
    reason: str

    def describe(self) -> str:
        return f"not computed by {self.who}: {self.reason}"


@dataclass(frozen=True)
class StepFailure:
    """A step R could not compute in lockstep (it errored or returned the wrong shape).

    ``RPort.lockstep`` puts one in place of the step's array; the comparison
    reports it as that step's problem and checks every other step as usual.
    ``epoch`` counts from the start of the chunk it came from, 1-based.
    """

    epoch: int
    message: str


@dataclass(frozen=True)
class Unrecorded:
    """In an R port's trace, in place of a matrix whose list it left NULL at an epoch: never
    recorded there (it read NA, which the comparison took for a value R had computed).
    ``epoch`` counts from the start of the chunk, 1-based. The comparison reports it as that
    step's problem."""

    epoch: int


@dataclass(frozen=True)
class UnreadableInput:
    """In lockstep's values, in place of a step whose own matrix in the Python trace cannot be
    read (missing, or not [epochs, rows, cols] of the case's shape): R was not asked to
    recompute it, and the comparison reports ``message``, which names Python, as that step's
    structural problem (compare.trace_problems)."""

    message: str
