"""Tidy statistics: `--save-stats FILE`, one row per mode, epoch and matrix, read by every report.

The table (``nnparity.stats``) is what the terminal table and ``--json`` sum up
(from the comparison's totals, held equal here) and the HTML report shows; a
file written by ``--save-stats`` reads back to the same table, so a report made
from the file is the report of the run. The docs' pandas and R snippets draw
the report's plots from the file.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from nnparity import html_report, paths, report, stats, steps, traces
from nnparity.atomic import MANIFEST
from nnparity.cases import load_case
from nnparity.cli import main
from nnparity.ports import PythonPort, RPort

DOC = paths.BASE / "docs" / "results-as-data.md"

# Under -n with --dist loadgroup (pyproject.toml), the module's tests share one worker, so
# its two runs (the whole article case; 1000 epochs with traces) are made once, not per worker.
pytestmark = pytest.mark.xdist_group("stats")


@pytest.fixture(scope="module")
def article_stats(tmp_path_factory, r_available):
    """`nnparity run --save-stats s.csv --json` on the article case, every epoch: (file, JSON)."""
    path = tmp_path_factory.mktemp("stats") / "s.csv"
    out = tmp_path_factory.mktemp("stats") / "run.json"
    code = subprocess.run(
        [sys.executable, "-m", "nnparity", "run", "--save-stats", str(path), "--json"],
        stdout=out.open("w"),
        stderr=subprocess.PIPE,
        text=True,
    )
    assert code.returncode == 0, code.stderr
    return path, json.loads(out.read_text())


@pytest.fixture(scope="module")
def small_run(tmp_path_factory, r_available):
    """A 1000-epoch run of the article case (the docs look at epoch 731), with each language's
    loss (for the HTML report), its traces saved in ``run.traces_folder``."""
    case = load_case("article")
    losses = html_report.LossRecorder()
    folder = tmp_path_factory.mktemp("run") / "traces"
    run = traces.run(case, PythonPort(), RPort(), 1000, save_traces=folder, observe=losses)
    run.traces_folder = folder
    return run, losses.loss()


def test_the_article_case_gives_one_row_per_mode_epoch_and_recorded_matrix(article_stats):
    path, _ = article_stats
    table = stats.read(path)
    epochs = load_case("article").epochs
    assert len(table) == 2 * epochs * len(steps.NAMES), f"{len(table)} rows"
    keys = table[["mode", "epoch", "matrix"]]
    assert not keys.duplicated().any(), "a (mode, epoch, matrix) appears twice"
    for mode in ("free", "lockstep"):
        rows = table[table["mode"] == mode]
        assert sorted(rows["epoch"].unique()) == list(range(1, epochs + 1)), (
            f"{mode}: epochs missing"
        )
        assert list(rows["matrix"].iloc[: len(steps.NAMES)]) == list(steps.NAMES)


def test_the_file_has_the_documented_columns_and_dtypes(article_stats):
    path, _ = article_stats
    header = path.read_text().split("\n", 1)[0].split(",")
    assert header == list(stats.SCHEMA), f"the CSV's columns are {header}"
    documented = re.findall(r"^\| `(\w+)` \| (\w+) \|", DOC.read_text(), flags=re.M)
    assert dict(documented) == stats.SCHEMA, (
        "docs/results-as-data.md's schema differs from stats.SCHEMA"
    )
    assert dict(stats.read(path).dtypes.astype(str)) == stats.SCHEMA


def test_save_stats_fills_the_bound_in_every_row_and_no_cell_is_beyond_it(article_stats):
    path, result = article_stats
    table = stats.read(path)
    assert table["bound"].notna().all(), "--save-stats leaves rows without their bound"
    within = table["max_abs"] <= table["bound"]
    assert within.all() and result["passed"], f"beyond the bound:\n{table[~within].head()}"


def test_the_full_bound_gives_the_verdict_and_figures_of_the_lazy_one(small_run, r_available):
    run, _ = small_run
    full = traces.run(load_case("article"), PythonPort(), RPort(), run.epochs, full_bounds=True)
    lazy_table, full_table = stats.table(run.reports), stats.table(full.reports)
    pd.testing.assert_frame_equal(
        lazy_table.drop(columns="bound"), full_table.drop(columns="bound"), check_exact=True
    )
    computed = lazy_table["bound"].notna()
    assert computed.any() and not computed.all()
    assert (lazy_table["bound"][computed] == full_table["bound"][computed]).all()


def test_json_shows_the_figures_of_the_file(article_stats):
    path, result = article_stats
    table = stats.read(path)
    for mode, shown in result["modes"].items():
        figures = stats.summary(table, mode)
        for step in shown["steps"]:
            f = figures.loc[step["matrix"]]
            got = (
                step["cells"],
                step["bitwise_equal"],
                step["max_abs"],
                step["max_ulp"],
                step["beyond_bound"],
            )
            want = (f["cells"], f["equal"], f["max_abs"], f["max_ulp"], f["over"])
            assert got == want, f"{mode}/{step['matrix']}: --json {got}, file {want}"


def test_the_totals_of_the_table_are_the_comparisons(small_run):
    run, _ = small_run
    table = stats.table(run.reports)
    for mode, result in run.reports.items():
        figures = stats.summary(table, mode)
        for s in result.stats:
            f = figures.loc[s.name]
            got = (f["cells"], f["equal"], f["max_abs"], f["max_rel"], f["max_ulp"], f["over"])
            want = (s.cells, s.equal, s.max_abs, s.max_rel, s.max_ulp, s.violations)
            assert got == want, f"{mode}/{s.name}: table {got}, comparison {want}"


def overflowing_run(tmp_path, epochs=40):
    """A run whose values overflow to Inf, then NaN, in both languages (test_nan.py's case)."""
    sys.path.insert(0, str(paths.FIXTURES))
    from generate import generated

    from nnparity.cases import write_case

    case = generated("overflow", 7, 200, 4, 3, 1, 1e308, epochs, "lr so large that wout overflows")
    case = load_case(write_case(case, tmp_path / "overflow"))
    return traces.run(case, PythonPort(), RPort(), epochs)


@pytest.mark.parametrize("which", ["article", "overflowing"])
def test_the_printed_figures_are_the_tables_summary(small_run, tmp_path, which):
    """The terminal table and --json take each matrix's figures from the comparison's totals
    (report.figures), without building the table: they must be its summary, cell for cell."""
    run = small_run[0] if which == "article" else overflowing_run(tmp_path)
    table = stats.table(run.reports)
    for mode, result in run.reports.items():
        summary = stats.summary(table, mode)
        for s in result.stats:
            shown, filed = report.figures(s), summary.loc[s.name]
            for column, value in shown.items():
                assert value == filed[column] or (np.isnan(value) and np.isnan(filed[column])), (
                    f"{which}, {mode}/{s.name}: {column} printed {value}, "
                    f"the statistics table's summary {filed[column]}"
                )


def test_a_run_that_prints_its_result_does_not_import_pandas(r_available):
    """pandas (0.3 s of CPU to import) is for --save-stats and the HTML report only."""
    code = (
        "import io, sys; from rich.console import Console; from nnparity import cases, traces; "
        "from nnparity.ports import PythonPort, RPort; from nnparity.report import show_run; "
        "run = traces.run(cases.load_case('article'), PythonPort(), RPort(), 50); "
        "show_run(run, Console(file=io.StringIO())); show_run(run, Console(file=io.StringIO()), "
        "as_json_output=True); print('pandas' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=paths.BASE
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False", "printing a run's result imported pandas"


def test_the_first_difference_is_flagged_on_its_row(small_run):
    run, _ = small_run
    table = stats.table(run.reports)
    first = run.reports["free"].first_difference
    flagged = table[(table["mode"] == "free") & table["first_difference"]]
    assert first is not None and len(flagged) == 1
    assert (flagged["epoch"].item(), flagged["matrix"].item()) == (first.epoch, first.name)
    row = table[(table["mode"] == "free") & (table["epoch"] < first.epoch)]
    assert (row["equal_share"] == 1).all(), "a row before the first difference is not bitwise equal"


def test_the_first_cell_beyond_the_bound_is_flagged_on_its_row(port_copy, r_available):
    lr_twice = ("wh + X.T.dot(d_hiddenlayer) * lr", "wh + X.T.dot(d_hiddenlayer) * lr * lr")
    port = port_copy("python_impl", "steps.py", *lr_twice)
    run = traces.run(load_case("article"), PythonPort(port), RPort(), 5, modes=("free",))
    table = stats.table(run.reports)
    first = run.reports["free"].first_violation
    assert first is not None, "the learning rate applied twice must put cells beyond the bound"
    flagged = table[table["first_over"]].sort_values(["epoch", "step"])
    assert (flagged["epoch"].iloc[0], flagged["matrix"].iloc[0]) == (first.epoch, first.name)
    # steps 2 to 11, and the once-per-call checks that failed (here, what train() returned)
    assert table["over"].sum() == sum(s.violations for s in run.reports["free"].shown)


@pytest.mark.parametrize("name", ["s.csv", "s.parquet"])
def test_the_file_reads_back_to_the_same_table_bit_for_bit(small_run, tmp_path, name):
    run, _ = small_run
    table = stats.table(run.reports)
    back = stats.read(stats.write(table, tmp_path / name))
    pd.testing.assert_frame_equal(back, table, check_exact=True)
    assert [p.name for p in tmp_path.iterdir()] == [name], "a temporary file was left behind"


def test_the_report_made_from_the_file_is_the_report_of_the_run(small_run, tmp_path):
    run, losses = small_run
    from_file = stats.read(stats.write(stats.table(run.reports), tmp_path / "s.csv"))
    made = {
        "run": html_report.write_report(run, losses, tmp_path / "from-run").parent,
        "file": html_report.write_report(
            run, losses, tmp_path / "from-file", stats=from_file
        ).parent,
    }
    files = sorted(p.name for p in made["run"].iterdir() if p.name != MANIFEST)  # its times
    assert files == sorted(p.name for p in made["file"].iterdir() if p.name != MANIFEST)
    for name in files:
        same = (made["run"] / name).read_bytes() == (made["file"] / name).read_bytes()
        assert same, f"{name} differs between the report made from the run and from the file"
    printed = {}
    for key, table in (("run", None), ("file", from_file)):
        console = Console(record=True, width=100)
        report.print_run(run, console, table)
        printed[key] = console.export_text()
    assert printed["run"] == printed["file"], "the terminal tables differ"
    assert report.as_json(run) == report.as_json(run, from_file), "--json differs"


def test_parquet_without_pyarrow_is_one_line_and_exit_2_before_running(
    capsys, tmp_path, monkeypatch
):
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow now raises ImportError
    code = main(["run", "--epochs", "3", "--save-stats", str(tmp_path / "s.parquet")])
    out, err = capsys.readouterr()
    assert code == 2, out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "pyarrow" in lines[0] and "nnparity[parquet]" in lines[0], err
    assert out == "", "the run went ahead although its statistics could not be written"
    assert list(tmp_path.iterdir()) == []


def test_a_stats_file_in_a_missing_folder_is_one_line_and_exit_2(capsys, tmp_path):
    code = main(["run", "--epochs", "3", "--save-stats", str(tmp_path / "no" / "s.csv")])
    _, err = capsys.readouterr()
    assert code == 2 and len(err.strip().splitlines()) == 1 and "does not exist" in err, err


@pytest.mark.parametrize("inside", ["stats.csv", "sub/stats.csv"])
def test_statistics_inside_the_traces_folder_are_refused_before_the_run(capsys, tmp_path, inside):
    # The traces folder holds exactly what nnparity writes there: a file saved inside it
    # would make the next run with the same command refuse the folder.
    folder = tmp_path / "run"
    code = main(["run", "--epochs", "3", "--save-traces", str(folder), "--save-stats",
                 str(folder / inside)])
    out, err = capsys.readouterr()
    assert code == 2, f"exit {code}, expected 2 (refused before the run): {out + err}"
    lines = err.strip().splitlines()
    assert len(lines) == 1 and str(folder / inside) in lines[0] and "--save-traces" in lines[0], (
        f"expected one line naming the file and --save-traces: {err!r}"
    )
    assert out == "" and list(tmp_path.iterdir()) == [], "the run went ahead or left something"


def test_a_file_of_the_users_that_only_begins_with_the_tables_header_is_never_replaced(
    capsys, tmp_path
):
    notes = tmp_path / "notes.csv"
    notes.write_text(",".join(stats.SCHEMA) + "\nmy notes, nothing like the table's rows\n")
    before = notes.read_bytes()
    code = main(["run", "--epochs", "3", "--save-stats", str(notes)])
    out, err = capsys.readouterr()
    assert code == 2 and "not a file nnparity wrote" in err, (
        f"exit {code}: a file whose first line is the table's header, its rest the user's, "
        f"was taken for nnparity's statistics: {out + err}"
    )
    assert notes.read_bytes() == before, "the user's file was changed"


def test_an_earlier_statistics_table_is_replaced(capsys, tmp_path):
    table = tmp_path / "stats.csv"
    assert main(["run", "--epochs", "3", "--save-stats", str(table)]) == 0
    assert main(["run", "--epochs", "4", "--save-stats", str(table)]) == 0, capsys.readouterr()
    assert stats.read(table)["epoch"].max() == 4, "the second run's table is not in place"


def snippet(language: str, reads: str) -> str:
    """The one snippet in ``language`` of docs/results-as-data.md that reads ``reads``."""
    blocks = re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.S)
    found = [b for b in blocks if reads in b]
    assert len(found) == 1, f"docs/results-as-data.md: expected one {language} snippet of {reads}"
    return found[0]


def expected_running_maxima(path) -> pd.DataFrame:
    """What the report's max-diff plot draws: per matrix, the running maximum of max_abs."""
    free = stats.read(path).query("mode == 'free'")
    return pd.DataFrame(
        {
            name: np.maximum.accumulate(free.loc[free["matrix"] == name, "max_abs"].to_numpy())
            for name in steps.NAMES
        },
        index=pd.RangeIndex(1, free["epoch"].max() + 1, name="epoch"),
    )


@pytest.fixture(scope="module")
def nan_in_r_stats(tmp_path_factory, r_available):
    """The statistics of 20 epochs against an R port whose E turns a cell NaN once output[2, 1]
    passes 0.79 (at epoch 1): inf and inf ULP from there on, free-running."""
    from tools.port_copy import copy_with

    folder = tmp_path_factory.mktemp("nan1")
    port = copy_with(paths.BASE / "r_impl", "steps.R", "    y - output\n",
                     "    r <- y - output; if (isTRUE(output[2, 1] > 0.79)) r[2, 1] <- NaN; r\n",
                     folder / "r_impl")
    run = traces.run(load_case("article"), PythonPort(), RPort(port), 20)
    return stats.write(stats.table(run.reports), folder / "s.csv")


@pytest.fixture(scope="module")
def no_difference_stats(tmp_path_factory):
    """The statistics of 5 epochs of Python against itself: every cell bitwise equal."""
    run = traces.run(load_case("article"), PythonPort(), PythonPort(), 5)
    return stats.write(stats.table(run.reports), tmp_path_factory.mktemp("same") / "s.csv")


@pytest.fixture(params=["article", "no difference", "NaN in R"])
def snippet_stats(request):
    """A statistics file for the docs' snippets: the whole article case; a run where no cell
    differs (nothing positive for a log scale); one with NaN against numbers (inf)."""
    if request.param == "article":
        return request.getfixturevalue("article_stats")[0]
    if request.param == "no difference":
        return request.getfixturevalue("no_difference_stats")
    return request.getfixturevalue("nan_in_r_stats")


def test_the_docs_pandas_snippet_draws_the_reports_numbers(snippet_stats, tmp_path, monkeypatch):
    path = snippet_stats
    (tmp_path / "stats.csv").symlink_to(path)
    monkeypatch.chdir(tmp_path)
    import matplotlib

    matplotlib.use("Agg")
    namespace: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "no positive values" on a log scale: a blank plot
        exec(compile(snippet("python", "stats.csv"), "docs/results-as-data.md", "exec"), namespace)
    for png in ("max-diff-free.png", "ulp-map-free.png"):
        assert (tmp_path / png).stat().st_size > 5000, f"the pandas snippet drew no {png}"
    expected = expected_running_maxima(path)
    drawn = namespace["so_far"][list(steps.NAMES)]
    np.testing.assert_array_equal(
        drawn.to_numpy(), expected.to_numpy(), err_msg="running maxima differ"
    )


def test_the_docs_r_snippet_draws_the_reports_numbers(snippet_stats, tmp_path):
    path = snippet_stats
    (tmp_path / "stats.csv").symlink_to(path)
    (tmp_path / "snippet.R").write_text(snippet("r", "stats.csv"))
    check = (  # every digit: write.csv keeps 15
        'source("snippet.R"); free$so_far <- sprintf("%.17g", free$so_far); '
        'write.csv(free[, c("epoch", "matrix", "so_far")], "so_far.csv")'
    )
    result = subprocess.run(["Rscript", "-e", check], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, f"the R snippet failed:\n{result.stderr}"
    for png in ("max-diff-free.png", "ulp-map-free.png"):
        assert (tmp_path / png).stat().st_size > 5000, f"the R snippet drew no {png}"
    drawn = pd.read_csv(tmp_path / "so_far.csv").pivot(
        index="epoch", columns="matrix", values="so_far"
    )
    expected = expected_running_maxima(path)
    np.testing.assert_array_equal(
        drawn[list(steps.NAMES)].to_numpy(),
        expected.to_numpy(),
        err_msg="R's running maxima differ",
    )


#: The report's loss sums three squares per epoch (numpy, in order); R's sum adds in extended
#: precision, which can round the last bit differently: the losses agree to a few ULP.
LOSS_RTOL = 4 * np.finfo(np.float64).eps


def test_the_docs_trace_snippets_draw_the_reports_loss_in_numpy_and_in_r(
    small_run, tmp_path, monkeypatch
):
    run, losses = small_run
    (tmp_path / "traces").symlink_to(run.traces_folder)
    monkeypatch.chdir(tmp_path)
    import matplotlib

    matplotlib.use("Agg")
    namespace: dict = {}
    exec(compile(snippet("python", "traces/"), "docs/results-as-data.md", "exec"), namespace)
    assert (tmp_path / "loss.png").stat().st_size > 5000, "the numpy snippet drew no loss.png"
    for language, key in (("python", "Python"), ("r", "R")):
        np.testing.assert_array_equal(namespace["loss"][language], losses[key], err_msg=language)
    (tmp_path / "loss.png").unlink()
    (tmp_path / "snippet.R").write_text(snippet("r", "traces"))
    check = 'source("snippet.R"); writeLines(sprintf("%.17g", loss[, "r"]), "loss.txt")'
    result = subprocess.run(["Rscript", "-e", check], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, f"the R snippet failed:\n{result.stderr}"
    assert (tmp_path / "loss.png").stat().st_size > 5000, "the R snippet drew no loss.png"
    from_r = np.array([float(x) for x in (tmp_path / "loss.txt").read_text().split()])
    np.testing.assert_allclose(from_r, losses["R"], rtol=LOSS_RTOL, atol=0, err_msg="R's loss")


@pytest.fixture
def returns_scaled_wout(port_copy):
    """An R port whose train() returns its wout times 1 + 1e-9: only the check of what train()
    returned (step 12) sees it."""
    return port_copy("r_impl", "train.R", "wout = wout, bout = bout",
                     "wout = wout * (1 + 1e-9), bout = bout")


def test_a_failed_check_of_what_train_returned_has_rows_in_the_file_and_json(
    returns_scaled_wout, tmp_path, capsys, r_available
):
    path = tmp_path / "s.csv"
    code = main(["run", "--epochs", "20", "--mode", "free", "--r-impl", str(returns_scaled_wout),
                 "--save-stats", str(path), "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 1 and "step 12 (returned_wout)" in result["verdict"], result["verdict"]
    failed = [s for s in result["modes"]["free"]["steps"] if not s["passed"]]
    assert [s["matrix"] for s in failed] == ["returned_wout"], (
        f"the verdict names returned_wout; --json's failing steps are {failed}"
    )
    table = stats.read(path)
    flagged = table[table["first_over"]]
    assert list(zip(flagged["epoch"], flagged["step"], flagged["matrix"], strict=True)) == [
        (20, 12, "returned_wout")
    ], f"first_over flags {flagged[['epoch', 'matrix']].values.tolist()}"
    assert table["over"].sum() == failed[0]["beyond_bound"] > 0, (
        "the file's cells beyond the bound are not --json's"
    )


def test_a_failed_check_of_what_train_returned_has_a_row_in_the_printed_table(
    returns_scaled_wout, capsys, r_available
):
    code = main(["run", "--epochs", "20", "--mode", "free", "--r-impl", str(returns_scaled_wout)])
    out = capsys.readouterr().out
    assert code == 1
    assert re.search(r"^ +12 +returned_wout +[<>]?[\d.]+% .* \d+ FAIL *$", out, flags=re.M), (
        f"the verdict names returned_wout; the table has no failing row for it:\n{out}"
    )


def test_the_csvs_flags_read_as_logical_in_r_and_as_bool_in_pandas(small_run, tmp_path):
    run, _ = small_run
    path = stats.write(stats.table(run.reports), tmp_path / "s.csv")
    plain = pd.read_csv(path)
    assert {str(plain[c].dtype) for c in ("first_difference", "first_over")} == {"bool"}, (
        "pandas' read_csv, without options, does not read the flags as bool"
    )
    count = 's <- read.csv("s.csv"); cat(class(s$first_difference), class(s$first_over), ' \
        'sum(s$first_difference))'
    result = subprocess.run(["Rscript", "-e", count], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    born = str(plain["first_difference"].sum())  # one per mode whose traces differ
    assert result.stdout.split() == ["logical", "logical", born], (
        f"base R's read.csv reads the flags as {result.stdout!r}; expected logical, {born} "
        "first differences"
    )
