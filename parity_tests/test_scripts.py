"""A learner's script, run as written: `nnparity run --r-script FILE` / `--python-script FILE`.

The scripts in parity_tests/scripts/ are written the way a reader of the
article types its code: top-level statements, the article's names, random
initial weights, the article's per-sample R biases, one `for` loop over the
epochs. nnparity must find the loop, start it from the case's weights, record
every matrix the loop assigns, and compare it with the other language, or
refuse the script in one line that says what it expected.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest

from nnparity import steps, traces
from nnparity.cli import main
from nnparity.compare import NotComputed
from nnparity.port import PortError
from nnparity.ports import PythonPort
from nnparity.report import story
from nnparity.scripts import PythonScript, RScript, ScriptRefused

SCRIPTS = Path(__file__).resolve().parent / "scripts"

#: other_names.R's names for the article's (what a user passes with --names).
OTHER_NAMES = {
    "W1": "wh",
    "b1": "bh",
    "W2": "wout",
    "b2": "bout",
    "inputs": "X",
    "targets": "y",
    "rate": "lr",
    "z1": "hidden_layer_input",
    "a1": "hiddenlayer_activations",
    "z2": "output_layer_input",
    "a2": "output",
    "err": "E",
    "s2": "slope_output_layer",
    "s1": "slope_hidden_layer",
    "delta2": "d_output",
    "err1": "Error_at_hidden_layer",
    "delta1": "d_hiddenlayer",
}


def nnparity(*argv: str) -> tuple[int, str, str]:
    """`nnparity ARGV` as a user types it: exit code, stdout, stderr (unwrapped)."""
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COLUMNS", "400")  # rich wraps at 80 columns when not on a terminal
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def script(name: str) -> str:
    return str(SCRIPTS / name)


def run_script(path, *options: str) -> tuple[int, str, str]:
    """`nnparity run OPTIONS --python-script PATH` (or --r-script, by its suffix)."""
    flag = "--python-script" if str(path).endswith(".py") else "--r-script"
    return nnparity("run", *options, flag, str(path))


# ---- scripts that run -------------------------------------------------------------------------


def test_a_faithful_r_script_holds_parity_against_our_python(r_available):
    code, out, err = nnparity("run", "--case", "article", "--r-script", script("faithful.R"))
    assert code == 0, f"faithful.R computes what python_impl computes, yet exit {code}\n{out}{err}"
    assert "PARITY HOLDS: article, every step of every epoch (5000), modes: free" in out, out


def test_a_faithful_python_3_script_holds_parity_against_our_r(r_available):
    code, out, err = nnparity("run", "--case", "article", "--python-script", script("faithful.py"))
    assert code == 0, f"faithful.py computes what r_impl computes, yet exit {code}\n{out}{err}"


def test_two_scripts_can_be_compared_with_each_other(r_available):
    code, out, err = nnparity(
        "run",
        "--epochs",
        "300",
        "--python-script",
        script("faithful.py"),
        "--r-script",
        script("faithful.R"),
    )
    assert code == 0, f"faithful.py against faithful.R: exit {code}\n{out}{err}"
    assert (
        "the Python script faithful.py and the R script faithful.R are checked free-running only"
        in out
    )


def test_the_scripts_random_start_is_replaced_by_the_cases_weights(r_available, article):
    """The script's first epochs equal our port's: its own rnorm/runif draws were overridden."""
    ours = PythonPort()
    ours.start(article)
    expected = ours.advance(2)
    for port in (RScript(script("faithful.R")), PythonScript(script("faithful.py"))):
        port.start(article)
        trace = port.advance(2)
        for name in ("hidden_layer_input", "output", "wh", "wout"):
            np.testing.assert_array_equal(
                trace[name],
                expected[name],
                err_msg=f"{port.path.name}: {name} differs from python_impl's: the case's start "
                "was not used",
            )


def test_a_per_sample_r_bias_keeps_the_scripts_layout_and_is_compared_row_by_row(
    r_available, article
):
    port = RScript(script("faithful.R"))
    port.start(article)
    trace = port.advance(3)
    assert trace["bh"].shape == (3, 3, 3) and trace["bout"].shape == (3, 3, 1), (
        f"faithful.R holds its biases once per sample; recorded {trace['bh'].shape} and "
        f"{trace['bout'].shape}"
    )
    for bias in ("bh", "bout"):
        rows = trace[bias]
        np.testing.assert_array_equal(
            rows, np.broadcast_to(rows[:, :1], rows.shape), err_msg=f"{bias}: rows differ"
        )
    result = traces.run(article, PythonPort(), RScript(script("faithful.R")), 3, ("free",))
    assert [n.split(":")[0] for n in result.reports["free"].notes] == [
        "step 11 (bout)",
        "step 11 (bh)",
    ], story(result.reports["free"])


def test_the_articles_rowsums_bias_update_fails_at_epoch_1_step_11_naming_bout(
    r_available, article
):
    code, out, err = nnparity("run", "--epochs", "20", "--r-script", script("rowsums.R"))
    assert code == 1, (
        f"rowsums.R moves each bias row by its own delta, it must fail: exit {code}\n{out}{err}"
    )
    result = traces.run(article, PythonPort(), RScript(script("rowsums.R")), 20, ("free",))
    first = result.reports["free"].first_violation
    assert (first.epoch, first.step, first.name) == (1, 11, "bout"), first.where()
    assert "first cell beyond the bound: epoch 1, step 11 (bout)" in out, out
    assert f"Python {first.python!r}, R {first.r!r}" in out, (
        f"both values of {first.where()} are not shown\n{out}"
    )


def test_a_script_with_its_own_names_passes_when_they_are_mapped_with_names(r_available):
    names = [
        arg for theirs, article in OTHER_NAMES.items() for arg in ("--names", f"{theirs}={article}")
    ]
    code, out, err = nnparity(
        "run", "--epochs", "500", "--r-script", script("other_names.R"), *names
    )
    assert code == 0, f"other_names.R with --names for each of its names: exit {code}\n{out}{err}"
    assert "not computed" not in out, f"every matrix was mapped, none should be missing\n{out}"


def test_a_matrix_the_script_never_computes_is_not_compared_and_the_run_does_not_pass(
    r_available,
):
    """fused.py writes output = sigmoid(h @ wout + bout): output_layer_input is never made.
    Every step it computes holds; the three it never assigns were not compared, so parity is
    not shown (exit 1: exit 0 means every step of every epoch was compared)."""
    code, out, err = nnparity(
        "run", "--epochs", "300", "--python-script", script("fused.py"), "--json"
    )
    result = json.loads(out)
    missing = {s["matrix"]: s for s in result["modes"]["free"]["steps"] if s["not_computed"]}
    assert set(missing) == {"output_layer_input", "slope_output_layer", "slope_hidden_layer"}, (
        missing
    )
    assert not any(s["passed"] for s in missing.values()) and all(
        s["cells"] == 0 for s in missing.values()), missing
    held = [s for s in result["modes"]["free"]["steps"] if not s["not_computed"]]
    assert all(s["passed"] for s in held), f"a step fused.py computes failed: {held}"
    assert code == 1, f"three steps were never compared, yet exit {code}\n{out}{err}"
    assert result["verdict"].startswith("PARITY NOT SHOWN") and (
        "not compared: output_layer_input, slope_output_layer, slope_hidden_layer"
        in result["verdict"]
    ), result["verdict"]


def test_the_story_says_a_script_is_checked_free_running_only_and_how_to_get_lockstep(r_available):
    code, out, _ = nnparity("run", "--epochs", "5", "--r-script", script("faithful.R"))
    assert code == 0
    assert "the R script faithful.R is checked free-running only" in out, out
    assert "turn the loop body into steps" in out and "--r-impl" in out, out
    assert "lockstep: R recomputes" not in out, "a script was run in lockstep"


def test_a_script_runs_its_loop_once_and_refuses_a_second_advance(article):
    port = PythonScript(script("faithful.py"))
    assert (port.language, port.can_lockstep, port.can_chunk, port.path.name) == (
        "Python",
        False,
        False,
        "faithful.py",
    ), "a script is a Python port that can neither recompute steps nor resume between chunks"
    port.start(article)
    trace = port.advance(4)
    assert {k: trace[k].shape for k in steps.NAMES} == {
        name: (4, *steps.shape_of(name, *article.dims)) for name in steps.NAMES
    }, "every matrix of every epoch, as [epochs, rows, cols]"
    with pytest.raises(PortError, match="cannot be advanced a second time"):
        port.advance(4)


def test_a_script_trace_marks_what_the_loop_never_assigns(article):
    port = PythonScript(script("fused.py"))
    port.start(article)
    trace = port.advance(2)
    assert {n for n, v in trace.items() if isinstance(v, NotComputed)} == {
        "output_layer_input",
        "slope_output_layer",
        "slope_hidden_layer",
    }


# ---- refusals: one line, what was expected, how to fix -----------------------------------------

# (id, arguments after `nnparity run --epochs 20`, exit code, words the one line must contain)
REFUSALS = [
    (
        "no-loop",
        ["--r-script", script("no_loop.R")],
        2,
        ["no_loop.R", "no training loop found", "for loop"],
    ),
    (
        "no-article-names",
        ["--r-script", script("other_names.R")],
        2,
        [
            "other_names.R",
            "no loop assigns any of the article's matrices",
            "line 16 assigns z1, a1",
            "--names",
        ],
    ),
    (
        "python-2",
        ["--python-script", script("python2.py")],
        2,
        ["python2.py:17", "Python 2 syntax (`print output`)", "write print(...)"],
    ),
    (
        "r-missing-input-file",
        ["--r-script", script("needs_file.R")],
        2,
        ["needs_file.R:2", "reads my_training_data.csv, which is not there", "put the file there"],
    ),
    (
        "python-missing-input-file",
        ["--python-script", script("needs_file.py")],
        2,
        ["needs_file.py:4", "my_training_data.csv", "not there"],
    ),
    (
        "r-stops-before-the-loop",
        ["--r-script", script("stops_before.R")],
        2,
        ["stops_before.R:21", "stopped before its training loop", "object 'n_hidden' not found"],
    ),
    (
        "python-while-loop",
        ["--python-script", script("while_loop.py")],
        2,
        ["while_loop.py:12", "`while` loop", "for i in range(epoch)"],
    ),
    (
        "python-stops-inside-the-loop",
        ["--python-script", script("stops_inside.py")],
        1,
        ["stops_inside.py:18", "stopped inside its training loop at epoch 1", "not aligned"],
    ),
    (
        "r-calls-quit",
        ["--r-script", script("quits.R")],
        2,
        ["quits.R:17", "the script calls quit(), which would end nnparity's R"],
    ),
    (
        "missing-script",
        ["--r-script", script("not_written_yet.R")],
        2,
        ["not_written_yet.R: no such file"],
    ),
    (
        "an-r-script-given-as-python",
        ["--python-script", script("faithful.R")],
        2,
        ["Python cannot parse it", "(a .R file: is it for --r-script?)"],
    ),
    (
        "a-python-script-given-as-r",
        ["--r-script", script("faithful.py")],
        2,
        ["R cannot parse it", "(a .py file: is it for --python-script?)"],
    ),
    (
        "lockstep-asked",
        ["--mode", "lockstep", "--python-script", script("faithful.py")],
        2,
        ["--mode lockstep", "no step functions"],
    ),
    (  # exit 0 would say both modes were compared: only free-running can be
        "both-modes-asked",
        ["--mode", "both", "--r-script", script("faithful.R")],
        2,
        ["--mode both", "no step functions", "--mode free"],
    ),
    (
        "bad-names",
        ["--r-script", script("faithful.R"), "--names", "W1"],
        2,
        ["--names W1", "their_name=article_name"],
    ),
    (
        "names-to-no-article-name",
        ["--r-script", script("faithful.R"), "--names", "W1=weights"],
        2,
        ["weights is not one of the article's names"],
    ),
    (
        "a-folder-for-a-script",  # it said "no such file"
        ["--python-script", str(SCRIPTS)],
        2,
        [f"{SCRIPTS}: is a folder, not a script file"],
    ),
]


@pytest.mark.parametrize(
    "args, exit_code, words", [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS]
)
def test_a_script_nnparity_cannot_run_is_refused_in_one_line(r_available, args, exit_code, words):
    code, out, err = nnparity("run", "--epochs", "20", *args)
    assert code == exit_code, f"expected exit {exit_code}, got {code}\n{out}{err}"
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nnparity: "), (
        f"expected one line on stderr, got:\n{err}{out}"
    )
    for word in words:
        assert word in lines[0], f"the message lacks {word!r}: {lines[0]}"
    assert "Traceback" not in err + out


def test_an_r_script_that_stops_inside_its_loop_fails_naming_the_line_and_epoch(r_available):
    code, out, err = nnparity("run", "--epochs", "20", "--r-script", script("stops_inside.R"))
    assert code == 1, f"an R script stopping inside its loop must exit 1, got {code}\n{out}{err}"
    expected = (
        "stops_inside.R:38: the script stopped inside its training loop at epoch 1: "
        "in d_output %*% wout: non-conformable arguments"
    )
    assert expected in out, out


def test_a_script_written_for_other_sizes_says_which_matrices_the_case_resized(r_available):
    code, out, err = nnparity(
        "run", "--case", "iris", "--epochs", "3", "--python-script", script("stops_inside.py")
    )
    assert code == 1
    assert "the case's sizes differ from the script's: X 150 x 4 (the script's 3 x 4)" in err, err


def test_refusals_are_raised_as_bad_input_when_the_port_is_built(r_available):
    with pytest.raises(ScriptRefused, match="no training loop found"):
        RScript(script("no_loop.R"))


# ---- nnparity explain --r-script / --python-script ---------------------------------------------


def test_explain_shows_the_learners_own_lines_for_every_step_beside_ours(r_available):
    code, out, err = nnparity("explain", "--r-script", script("faithful.R"))
    assert code == 0, err
    lines = (SCRIPTS / "faithful.R").read_text().splitlines()
    body = {i: line.strip() for i, line in enumerate(lines, start=1) if 27 <= i <= 45}
    for number, line in body.items():
        if line and not line.startswith("#") and line != "byrow = TRUE) * lr":
            assert f"faithful.R:{number}" in out and line in out, (
                f"line {number} ({line}) not shown"
            )
    for step in range(1, 12):
        assert f"Step {step}:" in out, f"step {step} missing from explain"
    assert "python_impl/steps.py" in out and "r_impl/steps.R" in out, "our code is not shown beside"


def test_explain_puts_the_learners_numbers_at_epoch_1_next_to_ours(r_available):
    code, out, _ = nnparity("explain", "--r-script", script("rowsums.R"), "--step", "11")
    assert code == 0
    assert "your R" in out and "our Python" in out
    assert "max difference 0.0099" in out, f"bout's gap at epoch 1 (0.00987) is not shown\n{out}"
    code, out, _ = nnparity("explain", "--r-script", script("rowsums.R"), "--step", "2")
    assert "bitwise equal" in out, (
        f"step 2 at epoch 1 is bitwise equal in rowsums.R and ours\n{out}"
    )


def test_explain_says_which_matrices_a_script_does_not_compute(r_available):
    code, out, _ = nnparity("explain", "--python-script", script("fused.py"), "--step", "4")
    assert code == 0
    assert "fused.py:23" in out and "output = sigmoid(hiddenlayer_activations @ wout + bout)" in out
    assert "not computed" in out and "our R" in out, out


def test_a_loop_inside_a_function_reading_global_data_is_run(r_available):
    """in_function.py's loop is in train(), which reads the global X: X must stay global."""
    code, out, err = nnparity("run", "--epochs", "200", "--python-script", script("in_function.py"))
    assert code == 0, f"in_function.py computes what r_impl computes, yet exit {code}\n{out}{err}"


def test_the_articles_scraped_matrix_products_are_named_when_r_stops_on_them(r_available):
    """scraped.R keeps the web page's `X %% wh` and `d_output ** t(wout)`: R stops at epoch 1."""
    code, out, err = nnparity("run", "--epochs", "5", "--r-script", script("scraped.R"))
    assert code == 1, f"scraped.R cannot multiply matrices; exit {code}\n{out}{err}"
    assert "scraped.R:28: the script stopped inside its training loop at epoch 1" in out, out
    assert "the article's web page lost the * of %*%" in out, out
    assert "line 28: X%%wh; line 38: d_output^t(wout)" in out, out


def test_a_modulo_or_a_power_of_numbers_is_not_taken_for_the_web_pages_lost_product(
    r_available, tmp_path
):
    # An error inside a loop printing every 1000 epochs ended "the article's web page lost the
    # * of %*% ..., and this loop has: line 44: i%%1000", sending the learner to a line that
    # is right, away from the product that fails.
    path = variant(tmp_path, "faithful.R", "prints.R",
                   ("  wh = wh + t(X) %*% d_hiddenlayer * lr\n",
                    "  wh = wh + X %*% d_hiddenlayer * lr\n"
                    "  if (i %% 1000 == 0) print(mean(E**2) * 0.5**i)\n"
                    "  if (i %% 1000 == 0) print(sum(E %% nrow(X)) + sum(output ** lr))\n"))
    code, out, err = run_script(path, "--epochs", "5")
    assert code == 1 and "non-conformable" in out, f"X %*% d_hiddenlayer fails: exit {code}\n{out}"
    assert "web page" not in out, f"i %% 1000, E**2, 0.5**i, E %% nrow(X), output ** lr are no " \
        f"lost products:\n{out}"


def test_a_script_leaves_no_file_behind_and_prints_nothing_into_the_report(
    r_available, tmp_path, monkeypatch
):
    """plots_first.R plots before its loop (Rscript would write Rplots.pdf); fused.py prints."""
    monkeypatch.chdir(tmp_path)
    code, out, err = nnparity("run", "--epochs", "5", "--r-script", script("plots_first.R"))
    assert code == 0, f"plots_first.R is faithful.R with a plot; exit {code}\n{out}{err}"
    assert list(tmp_path.iterdir()) == [], f"the script left {list(tmp_path.iterdir())} behind"
    code, out, err = nnparity("run", "--epochs", "5", "--python-script", script("fused.py"))
    assert "loss" not in out + err, f"fused.py's own prints reached nnparity's output\n{out}{err}"


def test_explain_step_1_shows_the_scripts_own_initialisation_that_the_case_replaces(r_available):
    code, out, _ = nnparity("explain", "--r-script", script("faithful.R"), "--step", "1")
    assert code == 0
    assert "faithful.R:21" in out and "wh = matrix(rnorm(ncol(X) * n_hidden), ncol(X)" in out, out
    assert "faithful.R:24" in out and "bout = matrix(rep(runif(1), nrow(X)), nrow = nrow(X))" in out
    assert "your script's own random values are replaced by the case's" in out
    assert "3 x 3 vs 1 x 3" in out, f"bh is shown in the script's per-sample layout\n{out}"


def test_a_python_script_imports_its_own_module_from_its_folder(r_available):
    """uses_helper.py imports sigmoid from my_activations.py beside it, as `python` allows."""
    code, out, err = nnparity("run", "--epochs", "50", "--python-script", script("uses_helper.py"))
    assert code == 0, f"uses_helper.py: exit {code}\n{out}{err}"


def test_a_script_trace_has_the_ports_keys_steps_0_and_1_as_given_and_its_final_values(
    r_available, article
):
    ours = PythonPort()
    ours.start(article)
    expected = ours.advance(3)
    port = RScript(script("faithful.R"))
    port.start(article)
    trace = port.advance(3)
    assert set(trace) == set(expected), set(trace) ^ set(expected)
    for key in (*steps.ONCE, *steps.RETURNED):
        mine, theirs = trace[key], expected[key]
        np.testing.assert_array_equal(
            mine, np.broadcast_to(theirs, mine.shape), err_msg=f"{key}: the script's differs"
        )
    assert trace["initial_bh"].shape == (1, 3, 3), "bh is given in faithful.R's per-sample layout"


README_COMMAND = "$ .venv/bin/nnparity run --case article --r-script parity_tests/scripts/rowsums.R"


def test_the_readme_sample_for_a_learners_script_is_what_nnparity_prints(r_available):
    """README's block after README_COMMAND: each stretch between `...` occurs in the output, in
    order (whitespace collapsed, figures compared for their form: numbers become #)."""
    from nnparity import paths

    lines = (paths.BASE / "README.md").read_text().splitlines()
    start = lines.index("    " + README_COMMAND) + 1
    block = []
    for line in lines[start:]:
        if line and not line.startswith("    "):
            break
        block.append(line[4:])

    def form(text: str) -> str:
        text = re.sub("─+", "─", text)  # the table's rule is as wide as the terminal
        return " ".join(re.sub(r"-?\d+(?:\.\d+)?(?:e[+-]?\d+)?%?", "#", text).split())

    argv = README_COMMAND.split()[2:]
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(paths.BASE)
        code, out, _ = nnparity(*argv)
    assert code == 1, "the README's learner script must fail, as its sample says"
    printed = form(out)
    at = 0
    for stretch in (form(part) for part in "\n".join(block).split("...")):
        if not stretch:
            continue
        found = printed.find(stretch, at)
        assert found >= 0, f"README's sample says {stretch!r}; nnparity printed:\n{out}"
        at = found + len(stretch)


# ---- the script's own X, y, weights and lr against the case's ------------------------------------


def variant(tmp_path: Path, name: str, new_name: str, *edits: tuple[str, str]) -> str:
    """A copy of parity_tests/scripts/NAME with each (old, new) edit made once."""
    text = (SCRIPTS / name).read_text()
    for old, new in edits:
        assert old in text, f"{name} no longer contains {old!r}: the test's edit is stale"
        text = text.replace(old, new, 1)
    path = tmp_path / new_name
    path.write_text(text)
    return str(path)


FAITHFUL_PY_X = "X = np.array([[1, 0, 1, 0],"
FAITHFUL_PY_Y = "y = np.array([[1], [1], [0]])"

# (id, script, edits, words of the one-line refusal): as written, each computes something else
# than with the case's matrices (np.matrix's * is a matrix product; a 1-D y broadcasts E to
# 3 x 3; R recycles a plain vector down the columns).
KIND_REFUSALS = [
    (
        "python-np-matrix",
        "faithful.py",
        [
            (FAITHFUL_PY_X, "X = np.matrix([[1, 0, 1, 0],"),
            (FAITHFUL_PY_Y, "y = np.matrix([[1], [1], [0]])"),
        ],
        ["X is a numpy matrix", "np.array"],
    ),
    (
        "python-1d-y",
        "faithful.py",
        [(FAITHFUL_PY_Y, "y = np.array([1, 1, 0])")],
        ["y is a 1-D array of 3", "3 x 1", "np.array([[1], [1], [0]])"],
    ),
]


@pytest.mark.parametrize(
    "name, edits, words", [k[1:] for k in KIND_REFUSALS], ids=[k[0] for k in KIND_REFUSALS]
)
def test_a_script_whose_own_x_y_or_weights_differ_in_kind_from_the_cases_is_refused(
    r_available, tmp_path, name, edits, words
):
    path = variant(tmp_path, name, f"kind_{name}", *edits)
    code, out, err = run_script(path, "--epochs", "20")
    assert code == 2, (
        f"as written, {name} with {edits} does not compute what it computes with the case's "
        f"matrices: it must be refused (exit 2), not judged on the case's; exit {code}\n{out}{err}"
    )
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nnparity: "), f"not one line:\n{err}{out}"
    for word in words:
        assert word in lines[0], f"the refusal lacks {word!r}: {lines[0]}"


R_FRAME = [("X = matrix(c(1, 0, 1, 0,", "X = as.data.frame(matrix(c(1, 0, 1, 0,"),
           ("0, 1, 0, 1), nrow = 3, byrow = TRUE)", "0, 1, 0, 1), nrow = 3, byrow = TRUE))")]


@pytest.mark.parametrize("name, edits, code", [
    ("faithful.R", [*R_FRAME, ("X %*% wh", "as.matrix(X) %*% wh"),
                    ("t(X) %*%", "t(as.matrix(X)) %*%")], 0),
    ("faithful.R", R_FRAME, 1),
    ("faithful.py", [("import numpy as np", "import numpy as np\nimport pandas as pd"),
                     (FAITHFUL_PY_Y, FAITHFUL_PY_Y + "\nX = pd.DataFrame(X, columns=list('abcd'))"),
                     ("np.dot(X, wh)", "np.dot(X.values, wh)"),
                     ("X.T.dot(d_hiddenlayer)", "X.to_numpy().T.dot(d_hiddenlayer)")], 0),
], ids=["r-converted-in-the-loop", "r-used-as-a-data-frame", "python-pandas"])
def test_x_held_as_a_data_frame_gets_the_cases_as_a_data_frame_and_runs_as_written(
    r_available, tmp_path, name, edits, code
):
    # Refused ("X is a data.frame (%*% needs a matrix)") though the loop converted it: the
    # case's X now goes in as the script holds its own, and the loop runs as written (R's
    # %*% on a data.frame stops, as under Rscript).
    path = variant(tmp_path, name, f"frame_{name}", *edits)
    got, out, err = run_script(path, "--epochs", "5")
    assert got == code, f"expected exit {code}, got {got}\n{out}{err}"
    if code == 1:
        assert "requires numeric/complex matrix/vector arguments" in out, out


# (id, edits to faithful.py): a different kind that computes the same thing, so it still runs.
KIND_ACCEPTED = [
    (
        "lists-for-x-and-y",
        [
            (FAITHFUL_PY_X, "X = ([[1, 0, 1, 0],"),
            ("              [0, 1, 0, 1]])", "              [0, 1, 0, 1]])\nX = list(X)"),
            (FAITHFUL_PY_Y, "y = [[1], [1], [0]]"),
            ("wh += X.T.dot(d_hiddenlayer) * lr", "wh += np.array(X).T.dot(d_hiddenlayer) * lr"),
            ("n_in, n_hidden, n_out = X.shape[1], 3, 1", "n_in, n_hidden, n_out = 4, 3, 1"),
        ],
    ),
    (
        "1-d-bias-row",
        [
            ("bh = np.random.uniform(size=(1, n_hidden))", "bh = np.random.uniform(size=n_hidden)"),
            (
                "bh += np.sum(d_hiddenlayer, axis=0, keepdims=True) * lr",
                "bh += np.sum(d_hiddenlayer, axis=0) * lr",
            ),
        ],
    ),
    ("float-x-and-y", [(FAITHFUL_PY_Y, "y = np.array([[1.0], [1.0], [0.0]])")]),
]


@pytest.mark.parametrize("edits", [k[1] for k in KIND_ACCEPTED], ids=[k[0] for k in KIND_ACCEPTED])
def test_a_script_whose_own_values_compute_the_same_as_the_cases_still_runs(
    r_available, tmp_path, edits
):
    path = variant(tmp_path, "faithful.py", "same_kind.py", *edits)
    code, out, err = nnparity("run", "--epochs", "20", "--python-script", path)
    assert code == 0, (
        f"faithful.py with {edits} computes what it computes with the case's arrays; "
        f"exit {code}\n{out}{err}"
    )


def test_the_story_notes_the_scripts_own_epochs_and_lr_that_the_case_replaced(
    r_available, tmp_path
):
    path = variant(tmp_path, "faithful.py", "own_lr.py", ("lr = 0.1", "lr = 0.01"))
    code, out, err = nnparity("run", "--epochs", "20", "--python-script", path)
    assert code == 0, f"{out}{err}"
    text = " ".join(out.split())
    assert "own_lr.py's loop runs 4000 epochs as written; nnparity ran 20" in text, out
    assert "own_lr.py's lr is 0.01; the case's 0.1 was used" in text, out
    code, out, err = nnparity("run", "--epochs", "20", "--r-script", script("faithful.R"))
    assert code == 0, f"{out}{err}"
    text = " ".join(out.split())
    assert "faithful.R's loop runs 3000 epochs as written; nnparity ran 20" in text, out
    assert "lr is" not in text, f"faithful.R's lr is the case's: nothing to say\n{out}"


# ---- one training loop per script ---------------------------------------------------------------

FAITHFUL_PY_LOOP_START = "for i in range(epoch):"
FAITHFUL_PY_LOOP_END = "    bh += np.sum(d_hiddenlayer, axis=0, keepdims=True) * lr\n"


def second_loop(tmp_path: Path, bad_first: bool) -> str:
    """faithful.py trained twice from fresh weights, one of the loops summing bh's update over
    the wrong axis (axis=1): as good_then_bad.py and bad_then_good.py of a learner."""
    text = (SCRIPTS / "faithful.py").read_text()
    start, end = text.index(FAITHFUL_PY_LOOP_START), text.index(FAITHFUL_PY_LOOP_END)
    loop = text[start : end + len(FAITHFUL_PY_LOOP_END)]
    bad = loop.replace(
        "np.sum(d_hiddenlayer, axis=0, keepdims=True)",
        "np.sum(d_hiddenlayer, axis=1, keepdims=True).T",
    )
    assert bad != loop
    fresh = "\n# attempt 2, fresh weights\nwh = np.random.uniform(size=(n_in, n_hidden))\n\n"
    first, then = (bad, loop) if bad_first else (loop, bad)
    path = tmp_path / ("bad_then_good.py" if bad_first else "good_then_bad.py")
    path.write_text(text[:start] + first + fresh + then + text[end + len(FAITHFUL_PY_LOOP_END) :])
    return str(path)


@pytest.mark.parametrize("bad_first", [False, True], ids=["good-then-bad", "bad-then-good"])
def test_a_script_with_two_training_loops_is_refused_naming_both(r_available, tmp_path, bad_first):
    path = second_loop(tmp_path, bad_first)
    code, out, err = nnparity("run", "--epochs", "20", "--python-script", path)
    assert code == 2, (
        f"{Path(path).name} trains twice; nnparity would check one loop and ignore the other's "
        f"bh bug: it must refuse, exit {code}\n{out}{err}"
    )
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"not one line:\n{err}{out}"
    for word in ("lines 27 and 49", "one training loop per script"):
        assert word in lines[0], f"the refusal lacks {word!r}: {lines[0]}"


def test_a_function_holding_the_loop_called_twice_is_one_loop(r_available, tmp_path):
    path = variant(
        tmp_path,
        "in_function.py",
        "called_twice.py",
        ("print(train(1000))", "train(10)\n    train(1000)"),
    )
    code, out, err = nnparity("run", "--epochs", "20", "--python-script", path)
    assert code == 0, (
        f"one loop, in a function called twice, is one training loop: exit {code}\n{out}{err}"
    )


def test_an_r_script_with_two_training_loops_is_refused_naming_both(r_available, tmp_path):
    lines = (SCRIPTS / "faithful.R").read_text().splitlines(keepends=True)
    loop = "".join(lines[25:46])  # lines 26-46: for (i in 1:epoch) { ... }
    assert loop.startswith("for (i in 1:epoch) {") and loop.rstrip().endswith("}"), loop
    path = tmp_path / "twice.R"
    path.write_text("".join(lines) + loop)
    code, out, err = nnparity("run", "--epochs", "20", "--r-script", str(path))
    assert code == 2, f"twice.R trains twice; nnparity must refuse it, exit {code}\n{out}{err}"
    assert "lines 26 and 48" in err and "one training loop per script" in err, err


@pytest.mark.parametrize("where", ["..", "/"], ids=["up", "root"])
def test_an_r_script_that_changes_rs_working_directory_runs_as_without_it(
    r_available, tmp_path, monkeypatch, where
):
    """setwd() in the script must not move the harness's files (nor the next run's)."""
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "moves.R").write_text(f'setwd("{where}")\n' + (SCRIPTS / "faithful.R").read_text())
    monkeypatch.chdir(folder)
    code, out, err = nnparity("run", "--epochs", "20", "--r-script", "moves.R")
    assert code == 0, (
        f'faithful.R with setwd("{where}") first computes the same: exit {code}\n{out}{err}'
    )


def test_an_r_error_inside_a_block_of_the_loop_names_the_line_of_the_failing_expression(
    r_available, tmp_path
):
    path = variant(
        tmp_path,
        "faithful.R",
        "typo_in_if.R",
        (
            "  E = Y - output\n",
            "  if (i > 2) {\n    E = Y - outptu\n  } else {\n    E = Y - output\n  }\n",
        ),
    )
    code, out, err = nnparity("run", "--epochs", "20", "--r-script", path)
    assert code == 1, f"{out}{err}"
    expected = "typo_in_if.R:35: the script stopped inside its training loop at epoch 3"
    assert expected in out, f"the typo is on line 35, inside the if block\n{out}"


def test_an_r_scripts_own_stop_inside_the_loop_is_told_without_nnparitys_internals(
    r_available, tmp_path
):
    path = variant(
        tmp_path,
        "faithful.R",
        "diverges.R",
        ("for (i in 1:epoch) {\n", 'for (i in 1:epoch) {\n  if (i == 5) stop("diverged")\n'),
    )
    code, out, err = nnparity("run", "--epochs", "20", "--r-script", path)
    assert code == 1, f"{out}{err}"
    assert (
        "diverges.R:27: the script stopped inside its training loop at epoch 5: diverged" in out
    ), out
    assert "eval(" not in out, f"nnparity's own eval() call leaked into the message\n{out}"


PYTHON_ENCODINGS = [
    ("utf-8-bom", b"\xef\xbb\xbf" + (SCRIPTS / "faithful.py").read_bytes()),
    (
        "latin-1-cookie",
        b"# -*- coding: latin-1 -*-\n# r\xe9seau de neurones\n"
        + (SCRIPTS / "faithful.py").read_bytes(),
    ),
]


@pytest.mark.parametrize(
    "source", [e[1] for e in PYTHON_ENCODINGS], ids=[e[0] for e in PYTHON_ENCODINGS]
)
def test_a_python_script_is_read_as_python_reads_it(r_available, tmp_path, source):
    """A BOM (Notepad's UTF-8) and a coding cookie are Python's: `python` runs these."""
    path = tmp_path / "encoded.py"
    path.write_bytes(source)
    code, out, err = nnparity("run", "--epochs", "20", "--python-script", str(path))
    assert code == 0, f"python runs encoded.py; nnparity must too: exit {code}\n{out}{err}"


def test_a_python_script_that_cannot_be_decoded_is_refused_in_one_line_naming_it(tmp_path):
    path = tmp_path / "garbled.py"
    path.write_bytes(b"# r\xe9seau\n" + (SCRIPTS / "faithful.py").read_bytes())
    code, out, err = nnparity("run", "--epochs", "20", "--python-script", str(path))
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, f"exit {code}\n{out}{err}"
    assert "garbled.py" in lines[0] and "utf-8" in lines[0].lower(), lines[0]


def test_names_accepts_the_articles_own_spellings_as_article_names(r_available):
    code, out, err = nnparity(
        "run", "--epochs", "5", "--r-script", script("faithful.R"), "--names", "n_epochs=epoch"
    )
    assert code == 0, f"epoch is the article's spelling (README): exit {code}\n{out}{err}"


def test_names_refusal_lists_each_article_name_once():
    code, out, err = nnparity("run", "--r-script", script("faithful.R"), "--names", "W1=weights")
    listed = err[err.index("(") + 1 : err.index(")")].split(", ")
    assert code == 2 and len(listed) == len(set(listed)), f"names repeated: {err}"


@pytest.mark.parametrize(
    "name, line", [("faithful.py", 'open("log.txt", "a").write("ran\\n")\n'),
                   ("faithful.R", 'cat("ran\\n", file = "log.txt", append = TRUE)\n')],
    ids=["python", "r"],
)
def test_a_script_runs_once_as_written(r_available, tmp_path, monkeypatch, name, line):
    # What a script does before its loop (a print, a file it appends to, a prompt) happens
    # once, as when its author runs it: no second run for the determinism check.
    monkeypatch.chdir(tmp_path)
    mine = tmp_path / name
    mine.write_text(line + (SCRIPTS / name).read_text())
    option = "--python-script" if name.endswith(".py") else "--r-script"
    code, out, err = nnparity("run", "--epochs", "20", option, str(mine))
    assert code == 0, out + err
    runs = (tmp_path / "log.txt").read_text().count("ran")
    assert runs == 1, f"{name} ran {runs} times in one nnparity run"


# ---- a Python script's per-sample biases -------------------------------------------------------


@pytest.mark.parametrize("case", ["article", "iris"])
def test_a_per_sample_python_bias_keeps_the_scripts_layout_and_is_compared_row_by_row(
    r_available, tmp_path, case
):
    """As the article's R does, the biases tiled once per sample (np.tile): numpy adds them
    row by row as it adds a 1 x k row; each row is compared with our R's one row."""
    from nnparity import cases

    path = variant(
        tmp_path,
        "faithful.py",
        "per_sample.py",
        (
            "bh = np.random.uniform(size=(1, n_hidden))",
            "bh = np.tile(np.random.uniform(size=(1, n_hidden)), (X.shape[0], 1))",
        ),
        (
            "bout = np.random.uniform(size=(1, n_out))",
            "bout = np.tile(np.random.uniform(size=(1, n_out)), (X.shape[0], 1))",
        ),
    )
    code, out, err = nnparity("run", "--case", case, "--epochs", "20", "--python-script", path)
    assert code == 0, (
        f"per_sample.py computes what r_impl computes on {case}: exit {code}\n{out}{err}"
    )
    loaded = cases.load_case(case)
    port = PythonScript(path)
    port.start(loaded)
    trace = port.advance(2)
    n, _, h, o = loaded.dims
    assert trace["bh"].shape == (2, n, h) and trace["bout"].shape == (2, n, o), (
        f"per_sample.py holds its biases once per sample: on {case} they must be recorded "
        f"{n} x {h} and {n} x {o}, not {trace['bh'].shape[1:]} and {trace['bout'].shape[1:]}"
    )


# ---- a script's own names for the weights ------------------------------------------------------


def renamed(tmp_path: Path, name: str, new_name: str, names: dict[str, str]) -> str:
    """A copy of parity_tests/scripts/NAME with every whole word `old` spelt `new`."""
    text = (SCRIPTS / name).read_text()
    for old, new in names.items():
        assert re.search(rf"\b{old}\b", text), f"{name} no longer uses {old}: the edit is stale"
        text = re.sub(rf"\b{old}\b", new, text)
    path = tmp_path / new_name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("name", ["faithful.py", "faithful.R"])
def test_a_script_naming_its_weights_otherwise_without_names_is_told_to_map_them(
    r_available, tmp_path, name
):
    path = renamed(tmp_path, name, f"W1_{name}", {"wh": "W1"})
    code, out, err = run_script(path, "--epochs", "10")
    assert "Traceback" not in out + err, f"a traceback for a script's own names:\n{out}{err}"
    assert code == 2, (
        f"{name} with wh spelt W1 keeps its own random W1 (the case's wh had nowhere to go): "
        f"it must be refused, suggesting --names, not judged; exit {code}\n{out}{err}"
    )
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"not one line:\n{err}{out}"
    for word in ("never assigns wh", "--names W1=wh"):
        assert word in lines[0], f"the refusal lacks {word!r}: {lines[0]}"
    code, out, err = run_script(path, "--epochs", "10", "--names", "W1=wh")
    assert code == 0, f"with --names W1=wh, {name} computes what ours does: exit {code}\n{out}{err}"


def test_a_script_whose_loop_never_updates_a_weight_fails_without_a_traceback(
    r_available, tmp_path
):
    path = variant(
        tmp_path, "faithful.py", "frozen_wh.py", ("    wh += X.T.dot(d_hiddenlayer) * lr\n", "")
    )
    code, out, err = nnparity("run", "--epochs", "10", "--python-script", path)
    assert "Traceback" not in out + err, f"a traceback for a weight never updated:\n{out}{err}"
    assert code == 1, f"frozen_wh.py never trains wh: parity must fail, exit {code}\n{out}{err}"
    assert "First: epoch 1, step 10 (wh)" in out, (
        f"wh, which frozen_wh.py's loop never updates, is recorded as it stays and fails first\n"
        f"{out}"
    )


def test_names_refuses_two_names_for_one_article_name():
    code, out, err = nnparity(
        "run", "--r-script", script("faithful.R"), "--names", "W1=wh", "--names", "W2=wh"
    )
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, f"two names for wh must be refused: exit {code}\n{err}"
    for word in ("W1", "W2", "wh"):
        assert word in lines[0], f"the refusal lacks {word!r}: {lines[0]}"




# ---- the script's own X, y, weights and biases must fit together -------------------------------

FAITHFUL_R_WH = "wh = matrix(rnorm(ncol(X) * n_hidden), ncol(X), n_hidden)"

# (id, script, edits, words of the one-line refusal): as written, each stops (or, numpy
# broadcasting, computes a 3 x 3 E) because its own shapes do not fit together; put in their
# place, the case's would fit, and the verdict would be about another script.
SHAPE_REFUSALS = [
    (
        "python-y-a-row",
        "faithful.py",
        [(FAITHFUL_PY_Y, "y = np.array([[1], [1], [0]]).T")],
        ["as written, y is 1 x 3 and X 3 x 4", "y - output"],
    ),
    (
        "python-x-3-columns-for-4-inputs",
        "faithful.py",
        [
            ("X = np.array([[1, 0, 1, 0],\n              [1, 0, 1, 1],\n              "
             "[0, 1, 0, 1]])", "X = np.array([[1, 0, 1], [1, 0, 1], [0, 1, 0]])"),
            ("n_in, n_hidden, n_out = X.shape[1], 3, 1", "n_in, n_hidden, n_out = 4, 3, 1"),
        ],
        ["as written, X is 3 x 3 and wh 4 x 3: np.dot(X, wh) cannot be computed"],
    ),
    (
        "r-y-a-row",
        "faithful.R",
        [("Y = matrix(c(1, 1, 0), ncol = 1)", "Y = matrix(c(1, 1, 0), nrow = 1)")],
        ["as written, Y is 1 x 3 and X 3 x 4", "Y - output"],
    ),
    (
        "r-x-3-columns-for-4-inputs",
        "faithful.R",
        [
            ("X = matrix(c(1, 0, 1, 0,\n             1, 0, 1, 1,\n             0, 1, 0, 1), "
             "nrow = 3, byrow = TRUE)", "X = matrix(c(1, 0, 1, 1, 0, 1, 0, 1, 0), nrow = 3)"),
            (FAITHFUL_R_WH, "wh = matrix(rnorm(4 * n_hidden), 4, n_hidden)"),
        ],
        ["as written, X is 3 x 3 and wh 4 x 3: X %*% wh cannot be computed"],
    ),
]


@pytest.mark.parametrize(
    "name, edits, words", [k[1:] for k in SHAPE_REFUSALS], ids=[k[0] for k in SHAPE_REFUSALS]
)
def test_a_script_whose_own_shapes_do_not_fit_together_is_refused_naming_them(
    r_available, tmp_path, name, edits, words
):
    path = variant(tmp_path, name, f"misfit_{name}", *edits)
    code, out, err = run_script(path, "--epochs", "20")
    assert code == 2, (
        f"as written, {name} with {edits} stops (its own matrices do not fit together): "
        f"replacing them with the case's, which fit, would judge another script; it must be "
        f"refused (exit 2), exit {code}\n{out}{err}"
    )
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nnparity: "), f"not one line:\n{err}{out}"
    for word in words:
        assert word in lines[0], f"the refusal lacks {word!r}: {lines[0]}"


@pytest.mark.parametrize("name", ["faithful.py", "faithful.R"])
def test_a_script_whose_own_shapes_fit_but_differ_from_the_cases_still_runs(r_available, name):
    """faithful's 3 samples against many_samples's 64: only the script's own shapes among
    themselves matter, the case's replace them."""
    code, out, err = run_script(script(name), "--case", "many_samples", "--epochs", "20")
    assert code == 0, (
        f"{name} on many_samples: its own shapes fit together, exit {code}\n{out}{err}"
    )



#: faithful.R with its biases as plain vectors (runif), added to every row with sweep().
SWEPT_BIASES = [
    ("bh = matrix(rep(runif(n_hidden), each = nrow(X)), nrow = nrow(X))", "bh = runif(n_hidden)"),
    ("bout = matrix(rep(runif(1), nrow(X)), nrow = nrow(X))", "bout = runif(1)"),
    ("X %*% wh + bh", "sweep(X %*% wh, 2, bh, \"+\")"),
    ("hidden_layer_activations %*% wout + bout",
     "sweep(hidden_layer_activations %*% wout, 2, bout, \"+\")"),
]


@pytest.mark.parametrize("case", ["article", "iris"])
def test_an_r_script_with_plain_vector_biases_added_by_sweep_holds_parity(
    r_available, tmp_path, case
):
    # The case's 1 x k bias goes in as a plain vector, the script's own kind: refused before,
    # though the script computes the article's network.
    bh_update = (
        "  bh = bh + matrix(colSums(d_hiddenlayer), nrow(X), n_hidden,\n"
        "                   byrow = TRUE) * lr",
        "  bh = bh + colSums(d_hiddenlayer) * lr",
    )
    path = variant(tmp_path, "faithful.R", "swept.R", *SWEPT_BIASES, bh_update)
    code, out, err = nnparity("run", "--case", case, "--epochs", "20", "--r-script", path)
    assert code == 0, f"swept.R computes the article's network: exit {code}\n{out}{err}"


def test_an_r_script_adding_a_plain_vector_bias_with_plus_fails_where_r_recycles_it(
    r_available, tmp_path
):
    # bh = runif(3) added with `+`: R recycles it down the columns, not along each row.
    path = variant(tmp_path, "faithful.R", "recycled.R", SWEPT_BIASES[0])
    code, out, err = nnparity("run", "--epochs", "20", "--r-script", path)
    assert code == 1 and "First: epoch 1, step 2 (hidden_layer_input)" in out, (
        f"a bias recycled down the columns must fail at step 2, exit {code}\n{out}{err}"
    )


def test_a_python_script_writing_learning_rate_as_the_articles_formulas_gets_the_cases_lr(
    r_available, tmp_path
):
    # iris trains with lr 0.01: the script's own 0.1 stayed, and parity failed at step 10.
    edits = [("lr = 0.1", "learning_rate = 0.1")] + [
        ("* lr\n", "* learning_rate\n") for _ in range(4)
    ]
    path = variant(tmp_path, "faithful.py", "spelled.py", *edits)
    code, out, err = nnparity("run", "--case", "iris", "--epochs", "20", "--python-script", path)
    assert code == 0, f"learning_rate is the article's lr: exit {code}\n{out}{err}"


def nested_in_a_progress_loop(name: str, tmp_path: Path, between: str = "") -> str:
    """parity_tests/scripts/NAME with its training loop run in 5 parts by an outer loop that
    prints the error after each: `for k in 1:5` around `for i in 1:(epoch / 5)`; `between`,
    a statement the outer loop runs after the print (one line, indented by this function)."""
    text = (SCRIPTS / name).read_text()
    python = name.endswith(".py")
    head, rest = text.split("for i in range(epoch):\n" if python else "for (i in 1:epoch) {\n")
    body, tail = rest.split("print(output)")  # the loop runs up to the script's last print
    inner = "".join("  " * (2 if python else 1) + line if line.strip() else line
                    for line in body.splitlines(keepends=True))
    then = f"    {between}\n" if between else ""
    if python:
        loop = f"for k in range(5):\n    for i in range(epoch // 5):\n{inner}" \
               f"    print(k, np.mean(E ** 2))\n{then}"
    else:
        loop = f"for (k in 1:5) {{\n  for (i in 1:(epoch / 5)) {{\n{inner}  print(mean(E^2))\n" \
               f"{then}}}\n"
    path = tmp_path / f"progress_{name}"
    path.write_text(head + loop + "print(output)" + tail)
    return str(path)


# (id, script, the statement its loop around the training loop runs between rounds, the names
# the refusal gives): nnparity runs the training loop once and stops the script at its end,
# so the change between rounds would never run; such a script, as written, trains otherwise.
ROUNDS_THAT_CHANGE_TRAINING = [
    ("py-fresh-weights", "faithful.py", "wh = np.random.uniform(size=(n_in, n_hidden))", "wh"),
    ("py-lr-schedule", "faithful.py", "lr = lr / 2", "lr"),
    ("r-fresh-weights", "faithful.R", "wout = matrix(rnorm(n_hidden), n_hidden, 1)", "wout"),
    ("r-lr-schedule", "faithful.R", "lr = lr / 2", "lr"),
]


@pytest.mark.parametrize(
    "name, between, changed",
    [r[1:] for r in ROUNDS_THAT_CHANGE_TRAINING],
    ids=[r[0] for r in ROUNDS_THAT_CHANGE_TRAINING],
)
def test_a_training_loop_in_rounds_that_change_its_weights_or_lr_is_refused_naming_them(
    r_available, tmp_path, name, between, changed
):
    # It held parity (exit 0): the rounds' new weights or smaller lr never ran.
    path = nested_in_a_progress_loop(name, tmp_path, between)
    code, out, err = run_script(path, "--epochs", "20")
    assert code == 2, (
        f"{Path(path).name} changes {changed} between rounds of its training loop, which "
        f"nnparity runs once: it must refuse, exit {code}\n{out}{err}"
    )
    lines = err.strip().splitlines()
    assert len(lines) == 1 and f"which changes {changed}" in lines[0], err


@pytest.mark.parametrize("name", ["faithful.py", "faithful.R"])
def test_a_training_loop_inside_a_loop_that_prints_progress_is_the_epoch_loop(
    r_available, tmp_path, name
):
    # The outer loop was taken for the epochs: each "epoch" recorded was 1000 of them, and a
    # correct script was told "a port error" at epoch 1, step 2.
    path = nested_in_a_progress_loop(name, tmp_path)
    code, out, err = run_script(path, "--epochs", "20")
    assert code == 0, (
        f"{Path(path).name} computes the article's network, in a loop that prints: "
        f"exit {code}\n{out}{err}"
    )


# (id, script, edit of its loop line, words of R's or Python's error): the loop's own range
# fails as written, before the first pass; replacing it with the case's epochs had hidden that.
BROKEN_LOOP_RANGES = [
    ("python-undefined-name", "faithful.py",
     ("for i in range(epoch):", "for i in range(epochs):"), "name 'epochs' is not defined"),
    ("python-float-range", "faithful.py", ("epoch = 4000", "epoch = 4e3"),
     "'float' object cannot be interpreted as an integer"),
    ("python-not-iterable", "faithful.py",
     ("for i in range(epoch):", "for i in epoch:"), "'int' object is not iterable"),
    ("r-undefined-name", "faithful.R", ("for (i in 1:epoch) {", "for (i in 1:epochs) {"),
     "object 'epochs' not found"),
    ("r-function-as-sequence", "faithful.R", ("for (i in 1:epoch) {", "for (i in mean) {"),
     "invalid for() loop sequence"),
]


@pytest.mark.parametrize("name, edit, words", [b[1:] for b in BROKEN_LOOP_RANGES],
                         ids=[b[0] for b in BROKEN_LOOP_RANGES])
def test_a_script_whose_loop_range_fails_as_written_is_refused_naming_its_error(
    r_available, tmp_path, name, edit, words
):
    path = variant(tmp_path, name, f"range_{name}", edit)
    code, out, err = run_script(path, "--epochs", "20")
    assert code == 2, (
        f"as written, {name} with {edit} stops at its loop's line before the first pass; "
        f"nnparity must say so (exit 2), not train the case's epochs: exit {code}\n{out}{err}"
    )
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "stopped before its training loop" in lines[0], err + out
    assert words in lines[0], f"the script's own error ({words}) is not named: {lines[0]}"


# As Rscript runs a script, its top level is R's global environment: `<<-` there, or assign()
# into .GlobalEnv, is an ordinary assignment of the script's.
GLOBAL_ASSIGNMENTS = {
    "superassignment": "  wh <<- wh + t(X) %*% d_hiddenlayer * lr",
    "assign-into-GlobalEnv": '  assign("wh", wh + t(X) %*% d_hiddenlayer * lr, envir = .GlobalEnv)',
    "assign-into-globalenv()": '  assign("wh", wh + t(X) %*% d_hiddenlayer * lr, globalenv())',
}


@pytest.mark.parametrize("line", GLOBAL_ASSIGNMENTS.values(), ids=GLOBAL_ASSIGNMENTS)
def test_an_r_script_assigning_its_global_environment_holds_parity(r_available, tmp_path, line):
    path = variant(tmp_path, "faithful.R", "global.R",
                   ("  wh = wh + t(X) %*% d_hiddenlayer * lr", line))
    code, out, err = nnparity("run", "--epochs", "20", "--r-script", path)
    assert code == 0, (
        f"as Rscript runs it, {line.strip()!r} updates the script's wh: it computes what "
        f"python_impl computes, yet exit {code}\n{out}{err}"
    )


def test_names_without_a_script_is_refused_not_ignored():
    code, out, err = nnparity("run", "--epochs", "5", "--names", "W1=wh")
    assert code == 2, f"--names with no script to map was ignored: exit {code}\n{out}{err}"
    assert "--python-script or --r-script" in err, err


@pytest.mark.parametrize("name", ["faithful.py", "faithful.R"])
def test_a_learning_rate_under_another_name_is_named_in_the_story(r_available, tmp_path, name):
    """It trained with the script's own, silently: a case with another lr failed at step 10
    and a learner looked for a bug in a correct update."""
    text = re.sub(r"\blr\b", "alpha", (SCRIPTS / name).read_text())
    path = tmp_path / f"alpha{Path(name).suffix}"
    path.write_text(text)
    code, out, err = run_script(str(path), "--epochs", "20")
    said = " ".join(out.split())
    assert "learning rate is its own: it names none lr" in said, out + err
    assert "say --names alpha=lr" in said, out


@pytest.mark.parametrize("name", ["faithful.py", "faithful.R"])
def test_a_learning_rate_the_loop_never_reads_is_named_with_the_one_it_reads(
    r_available, tmp_path, name
):
    """A script setting lr but training with alpha: the case's lr went into lr, which the loop
    never reads, and the story said the case's lr was used (or nothing, when the two agreed)."""
    text = (SCRIPTS / name).read_text()
    head, loop = text.split("\nfor ", 1)
    head = re.sub(r"^lr = 0\.1$", "lr = 0.1\nalpha = 0.5", head, flags=re.M)
    path = tmp_path / f"unread_lr{Path(name).suffix}"
    path.write_text(head + "\nfor " + re.sub(r"\blr\b", "alpha", loop))
    code, out, err = run_script(str(path), "--epochs", "20")
    said = " ".join(out.split())
    assert code == 1, f"the script trains with alpha = 0.5, not the case's 0.1: exit {code}"
    assert "the loop reads no lr, so the case's 0.1 put in lr was not used" in said, out + err
    assert "say --names alpha=lr" in said, out


#: A helper of the script's that gives the learning rate (the loop's updates call it instead of
#: reading lr), and another rate the loop reads (decay), at the top of its body.
LR_HELPER = {
    ".py": ("decay, smoothed = 0.9, 0.0\n\n\ndef rate():\n    return lr\n\n\n",
            "    smoothed = decay * smoothed\n"),
    ".R": ("decay = 0.9\nsmoothed = 0\nrate = function() lr\n", "  smoothed = decay * smoothed\n"),
}


@pytest.mark.parametrize("name", ["faithful.py", "faithful.R"])
def test_a_learning_rate_read_through_a_helper_gets_no_note_that_it_was_not_used(
    r_available, tmp_path, name
):
    """The note said the loop reads no lr and to say --names decay=lr, which broke the script."""
    head, loop = (SCRIPTS / name).read_text().split("\nfor ", 1)
    first, body = loop.split("\n", 1)
    before, top = LR_HELPER[Path(name).suffix]
    body = re.sub(r"\blr\b", "rate()", body)
    path = tmp_path / f"helper_{name}"
    path.write_text(f"{head}\n{before}for {first}\n{top}{body}")
    code, out, err = run_script(str(path), "--epochs", "20")
    assert code == 0, out + err
    assert "learning rate" not in out, f"a note doubts an lr the loop uses:\n{out}"


#: A loop that sets its learning rate itself each pass, from a dict (a list in R).
LR_SET_IN_THE_LOOP = {
    "faithful.py": [
        ("lr = 0.1\n", "lr = 0.1\nconfig = {'lr': 0.1}\n"),
        ("for i in range(epoch):\n", "for i in range(epoch):\n    lr = config['lr']\n"),
    ],
    "faithful.R": [
        ("lr = 0.1\n", "lr = 0.1\nconfig = list(lr = 0.1)\n"),
        ("for (i in 1:epoch) {\n", "for (i in 1:epoch) {\n  lr <- config$lr\n"),
    ],
}


@pytest.mark.parametrize("name", LR_SET_IN_THE_LOOP)
def test_a_learning_rate_the_loop_sets_each_pass_is_said_to_replace_the_cases(
    r_available, tmp_path, name
):
    """The story said the case's lr was used, where each pass replaced it with the dict's."""
    path = variant(tmp_path, name, f"set_{name}", *LR_SET_IN_THE_LOOP[name])
    code, out, err = run_script(path, "--epochs", "20")
    said = " ".join(out.split())
    setting = LR_SET_IN_THE_LOOP[name][1][1].splitlines()[1].strip()
    line = Path(path).read_text().splitlines().index(LR_SET_IN_THE_LOOP[name][1][1].splitlines()[1])
    assert (f"the loop sets lr itself each pass (line {line + 1}: {setting}), so the case's 0.1 "
            "was not used") in said, out + err


# (script, its loop line, a line inserted at the top of the body that stops past the epochs the
# loop runs as written)
PAST_WRITTEN_EPOCHS = {
    "faithful.py": ("epoch = 4000", "epoch = 10", "for i in range(epoch):\n",
                    "    assert i < epoch, 'past the end'\n"),
    "faithful.R": ("epoch = 3000", "epoch = 10", "for (i in 1:epoch) {\n",
                   "  stopifnot(i <= epoch)\n"),
}


@pytest.mark.parametrize("name", PAST_WRITTEN_EPOCHS)
def test_a_script_stopping_past_its_written_epochs_says_how_many_it_runs(
    r_available, tmp_path, name
):
    old_count, new_count, loop, stop = PAST_WRITTEN_EPOCHS[name]
    path = variant(tmp_path, name, f"past_{name}", (old_count, new_count), (loop, loop + stop))
    code, out, err = run_script(path, "--epochs", "20", "--json")
    assert code == 1, out + err
    document = json.loads(out)  # the run's error, or free-running's (R's failed chunk)
    message = (document["error"] or {}).get("message") or document["modes"]["free"]["error"]
    assert "at epoch 11" in message, message
    assert "its loop runs 10 epochs as written, and nnparity ran 20 (the case's, or --epochs): " \
        "--epochs 10 runs as many" in message, (
        f"the error past the loop's own 10 epochs does not say why it came: {message}"
    )


# (script, its loop line, the same loop over the samples inside an epoch loop): per-sample
# (stochastic) training; it took the inner loop for the epochs and failed on its shapes.
PER_SAMPLE = {
    "faithful.py-range": ("faithful.py", "for i in range(epoch):\n",
                          "for i in range(epoch):\n  for j in range(X.shape[0]):\n"),
    "faithful.py-zip": ("faithful.py", "for i in range(epoch):\n",
                        "for i in range(epoch):\n  for xr, yr in zip(X, y):\n"),
    "faithful.R-nrow": ("faithful.R", "for (i in 1:epoch) {\n",
                        "for (i in 1:epoch) for (j in 1:nrow(X)) {\n"),
}


@pytest.mark.parametrize("name, loop, per_sample", PER_SAMPLE.values(), ids=PER_SAMPLE)
def test_a_loop_over_the_samples_is_refused_as_per_sample_training(
    r_available, tmp_path, name, loop, per_sample
):
    path = variant(tmp_path, name, f"sgd_{name}", (loop, per_sample))
    code, out, err = run_script(path, "--epochs", "5")
    assert code == 2, f"per-sample training must be refused (exit 2): exit {code}\n{out}{err}"
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "runs over the samples" in lines[0], err + out
    assert "full batch" in lines[0], lines[0]


#: (script, edits): the loop trains copies of the weights under names of its own, set from the
#: article's before it; the case's, put in the article's names, never trained. It failed at
#: step 2 with "every input of that step was bitwise equal", which was never checked.
ALIASES = {
    "faithful.py": [
        ("for i in range(epoch):\n",
         "W1, b1, W2, b2 = wh, bh, wout, bout\nfor i in range(epoch):\n"),
        ("np.dot(X, wh) + bh", "np.dot(X, W1) + b1"),
        ("np.dot(hiddenlayer_activations, wout) + bout",
         "np.dot(hiddenlayer_activations, W2) + b2"),
        ("d_output.dot(wout.T)", "d_output.dot(W2.T)"),
        ("    wout +=", "    W2 +="), ("    wh +=", "    W1 +="),
        ("    bout +=", "    b2 +="), ("    bh +=", "    b1 +="),
    ],
    "faithful.R": [
        ("for (i in 1:epoch) {\n",
         "W1 = wh; W2 = wout; b1 = bh; b2 = bout\nfor (i in 1:epoch) {\n"),
        ("X %*% wh + bh", "X %*% W1 + b1"),
        ("hidden_layer_activations %*% wout + bout", "hidden_layer_activations %*% W2 + b2"),
        ("d_output %*% t(wout)", "d_output %*% t(W2)"),
        ("  wout = wout +", "  W2 = W2 +"), ("  wh = wh +", "  W1 = W1 +"),
        ("  bout = bout +", "  b2 = b2 +"), ("  bh = bh +", "  b1 = b1 +"),
    ],
}
ALIAS_NAMES = ["--names", "W1=wh", "--names", "b1=bh", "--names", "W2=wout", "--names", "b2=bout"]


@pytest.mark.parametrize("name", ALIASES)
def test_a_loop_training_copies_of_the_weights_under_other_names_is_refused(
    r_available, tmp_path, name
):
    path = variant(tmp_path, name, f"alias_{name}", *ALIASES[name])
    code, out, err = run_script(path, "--epochs", "20")
    assert code == 2, f"its loop trains W1..b2, not the case's weights: exit {code}\n{out}{err}"
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "its loop never updates wh, bh, wout, bout" in lines[0], err
    assert "--names W1=wh" in lines[0] and "--names W2=wout" in lines[0], (
        f"the pairs the script states (W2 = wout) are not the ones suggested: {lines[0]}"
    )
    code, out, err = run_script(path, "--epochs", "20", *ALIAS_NAMES)
    assert code == 0, f"with the --names it suggests, it holds parity: exit {code}\n{out}{err}"


#: Correct scripts whose loop assigns a step's matrix more than once (id -> script, edits):
#: each matrix is recorded as the pass computed its updates from it. The value the pass ended
#: with had been recorded, then the first assigned (a placeholder, half a sum, a printout
#: before the forward pass), and they failed.
ASSIGNED_TWICE = {
    "py-output-recomputed-after-the-update": ("faithful.py", [(
        "    bh += np.sum(d_hiddenlayer, axis=0, keepdims=True) * lr\n",
        "    bh += np.sum(d_hiddenlayer, axis=0, keepdims=True) * lr\n"
        "    output = sigmoid(np.dot(sigmoid(np.dot(X, wh) + bh), wout) + bout)\n")]),
    "py-built-in-two-statements": ("faithful.py", [(
        "    hidden_layer_input = np.dot(X, wh) + bh\n",
        "    hidden_layer_input = np.dot(X, wh)\n    hidden_layer_input += bh\n")]),
    "py-placeholder-first": ("faithful.py", [(
        "    hidden_layer_input = np.dot(X, wh) + bh\n",
        "    hidden_layer_input = None\n    hidden_layer_input = np.dot(X, wh) + bh\n")]),
    "py-printout-before-the-forward-pass": ("faithful.py", [(
        "    # forward propagation\n",
        "    if i % 7 == 0:\n"
        "        output = sigmoid(np.dot(sigmoid(np.dot(X, wh) + bh), wout) + bout)\n")]),
    "r-output-recomputed-after-the-update": ("faithful.R", [(
        "                   byrow = TRUE) * lr\n",
        "                   byrow = TRUE) * lr\n"
        "  output = sigmoid(sigmoid(X %*% wh + bh) %*% wout + bout)\n")]),
    "r-built-in-two-statements": ("faithful.R", [(
        "  hidden_layer_input = X %*% wh + bh\n",
        "  hidden_layer_input = X %*% wh\n  hidden_layer_input = hidden_layer_input + bh\n")]),
    "r-printout-before-the-forward-pass": ("faithful.R", [(
        "  # forward\n",
        "  if (i %% 7 == 0) {\n"
        "    output = sigmoid(sigmoid(X %*% wh + bh) %*% wout + bout)\n  }\n")]),
}


@pytest.mark.parametrize("name, edits", ASSIGNED_TWICE.values(), ids=ASSIGNED_TWICE)
def test_a_matrix_assigned_twice_is_recorded_as_the_pass_computed_its_updates_from_it(
    r_available, tmp_path, name, edits
):
    path = variant(tmp_path, name, f"twice_{name}", *edits)
    code, out, err = run_script(path, "--epochs", "20")
    assert code == 0, f"{path} trains as the article does: exit {code}\n{out}{err}"


def test_a_matrix_assigned_again_inside_a_block_is_recorded_as_its_step_made_it(
    r_available, tmp_path
):
    """The loop's body inside a `with` block, the output recomputed at its end."""
    import textwrap

    text = (SCRIPTS / "faithful.py").read_text()
    head, rest = text.split("for i in range(epoch):\n", 1)
    body, tail = rest.split("\n\nprint(output)", 1)
    tail = "print(output)" + tail
    recomputed = "    output = sigmoid(np.dot(sigmoid(np.dot(X, wh) + bh), wout) + bout)\n"
    path = tmp_path / "with_block.py"
    path.write_text(head + "for i in range(epoch):\n  with np.errstate(over='ignore'):\n"
                    + textwrap.indent(body + "\n" + recomputed, "  ") + "\n" + tail)
    code, out, err = nnparity("run", "--epochs", "20", "--python-script", str(path))
    assert code == 0, f"{path.read_text()}\nexit {code}\n{out}{err}"


def test_a_step_overwritten_by_a_wrong_value_before_the_updates_is_blamed_at_its_step(
    r_available, tmp_path
):
    path = variant(tmp_path, "faithful.py", "overwritten.py", (
        "    hidden_layer_input = np.dot(X, wh) + bh\n",
        "    hidden_layer_input = np.dot(X, wh) + bh\n"
        "    hidden_layer_input = np.dot(X, wh)  # the bias dropped\n"))
    code, out, err = nnparity("run", "--epochs", "20", "--python-script", path)
    assert code == 1, out + err
    assert "First: epoch 1, step 2 (hidden_layer_input)" in out, out


@pytest.mark.parametrize("name, parts", [("in_a_class.py", "self.wout, self.wh"),
                                         ("in_a_list.R", "net$wout, net$wh")])
def test_a_loop_training_weights_held_in_an_object_is_refused_naming_them(
    r_available, name, parts
):
    code, out, err = run_script(script(name), "--epochs", "20")
    assert code == 2, f"{parts} cannot start from the case's weights: exit {code}\n{out}{err}"
    lines = err.strip().splitlines()
    assert len(lines) == 1 and f"parts of objects ({parts}" in lines[0], err + out


@pytest.mark.parametrize("name, line, taken", [
    ("from_a_dict.py", 30, "wh, bh, wout, bout = params['wh'], params['bh']"),
    ("from_a_list.R", 28, "wh = params$wh; bh = params[[\"bh\"]]"),
])
def test_a_loop_taking_its_weights_from_an_object_each_pass_is_refused_naming_the_line(
    r_available, name, line, taken
):
    """Each pass replaced the case's weights with the object's: the run failed at step 2 of
    epoch 1, with no word of why."""
    code, out, err = run_script(script(name), "--epochs", "20")
    assert code == 2, f"each pass starts from the script's own weights: exit {code}\n{out}{err}"
    lines = err.strip().splitlines()
    assert len(lines) == 1 and f"{name}:{line}" in lines[0].replace(": line ", ":"), err + out
    assert f"parts of objects at the start of each pass ({taken}" in lines[0], err


#: Correct scripts a rule of the checks above had refused or failed (id -> script, edits).
CORRECT_AS_WRITTEN = {
    # an epoch count read from the data size is no loop over the samples
    "py-epochs-from-the-data-size": ("faithful.py", [
        ("for i in range(epoch):\n", "for i in range(len(X) * 1000):\n")]),
    "r-epochs-from-the-data-size": ("faithful.R", [
        ("for (i in 1:epoch) {\n", "for (i in 1:(nrow(X) * 1000)) {\n")]),
    # a history the loop fills beside a helper that updates the biases: no copy of a weight
    "py-helper-updates-and-a-loss-history": ("faithful.py", [
        ("for i in range(epoch):\n",
         "def update(b, d, rate):\n    b += np.sum(d, axis=0, keepdims=True) * rate\n\n\n"
         "losses = np.zeros(epoch)\nfor i in range(epoch):\n"),
        ("    bout += np.sum(d_output, axis=0, keepdims=True) * lr\n",
         "    update(bout, d_output, lr)\n    losses[i] = np.mean(E ** 2)\n")]),
    "r-assign-into-GlobalEnv-and-a-loss-history": ("faithful.R", [
        ("for (i in 1:epoch) {\n", "losses = numeric(epoch)\nfor (i in 1:epoch) {\n"),
        ("  wh = wh + t(X) %*% d_hiddenlayer * lr\n",
         '  assign("wh", wh + t(X) %*% d_hiddenlayer * lr, envir = .GlobalEnv)\n'
         "  losses[i] = mean(E^2)\n")]),
    # <<- inside local() assigns the script's own weights, as under Rscript
    "r-superassignment-inside-local": ("faithful.R", [
        ("  wh = wh + t(X) %*% d_hiddenlayer * lr\n",
         "  local({\n    wh <<- wh + t(X) %*% d_hiddenlayer * lr\n  })\n")]),
    # a script reading its own command line reads `python script.py`'s, not nnparity's
    "py-argparse": ("faithful.py", [
        ("epoch = 4000\n", "import argparse\n\nparser = argparse.ArgumentParser()\n"
         "parser.add_argument('--epochs', type=int, default=4000)\n"
         "epoch = parser.parse_args().epochs\n")]),
    # a matrix filled column by column in an inner loop after it was assigned zeros
    "py-filled-column-by-column": ("faithful.py", [
        ("    hidden_layer_input = np.dot(X, wh) + bh\n",
         "    hidden_layer_input = np.zeros((X.shape[0], wh.shape[1]))\n"
         "    for j in range(wh.shape[1]):\n"
         "        hidden_layer_input[:, j] = np.dot(X, wh[:, j]) + bh[0, j]\n")]),
    "r-filled-column-by-column": ("faithful.R", [
        ("  hidden_layer_input = X %*% wh + bh\n",
         "  hidden_layer_input = matrix(0, nrow(X), ncol(wh))\n"
         "  for (j in 1:ncol(wh)) hidden_layer_input[, j] = X %*% wh[, j] + bh[, j]\n")]),
    # a walrus in the loop's range binds where the loop would
    "py-walrus-in-the-range": ("faithful.py", [
        ("for i in range(epoch):\n", "for i in range(n_iter := epoch):\n"),
        ("    bh += np.sum(d_hiddenlayer, axis=0, keepdims=True) * lr\n",
         "    bh += np.sum(d_hiddenlayer, axis=0, keepdims=True) * lr\n"
         "    if i == n_iter - 1:\n        print('done')\n")]),
}


@pytest.mark.parametrize("name, edits", CORRECT_AS_WRITTEN.values(), ids=CORRECT_AS_WRITTEN)
def test_a_correct_script_is_checked_not_refused(r_available, tmp_path, name, edits):
    path = variant(tmp_path, name, f"correct_{name}", *edits)
    code, out, err = run_script(path, "--epochs", "20")
    assert code == 0, f"{path} runs and trains as the article does: exit {code}\n{out}{err}"


def test_an_inner_loop_over_as_many_passes_as_samples_is_per_sample_training(tmp_path):
    path = variant(tmp_path, "faithful.py", "sgd_n.py", (
        "for i in range(epoch):\n",
        "n = X.shape[0]\nfor i in range(epoch):\n  for j in range(n):\n"))
    code, out, err = nnparity("run", "--epochs", "5", "--python-script", path)
    assert code == 2 and "runs over the samples (for j in range(n): 3 passes" in err, out + err


def test_the_learning_rate_named_is_the_one_the_updates_read(tmp_path):
    text = re.sub(r"\blr\b", "step_size", (SCRIPTS / "faithful.py").read_text())
    text = text.replace("    E = y - output\n", "    E = y - output\n    eps = 1e-8\n"
                        "    loss = -np.mean(np.log(output + eps))\n")
    path = tmp_path / "eps.py"
    path.write_text(text)
    code, out, err = nnparity("run", "--epochs", "20", "--python-script", str(path))
    assert "say --names step_size=lr" in " ".join(out.split()), out + err


# ---- the loop as it counts, batches, what a script leaves open, a loop in a function ---------


@pytest.mark.parametrize("loop", [
    "for i, _ in enumerate(range(epoch)):",
    "for i, j in zip(range(3), range(10, 13)):",
    "for i in np.arange(0, 5.0):",
    "for i, (a, b) in enumerate(zip(range(3), range(5, 8))):",
], ids=["enumerate", "zip-shorter-than-the-epochs", "floats", "enumerate-of-a-zip"])
def test_a_loop_over_its_own_kind_of_sequence_gets_its_values_continued_by_their_step(
    r_available, tmp_path, loop
):
    # `for i, _ in enumerate(range(epoch))` stopped at epoch 1 ("cannot unpack non-iterable
    # int object", blaming the learner's line): the loop was handed plain integers.
    path = variant(tmp_path, "faithful.py", "own_sequence.py", ("for i in range(epoch):", loop))
    code, out, err = run_script(path, "--epochs", "20")
    assert code == 0, f"{loop} runs the article's loop: exit {code}\n{out}{err}"


def test_a_loop_over_values_that_run_out_before_the_epochs_is_refused_with_the_epochs_it_has(
    r_available, tmp_path
):
    path = variant(tmp_path, "faithful.py", "names.py",
                   ("for i in range(epoch):", "for i in ['a', 'b', 'c']:"))
    code, out, err = run_script(path, "--epochs", "20")
    assert code == 2 and "(for i in ['a', 'b', 'c']) gives 3 values" in err, \
        f"exit {code}\n{out}{err}"
    assert "run with --epochs 3" in err, err


def test_a_step_whose_array_the_next_step_takes_and_changes_in_place_is_recorded_as_computed(
    r_available, tmp_path
):
    # `d_output = E; d_output *= slope_output_layer` computes the article's d_output, and E
    # was recorded after d_output's change: E failed at epoch 1, "a port error".
    path = variant(tmp_path, "faithful.py", "in_place.py", (
        "    d_output = E * slope_output_layer\n",
        "    d_output = E\n    d_output *= slope_output_layer\n",
    ))
    code, out, err = run_script(path, "--epochs", "20")
    assert code == 0, f"E is y - output, whatever d_output does to its array after: exit {code}" \
        f"\n{out}{err}"


FAITHFUL_R_Y = "Y = matrix(c(1, 1, 0), ncol = 1)\n"


@pytest.fixture
def other_inputs(tmp_path) -> str:
    """The article's case with other X values (its sizes, so the scripts run as written)."""
    import shutil

    folder = tmp_path / "other_inputs"
    shutil.copytree(Path(__file__).resolve().parents[1] / "fixtures" / "article", folder)
    (folder / "X.csv").write_text("0.5,0.0,1.0,0.25\n1.0,0.75,1.0,1.0\n0.0,1.0,0.5,1.0\n")
    return str(folder)


@pytest.mark.parametrize("name, edit, words", [
    ("faithful.py", (FAITHFUL_PY_Y, FAITHFUL_PY_Y + "\nX = (X - X.mean(axis=0)) / 2"),
     "changes the values of X after line 4, where it sets them, and before its training loop "
     "(set again at line 8: X = (X - X.mean(axis=0)) / 2)"),
    ("faithful.py", (FAITHFUL_PY_Y, FAITHFUL_PY_Y + "\ny = y * 0.9 + 0.05"),
     "changes the values of y after line 7, where it sets them, and before its training loop "
     "(set again at line 8: y = y * 0.9 + 0.05)"),
    ("faithful.py", (FAITHFUL_PY_Y, FAITHFUL_PY_Y + "\nnp.random.default_rng(3).shuffle(X)"),
     "changes the values of X after line 4, where it sets them, and before its training loop "
     "(in place, by a call or a statement that does not assign it)"),
    ("faithful.py", (FAITHFUL_PY_Y, FAITHFUL_PY_Y + "\ndef prep():\n    X[0, 0] = 7\n\n\nprep()"),
     "changes the values of X after line 4, where it sets them, and before its training loop "
     "(in place"),
    ("faithful.R", (FAITHFUL_R_Y, FAITHFUL_R_Y + "X <- X / 2\n"),
     "changes the values of X after line 4, where it sets them, and before its training loop "
     "(set again at line 8: X <- X/2)"),
    ("faithful.R", (FAITHFUL_R_Y, FAITHFUL_R_Y + "prep <- function() X <<- X * 2\nprep()\n"),
     "changes the values of X after line 4, where it sets them, and before its training loop "
     "(in place"),
], ids=["python-standardised", "python-smoothed-labels", "python-shuffled-in-place",
        "python-changed-by-a-function", "r-scaled", "r-changed-by-a-function"])
def test_data_whose_values_the_script_changes_before_its_loop_is_refused_naming_the_change(
    r_available, tmp_path, name, edit, words
):
    # The case's X, put in just before the loop, took the standardised X's place: a script
    # standardising its inputs held parity with one that does not.
    path = variant(tmp_path, name, f"changes_{name}", edit)
    code, out, err = run_script(path, "--epochs", "5")
    assert code == 2 and words in err, f"exit {code}, expected {words!r}:\n{out}{err}"
    assert "make the change in the case's" in err, err


@pytest.mark.parametrize("name, edit", [
    ("faithful.py", (FAITHFUL_PY_Y, FAITHFUL_PY_Y + "\nX = X.astype(float)\ny = y.reshape(-1, 1)")),
    ("faithful.R", (FAITHFUL_R_Y, FAITHFUL_R_Y + "X = X * 1\nY = matrix(Y, ncol = 1)\n")),
], ids=["python", "r"])
def test_data_given_a_new_type_or_layout_of_the_same_values_before_the_loop_runs(
    r_available, tmp_path, other_inputs, name, edit
):
    path = variant(tmp_path, name, f"same_{name}", edit)
    code, out, err = run_script(path, "--case", other_inputs, "--epochs", "5")
    assert code == 0, f"the same numbers as another type are the same data: exit {code}\n{out}{err}"


def x_read_as(name: str, new: str, setting: str) -> list[tuple[str, str]]:
    """Edits of faithful.py or faithful.R whose loop reads X as `new`, which `setting` (a
    line after y's) sets."""
    if name.endswith(".py"):
        return [(FAITHFUL_PY_Y, f"{FAITHFUL_PY_Y}\n{setting}"),
                ("np.dot(X, wh)", f"np.dot({new}, wh)"),
                ("X.T.dot(d_hiddenlayer)", f"{new}.T.dot(d_hiddenlayer)")]
    return [(FAITHFUL_R_Y, f"{FAITHFUL_R_Y}{setting}\n"), ("X %*% wh", f"{new} %*% wh"),
            ("t(X) %*%", f"t({new}) %*%"), ("nrow(X), n_hidden", f"nrow({new}), n_hidden")]


@pytest.mark.parametrize("name, edits", [
    ("faithful.py", x_read_as("faithful.py", "inputs", "inputs = X")),
    ("faithful.R", x_read_as("faithful.R", "inputs", "inputs <- X")),
], ids=["python", "r"])
def test_a_loop_reading_x_under_another_name_set_from_it_trains_on_the_cases_x(
    r_available, tmp_path, other_inputs, name, edits
):
    # `inputs = X` before the loop: the case's X went into X only, and the loop trained on the
    # script's own inputs (parity failed at step 2 of epoch 1, "a port error").
    path = variant(tmp_path, name, f"alias_{name}", *edits)
    code, out, err = run_script(path, "--case", other_inputs, "--epochs", "5")
    assert code == 0, f"the loop's inputs are X: exit {code}\n{out}{err}"


@pytest.mark.parametrize("name, edits", [
    ("faithful.py", x_read_as("faithful.py", "inputs", "inputs = np.array(X, dtype=float)")),
    ("faithful.R", x_read_as("faithful.R", "inputs", "inputs <- as.matrix(X) * 1")),
], ids=["python", "r"])
def test_a_loop_reading_a_copy_of_x_with_the_same_numbers_trains_on_the_cases_x(
    r_available, tmp_path, other_inputs, name, edits
):
    # Refused as "made from X" though it holds X's numbers as another type.
    path = variant(tmp_path, name, f"copy_{name}", *edits)
    code, out, err = run_script(path, "--case", other_inputs, "--epochs", "5")
    assert code == 0, f"the loop's inputs are X's numbers: exit {code}\n{out}{err}"


@pytest.mark.parametrize("name, edits", [
    ("faithful.py", x_read_as("faithful.py", "Xs", "Xs = X / 2")),
    ("faithful.R", x_read_as("faithful.R", "Xs", "Xs <- X / 2")),
], ids=["python", "r"])
def test_a_loop_that_never_reads_x_but_a_copy_made_from_it_is_refused_naming_the_copy(
    r_available, tmp_path, name, edits
):
    path = variant(tmp_path, name, f"copy_{name}", *edits)
    code, out, err = run_script(path, "--epochs", "5")
    assert code == 2 and "the training loop never reads X: it reads Xs (line" in err, \
        f"exit {code}\n{out}{err}"


def test_an_r_training_loop_written_with_repeat_is_refused_naming_the_for_loop_to_write(
    r_available, tmp_path
):
    # R's refusals are worded in scripts.py from the facts script.R finds: the file, the line,
    # the loop's kind and R's own for loop, not Python's.
    path = variant(tmp_path, "faithful.R", "repeats.R", (
        "for (i in 1:epoch) {\n", "i <- 0\nrepeat {\n  i <- i + 1\n  if (i > epoch) break\n"
    ))
    code, out, err = run_script(path, "--epochs", "20")
    expected = (f"nnparity: {path}:27: the training loop is a `repeat` loop; nnparity runs a "
                "`for` loop once per epoch: write it as for (i in 1:epoch) { ... }")
    assert code == 2 and err.strip() == expected, f"exit {code}, expected:\n{expected}\n{err}"


@pytest.mark.parametrize("name, edit", [
    ("faithful.py", ("for i in range(epoch):\n", "for i in range(0, X.shape[0], 2):\n")),
    ("faithful.R", ("for (i in 1:epoch) {\n", "for (i in seq(1, nrow(X), by = 2)) {\n")),
], ids=["python", "r"])
def test_a_loop_over_batches_of_the_samples_is_refused_as_mini_batch_training(
    r_available, tmp_path, name, edit
):
    # Each batch was taken for an epoch: a failure at a wrong line, or a shape error of
    # nnparity's own making.
    path = variant(tmp_path, name, f"batches_{name}", edit)
    code, out, err = run_script(path, "--epochs", "20")
    assert code == 2, f"a loop of 2 passes over X's 3 rows is mini-batch training: exit {code}"
    assert "2 passes over X's 3 rows): that is mini-batch training" in err, err


@pytest.mark.parametrize("name, edits", [
    ("faithful.py", [("for i in range(epoch):\n",
                      "for i in range(1, epoch + 1):\n    running = 1 / i\n")]),
    ("faithful.R", [("for (i in 1:epoch) {\n",
                     "for (i in 2:(epoch + 1)) {\n  stopifnot(i >= 2)\n")]),
], ids=["python-from-1", "r-from-2"])
def test_the_loops_counter_counts_as_the_scripts_own_range_does(
    r_available, tmp_path, name, edits
):
    # range(1, epoch + 1) counted from 0 under nnparity: 1 / i stopped a correct script.
    path = variant(tmp_path, name, f"counts_{name}", *edits)
    code, out, err = run_script(path, "--epochs", "20")
    assert code == 0, f"the counter must start where the script's own range does: {out}{err}"


@pytest.mark.parametrize("name, edits", [
    ("faithful.py", [("for i in range(epoch):\n", "log = open(LOG, 'w')\nfor i in range(epoch):\n"
                      "    log.write(f'{i}\\n')\n")]),
    ("faithful.R", [("for (i in 1:epoch) {\n", "con <- file(LOG, 'w')\nfor (i in 1:epoch) {\n"
                     "  writeLines(as.character(i), con)\n")]),
], ids=["python", "r"])
def test_a_file_the_script_never_closes_is_whole_when_its_loop_ends(
    r_available, tmp_path, name, edits
):
    log = tmp_path / "passes.log"
    path = variant(tmp_path, name, f"log_{name}", *[(old, new.replace("LOG", repr(str(log))))
                                                      for old, new in edits])
    code, out, err = run_script(path, "--epochs", "20")
    assert code == 0, out + err
    lines = log.read_text().splitlines()
    assert len(lines) == 20, f"the script's log holds {len(lines)} of its 20 passes: {lines}"


def test_an_r_loop_inside_a_function_is_refused_saying_to_move_it_out(r_available, tmp_path):
    path = variant(tmp_path, "faithful.R", "in_function.R",
                   ("for (i in 1:epoch) {\n", "train <- function() {\nfor (i in 1:epoch) {\n"),
                   ("\nprint(output)", "\n}\ntrain()\nprint(output)"))
    code, out, err = run_script(path, "--epochs", "20")
    assert code == 2 and "the training loop is inside a function (train)" in err, out + err
    assert "move the loop out of the function" in err, err


def test_a_loop_that_breaks_early_says_how_many_of_the_epochs_asked_for_were_compared(
    r_available, tmp_path
):
    # It read "article (free, 0 epochs): PARITY FAILS", as if the run had asked for none.
    path = variant(tmp_path, "faithful.R", "breaks.R",
                   ("  bh = bh +", "  if (i == 6) break\n  bh = bh +"))
    code, out, err = run_script(path, "--epochs", "20")
    assert code == 1, out + err
    assert "article (free, 0 of 20 epochs compared): PARITY FAILS" in out, out
    assert "the training loop ended after 5 of the 20 epochs asked for (a `break` in it?): " \
        "to check the epochs before it ends, run with --epochs 5" in out, out


@pytest.mark.parametrize("name, edit", [
    ("faithful.py", ("    bh += np.sum(d_hiddenlayer, axis=0, keepdims=True) * lr\n",
                     "    bh += np.sum(d_hiddenlayer, axis=0, keepdims=True) * lr\n"
                     "    if i % 1000 != 0:\n        continue\n"
                     "    print('epoch', i, 'loss', np.mean(E ** 2))\n")),
    ("faithful.R", ("                   byrow = TRUE) * lr\n",
                    "                   byrow = TRUE) * lr\n"
                    "  if (i %% 1000 != 0) {\n    next\n  }\n"
                    "  print(mean(E^2))\n")),
], ids=["python-continue", "r-next"])
def test_a_pass_ending_at_continue_or_next_after_its_updates_is_recorded_and_compared(
    r_available, tmp_path, name, edit
):
    # Printing the error every 1000 epochs by skipping the rest of the body: each pass ended
    # at the `continue` before the pass was recorded, and the run failed, "ran to its end 1
    # times for 20 epochs".
    path = variant(tmp_path, name, f"skips_{name}", edit)
    code, out, err = run_script(path, "--epochs", "20")
    assert code == 0, f"a loop skipping its printout holds parity with our port: exit {code}\n" \
        f"{out}{err}"
    assert "every step of every epoch (20)" in out, out


@pytest.mark.parametrize("name, edit", [
    ("faithful.py", ("    hidden_layer_input = np.dot(X, wh) + bh\n",
                     "    if i == 3:\n        continue\n"
                     "    hidden_layer_input = np.dot(X, wh) + bh\n")),
    ("faithful.R", ("  hidden_layer_input = X %*% wh + bh\n",
                    "  if (i == 4) next\n  hidden_layer_input = X %*% wh + bh\n")),
], ids=["python-continue", "r-next"])
def test_a_pass_skipped_by_continue_or_next_before_its_updates_fails_at_that_epoch(
    r_available, tmp_path, name, edit
):
    # As written the loop trains one epoch less: recorded where it skips, the pass's weights
    # are those of the epoch before, and parity fails there, not at the end.
    path = variant(tmp_path, name, f"skips_{name}", edit)
    code, out, err = run_script(path, "--epochs", "20", "--json")
    assert code == 1, f"a loop skipping the training of epoch 4 must fail: exit {code}\n{err}"
    document = json.loads(out)
    if name.endswith(".py"):  # said as such: the pass before's values were compared
        message = document["error"]["message"]
        assert "the pass of epoch 4 ended at the `continue` of line" in message, message
        return
    first = document["modes"]["free"]["first_violation"]
    assert first["epoch"] == 4, f"expected the first cell beyond the bound at epoch 4: {first}"


@pytest.mark.parametrize("line, words", [
    ("import no_such_module_here\n", "install the package that provides no_such_module_here"),
    ("answer = input('epochs? ')\n", "the script asks for input, and nnparity runs it with none"),
], ids=["a-missing-module", "input"])
def test_a_script_stopping_before_its_loop_is_told_what_to_do(r_available, tmp_path, line, words):
    path = variant(tmp_path, "faithful.py", "stops.py",
                   ("for i in range(epoch):\n", f"{line}for i in range(epoch):\n"))
    code, out, err = run_script(path, "--epochs", "20")
    assert code == 2 and words in err, f"exit {code}: {err}"


# ---- weights updated where the loop does not assign them, weights that are one array --------

#: (id, script, edits, whether it computes the article's network): each updates a weight
#: without assigning its name in the loop's body. Such a weight was "not computed", and with
#: one epoch a wrong update held parity.
UPDATED_ELSEWHERE = [
    ("py-out-argument", "faithful.py",
     [("    wh += X.T.dot(d_hiddenlayer) * lr\n",
       "    np.add(wh, X.T.dot(d_hiddenlayer) * lr, out=wh)\n")], True),
    ("py-out-argument-wrong-sign", "faithful.py",
     [("    wh += X.T.dot(d_hiddenlayer) * lr\n",
       "    np.subtract(wh, X.T.dot(d_hiddenlayer) * lr, out=wh)\n")], False),
    ("py-through-a-list", "faithful.py",
     [("for i in range(epoch):\n", "params = [wh, bh, wout, bout]\nfor i in range(epoch):\n"),
      ("    wh += X.T.dot(d_hiddenlayer) * lr\n",
       "    for p, g in zip(params[:1], [X.T.dot(d_hiddenlayer)]):\n        p += g * lr\n")],
     True),
    ("r-helper-superassignment", "faithful.R",
     [("for (i in 1:epoch) {\n",
       "update_wh <- function() wh <<- wh + t(X) %*% d_hiddenlayer * lr\nfor (i in 1:epoch) {\n"),
      ("  wh = wh + t(X) %*% d_hiddenlayer * lr\n", "  update_wh()\n")], True),
    ("r-helper-superassignment-wrong-sign", "faithful.R",
     [("for (i in 1:epoch) {\n",
       "update_wh <- function() wh <<- wh - t(X) %*% d_hiddenlayer * lr\nfor (i in 1:epoch) {\n"),
      ("  wh = wh + t(X) %*% d_hiddenlayer * lr\n", "  update_wh()\n")], False),
]


@pytest.mark.parametrize(
    "name, edits, faithful",
    [u[1:] for u in UPDATED_ELSEWHERE], ids=[u[0] for u in UPDATED_ELSEWHERE],
)
def test_a_weight_updated_where_the_loop_does_not_assign_it_is_compared(
    r_available, tmp_path, name, edits, faithful
):
    path = variant(tmp_path, name, f"elsewhere_{name}", *edits)
    code, out, err = run_script(path, "--epochs", "1")
    if faithful:
        assert code == 0 and "not computed" not in out, f"exit {code}\n{out}{err}"
    else:
        assert code == 1 and "First: epoch 1, step 10 (wh)" in out, f"exit {code}\n{out}{err}"


def test_two_weights_that_are_one_array_as_written_are_refused(r_available, tmp_path):
    # bh and bout one array: each update moved both; the case's two arrays in their place hid
    # it, and the run held parity.
    path = variant(tmp_path, "faithful.py", "one_array.py",
                   ("n_in, n_hidden, n_out = X.shape[1], 3, 1",
                    "n_in, n_hidden, n_out = X.shape[1], 1, 1"),
                   ("bh = np.random.uniform(size=(1, n_hidden))\n", ""),
                   ("bout = np.random.uniform(size=(1, n_out))\n",
                    "bh = bout = np.zeros((1, n_out))\n"))
    code, out, err = run_script(path, "--epochs", "20")
    assert code == 2 and "as written, bh and bout are one array" in err, f"exit {code}\n{out}{err}"


@pytest.mark.parametrize("edits", [
    [("bout = matrix(rep(runif(1), nrow(X)), nrow = nrow(X))",
      "bout = rep(runif(1), nrow(X))")],
    [("bh = matrix(rep(runif(n_hidden), each = nrow(X)), nrow = nrow(X))",
      "bh = rep(runif(n_hidden), each = nrow(X))"),
     ("  bh = bh + matrix(colSums(d_hiddenlayer), nrow(X), n_hidden,\n"
      "                   byrow = TRUE) * lr\n",
      "  bh = bh + rep(colSums(d_hiddenlayer), each = nrow(X)) * lr\n")],
], ids=["bout-one-column", "bh-one-per-sample-and-column"])
def test_an_r_bias_held_once_per_sample_as_a_plain_vector_holds_parity(
    r_available, tmp_path, edits
):
    # Refused: "as written, wout is 3 x 1 and bout 1 x 3: ... cannot be computed" (R adds the
    # vector down the columns, as the article's per-sample matrix); or failed at step 2.
    path = variant(tmp_path, "faithful.R", "vector_bias.R", *edits)
    for case in ("article", "many_samples"):  # 3 samples as written; 64
        code, out, err = run_script(path, "--case", case, "--epochs", "20")
        assert code == 0, f"{case}: exit {code}\n{out}{err}"


#: (the loop's first line, the line after its body) in our scripts
LOOPS = {"faithful.py": ("for i in range(epoch):\n", "print(output)"),
         "faithful.R": ("for (i in 1:epoch) {\n", "}\nprint(output)")}


@pytest.mark.parametrize("name", LOOPS)
def test_a_loop_computing_the_matrices_in_functions_it_calls_is_told_so(
    r_available, tmp_path, name
):
    # The loop's body moved into a function assigning the script's globals, the loop calling
    # it. It said "no loop assigns any of the article's matrices ...: name them as the article
    # does", to a script that names them as the article does.
    first, after = LOOPS[name]
    text = (SCRIPTS / name).read_text()
    start, end = text.index(first), text.index(after)
    body = text[start + len(first):end]
    if name.endswith(".py"):
        names = sorted({line.split("=")[0].split("+")[0].strip() for line in body.splitlines()
                        if "=" in line and not line.strip().startswith("#")})
        step = f"def train_step():\n    global {', '.join(names)}\n{body}\n\n"
        loop = f"{first}    train_step()\n\n"
    else:
        step = "train_step <- function() {\n" + re.sub(r"(?m)^(  \w+) = ", r"\1 <<- ", body) \
            + "}\n"
        loop = first + "  train_step()\n}\n"
    path = tmp_path / f"in_a_step_{name}"
    path.write_text(text[:start] + step + loop + text[end + (2 if name.endswith(".R") else 0):])
    code, out, err = run_script(str(path), "--epochs", "20")
    assert code == 2 and "in functions it calls (train_step)" in err, (
        f"exit {code}\n{path.read_text()}\n{out}{err}"
    )


def test_a_script_hanging_before_its_loop_times_out_without_being_said_to_train(
    r_available, tmp_path
):
    # It said the script "had not finished training epochs 1-5000", stuck before its loop.
    path = variant(tmp_path, "faithful.py", "hangs.py",
                   ("for i in range(epoch):\n", "while True:\n    pass\nfor i in range(epoch):\n"))
    code, out, err = run_script(path, "--epochs", "20", "--timeout", "3")
    assert code == 1 and "its code before the loop included" in err, f"exit {code}\n{out}{err}"
