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
    result = subprocess.run(
        [sys.executable, str(generate), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, (
        f"fixtures/generate.py --check: files differ from what the script writes:\n{result.stderr}"
    )


def test_the_expected_cases_are_shipped():
    expected = {
        "article",
        "iris",
        "many_samples",
        "many_features",
        "many_hidden",
        "two_outputs",
        "square",
        "square_weights",
        "samples_as_features",
        "all_different",
        "saturated",
    }
    assert expected <= set(cases.names())


#: Where a mistake computes a wrong value instead of crashing (fixtures/README.md):
#: each coincidence of dimensions must hold on at least two cases.
COINCIDENCES = {
    "samples = features (X square: t(X) forgotten still computes)": lambda n, f, h, o: n == f,
    "features = hidden units (wh square)": lambda n, f, h, o: f == h,
    "hidden units = outputs (wout square)": lambda n, f, h, o: h == o,
    "samples = hidden units (a hidden-bias sum over the wrong axis fits)": lambda n, f, h, o: (
        n == h
    ),
    "samples = outputs (an output-bias sum over the wrong axis fits)": lambda n, f, h, o: n == o,
    "several outputs (an output bias recycled or summed to a scalar is wrong)": lambda n, f, h, o: (
        o > 1
    ),
    "non-binary inputs": None,
    "lr other than 0.1": None,
}


@pytest.mark.parametrize("coincidence", COINCIDENCES)
def test_every_coincidence_that_lets_a_shape_mistake_compute_holds_on_two_cases(coincidence):
    loaded = [cases.load_case(name) for name in cases.names()]
    if coincidence == "non-binary inputs":
        holds = [c.name for c in loaded if not np.isin(c.X, (0.0, 1.0)).all()]
    elif coincidence == "lr other than 0.1":
        holds = [c.name for c in loaded if c.lr != 0.1]
    else:
        holds = [c.name for c in loaded if COINCIDENCES[coincidence](*c.dims)]
    assert len(holds) >= 2, (
        f"{coincidence}: only {holds}; a mistake it lets compute would bite on fewer than two cases"
    )


def test_one_case_has_every_dimension_different_one_saturates_and_one_crosses_chunks():
    import python_impl
    from nnparity import traces

    loaded = {name: cases.load_case(name) for name in cases.names()}
    assert [n for n, c in loaded.items() if len(set(c.dims)) == 4], (
        "no case has samples, features, hidden units and outputs all different"
    )
    assert [
        n for n, c in loaded.items() if len(traces.chunks(c.epochs, traces.epoch_bytes(c))) > 1
    ], "no case crosses a chunk boundary"
    c = loaded["saturated"]
    output = python_impl.train(*c.train_inputs(), 1)["output"]
    assert np.minimum(output, 1 - output).max() < 1e-9, (
        "the saturated case: an output is not within 1e-9 of 0 or 1"
    )


def test_every_case_documents_where_its_numbers_came_from(case):
    assert case.description and case.source and case.seed, (
        f"{case.name}: config.csv needs description, source and seed"
    )


def test_write_then_load_round_trips_every_double_exactly(case, tmp_path):
    again = cases.load_case(cases.write_case(case, tmp_path / case.name))
    for name, matrix in case.matrices().items():
        assert matrix.tobytes() == getattr(again, name).tobytes(), (
            f"{case.name}/{name}.csv does not round-trip bit for bit"
        )
    assert (again.lr, again.epochs) == (case.lr, case.epochs)


def _tree(folder):
    return {
        str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None
        for p in sorted(folder.rglob("*"))
    }


def test_writing_over_a_case_keeps_the_users_other_files(tmp_path):
    article = cases.load_case("article")
    folder = cases.write_case(article, tmp_path / "mine")
    (folder / "walkthrough.csv").write_text("step,value\n")
    (folder / "notes").mkdir()
    (folder / "notes" / "why.md").write_text("kept\n")
    article.lr = 0.25
    cases.write_case(article, folder)
    assert (folder / "walkthrough.csv").read_text() == "step,value\n", (
        "write_case lost or changed the user's walkthrough.csv beside the case files"
    )
    assert (folder / "notes" / "why.md").read_text() == "kept\n", (
        "write_case lost the user's notes/ folder beside the case files"
    )
    assert cases.load_case(folder).lr == 0.25, "write_case did not replace config.csv"
    assert [p.name for p in tmp_path.iterdir()] == ["mine"], (
        f"write_case left staging folders behind: {sorted(p.name for p in tmp_path.iterdir())}"
    )


def test_a_case_write_that_fails_midway_leaves_the_folder_as_it_was(tmp_path, monkeypatch):
    article = cases.load_case("article")
    folder = cases.write_case(article, tmp_path / "mine")
    (folder / "walkthrough.csv").write_text("kept\n")
    before = _tree(folder)

    def fail_on_wout(matrix):
        if matrix is article.wout:
            raise OSError(28, "No space left on device")
        return "1.0\n"

    monkeypatch.setattr(cases, "format_matrix", fail_on_wout)
    with pytest.raises(OSError, match="No space left"):
        cases.write_case(article, folder)
    assert _tree(folder) == before, "a failed write_case changed the existing case folder"
    assert [p.name for p in tmp_path.iterdir()] == ["mine"], (
        f"a failed write_case left files behind: {sorted(p.name for p in tmp_path.iterdir())}"
    )


def test_a_case_folder_with_a_folder_named_as_a_case_file_is_refused_untouched(tmp_path):
    article = cases.load_case("article")
    (tmp_path / "mine" / "X.csv").mkdir(parents=True)
    (tmp_path / "mine" / "X.csv" / "data").write_text("the user's\n")
    with pytest.raises(OSError, match=r"holds files nnparity did not write \(X\.csv\)"):
        cases.write_case(article, tmp_path / "mine")
    assert (tmp_path / "mine" / "X.csv" / "data").read_text() == "the user's\n"


def test_a_case_written_into_a_missing_folder_makes_its_parents(tmp_path):
    folder = cases.write_case(cases.load_case("article"), tmp_path / "a" / "b" / "case")
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"{name}.csv" for name in cases.MATRICES] + [cases.CONFIG]
    ), "write_case into a new nested folder did not write exactly the seven case files"


@pytest.mark.usefixtures("r_available")
def test_r_reads_every_fixture_file_to_the_same_doubles_as_python(case):
    """r_impl/read_case.R (used by Rscript) must see the very numbers Python sees."""
    call("source", str(ROOT / "r_impl" / "read_case.R"))
    from_r = call("read_case", str(case.path))
    for name, matrix in case.matrices().items():
        got = np.asarray(from_r[name], dtype=np.float64)
        assert got.shape == matrix.shape, (
            f"{case.name}/{name}.csv: R reads shape {got.shape}, Python {matrix.shape}"
        )
        differs = np.argwhere(got.view(np.int64) != matrix.view(np.int64))
        assert differs.size == 0, (
            f"{case.name}/{name}.csv: R parses cell {differs[0] + 1} as "
            f"{got[tuple(differs[0])]!r}, Python as {matrix[tuple(differs[0])]!r}"
        )
    assert (
        float(np.asarray(from_r["lr"])[0]) == case.lr
        and int(np.asarray(from_r["epochs"])[0]) == case.epochs
    )


def test_iris_source_is_r_datasets_iris(r_available):
    """fixtures/sources/iris.csv was exported once from R; it must still be R's iris."""
    ours = call("read.csv", str(paths.FIXTURES / "sources" / "iris.csv"), stringsAsFactors=True)
    same = call("identical", ours, call("get", "iris"))
    assert bool(np.asarray(same)[0]), (
        "fixtures/sources/iris.csv is not write.csv(datasets::iris) any more"
    )
