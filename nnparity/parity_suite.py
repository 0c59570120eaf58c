"""nnparity's parity suite for your ports, one test per case, mode and step.

Run it through the plugin (nnparity/pytest_plugin.py):

    pytest --r-impl my_r_port/ --python-impl my_port.py

``test_step[article-lockstep-11-bout]`` holds when, on the article case and in
lockstep mode, every cell of ``bout`` (step 11) at every epoch is within the
policy's bound of the other language's, and every epoch of it was compared.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nnparity import steps
from nnparity.pytest_plugin import cases_asked, modes_asked

MODE_SAYS = {
    "free": "each language trained on its own from the same start",
    "lockstep": "R recomputed each step from Python's inputs of that step",
}


def pytest_generate_tests(metafunc) -> None:
    if "nnparity_step" not in metafunc.fixturenames:
        return
    params, ids = [], []
    for case in cases_asked(metafunc.config):
        for mode in modes_asked(metafunc.config):
            for q in steps.QUANTITIES:
                params.append((case, mode, q.name))
                ids.append(f"{Path(case).name}-{mode}-{q.step}-{q.name}")
    metafunc.parametrize("nnparity_step", params, ids=ids)


def test_step(nnparity_runs, nnparity_step):
    case_name, mode, name = nnparity_step
    outcome = nnparity_runs.outcome(case_name, mode)
    where = f"{Path(case_name).name} ({mode}: {MODE_SAYS[mode]}), step {steps.BY_NAME[name].step}"
    if outcome.error is not None:
        pytest.fail(f"{where} ({name}) not compared: {outcome.error}", pytrace=False)
    report, case = outcome.report, outcome.case
    if report.error is not None:
        pytest.fail(f"{where} ({name}) not compared: {report.error}", pytrace=False)
    found = [s for s in report.stats if s.name == name]
    if not found:
        pytest.fail(f"{where} ({name}): the ports recorded no {name}", pytrace=False)
    s = found[0]
    if s.problem:
        pytest.fail(f"{where} ({name}): {s.problem}", pytrace=False)
    if s.not_computed:  # lockstep lacked an input the Python trace should have given
        pytest.fail(f"{where} ({name}) not compared: {s.not_computed}", pytrace=False)
    if s.violations:
        first = s.first_violation
        pytest.fail(
            f"{where} ({name}): {s.violations} of {s.cells} cells beyond the bound "
            f"({report.tolerance}); first at {first.where()}: {first.values()}",
            pytrace=False,
        )
    expected = report.epochs * int(np.prod(steps.shape_of(name, *case.dims)))
    if s.cells != expected:
        pytest.fail(f"{where} ({name}): compared {s.cells} cells of {expected} "
                    f"({report.epochs} epochs)", pytrace=False)
