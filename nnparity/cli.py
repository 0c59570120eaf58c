"""nnparity's command line.

Exit codes: 0 parity holds, 1 parity does not hold (including a port that
fails while it runs), 2 bad input (a case, a path, a port that does not load,
no R).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import threading
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from . import command, installation, scripts, signals, spreadsheet, stats, supervise, traces
from .atomic import OutputError
from .cases import load_case
from .command import (
    BAD_INPUT,
    FAILS,
    OK,
    BadInput,
    add_case_option,
    add_timeout_option,
    bad_input,
    parse_epochs_option,
    parse_timeout,
    write_out,
)
from .failed_run import failed_run_json, json_asked, print_failed_run
from .oneline import one_line
from .paths import R_VARIANTS
from .port import PortError
from .report import show_run, stage_stats
from .spawn import WorkerStartError


def r_variants() -> list[str]:
    """The folders of r_impl/variants/: R ports kept beside r_impl, such as the article's own R."""
    return sorted(p.name for p in R_VARIANTS.iterdir() if p.is_dir()) if R_VARIANTS.is_dir() else []


#: The other commands: name -> the module that adds its subparser (add_parser) and sets
#: handler=function(args, console, err) -> exit code. Imported only when asked for: a run
#: needs none of them (their imports, 40 ms of a run's start, docs/benchmarks.md).
COMMANDS = {
    "explain": "explain",
    "report": "html_report",
    "compare": "compare_folders",
    "doctor": "doctor",
    "workbook": "workbook",
}


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The command line's parser; with `argv`, only the command it names (all of them when
    it names none, or asks for the list)."""
    json_document = argv is not None and json_asked(argv)

    class Parser(argparse.ArgumentParser):
        """argparse's; with `run --json`, a mistake in the command line (an unknown option,
        `--mode` with another word) is `run --json`'s document on stdout too, beside
        argparse's usage and exit code 2 on stderr."""

        def error(self, message: str):
            if json_document:
                print_failed_run(argv, BAD_INPUT, f"{self.prog}: {message}")
            super().error(message)

    parser = Parser(
        prog="nnparity",
        description="Prove that a Python and an R network compute the same thing, step by step.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    command = next((a for a in argv if not a.startswith("-")), None) if argv else None
    if command not in (*COMMANDS, "run"):
        command = None
    if command in (None, "run"):
        add_run_parser(sub)
    for name, module in COMMANDS.items():
        if command in (None, name):
            importlib.import_module(f".{module}", __package__).add_parser(sub)
    return parser


def add_run_parser(sub) -> None:
    """`nnparity run` and its options."""
    run = sub.add_parser(
        "run", help="train both ports on a case and compare every step of every epoch"
    )
    add_case_option(run)
    run.add_argument("--epochs", help="epochs to train (default: the case's)")
    run.add_argument(
        "--mode",
        choices=("free", "lockstep", "both"),
        help="which comparison (default: both; free for a script)",
    )
    run.add_argument(
        "--save-traces",
        type=Path,
        metavar="DIR",
        help="write python.npz and r.npz (matrix name -> array[epochs, rows, cols])",
    )
    r_port = run.add_mutually_exclusive_group()
    r_port.add_argument(
        "--r-impl", type=Path, metavar="PATH", help="an R file or folder to run in place of r_impl/"
    )
    r_port.add_argument(
        "--r-variant",
        choices=r_variants(),
        metavar="NAME",
        help="a variant of r_impl from r_impl/variants/ "
        f"(one of: {', '.join(r_variants()) or 'none'}); "
        "'article' is the article's own R, which must fail",
    )
    run.add_argument(
        "--python-impl",
        type=Path,
        metavar="PATH",
        help="a Python file or package to run in place of python_impl/",
    )
    run.add_argument(
        "--json", action="store_true", help="print the result as JSON instead of tables"
    )
    scripts.add_run_options(run, r_port)  # --r-script, --python-script, --names
    add_timeout_option(run)
    run.add_argument(
        "--save-stats",
        type=Path,
        metavar="FILE",
        help="write the statistics, one row per mode, epoch and matrix: CSV, "
        "or Parquet for a name ending in .parquet",
    )
    spreadsheet.add_arguments(run)
    run.set_defaults(handler=command_run)


def command_run(args, console: Console, err: Console) -> int:
    script = scripts.wanted(args)  # a learner's script on either side: free-running, one chunk
    mode = args.mode or "both"
    modes = ("free",) if script else traces.MODES if mode == "both" else (mode,)
    known = args.known = {"modes_asked": list(modes)}  # for --json if the run fails (main)
    with bad_input():
        sides = scripts.sides(args)
        if script:
            spreadsheet.refuse(args, "--r-script or --python-script")
        deadline = supervise.Deadline(parse_timeout(args.timeout))
    # The ports load (R's worker sources them) while the case is read and checked: R's worker
    # is ready before the case is (its start, 0.44 s, against the supervisor's imports and
    # the scale case's reading), and waited for the request to load (docs/benchmarks.md).
    # A port's output while it loads is shown only once the run waits for it, after the
    # case's checks: a bad case is still the one message.
    with supervise.Supervisor(deadline) as ports:
        python_port, r_port = ports.port(*sides[0]), ports.port(*sides[1])
        with bad_input():  # everything the run needs is checked before the ports train
            case = load_case(args.case)
            known["case"] = case.name
            epochs = (
                parse_epochs_option("--epochs", args.epochs) if args.epochs is not None
                else case.epochs
            )
            known["epochs"] = epochs
            if args.save_stats is not None:  # before the run, not after: a bad name costs nothing
                stats.check_target(args.save_stats, args.save_traces)
            sheet = spreadsheet.prepare(args, case, epochs, deadline)  # None without --spreadsheet
        with spreadsheet.traces_folder(args.save_traces, sheet) as save_traces:
            with bad_input():
                folder = (
                    traces.TraceOutput(save_traces, case, epochs, modes) if save_traces else None
                )
            # lockstep beside R's own training, in a second worker of the same R port
            twin = (
                ports.port(*sides[1], quiet_load=True)
                if traces.lockstep_worker(case, epochs, modes) else None
            )
            result = supervised_run(
                args, err, case, epochs, modes, folder, python_port, r_port, twin
            )
            ports.let_go()  # the workers end while the verdict is written; leaving waits for them
            try:
                if script:
                    scripts.remark(result, python_port, r_port)
                # the spreadsheet, a third implementation, against the traces still staged
                judged = spreadsheet.judge(sheet, result, folder.output.staging) if sheet else None
                staged_stats = stage_stats(result, args.save_stats)
            except BaseException:  # a signal, a full disk: the earlier outputs stay as they were
                if folder is not None:
                    folder.abort()
                raise
            # from here the run completes: its outputs move in and its result is printed
            # (whatever happens to stdout, the outputs are in place)
            with signals.finishing():
                commit_outputs(folder, staged_stats)
                if judged is not None:
                    write_out(console, err, lambda: spreadsheet.show(
                        judged, result, args, console, args.save_stats))
                else:
                    write_out(
                        console, err, lambda: show_run(result, console, args.json, args.save_stats)
                    )
                known["written"] = True
                return OK if (judged or result).passed else FAILS


def commit_outputs(traces_folder, staged_stats) -> None:
    """Move a run's outputs into place together, once each is written beside its target: one
    that could not be written (a full disk) has left the other's earlier version as it was."""
    try:
        if traces_folder is not None:
            traces_folder.move()
    except BaseException:
        if staged_stats is not None:
            staged_stats.abort()
        raise
    if staged_stats is not None:
        with bad_input():
            staged_stats.commit()


def supervised_run(args, err: Console, case, epochs, modes, folder, python_port, r_port,
                   lockstep_port=None):
    """The run itself, once its ports' workers are started: a progress bar on a terminal."""
    with bad_input():
        python_port.wait_loaded()
        r_port.wait_loaded()
    if args.save_stats is not None:
        # The statistics file is written from a pandas table: import pandas while the ports
        # train (the supervisor mostly waits), not after them (0.5 s), nor while they start:
        # the workers' start-up wants both cores (docs/benchmarks.md).
        threading.Thread(target=import_quietly, args=("pandas",), daemon=True).start()
    progress = Progress(
        TextColumn(f"{case.name}"), BarColumn(), MofNCompleteColumn(), TextColumn("epochs"),
        TimeElapsedColumn(), console=err, transient=True,
        disable=args.json or not err.is_terminal,
    )
    with progress:
        task = progress.add_task("run", total=epochs)
        return traces.run(
            case, python_port, r_port, epochs, modes, folder,
            progress=lambda n: progress.advance(task, n),
            environment=r_port.environment,
            chunk_bytes=2**62 if scripts.wanted(args) else traces.CHUNK_BYTES,  # a script: once
            full_bounds=args.save_stats is not None,  # the file's bound column in every row
            lockstep_port=lockstep_port,
            move_traces=False,  # they move in with the statistics (commit_outputs)
        )


def import_quietly(module: str) -> None:
    """Import `module` ahead of its use; one that is missing is named by that use (main)."""
    try:
        importlib.import_module(module)
    except ImportError:
        pass


def main(argv: list[str] | None = None) -> int:
    signals.catch_signals()
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    console, err = (
        Console(emoji=False),  # a path holding :fire: is a path, not an emoji
        Console(stderr=True, soft_wrap=True, emoji=False),
    )  # an error is one line, never wrapped

    def say(message: str, code: int) -> int:
        """The one line on stderr of a command that failed; with --json, stdout's document."""
        try:
            err.print(f"nnparity: {one_line(message)}", highlight=False, markup=False)
        except OSError:
            pass
        if getattr(args, "json", False) and not getattr(args, "known", {}).get("written"):
            known = getattr(args, "known", {})
            document = failed_run_json(known.get("case", args.case), code, message, known)
            write_out(console, err, lambda: console.print_json(json.dumps(document)))
        return code

    if args.command in ("run", "explain", "report", "workbook"):
        from .paths import missing_parts

        missing = missing_parts()
        if missing:
            return say(missing, BAD_INPUT)
    try:
        try:
            code = args.handler(args, console, err)
            return BAD_INPUT if code == OK and command.RESULT_LOST else code
        except Exception:
            signals.raise_swallowed()  # the error was R stopping for a signal (signals.py)
            raise
    except (BadInput, OutputError, WorkerStartError) as error:
        return say(str(error), BAD_INPUT)
    except ModuleNotFoundError as error:  # a dependency a command imports when it needs it
        message = installation.missing_dependency(error)
        if message is None:
            raise
        return say(message, BAD_INPUT)
    except (PortError, supervise.RunTimeout) as error:  # a port failed, ended or hung while it ran
        return say(str(error), FAILS)
    except (KeyboardInterrupt, signals.Interrupted) as stop:
        signals.acted_on()
        from .spawn import COMMANDS  # the commands that run ports

        message, code = signals.stopped(stop, ports=getattr(args, "command", None) in COMMANDS)
        return say(message, code)
