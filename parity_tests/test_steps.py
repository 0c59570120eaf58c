"""The step list is data (nnparity/steps.csv): what Python derives from it is what it says."""

from __future__ import annotations

import csv

import pytest

from nnparity import paths, policy, steps


def rows() -> list[dict[str, str]]:
    with steps.CSV.open(newline="") as f:
        return list(csv.DictReader(f))


def test_the_recorded_names_are_the_per_epoch_rows_of_steps_csv_in_file_order():
    per_epoch = [r["name"] for r in rows() if r["recorded"] == "per_epoch"]
    assert steps.NAMES == tuple(per_epoch)
    assert steps.STATE == ("wh", "bh", "wout", "bout")
    assert steps.DATA == ("X", "y")


def test_every_input_is_a_recorded_matrix_the_case_data_or_lr():
    known = set(steps.NAMES) | set(steps.DATA) | set(steps.STATE) | {"lr"}
    for q in steps.QUANTITIES:
        unknown = set(q.inputs) - known
        assert not unknown, f"{q.name} reads {unknown}, which nothing provides"
        assert q.name in q.formula, f"{q.name}'s formula does not name it: {q.formula}"


def test_the_biases_are_exactly_bh_and_bout_one_row_each():
    assert {q.name for q in steps.QUANTITIES if q.bias} == {"bh", "bout"}
    assert all(q.rows == "1" for q in steps.ALL if q.bias)


def test_every_step_that_sums_has_a_magnitude_rule_and_no_other_step_does():
    assert set(policy.SUM_MAGNITUDES) == policy.SUMMING
    assert policy.SUMMING == {q.name for q in steps.QUANTITIES if q.sums}


@pytest.mark.parametrize("case_name", ["article", "many_features", "two_outputs"])
def test_the_shapes_of_steps_csv_are_the_shapes_the_python_port_records(case_name):
    from nnparity.cases import load_case

    case = load_case(case_name)
    trace = paths.python_impl().train(
        *case.train_inputs(), 2, record=True
    )["trace"]
    for name in steps.NAMES:
        assert trace[name].shape[1:] == steps.shape_of(name, *case.dims), name
    for name in steps.DATA + steps.STATE:
        assert getattr(case, name).shape == steps.shape_of(name, *case.dims), name


def test_terms_count_the_products_of_a_cell_plus_what_they_are_added_to(article):
    # The article: 3 samples, 4 features, 3 hidden units, 1 output.
    def get(name):
        return {"X": article.X, "wout": article.wout[None]}[name]

    counts = {name: policy.terms(name, get) for name in steps.NAMES}
    assert counts == {
        "hidden_layer_input": 5,
        "output_layer_input": 4,
        "Error_at_hidden_layer": 1,
        "wout": 4,
        "wh": 4,
        "bout": 4,
        "bh": 4,
        **{name: 1 for name in steps.NAMES if name not in policy.SUMMING},
    }


def test_a_terms_formula_is_a_sum_of_dimensions_and_integers():
    assert steps.count("samples + 1", {"samples": 2000}) == 2001
    assert steps.count("outputs", {"outputs": 3}) == 3
    assert steps.count("1", {}) == 1
    with pytest.raises(KeyError):
        steps.count("neurons + 1", {"samples": 2})
