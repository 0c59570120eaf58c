"""Traces for R users: `--save-traces` writes .rds files that base R opens with readRDS,
bit for bit the .npz.

R reads the files in a separate Rscript (no rpy2 in the way) and writes each
array's raw bytes back out in its own column-major order with writeBin; the
test compares them with the .npz array's bytes in the same order.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from nnparity import rds, steps, traces
from nnparity.ports import PythonPort, RPort

EPOCHS = 30

#: Reads an .rds and writes, per element of the list: its name, its dim, its
#: doubles as raw little-endian bytes (column-major, as R holds them).
DUMP_R = r"""
args <- commandArgs(trailingOnly = TRUE)
x <- readRDS(args[[1]])
out <- args[[2]]
writeLines(names(x), file.path(out, "names.txt"))
for (name in names(x)) {
  writeLines(as.character(dim(x[[name]])), file.path(out, paste0(name, ".dim")))
  con <- file(file.path(out, paste0(name, ".bin")), "wb")
  writeBin(as.vector(x[[name]]), con, endian = "little")
  close(con)
}
"""


def rscript(code: str, *args: str) -> None:
    result = subprocess.run(["Rscript", "-e", code, *args], capture_output=True, text=True)
    assert result.returncode == 0, f"Rscript failed:\n{result.stderr}"


def read_back_in_r(path: Path, out: Path) -> dict[str, tuple[tuple[int, ...], bytes]]:
    """What R's readRDS makes of `path`: name -> (dim, raw doubles in column-major order)."""
    out.mkdir()
    rscript(DUMP_R, str(path), str(out))
    names = (out / "names.txt").read_text().split()
    return {
        name: (
            tuple(int(d) for d in (out / f"{name}.dim").read_text().split()),
            (out / f"{name}.bin").read_bytes(),
        )
        for name in names
    }


def column_major_bytes(array: np.ndarray) -> bytes:
    return np.asarray(array, dtype="<f8").ravel(order="F").tobytes()


@pytest.fixture(scope="module")
def saved(tmp_path_factory, r_available) -> Path:
    """A run of the article case with --save-traces: both languages' .npz and .rds."""
    folder = tmp_path_factory.mktemp("traces") / "saved"
    from nnparity.cases import load_case

    run = traces.run(load_case("article"), PythonPort(), RPort(), EPOCHS, save_traces=folder)
    assert run.passed, "the article case must hold parity for this test to mean anything"
    return folder


@pytest.mark.parametrize("language", ["python", "r"])
def test_readRDS_in_R_gives_the_npz_arrays_names_shapes_and_bits(saved, tmp_path, language):
    from_r = read_back_in_r(saved / f"{language}.rds", tmp_path / "dump")
    with np.load(saved / f"{language}.npz") as npz:
        assert list(from_r) == list(npz.files) == list(steps.NAMES), (
            f"{language}.rds names: {list(from_r)}"
        )
        for name in npz.files:
            dim, raw = from_r[name]
            assert dim == npz[name].shape, (
                f"{language}.rds: {name} has dim {dim} in R, {npz[name].shape} in the .npz"
            )
            if raw != column_major_bytes(npz[name]):
                got = np.frombuffer(raw, dtype="<f8").reshape(dim, order="F")
                at = np.argwhere(got.view(np.int64) != npz[name].view(np.int64))[0]
                pytest.fail(
                    f"{language}.rds: {name}{[int(i) + 1 for i in at]} is {got[tuple(at)]!r} in R, "
                    f"{npz[name][tuple(at)]!r} in the .npz"
                )


@pytest.mark.parametrize("language", ["python", "r"])
def test_the_python_reader_gives_back_the_npz_bit_for_bit(saved, language):
    back = rds.read_rds(saved / f"{language}.rds")
    with np.load(saved / f"{language}.npz") as npz:
        assert list(back) == list(npz.files)
        for name in npz.files:
            assert back[name].shape == npz[name].shape, (
                f"{name}: {back[name].shape} read back, {npz[name].shape} saved"
            )
            assert np.array_equal(back[name].view(np.int64), npz[name].view(np.int64)), (
                f"{language}.rds: {name} differs"
            )


def test_the_file_is_laid_out_byte_for_byte_as_saveRDS_writes_it(saved, tmp_path):
    """R re-saves what it read, uncompressed: only the header's writer version may differ."""
    ours = saved / "r.rds"
    theirs = tmp_path / "resaved.rds"
    rscript(
        "a <- commandArgs(TRUE); saveRDS(readRDS(a[1]), a[2], compress = FALSE)",
        str(ours),
        str(theirs),
    )
    a, b = ours.read_bytes(), theirs.read_bytes()
    # "X\n" (2 bytes), the format version (4), then the version of R that wrote it (4): skipped.
    assert len(a) == len(b), f"ours {len(a)} bytes, R's {len(b)}"
    assert a[:6] + a[10:] == b[:6] + b[10:], (
        "the layout differs from saveRDS's beyond the writer's version"
    )


SPECIAL = {
    "specials": np.array(
        [
            [[np.nan, np.inf], [-np.inf, -0.0]],
            [[np.frombuffer(np.int64(0x7FF00000000007A2).tobytes())[0], 5e-324], [1.0, -1.0]],
        ]
    ),
    "column": np.arange(6.0).reshape(2, 3, 1),
}
CHECK_SPECIALS_R = r"""
x <- readRDS(commandArgs(TRUE)[1])
s <- x$specials
stopifnot(
  identical(dim(s), c(2L, 2L, 2L)),
  is.nan(s[1, 1, 1]), identical(s[1, 1, 2], Inf), identical(s[1, 2, 1], -Inf),
  identical(sprintf("%a", s[1, 2, 2]), "-0x0p+0"),
  is.na(s[2, 1, 1]) && !is.nan(s[2, 1, 1]),
  identical(s[2, 1, 2], 5e-324),
  identical(x$column[2, 3, 1], 5)
)
"""


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_nan_na_inf_signed_zero_and_subnormals_survive_into_r(tmp_path, compress):
    path = rds.write_rds(SPECIAL, tmp_path / "special.rds", compress=compress)
    rscript(CHECK_SPECIALS_R, str(path))
    back = rds.read_rds(path)
    for name, array in SPECIAL.items():
        assert np.array_equal(back[name].view(np.int64), array.view(np.int64)), (
            f"{name} changed on the way back"
        )


def test_an_unfinished_rds_leaves_nothing_behind(tmp_path):
    class Broken(dict):
        def __getitem__(self, name):
            raise RuntimeError("the trace could not be read")

    with pytest.raises(RuntimeError):
        rds.write_rds(Broken(wh=None), tmp_path / "t.rds")
    assert list(tmp_path.iterdir()) == [], f"left behind: {list(tmp_path.iterdir())}"
