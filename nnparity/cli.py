"""nnparity's command line.

Exit codes: 0 parity holds, 1 parity does not hold (including a port that
fails while it runs), 2 bad input (a case, a path, a port that does not load,
no R).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from . import (
    compare_folders,
    doctor,
    explain,
    html_report,
    scripts,
    spreadsheet,
    stats,
    traces,
    workbook,
)
from .bridge import PortError, RPort
from .cases import load_case, parse_epochs
from .command import BAD_INPUT, FAILS, OK, BadInput, add_case_option, bad_input
from .paths import R_VARIANTS
from .ports import PythonPort
from .report import show_run


def r_variants() -> list[str]:
    """The folders of r_impl/variants/: R ports kept beside r_impl, such as the article's own R."""
    return sorted(p.name for p in R_VARIANTS.iterdir() if p.is_dir()) if R_VARIANTS.is_dir() else []


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nnparity", description="Prove that a Python and an R network compute the same thing, step by step.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="train both ports on a case and compare every step of every epoch")
    add_case_option(run)
    run.add_argument("--epochs", help="epochs to train (default: the case's)")
    run.add_argument("--mode", choices=("free", "lockstep", "both"), default="both", help="which comparison (default: both)")
    run.add_argument("--save-traces", type=Path, metavar="DIR", help="write python.npz and r.npz (matrix name -> array[epochs, rows, cols])")
    r_port = run.add_mutually_exclusive_group()
    r_port.add_argument("--r-impl", type=Path, metavar="PATH", help="an R file or folder to run in place of r_impl/")
    r_port.add_argument(
        "--r-variant", choices=r_variants(), metavar="NAME",
        help=f"a variant of r_impl from r_impl/variants/ (one of: {', '.join(r_variants()) or 'none'}); "
        "'article' is the article's own R, which must fail",
    )
    run.add_argument("--python-impl", type=Path, metavar="PATH", help="a Python file or package to run in place of python_impl/")
    run.add_argument("--json", action="store_true", help="print the result as JSON instead of tables")
    scripts.add_run_options(run, r_port)  # --r-script, --python-script, --names
    run.add_argument(
        "--save-stats", type=Path, metavar="FILE",
        help="write the statistics, one row per mode, epoch and matrix: CSV, "
        "or Parquet for a name ending in .parquet",
    )
    spreadsheet.add_arguments(run)
    run.set_defaults(handler=command_run)
    # Further commands register here: each module adds its subparser and sets handler=function(args, console, err) -> exit code.
    explain.add_parser(sub)
    html_report.add_parser(sub)
    compare_folders.add_parser(sub)
    doctor.add_parser(sub)
    workbook.add_parser(sub)
    return parser


def command_run(args, console: Console, err: Console) -> int:
    if scripts.wanted(args):  # a learner's script on either side: free-running, one chunk
        spreadsheet.refuse(args, "--r-script or --python-script")
        return scripts.command_run(args, console, err)
    with bad_input():
        case = load_case(args.case)
        epochs = parse_epochs("--epochs", args.epochs) if args.epochs is not None else case.epochs
        python_port = PythonPort(args.python_impl)
        r_port = RPort(R_VARIANTS / args.r_variant if args.r_variant else args.r_impl)
        if args.save_stats is not None:  # before the run, not after it: a bad name costs nothing
            stats.check_target(args.save_stats, args.save_traces)
        sheet = spreadsheet.prepare(args, case, epochs)  # None without --spreadsheet
    modes = traces.MODES if args.mode == "both" else (args.mode,)
    progress = Progress(
        TextColumn(f"{case.name}"), BarColumn(), MofNCompleteColumn(), TextColumn("epochs"), TimeElapsedColumn(),
        console=err, transient=True, disable=args.json or not err.is_terminal,
    )
    with spreadsheet.traces_folder(args.save_traces, sheet) as save_traces, progress:
        task = progress.add_task("run", total=epochs)
        result = traces.run(
            case, python_port, r_port, epochs, modes, save_traces,
            progress=lambda n: progress.advance(task, n),
            full_bounds=args.save_stats is not None,  # the file's bound column in every row
        )
        if sheet is not None:  # the spreadsheet as a third implementation, from the saved traces
            return spreadsheet.finish(sheet, result, save_traces, args, console)
    show_run(result, console, args.json, args.save_stats)
    return OK if result.passed else FAILS


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console, err = Console(), Console(stderr=True, soft_wrap=True)  # an error is one line, never wrapped
    try:
        return args.handler(args, console, err)
    except BadInput as error:
        err.print(f"nnparity: {error}", highlight=False, markup=False)
        return BAD_INPUT
    except PortError as error:  # a port failed while it ran
        err.print(f"nnparity: {error}", highlight=False, markup=False)
        return FAILS

