"""Reports for people (a rich table, a plain-text failure story) and machines (JSON)."""

from __future__ import annotations

import math

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from . import stats as tidy
from .compare import ParityReport, describe_value, first_failure
from .failed_run import in_order
from .fingerprint import fingerprint, one_line
from .missing import json_number
from .traces import Run
from .verdict import sameness

MODE_TITLES = {
    "free": "free-running: each language trains on its own from the same start",
    "lockstep": "lockstep: R recomputes every step from Python's inputs of that step",
}


def _num(x: float) -> str:
    if x == 0:
        return "0"
    if math.isinf(x):
        return "inf"
    return f"{x:.1e}"


def figures(step, summary=None):
    """One matrix's figures over every epoch: its row of ``summary`` (``nnparity.stats.summary``
    of a statistics table, one read from a file) when given, else its comparison's totals
    (StepStats): the same numbers (parity_tests/test_stats.py holds them equal), without
    building the table: a run that prints its result needs neither pandas (0.3 s of CPU to
    import) nor the table."""
    if summary is not None:
        return summary.loc[step.name]
    return {
        "cells": step.cells,
        "equal": step.equal,
        "equal_share": step.equal / step.cells if step.cells else 0.0,
        "max_abs": step.max_abs,
        "max_rel": step.max_rel,
        "max_ulp": step.max_ulp,
        "over": step.violations,
    }


def shown_figures(f) -> tuple[str, str, str, str]:
    """A matrix's equal share, max abs, max rel and max ULP as the tables show them (the
    terminal's and the HTML report's)."""
    ulp = f"{f['max_ulp']:.0f}" if f["max_ulp"] < 1e6 else _num(f["max_ulp"])
    return share_text(f["equal_share"]), _num(f["max_abs"]), _num(f["max_rel"]), ulp


def share_text(share: float) -> str:
    """A share as a percentage to one decimal that never reads as all or none unless it is:
    1 cell in 10,000 unequal is '>99.9%', not '100.0%'; 1 equal in 10,000, '<0.1%'."""
    text = f"{100 * share:.1f}%"
    if text == "100.0%" and share < 1:
        return ">99.9%"
    if text == "0.0%" and share > 0:
        return "<0.1%"
    return text


def table(report: ParityReport, summary=None) -> Table:
    """One row per recorded matrix; fits an 80-column terminal.

    The figures come from ``summary`` (``nnparity.stats.summary`` of a statistics
    table) when given, else from the comparison's totals (``figures``).
    """
    t = Table(
        # Text, not markup: a case folder named "[red]" is a name, not a style
        title=Text(
            f"{report.case}, {report.epochs} epochs, {report.title or MODE_TITLES[report.mode]}"
        ),
        title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True,
    )
    t.add_column("step", justify="right", no_wrap=True)
    t.add_column("matrix", no_wrap=True)
    t.add_column("equal", justify="right", no_wrap=True)
    for header in ("max abs", "max rel", "max ULP"):
        t.add_column(header, justify="right", no_wrap=True, min_width=7)
    t.add_column("over", justify="right", no_wrap=True)
    for s in report.shown:
        if s.problem:
            t.add_row(str(s.step), s.name, "", "", "", "", "[red]FAIL[/red]")
            continue
        if s.not_computed:
            t.add_row(str(s.step), s.name, "", "", "", "", "not computed")
            continue
        if s.not_compared:
            t.add_row(str(s.step), s.name, "", "", "", "", "[red]not compared[/red]")
            continue
        f = figures(s, summary)
        over = int(f["over"])
        over = "[green]0 ok[/green]" if over == 0 else f"[red]{over:,} FAIL[/red]"
        t.add_row(str(s.step), s.name, *shown_figures(f), over)
    once = "" if len(report.shown) == len(report.stats) else (
        "steps 0, 1 and 12 (what train() was handed and returned): listed where they fail.\n"
    )
    t.caption = (
        "equal: share of cells bitwise equal; over: cells beyond the bound.\n"
        f"{once}bound: {report.tolerance}"
    )
    t.caption_justify = "left"
    return t


NA_IS_NOT_NAN = (
    "R's NA is not NaN: NA (NA_real_) marks a missing value, NaN an undefined result such as 0 * "
    "Inf; "
    "parity needs the same one in the same cells"
)


def non_finite_origin(report: ParityReport) -> str:
    """Where each language first produced a NaN, NA or Inf (epoch, step, cell)."""
    return "; ".join(
        report.non_finite[language].describe()
        if language in report.non_finite
        else f"{language} produced none"
        for language in report.sides
    )


def story(report: ParityReport) -> str:
    """What a stranger needs to find the bug: where it starts, both values, what kind."""
    compared = (
        f"{report.epochs} epochs" if report.asked in (None, report.epochs)
        else f"{report.epochs} of {report.asked} epochs compared"  # a port stopped early
    )
    lines = [
        f"{report.case} ({report.mode}, {compared}): "
        + ("parity holds" if report.complete else
           "PARITY NOT SHOWN" if report.passed else "PARITY FAILS")  # steps left out
    ]
    if report.error:
        lines.append(f"  this comparison could not be completed: {report.error}")
    for problem in report.problems:
        lines.append(f"  structural problem at {problem}")
    for note in report.notes:
        lines.append(f"  note at {note}")
    for missing in report.not_computed:
        lines.append(f"  {missing}")
    first = report.first_violation
    if first is not None:
        failing = [f"{s.step} ({s.name})" for s in report.shown if s.violations]
        lines.append(f"  first cell beyond the bound: {first.where()}: {first.values()}")
        lines.append(f"  steps with cells beyond the bound: {', '.join(failing)}")
        if math.isnan(first.python) and math.isnan(
            first.r
        ):  # both NaN, yet different: one is R's NA
            lines.append(f"  {NA_IS_NOT_NAN}")
    if report.non_finite:
        lines.append(f"  NaN, NA or Inf first appeared: {non_finite_origin(report)}")
    if report.mode == "free" and report.first_difference is not None:
        lines.append(f"  first difference {report.first_difference.origin()}")
    elif report.mode == "free" and report.epochs and not report.error and not report.problems:
        computed = " in every matrix both sides compute" if report.not_computed else ""
        lines.append(f"  the two traces are {sameness(report, computed)}")
    lines += [f"  {remark}" for remark in report.remarks]
    return "\n".join(lines)


def determinism_lines(run: Run) -> list[str]:
    """A line for each port that did not give the same bits twice (a failed port: elsewhere)."""
    errors = {report.error for report in run.reports.values() if report.error}
    lines = [f"run to run: {d.describe()}" for d in run.determinism.values()
             if (d.same_bits is False or d.breaks_free_running or d.error)
             and not any(d.error and d.error in e or d.describe() in e for e in errors)]
    # (else a mode's error says it)
    note = run.calls_note() if run.determinism else None  # ports, not a script's one pass
    return lines + ([f"calls: {note}"] if note else [])


def verdict(run: Run) -> str:
    if run.passed:
        modes = ", ".join(run.reports)
        epochs = f"of every epoch ({run.epochs})"
        return f"PARITY HOLDS: {run.case.name}, every step {epochs}, modes: {modes}"
    failing = [mode for mode, report in run.reports.items() if not report.complete]
    if not failing and run.failed_trainings:  # every step held, but a train() failed
        return f"PARITY FAILS: {run.case.name}: {run.failed_trainings[0]}"
    if all(report.passed for report in run.reports.values()):  # held, where it compared
        unchecked = list(dict.fromkeys(
            s.name for report in run.reports.values() for s in (*report.once, *report.stats)
            if s.not_computed))
        return (f"PARITY NOT SHOWN: {run.case.name}, {', '.join(failing)}: not compared: "
                f"{', '.join(unchecked)} (not recorded or not computed; every step compared "
                "holds)")
    failing = [mode for mode, report in run.reports.items() if not report.passed]
    first = first_failure(run.reports.values())  # the first cause: a cell, or the shapes
    errors = [report.error for report in run.reports.values() if report.error]
    where = f" First: {first.where()}." if first else (f" First: {errors[0]}" if errors else "")
    return f"PARITY FAILS: {run.case.name}, {', '.join(failing)}.{where}"


def print_run(run: Run, console: Console | None = None, stats=None) -> None:
    """The tables, stories and verdict; figures from ``stats``, a statistics table, if given."""
    console = console or Console(emoji=False)
    for mode, report in run.reports.items():
        console.print(table(report, None if stats is None else tidy.summary(stats, mode)))
        console.print(
            story(report), highlight=False, markup=False, soft_wrap=True
        )  # long lines wrap in the terminal, not mid-message
        console.print()
    for line in determinism_lines(run):
        console.print(line, style="yellow", highlight=False, markup=False, soft_wrap=True)
    style = "bold green" if run.passed else "bold red"
    console.print(verdict(run), style=style, highlight=False, markup=False, soft_wrap=True)
    if not run.passed:
        console.print(
            f"environment: {one_line(fingerprint(run.environment))}",
            highlight=False, markup=False, soft_wrap=True,
        )
    for path in run.saved:
        console.print(f"trace saved: {path}", highlight=False, markup=False, soft_wrap=True)


#: The sides of a cell of the two languages: its values are also given as "python" and "r".
LANGUAGES = ("Python", "R")


def _cell(cell) -> dict | None:
    """A cell for --json: ``values`` in the order of ``sides``, what they come from (the two
    languages, or a port's train() against itself); ``python`` and ``r`` only for a cell of
    the two languages, else null."""
    if cell is None:
        return None
    values = [json_number(cell.python), json_number(cell.r)]
    languages = tuple(cell.sides) == LANGUAGES
    return {
        "epoch": cell.epoch,
        "step": cell.step,
        "matrix": cell.name,
        "row": cell.row,
        "col": cell.col,
        "sides": list(cell.sides),
        "values": values,
        "python": values[0] if languages else None,
        "r": values[1] if languages else None,
        "abs_diff": json_number(cell.abs_diff),
        "ulps": json_number(cell.ulps),
        "allowed": json_number(cell.bound),
    }


def stage_stats(run: Run, path):
    """--save-stats written beside its target, to be moved in with the run's other outputs
    (``commit``) or dropped (``abort``); None when there is nothing to write. A file that
    cannot be written is bad input (exit code 2)."""
    from .command import bad_input

    if path is None:
        return None
    with bad_input():
        return tidy.stage(tidy.table(run.reports), path)


def show_run(run: Run, console: Console, as_json_output: bool = False, saved_stats=None) -> None:
    """What `nnparity run` prints (tables or JSON); ``saved_stats``, the statistics file
    written with the run's outputs (``stage_stats``), is named in it."""
    import json

    if as_json_output:
        console.print_json(json.dumps(as_json(run, saved_stats=saved_stats)))
        return
    print_run(run, console)
    if saved_stats is not None:
        compared = any(not s.not_compared for r in run.reports.values() for s in r.stats)
        empty = "" if compared else " (no rows: nothing was compared)"
        console.print(
            f"statistics saved: {saved_stats}{empty}", highlight=False, markup=False,
            soft_wrap=True,
        )


def _step_json(s, f) -> dict:
    """One step's figures (a row of the statistics summary) and verdict."""
    return {
        "step": s.step,
        "matrix": s.name,
        "cells": int(f["cells"]),
        "bitwise_equal": int(f["equal"]),
        "max_abs": json_number(f["max_abs"]),
        "max_rel": json_number(f["max_rel"]),
        "max_ulp": json_number(f["max_ulp"]),
        "beyond_bound": int(f["over"]),
        "compared": not s.not_compared,
        "passed": s.passed and not s.not_compared and not s.not_computed,
        "problem": s.problem,
        "not_computed": s.not_computed,
    }




def as_json(run: Run, stats=None, saved_stats=None) -> dict:
    """The run for machines; per-step figures from ``stats``, a statistics table, if given
    (else from the comparison's totals, ``figures``); ``saved_stats``: the file written."""
    out = {
        "case": run.case.name,
        "epochs": run.epochs,
        "passed": run.passed,
        "verdict": verdict(run),
        "environment": fingerprint(run.environment),
        "saved_traces": [str(p) for p in run.saved],
        "saved_stats": None if saved_stats is None else str(saved_stats),
        "calls": run.calls,  # epochs of each call of a port's train()
        "modes": {},
        "modes_asked": list(run.reports),  # a run that reached its verdict compared each
        "error": None,  # a run without a verdict: failed_run.failed_run_json
    }
    out["determinism"] = {language: d.as_json() for language, d in run.determinism.items()}
    for mode, report in run.reports.items():
        first = report.first_difference
        summary = None if stats is None else tidy.summary(stats, mode)
        out["modes"][mode] = {
            "passed": report.complete,  # within the bound, every step compared
            "error": report.error,
            "remarks": report.remarks,
            "tolerance": report.tolerance,
            "first_violation": _cell(report.first_violation),
            "first_difference": _cell(first),
            "first_difference_is_rounding": first.is_rounding
            if (first and mode == "free")
            else None,
            "first_non_finite": {
                language: (
                    {
                        "epoch": c.epoch,
                        "step": c.step,
                        "matrix": c.name,
                        "row": c.row,
                        "col": c.col,
                        "value": describe_value(c.value),
                    }
                    if (c := report.non_finite.get(language))
                    else None
                )
                for language in ("Python", "R")
            },
            "steps": [_step_json(s, figures(s, summary)) for s in report.shown],
        }
    return in_order(out)
