"""The article's steps, defined once, as data: ``steps.csv`` next to this file.

Every other part of nnparity (the bridge, the comparison, the policy, the
reports, the explain command) reads this module, and r_impl's own tests
(r_tests/testthat) read the same file with ``read.csv``; neither port repeats
it. Both ports must record exactly the per-epoch names, in this order.

One row per matrix the article names. Columns:

    step       the article's step number (0: the case's data, 1: the starting
               weights, 2 ... 11: one epoch)
    name       the article's variable name, the same in both ports
    recorded   ``per_epoch``: recorded once per epoch (the keys of every
               trace); ``no``: given by the case, not recorded. ``once`` is
               the word for a quantity recorded once per run. A name may
               appear twice (wh is a starting weight and an update); the
               ``per_epoch`` row is the recorded one.
    formula    the article's formula, for reports and ``nnparity explain``
    inputs     the matrices (and ``lr``) its one line of code reads, separated
               by spaces. An input in ``STATE`` means "the value at the start
               of the epoch" (the weights before this epoch's update); any
               other input means "this epoch's value", except ``X``, ``y`` and
               ``lr``, which come from the case.
    rows, cols its shape in one epoch, in the case's dimensions: samples,
               features, hidden, outputs, or 1
    operation  ``sum`` (a matrix product or a column sum: its rounding depends
               on the order of the sum) or ``elementwise``
    terms      how many terms one cell of a sum adds, as a sum of dimensions
               and integers (``features + 1``: one product per feature, plus
               the bias); 1 for an elementwise step
    bias       TRUE for the biases (one row, whatever the dimensions)
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

#: The step list's file, read by Python (here) and by R (r_tests/testthat).
CSV = Path(__file__).with_name("steps.csv")

#: The case's dimensions, in the order of ``Case.dims``.
DIMENSIONS: tuple[str, ...] = ("samples", "features", "hidden", "outputs")


@dataclass(frozen=True)
class Quantity:
    step: int  # the article's step number (0 data, 1 init ... 11 bias update)
    name: str  # the article's variable name, the same in both ports
    formula: str  # the article's formula, for reports and `nnparity explain`
    inputs: tuple[str, ...]
    recorded: str = "per_epoch"  # "per_epoch", "once" or "no"
    rows: str = "1"  # in DIMENSIONS, or a number
    cols: str = "1"
    sums: bool = False  # a sum (matrix product, column sum) rather than elementwise
    terms: str = "1"  # terms one cell of a sum adds, as a sum of dimensions and integers
    bias: bool = False

    def shape(self, dims: dict[str, int]) -> tuple[int, int]:
        """Its shape in one epoch, for the case's dimensions (``{"samples": n, ...}``)."""
        return (count(self.rows, dims), count(self.cols, dims))

    def term_count(self, dims) -> int:
        """How many terms one cell adds (1 elementwise); ``dims[name]`` gives a dimension."""
        return count(self.terms, dims)


def count(expression: str, dims) -> int:
    """The value of a sum of dimension names and integers: ``"samples + 1"``."""
    total = 0
    for term in expression.split("+"):
        term = term.strip()
        total += int(term) if term.isdigit() else int(dims[term])
    return total


def _read(path: Path) -> tuple[Quantity, ...]:
    with path.open(newline="") as f:
        return tuple(
            Quantity(
                step=int(row["step"]), name=row["name"], formula=row["formula"],
                inputs=tuple(row["inputs"].split()), recorded=row["recorded"],
                rows=row["rows"], cols=row["cols"], sums=row["operation"] == "sum",
                terms=row["terms"], bias=row["bias"] == "TRUE",
            )
            for row in csv.DictReader(f)
        )


#: Every row of steps.csv, in its order.
ALL: tuple[Quantity, ...] = _read(CSV)

#: The matrices recorded once per epoch, in recording order.
QUANTITIES: tuple[Quantity, ...] = tuple(q for q in ALL if q.recorded == "per_epoch")

#: Step 1: what a case provides and what every epoch carries to the next.
STATE: tuple[str, ...] = tuple(q.name for q in ALL if q.step == 1)

#: Step 0: the case's constant inputs.
DATA: tuple[str, ...] = tuple(q.name for q in ALL if q.step == 0)

#: Recorded names in recording order: the keys of every trace.
NAMES: tuple[str, ...] = tuple(q.name for q in QUANTITIES)

BY_NAME: dict[str, Quantity] = {q.name: q for q in QUANTITIES}

#: Steps 0 and 1, recorded once per call of train() as arrays [1, rows, cols]:
#: the X and y a port reads and the weights and biases it starts from. Trace
#: key -> its row; a starting weight is recorded as initial_<name>, so as not
#: to clash with its updates, which keep the plain name.
def initial(name: str) -> str:
    """The trace key of a starting weight (step 1): ``initial_wh``."""
    return f"initial_{name}"


def returned(name: str) -> str:
    """The trace key of what train() returned for ``name``: ``returned_output``."""
    return f"returned_{name}"


ONCE: dict[str, Quantity] = {
    initial(q.name) if q.step == 1 else q.name: q for q in ALL if q.recorded == "once"
}

#: What train() returns (the final output and weights), kept by the harness
#: beside each chunk's trace as returned_<name>, arrays [1, rows, cols]: it
#: must equal the matrix of the chunk's last epoch bit for bit.
RETURNED: dict[str, str] = {returned(name): name for name in ("output", *STATE)}

#: The step number given to what train() returns: it comes after step 11.
RETURNED_STEP = 12

#: Every name's shape rule: the recorded quantities, then the case's data.
_SHAPES: dict[str, Quantity] = {
    **{q.name: q for q in ALL}, **BY_NAME, **ONCE,
    **{key: BY_NAME[name] for key, name in RETURNED.items()},
}

#: Every record a comparison checks, in report order: steps 0 and 1 (ONCE), one epoch's
#: matrices (NAMES), then what train() returned (RETURNED).
COMPARED: tuple[str, ...] = (*ONCE, *NAMES, *RETURNED)

_POSITION: dict[str, int] = {name: i - len(ONCE) for i, name in enumerate(COMPARED)}


def step_of(name: str) -> int:
    """The article's step number of a recorded name (RETURNED_STEP for what train() returns)."""
    if name in ONCE:
        return ONCE[name].step
    if name in RETURNED:
        return RETURNED_STEP
    return BY_NAME[name].step

#: The article's headings, for reports.
STEP_TITLES: dict[int, str] = {
    1: "initialise weights and biases",
    2: "hidden layer input",
    3: "hidden layer activations",
    4: "output layer input and output",
    5: "error at the output",
    6: "slopes of both layers",
    7: "delta at the output layer",
    8: "error at the hidden layer",
    9: "delta at the hidden layer",
    10: "update the weights",
    11: "update the biases",
}


def position(name: str) -> int:
    """Where a recorded name comes in one epoch (0 first): the order of every report."""
    return _POSITION[name]


def shape_of(name: str, n_samples: int, n_features: int, n_hidden: int,
             n_outputs: int) -> tuple[int, int]:
    """The shape one epoch of ``name`` must have, from the case's dimensions."""
    dims = dict(zip(DIMENSIONS, (n_samples, n_features, n_hidden, n_outputs), strict=True))
    return _SHAPES[name].shape(dims)
