"""`nnparity run --spreadsheet`: the workbook as a third implementation.

After the Python/R run, the spreadsheet (``nnparity workbook``, or a workbook
the user gives, such as one they edited) is recalculated by LibreOffice and
compared, free-running, with each language: Python against the spreadsheet
and R against the spreadsheet, with the same tables, first difference and
story as the Python/R comparison, under the bound measured for a spreadsheet
engine (``policy.SPREADSHEET``).

The languages' traces come from the run itself: it saves them (``python.npz``,
``r.npz``) into ``--save-traces`` or a temporary folder, and this module reads
them back, so it depends on nothing of how the ports are run.
"""

from __future__ import annotations

import io
import json
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from . import calc, policy
from .cases import Case
from .command import BadInput
from .compare import Comparison, ParityReport
from .report import show_run, story, table
from .supervise import Deadline
from .traces import load_trace
from .workbook import epoch_sheet, epochs_differ, read_inputs, write_workbook

#: The workbook holds one sheet per epoch and is recalculated in one go: the largest
#: run it is asked for. Measured on two busy cores: `run --spreadsheet` on the article
#: case took 24 s for 200 epochs and 49 s for 500; writing and recalculating took 96 s
#: for 1000 (1.5 GB in LibreOffice), and about 0.6 s per epoch for iris (150 samples).
MAX_EPOCHS = 1000
#: What the verdict says of a workbook whose inputs LibreOffice saved (workbook.as_saved).
SAVED_INPUTS = "its inputs as LibreOffice saved them: 15 significant digits"
#: --spreadsheet without FILE: a fresh workbook (an empty FILE is a mistake, not this).
FRESH = True
SIDES = {"Python": ("Python", "spreadsheet"), "R": ("R", "spreadsheet")}


def add_arguments(parser) -> None:
    parser.add_argument(
        "--spreadsheet", nargs="?", const=FRESH, type=str, metavar="FILE.xlsx",
        help="also check the article's spreadsheet, recalculated by LibreOffice, against both "
        "languages (free-running); with FILE, that workbook instead of a fresh one",
    )


@dataclass
class Spreadsheet:
    """What `run --spreadsheet` will check, settled before anything runs."""

    case: Case
    epochs: int
    workbook: Path | None  # None: write a fresh one from the case
    #: The inputs it holds as LibreOffice saves them, 15 significant digits (as_saved).
    inputs_saved: frozenset[str] = frozenset()
    deadline: Deadline | None = None  # the run's (--timeout): LibreOffice's time comes out of it

    def recalculate(self) -> dict:
        with tempfile.TemporaryDirectory(prefix="nnparity-workbook-") as tmp:
            path = self.workbook or write_workbook(self.case, self.epochs, Path(tmp, "a.xlsx"))
            seconds, limit = self.time_limit()
            values = calc.recalculate(path, seconds, limit=limit)
        have = calc.workbook_epochs(values)
        if have < self.epochs:
            raise calc.CalcError(f"{path}: LibreOffice found {have} epoch sheets, "
                                 f"{self.epochs} were asked for")
        return calc.read_trace(values, self.case.dims, self.epochs)

    def time_limit(self) -> tuple[float, str]:
        """The seconds LibreOffice may take, and what set them: NNPARITY_CALC_TIMEOUT, or what
        is left of the run's --timeout when that is shorter."""
        seconds = calc.calc_timeout()
        left = self.deadline.left() if self.deadline is not None else None
        if left is not None and left < seconds:
            return max(left, 0.0), f"what was left of --timeout {self.deadline.seconds:g}"
        return seconds, calc.LIMIT

    def compare(self, traces: Path) -> dict[str, ParityReport]:
        """Python against the spreadsheet and R against the spreadsheet."""
        sheet = self.recalculate()
        reports = {}
        for language, file in (("Python", "python.npz"), ("R", "r.npz")):
            trace = load_trace(traces / file)
            c = Comparison(self.case, "free", sides=SIDES[language],
                           title=f"free-running: {language} against the spreadsheet (LibreOffice)",
                           bound=policy.spreadsheet_bound,
                           tolerance=policy.describe("spreadsheet"),
                           expected_epochs=self.epochs, rounded_inputs=self.inputs_saved)
            c.add(trace, sheet, self.epochs, self.case.state())
            reports[language] = c.report()
        return reports


def refuse(args, others: str) -> None:
    """--spreadsheet is not checked along with these options: say so rather than skip it."""
    if getattr(args, "spreadsheet", None) is not None:
        raise BadInput(f"--spreadsheet does not combine with {others}: run it on its own")


def prepare(args, case: Case, epochs: int, deadline: Deadline | None = None) -> Spreadsheet | None:
    """None without --spreadsheet; otherwise checks everything it can before the run (exit 2)."""
    if args.spreadsheet is None:
        return None
    if args.mode == "lockstep":
        raise BadInput("--spreadsheet compares free-running traces: use --mode free or both")
    if epochs > MAX_EPOCHS:
        raise BadInput(f"--spreadsheet: {epochs} epochs is more than the {MAX_EPOCHS} a workbook "
                       f"holds (one sheet per epoch); give --epochs N")
    try:
        calc.calc_timeout()
        calc.check_available()
    except calc.CalcUnavailable as error:
        raise BadInput(str(error)) from None
    if args.spreadsheet == "":
        raise BadInput("--spreadsheet: the workbook's path is empty (an unset shell variable?); "
                       "give FILE.xlsx, or --spreadsheet alone for a fresh workbook")
    workbook = None if args.spreadsheet is FRESH else Path(args.spreadsheet)
    if workbook is not None:
        check_workbook(workbook, epochs)
        try:
            differs, saved = read_inputs(workbook, case)
            laid_out = None if differs else epochs_differ(workbook, case, epochs)
        except Exception as error:  # a damaged sheet: a ParseError, a cell openpyxl cannot read
            raise unreadable(workbook, error) from None
        if laid_out:
            raise BadInput(f"{workbook}: {laid_out}")
        if differs:  # compared with languages trained on the case, it could only fail
            raise BadInput(
                f"{workbook}: does not start from {case.name}'s inputs: {differs}; write one "
                f"for this case with nnparity workbook --case {case.name} --epochs {epochs}"
            )
        return Spreadsheet(case, epochs, workbook, inputs_saved=saved, deadline=deadline)
    return Spreadsheet(case, epochs, None, deadline=deadline)


def check_workbook(path: Path, epochs: int) -> None:
    from openpyxl import load_workbook

    if path.is_dir():
        raise BadInput(f"{path}: is a folder, not a workbook; give FILE.xlsx")
    if path.exists() and not path.is_file():
        raise BadInput(f"{path}: is not a regular file (a pipe, a device or a socket), not a "
                       "workbook; give FILE.xlsx")
    if not path.is_file():
        raise BadInput(f"{path}: no such workbook")
    try:
        names = load_workbook(path, read_only=True).sheetnames
    except Exception as error:
        raise unreadable(path, error) from None
    missing = [epoch_sheet(e) for e in range(1, epochs + 1) if epoch_sheet(e) not in names]
    if missing:
        raise BadInput(f"{path}: has no sheet '{missing[0]}' ({epochs} epochs asked for; "
                       "write one with nnparity workbook --epochs N)")


def unreadable(path: Path, error: Exception) -> BadInput:
    said = " ".join(str(error).split()) or type(error).__name__
    return BadInput(f"{path}: not a workbook openpyxl can read ({said})")


@contextmanager
def traces_folder(save_traces: Path | None, sheet: Spreadsheet | None):
    """Where the run saves its traces: --save-traces, or a temporary folder for the spreadsheet."""
    if sheet is None or save_traces is not None:
        yield save_traces
        return
    tmp = Path(tempfile.mkdtemp(prefix="nnparity-traces-"))
    try:
        yield tmp / "traces"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@dataclass
class Judgement:
    """The spreadsheet against both languages: reports by language, or why there are none."""

    reports: dict[str, ParityReport]
    note: str | None  # why the spreadsheet was not compared (R failed, LibreOffice failed)
    line: str  # the verdict, printed last
    sheet_passed: bool
    passed: bool  # the exit code's answer: Python/R and the spreadsheet
    inputs_saved: frozenset[str] = frozenset()  # inputs the workbook holds as LibreOffice saves


def judge(sheet: Spreadsheet, run, traces: Path) -> Judgement:
    """Compare the spreadsheet with the run's traces in `traces` (their staging folder: they
    move into place with the run's other outputs once everything is written). Prints nothing."""
    reports, note = {}, None
    if not (traces / "r.npz").is_file():  # R failed while training: its comparison says why
        note = "R did not finish training, so there is no R trace to compare with"
    else:
        try:
            reports = sheet.compare(traces)
        except calc.CalcError as error:
            note = f"LibreOffice failed: {error}"
    sheet_passed = note is None and all(r.passed for r in reports.values())
    return Judgement(reports, note, verdict(sheet, run, reports, note), sheet_passed,
                     run.passed and sheet_passed, sheet.inputs_saved)


def show(judged: Judgement, run, args, console: Console, saved_stats=None) -> None:
    """Print the run and all three comparisons (tables or JSON)."""
    if args.save_traces is None:
        run.saved = []  # the temporary traces are not the user's
    reports, line, passed = judged.reports, judged.line, judged.passed
    if args.json:  # the run's own JSON (and --save-stats), with the spreadsheet's added
        record = Console(file=io.StringIO(), record=True, width=1000, emoji=False)
        show_run(run, record, True, saved_stats)
        out = json.loads(record.export_text(styles=False))
        out["passed"] = passed  # the exit code's answer: Python/R and the spreadsheet
        # the verdict printed last, on all three: Python/R's alone can hold while this fails
        out["run_verdict"], out["verdict"] = out["verdict"], line
        out["spreadsheet"] = {
            "passed": judged.sheet_passed, "verdict": line, "problem": judged.note,
            "inputs_saved_by_libreoffice": sorted(judged.inputs_saved),
            "comparisons": {f"{k}-spreadsheet": as_json_report(r) for k, r in reports.items()},
        }
        console.print_json(json.dumps(out))
        return
    show_run(run, console, False, saved_stats)
    console.print()
    for report in reports.values():
        console.print(table(report))
        console.print(story(report), highlight=False, markup=False, soft_wrap=True)
        console.print()
    style = "bold green" if passed else "bold red"
    console.print(line, style=style, highlight=False, markup=False, soft_wrap=True)


def verdict(sheet: Spreadsheet, run, reports: dict[str, ParityReport], note: str | None) -> str:
    name = sheet.case.name
    which = "the workbook " + str(sheet.workbook) if sheet.workbook else "the spreadsheet"
    if sheet.inputs_saved:
        which += f" ({SAVED_INPUTS})"
    if note:
        return f"SPREADSHEET NOT CHECKED: {name}: {note}"
    if all(r.passed for r in reports.values()):
        if run.passed:
            return (f"SPREADSHEET PARITY HOLDS: {name}, {which} = Python = R at every step of "
                    f"every epoch ({sheet.epochs}); Python and R agree")
        return (f"SPREADSHEET PARITY HOLDS: {name}, {which} agrees with Python and with R, each "
                f"within the spreadsheet's bound, at every step of every epoch "
                f"({sheet.epochs}); but Python and R do NOT pass their own check (above)")
    first = [(lang, r.first_violation) for lang, r in reports.items() if not r.passed]
    where = "; ".join(f"{lang}: {c.where()}" if c else f"{lang}: {r_problem(reports[lang])}"
                      for lang, c in first)
    return f"SPREADSHEET PARITY FAILS: {name}, {which} against {where}"


def r_problem(report: ParityReport) -> str:
    return (report.problems or [report.error or "see above"])[0]


def as_json_report(report: ParityReport) -> dict:
    first = report.first_violation
    return {
        "passed": report.passed, "tolerance": report.tolerance, "sides": list(report.sides),
        "first_violation": None if first is None else {
            "epoch": first.epoch, "step": first.step, "matrix": first.name, "row": first.row,
            "col": first.col, "values": [first.python, first.r], "abs_diff": first.abs_diff,
        },
        "steps": [{"step": s.step, "matrix": s.name, "cells": s.cells, "bitwise_equal": s.equal,
                   "max_abs": s.max_abs, "beyond_bound": s.violations} for s in report.stats],
    }

