"""`nnparity explain`: the article's walkthrough, step by step, from both languages.

For every step: the article's formula (from ``steps.QUANTITIES``), the Python
and the R lines that compute it, read from the ports' own source through their
``# step N`` markers (never a second copy), and the matrices both languages
produced at one epoch, side by side, rounded as the article's spreadsheet
prints them, with how closely they agree.
"""

from __future__ import annotations

import ast
import csv
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich import box
from rich.console import Console, Group
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from . import scripts, steps, supervise, workbook
from .cases import Case, CaseError, load_case
from .command import (
    OK,
    BadInput,
    add_case_option,
    add_timeout_option,
    bad_input,
    parse_epochs_option,
    parse_timeout,
    write_out,
)
from .compare import ulp_distance
from .floats import same_bits
from .paths import PYTHON_IMPL, R_IMPL
from .port import PortError
from .ports import PythonPort, RPort

STEP_NUMBERS = tuple(sorted(steps.STEP_TITLES))
#: Decimals when the article's walkthrough does not print a matrix (its spreadsheet's default).
DEFAULT_DECIMALS = 2
#: Narrower than this, the Python and R code are stacked rather than side by side.
SIDE_BY_SIDE_WIDTH = 140
MARKER = re.compile(r"#\s*step (\d+)\b")


@dataclass(frozen=True)
class Snippet:
    """Lines of a port's source that compute one step."""

    step: int
    name: str  # the matrix (a step function's name), or "" for a line of train
    path: Path
    start: int  # 1-based line number of the first line
    code: str

    @property
    def where(self) -> str:
        return f"{_short(self.path)}:{self.start}"


def _short(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(PYTHON_IMPL.parent))
    except ValueError:
        return str(path)


# ---- reading the ports' own source ------------------------------------------------------------


def python_step_functions(path: Path = PYTHON_IMPL / "steps.py") -> list[Snippet]:
    """Every function of python_impl/steps.py with a `# step N` comment line right above its
    `def`.
    """
    lines = Path(path).read_text().splitlines()
    found = []
    for node in ast.parse("\n".join(lines)).body:
        if isinstance(node, ast.FunctionDef):
            above = lines[node.lineno - 2] if node.lineno >= 2 else ""
            match = MARKER.match(above.strip())
            if match:
                code = "\n".join(lines[node.lineno - 1 : node.end_lineno])
                found.append(Snippet(int(match.group(1)), node.name, Path(path), node.lineno, code))
    return found


def r_step_functions(path: Path = R_IMPL / "steps.R") -> list[Snippet]:
    """Every `name = function(...) {...}` of r_impl/steps.R's `steps <- list(` with a `# step N`
    line right above it.
    """
    lines = Path(path).read_text().splitlines()
    head = re.compile(r"^\s*(\w+)\s*=\s*function\s*\(")
    found = []
    for i, line in enumerate(lines):
        match = head.match(line)
        marker = MARKER.match(lines[i - 1].strip()) if i > 0 else None
        if not (match and marker):
            continue
        indent = len(line) - len(line.lstrip())
        end = i + 1
        while end < len(lines) and not re.match(rf"^\s{{{indent}}}\}}", lines[end]):
            end += 1
        found.append(
            Snippet(
                int(marker.group(1)),
                match.group(1),
                Path(path),
                i + 1,
                "\n".join(lines[i : end + 1]).rstrip(","),
            )
        )
    return found


def train_lines(path: Path) -> list[Snippet]:
    """Lines of train.py / train.R that end with a `# step N` comment."""
    found = []
    for i, line in enumerate(Path(path).read_text().splitlines(), start=1):
        code, _, comment = line.partition("#")
        match = MARKER.match("#" + comment) if comment else None
        if match and code.strip():
            found.append(Snippet(int(match.group(1)), "", Path(path), i, line.strip()))
    return found


def train_signature(path: Path) -> Snippet:
    """Step 1 in code: the weights both ports start from are the arguments of `train`."""
    lines = Path(path).read_text().splitlines()
    pattern = re.compile(r"^\s*(def train\(|train <- function\()")
    for i, line in enumerate(lines, start=1):
        if pattern.match(line):
            return Snippet(1, "train", Path(path), i, line.rstrip())
    raise PortError(f"{path}: no train function")


@dataclass
class PortSource:
    functions: list[Snippet]
    train: list[Snippet]
    signature: Snippet


def python_source(folder: Path = PYTHON_IMPL) -> PortSource:
    folder = Path(folder)
    return PortSource(
        python_step_functions(folder / "steps.py"),
        train_lines(folder / "train.py"),
        train_signature(folder / "train.py"),
    )


def r_source(folder: Path = R_IMPL) -> PortSource:
    folder = Path(folder)
    return PortSource(
        r_step_functions(folder / "steps.R"),
        train_lines(folder / "train.R"),
        train_signature(folder / "train.R"),
    )


def marker_problems(source: PortSource, language: str) -> list[str]:
    """What is missing for explain to show every step of a port: one line per problem."""
    problems = []
    by_name = {s.name: s for s in source.functions}
    for q in steps.QUANTITIES:
        function = by_name.get(q.name)
        where = _short(source.functions[0].path) if source.functions else "steps"
        if function is None:
            problems.append(
                f"{language}: {where} has no function {q.name} marked `# step {q.step}` on the "
                "line above it"
            )
        elif function.step != q.step:
            problems.append(
                f"{language}: {function.where} marks {q.name} as step {function.step}, the article "
                f"says step {q.step}"
            )
    marked = {s.step for s in source.train}
    for step in sorted({q.step for q in steps.QUANTITIES} - marked):
        problems.append(
            f"{language}: {_short(source.signature.path)} has no line ending in `# step {step}`"
        )
    return problems


# ---- the numbers ------------------------------------------------------------------------------


def decimals_of(case: Case) -> dict[str, int]:
    """Decimals per matrix as the article's walkthrough prints them (where the case has one)."""
    walkthrough = (case.path or Path()) / "walkthrough-epoch1.csv"
    found: dict[str, int] = {}
    if not walkthrough.is_file():
        return found
    expected = "expected columns matrix and decimals, a whole number from 0 to 17"
    try:
        with walkthrough.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if not {"matrix", "decimals"} <= set(reader.fieldnames or ()):
                raise CaseError(walkthrough, f"row 1: {expected}")
            for number, row in enumerate(reader, start=2):
                text = str(row.get("decimals") or "").strip()
                if not row.get("matrix") or not text.isascii() or not text.isdigit() or int(
                        text) > 17:
                    raise CaseError(walkthrough, f"row {number}: {expected}")
                found[row["matrix"]] = int(text)
    except UnicodeDecodeError:
        raise CaseError(walkthrough, f"not UTF-8 text; {expected}") from None
    except csv.Error as error:
        raise CaseError(walkthrough, f"{error}; {expected}") from None
    return found


def step1_key(name: str) -> str:
    """Step 1's matrices are the weights before training; keyed apart from steps 10-11's updates."""
    return f"{name} (start)"


def epoch_values(
    case: Case, epoch: int, python_port, r_port
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Every matrix of `epoch` as each language computed it, and the weights it started from.

    The ports are workers (supervise.WorkerPort) for the command, or in-process ports: both
    are only asked to start and advance. The epochs before `epoch` are trained unrecorded, so
    a late epoch costs time, not memory; the weights `epoch` starts from are the port's own
    record of what its train() was given (steps.ONCE: initial_<name>).
    """
    both = []
    for port in (python_port, r_port):
        port.epochs_total = epoch  # a worker's messages say how far it got
        port.start(case)
        if epoch > 1:
            port.advance(epoch - 1, record=False)
        trace = port.advance(1, record=True)
        values = {name: np.asarray(trace[name][0]) for name in steps.NAMES}
        for name in steps.STATE:
            values[step1_key(name)] = np.asarray(trace[steps.initial(name)][0])
        both.append(values)
    return both[0], both[1]


def format_matrix(m: np.ndarray, decimals: int) -> str:
    texts = [[_fmt(v, decimals) for v in row] for row in np.atleast_2d(m)]
    width = max(len(t) for row in texts for t in row)
    return "\n".join("  ".join(t.rjust(width) for t in row) for row in texts)


def _fmt(v: float, decimals: int) -> str:
    text = f"{v:.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text  # no "-0.00"


def agreement(a: np.ndarray, b: np.ndarray) -> str:
    if a.shape != b.shape:
        return f"shapes differ: {a.shape} and {b.shape}"
    if same_bits(a, b):
        return "bitwise equal"
    diff = float(np.max(np.abs(a - b)))
    return f"max difference {diff:.2g}\n({ulp_distance(a, b).max():.0f} ULP)"


# ---- rendering --------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepView:
    """What one step's panel is about: its matrices, their formulas and our code for them."""

    names: list[str]  # the article's names of the step's matrices
    keys: list[str]  # where each one's numbers are in epoch_values (step 1: step1_key)
    formulas: list[str]
    python: list[Snippet]
    r: list[Snippet]


def step_view(step: int, epoch: int, py: PortSource, rs: PortSource) -> StepView:
    if step == 1:
        names = list(steps.STATE)
        whence = (
            f" (the case's {', '.join(n + '.csv' for n in names)})"
            if epoch == 1
            else f" (epoch {epoch - 1}'s updates)"
        )
        formula = f"{', '.join(names)}: the weights and biases epoch {epoch} starts from"
        keys = [step1_key(n) for n in names]
        return StepView(names, keys, [formula + whence], [py.signature], [rs.signature])
    quantities = [q for q in steps.QUANTITIES if q.step == step]
    names = [q.name for q in quantities]
    formulas = [q.formula for q in quantities]
    return StepView(names, names, formulas, _code_for(py, quantities), _code_for(rs, quantities))


def code_table(columns: list[tuple[str, Group]], side_by_side: bool) -> Table:
    """Code side by side, one column each; on a narrow terminal stacked, so none wraps."""
    code = Table(box=box.SIMPLE_HEAD, expand=True, show_edge=False)
    if side_by_side:
        for title, _ in columns:
            code.add_column(title)
        code.add_row(*(group for _, group in columns))
    else:
        code.add_column(", then ".join(title for title, _ in columns))
        for _, group in columns:
            code.add_row(group)
    return code


def numbers_table(epoch: int, names: list[str], left: str, right: str) -> Table:
    """The matrices of one step, two sides and how closely they agree (rows added by callers)."""
    numbers = Table(
        box=box.SQUARE, title=f"epoch {epoch}, rounded as the article prints", title_justify="left"
    )
    numbers.add_column("matrix", no_wrap=True, min_width=max(len(n) for n in names))
    numbers.add_column(left, justify="right")
    numbers.add_column(right, justify="right")
    numbers.add_column("agreement")
    return numbers


def panel(step: int, formulas: list[str], *parts) -> Panel:
    body = Group(Text("\n".join(formulas), style="bold"), *parts)
    title = f"Step {step}: {steps.STEP_TITLES[step]}"
    return Panel(body, title=title, title_align="left", box=box.ROUNDED)


def step_panel(
    step: int,
    case: Case,
    epoch: int,
    py: PortSource,
    rs: PortSource,
    values,
    decimals: dict[str, int],
    side_by_side: bool = True,
) -> Panel:
    view = step_view(step, epoch, py, rs)
    columns = [("Python", _code_group(view.python, "python")), ("R", _code_group(view.r, "r"))]
    numbers = numbers_table(epoch, view.names, "Python", "R")
    python_values, r_values = values
    for name, key in zip(view.names, view.keys, strict=True):
        d = decimals.get(name, DEFAULT_DECIMALS)
        a, b = python_values[key], r_values[key]
        label = f"{name}\n{a.shape[0]} x {a.shape[1]}"
        numbers.add_row(label, format_matrix(a, d), format_matrix(b, d), agreement(a, b))
    sheet = workbook.explain_cells(case.dims, epoch, view.names, start=step == 1)
    return panel(step, view.formulas, code_table(columns, side_by_side), Text(sheet), numbers)


def _code_for(source: PortSource, quantities) -> list[Snippet]:
    """For each quantity: the line of train that calls its step function, then that function."""
    found = []
    for q in quantities:
        found += [
            t
            for t in source.train
            if t.step == q.step and re.search(rf"steps[.$]{q.name}\(", t.code)
        ]
        found += [f for f in source.functions if f.name == q.name]
    unmatched = [t for t in source.train if t.step == quantities[0].step and t not in found]
    return unmatched + found


def _code_group(snippets: list[Snippet], lexer: str) -> Group:
    parts = []
    for s in snippets:
        parts.append(Text(s.where, style="dim"))
        parts.append(
            Syntax(
                textwrap.dedent(s.code),
                lexer,
                theme="ansi_dark",
                background_color="default",
                word_wrap=True,
            )
        )
    return Group(*parts)


def explain(
    case: Case, epoch: int, only: int | None, console: Console, python_port=None, r_port=None
) -> None:
    """The walkthrough with in-process ports (ours unless given): for notebooks and tests.

    The command runs the ports in workers instead (``command_explain``).
    """
    py, rs = checked_sources()
    python_port = python_port or PythonPort()
    r_port = r_port or RPort()
    show(case, epoch, only, console, py, rs, epoch_values(case, epoch, python_port, r_port))


def checked_sources() -> tuple[PortSource, PortSource]:
    """Both ports' marked source, or one line saying which marker is missing."""
    py, rs = python_source(), r_source()
    problems = marker_problems(py, "Python") + marker_problems(rs, "R")
    if problems:
        raise PortError("cannot show every step: " + "; ".join(problems))
    return py, rs


def show(case: Case, epoch: int, only: int | None, console: Console, py, rs, values) -> None:
    decimals = decimals_of(case)
    console.print(
        Text(f"{case.name}: {case.description}" if case.description else case.name, style="bold")
    )
    for step in STEP_NUMBERS if only is None else (only,):
        console.print(
            step_panel(
                step,
                case,
                epoch,
                py,
                rs,
                values,
                decimals,
                side_by_side=console.width >= SIDE_BY_SIDE_WIDTH,
            )
        )


# ---- the command ------------------------------------------------------------------------------


def add_parser(sub) -> None:
    p = sub.add_parser(
        "explain",
        help=(
            "walk through the article's steps: formula, Python and R lines, both languages' "
            "numbers"
        ),
    )
    add_case_option(p)
    p.add_argument(
        "--epoch",
        default="1",
        help="which epoch's numbers to show (default: 1, the article's walkthrough)",
    )
    p.add_argument(
        "--step", type=int, choices=STEP_NUMBERS, metavar="N", help="show one step only (1-11)"
    )
    from . import explain_script  # --r-script / --python-script: a learner's own lines beside ours

    explain_script.add_options(p)
    add_timeout_option(p)
    p.set_defaults(handler=command_explain)


def command_explain(args, console: Console, err: Console) -> int:
    """Both ports run in workers, supervised as `nnparity run`'s are (supervise.py): a port that
    ends its process, crashes, hangs past --timeout or prints cannot end or corrupt the
    walkthrough, and Ctrl-C stops it. Nothing reaches stdout unless every number was computed.
    """
    from . import explain_script

    with bad_input():
        case = load_case(args.case)
        decimals_of(case)  # the walkthrough's decimals, checked before any port runs
        epoch = parse_epochs_option("--epoch", args.epoch)
        deadline = supervise.Deadline(parse_timeout(args.timeout))
    if explain_script.wanted(args):
        return explain_script.command(args, console, err, case, epoch, deadline)
    if getattr(args, "names", None):  # as run refuses it (scripts.sides)
        raise BadInput(scripts.NAMES_NEED_A_SCRIPT)
    py, rs = checked_sources()
    with supervise.Supervisor(deadline) as ports:
        python_port, r_port = ports.port("python"), ports.port("r")
        with bad_input():
            python_port.wait_loaded()
            r_port.wait_loaded()
        values = epoch_values(case, epoch, python_port, r_port)
    write_out(console, err, lambda: show(case, epoch, args.step, console, py, rs, values))
    return OK
