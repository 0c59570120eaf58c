"""The article's spreadsheet as a third implementation, recalculated by LibreOffice.

Runs in `tox -e spreadsheet` (which sets NNPARITY_SPREADSHEET=1); LibreOffice
(libreoffice-calc-nogui, python3-uno) comes from scripts/setup-system.sh.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.formula import ArrayFormula

from nnparity import calc, cli, policy, steps
from nnparity.cases import FIXTURES, load_case, names
from nnparity.compare import Comparison
from nnparity.ports import PythonPort
from nnparity.workbook import INPUTS, Layout, epoch_sheet, write_workbook

pytestmark = pytest.mark.skipif(
    os.environ.get("NNPARITY_SPREADSHEET") != "1",
    reason="the spreadsheet checks run in `tox -e spreadsheet`",
)

#: Epochs of the article's case checked against both languages through the CLI, as
#: many as stay under a minute: measured on two shared cores, the whole command
#: (R, Python, writing the workbook, LibreOffice, three comparisons) took 24 s for
#: 200 epochs and 49 s for 500; 400 leaves room for a slower machine.
ARTICLE_EPOCHS = 400
FEW_EPOCHS = 3


def python_trace(case, epochs: int) -> dict[str, np.ndarray]:
    port = PythonPort()
    port.start(case)
    return port.advance(epochs)


def recalculated(case, epochs: int, tmp_path: Path) -> dict[str, np.ndarray]:
    path = write_workbook(case, epochs, tmp_path / f"{case.name}.xlsx")
    return calc.read_trace(calc.recalculate(path), case.dims, epochs)


def spreadsheet_report(case, python, sheet, epochs: int):
    c = Comparison(case, "free", sides=("Python", "spreadsheet"), bound=policy.spreadsheet_bound)
    c.add(python, sheet, epochs, case.state())
    return c.report()


def test_workbook_cells_hold_formulas_and_only_the_inputs_are_typed_in(tmp_path, article):
    path = write_workbook(article, 2, tmp_path / "a.xlsx")
    wb = load_workbook(path)
    assert wb.sheetnames == [INPUTS, epoch_sheet(1), epoch_sheet(2)]
    layout = Layout(article.dims, 2)
    for epoch in (1, 2):
        ws = wb[epoch_sheet(epoch)]
        numbers = [c.coordinate for row in ws.iter_rows() for c in row
                   if isinstance(c.value, int | float)]
        assert numbers == [], f"epoch {epoch} has values pasted in at {numbers[:5]}"
        for name, block in layout.epoch(epoch).items():
            top = ws.cell(block.top, 2).value
            text = top.text if isinstance(top, ArrayFormula) else top
            assert isinstance(text, str) and text.startswith("="), (
                f"epoch {epoch}, {name} at {block.ref()} holds {top!r}, not a formula"
            )
        assert ws.freeze_panes == "B2", "the label column and title row should stay in view"
    inputs = wb[INPUTS]
    for name, block in layout.inputs().items():
        typed = inputs.cell(block.top, 2).value
        assert typed == f"={float(getattr(article, name)[0, 0])!r}", (
            f"inputs {name}[1,1] should be the case's number as a constant, is {typed!r}"
        )


def test_workbook_refuses_a_folder_and_leaves_it_as_it_was(tmp_path, capsys):
    target = tmp_path / "out.xlsx"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    code = cli.main(["workbook", "--case", "article", "--out", str(target)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, f"expected one line and exit 2, got {code}: {err!r}"
    assert (target / "keep.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.xlsx"], "a temporary file was left"


def test_recalculation_ignores_the_values_a_file_carries(tmp_path, article):
    """A formula's cached value in the file is stale on purpose: LibreOffice must recompute it."""
    path = write_workbook(article, 1, tmp_path / "a.xlsx")
    stale = tmp_path / "stale.xlsx"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(stale, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet2.xml":
                data, n = re.subn(rb"(SUM\([^<]*</f>)<v ?/>", rb"\g<1><v>999</v>", data)
                cells = article.bout.size + article.bh.size
                assert n == cells, f"expected {cells} bias cells (SUM formulas), found {n}"
            dst.writestr(item, data)
    sheet = calc.read_trace(calc.recalculate(stale), article.dims, 1)
    python = python_trace(article, 1)
    for name in ("bout", "bh"):
        assert not np.any(sheet[name] == 999), f"{name} kept the stale cached value 999"
        np.testing.assert_allclose(sheet[name], python[name], rtol=0, atol=1e-15,
                                   err_msg=f"{name} was not recomputed from its formula")


@pytest.fixture(scope="module")
def every_case(tmp_path_factory) -> dict[str, tuple]:
    """Every case's workbook, FEW_EPOCHS epochs, recalculated in one LibreOffice session."""
    folder = tmp_path_factory.mktemp("workbooks")
    cases = [load_case(name) for name in names()]
    paths = [write_workbook(case, FEW_EPOCHS, folder / f"{case.name}.xlsx") for case in cases]
    return {
        case.name: (case, values, calc.read_trace(values, case.dims, FEW_EPOCHS))
        for case, values in zip(cases, calc.recalculate_all(paths), strict=True)
    }


@pytest.fixture(params=names())
def few_epochs(request, every_case):
    return every_case[request.param]


def test_every_case_workbook_matches_python_for_a_few_epochs(few_epochs):
    case, _, sheet = few_epochs
    report = spreadsheet_report(case, python_trace(case, FEW_EPOCHS), sheet, FEW_EPOCHS)
    first = report.first_violation
    assert report.passed, (
        f"{case.name}: the recalculated workbook differs from Python beyond the spreadsheet "
        f"bound at {first.where() if first else report.problems}: "
        f"{first.values() if first else ''}"
    )


def test_every_case_workbook_reads_its_inputs_bit_for_bit(few_epochs):
    """LibreOffice sees the case's doubles exactly (it misreads number cells, not constants)."""
    case, values, _ = few_epochs
    for name, block in Layout(case.dims, FEW_EPOCHS).inputs().items():
        rows = values[INPUTS][block.top - 1 : block.top - 1 + block.rows]
        read = np.array([row[1 : 1 + block.cols] for row in rows], dtype=np.float64)
        expected = getattr(case, name)
        differ = np.argwhere(read.view(np.int64) != expected.view(np.int64))
        assert not len(differ), (
            f"{case.name}: LibreOffice read {name}{tuple(differ[0] + 1)} as "
            f"{read[tuple(differ[0])]!r}, the case holds {expected[tuple(differ[0])]!r}"
        )


WALKTHROUGH = pd.read_csv(FIXTURES / "article" / "walkthrough-epoch1.csv")


@pytest.fixture
def article_epoch_one(every_case):
    _, values, trace = every_case["article"]
    return values, trace  # epoch 1 is the walkthrough


@pytest.mark.parametrize("row", list(WALKTHROUGH.itertuples(index=False)),
                         ids=lambda r: f"step{r.step}-{r.matrix}[{r.row},{r.col}]")
def test_workbook_reproduces_the_printed_number_to_one_unit_in_its_last_digit(article_epoch_one,
                                                                              row):
    values, trace = article_epoch_one
    if row.step == 1:
        block = Layout(load_case("article").dims, 1).inputs()[row.matrix]
        value = values[INPUTS][block.top - 1 + row.row - 1][row.col]
    else:
        value = trace[row.matrix][0, row.row - 1, row.col - 1]
    unit = 10.0 ** -row.decimals
    assert abs(value - row.printed) <= unit * (1 + 1e-9), (
        f"the workbook's step {row.step} {row.matrix}[{row.row},{row.col}] = {value:.6f}, "
        f"the article prints {row.printed:.{row.decimals}f}"
    )


def test_article_spreadsheet_agrees_with_python_and_r_over_many_epochs(capsys, r_available):
    code = cli.main(["run", "--case", "article", "--spreadsheet", "--epochs",
                     str(ARTICLE_EPOCHS), "--mode", "free"])
    out = capsys.readouterr().out
    assert code == 0, f"expected parity with the spreadsheet, got exit {code}:\n{out[-3000:]}"
    assert "Python against the spreadsheet" in out and "R against the spreadsheet" in out
    assert "SPREADSHEET PARITY HOLDS" in out


def break_hidden_bias(path: Path, out: Path, epoch: int = 1) -> None:
    """The article's classic slip: the hidden bias added to the first sample only."""
    wb = load_workbook(path)
    ws = wb[epoch_sheet(epoch)]
    block = Layout(load_case("article").dims, epoch).epoch(epoch)["hidden_layer_input"]
    formula = ws.cell(block.top, 2).value.text
    assert formula.startswith("=MMULT(") and formula.endswith(")+'inputs'!B22:D22"), formula
    product = formula[1 : formula.rindex("+")]
    first, rest = f"B{block.top}:D{block.top}", f"B{block.top + 1}:D{block.top + block.rows - 1}"
    x_rows = re.search(r"\$B\$(\d+):\$E\$(\d+)", product)
    top, bottom = int(x_rows.group(1)), int(x_rows.group(2))
    ws.cell(block.top, 2).value = ArrayFormula(
        first, "=" + product.replace(x_rows.group(0), f"$B${top}:$E${top}") + "+'inputs'!B22:D22")
    ws.cell(block.top + 1, 2).value = ArrayFormula(
        rest, "=" + product.replace(x_rows.group(0), f"$B${top + 1}:$E${bottom}"))
    wb.save(out)


def test_a_broken_formula_fails_and_is_named_at_its_step(tmp_path, capsys, r_available):
    good = write_workbook(load_case("article"), FEW_EPOCHS, tmp_path / "good.xlsx")
    broken = tmp_path / "broken.xlsx"
    break_hidden_bias(good, broken)
    code = cli.main(["run", "--case", "article", "--spreadsheet", str(broken), "--epochs",
                     str(FEW_EPOCHS), "--mode", "free"])
    out = capsys.readouterr().out
    assert code == 1, f"a workbook without the hidden bias on rows 2-3 passed:\n{out[-2000:]}"
    verdict = out.strip().splitlines()[-1]
    assert "epoch 1, step 2 (hidden_layer_input), cell [2, 1]" in verdict, (
        f"the verdict should name epoch 1, step 2, row 2, where the bias is missing: {verdict}"
    )


def test_libreoffice_missing_is_one_line_naming_the_fix_and_exit_2(monkeypatch, tmp_path,
                                                                   capsys, r_available):
    monkeypatch.delenv("NNPARITY_SOFFICE", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert shutil.which("soffice") is None
    code = cli.main(["run", "--case", "article", "--spreadsheet", "--epochs", "2"])
    err = capsys.readouterr().err
    assert code == 2, f"expected exit 2 (bad input), got {code}"
    assert err.count("\n") == 1 and "libreoffice-calc-nogui" in err, err


def test_a_workbook_with_fewer_epochs_than_asked_is_bad_input(tmp_path, capsys, r_available):
    path = write_workbook(load_case("article"), 2, tmp_path / "two.xlsx")
    code = cli.main(["run", "--case", "article", "--spreadsheet", str(path), "--epochs", "3"])
    err = capsys.readouterr().err
    assert code == 2 and "no sheet 'epoch 3'" in err and err.count("\n") == 1, err


def test_steps_are_recorded_in_the_article_order():
    assert list(Layout((3, 4, 3, 1), 1).epoch(1)) == list(steps.NAMES)


def test_spreadsheet_with_a_learners_script_is_refused_not_skipped(tmp_path, capsys):
    script = tmp_path / "mine.R"
    script.write_text("# a learner's script\n")
    code = cli.main(["run", "--spreadsheet", "--r-script", str(script)])
    err = capsys.readouterr().err
    assert code == 2 and "--spreadsheet does not combine" in err and err.count("\n") == 1, err


def test_a_recalculation_that_takes_too_long_is_stopped_with_a_message(tmp_path, article):
    path = write_workbook(article, 1, tmp_path / "a.xlsx")
    with pytest.raises(calc.CalcError, match="did not finish recalculating within 0.01 s"):
        calc.recalculate(path, timeout=0.01)


#: A stand-in for calc_uno.py that does its work (every out file written whole), then
#: crashes as pyuno's bridge writer thread did once in CI, after the office was told to quit.
WRITES_THEN_CRASHES = """
import json, os, signal, sys
for job in json.load(open(sys.argv[2])):
    json.dump({"Sheet1": [[1.5]]}, open(job["out"], "w"))
os.kill(os.getpid(), signal.SIGSEGV)
"""
#: The same crash before it wrote anything.
CRASHES_AT_ONCE = "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n"


def fake_client(tmp_path, monkeypatch, source: str) -> None:
    script = tmp_path / "client.py"
    script.write_text(source)
    monkeypatch.setattr(calc, "UNO_SCRIPT", script)


def test_a_client_crash_after_every_workbook_was_read_keeps_the_values(tmp_path, monkeypatch,
                                                                       article):
    path = write_workbook(article, 1, tmp_path / "a.xlsx")
    fake_client(tmp_path, monkeypatch, WRITES_THEN_CRASHES)
    assert calc.recalculate(path) == {"Sheet1": [[1.5]]}, (
        "every workbook was read and written whole before the client crashed at its exit: "
        "the values should be used, not the run failed"
    )


def test_a_client_crash_before_the_values_are_read_names_the_signal(tmp_path, monkeypatch,
                                                                    article):
    path = write_workbook(article, 1, tmp_path / "a.xlsx")
    fake_client(tmp_path, monkeypatch, CRASHES_AT_ONCE)
    with pytest.raises(calc.CalcError) as failed:
        calc.recalculate(path)
    message = str(failed.value)
    assert str(path) in message and "stopped by SIGSEGV" in message, (
        f"the message should name the workbook and how LibreOffice's client ended: {message}"
    )


def test_a_workbook_of_another_case_is_bad_input_naming_what_differs(tmp_path, capsys):
    """It was compared, and said the spreadsheet first produced NaN with equal inputs."""
    path = write_workbook(load_case("article"), 2, tmp_path / "article.xlsx")
    one = tmp_path / "one"
    shutil.copytree(FIXTURES / "article", one)
    for name in ("X.csv", "y.csv"):
        (one / name).write_text((one / name).read_text().splitlines()[0] + "\n")
    code = cli.main(["run", "--case", str(one), "--spreadsheet", str(path), "--epochs", "2"])
    err = capsys.readouterr().err
    assert code == 2, f"a workbook of another case (3 samples; the case has 1) gave exit {code}"
    assert err.count("\n") == 1 and "X (3 x 4)" in err and "X (1 x 4)" in err, err


def test_a_workbook_whose_start_was_edited_is_bad_input_naming_the_cell(tmp_path, capsys):
    path = write_workbook(load_case("article"), 2, tmp_path / "w.xlsx")
    wb = load_workbook(path)
    wb["inputs"].cell(Layout(load_case("article").dims, 2).inputs()["wh"].top, 3).value = "=0.5"
    wb.save(path)
    code = cli.main(["run", "--case", "article", "--spreadsheet", str(path), "--epochs", "2"])
    err = capsys.readouterr().err
    assert code == 2 and "wh[1, 2]" in err and err.count("\n") == 1, err


def test_the_json_verdict_of_a_run_whose_spreadsheet_fails_does_not_say_it_holds(
    tmp_path, capsys, r_available
):
    good = write_workbook(load_case("article"), FEW_EPOCHS, tmp_path / "good.xlsx")
    broken = tmp_path / "broken.xlsx"
    break_hidden_bias(good, broken)
    code = cli.main(["run", "--case", "article", "--spreadsheet", str(broken), "--epochs",
                     str(FEW_EPOCHS), "--mode", "free", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1 and out["passed"] is False
    assert out["verdict"].startswith("SPREADSHEET PARITY FAILS"), out["verdict"]
    assert out["run_verdict"].startswith("PARITY HOLDS"), out["run_verdict"]


#: What can stop a spreadsheet run once Python and R have trained, before its outputs are in
#: place: a Ctrl-C while LibreOffice's values are compared, a full disk while the statistics
#: are written; and the exit code then.
LATE_STOPS = {
    "ctrl-c-while-comparing": ("compare", KeyboardInterrupt(), 130),
    "full-disk-at-the-statistics": ("to_csv", OSError(28, "No space left on device"), 2),
}


@pytest.mark.parametrize("stop", LATE_STOPS, ids=LATE_STOPS)
def test_a_spreadsheet_run_stopped_before_its_outputs_are_in_place_leaves_the_earlier_ones(
    tmp_path, monkeypatch, capsys, r_available, stop
):
    """--save-traces and --save-stats move in together after the spreadsheet is compared:
    the traces had been moved in before the spreadsheet read them, so a stop after that
    replaced the earlier traces while the statistics stayed the old run's."""
    from parity_tests.test_supervision import tree

    monkeypatch.chdir(tmp_path)
    command = ["run", "--case", "article", "--spreadsheet", "--mode", "free",
               "--save-traces", "t", "--save-stats", "s.csv"]
    assert cli.main([*command, "--epochs", "2"]) == 0, capsys.readouterr()
    capsys.readouterr()
    before = tree(tmp_path)
    where, error, code = LATE_STOPS[stop]

    def fails(*args, **kwargs):
        raise error

    from nnparity.spreadsheet import Spreadsheet

    monkeypatch.setattr(*((Spreadsheet, "compare") if where == "compare" else
                          (pd.DataFrame, "to_csv")), fails)
    got = cli.main([*command, "--epochs", "3"])
    capsys.readouterr()
    assert got == code, f"exit {got}, expected {code}"
    after = tree(tmp_path)
    changed = sorted(p for p in set(after) | set(before) if after.get(p) != before.get(p))
    assert not changed, (
        "a spreadsheet run stopped before its outputs moved in replaced the earlier ones, or "
        f"left something beside them: {changed}"
    )


@pytest.fixture
def no_training(monkeypatch):
    """A run that reaches its ports fails the test: what it checks must come first."""
    def trains(*args, **kwargs):
        raise AssertionError("the ports trained before the bad input was refused")

    monkeypatch.setattr(cli, "supervised_run", trains)


def one_line_exit_2(code: int, err: str, *names: str) -> None:
    assert code == 2 and err.count("\n") == 1 and all(n in err for n in names), (
        f"expected one line naming {names} and exit 2, got exit {code}: {err!r}"
    )


@pytest.mark.parametrize("value", ["abc", "10m", "nan", "inf", "0", "-5", ""])
def test_a_bad_calc_timeout_is_one_line_naming_it_before_anything_runs(monkeypatch, capsys,
                                                                        no_training, value):
    monkeypatch.setenv("NNPARITY_CALC_TIMEOUT", value)
    code = cli.main(["run", "--case", "article", "--spreadsheet", "--epochs", "2"])
    one_line_exit_2(code, capsys.readouterr().err, "NNPARITY_CALC_TIMEOUT", repr(value))


def test_a_bad_calc_timeout_leaves_every_other_command_alone(tmp_path):
    """It was read as nnparity's modules were imported: every command ended in a traceback."""
    import subprocess

    env = {**os.environ, "NNPARITY_CALC_TIMEOUT": "abc"}
    done = subprocess.run([sys.executable, "-m", "nnparity", "workbook", "--out",
                           str(tmp_path / "a.xlsx")], capture_output=True, text=True, env=env)
    assert done.returncode == 0 and "Traceback" not in done.stderr, (
        f"`nnparity workbook` does not recalculate anything, yet a bad NNPARITY_CALC_TIMEOUT "
        f"stopped it (exit {done.returncode}): {done.stderr[-500:]}"
    )


def program(tmp_path: Path, name: str, source: str, mode: int = 0o755) -> str:
    path = tmp_path / name
    path.write_text(source)
    path.chmod(mode)
    return str(path)


#: What NNPARITY_SOFFICE may wrongly name: nothing, a folder, a file that cannot be run.
BAD_SOFFICE = {
    "missing": lambda tmp: str(tmp / "no" / "soffice"),
    "a-folder": lambda tmp: str(tmp),
    "not-executable": lambda tmp: program(tmp, "soffice", "#!/bin/sh\n", 0o644),
}


@pytest.mark.parametrize("soffice", BAD_SOFFICE, ids=BAD_SOFFICE)
def test_an_nnparity_soffice_that_cannot_run_is_one_line_naming_it_before_anything_runs(
    monkeypatch, tmp_path, capsys, no_training, soffice
):
    """It ended the run in a traceback (FileNotFoundError, PermissionError) after training."""
    value = BAD_SOFFICE[soffice](tmp_path)
    monkeypatch.setenv("NNPARITY_SOFFICE", value)
    code = cli.main(["run", "--case", "article", "--spreadsheet", "--epochs", "2"])
    one_line_exit_2(code, capsys.readouterr().err, f"NNPARITY_SOFFICE={value}")


#: What NNPARITY_UNO_PYTHON may wrongly name: a file that cannot be run, a Python that hangs,
#: a Python without LibreOffice's uno module (this one).
BAD_UNO_PYTHON = {
    "not-executable": lambda tmp: program(tmp, "python3", "#!/bin/sh\n", 0o644),
    "hangs": lambda tmp: program(tmp, "python3", "#!/bin/sh\nexec sleep 30\n"),
    "without-uno": lambda tmp: sys.executable,
}


@pytest.mark.parametrize("python", BAD_UNO_PYTHON, ids=BAD_UNO_PYTHON)
def test_an_nnparity_uno_python_that_cannot_import_uno_is_one_line_naming_it(
    monkeypatch, tmp_path, capsys, no_training, python
):
    """A hung one ended in a TimeoutExpired traceback, one that could not run was
    '[Errno 13] Permission denied' without the variable's name."""
    from nnparity import installation

    monkeypatch.setattr(installation, "UNO_IMPORT_TIMEOUT", 2)
    value = BAD_UNO_PYTHON[python](tmp_path)
    monkeypatch.setenv("NNPARITY_UNO_PYTHON", value)
    code = cli.main(["run", "--case", "article", "--spreadsheet", "--epochs", "2"])
    one_line_exit_2(code, capsys.readouterr().err, f"NNPARITY_UNO_PYTHON={value}")


def test_an_soffice_that_exits_at_once_is_reported_as_such_not_waited_for(tmp_path,
                                                                         monkeypatch, article):
    """It was waited for 60 s, then reported as the client's NoConnectException."""
    import time

    path = write_workbook(article, 1, tmp_path / "a.xlsx")
    monkeypatch.setenv("NNPARITY_SOFFICE", shutil.which("false"))
    start = time.monotonic()
    with pytest.raises(calc.CalcError) as failed:
        calc.recalculate(path)
    took = time.monotonic() - start
    assert "exited with status 1 before LibreOffice recalculated" in str(failed.value), (
        f"the message should say soffice exited: {failed.value}"
    )
    assert took < 30, f"an soffice that exited at once was waited for {took:.0f} s"


#: Damage to a workbook's inputs sheet (xl/worksheets/sheet1.xml) that its sheet names survive:
#: what replaces the first row's end.
DAMAGED_INPUTS = {
    "mismatched-tag": "</c></rows>",
    "a-number-cell-holding-text": '</c><c r="Z1" t="n"><v>abc</v></c></row>',
    "a-date-cell-holding-no-date": '</c><c r="Z1" t="d"><v>not a date</v></c></row>',
    "a-bad-cell-reference": '</c><c r="1A"><v>1</v></c></row>',
}


@pytest.mark.parametrize("damage", DAMAGED_INPUTS, ids=DAMAGED_INPUTS)
def test_a_damaged_inputs_sheet_is_a_workbook_openpyxl_cannot_read(tmp_path, capsys, no_training,
                                                                    damage):
    """It ended in a traceback (ParseError, ValueError) as its inputs were compared."""
    good = write_workbook(load_case("article"), 2, tmp_path / "good.xlsx")
    damaged = tmp_path / "damaged.xlsx"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(damaged, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"</c></row>", DAMAGED_INPUTS[damage].encode(), 1)
            dst.writestr(item, data)
    code = cli.main(["run", "--case", "article", "--spreadsheet", str(damaged), "--epochs", "2"])
    one_line_exit_2(code, capsys.readouterr().err, f"{damaged}: not a workbook openpyxl can read")


@pytest.fixture(scope="module")
def saved_by_libreoffice(tmp_path_factory) -> Path:
    """Every case's workbook (2 epochs), opened and saved as .xlsx by LibreOffice, unchanged."""
    import subprocess

    folder = tmp_path_factory.mktemp("saved")
    written = [write_workbook(load_case(n), 2, folder / f"{n}.xlsx") for n in names()]
    profile = (folder / "profile").as_uri()
    subprocess.run([calc.soffice(), f"-env:UserInstallation={profile}", "--headless",
                    "--convert-to", "xlsx", "--outdir", str(folder / "saved"), *map(str, written)],
                   check=True, capture_output=True, timeout=300, env=calc.office_env())
    return folder / "saved"


@pytest.mark.parametrize("name", names())
def test_a_workbook_libreoffice_saved_unchanged_starts_from_its_cases_inputs(
    saved_by_libreoffice, name
):
    """It was refused for every case but article: LibreOffice writes each input formula with
    15 significant digits (=1.14216467380985 for 1.1421646738098534)."""
    from nnparity.workbook import read_inputs

    differs, rounded = read_inputs(saved_by_libreoffice / f"{name}.xlsx", load_case(name))
    assert differs is None, f"{name}: a workbook LibreOffice saved unchanged was refused: {differs}"


def test_a_run_on_a_workbook_libreoffice_saved_says_its_inputs_have_15_digits(
    saved_by_libreoffice, capsys, r_available
):
    path = saved_by_libreoffice / "square_weights.xlsx"
    code = cli.main(["run", "--case", "square_weights", "--mode", "free", "--spreadsheet",
                     str(path), "--epochs", "2"])
    out = capsys.readouterr().out
    verdict = out.strip().splitlines()[-1]
    assert code == 0 and verdict.startswith("SPREADSHEET PARITY HOLDS"), out[-2000:]
    assert "its inputs as LibreOffice saved them: 15 significant digits" in verdict, verdict
    assert "were the case's numbers on one side and rounded to 15 significant digits" in out, (
        "the first difference's story should not say the inputs were bitwise equal"
    )


#: An input LibreOffice's save does not make of 1.1421646738098534 (square_weights' X[1, 1]):
#: 14 digits, the 15-digit neighbours of its rounding.
NOT_AS_SAVED = ["=1.1421646738099", "=1.14216467380984", "=1.14216467380986"]


@pytest.mark.parametrize("typed", NOT_AS_SAVED)
def test_an_input_further_off_than_libreoffices_15_digits_is_still_refused(tmp_path, capsys,
                                                                          typed):
    case = load_case("square_weights")
    path = write_workbook(case, 2, tmp_path / "w.xlsx")
    wb = load_workbook(path)
    wb[INPUTS].cell(Layout(case.dims, 2).inputs()["X"].top, 2).value = typed
    wb.save(path)
    code = cli.main(["run", "--case", "square_weights", "--spreadsheet", str(path), "--epochs",
                     "2"])
    one_line_exit_2(code, capsys.readouterr().err, "X[1, 1]", typed)


@pytest.mark.parametrize("value, saved", [(1.1421646738098534, 1.14216467380985),
                                          (-0.8687935950153605, -0.868793595015361),
                                          (1.072711081200215, 1.07271108120022)])
def test_libreoffice_saves_an_input_as_its_shortest_decimal_rounded_half_up_to_15_digits(value,
                                                                                       saved):
    """Measured on LibreOffice 7.4: the last two are not the correctly rounded 15 digits."""
    from nnparity.workbook import as_saved

    assert saved in as_saved(value), f"{value!r} is saved as {saved!r}, not {as_saved(value)}"


#: Layout edits in an epoch sheet: where a row or a column goes in, and the block of the
#: article's workbook that is first out of place (its label row).
LAYOUT_EDITS = {
    "a-row-in-epoch-2": (epoch_sheet(2), "insert_rows", 28, "step 6: slope_output_layer"),
    "a-row-atop-epoch-1": (epoch_sheet(1), "insert_rows", 1, "step 2: hidden_layer_input"),
    "a-column-before-A-of-epoch-3": (epoch_sheet(3), "insert_cols", 1,
                                      "step 2: hidden_layer_input"),
}


@pytest.mark.parametrize("edit", LAYOUT_EDITS, ids=LAYOUT_EDITS)
def test_an_epoch_sheet_whose_blocks_moved_is_refused_naming_the_sheet_and_block(
    tmp_path, capsys, no_training, edit
):
    """It was read where the blocks had been, and reported as a NaN-valued step."""
    sheet, insert, at, block = LAYOUT_EDITS[edit]
    path = write_workbook(load_case("article"), FEW_EPOCHS, tmp_path / "w.xlsx")
    wb = load_workbook(path)
    getattr(wb[sheet], insert)(at)
    wb.save(path)
    code = cli.main(["run", "--case", "article", "--spreadsheet", str(path), "--epochs",
                     str(FEW_EPOCHS)])
    one_line_exit_2(code, capsys.readouterr().err, f"'{sheet}'!A", block)


def test_a_step_cell_holding_a_number_typed_in_is_refused_naming_it(tmp_path, capsys,
                                                                     no_training):
    """A workbook whose formulas were replaced by their values passed: nothing computed them."""
    case = load_case("article")
    path = write_workbook(case, FEW_EPOCHS, tmp_path / "w.xlsx")
    wb = load_workbook(path)
    block = Layout(case.dims, 2).epoch(2)["d_output"]
    for i, value in enumerate(python_trace(case, 2)["d_output"][1, :, 0]):
        wb[epoch_sheet(2)].cell(block.top + i, 2).value = float(value)
    wb.save(path)
    code = cli.main(["run", "--case", "article", "--spreadsheet", str(path), "--epochs",
                     str(FEW_EPOCHS)])
    one_line_exit_2(code, capsys.readouterr().err, f"'epoch 2'!B{block.top}",
                    "epoch 2, step 7 (d_output), cell [1, 1]", "typed in, not a formula")


@pytest.mark.parametrize("pasted", ['="{}"', "={}", "{}"], ids=["text-formula", "constant-formula",
                                                              "text"])
def test_a_step_cell_holding_a_value_pasted_as_a_formula_or_text_is_refused_naming_it(
    tmp_path, capsys, no_training, pasted
):
    """Python's values pasted in as ="0.677..." passed as a spreadsheet that computes them."""
    case = load_case("article")
    path = write_workbook(case, FEW_EPOCHS, tmp_path / "w.xlsx")
    wb = load_workbook(path)
    block = Layout(case.dims, 2).epoch(2)["d_output"]
    for i, value in enumerate(python_trace(case, 2)["d_output"][1, :, 0]):
        wb[epoch_sheet(2)].cell(block.top + i, 2).value = pasted.format(repr(float(value)))
    wb.save(path)
    code = cli.main(["run", "--case", "article", "--spreadsheet", str(path), "--epochs",
                     str(FEW_EPOCHS)])
    one_line_exit_2(code, capsys.readouterr().err, f"'epoch 2'!B{block.top}",
                    "epoch 2, step 7 (d_output), cell [1, 1]", "not computed by the spreadsheet")


def test_the_runs_timeout_bounds_libreoffice_too(tmp_path, monkeypatch, capsys, r_available):
    """--timeout ended a run only while the ports trained: LibreOffice took what it took."""
    import time

    fake_client(tmp_path, monkeypatch, "import time\ntime.sleep(120)\n")  # a LibreOffice that hangs
    monkeypatch.setenv("NNPARITY_CALC_TIMEOUT", "90")
    start = time.monotonic()
    code = cli.main(["run", "--case", "article", "--mode", "free", "--spreadsheet", "--epochs",
                     "2", "--timeout", "20"])
    took = time.monotonic() - start
    verdict = capsys.readouterr().out.strip().splitlines()[-1]
    assert code == 1 and "what was left of --timeout 20" in verdict, (
        f"exit {code}; the verdict should say --timeout stopped LibreOffice: {verdict}"
    )
    assert took < 40, f"a run with --timeout 20 took {took:.0f} s"


#: What --spreadsheet may be given that is no workbook, and what the refusal says of it.
NOT_A_WORKBOOK = {
    "an-empty-path": (lambda tmp: "", "the workbook's path is empty"),
    "a-folder": (lambda tmp: str(tmp), "is a folder, not a workbook"),
    "a-fifo": (lambda tmp: (os.mkfifo(tmp / "pipe.xlsx"), str(tmp / "pipe.xlsx"))[1],
               "is not a regular file"),
}


@pytest.mark.parametrize("given", NOT_A_WORKBOOK, ids=NOT_A_WORKBOOK)
def test_a_spreadsheet_path_that_is_no_workbook_is_refused_saying_what_it_is(
    tmp_path, capsys, no_training, given
):
    """An empty path checked a fresh workbook instead; a folder or a FIFO was 'no such
    workbook'."""
    path, said = NOT_A_WORKBOOK[given]
    code = cli.main(["run", "--case", "article", "--spreadsheet", path(tmp_path), "--epochs",
                     "2"])
    one_line_exit_2(code, capsys.readouterr().err, said)


def test_a_workbook_out_under_a_file_says_it_is_a_file(tmp_path, capsys):
    """It said 'the folder .../base.xlsx does not exist'."""
    base = write_workbook(load_case("article"), 1, tmp_path / "base.xlsx")
    code = cli.main(["workbook", "--out", str(base / "x.xlsx")])
    one_line_exit_2(code, capsys.readouterr().err, f"{base} is a file, not a folder")


def test_a_workbook_of_more_epochs_than_a_spreadsheet_run_checks_is_refused(tmp_path, capsys):
    """`workbook --epochs 2147483647` started building it in memory."""
    from nnparity.spreadsheet import MAX_EPOCHS

    code = cli.main(["workbook", "--epochs", str(MAX_EPOCHS + 1), "--out",
                     str(tmp_path / "w.xlsx")])
    one_line_exit_2(code, capsys.readouterr().err, "--epochs", str(MAX_EPOCHS))
    assert list(tmp_path.iterdir()) == [], "something was written"


def test_a_replaced_workbook_keeps_its_permissions(tmp_path, capsys):
    """A read-only (444) workbook nnparity wrote was replaced by a 644 one."""
    path = write_workbook(load_case("article"), 1, tmp_path / "w.xlsx")
    path.chmod(0o444)
    code = cli.main(["workbook", "--epochs", "2", "--out", str(path)])
    assert code == 0, capsys.readouterr().err
    mode = path.stat().st_mode & 0o7777
    assert mode == 0o444, f"the replaced workbook's permissions became {mode:o}, not 444"


def with_comment(data: bytes) -> bytes:
    """The zip `data` with a zip comment (its end record's comment length, then the text)."""
    assert data[-22:-18] == b"PK\x05\x06" and data[-2:] == b"\0\0"
    return data[:-2] + len(b"mine").to_bytes(2, "little") + b"mine"


#: What makes a workbook nnparity wrote more than it wrote, though every zip part is unchanged.
ADDED_TO_THE_ZIP = {
    "bytes-after-it": lambda data: data + b"my notes",
    "bytes-before-it": lambda data: b"my notes" + data,
    "a-zip-comment": with_comment,
}


@pytest.mark.parametrize("added", ADDED_TO_THE_ZIP, ids=ADDED_TO_THE_ZIP)
def test_a_workbook_with_something_added_outside_its_parts_is_not_replaced(tmp_path, capsys,
                                                                             added):
    """The seal covers the zip's parts only: such a file was judged nnparity's and replaced."""
    path = write_workbook(load_case("article"), 1, tmp_path / "w.xlsx")
    path.write_bytes(ADDED_TO_THE_ZIP[added](path.read_bytes()))
    before = path.read_bytes()
    code = cli.main(["workbook", "--epochs", "2", "--out", str(path)])
    one_line_exit_2(code, capsys.readouterr().err, str(path), "nothing was changed")
    assert path.read_bytes() == before, "the file was replaced"


def test_an_office_stopped_before_it_finished_leaves_no_pipe_nor_folder_in_tmp(
    tmp_path, monkeypatch, article
):
    """LibreOffice makes its pipes in /tmp whatever TMPDIR says, and its lu*.tmp folders in
    TMPDIR: an office stopped (here, its client exits at once; Ctrl-C and timeouts alike)
    left them there."""
    path = write_workbook(article, 1, tmp_path / "a.xlsx")

    def ours() -> set[str]:
        return {p.name for p in Path(calc.PIPE_FOLDERS[0]).iterdir()
                if p.name.startswith((f"OSL_PIPE_{os.getuid()}_", "lu"))}

    def answers(name: str) -> bool:  # a LibreOffice of a test running beside this one
        with socket.socket(socket.AF_UNIX) as probe:
            probe.settimeout(1.0)
            try:
                probe.connect(str(Path(calc.PIPE_FOLDERS[0], name)))
                return True
            except OSError:
                return False

    before = ours()
    # a client that answers the check for uno, then exits at once without recalculating
    client = program(tmp_path, "python3",
                     "#!/bin/sh\ncase \"$2\" in *uno*) echo uno ;; esac\nexit 0\n")
    monkeypatch.setenv("NNPARITY_UNO_PYTHON", client)
    with pytest.raises(calc.CalcError):
        calc.recalculate(path)
    left = [name for name in ours() - before if not name.startswith("OSL") or not answers(name)]
    assert not left, f"left in /tmp by a stopped LibreOffice: {sorted(left)}"
