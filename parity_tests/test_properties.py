"""Property: on ANY small network, both ports agree under the tolerance policy, free-running and in
lockstep.

The fixture cases are a handful of shapes; Hypothesis draws many more: 1 to 6
samples, 1 to 5 features, 1 to 5 hidden units, 1 to 3 outputs, weights and
inputs in [-3, 3], targets in [0, 1], lr in [0.001, 1], 1 to 30 epochs. The
settings (derandomized in CI) are registered in conftest.py.

When a property fails, Hypothesis shrinks the example, and the assertion
message carries it as a case folder (written with nnparity.cases.write_case):
its path, and every file's contents, so a user can save it under fixtures/
and replay it with `nnparity run --case PATH`.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from nnparity import cases, traces
from nnparity.paths import R_IMPL
from nnparity.ports import PythonPort, RPort
from nnparity.report import story

VALUES = st.floats(-3, 3, allow_nan=False, allow_subnormal=False)
TARGETS = st.floats(0, 1, allow_nan=False, allow_subnormal=False)


@st.composite
def small_cases(draw) -> cases.Case:
    n, features, hidden, outputs = (draw(st.integers(1, top)) for top in (6, 5, 5, 3))

    def matrix(rows, cols, elements=VALUES):
        return draw(hnp.arrays(np.float64, (rows, cols), elements=elements))

    return cases.Case(
        name="hypothesis",
        X=matrix(n, features),
        y=matrix(n, outputs, TARGETS),
        wh=matrix(features, hidden),
        bh=matrix(1, hidden),
        wout=matrix(hidden, outputs),
        bout=matrix(1, outputs),
        lr=draw(st.floats(0.001, 1)),
        epochs=draw(st.integers(1, 30)),
        description=(
            f"drawn by Hypothesis: {n} samples, {features} features, {hidden} hidden units, "
            f"{outputs} outputs"
        ),
        source="parity_tests/test_properties.py",
    )


def as_fixture(case: cases.Case) -> str:
    """The case as a folder on disk, and the text that lets a stranger recreate it."""
    folder = cases.write_case(case, Path(tempfile.mkdtemp(prefix="nnparity-hypothesis-")) / "case")
    files = "\n".join(f"--- {p.name}\n{p.read_text()}" for p in sorted(folder.iterdir()))
    return (
        f"the failing example, as a case folder: {folder}\n"
        f"(save it under fixtures/ and run `nnparity run --case {folder}`)\n{files}"
    )


def check_parity(case: cases.Case, python_port, r_port) -> None:
    run = traces.run(case, python_port, r_port, modes=traces.MODES)
    if not run.passed:
        stories = "\n".join(story(report) for report in run.reports.values())
        raise AssertionError(f"{stories}\n\n{as_fixture(case)}")


@pytest.fixture(scope="module")
def ports(r_available):
    return PythonPort(), RPort()


@given(case=small_cases())
def test_both_ports_agree_on_any_small_network(ports, case):
    check_parity(case, *ports)


def test_a_failing_example_is_printed_as_a_case_folder_that_loads_back(
    request, r_available, article
):
    """The message of a failure (here, the article's own R) must hold a case a user can save and
    replay.
    """
    with pytest.raises(AssertionError) as failure:
        check_parity(article, PythonPort(), RPort(R_IMPL / "variants" / "article"))
    message = str(failure.value)
    assert "PARITY FAILS" in message and "epoch 1, step 11 (bout)" in message, message
    folder = Path(message.split("as a case folder: ")[1].splitlines()[0])
    request.addfinalizer(lambda: shutil.rmtree(folder.parent, ignore_errors=True))
    saved = cases.load_case(folder)
    for name, matrix in article.matrices().items():
        assert np.array_equal(getattr(saved, name), matrix), (
            f"{name} does not read back bit for bit from {folder}"
        )
        assert f"--- {name}.csv\n{cases.format_matrix(matrix)}" in message, (
            f"the message does not show {name}.csv"
        )
    assert (saved.lr, saved.epochs) == (article.lr, article.epochs)
