"""Fixtures are the shared truth: reproducible, valid, and read identically by both languages."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from nnparity import cases, paths
from nnparity.bridge import call

ROOT = paths.BASE


def test_generator_reproduces_every_fixture_file_byte_for_byte():
    generate = paths.FIXTURES / "generate.py"
    result = subprocess.run([sys.executable, str(generate), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, f"fixtures/generate.py --check: files differ from what the script writes:\n{result.stderr}"


def test_the_expected_cases_are_shipped():
    expected = {"article", "iris", "many_samples", "many_features", "many_hidden", "two_outputs"}
    assert expected <= set(cases.names())


def test_every_case_documents_where_its_numbers_came_from(case):
    assert case.description and case.source and case.seed, f"{case.name}: config.csv needs description, source and seed"


def test_write_then_load_round_trips_every_double_exactly(case, tmp_path):
    again = cases.load_case(cases.write_case(case, tmp_path / case.name))
    for name, matrix in case.matrices().items():
        assert matrix.tobytes() == getattr(again, name).tobytes(), f"{case.name}/{name}.csv does not round-trip bit for bit"
    assert (again.lr, again.epochs) == (case.lr, case.epochs)


@pytest.mark.usefixtures("r_available")
def test_r_reads_every_fixture_file_to_the_same_doubles_as_python(case):
    """r_impl/read_case.R (used by Rscript) must see the very numbers Python sees."""
    call("source", str(ROOT / "r_impl" / "read_case.R"))
    from_r = call("read_case", str(case.path))
    for name, matrix in case.matrices().items():
        got = np.asarray(from_r[name], dtype=np.float64)
        assert got.shape == matrix.shape, f"{case.name}/{name}.csv: R reads shape {got.shape}, Python {matrix.shape}"
        differs = np.argwhere(got.view(np.int64) != matrix.view(np.int64))
        assert differs.size == 0, f"{case.name}/{name}.csv: R parses cell {differs[0] + 1} as {got[tuple(differs[0])]!r}, Python as {matrix[tuple(differs[0])]!r}"
    assert float(np.asarray(from_r["lr"])[0]) == case.lr and int(np.asarray(from_r["epochs"])[0]) == case.epochs


def test_iris_source_is_r_datasets_iris(r_available):
    """fixtures/sources/iris.csv was exported once from R; it must still be R's iris."""
    ours = call("read.csv", str(paths.FIXTURES / "sources" / "iris.csv"), stringsAsFactors=True)
    same = call("identical", ours, call("get", "iris"))
    assert bool(np.asarray(same)[0]), "fixtures/sources/iris.csv is not write.csv(datasets::iris) any more"
