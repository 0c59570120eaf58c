"""Mutation self-check: does the suite catch real port mistakes, and name the right step?

The catalogue below lists small, realistic mistakes for each port, as one
textual replacement each (the original must occur exactly once in its file, so
the catalogue cannot go stale silently). For every mutant the runner copies the
port folder to a temporary directory, applies the replacement, runs both
comparisons (free-running and lockstep) on small cases for a few epochs, and
checks that parity fails AND that the first failure (the first cause over
both modes, verdict.first_failure) is the catalogue's step. A mutant marked
``bites`` (an axis, transposition or recycling mistake) must fail by a wrong
value, not a crash or a shape, on each of its (at least two) cases. A mistake
that shows only late runs its own number of epochs (LATE_EPOCHS).

Then every faithful rewrite (tools/rewrites.py) runs on every case and must
hold parity: the suite must not cry wolf either.

    python -m tools.mutants     (tox -e mutants) prints the score and the rewrites
                                that pass; exit 1 if any mutant survives or is
                                misnamed, or any rewrite is flagged
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table

from nnparity import traces, verdict
from nnparity.cases import Case, load_case
from nnparity.cases import names as case_names
from nnparity.paths import PYTHON_IMPL, R_IMPL
from nnparity.port import PortError
from nnparity.ports import PythonPort, RPort

from . import rewrites
from .port_copy import NotExactlyOnce, copy_with

#: Epochs per run: most mutants below show in epoch 1; 3 epochs also exercise
#: the weights carried from one epoch to the next. A mistake that shows only
#: late runs longer (its own ``epochs``): layer inputs clipped at +-8 first
#: change a value on all_different at epoch 274 (hidden layer; the output layer
#: at 1243), where its layer inputs first grow past 8; LATE_EPOCHS covers that.
EPOCHS = 3
LATE_EPOCHS = 300


@dataclass(frozen=True)
class Mutant:
    id: str
    language: str  # "Python" or "R": which port is mutated
    file: str  # inside the port folder
    original: str  # must occur exactly once in the file
    replacement: str
    step: str  # the matrix (steps.NAMES) the suite must name first
    mistake: str  # the mistake, in words
    cases: tuple[str, ...] = ("article", "square")  # fixtures/ cases
    epochs: int = EPOCHS
    bites: bool = False  # must give a wrong value (not a crash or a shape) on every case


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
        ("square", "square_weights"),
        bites=True,
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
        ("article", "square"),
        bites=True,
    ),
    Mutant(
        "r-bout-axis",
        "R",
        "steps.R",
        "bout + colSums(d_output) * lr",
        "bout + rowSums(d_output) * lr",
        "bout",
        "output bias summed per sample (rowSums), the article's own mistake",
        ("square", "samples_as_features"),
        bites=True,
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
        ("square", "square_weights"),
        bites=True,
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
        "trace[[name]][[i]] <- values[[name]]",
        "trace[[name]][i - 1] <- list(values[[name]])",
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
        ("article", "square"),
        bites=True,
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
    # Mistakes where an axis, a transposition or R's recycling still computes: each must
    # give a wrong value (bites), not a crash, on two cases whose shapes let it run.
    Mutant(
        "py-wh-transposed-forward",
        "Python",
        "steps.py",
        "np.dot(X, wh)",
        "np.dot(X, wh.T)",
        "hidden_layer_input",
        "wh transposed in the forward pass (runs when features = hidden units)",
        ("square", "square_weights"),
        bites=True,
    ),
    Mutant(
        "py-wout-update-transposed",
        "Python",
        "steps.py",
        "hiddenlayer_activations.T.dot(d_output)",
        "d_output.T.dot(hiddenlayer_activations)",
        "wout",
        "wout's update transposed (runs when hidden units = outputs)",
        ("square", "square_weights"),
        bites=True,
    ),
    Mutant(
        "py-wh-update-untransposed",
        "Python",
        "steps.py",
        "X.T.dot(d_hiddenlayer)",
        "X.dot(d_hiddenlayer)",
        "wh",
        "X not transposed in wh's update (runs when samples = features)",
        ("square", "samples_as_features"),
        bites=True,
    ),
    Mutant(
        "py-bh-axis-flat",
        "Python",
        "steps.py",
        "np.sum(d_hiddenlayer, axis=0, keepdims=True)",
        "np.sum(d_hiddenlayer, axis=1)",
        "bh",
        "hidden bias summed per sample, as a flat vector numpy broadcasts (runs when samples = "
        "hidden units)",
        ("article", "square"),
        bites=True,
    ),
    Mutant(
        "py-bout-axis-flat",
        "Python",
        "steps.py",
        "np.sum(d_output, axis=0, keepdims=True)",
        "np.sum(d_output, axis=1)",
        "bout",
        "output bias summed per sample, as a flat vector (runs when samples = outputs)",
        ("square", "samples_as_features"),
        bites=True,
    ),
    Mutant(
        "r-sweep-margin",
        "R",
        "steps.R",
        'sweep(hidden_layer_input1, 2, bh, "+")',
        'sweep(hidden_layer_input1, 1, bh, "+")',
        "hidden_layer_input",
        "bias swept along the rows (MARGIN 1): one bias per sample (runs when samples = hidden "
        "units)",
        ("article", "square"),
        bites=True,
    ),
    Mutant(
        "r-bout-sum-all",
        "R",
        "steps.R",
        "bout + colSums(d_output) * lr",
        "bout + sum(d_output) * lr",
        "bout",
        "output bias moved by the sum over every output, recycled to each (several outputs)",
        ("two_outputs", "square"),
        bites=True,
    ),
    Mutant(
        "r-wh-transposed-forward",
        "R",
        "steps.R",
        "X %*% wh",
        "X %*% t(wh)",
        "hidden_layer_input",
        "wh transposed in the forward pass (runs when features = hidden units)",
        ("square", "square_weights"),
        bites=True,
    ),
    Mutant(
        "r-wout-update-transposed",
        "R",
        "steps.R",
        "t(hiddenlayer_activations) %*% d_output",
        "t(d_output) %*% hiddenlayer_activations",
        "wout",
        "wout's update transposed (runs when hidden units = outputs)",
        ("square", "square_weights"),
        bites=True,
    ),
    Mutant(
        "r-wh-update-untransposed",
        "R",
        "steps.R",
        "t(X) %*% d_hiddenlayer",
        "X %*% d_hiddenlayer",
        "wh",
        "X not transposed in wh's update (runs when samples = features)",
        ("square", "samples_as_features"),
        bites=True,
    ),
    # Mistakes in train(): what it reads (step 0), starts from (step 1) and returns.
    Mutant(
        "py-X-rescaled",
        "Python",
        "train.py",
        "    trace = starting_point(",
        "    X = X / np.abs(X).max()\n    trace = starting_point(",
        "X",
        "train() rescales X by its largest value before training (a no-op on binary X)",
        ("all_different", "square"),
    ),
    Mutant(
        "r-start-weights-15-digits",
        "R",
        "train.R",
        "  trace <- list()\n",
        "  wh <- signif(wh, 15)\n  bh <- signif(bh, 15)\n"
        "  wout <- signif(wout, 15)\n  bout <- signif(bout, 15)\n  trace <- list()\n",
        "initial_wh",
        "starting weights rounded to 15 significant digits (a trip through a 15-digit text file)",
        ("iris", "many_samples"),
    ),
    Mutant(
        "py-returns-fresh-output",
        "Python",
        "train.py",
        "    return dict(wh=wh, bh=bh, wout=wout, bout=bout, output=output, trace=trace)",
        "    hidden = steps.hiddenlayer_activations(steps.hidden_layer_input(X, wh, bh))\n"
        "    output = steps.output(steps.output_layer_input(hidden, wout, bout))\n"
        "    return dict(wh=wh, bh=bh, wout=wout, bout=bout, output=output, trace=trace)",
        "returned_output",
        "train() returns the output of a fresh forward pass with the updated weights",
        ("article", "iris"),
    ),
    Mutant(
        "py-returns-weights-behind",
        "Python",
        "train.py",
        "        values = one_epoch(X, y, wh, bh, wout, bout, lr)\n"
        '        wh, bh, wout, bout = values["wh"], values["bh"], values["wout"], values["bout"]\n',
        "        if i > 0:\n"
        '            wh, bh, wout, bout = '
        'values["wh"], values["bh"], values["wout"], values["bout"]\n'
        "        values = one_epoch(X, y, wh, bh, wout, bout, lr)\n",
        "returned_wh",
        "weights taken from the last epoch at the top of the loop: train() returns them one "
        "update behind",
        ("article", "square"),
    ),
    Mutant(
        "r-returns-weights-behind",
        "R",
        "train.R",
        "    values <- one_epoch(X, y, wh, bh, wout, bout, lr)\n    wh <- values$wh\n"
        "    bh <- values$bh\n    wout <- values$wout\n    bout <- values$bout\n",
        "    if (i > 1) {\n      wh <- values$wh\n      bh <- values$bh\n"
        "      wout <- values$wout\n      bout <- values$bout\n    }\n"
        "    values <- one_epoch(X, y, wh, bh, wout, bout, lr)\n",
        "returned_wh",
        "weights taken from the last epoch at the top of the loop: train() returns them one "
        "update behind",
        ("article", "square"),
    ),
    # Mistakes in the sigmoid's tails, and one that shows only late.
    Mutant(
        "py-output-clipped",
        "Python",
        "steps.py",
        "return sigmoid(output_layer_input)",
        "return np.clip(sigmoid(output_layer_input), 1e-7, 1 - 1e-7)",
        "output",
        "output clipped to [1e-7, 1 - 1e-7] (changes only outputs in the tails)",
        ("saturated",),
    ),
    Mutant(
        "r-output-clipped",
        "R",
        "steps.R",
        "    sigmoid(output_layer_input)\n",
        "    pmin(pmax(sigmoid(output_layer_input), 1e-7), 1 - 1e-7)\n",
        "output",
        "output clipped to [1e-7, 1 - 1e-7] (changes only outputs in the tails)",
        ("saturated",),
    ),
    Mutant(
        "py-inputs-clipped-late",
        "Python",
        "activations.py",
        "1 / (1 + np.exp(-x))",
        "1 / (1 + np.exp(-np.clip(x, -8, 8)))",
        "hiddenlayer_activations",
        "sigmoid's input clipped at +-8: shows only once a layer input grows past 8",
        ("all_different",),
        epochs=LATE_EPOCHS,
    ),
    Mutant(
        "r-inputs-clipped-late",
        "R",
        "activations.R",
        "1 / (1 + exp(-x))",
        "1 / (1 + exp(-pmin(pmax(x, -8), 8)))",
        "hiddenlayer_activations",
        "sigmoid's input clipped at +-8: shows only once a layer input grows past 8",
        ("all_different",),
        epochs=LATE_EPOCHS,
    ),
)

PORTS = {"Python": PYTHON_IMPL, "R": R_IMPL}


class StaleMutant(NotExactlyOnce):
    """A catalogue entry whose original text no longer occurs exactly once in its file."""


def mutant_case(name: str) -> Case:
    return load_case(name)


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

    value: bool = True  # caught by a wrong value (a cell), not a crash or a shape

    @property
    def ok(self) -> bool:
        named = self.caught and self.named == self.mutant.step
        return named and (self.value or not self.mutant.bites)


def check(mutant: Mutant, case_name: str, workdir: Path) -> Outcome:
    """Run the mutated port against the other (unmutated) one on one case."""
    folder = apply(mutant, Path(workdir) / case_name)
    python_port = PythonPort(folder if mutant.language == "Python" else None)
    r_port = RPort(folder if mutant.language == "R" else None)
    try:
        run = traces.run(mutant_case(case_name), python_port, r_port, epochs=mutant.epochs)
    except PortError as error:  # the port crashed: caught, but no step named
        return Outcome(mutant, case_name, True, None, str(error).splitlines()[0], value=False)
    if run.passed:
        return Outcome(mutant, case_name, False, None, "parity held: the mutant survived")
    first = verdict.first_failure(run.reports.values())
    named = first.name if first else None
    kind = f"first failure: {first.where()}" if first else "a port failed"
    value = first is not None and first.cell is not None
    return Outcome(mutant, case_name, True, named, kind if value or not mutant.bites
                   else f"{kind} (a crash or a shape, not a wrong value)", value=value)


def run_catalogue(catalogue=CATALOGUE) -> list[Outcome]:
    with tempfile.TemporaryDirectory(prefix="nnparity-mutants-") as workdir:
        return [check(m, case, Path(workdir) / m.id) for m in catalogue for case in m.cases]


def verdict_word(o: Outcome) -> str:
    """How a mutant that is not ok failed the self-check."""
    if not o.caught:
        return "SURVIVED"
    return f"MISNAMED {o.named}" if o.named != o.mutant.step else "NO VALUE"


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
                f"[red]{verdict_word(o)}"
                f"[/red] ({o.case})"
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
    flagged = faithful_rewrites(console)
    return 0 if good == mutants and not flagged else 1


def faithful_rewrites(console: Console) -> list[str]:
    """Every faithful rewrite (tools/rewrites.py) on every case: each must hold parity.
    Prints the ones that pass and the ones flagged; returns the flagged ones."""
    every = [load_case(name) for name in case_names()]
    flagged, passed = [], []
    with tempfile.TemporaryDirectory(prefix="nnparity-rewrites-") as workdir:
        for rewrite in rewrites.REWRITES:
            found = {c.name: rewrites.check(rewrite, c, Path(workdir)) for c in every}
            bad = {name: why for name, why in found.items() if why}
            (flagged if bad else passed).append(rewrite.id)
            for name, why in bad.items():
                console.print(f"  [red]FLAGGED[/red] {rewrite.id} on {name}: {why}",
                              highlight=False)
    style = "bold green" if not flagged else "bold red"
    console.print(
        f"faithful rewrites that hold parity on all {len(every)} cases "
        f"({rewrites.EPOCHS} epochs each at most): {len(passed)}/{len(rewrites.REWRITES)}",
        style=style,
    )
    console.print("  " + ", ".join(passed), highlight=False)
    return flagged


if __name__ == "__main__":
    sys.exit(main())
