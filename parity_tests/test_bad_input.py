"""Bad input: `nnparity run` on a broken case exits 2 with one line naming the file and the problem.

Every case below is a copy of fixtures/article with one thing broken. The
promise to a user is the same for each: exit code 2, a single line on stderr
that names the file and says what is wrong, no traceback, nothing written.
Ports that fail while they run are a different promise: exit code 1 and the
language's own error message.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nnparity import paths
from nnparity.cases import CaseError, load_case
from nnparity.cli import main
from nnparity.command import BadInput, parse_epochs_option
from nnparity.paths import FIXTURES
from nnparity.port import PortError
from nnparity.ports import PythonPort, RPort
from parity_tests.test_supervision import one_line

ROOT = paths.BASE
ARTICLE = FIXTURES / "article"


def replace(file: str, old: str, new: str):
    """An edit of one file of the case: `old` (which must be there) becomes `new`."""

    def edit(folder: Path) -> None:
        text = (folder / file).read_text()
        assert old in text, (
            f"fixtures/article/{file} no longer contains {old!r}: update this test's edit"
        )
        (folder / file).write_text(text.replace(old, new, 1))

    return edit


def write(file: str, content: bytes):
    def edit(folder: Path) -> None:
        (folder / file).write_bytes(content)

    return edit


def delete(file: str):
    def edit(folder: Path) -> None:
        (folder / file).unlink()

    return edit


def folder_instead(file: str):
    def edit(folder: Path) -> None:
        (folder / file).unlink()
        (folder / file).mkdir()

    return edit


# (id, edit of the copy, the file the message must name, words the message must contain)
BROKEN_CASES = [
    ("missing-file", delete("wh.csv"), "wh.csv", "file is missing"),
    ("a-folder-for-a-file", folder_instead("X.csv"), "X.csv", "is a folder, not a file"),
    (
        "non-numeric-cell",
        replace("X.csv", "1.0,0.0,1.0,0.0", "1.0,abc,1.0,0.0"),
        "X.csv",
        "row 1, column 2: 'abc' is not a number",
    ),
    (
        "ragged-rows",
        replace("X.csv", "1.0,0.0,1.0,1.0\n", "1.0,0.0,1.0\n"),
        "X.csv",
        "ragged rows: row 2 has 3 values",
    ),
    ("blank-row", replace("y.csv", "1.0\n1.0\n", "1.0\n   \n1.0\n"), "y.csv",
     "row 2, column 1: '   ' is not a number"),
    # What R's read.csv(colClasses = "numeric") refuses or reads otherwise is refused here:
    # a quoted number, a space of Unicode's, a line break Python's splitlines() takes and R
    # does not, a decimal R's reader rounds to another double (nnparity/rnumbers.py).
    (
        "quoted-number",
        replace("bh.csv", "0.08", '"0.08"'),
        "bh.csv",
        "row 1, column 3: '\"0.08\"' is not a number",
    ),
    (
        "no-break-space",
        replace("bh.csv", "0.08", "0.08\u00a0"),
        "bh.csv",
        "row 1, column 3: '0.08\\xa0' is not a number",
    ),
    (
        "form-feed-as-a-line-break",
        replace("y.csv", "1.0\n1.0\n", "1.0\f1.0\n"),
        "y.csv",
        "row 1, column 1: '1.0\\x0c1.0' is not a number",
    ),
    (  # R's reader and the emulation of it would go through every digit
        "a-number-written-out-with-2000-zeros",
        replace("bh.csv", "0.08", "0.08" + "0" * 2000),
        "bh.csv",
        "row 1, column 3: a number of 2004 characters (at most 100",
    ),
    (
        "an-exponent-of-five-digits",
        replace("bh.csv", "0.08", "8e-10002"),
        "bh.csv",
        "row 1, column 3: '8e-10002' is not a number (a number here is digits with an optional "
        "sign, decimal point and exponent of at most four digits",
    ),
    (
        "a-decimal-r-reads-as-another-double",
        replace("bh.csv", "0.08", "0.8742647628088"),
        "bh.csv",
        "row 1, column 3: R's read.csv reads 0.8742647628088 as 0.8742647628088001 and Python as "
        "0.8742647628088 (R does not round every decimal correctly); write 0.87426476280879994",
    ),
    (
        "lr-r-reads-as-another-double",
        replace("config.csv", "lr,0.1", "lr,0.8742647628088"),
        "config.csv",
        "lr: R's read.csv reads 0.8742647628088 as 0.8742647628088001",
    ),
    (
        "config-key-with-spaces",
        replace("config.csv", "lr,0.1", " lr ,0.1"),
        "config.csv",
        "unknown key ' lr '",
    ),
    (  # bh.csv, intact, was blamed: "shape (1, 3) does not fit wh (4, 2)"
        "wh-one-hidden-unit-short",
        lambda folder: (folder / "wh.csv").write_text(
            "0.42,0.88\n0.1,0.73\n0.6,0.18\n0.92,0.11\n"),
        "wh.csv",
        "shape (4, 2) does not fit bh, wout: its columns count the hidden units (2), which they "
        "give as 3",
    ),
    (  # the escape reached the terminal (run's header, explain) and the HTML report raw
        "an-escape-sequence-in-the-description",
        replace("config.csv", 'description,"The', 'description,"\x1b[2JThe'),
        "config.csv",
        "description's value holds a control character (\\x1b[2J",
    ),
    (
        "epochs-with-a-no-break-space",
        replace("config.csv", "epochs,5000", "epochs,5000\u00a0"),
        "config.csv",
        "epochs must be a positive integer, got '5000\\xa0'",
    ),
    ("X-vs-wh", replace("wh.csv", "0.92,0.11,0.52\n", ""), "wh.csv", "does not fit X"),
    ("wh-vs-wout", replace("wout.csv", "0.23\n", ""), "wout.csv", "does not fit wh"),
    ("y-vs-X", replace("y.csv", "0.0\n", ""), "y.csv", "does not fit X"),
    ("bh-shape", replace("bh.csv", "0.08", "0.08,0.5"), "bh.csv", "bh must be 1 x 3"),
    ("bout-shape", replace("bout.csv", "0.69", "0.69\n0.7"), "bout.csv", "bout must be 1 x 1"),
    (
        "nan-cell",
        replace("wh.csv", "0.42", "nan"),
        "wh.csv",
        "row 1, column 1: nan is not a finite number",
    ),
    (
        "inf-cell",
        replace("X.csv", "0.0,1.0,0.0,1.0", "0.0,1.0,0.0,-inf"),
        "X.csv",
        "row 3, column 4: -inf is not a finite number",
    ),
    ("empty-matrix", write("bh.csv", b""), "bh.csv", "empty matrix"),
    (
        "lr-zero",
        replace("config.csv", "lr,0.1", "lr,0"),
        "config.csv",
        "lr must be a positive number, got '0'",
    ),
    (
        "lr-negative",
        replace("config.csv", "lr,0.1", "lr,-0.1"),
        "config.csv",
        "lr must be a positive number, got '-0.1'",
    ),
    (
        "lr-not-a-number",
        replace("config.csv", "lr,0.1", "lr,fast"),
        "config.csv",
        "lr must be a positive number, got 'fast'",
    ),
    (
        "lr-missing",
        replace("config.csv", "lr,0.1\n", ""),
        "config.csv",
        "has no lr (a line lr,0.1",
    ),
    (
        "epochs-missing",
        replace("config.csv", "epochs,5000\n", ""),
        "config.csv",
        "has no epochs (a line epochs,5000",
    ),
    (
        "epochs-zero",
        replace("config.csv", "epochs,5000", "epochs,0"),
        "config.csv",
        "epochs must be a positive integer, got '0'",
    ),
    (
        "epochs-fraction",
        replace("config.csv", "epochs,5000", "epochs,2.5"),
        "config.csv",
        "epochs must be a positive integer, got '2.5'",
    ),
    (
        "epochs-not-a-number",
        replace("config.csv", "epochs,5000", "epochs,many"),
        "config.csv",
        "epochs must be a positive integer, got 'many'",
    ),
    (
        "epochs-beyond-rs-integers",
        replace("config.csv", "epochs,5000", "epochs," + "9" * 30),
        "config.csv",
        "epochs must be at most 2147483647 (R's largest integer), got " + "9" * 30,
    ),
    (
        "config-bad-header",
        replace("config.csv", "key,value", "name,setting"),
        "config.csv",
        "the first line must be 'key,value'",
    ),
    (
        "config-wrong-field-count",
        replace("config.csv", "lr,0.1", "lr,0.1,0.2"),
        "config.csv",
        "line 2 has 3 fields",
    ),
    (
        "config-binary-garbage",
        write("config.csv", bytes(range(256)) * 4),
        "config.csv",
        "cannot be read",
    ),
    ("matrix-binary-garbage", write("X.csv", b"\xff\xfe\x00\x01" * 64), "X.csv", "cannot be read"),
    (
        "config-value-over-two-lines",
        write("config.csv", b'key,value\nlr,0.1\nepochs,5\ndescription,"two\nlines"\n'),
        "config.csv",
        "line 4: a quoted value does not close on its line",
    ),
    (
        "config-stray-quote",  # R's read.csv would read lr and epochs into the description
        write("config.csv", b'key,value\ndescription,"my case\nlr,0.1\nepochs,5\n'),
        "config.csv",
        "line 2: a quoted value does not close on its line",
    ),
]


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["run", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def broken_copy(tmp_path):
    def make(edit) -> Path:
        copy = tmp_path / "case"
        shutil.copytree(ARTICLE, copy)
        edit(copy)
        return copy

    return make


@pytest.mark.parametrize(
    "edit, file, problem", [c[1:] for c in BROKEN_CASES], ids=[c[0] for c in BROKEN_CASES]
)
def test_a_broken_case_exits_2_with_one_line_naming_file_and_problem(
    capsys, tmp_path, broken_copy, edit, file, problem
):
    case = broken_copy(edit)
    saved = tmp_path / "traces"
    code, out, err = run_cli(
        capsys, "--case", str(case), "--save-traces", str(saved), "--epochs", "3"
    )
    assert code == 2, f"exit code {code}, expected 2 (bad input)\n{out}{err}"
    one_line(err, str(case / file), problem)
    assert out == "", f"nothing but the error should be printed, got:\n{out}"
    assert not saved.exists(), "a broken case must not leave traces behind"


def test_an_empty_case_name_is_no_case_folder(capsys, tmp_path):
    # Path("") is ".": the folder nnparity runs in was read as the case.
    code, _, err = run_cli(capsys, "--case", "", "--save-traces", str(tmp_path / "traces"))
    assert code == 2
    one_line(err, "--case", "an empty name is no case folder")


def test_a_missing_case_folder_exits_2_naming_the_folder(capsys, tmp_path):
    missing = tmp_path / "no_such_case"
    code, _, err = run_cli(
        capsys, "--case", str(missing), "--save-traces", str(tmp_path / "traces")
    )
    assert code == 2
    one_line(err, str(missing), "no such case folder")
    assert not (tmp_path / "traces").exists()


@pytest.mark.parametrize(
    "epochs", ["0", "-3", "ten", "2.5", ""], ids=["zero", "negative", "word", "fraction", "empty"]
)
def test_epochs_on_the_command_line_must_be_a_positive_integer(capsys, tmp_path, epochs):
    code, _, err = run_cli(capsys, "--epochs", epochs, "--save-traces", str(tmp_path / "traces"))
    assert code == 2, err
    one_line(err, "--epochs", f"epochs must be a positive integer, got {epochs!r}")
    assert not (tmp_path / "traces").exists()



@pytest.mark.parametrize(
    "epochs", ["2147483648", "9" * 30, "9" * 5000], ids=["2^31", "30-digits", "5000-digits"]
)
def test_epochs_on_the_command_line_beyond_rs_integers_are_one_line(capsys, tmp_path, epochs):
    # R counts epochs in its integers; a larger count was a Python traceback (OverflowError,
    # MemoryError), and 4,300 digits and more one from int() itself.
    code, _, err = run_cli(capsys, "--epochs", epochs, "--save-traces", str(tmp_path / "traces"))
    assert code == 2, err
    one_line(err, "--epochs", "epochs must be at most 2147483647 (R's largest integer)")
    assert "Traceback" not in err and len(err) < 200, err
    assert not (tmp_path / "traces").exists()


@pytest.mark.parametrize("option", ["--epochs", "--epoch"])
def test_a_bad_epoch_count_on_the_command_line_is_the_options_mistake_not_a_cases(option):
    with pytest.raises(BadInput) as raised:
        parse_epochs_option(option, "0")
    assert not isinstance(raised.value, CaseError), (
        f"{option} 0 was reported as a broken case file named {option!r}"
    )
    assert str(raised.value) == f"{option}: epochs must be a positive integer, got '0'"

# --- no R, or an rpy2 that does not load: one sentence with the fix -------------------------


def run_subprocess(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "nnparity",
            "run",
            "--epochs",
            "3",
            "--save-traces",
            str(tmp_path / "traces"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_without_r_the_run_exits_2_with_the_command_that_installs_it(tmp_path):
    empty_bin = tmp_path / "bin"  # R-less, with apt-get where there is one
    empty_bin.mkdir()
    apt_get = shutil.which("apt-get")
    if apt_get:
        (empty_bin / "apt-get").symlink_to(apt_get)
    env = {k: v for k, v in os.environ.items() if not k.startswith("R_")}
    env.update(PATH=str(empty_bin), R_HOME=str(tmp_path / "nowhere"))
    result = run_subprocess(env, tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    sudo = "" if os.geteuid() == 0 else "sudo "
    fix = (f"{sudo}apt-get install -y r-base-core" if apt_get
           else "install r-base-core with your system's package manager")
    one_line(result.stderr, "R is not installed", f": {fix}.")
    assert not (tmp_path / "traces").exists()


def test_an_rpy2_that_does_not_load_exits_2_with_the_command_that_fixes_it(tmp_path):
    fake = tmp_path / "site" / "rpy2"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('undefined symbol: R_getVar')\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "site"))
    result = run_subprocess(env, tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    pip = f"{sys.executable} -m pip"
    one_line(
        result.stderr, "rpy2 does not load", "R_getVar",
        f"run {pip} uninstall -y rpy2 rpy2-rinterface rpy2-robjects && "
        f"{pip} install 'rpy2==3.5.17'.",
    )


# --- a port that fails while it runs: the language's own message ----------------------------

R_BOOM = ("r_impl", "steps.R", "    sigmoid(output_layer_input)\n", '    stop("boom in step 4")\n')
PY_BOOM = (
    "python_impl",
    "steps.py",
    "    return hidden_layer_input1 + bh\n",
    '    raise ValueError("boom in step 2")\n',
)


def test_an_error_inside_an_r_port_is_a_port_error_carrying_rs_message(
    port_copy, r_available, article
):
    port = RPort(port_copy(*R_BOOM))
    port.start(article)
    with pytest.raises(PortError, match="boom in step 4"):
        port.advance(2)


def test_an_error_inside_an_r_port_exits_1_with_rs_message(capsys, port_copy, r_available):
    port = port_copy(*R_BOOM)
    code, out, err = run_cli(capsys, "--r-impl", str(port), "--epochs", "3")
    assert code == 1, f"exit code {code}, expected 1 (a port failed while running)\n{out}{err}"
    assert "boom in step 4" in out + err, out + err
    assert "Traceback" not in out + err


def test_an_error_inside_a_python_port_is_a_port_error_carrying_its_message(port_copy, article):
    port = PythonPort(port_copy(*PY_BOOM))
    port.start(article)
    with pytest.raises(PortError, match="ValueError: boom in step 2"):
        port.advance(2)


def test_an_error_inside_a_python_port_exits_1_with_its_message(capsys, port_copy, r_available):
    port = port_copy(*PY_BOOM)
    code, out, err = run_cli(capsys, "--python-impl", str(port), "--epochs", "3")
    assert code == 1, f"exit code {code}, expected 1 (a port failed while running)\n{out}{err}"
    one_line(err, "the Python port", "ValueError: boom in step 2")


def test_a_case_path_holding_a_line_break_is_named_on_one_line(capsys, tmp_path):
    case = tmp_path / "new\nline"
    shutil.copytree(ARTICLE, case)
    (case / "X.csv").unlink()
    code, out, err = run_cli(capsys, "--case", str(case), "--epochs", "3")
    assert code == 2, f"exit code {code}, expected 2 (bad input)\n{out}{err}"
    one_line(err, str(case).replace("\n", "\\n") + "/X.csv", "file is missing")


def test_a_case_file_too_large_for_memory_is_one_line_not_a_traceback(tmp_path, monkeypatch):
    case = tmp_path / "case"
    shutil.copytree(ARTICLE, case)

    class NoMemory(io.StringIO):  # a file whose whole text does not fit in memory
        def read(self, *args):
            raise MemoryError

    monkeypatch.setattr(Path, "open", lambda self, *args, **kwargs: NoMemory())
    too_large = r"config.csv: is too large to read into memory \(\d+ bytes\)"
    with pytest.raises(CaseError, match=too_large):
        load_case(case)


def test_a_config_error_names_the_line_of_the_file_empty_lines_included(tmp_path):
    case = tmp_path / "case"
    shutil.copytree(FIXTURES / "article", case)
    (case / "config.csv").write_text("key,value\n\nlr,0.1\n\nepochs,5000\nlearningrate,0.1\n")
    with pytest.raises(CaseError, match=r"line 6: unknown key 'learningrate'"):
        load_case(case)
