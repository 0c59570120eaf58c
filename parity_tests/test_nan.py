"""NaN, NA and Inf: a training that overflows must overflow the same way in both languages.

Parity requires NaN where the other language has NaN, the same Inf where it has
Inf, and R's NA only where the other side has NA (R's NA_real_ is a NaN with
payload 1954; it means "missing", not "undefined"). The report says where each
language first produced a non-finite value: epoch, step, cell.
"""

from __future__ import annotations

import json
import sys
import warnings

import numpy as np
import pytest

from nnparity import paths, steps, traces
from nnparity.cases import load_case, write_case
from nnparity.compare import Comparison, describe_value, is_r_na
from nnparity.ports import PythonPort, RPort
from nnparity.report import NA_IS_NOT_NAN, as_json, story

python_impl = paths.python_impl()  # our Python port, python_impl/

sys.path.insert(0, str(paths.FIXTURES))
from generate import generated  # noqa: E402

EPOCHS = 6
R_NA = np.array([0x7FF00000000007A2], dtype=np.int64).view(np.float64)[
    0
]  # R's NA_real_, bit for bit


@pytest.fixture(scope="module")
def overflowing(tmp_path_factory):
    """200 samples and lr 1e308: the first wout update overflows to Inf, and 0 * Inf makes NaN
    after.
    """
    folder = tmp_path_factory.mktemp("cases") / "overflow"
    return load_case(
        write_case(
            generated(
                "overflow", 7, 200, 4, 3, 1, 1e308, EPOCHS, "lr so large that wout overflows"
            ),
            folder,
        )
    )


@pytest.fixture(scope="module")
def overflowing_trace(overflowing):
    c = overflowing
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return python_impl.train(*c.train_inputs(), EPOCHS, record=True)[
            "trace"
        ]


def test_the_overflowing_case_really_produces_inf_and_nan(overflowing_trace):
    assert np.isinf(overflowing_trace["wout"][0]).any(), (
        "wout should overflow in epoch 1; the case no longer tests overflow"
    )
    assert any(np.isnan(a).any() for a in overflowing_trace.values()), (
        "no NaN anywhere; the case no longer tests NaN"
    )


@pytest.mark.parametrize("mode", traces.MODES)
def test_inf_and_nan_in_the_same_cells_in_both_languages_is_parity(overflowing, r_available, mode):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        report = traces.run(overflowing, PythonPort(), RPort(), modes=(mode,)).reports[mode]
    assert report.passed, story(report)


def test_the_report_says_where_each_language_first_produced_inf(overflowing, r_available):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        run = traces.run(overflowing, PythonPort(), RPort(), modes=("free",))
    text = story(run.reports["free"])
    for language in ("Python", "R"):
        assert f"{language} first produced inf at epoch 1, step 10 (wout), cell [1, 1]" in text, (
            text
        )
    first = as_json(run)["modes"]["free"]["first_non_finite"]
    assert first["R"] == {
        "epoch": 1,
        "step": 10,
        "matrix": "wout",
        "row": 1,
        "col": 1,
        "value": "inf",
    }, first
    assert first["Python"] == first["R"]


def test_an_r_port_that_turns_nan_into_na_fails_and_says_na_is_not_nan(
    overflowing, r_available, port_copy
):
    nan_to_na = "    out <- d_output %*% t(wout)\n    out[is.nan(out)] <- NA\n    out\n"
    port = port_copy("r_impl", "steps.R", "    d_output %*% t(wout)\n", nan_to_na)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        report = traces.run(overflowing, PythonPort(), RPort(port), modes=("free",)).reports["free"]
    assert not report.passed, "NA where Python has NaN must fail parity"
    first = report.first_violation
    assert (
        first.name == "Error_at_hidden_layer"
        and describe_value(first.python) == "NaN"
        and describe_value(first.r) == "NA"
    ), story(report)
    assert NA_IS_NOT_NAN in story(report)


# --- the same rules on hand-made traces (no R needed) ----------------------------------------


@pytest.fixture(scope="module")
def trace(article):
    return python_impl.train(
        *article.train_inputs(),
        5,
        record=True,
    )["trace"]


def compare(case, a, b):
    comparison = Comparison(case, "free")
    comparison.add(a, b, len(a["output"]), case.state())
    return comparison.report()


def with_value(trace, name, epoch, row, col, value):
    copy = {k: v.copy() for k, v in trace.items()}
    copy[name][epoch - 1, row - 1, col - 1] = value
    return copy


def test_r_na_is_told_apart_from_nan():
    assert is_r_na(np.array([R_NA])).tolist() == [True]
    assert is_r_na(np.array([np.nan])).tolist() == [False]


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf, R_NA], ids=["NaN", "Inf", "-Inf", "NA"])
def test_the_same_non_finite_value_in_the_same_cell_is_parity(article, trace, value):
    a = with_value(trace, "output", 3, 2, 1, value)
    report = compare(article, a, {k: v.copy() for k, v in a.items()})
    assert report.passed, story(report)
    assert (
        report.non_finite["Python"].where()
        == report.non_finite["R"].where()
        == "epoch 3, step 4 (output), cell [2, 1]"
    )


@pytest.mark.parametrize(
    "python, r",
    [(np.nan, 0.5), (np.inf, np.nan), (np.inf, -np.inf), (np.nan, R_NA)],
    ids=["NaN-vs-number", "Inf-vs-NaN", "Inf-vs-minus-Inf", "NaN-vs-NA"],
)
def test_a_non_finite_value_on_one_side_only_fails_at_its_cell(article, trace, python, r):
    report = compare(
        article, with_value(trace, "E", 2, 3, 1, python), with_value(trace, "E", 2, 3, 1, r)
    )
    assert not report.passed
    first = report.first_violation
    assert first.where() == "epoch 2, step 5 (E), cell [3, 1]", story(report)
    assert (NA_IS_NOT_NAN in story(report)) == (is_r_na(np.array([r]))[0]), story(report)


def test_the_report_names_the_first_non_finite_cell_of_each_language_separately(article, trace):
    a = with_value(trace, "wh", 4, 1, 2, np.inf)
    b = with_value(with_value(trace, "E", 2, 1, 1, np.nan), "wh", 4, 1, 2, np.inf)
    report = compare(article, a, b)
    text = story(report)
    assert "Python first produced inf at epoch 4, step 10 (wh), cell [1, 2]" in text, text
    assert "R first produced NaN at epoch 2, step 5 (E), cell [1, 1]" in text, text


def test_only_one_language_producing_a_non_finite_value_is_said_so(article, trace):
    report = compare(article, trace, with_value(trace, "bh", 5, 1, 3, R_NA))
    assert (
        "Python produced none; R first produced NA at epoch 5, step 11 (bh), cell [1, 3]"
        in story(report)
    ), story(report)
    assert [s.name for s in report.stats if s.violations] == ["bh"]


def test_json_spells_a_value_that_is_not_a_number_as_first_non_finite_does():
    """first_violation said "nan" where first_non_finite said "NaN"."""
    from nnparity.cells import Cell
    from nnparity.report import _cell

    na = float(np.array([0x7FF00000000007A2], dtype=np.uint64).view(np.float64)[0])  # R's NA
    cell = Cell(3, "wout", 1, 1, float("nan"), na, float("inf"), float("inf"), 1e-12)
    shown = _cell(cell)
    assert (shown["python"], shown["r"], shown["abs_diff"]) == ("NaN", "NA", "inf"), shown
    assert describe_value(na) == "NA"
    assert json.loads(json.dumps(shown))["python"] == "NaN"


def returning(trace):
    """`trace` with what train() returned recorded as the ports' harness records it: the last
    epoch of each weight and the output."""
    out = {k: v.copy() for k, v in trace.items()}
    for plain in ("output", "wh", "bh", "wout", "bout"):
        out[f"returned_{plain}"] = trace[plain][-1:].copy()
    return out


PAIRS = pytest.mark.parametrize(
    "python, r, difference, ulps",
    [(0.5, np.nan, np.inf, np.inf), (0.5, R_NA, np.inf, np.inf), (np.nan, R_NA, np.inf, np.inf),
     (0.5, np.inf, np.inf, None)],
    ids=["number-vs-NaN", "number-vs-NA", "NaN-vs-NA", "number-vs-Inf"],
)


@PAIRS
def test_one_cell_has_one_difference_in_the_story_the_json_and_the_table(
    article, trace, python, r, difference, ulps
):
    """The first cell beyond the bound and the first difference born are the same cell here:
    its difference was inf in one and nan in the other, and NaN against NA was 0 ULP."""
    a, b = with_value(trace, "E", 2, 3, 1, python), with_value(trace, "E", 2, 3, 1, r)
    report = compare(article, a, b)
    first, born = report.first_violation, report.first_difference
    assert first.where() == born.where() == "epoch 2, step 5 (E), cell [3, 1]", story(report)
    said = {(c.abs_diff, c.ulps) for c in (first, born)}
    assert len(said) == 1, f"one cell, two differences: {said}"
    assert first.abs_diff == difference and (ulps is None or first.ulps == ulps), (
        f"{describe_value(python)} against {describe_value(r)}: difference {first.abs_diff}, "
        f"{first.ulps} ULP; expected {difference}, {ulps} ULP (docs/results-as-data.md)"
    )
    shown = as_json_modes(report)
    assert shown["first_violation"]["abs_diff"] == shown["first_difference"]["abs_diff"], shown
    e = next(s for s in report.stats if s.name == "E")
    assert (e.max_abs, e.max_ulp) == (first.abs_diff, first.ulps), "the table says otherwise"


@PAIRS
def test_what_train_returned_has_the_same_difference_as_a_step(
    article, trace, python, r, difference, ulps
):
    a, b = (returning(with_value(trace, "wout", 5, 1, 1, v)) for v in (python, r))
    report = compare(article, a, b)
    returned = next(c for c in report.once if c.name == "returned_wout").first_violation
    step = next(s for s in report.stats if s.name == "wout").first_violation
    values = [describe_value(v) for v in (returned.python, returned.r, step.python, step.r)]
    assert values[:2] == values[2:], story(report)
    assert (returned.abs_diff, returned.ulps) == (step.abs_diff, step.ulps), (
        f"train()'s returned value: difference {returned.abs_diff}, {returned.ulps} ULP; the "
        f"same two values in step 10: {step.abs_diff}, {step.ulps} ULP"
    )


def as_json_modes(report):
    """--json's entry of one mode, for a report made without a run."""
    from nnparity.report import _cell

    return {"first_violation": _cell(report.first_violation),
            "first_difference": _cell(report.first_difference)}


def test_plus_zero_against_minus_zero_is_told_equal_in_value_not_bitwise(article, trace):
    report = compare(article, with_value(trace, "E", 2, 1, 1, 0.0),
                     with_value(trace, "E", 2, 1, 1, -0.0))
    assert report.passed and report.first_difference is None, story(report)
    told = story(report)
    assert "bitwise equal" not in told, f"+0.0 against -0.0 is not bitwise equal:\n{told}"
    assert "equal in value" in told and "not bitwise: 1 cell holds +0.0 against -0.0" in told, told


def test_the_same_inf_returned_by_both_languages_is_no_difference(article, trace):
    """Across languages, train()'s returned value is compared under the bound; Inf - Inf is NaN,
    which no bound holds, yet the same Inf on both sides is no difference at all."""
    returned = trace | {name: trace[plain][-1:] for name, plain in steps.RETURNED.items()}
    both = with_value(with_value(returned, "output", 5, 1, 1, np.inf), "returned_output", 1, 1, 1,
                      np.inf)
    a, b = both, {k: v.copy() for k, v in both.items()}
    for name, epoch in (("output", 4), ("returned_output", 0)):  # 1 ULP apart: within the bound
        b[name][epoch, 1, 0] = np.nextafter(b[name][epoch, 1, 0], 1.0)
    report = compare(article, a, b)
    assert report.passed, f"+Inf against +Inf in returned_output is parity:\n{story(report)}"
