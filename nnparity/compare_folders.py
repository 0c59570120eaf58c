"""`nnparity compare A B`: two saved trace folders, compared without running any port.

The way to keep a golden trace and check a new environment against it: the
same port on two machines, under two BLAS, or two versions of the code. Each
language present in both folders is compared matrix by matrix, every epoch,
with the tables and the bound of the free-running comparison (A in the place
of Python, B in the place of R), and the message says which environment made
each folder (the fingerprint ``nnparity run --save-traces`` saved in
trace.json).

Exit codes as for ``run``: 0 every cell of every epoch compared and within the
bound, 1 a cell beyond it, 2 bad input (a missing folder, a folder that is not a
trace folder or that its trace.json does not describe (tracefolder.open_folder),
traces of different cases, or of different names or shapes).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rich.console import Console
from rich.text import Text

from . import steps, traces
from .command import FAILS, OK, BadInput, write_out
from .compare import Cell, Comparison, ParityReport, describe_value
from .tracefolder import TraceFolder, TraceFolderError, open_folder, shape_text
from .verdict import sameness, signed_zeros

MODE = "free"  # two trainings, each on its own: the free-running bound


def check_comparable(a: TraceFolder, b: TraceFolder) -> list[str]:
    """The languages both folders hold; TraceFolderError when they cannot be compared."""
    if not np.array_equal(_case_key(a), _case_key(b)) or a.case.lr != b.case.lr:
        raise TraceFolderError(
            f"{a.path} ({a.case.name}) and {b.path} ({b.case.name}) start from different cases: "
            "compare traces of the same case"
        )
    common = [language for language in a.languages if language in b.languages]
    if not common:
        raise TraceFolderError(
            f"{a.path} holds {_files(a)}, {b.path} holds {_files(b)}: no trace in common"
        )
    for language in common:
        x, y = a.arrays(language), b.arrays(language)
        if sorted(x) != sorted(y):
            only_a, only_b = sorted(set(x) - set(y)), sorted(set(y) - set(x))
            raise TraceFolderError(
                f"{language}.npz: the matrices differ: "
                f"only in {a.path}: {', '.join(only_a) or 'none'}; "
                f"only in {b.path}: {', '.join(only_b) or 'none'}"
            )
        for name in x:
            if x[name].shape != y[name].shape:
                raise TraceFolderError(
                    f"{language}.npz: {name} is {shape_text(x[name].shape)} in {a.path} "
                    f"and {shape_text(y[name].shape)} in {b.path}"
                )
    return common


def _case_key(folder: TraceFolder) -> np.ndarray:
    return np.concatenate(
        [m.ravel() for m in folder.case.matrices().values()] + [np.array(folder.case.dims, float)]
    )


def _files(folder: TraceFolder) -> str:
    return ", ".join(f"{language}.npz" for language in folder.languages)


def compare(
    a: TraceFolder, b: TraceFolder, language: str, chunk_bytes: int = traces.CHUNK_BYTES
) -> ParityReport:
    """Compare one language's trace in A with the same in B, chunk by chunk of epochs.

    The weights a step starts from (its inputs, for the bound) are A's: the
    case's for the first epoch, then A's update of the epoch before.
    """
    x, y = a.arrays(language), b.arrays(language)
    epochs = a.epochs
    comparison = Comparison(a.case, MODE, expected_epochs=epochs)  # fewer compared: not passed
    per_epoch = sum(int(np.prod(v.shape[1:])) * 8 for v in x.values())
    done = 0
    for size in traces.chunks(epochs, per_epoch, chunk_bytes):
        window = slice(done, done + size)
        start = (
            a.case.state()
            if done == 0
            else {name: np.asarray(x[name][done - 1]) for name in steps.STATE if name in x}
        )
        comparison.add(
            {name: np.asarray(v[window]) for name, v in x.items()},
            {name: np.asarray(v[window]) for name, v in y.items()},
            size,
            start,
        )
        done += size
    return comparison.report()


def environment_differences(a: dict, b: dict) -> list[str]:
    """Each fingerprint entry whose value differs between A and B, with both values."""
    keys = list(a) + [key for key in b if key not in a]
    return [
        f"{key} (A: {a.get(key, 'not recorded')}; B: {b.get(key, 'not recorded')})"
        for key in keys
        if a.get(key) != b.get(key)
    ]


def describe_cell(cell: Cell) -> str:
    return (
        f"{cell.where()}: A {describe_value(cell.python)}, B {describe_value(cell.r)} "
        f"(difference {cell.abs_diff:.3g}, {cell.ulps:.0f} ULP; allowed {cell.bound:.3g})"
    )


def summary(language: str, report: ParityReport) -> list[str]:
    """Where A and B first differ, and the first cell beyond the bound."""
    lines = [f"{language}.npz: " + ("within the bound" if report.passed else "BEYOND THE BOUND")]
    lines += [f"  structural problem at {problem}" for problem in report.problems]
    if report.error:
        lines.append(f"  not complete: {report.error}")
    if report.first_difference is None and report.passed:
        lines.append("  bitwise equal: every cell of every epoch" if not signed_zeros(report)
                     else f"  {sameness(report, ' in every cell of every epoch')}")
    elif report.first_difference is not None:
        lines.append(f"  first difference: {describe_cell(report.first_difference)}")
    if report.first_violation is not None:
        failing = ", ".join(f"{s.step} ({s.name})" for s in report.stats if s.violations)
        lines.append(f"  first cell beyond the bound: {describe_cell(report.first_violation)}")
        lines.append(f"  steps with cells beyond the bound: {failing}")
    return lines


def print_comparison(
    a: TraceFolder, b: TraceFolder, reports: dict[str, ParityReport], console: Console
) -> None:
    from .report import table  # rich tables, as `nnparity run` prints them

    def say(text: str, **style) -> None:
        console.print(text, highlight=False, markup=False, soft_wrap=True, **style)

    for label, folder in (("A", a), ("B", b)):
        epochs = folder.epochs
        environment = (
            "; ".join(f"{key} {value}" for key, value in folder.environment.items())
            or "not recorded"
        )
        say(f"{label}: {folder.path} ({folder.case.name}, {epochs} epochs), made by: {environment}")
    differences = environment_differences(a.environment, b.environment)
    say(
        "the environments differ in: " + "; ".join(differences)
        if differences
        else "the environments are the same"
    )
    console.print()
    for language, report in reports.items():
        t = table(report)
        t.title = Text(f"{language}.npz, {report.case}, {report.epochs} epochs: A against B")
        t.caption = (
            "equal: share of cells bitwise equal; over: cells beyond the bound.\n"
            f"bound (free-running, A's values against B's): {report.tolerance}"
        )
        console.print(t)
        say("\n".join(summary(language, report)))
        console.print()
    passed = all(report.passed for report in reports.values())
    equal = [
        language
        for language, report in reports.items()
        if report.first_difference is None and report.passed
    ]
    verdict = "A AND B AGREE within the bound" if passed else "A AND B DIFFER beyond the bound"
    detail = ", ".join(
        f"{language}.npz "
        + (("equal in value" if signed_zeros(r) else "bitwise equal") if language in equal
           else "within" if r.passed else "beyond")
        for language, r in reports.items()
    )
    for label, folder, other in (("A", a, b), ("B", b, a)):  # compared only where both have it
        alone = [language for language in folder.languages if language not in other.languages]
        if alone:
            detail += "; not compared: " + ", ".join(
                f"{language}.npz (only {label} holds one)" for language in alone)
    say("saved traces hold steps 2 to 11 of every epoch; what train() was handed and returned "
        "(steps 0, 1 and 12) is checked by `nnparity run` only")
    say(f"{verdict}: {detail}", style="bold green" if passed else "bold red")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "compare",
        help="compare two saved trace folders (--save-traces) under the free-running bound, "
        "without running any port",
    )
    p.add_argument(
        "a",
        type=Path,
        metavar="A",
        help="a folder written by `nnparity run --save-traces` (the reference)",
    )
    p.add_argument(
        "b", type=Path, metavar="B", help="another such folder, of the same case and epochs"
    )
    p.set_defaults(handler=command_compare)


def command_compare(args, console: Console, err: Console) -> int:
    try:
        a, b = open_folder(args.a), open_folder(args.b)
        languages = check_comparable(a, b)
    except TraceFolderError as error:
        raise BadInput(str(error)) from None
    reports = {language: compare(a, b, language) for language in languages}
    write_out(console, err, lambda: print_comparison(a, b, reports, console))
    return OK if all(report.passed for report in reports.values()) else FAILS
