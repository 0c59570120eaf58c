"""`nnparity explain`: the article's walkthrough from both languages, code read from the ports' own
markers.
"""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from collections import defaultdict

import pytest

from nnparity import explain, steps
from nnparity.paths import FIXTURES

WALKTHROUGH = FIXTURES / "article" / "walkthrough-epoch1.csv"
STEPS_WITH_CODE = sorted({q.step for q in steps.QUANTITIES})  # 2..11


def run_explain(*args: str, columns: int = 100) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": str(columns)}
    env.pop("FORCE_COLOR", None)
    return subprocess.run(
        [sys.executable, "-m", "nnparity", "explain", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


@pytest.fixture(scope="module")
def article_epoch1() -> str:
    """explain's whole output on the article case, epoch 1, piped (not a terminal)."""
    done = run_explain("--case", "article", "--epoch", "1")
    assert done.returncode == 0, f"nnparity explain failed ({done.returncode}): {done.stderr}"
    return done.stdout


def printed_matrices(output: str) -> dict[tuple[int, str], dict[str, list[list[str]]]]:
    """{(step, matrix): {"Python": rows of printed numbers, "R": ...}} read back from explain's
    tables.
    """
    found: dict[tuple[int, str], dict[str, list[list[str]]]] = defaultdict(
        lambda: {"Python": [], "R": []}
    )
    step, columns, matrix = None, None, None
    for line in output.splitlines():
        title = re.search(r"Step (\d+):", line)
        if title:
            step, columns = int(title.group(1)), None
            continue
        cells = [c.strip() for c in line.split("│")]
        if "matrix" in cells and "Python" in cells and "R" in cells:
            columns = {name: cells.index(name) for name in ("matrix", "Python", "R")}
            continue
        if columns is None or len(cells) <= columns["R"]:
            continue
        name = cells[columns["matrix"]]
        if name and not re.fullmatch(r"\d+ x \d+", name):
            matrix = name
        for language in ("Python", "R"):
            numbers = cells[columns[language]].split()
            if numbers:
                found[(step, matrix)][language].append(numbers)
    return found


def test_explain_shows_every_number_the_article_prints_from_both_languages(article_epoch1):
    shown = printed_matrices(article_epoch1)
    with WALKTHROUGH.open(newline="") as handle:
        expected = list(csv.DictReader(handle))
    assert expected, f"{WALKTHROUGH} has no rows"
    wrong = []
    for row in expected:
        step, name, i, j = int(row["step"]), row["matrix"], int(row["row"]) - 1, int(row["col"]) - 1
        unit = 10.0 ** -int(row["decimals"])
        for language in ("Python", "R"):
            rows = shown.get((step, name), {}).get(language, [])
            try:
                text = rows[i][j]
            except IndexError:
                wrong.append(
                    f"step {step} {name}[{i + 1},{j + 1}] {language}: not shown (got rows {rows})"
                )
                continue
            if (
                len(text.split(".")[-1]) != int(row["decimals"])
                or abs(float(text) - float(row["printed"])) > unit * 1.0001
            ):
                wrong.append(
                    f"step {step} {name}[{i + 1},{j + 1}] {language}: shows {text}, the article "
                    f"prints {row['printed']}"
                )
    assert not wrong, "explain does not reproduce the article's walkthrough:\n" + "\n".join(wrong)


def test_explain_shows_every_step_with_formula_and_both_languages_code(article_epoch1):
    for step in sorted(steps.STEP_TITLES):
        assert f"Step {step}: {steps.STEP_TITLES[step]}" in article_epoch1, (
            f"step {step} has no panel"
        )
    flat = " ".join(article_epoch1.split())
    for q in steps.QUANTITIES:
        assert " ".join(q.formula.split()) in flat, f"the formula of {q.name} is not shown"
        assert f"steps.{q.name}(" in flat, (
            f"the Python line of train.py computing {q.name} is not shown"
        )
        assert f"steps${q.name}(" in flat, f"the R line of train.R computing {q.name} is not shown"
        assert f"def {q.name}(" in flat, f"the Python function {q.name} is not shown"
        assert f"{q.name} = function(" in flat, f"the R function {q.name} is not shown"


def test_explain_says_how_closely_the_languages_agree(article_epoch1):
    # On the article case every matrix of epoch 1 is bitwise equal (the first difference is at epoch
    # 7).
    assert article_epoch1.count("bitwise equal") == len(steps.NAMES) + len(steps.STATE)


def test_explain_piped_output_has_no_colour_codes(article_epoch1):
    assert "\x1b[" not in article_epoch1, "explain wrote terminal escape codes into a pipe"


def test_explain_one_step_shows_only_that_step():
    done = run_explain("--step", "8")
    assert done.returncode == 0, done.stderr
    assert "Step 8: error at the hidden layer" in done.stdout
    assert re.findall(r"Step (\d+):", done.stdout) == ["8"]
    assert (
        "Error_at_hidden_layer" in done.stdout and "0.010" in done.stdout
    )  # three decimals, as the article prints


def test_explain_a_later_epoch_differs_from_the_first():
    done = run_explain("--step", "1", "--epoch", "2")
    assert done.returncode == 0, done.stderr
    assert "epoch 2" in done.stdout and "epoch 1's updates" in done.stdout
    shown = printed_matrices(done.stdout)
    assert shown[(1, "wout")]["Python"][0] == ["0.30"]  # 0.30 -> 0.2950...: step 10 of epoch 1


@pytest.mark.parametrize(
    "args, says",
    [
        (["--epoch", "0"], "--epoch: epochs must be a positive integer, got '0'"),
        (["--case", "no_such_case"], "no_such_case: no such case folder"),
        (["--step", "12"], "argument --step: invalid choice: 12"),
    ],
)
def test_explain_refuses_bad_input_with_exit_code_2_and_names_the_problem(args, says):
    done = run_explain(*args)
    assert done.returncode == 2, f"{args}: exit {done.returncode}, stderr {done.stderr}"
    last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""
    assert says in last, (
        f"{args}: the last line of stderr should say {says!r}; stderr:\n{done.stderr}"
    )
    assert "Traceback" not in done.stderr, (
        f"{args}: a traceback instead of one line:\n{done.stderr}"
    )


# ---- the markers explain reads ------------------------------------------------------------------


@pytest.mark.parametrize(
    "language, source", [("Python", explain.python_source), ("R", explain.r_source)]
)
def test_every_step_is_marked_in_both_ports(language, source):
    ported = source()
    assert explain.marker_problems(ported, language) == []
    assert sorted({s.step for s in ported.train}) == STEPS_WITH_CODE
    assert sorted({s.step for s in ported.functions}) == STEPS_WITH_CODE


@pytest.mark.parametrize(
    "language, folder, file, marker, source",
    [
        ("Python", "python_impl", "steps.py", "# step 8\n", explain.python_source),
        ("Python", "python_impl", "train.py", "  # step 8\n", explain.python_source),
        ("R", "r_impl", "steps.R", "  # step 8\n", explain.r_source),
        ("R", "r_impl", "train.R", " # step 8\n", explain.r_source),
    ],
)
def test_a_missing_step_marker_is_reported(language, folder, file, marker, source, port_copy):
    port = port_copy(folder, file, marker, "\n")
    problems = explain.marker_problems(source(port), language)
    assert any("step 8" in p for p in problems), (
        f"removing {marker.strip()!r} from {file} went unnoticed: {problems}"
    )


def test_a_marker_on_the_wrong_step_is_reported(port_copy):
    port = port_copy("r_impl", "steps.R", "  # step 9\n", "  # step 7\n")
    problems = explain.marker_problems(explain.r_source(port), "R")
    assert any("d_hiddenlayer as step 7" in p for p in problems), problems


def test_the_shown_code_is_the_ports_own_source():
    for snippet in explain.python_source().functions + explain.r_source().functions:
        lines = snippet.path.read_text().splitlines()
        assert snippet.code.splitlines()[0] == lines[snippet.start - 1], (
            f"{snippet.where} is not where its code is"
        )
        assert snippet.code in "\n".join(lines), (
            f"{snippet.where}: shown code is not a slice of the file"
        )


def test_explain_shows_where_each_step_sits_in_the_workbook_and_its_formula(article_epoch1):
    out = article_epoch1
    assert "hidden_layer_input: 'epoch 1'!B4:D6" in out, "step 2's block in the workbook is missing"
    assert "{=MMULT('inputs'!$B$6:$E$8,'inputs'!B16:D19)+'inputs'!B22:D22}" in out, (
        "step 2's workbook formula (X times wh plus bh) is missing"
    )
    assert "='inputs'!B30+SUM(B39:B41)*'inputs'!$B$3" in out, "step 11's bout formula is missing"


def test_explain_beyond_a_workbooks_epochs_suggests_no_workbook_command_that_would_be_refused():
    from nnparity import workbook
    from nnparity.spreadsheet import MAX_EPOCHS

    header = workbook.explain_cells((3, 4, 3, 1), MAX_EPOCHS + 1, ["E"]).splitlines()[0]
    assert "--epochs" not in header and f"at most {MAX_EPOCHS}" in header, (
        f"it suggested a workbook of {MAX_EPOCHS + 1} epochs, which workbook refuses: {header}"
    )


def test_explain_with_names_and_no_script_is_refused_as_run_refuses_it(capsys):
    from nnparity.cli import main

    code = main(["explain", "--names", "W1=wh", "--step", "2"])
    err = capsys.readouterr().err
    assert code == 2 and "--names maps a learner's script's names" in err, (
        f"explain ignored --names without a script (exit {code}): {err}"
    )


@pytest.mark.parametrize("content", [
    b"matrix,decimals\nX,abc\n", b"\x98\xff\x00binary\n", b"X,3\n", b'matrix,decimals\n"X,3\n',
], ids=["not-a-number", "binary", "no-header", "unclosed-quote"])
def test_a_damaged_walkthrough_file_is_one_line_naming_it(tmp_path, capsys, content):
    # It was a traceback (ValueError, UnicodeDecodeError, KeyError, TypeError), exit 1.
    import shutil

    from nnparity.cli import main
    from nnparity.paths import FIXTURES

    case = tmp_path / "case"
    shutil.copytree(FIXTURES / "article", case)
    (case / "walkthrough-epoch1.csv").write_bytes(content)
    assert main(["explain", "--case", str(case), "--step", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"nnparity: {case}/walkthrough-epoch1.csv: ") and "\n" not in err, err
