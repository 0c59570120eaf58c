"""Cases: fixture folders on disk <-> validated arrays in memory.

A case folder holds X.csv, y.csv, wh.csv, bh.csv, wout.csv, bout.csv
(headerless, one matrix row per line, shortest round-trip decimals) and
config.csv (two columns, ``key,value``). fixtures/README.md is the user's
description of the format; this module is its only reader and writer.

Cells are parsed with Python's ``float``, which is correctly rounded, so a value
written with ``repr`` reads back bit for bit. (pandas' default C parser is not
round-trip exact, and its errors do not name the cell.)

One number grammar for both languages: a cell must read as the same double in
R's ``read.csv`` and here. Python's ``float`` also takes ``1_0``, Arabic-Indic
digits, ``infinity`` and ``nan``; R's takes hexadecimal and ``NA``. A case
holds only what both read alike: an optional sign, ASCII digits with at most
one decimal point, an optional exponent (``NUMBER`` below), spaces around it
allowed; anything else is refused with its row and column.
"""

from __future__ import annotations

import collections
import csv
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import rnumbers, steps
from .atomic import StagedFolder, size_text
from .floats import bitwise_equal
from .oneline import has_control, one_line
from .paths import FIXTURES

MATRICES = steps.DATA + steps.STATE  # X, y, wh, bh, wout, bout
CONFIG = "config.csv"
#: The config keys a case may have; lr and epochs are required.
CONFIG_KEYS = ("lr", "epochs", "description", "source", "seed")
#: A number both languages read: R's reader also reads the exponent into a C int, so at
#: most four digits of it after any leading zeros (|exponent| < 10,000: beyond it a double
#: is 0 or Inf anyway).
NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?0*[0-9]{1,4})?")
#: What may stand around a number: the spaces and tabs R's reader skips (not Unicode's).
BLANKS = " \t"
INTEGER = re.compile(r"[0-9]+")
BOM = "\ufeff"


class CaseError(ValueError):
    """A case folder that cannot be used; the message names the file and the problem."""

    def __init__(self, path: Path | str, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


@dataclass
class Case:
    name: str
    X: np.ndarray
    y: np.ndarray
    wh: np.ndarray
    bh: np.ndarray
    wout: np.ndarray
    bout: np.ndarray
    lr: float
    epochs: int
    description: str = ""
    source: str = ""
    seed: str = ""
    path: Path | None = field(default=None, compare=False)

    @property
    def dims(self) -> tuple[int, int, int, int]:
        """(samples, features, hidden units, outputs)."""
        return (self.X.shape[0], self.X.shape[1], self.wh.shape[1], self.wout.shape[1])

    def matrices(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in MATRICES}

    def state(self) -> dict[str, np.ndarray]:
        """Step 1: the weights and biases training starts from."""
        return {name: getattr(self, name) for name in steps.STATE}

    def train_inputs(self) -> tuple:
        """The arguments a port's train() takes before `epochs`: X, y, wh, bh, wout, bout, lr."""
        return (self.X, self.y, self.wh, self.bh, self.wout, self.bout, self.lr)


def resolve(name_or_path: str | Path) -> Path:
    """A case name (a folder of fixtures/) or a path to a case folder."""
    if not str(name_or_path).strip():  # Path("") is ".", the folder nnparity runs in
        known = ", ".join(names()) or "none"
        raise CaseError("--case", f"an empty name is no case folder (cases in {FIXTURES}: {known})")
    path = Path(name_or_path)
    # A bare name of nnparity's cases is that case, whatever the folder nnparity runs in holds
    # (a folder named article there took the default case's place); ./article is that folder.
    bare = str(name_or_path) == path.name and not str(name_or_path).startswith(".")
    if bare and (FIXTURES / path.name).is_dir():
        return FIXTURES / path.name
    if path.is_dir():
        return path
    known = ", ".join(names()) or "none"
    raise CaseError(path, f"no such case folder (cases in {FIXTURES}: {known})")


def names() -> list[str]:
    """Every case shipped in fixtures/, sorted."""
    return sorted(p.name for p in FIXTURES.iterdir() if (p / CONFIG).is_file())


NUMBER_RULE = (
    "a number here is digits with an optional sign, decimal point and exponent of at most "
    "four digits after its leading zeros, such as -0.25 or 1e-3, unquoted"
)
#: The longest number a cell may hold: far more than any double needs (17 significant
#: digits, an exponent); what is longer is written out with zeros, and R's reader and
#: nnparity.rnumbers would spend time and memory on every digit.
MAX_CELL = 100


def read_rows(path: Path, quotes: bool = False, numbered: list | None = None) -> list[list[str]]:
    """The CSV rows of a case file; a file R would read differently is refused. Quotes are
    read as R's read.csv reads a text column (config.csv, ``quotes``); in a matrix file they
    are kept, so that a quoted number, which read.csv(colClasses = "numeric") refuses, is
    refused here too. ``numbered`` (a list) receives each row's line in the file."""
    if path.is_dir():
        raise CaseError(path, "is a folder, not a file")
    if not path.exists():
        raise CaseError(path, "file is missing")
    if not path.is_file():
        raise CaseError(path, "is not a regular file (a device, a pipe or a socket)")
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as error:
        raise CaseError(path, f"cannot be read ({error})") from None
    except MemoryError:  # read whole, as R's read.csv reads it
        raise CaseError(
            path, f"is too large to read into memory ({size_text(path.stat().st_size)})"
        ) from None
    if text.startswith(BOM):
        raise CaseError(
            path,
            "starts with a byte-order mark (BOM), which R's read.csv reads as part of the first "
            "value: save the file as UTF-8 without BOM",
        )
    # Lines end as R's reader ends them (\n, \r\n, \r), not at every character Python's
    # splitlines() takes for a line break (\f, \v, U+2028...).
    # Empty lines are skipped wherever they are, as R's read.csv skips them (blank.lines.skip);
    # a line of blanks is not empty, and R reads it as a row of NA: refused (read_matrix).
    kept = [(i, line) for i, line in enumerate(re.split(r"\r\n|\r|\n", text), start=1) if line]
    if numbered is not None:
        numbered.extend(i for i, _ in kept)
    lines = [line for _, line in kept]
    try:
        rows = list(csv.reader(lines, quoting=csv.QUOTE_MINIMAL if quotes else csv.QUOTE_NONE))
    except csv.Error as error:
        raise CaseError(path, f"cannot be read ({error})") from None
    if len(rows) != len(lines):  # a quoted value ran on over a line break
        raise CaseError(path, _unclosed_quote(kept))
    return rows


def _unclosed_quote(kept: list[tuple[int, str]]) -> str:
    """Where a quoted value opens and does not close on its line: R's read.csv reads on,
    over line breaks, to the next quote (a stray quote swallows the keys below it)."""
    for i, line in kept:
        try:
            list(csv.reader([line], strict=True))
        except csv.Error:
            return (
                f"line {i}: a quoted value does not close on its line (a quote missing, or "
                "a line break inside quotes): write each key,value on a line of its own"
            )
    return "a quoted value runs over a line break: write each key,value on a line of its own"


#: A cell that is a NUMBER with BLANKS around it: read_matrix's test of
#: ``cell.strip(BLANKS)``, without the strip.
_CELL = re.compile(rf"[{BLANKS}]*(?:{NUMBER.pattern})[{BLANKS}]*")


def first_places(rows: list[list[str]]) -> dict[str, int]:
    """Each distinct text among the cells -> where it first appears, counting cells row by
    row in the file's order (the last write wins, going backwards)."""
    cells = [cell for row in rows for cell in row]
    return dict(zip(reversed(cells), range(len(cells) - 1, -1, -1), strict=True))


def _read_at_once(rows: list[list[str]], first: dict[str, int]) -> np.ndarray | None:
    """The matrix, when every row is as long as the first and every cell a finite NUMBER;
    otherwise None, and read_matrix goes cell by cell to name the first bad one.

    Each distinct cell is tested against the grammar and read with ``float``
    (correctly rounded, as cell by cell) once: a data set repeats its values (the
    scale case's X.csv is 100,000 cells of two kinds, 0.0 and 1.0; iris's are one
    decimal each), and reading a case is on a run's critical path, while R's
    worker waits for it. Scale case, whole load_case (6 files, 100,000 cells):
    110 ms testing and reading every cell, 40 ms by distinct cells
    (docs/benchmarks.md). ``first``: ``first_places(rows)``.
    """
    width = len(rows[0])
    if not width or any(len(row) != width for row in rows):
        return None
    if max(map(len, first)) > MAX_CELL or not all(map(_CELL.fullmatch, first)):
        return None
    value = {text: float(text) for text in first}
    cells = [value[cell] for row in rows for cell in row]
    values = np.fromiter(cells, dtype=np.float64, count=len(cells))
    values = values.reshape(len(rows), width)
    return values if np.isfinite(values).all() else None  # 1e999 reads as Inf


def read_matrix(path: Path) -> np.ndarray:
    rows = read_rows(path)
    if not rows or all(not row for row in rows):
        raise CaseError(path, "empty matrix: the file has no numbers")
    first = first_places(rows)
    matrix = _read_at_once(rows, first)
    if matrix is None:
        matrix = read_cell_by_cell(path, rows)
    check_r_reads(path, rows, matrix, first)
    return matrix


def check_r_reads(path: Path, rows: list[list[str]], values: np.ndarray,
                  first: dict[str, int]) -> None:
    """CaseError at the first cell R's read.csv reads as another double than Python's float
    (nnparity.rnumbers: R does not round every decimal correctly).

    Each distinct cell is read R's way once (rnumbers.r_reads, 43 ms for the scale
    case's 100,000 cells when each was): a cell's double depends on its text alone.
    ``first``: ``first_places(rows)``."""
    places = np.fromiter(first.values(), dtype=np.intp, count=len(first))
    r = rnumbers.r_reads(list(first))
    differ = np.flatnonzero(~bitwise_equal(r, values.reshape(-1)[places]))
    if differ.size:
        k = differ[np.argmin(places[differ])]  # of the texts R misreads, the first in the file
        i, j = divmod(int(places[k]), values.shape[1])
        raise CaseError(path, _read_differently(
            f"row {i + 1}, column {j + 1}", rows[i][j], float(values[i, j]), float(r[k])))


def _read_differently(where: str, cell: str, python: float, r: float) -> str:
    both = rnumbers.both_read(python)
    fix = (f"write {both}, which both read as {python!r}" if both is not None
           else "no decimal reads as that double in R: use another number")
    return (
        f"{where}: R's read.csv reads {cell.strip(BLANKS)} as {r!r} and Python as {python!r} "
        f"(R does not round every decimal correctly); {fix}"
    )


def read_cell_by_cell(path: Path, rows: list[list[str]]) -> np.ndarray:
    """The matrix of `rows` (of the file `path`), or a CaseError naming its first bad row
    or cell."""
    values = []
    for i, row in enumerate(rows, start=1):
        if not row:
            raise CaseError(path, f"row {i} is blank")
        if len(row) != len(rows[0]):
            raise CaseError(
                path, f"ragged rows: row {i} has {len(row)} values, row 1 has {len(rows[0])}"
            )
        parsed = []
        for j, cell in enumerate(row, start=1):
            text = cell.strip(BLANKS)
            if len(text) > MAX_CELL:
                raise CaseError(
                    path, f"row {i}, column {j}: a number of {len(text)} characters (at most "
                    f"{MAX_CELL}: write it with an exponent, such as 1.5e-300)"
                )
            if text.lower().lstrip("+-") in ("nan", "inf", "infinity", "na"):
                raise CaseError(path, f"row {i}, column {j}: {text} is not a finite number")
            if not NUMBER.fullmatch(text):
                raise CaseError(
                    path, f"row {i}, column {j}: {_shown(cell)} is not a number ({NUMBER_RULE})"
                )
            value = float(text)
            if not math.isfinite(value):  # 1e999
                raise CaseError(path, f"row {i}, column {j}: {text} is not a finite number")
            parsed.append(value)
        values.append(parsed)
    return np.array(values, dtype=np.float64)


def _shown(text: str | None) -> str:
    """A cell as a message quotes it: whole up to 40 characters, then cut."""
    if text is None or len(text) <= 40:
        return repr(text)
    return f"{text[:40]!r}... ({len(text)} characters)"


def read_config(path: Path) -> dict[str, str]:
    lines: list[int] = []  # each row's line in the file (empty lines are skipped)
    rows = read_rows(path, quotes=True, numbered=lines)
    if not rows or rows[0] != ["key", "value"]:
        raise CaseError(path, "unreadable config: the first line must be 'key,value'")
    config: dict[str, str] = {}
    for i, row in zip(lines[1:], rows[1:], strict=True):
        if len(row) != 2:
            raise CaseError(
                path, f"unreadable config: line {i} has {len(row)} fields, expected key,value"
            )
        key = row[0]  # as R's read.csv matches it: exactly
        if key not in CONFIG_KEYS:
            raise CaseError(
                path, f"line {i}: unknown key {key!r} (a config has {', '.join(CONFIG_KEYS)})"
            )
        if key in config:
            raise CaseError(
                path,
                f"line {i}: key {key!r} appears twice (R and Python would not agree on which "
                "one counts)",
            )
        value = row[1].strip(BLANKS)
        if has_control(value):  # an escape sequence would reach terminals and reports
            raise CaseError(path, f"line {i}: {key}'s value holds a control character "
                            f"({one_line(value)[:80]}): write it as plain text")
        config[key] = value
    return config


def parse_lr(path: Path, text: str | None) -> float:
    if text is None:
        raise CaseError(path, "has no lr (a line lr,0.1: the learning rate, a positive number)")
    if len(text) > MAX_CELL or not NUMBER.fullmatch(text):
        raise CaseError(path, f"lr must be a positive number, got {_shown(text)}")
    lr = float(text)
    if not (math.isfinite(lr) and lr > 0):
        raise CaseError(path, f"lr must be a positive number, got {_shown(text)}")
    r = float(rnumbers.r_reads([text])[0])
    if r != lr:
        raise CaseError(path, _read_differently("lr", text, lr, r))
    return lr


#: The most epochs a run can train: R counts them in its integers, whose largest is 2^31 - 1.
MAX_EPOCHS = 2**31 - 1


def epochs_count(text: str | int | None) -> int | str:
    """The number of epochs ``text`` spells in ASCII digits (1 to MAX_EPOCHS), or what is
    wrong with it."""
    digits = "" if text is None else str(text).strip(BLANKS)
    significant = digits.lstrip("0")
    if not INTEGER.fullmatch(digits) or not significant:
        return f"epochs must be a positive integer, got {text!r}"
    if len(significant) > 10 or int(significant) > MAX_EPOCHS:  # int() of 4,300+ digits raises
        shown = digits if len(digits) <= 40 else f"{digits[:20]}... ({len(digits)} digits)"
        return f"epochs must be at most {MAX_EPOCHS} (R's largest integer), got {shown}"
    return int(significant)


def parse_epochs(path: Path | str, text: str | int | None) -> int:
    """A case's epochs (config.csv); the command line's are command.parse_epochs_option."""
    if text is None:
        raise CaseError(path, "has no epochs (a line epochs,5000: how many the case trains)")
    epochs = epochs_count(text)
    if isinstance(epochs, str):
        raise CaseError(path, epochs)
    return epochs


#: How the six matrices fit together as the article's network, in the order they are
#: checked: (matrix, axis, other, other's axis): matrix.shape[axis] must be
#: other.shape[other's axis].
#: A bias's rows (against X's rows) may be 1 always, and X's rows where a bias is held once
#: per sample (a script's; a case's bias is one row). nnparity/r/script.R reads this table
#: (scripts.py hands it over) to check an R script's own matrices by the same rule.
FITS: tuple[tuple[str, int, str, int], ...] = (
    ("wh", 0, "X", 1),  # X %*% wh
    ("bh", 1, "wh", 1),  # + bh
    ("bh", 0, "X", 0),
    ("wout", 0, "wh", 1),  # hidden %*% wout
    ("bout", 1, "wout", 1),  # + bout
    ("bout", 0, "X", 0),
    ("y", 0, "X", 0),  # y - output
    ("y", 1, "wout", 1),
)


def misfit(
    shapes: dict[str, tuple[int, ...]], per_sample: bool = False
) -> tuple[str, int, str, int] | None:
    """The first rule of FITS the matrices' shapes break (a name absent from `shapes` breaks
    none), or None; `per_sample`: a bias may have one row per row of X."""
    for rule in FITS:
        name, axis, other, other_axis = rule
        if name not in shapes or other not in shapes:
            continue
        size, wanted = shapes[name][axis], shapes[other][other_axis]
        if axis == 0 and name in steps.BY_NAME and steps.BY_NAME[name].bias:  # its rows
            fits = size == 1 or (per_sample and size == wanted)
        else:
            fits = size == wanted
        if not fits:
            return rule
    return None


def check_shapes(folder: Path, m: dict[str, np.ndarray]) -> None:
    """The six matrices must fit together as the article's network (FITS)."""
    X, y, wh, bh, wout, bout = (m[name] for name in MATRICES)
    broken = misfit({name: m[name].shape for name in MATRICES})
    if broken is None:
        return
    problems = {
        "wh": f"shape {wh.shape} does not fit X {X.shape}: "
        f"wh needs one row per column of X ({X.shape[1]})",
        "bh": f"shape {bh.shape} does not fit wh {wh.shape}: bh must be 1 x {wh.shape[1]}",
        "wout": f"shape {wout.shape} does not fit wh {wh.shape}: "
        f"wout needs one row per hidden unit ({wh.shape[1]})",
        "bout": f"shape {bout.shape} does not fit wout {wout.shape}: "
        f"bout must be 1 x {wout.shape[1]}",
        "y": f"shape {y.shape} does not fit X {X.shape} and wout {wout.shape}: "
        f"y must be {X.shape[0]} x {wout.shape[1]}",
    }
    odd = _odd_one_out(m, broken)
    if odd is not None:
        raise CaseError(folder / f"{odd[0]}.csv", odd[1])
    name = broken[0]
    raise CaseError(folder / f"{name}.csv", problems[name])


def _dimensions(name: str) -> tuple[str, str]:
    """What a case matrix's rows and columns count (steps.csv): samples, features, ..."""
    quantity = next(q for q in steps.ALL if q.name == name)
    return quantity.rows, quantity.cols


def _odd_one_out(m: dict[str, np.ndarray], rule: tuple[str, int, str, int]):
    """Of the two matrices a broken rule pairs, the one whose size along that dimension
    differs from what most matrices give it, and the problem in its words (wh 4 x 2 beside
    bh 1 x 3 and wout 3 x 1: wh, where bh, the rule's first, was blamed); None for a tie."""
    name, axis, other, other_axis = rule
    dimension = _dimensions(other)[other_axis]
    sizes = {(n, a): m[n].shape[a] for n in MATRICES for a in (0, 1)
             if _dimensions(n)[a] == dimension}
    counts = collections.Counter(sizes.values()).most_common()
    if len(counts) > 1 and counts[0][1] == counts[1][1]:
        return None
    usual = counts[0][0]
    if sizes.get((other, other_axis)) == usual or sizes.get((name, axis)) != usual:
        return None  # the rule's first is the odd one: its own words (check_shapes)
    givers = [n for (n, _), size in sizes.items() if size == usual]
    count = "rows" if other_axis == 0 else "columns"
    words = {"hidden": "hidden units"}.get(dimension, dimension)
    return other, (f"shape {m[other].shape} does not fit {', '.join(givers)}: its {count} count "
                   f"the {words} ({sizes[other, other_axis]}), which they give as {usual}")


def load_case(name_or_path: str | Path) -> Case:
    """Read and validate a case; raise CaseError naming the file and the problem."""
    folder = resolve(name_or_path)
    config_path = folder / CONFIG
    config = read_config(config_path)
    matrices = {name: read_matrix(folder / f"{name}.csv") for name in MATRICES}
    check_shapes(folder, matrices)
    return Case(
        # a folder name of bytes that are no UTF-8 shows them as U+FFFD (the plots, the HTML
        # report and the workbook could not write Python's surrogate escapes)
        name=folder.resolve().name.encode("utf-8", "surrogateescape").decode("utf-8", "replace"),
        lr=parse_lr(config_path, config.get("lr")),
        epochs=parse_epochs(config_path, config.get("epochs")),
        description=config.get("description", ""),
        source=config.get("source", ""),
        seed=config.get("seed", ""),
        path=folder,
        **matrices,
    )


def format_matrix(matrix: np.ndarray) -> str:
    """Headerless CSV: each double as the shortest decimal that reads back to it in Python
    (``repr``), or, where R's read.csv would read that as another double, one that both
    languages read as it (``rnumbers.both_read``)."""
    matrix = np.atleast_2d(np.asarray(matrix, dtype=np.float64))
    cells = [[repr(float(v)) for v in row] for row in matrix]
    r = rnumbers.r_reads([cell for row in cells for cell in row]).reshape(matrix.shape)
    for i, j in np.argwhere(~bitwise_equal(r, matrix)):
        cells[i][j] = rnumbers.both_read(float(matrix[i, j])) or cells[i][j]
    return "".join(",".join(row) + "\n" for row in cells)


def write_case(case: Case, folder: Path | str) -> Path:
    """Write a case folder atomically: all files appear together or none do.

    Files of the user's beside the case files (a walkthrough, notes) are kept.
    """
    ours = tuple(f"{name}.csv" for name in MATRICES) + (CONFIG,)
    with StagedFolder(folder, "a case", replaces=ours) as staging:
        for name, matrix in case.matrices().items():
            (staging / f"{name}.csv").write_text(format_matrix(matrix))
        with (staging / CONFIG).open("w", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(["key", "value"])
            writer.writerow(["lr", rnumbers.both_read(float(case.lr)) or repr(float(case.lr))])
            writer.writerow(["epochs", str(int(case.epochs))])
            writer.writerow(["description", case.description])
            writer.writerow(["source", case.source])
            writer.writerow(["seed", case.seed])
    return Path(folder)
