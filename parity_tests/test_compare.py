"""The comparison itself: it must catch one wrong cell anywhere and say exactly where."""

from __future__ import annotations

import numpy as np
import pytest

from nnparity import paths, steps
from nnparity.cells import NotComputed
from nnparity.compare import Comparison, first_failure, ulp_distance
from nnparity.report import story

python_impl = paths.python_impl()  # our Python port, python_impl/


@pytest.fixture(scope="module")
def trace(article):
    return python_impl.train(
        *article.train_inputs(),
        60,
        record=True,
    )["trace"]


def compare(case, a, b, mode="free", chunk=None):
    comparison = Comparison(case, mode)
    epochs = len(a["output"])
    chunk = chunk or epochs
    start = case.state()
    for offset in range(0, epochs, chunk):  # the per-epoch matrices (once.py's records aside)
        part_a = {k: v[offset : offset + chunk] for k, v in a.items() if k in steps.NAMES}
        part_b = {k: v[offset : offset + chunk] for k, v in b.items() if k in steps.NAMES}
        comparison.add(part_a, part_b, len(part_a["output"]), start)
        start = {k: part_a[k][-1] for k in steps.STATE}
    return comparison.report()


def perturbed(trace, name, epoch, row, col, delta):
    copy = {k: v.copy() for k, v in trace.items()}
    copy[name][epoch - 1, row - 1, col - 1] += delta
    return copy


def test_identical_traces_pass_and_are_all_bitwise_equal(article, trace):
    report = compare(article, trace, {k: v.copy() for k, v in trace.items()})
    assert report.passed, story(report)
    assert all(s.equal == s.cells for s in report.stats)
    assert report.first_difference is None


@pytest.mark.parametrize("mode", ["free", "lockstep"])
@pytest.mark.parametrize(
    "name, epoch, row, col",
    [("d_output", 37, 2, 1), ("hidden_layer_input", 1, 3, 3), ("bh", 60, 1, 2), ("wh", 12, 4, 1)],
)
def test_one_perturbed_cell_fails_and_is_named_by_epoch_step_and_cell(
    article, trace, mode, name, epoch, row, col
):
    report = compare(article, trace, perturbed(trace, name, epoch, row, col, 1e-9), mode)
    assert not report.passed, (
        f"a 1e-9 change in {name} at epoch {epoch} went unnoticed in {mode} mode"
    )
    where = f"epoch {epoch}, step {steps.BY_NAME[name].step} ({name}), cell [{row}, {col}]"
    assert report.first_violation.where() == where
    assert where in story(report)
    failing = [s.name for s in report.stats if not s.passed]
    assert failing == [name], f"only {name} was changed, but these failed: {failing}"


def test_the_story_carries_both_values_of_the_failing_cell(article, trace):
    other = perturbed(trace, "output", 5, 1, 1, 1e-6)
    text = story(compare(article, trace, other))
    assert (
        repr(float(trace["output"][4, 0, 0])) in text
        and repr(float(other["output"][4, 0, 0])) in text
    ), text


def test_a_difference_below_the_bound_passes_but_is_reported_as_the_first_difference(
    article, trace
):
    other = {k: v.copy() for k, v in trace.items()}
    other["wout"][9, 0, 0] = np.nextafter(other["wout"][9, 0, 0], np.inf)
    report = compare(article, trace, other)
    assert report.passed, story(report)
    assert report.first_difference.where() == "epoch 10, step 10 (wout), cell [1, 1]"
    assert report.first_difference.ulps == 1
    assert report.first_difference.is_rounding


def test_a_large_first_difference_is_classified_as_a_port_error(article, trace):
    report = compare(article, trace, perturbed(trace, "bout", 1, 1, 1, 1e-3))
    assert not report.first_difference.is_rounding
    assert "a port error" in report.first_difference.origin()


def test_comparing_in_chunks_gives_the_same_report_as_comparing_whole(article, trace):
    other = perturbed(trace, "E", 41, 3, 1, 1e-7)
    whole, chunked = compare(article, trace, other), compare(article, trace, other, chunk=7)
    for a, b in zip(whole.stats, chunked.stats, strict=True):
        assert (a.cells, a.equal, a.max_abs, a.max_ulp, a.violations) == (
            b.cells,
            b.equal,
            b.max_abs,
            b.max_ulp,
            b.violations,
        ), a.name
        np.testing.assert_array_equal(a.figures()["max_abs"], b.figures()["max_abs"])
    assert whole.first_violation.where() == chunked.first_violation.where()


def test_a_matrix_missing_from_one_trace_is_a_named_failure(article, trace):
    other = {k: v for k, v in trace.items() if k != "slope_hidden_layer"}
    report = compare(article, trace, other)
    assert not report.passed
    assert report.problems == [
        "step 6 (slope_hidden_layer): the R trace does not record this matrix"
    ]


def test_a_transposed_matrix_is_a_named_shape_failure(article, trace):
    other = dict(trace, wh=np.swapaxes(trace["wh"], 1, 2).copy())
    report = compare(article, trace, other)
    assert [p.split(":")[0] for p in report.problems] == ["step 10 (wh)"]


@pytest.mark.parametrize(
    "a, b, ulps",
    [
        (1.0, np.nextafter(1.0, 2.0), 1),
        (0.0, -0.0, 0),
        (-0.0, 5e-324, 1),
        (-5e-324, 5e-324, 2),
        (1.0, 1.0, 0),
        (2.0, 1.0, 2**52),
    ],
)
def test_ulp_distance_counts_the_doubles_between_two_values(a, b, ulps):
    assert ulp_distance(np.array([a]), np.array([b]))[0] == ulps


def test_a_signed_zero_is_not_reported_as_the_birth_of_a_difference(article, trace):
    other = {k: v.copy() for k, v in trace.items()}
    other["E"][2, 0, 0], trace_e = -0.0, trace["E"].copy()
    trace_e[2, 0, 0] = 0.0
    report = compare(article, dict(trace, E=trace_e), other)
    assert report.passed and report.first_difference is None, (
        report.first_difference and report.first_difference.origin()
    )


def test_a_step_with_a_structural_problem_is_not_called_bitwise_equal(article, trace):
    other = {k: v.copy() for k, v in trace.items()}
    del other["E"]
    text = story(compare(article, trace, other))
    assert "structural problem at step 5 (E): the R trace does not record this matrix" in text, text
    assert "bitwise equal" not in text, f"a matrix was not compared, yet the story says:\n{text}"


def test_bitwise_equal_traces_with_a_matrix_not_computed_say_it_holds_for_the_others(
    article, trace
):
    ours = {k: v[:3] for k, v in trace.items() if k in steps.NAMES}
    script = {**{k: v.copy() for k, v in ours.items()}, "E": NotComputed("x.py", "never")}
    comparison = Comparison(article, "free")
    comparison.add(ours, script, 3, article.state())
    text = story(comparison.report())
    assert "the two traces are bitwise equal in every matrix both sides compute" in text, (
        f"E was never computed, yet the story calls the whole traces bitwise equal:\n{text}"
    )


def test_the_first_failure_is_the_earliest_epoch_then_the_earliest_step_over_both_modes(
    article, trace
):
    late_free = compare(article, trace, perturbed(trace, "E", 9, 1, 1, 1e-9), "free")
    early_lockstep = compare(article, trace, perturbed(trace, "wh", 3, 1, 1, 1e-9), "lockstep")
    first = first_failure([late_free, early_lockstep])
    assert (first.mode, first.where()) == ("lockstep", "epoch 3, step 10 (wh), cell [1, 1]")
    same_epoch = compare(article, trace, perturbed(trace, "E", 3, 1, 1, 1e-9), "free")
    first = first_failure([early_lockstep, same_epoch])
    assert (first.mode, first.name) == ("free", "E"), "step 5 comes before step 10 in one epoch"


def test_a_structural_problem_counts_as_a_failure_at_the_epoch_it_is_found(article, trace):
    missing = {k: v for k, v in trace.items() if k != "bh"}
    late = compare(article, trace, perturbed(trace, "E", 2, 1, 1, 1e-9))
    first = first_failure([late, compare(article, trace, missing)])
    assert first.where() == "epoch 1, step 11 (bh): the R trace does not record this matrix"
    assert first_failure([late, compare(article, trace, missing)], structural=False).name == "E"


def test_a_run_cut_short_cannot_pass_however_equal_the_epochs_it_compared(article, trace):
    comparison = Comparison(article, "free", expected_epochs=60)
    first_half = {k: v[:30] for k, v in trace.items() if k in steps.NAMES}
    comparison.add(first_half, {k: v.copy() for k, v in first_half.items()}, 30, article.state())
    report = comparison.report()
    assert not report.passed, "30 bitwise-equal epochs of 60 asked for were reported as parity"
    assert report.error == "30 of the 60 epochs asked for were compared", report.error


def test_a_step_left_out_of_one_chunk_cannot_pass(article, trace):
    comparison = Comparison(article, "free", expected_epochs=60)
    start = article.state()
    for offset in (0, 30):
        part = {k: v[offset : offset + 30] for k, v in trace.items() if k in steps.NAMES}
        comparison.add(part, {k: v.copy() for k, v in part.items()}, 30, start)
        start = {k: part[k][-1] for k in steps.STATE}
        wh = comparison.stats["wh"]  # as if a chunk's wh had been skipped: its first chunk only
        wh.per_epoch = {k: v[:1] for k, v in wh.per_epoch.items()}
    report = comparison.report()
    assert not report.passed, "a step compared in 30 of 60 epochs was reported as parity"
    expected = "step 10 (wh) was compared in 30 of the 60 epochs asked for"
    assert report.error == expected, report.error


def test_a_run_whose_comparison_skips_a_chunk_exits_without_parity(
    article, r_port, monkeypatch
):
    from nnparity import traces
    from nnparity.ports import PythonPort

    real_add = Comparison.add

    def add_all_but_the_second_chunk(self, python, r, epochs, start):
        self.calls = getattr(self, "calls", 0) + 1
        if self.calls != 2:
            real_add(self, python, r, epochs, start)

    monkeypatch.setattr(Comparison, "add", add_all_but_the_second_chunk)
    ten_epochs = 10 * traces.epoch_bytes(article)
    run = traces.run(article, PythonPort(), r_port, 30, chunk_bytes=ten_epochs)
    assert not run.passed, "a run that compared 20 of its 30 epochs passed"
    for mode, report in run.reports.items():
        assert report.error == "20 of the 30 epochs asked for were compared", (mode, report.error)


@pytest.mark.parametrize(
    "record, words",
    [((3, 4), "(3, 4), expected (1, 3, 4)"), ((2, 4, 3), "(2, 4, 3), expected (1, 4, 3)")],
    ids=["no-record-axis", "two-records"],
)
def test_a_misshapen_once_record_shows_two_shapes_that_differ(record, words):
    # "shapes differ: Python's record (3, 4), expected (3, 4)" told a stranger nothing.
    from nnparity.once import _shape_problem

    expected = np.zeros(record[-2:] if len(record) == 3 else record)
    said = _shape_problem("Python's record", np.zeros(record), expected)
    assert said is not None and words in said, said
