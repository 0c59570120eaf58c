"""The specification of the project: both ports compute the same thing, step by step, on every case."""

from __future__ import annotations

import numpy as np
import pytest

from nnparity import steps, traces
from nnparity.fingerprint import one_line
from nnparity.report import story


@pytest.mark.parametrize("mode", traces.MODES)
def test_every_step_of_every_epoch_matches_on_every_case(case, python_port, r_port, mode):
    run = traces.run(case, python_port, r_port, modes=(mode,))
    report = run.reports[mode]
    assert report.epochs == case.epochs, f"{case.name}: compared {report.epochs} epochs, the case has {case.epochs}"
    compared = {s.name: s.cells for s in report.stats}
    for name in steps.NAMES:
        expected = case.epochs * int(np.prod(steps.shape_of(name, *case.dims)))
        assert compared[name] == expected, f"{case.name}: {name} compared {compared[name]} cells, expected {expected}"
    assert report.passed, f"\n{story(report)}\nenvironment: {one_line()}"


def test_article_traces_are_bitwise_equal_for_the_first_six_epochs(article, python_port, r_port):
    """docs/design.md: the first difference is 1 ULP in output_layer_input at epoch 7, rounding."""
    report = traces.run(article, python_port, r_port, epochs=50, modes=("free",)).reports["free"]
    first = report.first_difference
    assert first is not None, "the article case stayed bitwise equal for 50 epochs; the BLAS in use changed?"
    assert (first.epoch, first.name, first.ulps) == (7, "output_layer_input", 1.0), first.origin()
    assert first.is_rounding, first.origin()
