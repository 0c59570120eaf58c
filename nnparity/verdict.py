"""The verdict of a comparison, and the one rule for which failure comes first.

A *failure* is a cell beyond the policy's bound, or a step with a structural
problem (a matrix missing or misshapen, a step R could not compute), at the
epoch it was found. The first failure is the *first cause*: a step the
lockstep proves wrong, or anything free-running finds that is not drift, comes
before drift (free-running cells beyond the bound in a run whose first
difference was born of rounding); then the earliest epoch, then the earliest
in the article's step order (steps 0 and 1, steps 2 to 11, what train()
returned); between modes, the first mode given wins a tie. The report, the
verdict line and the mutation self-check all ask ``first_failure``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from . import steps
from .accumulate import StepStats
from .cells import Cell, NonFinite


@dataclass(frozen=True)
class Failure:
    """What broke parity first: a cell beyond the bound, or a step's structural problem."""

    mode: str
    name: str
    epoch: int
    cell: Cell | None = None
    problem: str | None = None

    drift: bool = False  # free-running only, in a run whose first difference was rounding

    def where(self) -> str:
        if self.cell is not None:
            return self.cell.where()
        return f"epoch {self.epoch}, step {steps.step_of(self.name)} ({self.name}): {self.problem}"


@dataclass
class ParityReport:
    case: str
    mode: str  # "free" or "lockstep"
    epochs: int
    stats: list[StepStats]
    first_difference: Cell | None
    tolerance: str
    error: str | None = None  # why this mode could not be completed (a port failed, or lacks steps)
    non_finite: dict[str, NonFinite] = field(default_factory=dict)  # language -> first NaN/NA/Inf
    remarks: list[str] = field(default_factory=list)  # said with the story (a script: free only)
    sides: tuple[str, str] = ("Python", "R")  # the two implementations compared
    title: str | None = None  # the table's heading, when not the mode's own
    once: list = field(default_factory=list)  # once.OnceCheck: steps 0 and 1, what train() returned
    asked: int | None = None  # the epochs the run asked for (epochs: those compared)

    @property
    def passed(self) -> bool:
        """Every cell compared is within the bound, and the comparison was completed."""
        return self.error is None and all(s.passed for s in (*self.stats, *self.once))

    @property
    def complete(self) -> bool:
        """Passed, with every step compared: none left out as not recorded or not computed (a
        port that does not record steps 0 and 1, a script that never assigns a matrix). What a
        run's exit 0 needs (traces.Run.passed)."""
        return self.passed and not self.not_computed

    @property
    def shown(self) -> list:
        """The matrices the table, --json's steps and the statistics show, in step order:
        steps 2 to 11 always; a once-per-call check (steps 0, 1 and 12: what train() was
        handed and returned) when it failed, or was not compared (a port that does not
        record steps 0 and 1: the table, --json and the statistics name them)."""
        failed = [c for c in self.once if c.violations or c.problem or c.not_computed]
        return sorted([*failed, *self.stats], key=lambda s: steps.position(s.name))

    @property
    def first_violation(self) -> Cell | None:
        """The first cell beyond the bound in this mode (structural problems aside)."""
        first = first_failure([self], structural=False)
        return first.cell if first else None

    @property
    def problems(self) -> list[str]:
        return [f"step {s.step} ({s.name}): {s.problem}" for s in (*self.once, *self.stats)
                if s.problem]

    @property
    def not_computed(self) -> list[str]:
        return [f"step {s.step} ({s.name}): {s.not_computed}"
                for s in (*self.once, *self.stats) if s.not_computed]

    @property
    def notes(self) -> list[str]:
        return [f"step {s.step} ({s.name}): {s.note}" for s in self.stats if s.note]


def signed_zeros(report: ParityReport) -> int:
    """The cells not bitwise equal in a report without a first difference: +0.0 against -0.0,
    which differs in its bits, in no value that follows from it (first_bit_difference)."""
    return sum(s.cells - s.equal for s in report.stats)


def sameness(report: ParityReport, scope: str = "") -> str:
    """How the two traces of a report without a first difference agree, over `scope`."""
    n = signed_zeros(report)
    if not n:
        return f"bitwise equal{scope}"
    held = "1 cell holds" if n == 1 else f"{n:,} cells hold"
    return f"equal in value{scope}, not bitwise: {held} +0.0 against -0.0"


def failures(report: ParityReport, structural: bool = True) -> list[Failure]:
    """Every step's failure in one report: its first cell beyond the bound, or its problem."""
    found = []
    first = report.first_difference
    drift = report.mode == "free" and first is not None and first.is_rounding
    for s in (*report.once, *report.stats):
        if s.problem and structural:
            found.append(Failure(report.mode, s.name, s.problem_epoch, problem=s.problem))
        if s.first_violation is not None:  # cells may have failed before a problem appeared
            v = s.first_violation
            # A cross-language cell (not a once-check against what a port was handed or
            # recorded itself) in a free-running run whose first difference was rounding.
            found.append(Failure(report.mode, s.name, v.epoch, cell=v,
                                 drift=drift and v.sides == report.sides))
    return found


def first_failure(reports: Iterable[ParityReport], structural: bool = True) -> Failure | None:
    """The first cause over the reports: not drift before drift, then epoch, then step order."""
    found = [f for report in reports for f in failures(report, structural)]
    return min(found, key=lambda f: (f.drift, f.epoch, steps.position(f.name)), default=None)
