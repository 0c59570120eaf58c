"""`nnparity workbook`: the article's spreadsheet, as a third implementation.

The workbook computes the network with real formulas, laid out as the
article's walkthrough. The first sheet, ``inputs``, holds the only numbers
typed in: the case's X, y, lr and the weights training starts from (step 1),
each as a constant formula (``=0.42``: see ``constant``).
Then one sheet per epoch (``epoch 1``, ``epoch 2``, ...) holds one block per
recorded matrix, in the article's order (steps 2 to 11), each labelled with
its step number, its name and the article's formula, and each computed from
the cells of the matrices it reads: ``MMULT``, ``TRANSPOSE``, ``EXP``, ``SUM``
and elementwise arithmetic, as array formulas that LibreOffice and Excel both
evaluate. An epoch's weights are the previous epoch's step 10 and 11 blocks,
so a learner who changes a weight on ``inputs`` sees every later step change.

``Layout`` says where every block is; the writer, the reader
(``nnparity.calc``) and ``nnparity explain`` all use it.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import zipfile
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from xml.etree import ElementTree

import numpy as np

from . import steps
from .atomic import check_file, staged_file
from .cases import Case, load_case
from .command import OK, BadInput, add_case_option, bad_input, parse_epochs_option, write_out
from .floats import same_bits

INPUTS = "inputs"
#: Column A holds the labels; every matrix starts in column B.
FIRST_COL = 2
#: A sheet's size in LibreOffice Calc 7.4 (bookworm's) and Excel (Layout.check_fits).
MAX_COLUMNS, MAX_ROWS = 16_384, 1_048_576
#: Two decimals always (as the article prints), then as many as the double needs (17 in all).
NUMBER_FORMAT = "0.00###############"
#: The rows above the first block: the sheet's title and a blank line.
TOP = 3

#: The spreadsheet's formula for each recorded matrix, in the article's words.
#: ``{name}`` stands for the block of that matrix (this epoch's, or for the
#: weights, the value the epoch starts from); ``{lr}`` for the learning rate.
FORMULAS: dict[str, str] = {
    "hidden_layer_input": "MMULT({X},{wh})+{bh}",
    "hiddenlayer_activations": "1/(1+EXP(-{hidden_layer_input}))",
    "output_layer_input": "MMULT({hiddenlayer_activations},{wout})+{bout}",
    "output": "1/(1+EXP(-{output_layer_input}))",
    "E": "{y}-{output}",
    "slope_output_layer": "{output}*(1-{output})",
    "slope_hidden_layer": "{hiddenlayer_activations}*(1-{hiddenlayer_activations})",
    "d_output": "{E}*{slope_output_layer}",
    "Error_at_hidden_layer": "MMULT({d_output},TRANSPOSE({wout}))",
    "d_hiddenlayer": "{Error_at_hidden_layer}*{slope_hidden_layer}",
    "wout": "{wout}+MMULT(TRANSPOSE({hiddenlayer_activations}),{d_output})*{lr}",
    "wh": "{wh}+MMULT(TRANSPOSE({X}),{d_hiddenlayer})*{lr}",
    # One formula per cell: the bias of column j plus the sum of column j.
    "bout": "{bout}+SUM({d_output})*{lr}",
    "bh": "{bh}+SUM({d_hiddenlayer})*{lr}",
}
#: Steps written one formula per cell, each summing one column (over the samples): the
#: bias updates (steps.csv's ``bias`` column).
PER_COLUMN = tuple(q.name for q in steps.QUANTITIES if q.bias)


def constant(value: float) -> str:
    """An input as a formula constant (``=0.42``), the way LibreOffice reads a double exactly.

    LibreOffice 7.4 reads a number cell of an .xlsx with a parser that is not
    correctly rounded: of 3000 random doubles written as shortest round-trip
    decimals, 40% came back 1 to 3 ULP off (bench/measure_spreadsheet.py engine).
    The same decimals as formula constants came back exact, every one.
    """
    return f"={float(value)!r}"


def epoch_sheet(epoch: int) -> str:
    return f"epoch {epoch}"


def column_letter(col: int) -> str:
    letters = ""
    while col:
        col, rest = divmod(col - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


@dataclass(frozen=True)
class Block:
    """One matrix on one sheet: its label row, then rows x cols cells from (top, FIRST_COL)."""

    sheet: str
    name: str
    label_row: int
    rows: int
    cols: int

    @property
    def top(self) -> int:
        return self.label_row + 1

    def ref(self, absolute: bool = False, col: int | None = None) -> str:
        """A1 range of the block (or of one of its columns, 0-based), without the sheet."""
        if col is None:
            first, last = FIRST_COL, FIRST_COL + self.cols - 1
        else:
            first = last = FIRST_COL + col
        d = "$" if absolute else ""
        a = f"{d}{column_letter(first)}{d}{self.top}"
        b = f"{d}{column_letter(last)}{d}{self.top + self.rows - 1}"
        return a if a == b else f"{a}:{b}"

    def qualified(self, here: str, absolute: bool = False, col: int | None = None) -> str:
        """The range as a formula on sheet `here` refers to it."""
        ref = self.ref(absolute, col)
        return ref if self.sheet == here else f"'{self.sheet}'!{ref}"


@dataclass(frozen=True)
class Layout:
    """Where every matrix of a workbook for a case of these dimensions lives."""

    dims: tuple[int, int, int, int]  # samples, features, hidden units, outputs
    epochs: int

    def shape(self, name: str) -> tuple[int, int]:
        return steps.shape_of(name, *self.dims)

    def _stack(self, sheet: str, names) -> dict[str, Block]:
        blocks, row = {}, TOP
        for name in names:
            rows, cols = self.shape(name)
            blocks[name] = Block(sheet, name, row, rows, cols)
            row += rows + 2  # the label row, the matrix, a blank row
        return blocks

    @property
    def lr_cell(self) -> str:
        return f"'{INPUTS}'!$B${TOP}"

    def inputs(self) -> dict[str, Block]:
        """The inputs sheet: lr (one cell, row TOP), then X, y and the starting weights."""
        blocks = self._stack(INPUTS, steps.DATA + steps.STATE)
        return {n: Block(b.sheet, n, b.label_row + 2, b.rows, b.cols) for n, b in blocks.items()}

    def epoch(self, epoch: int) -> dict[str, Block]:
        return self._stack(epoch_sheet(epoch), steps.NAMES)

    def check_fits(self, name: str) -> None:
        """BadInput where a sheet would need more columns or rows than a spreadsheet has
        (LibreOffice 7.4 and Excel: 16,384 columns, 1,048,576 rows): LibreOffice cut the
        17,000-unit bias at 16,383 values, and run --spreadsheet waited for its --timeout."""
        blocks = [*self.inputs().values(), *self.epoch(1).values()]
        columns = FIRST_COL + max(b.cols for b in blocks) - 1
        rows = max(b.top + b.rows - 1 for b in blocks)
        if columns > MAX_COLUMNS or rows > MAX_ROWS:
            raise BadInput(
                f"{name}: its workbook would need {columns:,} columns and {rows:,} rows on a "
                f"sheet, where a spreadsheet holds {MAX_COLUMNS:,} columns and {MAX_ROWS:,} "
                "rows (LibreOffice Calc, Excel): a case this large is checked by nnparity run"
            )

    def start_of(self, epoch: int) -> dict[str, Block]:
        """The blocks holding the weights epoch `epoch` starts from."""
        source = self.inputs() if epoch == 1 else self.epoch(epoch - 1)
        return {name: source[name] for name in steps.STATE}

    def formula(self, epoch: int, name: str, col: int | None = None) -> str:
        """The formula of block `name` at `epoch` (of one column, for a per-column step)."""
        here = epoch_sheet(epoch)
        inputs, this, start = self.inputs(), self.epoch(epoch), self.start_of(epoch)
        refs = {n: inputs[n].qualified(here, absolute=True) for n in steps.DATA}
        refs |= {n: b.qualified(here) for n, b in this.items()}
        refs |= {n: b.qualified(here) for n, b in start.items()}  # weights: the epoch's start
        refs["lr"] = self.lr_cell
        if name in PER_COLUMN:
            # the delta the bias update sums: its input in steps.csv other than itself and lr
            summed = next(i for i in steps.BY_NAME[name].inputs if i not in (name, "lr"))
            refs[summed] = this[summed].qualified(here, col=col)
            refs[name] = start[name].qualified(here, col=col)
        return "=" + FORMULAS[name].format(**refs)


def explain_cells(dims, epoch: int, names, start: bool = False) -> str:
    """For `nnparity explain`: where each matrix sits in the workbook, and its formula.

    With ``start``, the matrices are the weights `epoch` starts from (step 1).
    """
    from .spreadsheet import MAX_EPOCHS  # it imports this module

    layout = Layout(tuple(dims), epoch)
    how = (f"nnparity workbook --epochs {epoch}" if epoch <= MAX_EPOCHS else
           f"where a workbook would lay epoch {epoch} out; one holds at most {MAX_EPOCHS}")
    lines = [f"Spreadsheet ({how}; LibreOffice or Excel)"]
    for name in names:
        if start:
            block = layout.start_of(epoch)[name]
            what = "the case's numbers, typed in" if epoch == 1 else f"epoch {epoch - 1}'s update"
            lines.append(f"  {name}: '{block.sheet}'!{block.ref()}, {what}")
            continue
        block = layout.epoch(epoch)[name]
        lines.append(f"  {name}: '{block.sheet}'!{block.ref()}")
        if name in PER_COLUMN:
            cells = [layout.formula(epoch, name, col=j) for j in range(min(block.cols, 2))]
            more = ", ..." if block.cols > 2 else ""
            each = "one formula per column: " if block.cols > 1 else ""
            lines.append(f"    {each}{', '.join(cells)}{more}")
        else:
            lines.append(f"    {{{layout.formula(epoch, name)}}} (one array formula)")
    return "\n".join(lines)


#: How nnparity recognises its own workbook, which --out may replace: its content is exactly
#: what nnparity wrote. docProps/core.xml (the document's properties) holds the creator and
#: last editor "nnparity" and, as its keywords, SEAL: a sha256 of every part of the workbook
#: (names and bytes, in name order) as nnparity wrote them, the properties too, with the seal
#: itself read as the placeholder it replaced (a title or subject edited alone changes it).
#: ``changed_since_written`` recomputes it: an edit saved by LibreOffice, Excel or openpyxl
#: (which keep the creator and last editor) rewrites the parts, so the digest no longer
#: matches and the file is the user's. The seal covers the parts only: bytes before or after
#: the zip, or a zip comment, make it the user's too (``_zip_alone``).
#: A file nnparity cannot read (damaged, encrypted, an unknown compression) is not its own.
SIGNATURE = "nnparity"
SEAL = "nnparity-sha256:"
CORE = "docProps/core.xml"
CORE_XML = {
    "dc": "http://purl.org/dc/elements/1.1/",
    "cp": "http://schemas.openxmlformats.org/package/2006/metadata/core-properties",
}


def _digest(archive: zipfile.ZipFile, core: bytes) -> str:
    """The sha256 of every part, CORE read as `core` (its seal back to the placeholder): each
    name, its length and its bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(archive.namelist()):
        digest.update(name.encode() + b"\0")
        if name == CORE:
            data = core
        else:
            with archive.open(name) as part:
                data = part.read()
        digest.update(data)
        digest.update(b"\0%d\0" % len(data))
    return digest.hexdigest()


def changed_since_written(path: Path) -> str | None:
    """Why ``path`` is not a workbook nnparity wrote, unchanged since (None when it is one)."""
    try:
        with zipfile.ZipFile(path) as archive:
            data = archive.read(CORE)
            core = ElementTree.fromstring(data)
            signed = (core.findtext("dc:creator", namespaces=CORE_XML),
                      core.findtext("cp:lastModifiedBy", namespaces=CORE_XML))
            if signed != (SIGNATURE, SIGNATURE):
                return "not_ours"
            seal = core.findtext("cp:keywords", namespaces=CORE_XML) or ""
            unsealed = data.replace(seal.encode(), _PLACEHOLDER.encode(), 1)
            sealed = seal.startswith(SEAL) and seal[len(SEAL):] == _digest(archive, unsealed)
            if not sealed or not _zip_alone(path):
                return "changed"
    # Whatever reading a stranger's zip raises (a bad header, an encrypted or damaged part,
    # an unknown compression: NotImplementedError, RuntimeError, zlib.error): not nnparity's.
    except Exception:
        return "not_ours"
    return None


def _zip_alone(path: Path) -> bool:
    """Whether the file is a zip and nothing more, as nnparity writes it: no bytes before its
    first part or after its end record, no zip comment (the seal covers only the parts)."""
    with open(path, "rb") as handle:
        head = handle.read(4)
        handle.seek(-22, os.SEEK_END)
        end = handle.read(22)
    # the end of central directory record, its comment length (the last 2 bytes) 0
    return head == b"PK\x03\x04" and end[:4] == b"PK\x05\x06" and end[20:] == b"\0\0"


def _ours(path: Path) -> bool | str:
    """check_file's ``ours`` for a workbook: True, False or why not (an edit saved over it)."""
    why = changed_since_written(path)
    if why == "changed":
        return "is a workbook nnparity wrote, changed since nnparity wrote it (an edit saved)"
    return why is None


def _sealed(xlsx: bytes) -> bytes:
    """The workbook openpyxl wrote, its core properties' keywords set to SEAL and the digest."""
    with zipfile.ZipFile(io.BytesIO(xlsx)) as archive:
        digest = _digest(archive, archive.read(CORE))
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as sealed:
            for info in archive.infolist():
                data = archive.read(info)
                if info.filename == CORE:
                    data = data.replace(_PLACEHOLDER.encode(), (SEAL + digest).encode())
                sealed.writestr(info, data)
    return out.getvalue()


#: The keywords openpyxl writes, replaced by the seal once the other parts are written.
_PLACEHOLDER = SEAL + "0" * 64


def inputs_differ(path: Path, case: Case) -> str | None:
    """Why the workbook at `path` does not start from `case`'s inputs (lr, X, y, the starting
    weights, as its inputs sheet holds them), or None when it does (``read_inputs``)."""
    return read_inputs(path, case)[0]


def read_inputs(path: Path, case: Case) -> tuple[str | None, frozenset[str]]:
    """Whether the workbook at `path` starts from `case`'s inputs: why not (or None), and
    the inputs (lr, X ...) it holds only as LibreOffice saves them (``as_saved``)."""
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True)
    try:
        if INPUTS not in book.sheetnames:
            return f"has no sheet '{INPUTS}'", frozenset()
        blocks = Layout(case.dims, 1).inputs()
        last = max(b.top + b.rows for b in blocks.values())
        rows = list(book[INPUTS].iter_rows(min_row=1, max_row=last,
                                           max_col=FIRST_COL + max(case.dims), values_only=True))
    finally:
        book.close()

    def at(row: int, col: int):
        cells = rows[row - 1] if row <= len(rows) else ()
        return cells[col - 1] if col <= len(cells) else None

    lr = _matches(at(TOP, FIRST_COL), float(case.lr))
    if lr is None:
        shown = _shown_cell(at(TOP, FIRST_COL))
        return f"its lr (inputs!B{TOP}) is {shown}, the case's is {case.lr!r}", frozenset()
    rounded = {"lr"} if lr == "saved" else set()
    for name, block in blocks.items():
        title = f"{name} ({block.rows} x {block.cols})"
        if at(block.label_row, 1) != title:
            return (f"inputs!A{block.label_row} says {at(block.label_row, 1)!r} where a "
                    f"workbook of this case says {title!r} (a workbook of another case?)"
                    ), frozenset(rounded)
        value = getattr(case, name)
        for i in range(block.rows):
            for j in range(block.cols):
                cell = at(block.top + i, FIRST_COL + j)
                match = _matches(cell, float(value[i, j]))
                if match is None:
                    return (f"its {name}[{i + 1}, {j + 1}] is {_shown_cell(cell)}, the case's is "
                            f"{float(value[i, j])!r}"), frozenset(rounded)
                if match == "saved":
                    rounded.add(name)
    return None, frozenset(rounded)


def _matches(cell, value: float) -> str | None:
    """"exact" when the cell holds `value` bit for bit, "saved" when it holds it as LibreOffice
    saves it (``as_saved``), None otherwise."""
    number = _number(cell)
    if number is None:
        return None
    if same_bits(np.float64(number), np.float64(value)):
        return "exact"
    return "saved" if number in as_saved(value) else None


def as_saved(value: float) -> tuple[float, float]:
    """`value` as a save by LibreOffice's .xlsx writer leaves it: 15 significant digits.

    LibreOffice 7.4 writes each constant formula (=1.1421646738098534) with 15 significant
    digits, its shortest decimal rounded half up (=1.14216467380985; 1.072711081200215
    becomes =1.07271108120022), and recalculates from that text: the full double is in
    neither the formula nor its cached value. Also the correctly rounded 15 digits (which
    differ from LibreOffice's in 1 of 20 numbers), in case another writer rounds so.
    """
    digits = Decimal(repr(value))
    if not digits.is_finite() or digits.is_zero():
        return value, value
    step = Decimal(1).scaleb(digits.adjusted() - 14)
    return float(digits.quantize(step, rounding=ROUND_HALF_UP)), float(f"{value:.15g}")


def epochs_differ(path: Path, case: Case, epochs: int) -> str | None:
    """Why the epoch sheets of the workbook at `path` cannot be read as nnparity lays them out
    (or None): a block's labels not where nnparity put them (a row or a column inserted or
    deleted), or a step cell holding a number typed in instead of a formula, which would be
    read as if LibreOffice had computed it."""
    from openpyxl import load_workbook

    layout = Layout(case.dims, epochs)
    book = load_workbook(path, read_only=True)
    try:
        for epoch in range(1, epochs + 1):
            why = _epoch_differs(book[epoch_sheet(epoch)], layout.epoch(epoch), epoch)
            if why:
                return why
    finally:
        book.close()
    return None


def _epoch_differs(ws, blocks: dict[str, Block], epoch: int) -> str | None:
    from openpyxl.worksheet.formula import ArrayFormula

    last = max(b.top + b.rows - 1 for b in blocks.values())
    cells, arrays = {}, []  # (row, col) -> cell; the ranges array formulas fill
    cols = FIRST_COL + max(b.cols for b in blocks.values())
    for row in ws.iter_rows(min_row=1, max_row=last, max_col=cols):
        for cell in row:
            if getattr(cell, "row", None) is None:  # an empty cell of a read-only sheet
                continue
            cells[cell.row, cell.column] = cell
            if isinstance(cell.value, ArrayFormula):
                arrays.append(_bounds(cell.value.ref))

    def text(row: int) -> object:
        cell = cells.get((row, 1))
        return None if cell is None else cell.value

    sheet = f"'{ws.title}'"
    for name, block in blocks.items():
        title = f"step {steps.BY_NAME[name].step}: {name} ({block.rows} x {block.cols})"
        labels = [(block.label_row, title)]
        labels += [(block.top + i, f"  row {i + 1}") for i in range(block.rows)]
        for row, label in labels:
            if text(row) != label:
                return (f"{sheet}!A{row} says {text(row)!r} where nnparity put {label.strip()!r} "
                        f"of {name}: a row or column inserted or deleted? Blocks are read where "
                        "nnparity workbook writes them; undo the change, or write the workbook "
                        "again")
        for i in range(block.rows):
            for j in range(block.cols):
                row, col = block.top + i, FIRST_COL + j
                cell = cells.get((row, col))
                typed = cell is not None and cell.data_type == "n" and cell.value is not None
                in_array = any(r0 <= row <= r1 and c0 <= col <= c1 for r0, c0, r1, c1 in arrays)
                where = (f"{sheet}!{column_letter(col)}{row} (epoch {epoch}, step "
                         f"{steps.BY_NAME[name].step} ({name}), cell [{i + 1}, {j + 1}])")
                if typed and not in_array:
                    return (f"{where} holds the number {cell.value!r}, typed in, not a formula: "
                            "the spreadsheet computes nothing there; restore its formula, or "
                            "write the workbook again")
                pasted = _reads_no_cell(cell)
                if pasted is not None:
                    return (f"{where} holds {pasted}, which reads no cell: a value typed in, "
                            "not computed by the spreadsheet; restore its formula, or write "
                            "the workbook again")
    return None


#: A cell reference in a formula: B5, $B$5, 'epoch 1'!B5 (a function's name, LOG10(, is none).
CELL_REFERENCE = re.compile(r"(?<![A-Za-z0-9_.])\$?[A-Za-z]{1,3}\$?[0-9]+(?![0-9A-Za-z_(.])")


def _reads_no_cell(cell) -> str | None:
    """A step cell that computes nothing: a formula reading no cell (="0.6773...", =0.6773),
    or a number held as text, shown as a refusal names it; None for any other cell."""
    from openpyxl.worksheet.formula import ArrayFormula

    value = None if cell is None else cell.value
    if isinstance(value, ArrayFormula):  # the first cell of an array formula's range
        value = value.text
    if not isinstance(value, str):
        return None
    if value.startswith("="):
        quoted = re.sub(r'"[^"]*"', '""', value)  # a cell named inside quotes reads none
        return None if CELL_REFERENCE.search(quoted) else f"the formula {value!r}"
    try:
        float(value)
    except ValueError:
        return None
    return f"the text {value!r}"


def _bounds(ref: str) -> tuple[int, int, int, int]:
    """An A1 range ("B4:D9", "B4") as (first row, first col, last row, last col)."""
    from openpyxl.utils.cell import range_boundaries

    c0, r0, c1, r1 = range_boundaries(ref)
    return r0, c0, r1, c1


def _shown_cell(cell) -> str:
    """A cell of the inputs sheet as a refusal quotes it: a formula that is not one number is
    named as such (=1/10 is read as no number: nnparity writes each input as =<number>)."""
    if isinstance(cell, str) and cell.startswith("=") and _number(cell) is None:
        return f"the formula {cell!r}, not a number (an input is typed as =0.1)"
    return repr(cell)


def _number(cell) -> float | None:
    """A cell's number: typed in (0.42) or as nnparity writes one (=0.42); None otherwise."""
    if isinstance(cell, bool):
        return None
    if isinstance(cell, (int, float)):
        return float(cell)
    if isinstance(cell, str) and cell.startswith("="):
        try:
            return float(cell[1:])
        except ValueError:
            return None
    return None


def write_workbook(case: Case, epochs: int, out: Path | str) -> Path:
    """Write the workbook to `out` atomically: a temporary file beside it, then a rename.

    `out` may be new or a workbook nnparity wrote, unchanged since
    (``changed_since_written``); anything else there is refused (OutputError), untouched.
    """
    from openpyxl import Workbook

    layout = Layout(case.dims, epochs)
    layout.check_fits(case.name)
    path = check_file(out, "the workbook", _ours)
    wb = Workbook()
    wb.properties.creator = wb.properties.lastModifiedBy = SIGNATURE
    wb.properties.keywords = _PLACEHOLDER
    _inputs_sheet(wb.active, case, layout)
    for epoch in range(1, epochs + 1):
        _epoch_sheet(wb.create_sheet(epoch_sheet(epoch)), case, layout, epoch)
    # Built in memory, then written in one go: openpyxl leaves its zip file open when a write
    # fails (a full disk), and Python would print its failed close at exit.
    buffer = io.BytesIO()
    wb.save(buffer)
    sealed = _sealed(buffer.getvalue())
    with staged_file(path) as tmp:
        tmp.write_bytes(sealed)
    return Path(out)


def _fonts():
    from openpyxl.styles import Font

    return Font(bold=True), Font(italic=True, color="555555")  # titles, formulas


def _inputs_sheet(ws, case: Case, layout: Layout) -> None:
    """The inputs sheet: lr, the case's data and the starting weights, typed in as constants."""
    bold, dim = _fonts()
    ws.title = INPUTS
    ws["A1"] = f"{case.name}: the inputs (step 1). Change a weight: every epoch sheet follows."
    ws["A1"].font = bold
    ws.cell(TOP, 1, "lr (learning rate)").font = bold
    ws.cell(TOP, FIRST_COL, constant(case.lr)).number_format = NUMBER_FORMAT
    for name, block in layout.inputs().items():
        label = "the case's data" if name in steps.DATA else "step 1: initialise weights and biases"
        _label(ws, block, f"{name} ({block.rows} x {block.cols})", label, bold, dim)
        for i, row in enumerate(getattr(case, name)):
            for j, value in enumerate(row):
                ws.cell(block.top + i, FIRST_COL + j, constant(value)).number_format = NUMBER_FORMAT
    _finish(ws, max(case.dims) + 1)


def _epoch_sheet(ws, case: Case, layout: Layout, epoch: int) -> None:
    """One epoch's sheet: steps 2 to 11 as formulas over the previous sheet's weights."""
    from openpyxl.worksheet.formula import ArrayFormula

    bold, dim = _fonts()
    ws["A1"] = f"{case.name}, epoch {epoch}: steps 2 to 11 (formulas; weights from " + (
        "inputs)" if epoch == 1 else f"'{epoch_sheet(epoch - 1)}')")
    ws["A1"].font = bold
    for name, block in layout.epoch(epoch).items():
        q = steps.BY_NAME[name]
        _label(ws, block, f"step {q.step}: {name} ({block.rows} x {block.cols})",
               q.formula, bold, dim)
        if name in PER_COLUMN:
            for j in range(block.cols):
                cell = ws.cell(block.top, FIRST_COL + j, layout.formula(epoch, name, col=j))
                cell.number_format = NUMBER_FORMAT
            continue
        ref = block.ref()
        ws.cell(block.top, FIRST_COL).value = ArrayFormula(ref, layout.formula(epoch, name))
        for row in ws[ref] if ":" in ref else ((ws[ref],),):
            for cell in row:
                cell.number_format = NUMBER_FORMAT
    _finish(ws, max(case.dims) + 1)


def _label(ws, block: Block, title: str, formula: str, bold, dim) -> None:
    ws.cell(block.label_row, 1, title).font = bold
    ws.cell(block.label_row, FIRST_COL, formula).font = dim
    for i in range(block.rows):
        ws.cell(block.top + i, 1, f"  row {i + 1}")


def _finish(ws, cols: int) -> None:
    """Readable widths; the label column and the title row stay in view while scrolling."""
    ws.column_dimensions["A"].width = 44
    for col in range(FIRST_COL, FIRST_COL + cols):
        ws.column_dimensions[column_letter(col)].width = 22
    ws.freeze_panes = f"{column_letter(FIRST_COL)}2"
    ws.page_setup.orientation = "landscape"  # printed (or rendered to PDF): one page wide
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True


# ---- the command ------------------------------------------------------------------------------


def add_parser(sub) -> None:
    p = sub.add_parser(
        "workbook",
        help="write the article's spreadsheet (.xlsx): every step of every epoch as formulas",
    )
    add_case_option(p)
    p.add_argument("--epochs", default="1",
                   help="epochs, one sheet each (default: 1, the article's walkthrough)")
    p.add_argument("--out", type=Path, required=True, metavar="FILE.xlsx",
                   help="the workbook to write: a new file, or one nnparity wrote earlier and "
                   "no one has changed since (replaced whole); any other file there, an edited "
                   "workbook included, is left as it was")
    p.set_defaults(handler=command_workbook)


def command_workbook(args, console, err) -> int:
    with bad_input():
        case = load_case(args.case)
        epochs = parse_epochs_option("--epochs", args.epochs)
        from .spreadsheet import MAX_EPOCHS  # it imports this module

        if epochs > MAX_EPOCHS:
            raise BadInput(f"--epochs: {epochs} epochs is more than the {MAX_EPOCHS} a workbook "
                           "holds (one sheet per epoch, as run --spreadsheet checks)")
        if Path(args.out).suffix.lower() != ".xlsx":
            raise BadInput(f"{args.out}: the workbook's name must end in .xlsx")
        out = write_workbook(case, epochs, args.out)
    write_out(console, err, lambda: console.print(
        f"workbook written: {out} ({case.name}, {epochs} epoch{'s' if epochs != 1 else ''}; "
        "open it in LibreOffice Calc or Excel)", highlight=False, markup=False, soft_wrap=True))
    return OK
