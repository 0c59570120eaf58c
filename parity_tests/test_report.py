"""`nnparity report`: an HTML page with plots, written whole or not at all."""

from __future__ import annotations

import re
import shutil
import warnings
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

from nnparity import cli, html_report, paths, plots, stats, traces
from nnparity.atomic import MANIFEST
from nnparity.cases import load_case
from nnparity.ports import PythonPort, RPort
from nnparity.report import shown_figures

#: The article's first difference is born at epoch 7 with R on its reference BLAS, at epoch 2
#: on OpenBLAS (docs/blas.md); 30 epochs show it and stay quick.
EPOCHS = 30


@pytest.fixture(scope="module")
def article_report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "article"
    code = cli.main(["report", "--case", "article", "--epochs", str(EPOCHS), "--out", str(out)])
    assert code == 0, f"nnparity report exited {code} on the article case"
    return out


def referenced_images(index: Path) -> list[str]:
    return re.findall(r'<img src="([^"]+)"', index.read_text())


def test_report_page_references_a_png_for_every_plot(article_report):
    images = referenced_images(article_report / "index.html")
    assert images == [
        "loss.png",
        "max-diff-free.png",
        "ulp-map-free.png",
        "max-diff-lockstep.png",
        "ulp-map-lockstep.png",
    ]
    for name in images:
        pixels = matplotlib.image.imread(article_report / name)
        assert pixels.shape[0] > 200 and pixels.shape[1] > 300, (
            f"{name} is too small: {pixels.shape}"
        )
        assert pixels[..., :3].std() > 0.05, f"{name} is blank"


def test_report_marks_where_the_first_difference_is_born(article_report):
    """Where it is born depends on the BLAS: the page must say where this run's was."""
    text = article_report.joinpath("index.html").read_text()
    run = traces.run(load_case("article"), PythonPort(), RPort(), EPOCHS, modes=("free",))
    first = run.reports["free"].first_difference
    expected = "the two traces are bitwise equal"
    if first is not None:
        expected = f"first difference born at {first.where()}"
    assert expected in text, f"the page does not say '{expected}'"
    assert "PARITY HOLDS" in text


def test_report_leaves_nothing_but_the_page_and_its_images(article_report):
    written = sorted(p.name for p in article_report.iterdir())
    page = ["index.html", *referenced_images(article_report / "index.html")]
    assert written == sorted([MANIFEST, *page])
    assert not [p for p in article_report.parent.iterdir() if p.name.startswith(".")], (
        "a staging folder was left behind"
    )


def test_loss_per_epoch_is_half_the_summed_squared_error_of_each_epochs_output():
    case = load_case("article")
    recorder = html_report.LossRecorder()
    port = PythonPort()
    port.start(case)
    recorder("Python", port.advance(2))
    recorder("Python", port.advance(3))  # two chunks, as traces.run feeds them
    train = paths.python_impl().train
    outputs = train(*case.train_inputs(), 5, record=True)
    outputs = outputs["trace"]["output"]
    expected = [0.5 * float(np.sum((case.y - outputs[i]) ** 2)) for i in range(5)]
    loss = recorder.loss()["Python"]
    np.testing.assert_allclose(
        loss, expected, rtol=1e-15, err_msg="loss per epoch is not sum((y - output)^2) / 2"
    )
    # Epoch 1's output is the article's 0.79, 0.80, 0.79 against y = 1, 1, 0.
    assert loss[0] == pytest.approx(0.5 * (0.21**2 + 0.20**2 + 0.79**2), abs=0.01)


def test_the_loss_of_both_languages_is_recorded_without_changing_the_run():
    case = load_case("article")
    recorder = html_report.LossRecorder()
    chunk = traces.epoch_bytes(case) * 3
    run = traces.run(case, PythonPort(), RPort(), 10, chunk_bytes=chunk, observe=recorder)
    assert run.passed
    loss = recorder.loss()
    assert len(loss["Python"]) == len(loss["R"]) == 10
    np.testing.assert_allclose(
        loss["Python"], loss["R"], rtol=1e-14,
        err_msg="the two languages' losses differ beyond rounding",
    )


def test_plots_of_a_run_with_no_difference_at_all_need_no_log_of_zero(tmp_path):
    case = load_case("article")
    # Python against itself: no difference on any BLAS (R on OpenBLAS differs from epoch 2).
    run = traces.run(case, PythonPort(), PythonPort(), 3, modes=("free",))
    report = run.reports["free"]
    assert all(s.max_abs == 0 for s in report.stats), "one port on one case differed from itself"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for draw in (plots.max_difference, plots.ulp_map):
            table = stats.table(run.reports)
            path = draw(table, "free", case.name, tmp_path / f"{draw.__name__}.png")
            assert matplotlib.image.imread(path)[..., :3].std() > 0.05, (
                f"{draw.__name__} drew a blank image"
            )


def test_report_draws_a_case_whose_differences_reach_near_the_largest_double(tmp_path, capsys):
    """X holds +-1.7e308: both languages overflow alike (parity holds), and hidden_layer_input
    differs by 2e292, so a log axis with matplotlib's margins reached past the largest double."""
    case = tmp_path / "huge"
    shutil.copytree(paths.FIXTURES / "article", case)
    (case / "X.csv").write_text(
        "1.0,0.0,1.0,0.0\n1.7e308,1.7e308,-1.7e308,-1.7e308\n0.0,1.0,0.0,1.0\n"
    )
    out = tmp_path / "report"
    code = cli.main(["report", "--case", str(case), "--epochs", "10", "--out", str(out)])
    assert code == 0, f"report exited {code}: {capsys.readouterr().err}"
    for name in referenced_images(out / "index.html"):
        assert matplotlib.image.imread(out / name)[..., :3].std() > 0.05, f"{name} is blank"


def free_table_with(step: str, column_values: dict, from_epoch: int):
    """A free-running table of Python against itself, 4 epochs, with `step`'s figures from
    `from_epoch` on replaced by ``column_values``."""
    run = traces.run(load_case("article"), PythonPort(), PythonPort(), 4, modes=("free",))
    table = stats.table(run.reports)
    rows = (table["matrix"] == step) & (table["epoch"] >= from_epoch)
    for column, value in column_values.items():
        table.loc[rows, column] = value
    return table


def test_plots_leave_out_differences_that_are_not_finite_and_say_so(tmp_path):
    table = free_table_with("E", {"max_abs": np.inf, "max_ulp": np.inf}, from_epoch=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for draw in (plots.max_difference, plots.ulp_map):
            path = draw(table, "free", "article", tmp_path / f"{draw.__name__}.png")
            assert matplotlib.image.imread(path)[..., :3].std() > 0.05, (
                f"{draw.__name__} drew a blank image"
            )
    curves = {"E": np.array([0.0, np.inf, np.inf]), "wh": np.array([0.0, 1e-17, np.nan])}
    assert plots.not_drawn(curves) == ["E from epoch 2 (inf)", "wh from epoch 3 (NaN)"]


def test_plots_of_a_difference_of_the_largest_double_draw_it(tmp_path):
    table = free_table_with("wh", {"max_abs": 1.7e308}, from_epoch=3)
    losses = {"Python": np.array([1.0, 0.5, np.inf, 0.0]), "R": np.array([1.0, 0.5, 1e308, 0.0])}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plots.max_difference(table, "free", "article", tmp_path / "max-diff.png")
        plots.loss_curves(losses, tmp_path / "loss.png", "article")


def test_a_failed_report_leaves_the_previous_one_untouched(article_report, tmp_path, monkeypatch):
    out = tmp_path / "report"
    assert cli.main(["report", "--epochs", "3", "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def broken(*args, **kwargs):
        raise RuntimeError("plotting failed half way")

    monkeypatch.setattr(plots, "ulp_map", broken)
    with pytest.raises(RuntimeError, match="half way"):
        cli.main(["report", "--epochs", "4", "--out", str(out)])
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before, (
        "a failed report changed the previous one"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["report"], (
        "a half-written staging folder was left behind"
    )


def test_report_will_not_replace_a_folder_that_is_not_a_report(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    assert cli.main(["report", "--epochs", "2", "--out", str(out)]) == 2
    assert (out / "notes.txt").read_text() == "keep me"
    assert "holds files nnparity did not write (notes.txt)" in capsys.readouterr().err


def html_rows(index: Path) -> list[dict]:
    """The report's table rows of figures, by its header's names."""
    text = index.read_text()
    header = re.findall(r"<th[^>]*>([^<]*)</th>", text.split("</tr>")[0])
    rows = re.findall(r"<tr>((?:<td[^>]*>[^<]*</td>){8})</tr>", text)
    return [dict(zip(header, re.findall(r"<td[^>]*>([^<]*)</td>", row), strict=True))
            for row in rows]


def test_the_html_table_shows_counts_as_integers(article_report):
    rows = html_rows(article_report / "index.html")
    assert rows, "no table of figures in the page"
    for row in rows:
        for column in ("cells", "beyond bound"):
            assert re.fullmatch(r"\d{1,3}(,\d{3})*", row[column]), (
                f"{row['matrix']}: {column} {row[column]!r} is not an integer count"
            )


def test_the_html_table_has_the_terminal_tables_columns(article_report):
    header = list(html_rows(article_report / "index.html")[0])
    for column in ("bitwise equal", "max abs", "max rel", "max ULP", "beyond bound"):
        assert column in header, f"the page's table has no {column!r} column: {header}"


@pytest.mark.parametrize(
    ("equal", "cells", "shown"),
    [(9_999, 10_000, ">99.9%"), (1, 10_000, "<0.1%"), (10_000, 10_000, "100.0%"),
     (0, 10_000, "0.0%"), (9_990, 10_000, "99.9%")],
)
def test_the_equal_share_reads_all_or_none_only_when_it_is(equal, cells, shown):
    figures = {"equal_share": equal / cells, "max_abs": 0.0, "max_rel": 0.0, "max_ulp": 0.0}
    assert shown_figures(figures)[0] == shown, (
        f"{equal:,} of {cells:,} cells bitwise equal should read {shown}"
    )


def test_a_case_folder_whose_name_is_no_utf8_gets_its_report(tmp_path):
    # matplotlib could not draw the title 'lat\udce9: training loss per epoch': a traceback.
    import os
    import shutil
    import subprocess
    import sys

    from nnparity.paths import FIXTURES

    folder = os.fsencode(tmp_path) + b"/lat\xe9"
    shutil.copytree(FIXTURES / "article", os.fsdecode(folder))
    result = subprocess.run(
        [sys.executable, "-m", "nnparity", "report", "--case", os.fsdecode(folder), "--epochs",
         "1", "--out", str(tmp_path / "site")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "lat\ufffd" in (tmp_path / "site" / "index.html").read_text(), "the name is not shown"
