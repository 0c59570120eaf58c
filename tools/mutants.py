"""Mutation self-check: does the suite catch real port mistakes, and name the right step?

The catalogue below lists small, realistic mistakes for each port, as one
textual replacement each (the original must occur exactly once in its file, so
the catalogue cannot go stale silently). For every mutant the runner copies the
port folder to a temporary directory, applies the replacement, runs both
comparisons (free-running and lockstep) on small cases for a few epochs, and
checks that parity fails AND that the first failure (earliest epoch, then the
article's step order, over both modes) is the catalogue's step.

    python -m tools.mutants     (tox -e mutants) prints the score;
                                exit 1 if any mutant survives or is misnamed
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich import box
from rich.console import Console
from rich.table import Table

from nnparity import traces, verdict
from nnparity.cases import Case, load_case
from nnparity.paths import PYTHON_IMPL, R_IMPL
from nnparity.port import PortError
from nnparity.ports import PythonPort, RPort

from .port_copy import NotExactlyOnce, copy_with

#: Epochs per run: every mutant below shows in epoch 1; 3 epochs also exercise
#: the weights carried from one epoch to the next.
EPOCHS = 3


@dataclass(frozen=True)
class Mutant:
    id: str
    language: str  # "Python" or "R": which port is mutated
    file: str  # inside the port folder
    original: str  # must occur exactly once in the file
    replacement: str
    step: str  # the matrix (steps.NAMES) the suite must name first
    mistake: str  # the mistake, in words
    cases: tuple[str, ...] = ("article", "square")


CATALOGUE: tuple[Mutant, ...] = (
    # Python port: python_impl/
    Mutant(
        "py-bh-axis",
        "Python",
        "steps.py",
        "np.sum(d_hiddenlayer, axis=0, keepdims=True)",
        "np.sum(d_hiddenlayer, axis=1, keepdims=True)",
        "bh",
        "hidden bias summed over the units (axis=1) instead of the samples",
    ),
    Mutant(
        "py-bout-axis",
        "Python",
        "steps.py",
        "np.sum(d_output, axis=0, keepdims=True)",
        "np.sum(d_output, axis=1, keepdims=True)",
        "bout",
        "output bias summed over the outputs (axis=1) instead of the samples",
    ),
    Mutant(
        "py-slope-preactivation",
        "Python",
        "train.py",
        "steps.slope_hidden_layer(hiddenlayer_activations)",
        "steps.slope_hidden_layer(hidden_layer_input)",
        "slope_hidden_layer",
        "derivatives_sigmoid taken of the layer input, not of the activation",
    ),
    Mutant(
        "py-transposed-wout",
        "Python",
        "steps.py",
        "d_output.dot(wout.T)",
        "d_output.dot(wout)",
        "Error_at_hidden_layer",
        "wout not transposed when the error goes back (numpy refuses it unless wout is square)",
        ("square",),
    ),
    Mutant(
        "py-lr-twice",
        "Python",
        "steps.py",
        "wh + X.T.dot(d_hiddenlayer) * lr",
        "wh + X.T.dot(d_hiddenlayer) * lr * lr",
        "wh",
        "learning rate applied twice in the hidden weight update",
    ),
    Mutant(
        "py-error-with-new-wout",
        "Python",
        "train.py",
        "steps.Error_at_hidden_layer(d_output, wout)",
        "steps.Error_at_hidden_layer("
        "d_output, steps.wout(wout, hiddenlayer_activations, d_output, lr))",
        "Error_at_hidden_layer",
        "update order swapped: the hidden error uses wout after its update",
    ),
    Mutant(
        "py-records-old-wout",
        "Python",
        "train.py",
        "wout=new_wout,",
        "wout=wout,",
        "wout",
        "returns (and records) wout from before the update, the previous epoch's value",
    ),
    Mutant(
        "py-E-sign",
        "Python",
        "steps.py",
        "return y - output",
        "return output - y",
        "E",
        "sign of the error flipped",
    ),
    Mutant(
        "py-no-hidden-bias",
        "Python",
        "steps.py",
        "return hidden_layer_input1 + bh",
        "return hidden_layer_input1",
        "hidden_layer_input",
        "hidden bias never added",
    ),
    Mutant(
        "py-sigmoid-sign",
        "Python",
        "activations.py",
        "1 / (1 + np.exp(-x))",
        "1 / (1 + np.exp(x))",
        "hiddenlayer_activations",
        "sigmoid with exp(x) for exp(-x)",
    ),
    Mutant(
        "py-output-from-input",
        "Python",
        "train.py",
        "steps.output_layer_input(hiddenlayer_activations, wout, bout)",
        "steps.output_layer_input(hidden_layer_input, wout, bout)",
        "output_layer_input",
        "output layer fed the hidden layer's input, not its activations",
    ),
    # R port: r_impl/
    Mutant(
        "r-bh-axis",
        "R",
        "steps.R",
        "bh + colSums(d_hiddenlayer) * lr",
        "bh + rowSums(d_hiddenlayer) * lr",
        "bh",
        "hidden bias summed per sample (rowSums), the article's own mistake",
    ),
    Mutant(
        "r-bout-axis",
        "R",
        "steps.R",
        "bout + colSums(d_output) * lr",
        "bout + rowSums(d_output) * lr",
        "bout",
        "output bias summed per sample (rowSums), the article's own mistake",
    ),
    Mutant(
        "r-slope-preactivation",
        "R",
        "train.R",
        "steps$slope_hidden_layer(hiddenlayer_activations)",
        "steps$slope_hidden_layer(hidden_layer_input)",
        "slope_hidden_layer",
        "derivatives_sigmoid taken of the layer input, not of the activation",
    ),
    Mutant(
        "r-transposed-wout",
        "R",
        "steps.R",
        "d_output %*% t(wout)",
        "d_output %*% wout",
        "Error_at_hidden_layer",
        "wout not transposed when the error goes back",
    ),
    Mutant(
        "r-lr-twice",
        "R",
        "steps.R",
        "wh + (t(X) %*% d_hiddenlayer) * lr",
        "wh + (t(X) %*% d_hiddenlayer) * lr * lr",
        "wh",
        "learning rate applied twice in the hidden weight update",
    ),
    Mutant(
        "r-error-with-new-wout",
        "R",
        "train.R",
        "steps$Error_at_hidden_layer(d_output, wout)",
        "steps$Error_at_hidden_layer("
        "d_output, steps$wout(wout, hiddenlayer_activations, d_output, lr))",
        "Error_at_hidden_layer",
        "update order swapped: the hidden error uses wout after its update",
    ),
    Mutant(
        "r-record-zero-based",
        "R",
        "train.R",
        "trace[[name]][i, , ] <- values[[name]]",
        "trace[[name]][i - 1, , ] <- values[[name]]",
        "hidden_layer_input",
        "recorded at i - 1 (a 0-based habit): R drops index 0, each epoch lands one slot early",
    ),
    Mutant(
        "r-E-sign",
        "R",
        "steps.R",
        "    y - output",
        "    output - y",
        "E",
        "sign of the error flipped",
    ),
    Mutant(
        "r-no-hidden-bias",
        "R",
        "steps.R",
        'sweep(hidden_layer_input1, 2, bh, "+")',
        "hidden_layer_input1",
        "hidden_layer_input",
        "hidden bias never added",
    ),
    Mutant(
        "r-bias-recycled",
        "R",
        "steps.R",
        'sweep(hidden_layer_input1, 2, bh, "+")',
        "hidden_layer_input1 + as.vector(bh)",
        "hidden_layer_input",
        "bias added as a vector: R recycles it down the columns, not across the rows",
    ),
    Mutant(
        "r-sigmoid-sign",
        "R",
        "activations.R",
        "1 / (1 + exp(-x))",
        "1 / (1 + exp(x))",
        "hiddenlayer_activations",
        "sigmoid with exp(x) for exp(-x)",
    ),
    Mutant(
        "r-output-from-input",
        "R",
        "train.R",
        "steps$output_layer_input(hiddenlayer_activations, wout, bout)",
        "steps$output_layer_input(hidden_layer_input, wout, bout)",
        "output_layer_input",
        "output layer fed the hidden layer's input, not its activations",
    ),
)

PORTS = {"Python": PYTHON_IMPL, "R": R_IMPL}


class StaleMutant(NotExactlyOnce):
    """A catalogue entry whose original text no longer occurs exactly once in its file."""


def square_case() -> Case:
    """5 samples, 3 features, 3 hidden units, 3 outputs: every weight matrix square, so a
    transposed one still runs.

    Its sample count (5) differs from every other dimension, so a sum over the
    wrong axis has the wrong length. Fixed seed; numbers as the article draws them (uniform).
    """
    rng = np.random.default_rng(20170526)
    return Case(
        name="square",
        X=rng.uniform(size=(5, 3)),
        y=rng.integers(0, 2, size=(5, 3)).astype(np.float64),
        wh=rng.uniform(size=(3, 3)),
        bh=rng.uniform(size=(1, 3)),
        wout=rng.uniform(size=(3, 3)),
        bout=rng.uniform(size=(1, 3)),
        lr=0.1,
        epochs=EPOCHS,
        description="mutation self-check: square weights",
    )


def mutant_case(name: str) -> Case:
    return square_case() if name == "square" else load_case(name)


def apply(mutant: Mutant, workdir: Path) -> Path:
    """A copy of the mutant's port folder in `workdir`, with the one replacement applied."""
    folder = Path(workdir) / f"{mutant.language.lower()}_{mutant.id}"
    try:
        return copy_with(
            PORTS[mutant.language], mutant.file, mutant.original, mutant.replacement, folder
        )
    except NotExactlyOnce as error:
        raise StaleMutant(f"{mutant.id}: {error}") from None


def first_failure(run: traces.Run) -> str | None:
    """The matrix of the earliest failure over both modes (see verdict.first_failure)."""
    first = verdict.first_failure(run.reports.values())
    return first.name if first else None


@dataclass
class Outcome:
    mutant: Mutant
    case: str
    caught: bool
    named: str | None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.caught and self.named == self.mutant.step


def check(mutant: Mutant, case_name: str, workdir: Path) -> Outcome:
    """Run the mutated port against the other (unmutated) one on one case."""
    folder = apply(mutant, Path(workdir) / case_name)
    python_port = PythonPort(folder if mutant.language == "Python" else None)
    r_port = RPort(folder if mutant.language == "R" else None)
    try:
        run = traces.run(mutant_case(case_name), python_port, r_port, epochs=EPOCHS)
    except PortError as error:  # the port crashed: caught, but no step named
        return Outcome(mutant, case_name, True, None, str(error).splitlines()[0])
    if run.passed:
        return Outcome(mutant, case_name, False, None, "parity held: the mutant survived")
    named = first_failure(run)
    return Outcome(mutant, case_name, True, named, f"first failure: {named}")


def run_catalogue(catalogue=CATALOGUE) -> list[Outcome]:
    with tempfile.TemporaryDirectory(prefix="nnparity-mutants-") as workdir:
        return [check(m, case, Path(workdir) / m.id) for m in catalogue for case in m.cases]


def score_table(outcomes: list[Outcome]) -> Table:
    """One row per mutant: the step it must be named at, what the cases said, the mistake."""
    table = Table(
        title="Mutation self-check: one row per mistake in one port",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.add_column("mutant", no_wrap=True)
    table.add_column("must name", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("mistake")
    for mutant in dict.fromkeys(o.mutant for o in outcomes):
        mine = [o for o in outcomes if o.mutant == mutant]
        if all(o.ok for o in mine):
            result = "[green]caught[/green]"
        else:
            result = "; ".join(
                f"[red]{'SURVIVED' if not o.caught else f'MISNAMED {o.named}'}[/red] ({o.case})"
                for o in mine
                if not o.ok
            )
        table.add_row(mutant.id, mutant.step, result, mutant.mistake)
    return table


def main() -> int:
    console = Console()
    # R's own error and warning text for each crashing mutant would bury the
    # score; the outcome keeps the first line of each error.
    from rpy2.rinterface_lib import callbacks

    callbacks.consolewrite_warnerror = lambda text: None
    try:
        outcomes = run_catalogue()
    except StaleMutant as error:
        console.print(f"[red]stale catalogue:[/red] {error}")
        return 2
    console.print(score_table(outcomes))
    mutants = {o.mutant.id for o in outcomes}
    good = {m for m in mutants if all(o.ok for o in outcomes if o.mutant.id == m)}
    per_language = {
        lang: (
            sum(1 for m in CATALOGUE if m.language == lang and m.id in good),
            sum(1 for m in CATALOGUE if m.language == lang),
        )
        for lang in PORTS
    }
    style = "bold green" if good == mutants else "bold red"
    details = ", ".join(f"{lang} {a}/{b}" for lang, (a, b) in per_language.items())
    console.print(
        f"mutation score: {len(good)}/{len(mutants)} mutants caught and named at the right step "
        f"({details})",
        style=style,
    )
    for o in outcomes:
        if not o.ok:
            console.print(
                f"  {o.mutant.id} on {o.case}: expected {o.mutant.step}; {o.detail}",
                highlight=False,
            )
    return 0 if good == mutants else 1


if __name__ == "__main__":
    sys.exit(main())
