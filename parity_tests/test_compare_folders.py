"""`nnparity compare A B`: two saved trace folders compared without running a port.

The second folder is made the way another BLAS makes one: R's trace differs
by one ULP in one cell of a matrix product, and its fingerprint names another
BLAS library. A test at the end makes it for real, with R on OpenBLAS, when
Debian's OpenBLAS is installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nnparity import paths, traces
from nnparity.cases import FIXTURES, load_case
from nnparity.cli import main
from nnparity.ports import PythonPort, RPort

EPOCHS = 40
OPENBLAS = Path("/usr/lib/x86_64-linux-gnu/openblas-pthread")
OPENBLAS_ENV = {"R BLAS": f"{OPENBLAS}/libblas.so.3", "R LAPACK": f"{OPENBLAS}/liblapack.so.3"}
REFERENCE = Path("/usr/lib/x86_64-linux-gnu/blas")
REFERENCE_ENV = {
    "R BLAS": f"{REFERENCE}/libblas.so.3.11.0",
    "R LAPACK": "/usr/lib/x86_64-linux-gnu/lapack/liblapack.so.3.11.0",
}


def on_openblas(golden: Path) -> bool:
    """Whether the golden folder was made with R on OpenBLAS (the suite run with R on OpenBLAS)."""
    environment = json.loads((golden / "trace.json").read_text())["environment"]
    return Path(environment["R BLAS"]).parent == OPENBLAS


@pytest.fixture
def another_blas(golden) -> dict:
    """A fingerprint's BLAS fields for a BLAS the golden folder was not made with (docs/blas.md)."""
    return REFERENCE_ENV if on_openblas(golden) else OPENBLAS_ENV


@pytest.fixture(scope="module")
def golden(tmp_path_factory, r_available) -> Path:
    """The article case saved with --save-traces: the reference folder."""
    folder = tmp_path_factory.mktemp("golden") / "traces"
    assert traces.run(
        load_case("article"), PythonPort(), RPort(), EPOCHS, save_traces=folder
    ).passed
    return folder


@pytest.fixture
def other(golden, tmp_path):
    """``other(edit, environment)``: a copy of the golden folder, a trace and environment edited."""

    def make(
        edit=None, environment: dict | None = None, language: str = "r", save=np.savez
    ) -> Path:
        copy = tmp_path / "other"
        shutil.copytree(golden, copy)
        if edit is not None:
            with np.load(copy / f"{language}.npz") as npz:
                arrays = {name: npz[name] for name in npz.files}
            edit(arrays)
            save(copy / f"{language}.npz", **arrays)
        if environment is not None:
            info = json.loads((copy / "trace.json").read_text())
            info["environment"].update(environment)
            (copy / "trace.json").write_text(json.dumps(info))
        return copy

    return make


def compare(capsys, a, b) -> tuple[int, str, str]:
    code = main(["compare", str(a), str(b)])
    out, err = capsys.readouterr()
    return code, out, err


def one_ulp_up(epoch: int, name: str, row: int, col: int):
    def edit(arrays):
        cell = (epoch - 1, row - 1, col - 1)
        arrays[name][cell] = np.nextafter(arrays[name][cell], np.inf)

    return edit


def test_a_folder_compared_with_itself_is_bitwise_equal_and_exits_0(capsys, golden):
    code, out, err = compare(capsys, golden, golden)
    assert code == 0, out + err
    assert out.count("bitwise equal: every cell of every epoch") == 2, out
    assert "the environments are the same" in out


def test_another_blas_is_reported_where_it_differs_and_which_environment_made_each(
    capsys, golden, other, another_blas
):
    b = other(one_ulp_up(7, "output_layer_input", 2, 1), another_blas)
    code, out, err = compare(capsys, golden, b)
    assert code == 0, f"one ULP is within the free-running bound:\n{out}{err}"
    assert "r.npz: within the bound" in out and "python.npz: within the bound" in out
    assert "first difference: epoch 7, step 4 (output_layer_input), cell [2, 1]" in out, out
    a_blas = json.loads((golden / "trace.json").read_text())["environment"]["R BLAS"]
    assert f"R BLAS (A: {a_blas}; B: {another_blas['R BLAS']})" in out, (
        f"the message does not name both BLAS:\n{out}"
    )
    assert f"A: {golden} " in out and f"B: {b} " in out, "each folder is named with its environment"


def test_a_trace_saved_compressed_compares_as_the_same_trace(capsys, golden, tmp_path):
    """Uncompressed members are mapped from the file, compressed ones read whole: same result."""
    b = tmp_path / "compressed"
    shutil.copytree(golden, b)
    with np.load(b / "r.npz") as npz:
        arrays = {name: npz[name] for name in npz.files}
    np.savez_compressed(b / "r.npz", **arrays)
    code, out, err = compare(capsys, golden, b)
    assert code == 0 and out.count("bitwise equal: every cell of every epoch") == 2, out + err


def test_a_difference_beyond_the_bound_exits_1_and_names_the_first_cell(capsys, golden, other):
    def edit(arrays):
        arrays["wh"][19:, 3, 2] += 1e-6

    code, out, err = compare(capsys, golden, other(edit))
    assert code == 1, out + err
    assert "first cell beyond the bound: epoch 20, step 10 (wh), cell [4, 3]" in out, out
    assert "A AND B DIFFER beyond the bound" in out


def assert_one_line(err: str, *words: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nnparity: "), (
        f"expected one line on stderr:\n{err}"
    )
    for word in words:
        assert word in lines[0], f"the message does not say {word!r}: {lines[0]}"


def drop_wh(arrays):
    del arrays["wh"]


def fewer_epochs(arrays):
    for name in arrays:
        arrays[name] = arrays[name][:-1]


@pytest.mark.parametrize(
    "make_b, words",
    [
        (lambda other, tmp: tmp / "nowhere", ["nowhere", "no such folder"]),
        (lambda other, tmp: FIXTURES / "article", ["article", "not a trace folder"]),
        (lambda other, tmp: other(drop_wh), ["r.npz", "only in", "wh"]),
        (lambda other, tmp: other(fewer_epochs, language="python"), ["python.npz", "40 x", "39 x"]),
    ],
    ids=["missing-folder", "a-case-folder", "a-matrix-missing", "fewer-epochs"],
)
def test_bad_input_gets_one_line_and_exit_2(capsys, golden, other, tmp_path, make_b, words):
    code, out, err = compare(capsys, golden, make_b(other, tmp_path))
    assert code == 2, out + err
    assert_one_line(err, *words)


def store_wh(convert):
    def edit(arrays):
        arrays["wh"] = convert(arrays["wh"])

    return edit


@pytest.mark.parametrize(
    "convert, words",
    [
        (lambda v: v + 5j, ["complex", "<c16"]),
        (lambda v: v.astype(str), ["strings"]),
        (lambda v: np.rec.fromarrays([v]), ["|V8"]),
        (lambda v: v.astype(np.float32), ["float32", "<f4"]),
        (lambda v: v.astype(np.int64), ["integers", "<i8"]),
        (lambda v: v.astype(">f8"), [">f8"]),
        (np.asfortranarray, ["Fortran order"]),
    ],
    ids=["complex", "strings", "structured", "float32", "int64", "big-endian", "fortran-order"],
)
@pytest.mark.parametrize("save", [np.savez, np.savez_compressed], ids=["stored", "compressed"])
def test_a_member_not_stored_as_little_endian_c_order_doubles_is_refused_naming_it(
    capsys, golden, other, convert, words, save
):
    code, out, err = compare(capsys, golden, other(store_wh(convert), save=save))
    assert code == 2, (
        f"nnparity writes every matrix as little-endian doubles in C order; anything else is a "
        f"damaged trace (exit 2), not a trace to compare:\n{out}{err}"
    )
    assert_one_line(err, "r.npz", "wh", *words)


def test_an_object_member_is_refused_from_its_header_without_mapping_or_unpickling(
    golden, other
):
    """In a process of its own: mapping an object array's bytes as pointers crashes it."""
    b = other(store_wh(lambda v: v.astype(object)))
    result = subprocess.run(
        [sys.executable, "-m", "nnparity", "compare", str(golden), str(b)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2, (
        f"an object-dtype member must be refused as bad input (exit 2), "
        f"got exit {result.returncode}:\n{result.stdout}{result.stderr}"
    )
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "r.npz" in lines[0] and "wh" in lines[0] and "|O" in lines[0], (
        f"expected one line naming r.npz, wh and its dtype (|O):\n{result.stderr}"
    )


def test_traces_of_different_cases_are_refused(capsys, golden, other):
    b = other()
    (b / "case" / "X.csv").write_text((b / "case" / "X.csv").read_text().replace("1.0", "2.0", 1))
    code, out, err = compare(capsys, golden, b)
    assert code == 2, out + err
    assert_one_line(err, "different cases")


@pytest.mark.skipif(
    not (OPENBLAS / "libblas.so.3").exists(),
    reason=f"Debian's libopenblas0-pthread is not installed ({OPENBLAS})",
)
def test_r_on_openblas_against_r_on_reference_blas_names_both_environments(golden, tmp_path):
    """Real: a second run in a process whose R loads OpenBLAS (LD_LIBRARY_PATH), then compare;
    when this suite itself runs with R on OpenBLAS, the second run is on the reference BLAS."""
    other = REFERENCE if on_openblas(golden) else OPENBLAS
    env = {**os.environ, "LD_LIBRARY_PATH": str(other)}
    command = [sys.executable, "-m", "nnparity"]
    made = subprocess.run(
        [*command, "run", "--epochs", str(EPOCHS), "--save-traces", str(tmp_path / "b")],
        env=env,
        capture_output=True,
        text=True,
    )
    assert made.returncode == 0, made.stdout + made.stderr
    result = subprocess.run(
        [*command, "compare", str(golden), str(tmp_path / "b")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    made_on = json.loads((tmp_path / "b" / "trace.json").read_text())["environment"]["R BLAS"]
    assert Path(made_on).parent == other, f"the second run's R loaded {made_on}, not {other}"
    assert "the environments differ in: R BLAS" in result.stdout, result.stdout
    assert "r.npz: within the bound\n  first difference: epoch" in result.stdout, result.stdout
    verdict = "A AND B AGREE within the bound: python.npz bitwise equal, r.npz within"
    assert verdict in result.stdout.splitlines(), result.stdout
    doc = (paths.BASE / "docs" / "results-as-data.md").read_text()
    assert verdict in doc and "the environments differ in: R BLAS" in doc, (
        "the docs' sample is stale"
    )
