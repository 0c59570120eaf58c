"""`nnparity compare A B`: two saved trace folders compared without running a port.

The second folder is made the way another BLAS makes one: R's trace differs
by one ULP in one cell of a matrix product, and its fingerprint names another
BLAS library. A test at the end makes it for real, with R on OpenBLAS, when
Debian's OpenBLAS is installed.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
import subprocess
import sys
import zipfile
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest

from nnparity import compare_folders, paths, traces
from nnparity.cases import FIXTURES, load_case, write_case
from nnparity.cli import main
from nnparity.floats import same_bits
from nnparity.ports import PythonPort, RPort
from nnparity.tracefolder import open_folder

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


@pytest.fixture
def damaged(golden, tmp_path):
    """``damaged(edit)``: a copy of the golden folder after ``edit(folder)``."""

    def make(edit) -> Path:
        copy = tmp_path / "damaged"
        shutil.copytree(golden, copy)
        edit(copy)
        return copy

    return make


def every_npz(convert):
    """An edit of a folder: every matrix of python.npz and r.npz replaced by ``convert(it)``."""

    def edit(folder: Path) -> None:
        for language in ("python", "r"):
            with np.load(folder / f"{language}.npz") as npz:
                arrays = {name: convert(npz[name]) for name in npz.files}
            np.savez(folder / f"{language}.npz", **arrays)

    return edit


@pytest.mark.parametrize(
    "convert",
    [lambda v: v[:0], lambda v: v[:3], lambda v: v[0]],
    ids=["no-epochs", "3-of-the-40-epochs", "no-epoch-axis"],
)
def test_matrices_holding_other_epochs_than_trace_json_says_are_refused(
    capsys, damaged, convert
):
    """Both sides cut the same way agree cell for cell, about fewer epochs than they claim."""
    folder = damaged(every_npz(convert))
    code, out, err = compare(capsys, folder, folder)
    assert code == 2, (
        f"trace.json says {EPOCHS} epochs and the matrices hold fewer: a damaged folder "
        f"(exit 2), never an agreement:\n{out}{err}"
    )
    assert_one_line(err, "python.npz", "trace.json", f"{EPOCHS} epochs")


def test_an_npz_holding_no_matrices_is_refused(capsys, damaged):
    def empty(folder: Path) -> None:
        for name in ("python.npz", "r.npz"):
            np.savez(folder / name)

    folder = damaged(empty)
    code, out, err = compare(capsys, folder, folder)
    assert code == 2, f"an .npz with no matrices is a damaged trace (exit 2):\n{out}{err}"
    assert_one_line(err, "python.npz", "no matrices")


@pytest.mark.parametrize("listed", ["python.npz", "r.npz", "r.rds"])
def test_a_file_trace_json_lists_but_the_folder_lacks_is_refused(capsys, golden, damaged, listed):
    b = damaged(lambda folder: (folder / listed).unlink())
    code, out, err = compare(capsys, golden, b)
    assert code == 2, (
        f"trace.json lists {listed} and it is gone: a damaged folder (exit 2), not a "
        f"comparison of what is left:\n{out}{err}"
    )
    assert_one_line(err, listed, "trace.json")


def edit_info(change):
    """An edit of a folder: trace.json replaced by ``change(its content)``."""

    def edit(folder: Path) -> None:
        info = json.loads((folder / "trace.json").read_text())
        (folder / "trace.json").write_text(json.dumps(change(info)))

    return edit


def unlisted(info):
    info["files"].remove("r.npz")
    return info


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda info: {**info, "epochs": str(EPOCHS)}, ["epochs", f'"{EPOCHS}"']),
        (lambda info: {**info, "epochs": -EPOCHS}, ["epochs", f"-{EPOCHS}"]),
        (lambda info: {**info, "epochs": 0}, ["epochs", "0"]),
        (lambda info: {**info, "epochs": float(EPOCHS)}, ["epochs", f"{EPOCHS}.0"]),
        (lambda info: {**info, "epochs": True}, ["epochs", "true"]),
        (lambda info: {k: v for k, v in info.items() if k != "epochs"}, ["epochs", "missing"]),
        (lambda info: {**info, "epochs": 10**30}, ["python.npz", "trace.json", "epochs"]),
        (lambda info: {**info, "files": "python.npz"}, ["files"]),
        (lambda info: {**info, "environment": ["numpy"]}, ["environment"]),
        (lambda info: [info], ["trace.json", "not an nnparity trace description"]),
        (unlisted, ["r.npz", "not listed", "trace.json"]),
        (lambda info: {**info, "case": ["article"]}, ["trace.json", "case", '["article"]']),
        (lambda info: {**info, "modes": "free"}, ["trace.json", "modes", '"free"']),
        (lambda info: {**info, "modes": ["free", "fast"]}, ["trace.json", "modes", '"fast"']),
        # an escape sequence compare printed cleared the terminal
        (lambda info: {**info, "case": "art\x1b[2Jicle"}, ["trace.json", "case", "control"]),
        (lambda info: {**info, "environment": {"python": "\x1b[31m3.11"}},
         ["trace.json", "environment's \"python\"", "control"]),
        (lambda info: {**info, "case": "art\ud800icle"}, ["trace.json", "case", "control"]),
        (lambda info: {**info, "environment": {"mach\x1bine": "Linux"}},
         ["trace.json", "environment's", "control"]),
        (lambda info: {**info, "case": "art\u202eicle"}, ["trace.json", "case", "control"]),
    ],
    ids=[
        "epochs-a-string", "epochs-negative", "epochs-zero", "epochs-a-float", "epochs-a-bool",
        "epochs-missing", "epochs-huge", "files-not-a-list", "environment-not-an-object",
        "not-an-object", "an-npz-not-listed", "case-not-a-name", "modes-not-a-list",
        "modes-unknown", "case-with-an-escape", "environment-with-an-escape",
        "case-with-a-lone-surrogate", "environment-key-with-an-escape", "case-with-a-bidi-override",
    ],
)
def test_a_trace_json_that_does_not_describe_the_folder_is_refused(
    capsys, golden, damaged, change, words
):
    code, out, err = compare(capsys, golden, damaged(edit_info(change)))
    assert code == 2, f"a trace.json that does not describe its folder is bad input:\n{out}{err}"
    assert_one_line(err, *words)


def test_a_comparison_that_saw_fewer_epochs_than_trace_json_says_fails(golden):
    """Past the folder's checks, compare still expects trace.json's epochs, as `run` does."""
    a = open_folder(golden)
    cut = replace(a, traces={language: {name: v[:3] for name, v in arrays.items()}
                             for language, arrays in a.traces.items()})
    report = compare_folders.compare(cut, cut, "r")
    assert not report.passed, f"3 epochs compared of {EPOCHS} cannot agree about {EPOCHS}"
    said = "\n".join(compare_folders.summary("r", report))
    assert "every cell of every epoch" not in said, f"3 epochs are not every epoch:\n{said}"


def test_the_summary_of_a_comparison_that_did_not_cover_every_epoch_says_so(golden):
    a = open_folder(golden)
    short = replace(
        compare_folders.compare(a, a, "r"),
        error=f"3 of the {EPOCHS} epochs asked for were compared",
    )
    said = "\n".join(compare_folders.summary("r", short))
    assert f"not complete: 3 of the {EPOCHS} epochs" in said, said
    assert "every cell of every epoch" not in said, f"the summary claims every epoch:\n{said}"


def rewrite_r_npz(change):
    """An edit of a folder: r.npz rewritten with its members (name -> bytes) after
    ``change(members)``."""

    def edit(folder: Path) -> None:
        path = folder / "r.npz"
        with zipfile.ZipFile(path) as archive:
            members = {name: archive.read(name) for name in archive.namelist()}
        change(members)
        with zipfile.ZipFile(path, "w") as archive:
            for name, data in members.items():
                archive.writestr(name, data)

    return edit


def add(name, data=None):
    def change(members):
        members[name] = members["wh.npy"] if data is None else data

    return change


def cut_wh(end):
    def change(members):
        members["wh.npy"] = members["wh.npy"][:end]

    return change


@pytest.mark.parametrize(
    "change, words",
    [
        (add("notes.txt", b"written by hand"), ["notes.txt", "not a matrix"]),
        (add("extra.npy"), ["extra.npy", "not a matrix"]),
        (cut_wh(-8), ["wh", "bytes"]),
        (cut_wh(100), ["wh"]),
        (add("wh.npy", b"not a numpy array"), ["wh"]),
    ],
    ids=[
        "a-member-not-npy", "a-member-of-another-name", "a-member-short-by-one-double",
        "a-member-cut-in-its-header", "a-member-not-numpy",
    ],
)
def test_an_npz_member_that_is_not_a_whole_matrix_of_the_trace_is_refused_naming_it(
    capsys, golden, damaged, change, words
):
    code, out, err = compare(capsys, golden, damaged(rewrite_r_npz(change)))
    assert code == 2, (
        f"a member nnparity does not write, or a damaged one, is bad input (exit 2), "
        f"never compared or skipped:\n{out}{err}"
    )
    assert_one_line(err, "r.npz", *words)


def test_traces_of_different_cases_are_refused(capsys, golden, other):
    b = other()
    (b / "case" / "X.csv").write_text((b / "case" / "X.csv").read_text().replace("1.0", "2.0", 1))
    code, out, err = compare(capsys, golden, b)
    assert code == 2, out + err
    assert_one_line(err, "different cases")


@dataclass
class Member:
    """One member of a zip written by hand (``write_zip``): its bytes as the zip holds them."""

    name: str
    data: bytes  # as stored in the zip: deflated when method is 8
    size: int  # its bytes once read (uncompressed)
    crc: int
    method: int = zipfile.ZIP_STORED
    flags: int = 0


def members_of(path: Path) -> list[Member]:
    """The members of an .npz, each stored, as ``write_zip`` writes them."""
    with zipfile.ZipFile(path) as archive:
        data = {name: archive.read(name) for name in archive.namelist()}
    return [Member(name, value, len(value), zlib.crc32(value)) for name, value in data.items()]


def write_zip(path: Path, members: list[Member]) -> None:
    """A zip written byte by byte: what zipfile would refuse to write (or take long to)."""
    out, central = bytearray(), bytearray()
    for m in members:
        name = m.name.encode()
        fields = struct.pack(
            "<HHHHHIIIHH", 20, m.flags, m.method, 0, 0x21, m.crc, len(m.data), m.size,
            len(name), 0,
        )
        central += b"PK\x01\x02" + struct.pack("<H", 20) + fields
        central += struct.pack("<HHHII", 0, 0, 0, 0, len(out)) + name
        out += b"PK\x03\x04" + fields + name + m.data
    end = struct.pack("<HHHHIIH", 0, 0, len(members), len(members), len(central), len(out), 0)
    path.write_bytes(bytes(out + central + b"PK\x05\x06" + end))


def replace_member(folder: Path, language: str, member: Member) -> None:
    """``<language>.npz`` of ``folder`` with ``member`` in place of the one of its name."""
    path = folder / f"{language}.npz"
    write_zip(path, [member if m.name == member.name else m for m in members_of(path)])


def npy_header(shape: tuple[int, ...]) -> bytes:
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": shape}
    )
    return header.getvalue()


def deflated_zeros(name: str, shape: tuple[int, ...]) -> Member:
    """A deflated .npy of ``shape`` zeros, made without holding them: about 1 byte of zip per
    1000 of data (a zip bomb). Each piece is flushed whole, so one piece's deflate repeats."""
    piece = bytes(10**6)
    header, data = npy_header(shape), 8 * int(np.prod(shape))
    assert data % len(piece) == 0
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = deflate.compress(header) + deflate.flush(zlib.Z_FULL_FLUSH)
    block = deflate.compress(piece) + deflate.flush(zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(header)
    for _ in range(data // len(piece)):
        crc = zlib.crc32(piece, crc)
    stream = head + block * (data // len(piece)) + deflate.flush()
    return Member(name, stream, len(header) + data, crc, zipfile.ZIP_DEFLATED)


#: The address space `compare` runs in below: far more than it needs, far less than a bomb.
MEMORY_LIMIT = 2 * 1024**3


def compare_with_memory_limit(a: Path, b: Path) -> subprocess.CompletedProcess:
    """``nnparity compare A B`` in a process of its own, its address space limited
    (RLIMIT_AS), so that a compare reading too much fails there, not the machine."""
    limit = (
        "import resource, runpy, sys; "
        f"resource.setrlimit(resource.RLIMIT_AS, ({MEMORY_LIMIT}, {MEMORY_LIMIT})); "
        "sys.argv = ['nnparity', 'compare', sys.argv[1], sys.argv[2]]; "
        "runpy.run_module('nnparity', run_name='__main__')"
    )
    threads = {name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    return subprocess.run(
        [sys.executable, "-c", limit, str(a), str(b)],
        capture_output=True,
        text=True,
        env={**os.environ, **threads},
        timeout=300,
    )


def test_a_legitimate_compare_fits_the_memory_limit_of_the_bomb_test(golden):
    result = compare_with_memory_limit(golden, golden)
    assert result.returncode == 0, (
        f"compare of the golden folder with itself under a {MEMORY_LIMIT} byte address space "
        f"failed, so the memory-bomb test below proves nothing:\n{result.stdout}{result.stderr}"
    )


def test_a_compressed_member_declaring_rows_and_cols_the_case_has_not_is_refused_unread(
    golden, damaged
):
    """A 4 MB deflated member declaring 40 x 10000 x 1250 doubles (4 GB of zeros, CRC and
    sizes honest) in place of wh, 40 x 4 x 3: refused from its header, never inflated."""
    b = damaged(
        lambda folder: replace_member(folder, "r", deflated_zeros("wh.npy", (EPOCHS, 10000, 1250)))
    )
    assert (b / "r.npz").stat().st_size < 10**7
    result = compare_with_memory_limit(golden, b)
    assert result.returncode == 2, (
        f"a member declaring 40 x 10000 x 1250 doubles, where the article case's matrices are "
        f"built of 3 samples, 4 features, 3 hidden units and 1 output, is a forged trace "
        f"(exit 2), refused before its 4 GB are inflated; got exit {result.returncode}:\n"
        f"{result.stdout}{result.stderr[-3000:]}"
    )
    assert_one_line(result.stderr, "r.npz", "wh", "10000")


def test_traces_that_do_not_fit_the_saved_case_are_refused(capsys, damaged):
    """Both folders' case/ swapped for another case (30 samples, 5 features, 6 hidden units,
    2 outputs): the article's 3 x 3 matrices cannot be a trace of it."""
    folder = damaged(
        lambda folder: (
            shutil.rmtree(folder / "case"), write_case(load_case("two_outputs"), folder / "case")
        )
    )
    code, out, err = compare(capsys, folder, folder)
    assert code == 2, (
        f"the traces are of the article's shapes and case/ is two_outputs: a damaged folder "
        f"(exit 2), never an agreement:\n{out}{err}"
    )
    assert_one_line(err, "python.npz", "3 x 3")


def test_a_buggy_ports_per_sample_bias_and_transposed_matrix_are_still_compared(
    capsys, damaged
):
    """What a buggy port records stays comparable: R's article bias copied per sample
    (samples x hidden, not 1 x hidden) and a matrix recorded transposed (outputs x samples)."""

    def edit(arrays):
        arrays["bh"] = np.repeat(arrays["bh"], 3, axis=1)
        arrays["output"] = arrays["output"].transpose(0, 2, 1).copy()

    def buggy(folder: Path) -> None:
        for language in ("python", "r"):
            with np.load(folder / f"{language}.npz") as npz:
                arrays = {name: npz[name] for name in npz.files}
            edit(arrays)
            np.savez(folder / f"{language}.npz", **arrays)

    folder = damaged(buggy)
    code, out, err = compare(capsys, folder, folder)
    assert code != 2 and not err, (
        f"a per-sample bias (40 x 3 x 3) and a transposed output (40 x 1 x 3) are shapes of "
        f"the case's dimensions, a port's bug to compare, not a damaged folder:\n{out}{err}"
    )


def wh_unreadable_by_zipfile(method: int, flags: int):
    def edit(folder: Path) -> None:
        path = folder / "r.npz"
        members = members_of(path)
        for m in members:
            if m.name == "wh.npy":
                m.method, m.flags = method, flags
        write_zip(path, members)

    return edit


@pytest.mark.parametrize(
    "method, flags, words",
    [
        (9, 0, ["compress", "9"]),
        (zipfile.ZIP_STORED, 0x1, ["encrypted"]),
        (zipfile.ZIP_DEFLATED, 0x1, ["encrypted"]),
        (zipfile.ZIP_DEFLATED, 0x40, ["encrypted"]),
        (zipfile.ZIP_DEFLATED, 0x20, ["patch"]),
    ],
    ids=[
        "compression-method-9", "encrypted-stored", "encrypted-deflated",
        "strongly-encrypted", "a-compressed-patch",
    ],
)
def test_a_member_zipfile_cannot_read_is_refused_in_one_line(
    capsys, golden, damaged, method, flags, words
):
    code, out, err = compare(capsys, golden, damaged(wh_unreadable_by_zipfile(method, flags)))
    assert code == 2, (
        f"r.npz's wh.npy is compressed by a method numpy does not use, or encrypted: a damaged "
        f"trace (exit 2, one line), not a traceback; got exit {code}:\n{out}{err}"
    )
    assert_one_line(err, "r.npz", "wh", *words)


@pytest.mark.parametrize(
    "listed",
    ["../damaged/trace.json", "case/X.csv", "/etc/hostname", ".", ""],
    ids=["a-path-up", "a-path-down", "an-absolute-path", "the-folder", "empty"],
)
def test_a_file_trace_json_lists_that_is_not_a_plain_name_in_the_folder_is_refused(
    capsys, golden, damaged, listed
):
    def change(info):
        info["files"].append(listed)
        return info

    code, out, err = compare(capsys, golden, damaged(edit_info(change)))
    assert code == 2, (
        f"trace.json lists {listed!r}: nnparity lists only the plain names of files in the "
        f"folder; anything else is a damaged folder (exit 2):\n{out}{err}"
    )
    assert_one_line(err, "trace.json", "files", repr(listed)[1:-1] or '""')


def test_an_npz_with_two_members_of_one_name_is_refused(capsys, golden, damaged):
    """zipfile's reading keeps the last: the first would be silently ignored."""

    def twice(folder: Path) -> None:
        path = folder / "r.npz"
        members = members_of(path)
        wh = next(m for m in members if m.name == "wh.npy")
        write_zip(path, [*members, wh])

    code, out, err = compare(capsys, golden, damaged(twice))
    assert code == 2, (
        f"r.npz holds wh.npy twice: which is the trace? A damaged folder (exit 2):\n{out}{err}"
    )
    assert_one_line(err, "r.npz", "wh.npy", "twice")


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
    # Whether the two BLAS give R other bits on the article's small products depends on the
    # processor: OpenBLAS's kernels did on an Intel Xeon and did not on an AMD EPYC. compare
    # must say which it is.
    a, b = traces.load_trace(golden / "r.npz"), traces.load_trace(tmp_path / "b" / "r.npz")
    same = all(same_bits(a[name], b[name]) for name in a)
    said = "bitwise equal: every cell" if same else "first difference: epoch"
    assert f"r.npz: within the bound\n  {said}" in result.stdout, (
        f"R's traces on the two BLAS are {'bitwise equal' if same else 'not bitwise equal'}; "
        f"compare should say 'r.npz: within the bound', then '{said}':\n{result.stdout}"
    )
    verdict = "A AND B AGREE within the bound: python.npz bitwise equal, r.npz "
    assert verdict + ("bitwise equal" if same else "within") in result.stdout.splitlines(), (
        result.stdout
    )
    doc = (paths.BASE / "docs" / "results-as-data.md").read_text()  # a sample where R's differ
    assert verdict + "within" in doc and "the environments differ in: R BLAS" in doc, (
        "the docs' sample is stale"
    )


def test_a_stored_member_whose_bytes_do_not_match_its_crc_is_refused(capsys, golden, damaged):
    """A stored member is mapped, not read through zipfile (which checks its CRC-32): a bit
    flipped in a low digit of one cell was compared as if the run had made it, and agreed."""

    def flip(folder: Path) -> None:
        path = folder / "r.npz"
        members = members_of(path)
        wh = next(m for m in members if m.name == "wh.npy")
        data = bytearray(wh.data)
        data[-3] ^= 0x40  # a low byte of the last cell: a difference within the bound
        flipped = replace(wh, data=bytes(data))  # the CRC-32 kept as written
        write_zip(path, [flipped if m is wh else m for m in members])

    code, out, err = compare(capsys, golden, damaged(flip))
    assert code == 2, (
        f"r.npz's wh.npy does not match its CRC-32: a damaged folder (exit 2), never compared:"
        f"\n{out}{err}"
    )
    assert_one_line(err, "r.npz", "wh.npy", "CRC-32")


def test_a_trace_only_one_folder_holds_is_named_as_not_compared(capsys, golden, tmp_path):
    """A lockstep-only run saves python.npz alone: its folder against a full one agreed,
    saying nothing of the other's r.npz."""
    alone = tmp_path / "lockstep"
    assert traces.run(load_case("article"), PythonPort(), RPort(), EPOCHS, ("lockstep",),
                      save_traces=alone).passed
    code, out, err = compare(capsys, golden, alone)
    assert code == 0, out + err
    last = out.strip().splitlines()[-1]
    assert "not compared: r.npz (only A holds one)" in last, last


def with_cell(golden: Path, folder: Path, value: float) -> Path:
    """A copy of the golden folder whose r.npz holds `value` at epoch 3, wh [1, 1]."""
    shutil.copytree(golden, folder)
    with np.load(folder / "r.npz") as npz:
        arrays = {name: npz[name] for name in npz.files}
    arrays["wh"][2, 0, 0] = value
    np.savez(folder / "r.npz", **arrays)
    return folder


def test_plus_zero_against_minus_zero_is_equal_in_value_not_bitwise(capsys, golden, tmp_path):
    a, b = with_cell(golden, tmp_path / "a", 0.0), with_cell(golden, tmp_path / "b", -0.0)
    code, out, err = compare(capsys, a, b)
    assert code == 0, out + err
    assert ("r.npz: within the bound\n  equal in value in every cell of every epoch, not "
            "bitwise: 1 cell holds +0.0 against -0.0") in out, out
    assert "r.npz equal in value" in out.splitlines()[-1], out
    assert out.count("bitwise equal: every cell of every epoch") == 1, (
        f"only python.npz is bitwise equal:\n{out}"
    )


@pytest.mark.parametrize("entry", ["r.npz", "python.rds", "case"])
def test_a_trace_folder_entry_that_is_a_symbolic_link_is_refused(
    capsys, golden, damaged, tmp_path, entry
):
    """A linked file is not the one trace.json describes: it may change, or lie elsewhere."""

    def link(folder: Path) -> None:
        elsewhere = tmp_path / "elsewhere" / entry
        elsewhere.parent.mkdir()
        (folder / entry).rename(elsewhere)
        (folder / entry).symlink_to(elsewhere)

    code, out, err = compare(capsys, golden, damaged(link))
    assert code == 2, f"{entry} a symbolic link: refused (exit 2), not followed:\n{out}{err}"
    assert_one_line(err, entry, "symbolic link")
