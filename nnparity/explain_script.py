"""`nnparity explain --r-script FILE` / `--python-script FILE`: a learner's own lines, step by step.

For each of the article's steps: the formula, the learner's lines that compute
it (found in the script's loop body, see nnparity/scripts.py), our Python and
our R for the same step, and the learner's numbers at one epoch next to ours in
the other language, rounded as the article's spreadsheet prints them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from . import explain, steps, supervise
from .cases import Case
from .command import OK, bad_input, write_out
from .compare import NotComputed, is_bias_copied_per_sample
from .ports import PythonPort, RPort
from .scripts import PythonScript, RScript, parse_names


def add_options(parser) -> None:
    """The script options of `nnparity explain`."""
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--r-script",
        type=Path,
        metavar="FILE",
        help="show a learner's R script's own lines and numbers beside ours",
    )
    which.add_argument(
        "--python-script",
        type=Path,
        metavar="FILE",
        help="show a learner's Python script's own lines and numbers beside ours",
    )
    parser.add_argument(
        "--names",
        action="append",
        metavar="THEIRS=ARTICLE",
        default=[],
        help="a script's name for one of the article's (repeatable), e.g. --names W1=wh",
    )


def wanted(args) -> bool:
    return bool(getattr(args, "r_script", None) or getattr(args, "python_script", None))


def script_lines(
    script, where: dict[str, tuple[int, int]], step=None
) -> dict[str, explain.Snippet]:
    """For each article matrix in `where` (name -> first, last line): the learner's statement."""
    source = getattr(script, "source", None)  # a Python script's, decoded as Python does
    lines = (source if source is not None else script.path.read_text()).splitlines()
    found = {}
    for name, (first, last) in where.items():
        code = "\n".join(lines[first - 1 : last])
        number = step or steps.BY_NAME[name].step
        found[name] = explain.Snippet(number, name, script.path, first, code)
    return found


def values_at(case: Case, epoch: int, script, ours) -> tuple[dict, dict]:
    """Every matrix of `epoch`, the script's and ours, with the weights the epoch started from."""
    both = []
    for port in (script, ours):
        port.epochs_total = epoch  # a worker's messages say how far it got
        port.start(case)
        start = {name: np.array(case.state()[name]) for name in steps.STATE}
        trace = port.advance(epoch, record=True)
        values = {}
        for name in steps.NAMES:
            value = trace.get(name)
            values[name] = value if isinstance(value, NotComputed) else np.asarray(value[epoch - 1])
        for name in steps.STATE:
            before = trace.get(name)
            if epoch > 1 and isinstance(before, np.ndarray):
                values[explain.step1_key(name)] = np.asarray(before[epoch - 2])
            elif isinstance(before, np.ndarray):  # the case's start, in the script's layout
                values[explain.step1_key(name)] = np.broadcast_to(start[name], before.shape[1:])
            else:
                values[explain.step1_key(name)] = start[name]
        both.append(values)
    return both[0], both[1]


def compare_cell(name: str, mine, ours: np.ndarray, n_samples: int) -> str:
    """How the script's matrix agrees with ours (a per-sample bias row by row)."""
    if isinstance(mine, NotComputed):
        return "not computed\nby your script"
    if is_bias_copied_per_sample(name, (1, *ours.shape), (1, *mine.shape), n_samples):
        return explain.agreement(mine, np.broadcast_to(ours, mine.shape)) + "\n(every row vs ours)"
    return explain.agreement(mine, ours)


def step_panel(step, case, epoch, script, sources, py, rs, values, decimals, side_by_side) -> Panel:
    lines, start = sources  # the learner's statements: in the loop; before it (step 1)
    mine, ours = values
    other = "R" if script.language == "Python" else "Python"
    view = explain.step_view(step, epoch, py, rs)
    formulas = view.formulas
    if step == 1:
        formulas = [
            f"{', '.join(view.names)}: the weights and biases epoch {epoch} starts from; "
            "your script's own random values are replaced by the case's"
        ]
    at = start if step == 1 else lines
    yours = list(dict.fromkeys(at[n] for n in view.names if n in at))
    mine_group = (
        explain._code_group(yours, script.language.lower())
        if yours
        else Text("(not in your script)" if step == 1 else "(not in your loop)", style="dim")
    )
    columns = [
        (f"your {script.language}", mine_group),
        ("our Python", explain._code_group(view.python, "python")),
        ("our R", explain._code_group(view.r, "r")),
    ]
    numbers = explain.numbers_table(epoch, view.names, f"your {script.language}", f"our {other}")
    for name, key in zip(view.names, view.keys, strict=True):
        d = decimals.get(name, explain.DEFAULT_DECIMALS)
        a, b = mine[key], ours[key]
        shown = "" if isinstance(a, NotComputed) else explain.format_matrix(a, d)
        agreement = compare_cell(name, a, b, case.dims[0])
        shapes = (
            [b.shape] if isinstance(a, NotComputed) or a.shape == b.shape else [a.shape, b.shape]
        )
        label = f"{name}\n" + " vs ".join(f"{s[0]} x {s[1]}" for s in shapes)
        numbers.add_row(label, shown, explain.format_matrix(b, d), agreement)
    return explain.panel(step, formulas, explain.code_table(columns, side_by_side), numbers)


def explain_script(case: Case, epoch: int, only: int | None, console: Console, script) -> None:
    """The walkthrough of a learner's script with in-process ports: for notebooks and tests.

    The command runs the script and our port in workers instead (``command``).
    """
    ours = RPort() if script.language == "Python" else PythonPort()
    show(case, epoch, only, console, script, ours.language, values_at(case, epoch, script, ours))


def show(case: Case, epoch: int, only: int | None, console: Console, script, other, values):
    """Print every step's panel; `script` is read for its lines only (it is not run here)."""
    py, rs = explain.python_source(), explain.r_source()
    lines = script_lines(script, script.body_lines())
    start = script_lines(script, script.init_lines(), step=1)
    decimals = explain.decimals_of(case)
    console.print(Text(f"{case.name}: {script.path} against our {other}", style="bold"))
    side_by_side = console.width >= explain.SIDE_BY_SIDE_WIDTH
    for step in explain.STEP_NUMBERS if only is None else (only,):
        sources = (lines, start)
        panel = step_panel(
            step, case, epoch, script, sources, py, rs, values, decimals, side_by_side
        )
        console.print(panel)


def command(args, console: Console, err: Console, case: Case, epoch: int, deadline) -> int:
    """The script and our port in the other language run in workers (supervise.py), as in
    `nnparity run`; here the script is only parsed, for the lines each step shows."""
    with bad_input():
        names = parse_names(args.names)
    if args.r_script:
        kind, path, ours_kind = "r-script", args.r_script, "python"
    else:
        kind, path, ours_kind = "python-script", args.python_script, "r"
    with supervise.Supervisor(deadline) as ports:
        runs, ours = ports.port(kind, path, {"names": names}), ports.port(ours_kind)
        with bad_input():  # the workers start while the script is parsed here
            script = (RScript if kind == "r-script" else PythonScript)(path, names)
            runs.wait_loaded()
            ours.wait_loaded()
        values = values_at(case, epoch, runs, ours)
    write_out(
        console, err, lambda: show(case, epoch, args.step, console, script, ours.language, values)
    )
    return OK
