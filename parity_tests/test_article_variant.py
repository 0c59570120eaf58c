"""The negative control: the article's own R (r_impl/variants/article) must fail, and say where.

The article's R updates its biases with rowSums where its Python sums over the
samples, and holds each bias once per sample. A suite that passed it would be
worthless; one that names epoch 1, step 11 tells the reader exactly which line
to fix (docs/errata.md).
"""

from __future__ import annotations

import numpy as np
import pytest

from nnparity import steps, traces
from nnparity.cli import main
from nnparity.compare import Comparison
from nnparity.paths import R_IMPL
from nnparity.ports import PythonPort, RPort
from nnparity.report import story

ARTICLE_R = R_IMPL / "variants" / "article"

#: Largest |Python output - article R output| at epoch 2, the first forward pass
#: after the article's bias update, on the article case (measured: 1.66822594670335e-3,
#: cell [1, 1]; docs/design.md). Rounding between the two BLAS moves
#: free-running values by less than 1e-15 at epoch 2 (policy.py measures 1e-14
#: after 5000 epochs), so a relative tolerance of 1e-9 (1.7e-12 absolute) leaves
#: three orders of magnitude for rounding and still pins the number to nine digits.
EPOCH_2_OUTPUT_GAP = 1.66822594670335e-3
GAP_RTOL = 1e-9


@pytest.fixture(scope="module")
def cli_run(r_available):
    """`nnparity run --r-variant article`, exactly as a user types it, output unwrapped."""
    capture = pytest.MonkeyPatch()
    capture.setenv("COLUMNS", "400")  # rich wraps at 80 columns when not on a terminal
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["run", "--r-variant", "article"])
    capture.undo()
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def article_run(r_available, article):
    return traces.run(article, PythonPort(), RPort(ARTICLE_R), epochs=20)


def test_the_article_variant_fails_with_exit_code_1(cli_run):
    code, out, err = cli_run
    assert code == 1, (
        f"`nnparity run --r-variant article` exited {code}; the article's own R must "
        f"fail\n{out}{err}"
    )


def test_the_first_failure_is_epoch_1_step_11_the_output_bias_with_both_values(
    cli_run, article_run
):
    _, out, _ = cli_run
    first = article_run.reports["free"].first_violation
    assert (first.epoch, first.step, first.name) == (1, 11, "bout"), first.where()
    assert "first cell beyond the bound: epoch 1, step 11 (bout)" in out, out
    assert f"Python {first.python!r}, R {first.r!r}" in out, (
        f"the output does not show both values of {first.where()}\n{out}"
    )
    # Python moves the output bias by the sum over the samples, the article's R by each sample's own
    # delta.
    assert first.python != first.r


def test_both_bias_updates_are_named_as_failing_at_step_11(article_run):
    free = article_run.reports["free"]
    failing_at_11 = {s.name for s in free.stats if s.step == 11 and s.violations}
    assert failing_at_11 == {"bout", "bh"}, story(free)
    for s in free.stats:
        if s.step == 11:
            assert s.first_violation.epoch == 1, (
                f"{s.name} first fails at epoch {s.first_violation.epoch}, expected 1"
            )
        else:
            assert s.first_violation is None or s.first_violation.epoch >= 2, (
                f"{s.name} fails before the first bias update"
            )


def test_the_report_says_r_holds_the_bias_per_sample(cli_run, article_run):
    _, out, _ = cli_run
    notes = article_run.reports["free"].notes
    assert [n.split(":")[0] for n in notes] == ["step 11 (bout)", "step 11 (bh)"], notes
    assert "R holds this bias once per sample (3 x 1), Python once (1 x 1)" in out, out
    assert "R holds this bias once per sample (3 x 3), Python once (1 x 3)" in out, out


def test_outputs_differ_by_about_2e_3_after_the_first_update(r_available, article):
    python, r = PythonPort(), RPort(ARTICLE_R)
    python.start(article)
    r.start(article)
    a, b = python.advance(2)["output"], r.advance(2)["output"]
    assert np.array_equal(a[0], b[0]), (
        "epoch 1's output (before any update) should be bitwise equal"
    )
    gap = np.abs(a[1] - b[1]).max()
    assert gap == pytest.approx(EPOCH_2_OUTPUT_GAP, rel=GAP_RTOL), (
        f"epoch 2 output gap {gap!r}, measured {EPOCH_2_OUTPUT_GAP!r}"
    )


def test_in_lockstep_a_failing_r_step_is_a_problem_of_that_step_only(article_run, article):
    """The article's `+ bh` cannot take Python's 1 x 3 bias: steps 2 and 4 error in R; the rest
    still run.
    """
    lockstep = article_run.reports["lockstep"]
    problems = {s.name: s.problem for s in lockstep.stats if s.problem}
    assert set(problems) == {"hidden_layer_input", "output_layer_input", "bout"}, lockstep.problems
    assert (
        problems["hidden_layer_input"]
        == "R's step function failed at epoch 1: non-conformable arrays"
    )
    assert problems["bout"].startswith(
        "R's step function failed at epoch 1: steps$bout returned a vector of length 3 where the "
        "recorded one is 1 x 1"
    )
    for s in lockstep.stats:
        if not s.problem:
            expected = 20 * int(np.prod(steps.shape_of(s.name, *article.dims)))
            assert s.cells == expected, (
                f"{s.name}: compared {s.cells} cells, expected {expected}: a failing step stopped "
                "the others"
            )
    assert {s.name for s in lockstep.stats if not s.problem and not s.passed} == {"bh"}, story(
        lockstep
    )
    assert lockstep.first_violation.where().startswith("epoch 1, step 11 (bh)")


def test_a_failing_lockstep_step_names_the_epoch_it_failed_at_across_chunks(r_available, article):
    """A step that only breaks at epoch 7 must say 7, also when the run is cut into chunks of 3
    epochs.

    From epoch 7 on, R is handed a recorded output of the wrong width (3 x 2):
    r_impl's output step then returns 3 x 1 where 3 x 2 is recorded, E = y -
    output errors, and slope_output_layer returns 3 x 2 where 3 x 1 is recorded.
    """
    python = PythonPort()
    r = RPort(R_IMPL)
    python.start(article)
    trace = python.advance(9)
    start = article.state()
    comparison = Comparison(article, "lockstep")
    for offset in (0, 3, 6):
        chunk = {k: v[offset : offset + 3] for k, v in trace.items()}
        chunk_start = start if offset == 0 else {k: trace[k][offset - 1] for k in steps.STATE}
        recorded = dict(chunk)
        if offset == 6:
            recorded["output"] = np.concatenate(
                [chunk["output"], chunk["output"]], axis=2
            )  # 3 x 2 instead of 3 x 1
        r_chunk = r.lockstep(article, recorded, chunk_start)
        comparison.add(chunk, r_chunk, 3, chunk_start)
    report = comparison.report()
    problems = {s.name: s.problem for s in report.stats if s.problem}
    assert list(problems) == ["output", "E", "slope_output_layer"], report.problems
    assert problems["E"] == "R's step function failed at epoch 7: non-conformable arrays", problems[
        "E"
    ]
    assert problems["slope_output_layer"] == (
        "R's step function failed at epoch 7: steps$slope_output_layer returned a 3 x 2 matrix "
        "where the recorded one is 3 x 1"
    )
