"""No faithful rewrite is flagged: the tolerance policy tells a port error from a rewrite.

Each rewrite in tools/rewrites.py (sigmoid through tanh or logaddexp or
plogis, the slope as x - x**2, crossprod, @, einsum, sweep written another
way) computes what the article computes, up to rounding. Parity must hold with
it in both modes, on the cases that stress rounding most: outputs in the
sigmoid's tails (saturated), every matrix square (square), a long run whose
layer inputs grow large (all_different) and real, non-binary data (iris).
`tox -e mutants` runs every rewrite on every case at full length.
"""

from __future__ import annotations

import pytest

from nnparity import cases, traces
from nnparity.ports import PythonPort, RPort
from nnparity.report import story
from tools.rewrites import REWRITES

#: The cases and the epochs each runs here (a rewrite's rounding shows in every epoch).
STRESS = {"saturated": None, "square": None, "all_different": 600, "iris": 300}


@pytest.mark.parametrize("rewrite", REWRITES, ids=lambda r: r.id)
def test_a_faithful_rewrite_holds_parity_in_both_modes(r_available, port_copy, rewrite):
    folder = "python_impl" if rewrite.language == "Python" else "r_impl"
    port = port_copy(folder, rewrite.file, rewrite.original, rewrite.replacement)
    python_port = PythonPort(port if rewrite.language == "Python" else None)
    r_port = RPort(port if rewrite.language == "R" else None)
    for name, epochs in STRESS.items():
        run = traces.run(cases.load_case(name), python_port, r_port, epochs=epochs)
        failed = "\n".join(story(report) for report in run.reports.values() if not report.passed)
        assert run.passed, (
            f"{rewrite.id} ({rewrite.why}) is flagged on {name}, "
            f"but it is a faithful rewrite:\n{failed}"
        )
