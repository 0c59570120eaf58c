"""docs/errata.md's evidence is what nnparity prints: each example is run here and its
verdict line must be the one the page shows."""

from __future__ import annotations

import pytest

from nnparity import paths
from nnparity.cli import main

ERRATA = paths.BASE / "docs" / "errata.md"


@pytest.mark.parametrize(
    "option, folder, file, old, new, args, verdict",
    [
        pytest.param(
            "--python-impl", "python_impl", "train.py",
            "steps.bh(bh, d_hiddenlayer, lr)", "steps.bh(bh, d_output, lr)", [],
            "PARITY FAILS: article, free, lockstep. First: epoch 1, step 11 (bh), cell [1, 1].",
            id="6-hidden-bias-from-the-output-delta",
        ),
        pytest.param(
            "--r-impl", "r_impl", "train.R",
            "    hiddenlayer_activations = hiddenlayer_activations,",
            "    hidden_layer_activations = hiddenlayer_activations,", ["--mode", "free"],
            "PARITY FAILS: article, free. First: epoch 1, step 3 (hiddenlayer_activations): "
            "the R trace does not record this matrix.",
            id="8-the-other-name",
        ),
    ],
)
def test_an_errata_example_prints_the_verdict_the_page_shows(
    capsys, port_copy, r_available, option, folder, file, old, new, args, verdict
):
    assert f"    {verdict}\n" in ERRATA.read_text(), f"docs/errata.md no longer shows {verdict!r}"
    port = port_copy(folder, file, old, new)
    code = main(["run", option, str(port), "--epochs", "5", *args])
    out = capsys.readouterr().out
    assert code == 1, out
    assert verdict in out.splitlines(), out
