"""Both ports reproduce every number the article prints in its one-epoch spreadsheet."""

from __future__ import annotations

import pandas as pd
import pytest

from nnparity.paths import FIXTURES

WALKTHROUGH = pd.read_csv(FIXTURES / "article" / "walkthrough-epoch1.csv")


@pytest.fixture(scope="module")
def epoch_one(article):
    from nnparity.ports import PythonPort, RPort

    produced = {}
    for port in (PythonPort(), RPort()):
        port.start(article)
        produced[port.language] = port.advance(1)
    return produced


@pytest.mark.parametrize("language", ["Python", "R"])
@pytest.mark.parametrize(
    "row",
    list(WALKTHROUGH.itertuples(index=False)),
    ids=lambda r: f"step{r.step}-{r.matrix}[{r.row},{r.col}]",
)
def test_port_reproduces_the_printed_number_to_one_unit_in_its_last_digit(
    article, epoch_one, language, row
):
    if row.step == 1:
        value = getattr(article, row.matrix)[row.row - 1, row.col - 1]
    else:
        value = epoch_one[language][row.matrix][0, row.row - 1, row.col - 1]
    unit = 10.0**-row.decimals
    # The article printed numbers made from unrounded weights; from the printed
    # weights each is reproduced within one unit of its last printed digit.
    assert abs(value - row.printed) <= unit * (1 + 1e-9), (
        f"{language} step {row.step} {row.matrix}[{row.row},{row.col}] = {value:.6f}, "
        f"the article prints {row.printed:.{row.decimals}f}"
    )
