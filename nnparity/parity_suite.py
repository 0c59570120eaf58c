"""nnparity's parity suite for your ports, one test per case, mode and step.

Run it through the plugin (nnparity/pytest_plugin.py):

    pytest --r-impl my_r_port/ --python-impl my_port.py

``test_step[article-lockstep-11-bout]`` holds when, on the article case and in
lockstep mode, every cell of ``bout`` (step 11) at every epoch is within the
policy's bound of the other language's, and every epoch of it was compared.
The records a port makes once per call of train() have a test each too, named
by their step: ``0-X``, ``1-initial_wh``, ``12-returned_wh`` (nnparity/once.py
says what each must equal). The tests are ``steps.COMPARED``, the records
``nnparity run`` compares; a run that could not be completed fails all of them.
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
            for name in steps.COMPARED:
                params.append((case, mode, name))
                ids.append(f"{Path(case).name}-{mode}-{steps.step_of(name)}-{name}")
    metafunc.parametrize("nnparity_step", params, ids=ids)


def fail(message: str):
    pytest.fail(message, pytrace=False)


def test_step(nnparity_runs, nnparity_step):
    case_name, mode, name = nnparity_step
    outcome = nnparity_runs.outcome(case_name, mode)
    where = (f"{Path(case_name).name} ({mode}: {MODE_SAYS[mode]}), "
             f"step {steps.step_of(name)} ({name})")
    error = outcome.error if outcome.error is not None else outcome.report.error
    if error is not None:  # the port failed, or not every epoch was compared
        fail(f"{where} not compared: {error}")
    report, case = outcome.report, outcome.case
    found = [s for s in (*report.once, *report.stats) if s.name == name]
    if not found:
        fail(f"{where}: the ports recorded no {name}")
    s = found[0]
    per_epoch = name in steps.BY_NAME  # else once per call of train() (nnparity/once.py)
    if outcome.train_error and steps.step_of(name) == 12:  # what a train() that failed returned
        fail(f"{where} not checked: {outcome.train_error}")
    if s.problem:
        fail(f"{where}: {s.problem}")
    if s.not_computed and not per_epoch:  # not shown to hold: a failure, as for `nnparity run`
        fail(f"{where} not checked: {s.not_computed} (a port records it as "
             "r_impl/train.R's starting_point() does, for nnparity to check it)")
    if s.not_computed:  # lockstep lacked an input the Python trace should have given
        fail(f"{where} not compared: {s.not_computed}")
    if s.violations:
        first = s.first_violation
        if not per_epoch:  # checked against what the port was handed, recorded and returned
            fail(f"{where}: first cell beyond the bound: {first.where()}: {first.values()}")
        fail(f"{where}: {s.violations} of {s.cells} cells beyond the bound "
             f"({report.tolerance}); first at {first.where()}: {first.values()}")
    if per_epoch:
        expected = report.epochs * int(np.prod(steps.shape_of(name, *case.dims)))
        if s.cells != expected:
            fail(f"{where}: compared {s.cells} cells of {expected} ({report.epochs} epochs)")
