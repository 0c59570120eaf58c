"""Faithful rewrites: changes a careful engineer would accept, which parity must NOT flag.

The twin of the mutation catalogue (tools/mutants.py): each entry rewrites one
line of one port into a form that computes the same thing up to rounding
(sigmoid as tanh(x/2)/2 + 1/2, the slope as x - x**2, ``crossprod``, ``@``,
``einsum``, ``sweep`` written another way). A tolerance so tight that it flags
one of these would make the suite cry wolf; parity_tests/test_rewrites.py runs
them on the cases that stress them, and ``tox -e mutants`` on every case at
full length, printing the ones that pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Rewrite:
    id: str
    language: str  # "Python" or "R": which port is rewritten
    file: str  # inside the port folder
    original: str  # must occur exactly once in the file
    replacement: str
    why: str  # why it is the same computation


REWRITES: tuple[Rewrite, ...] = (
    # Python port: python_impl/
    Rewrite(
        "py-sigmoid-tanh",
        "Python",
        "activations.py",
        "1 / (1 + np.exp(-x))",
        "np.tanh(x / 2) / 2 + 0.5",
        "sigmoid(x) = 1/2 + tanh(x/2)/2",
    ),
    Rewrite(
        "py-sigmoid-logaddexp",
        "Python",
        "activations.py",
        "1 / (1 + np.exp(-x))",
        "np.exp(-np.logaddexp(0, -x))",
        "1/(1 + e^-x) = exp(-log(1 + e^-x)), the overflow-free form",
    ),
    Rewrite(
        "py-slope-expanded",
        "Python",
        "activations.py",
        "return x * (1 - x)",
        "return x - x**2",
        "x(1 - x) = x - x^2",
    ),
    Rewrite(
        "py-matmul-operator", "Python", "steps.py", "np.dot(X, wh)", "X @ wh", "@ is np.matmul"
    ),
    Rewrite(
        "py-matmul-error",
        "Python",
        "steps.py",
        "d_output.dot(wout.T)",
        "d_output @ wout.T",
        "@ is np.matmul",
    ),
    Rewrite(
        "py-einsum-output",
        "Python",
        "steps.py",
        "np.dot(hiddenlayer_activations, wout)",
        'np.einsum("ij,jk->ik", hiddenlayer_activations, wout)',
        "a matrix product, summed by einsum",
    ),
    Rewrite(
        "py-einsum-wh-update",
        "Python",
        "steps.py",
        "X.T.dot(d_hiddenlayer)",
        'np.einsum("ji,jk->ik", X, d_hiddenlayer)',
        "X^T d_hiddenlayer, summed by einsum",
    ),
    Rewrite(
        "py-bias-sum-method",
        "Python",
        "steps.py",
        "np.sum(d_hiddenlayer, axis=0, keepdims=True)",
        "d_hiddenlayer.sum(axis=0)",
        "the same column sums; numpy broadcasts the vector over bh's one row",
    ),
    Rewrite(
        "py-lr-first",
        "Python",
        "steps.py",
        "hiddenlayer_activations.T.dot(d_output) * lr",
        "lr * hiddenlayer_activations.T.dot(d_output)",
        "multiplication commutes",
    ),
    Rewrite(
        "py-E-negated",
        "Python",
        "steps.py",
        "return y - output",
        "return -(output - y)",
        "y - o = -(o - y), exactly",
    ),
    # R port: r_impl/
    Rewrite(
        "r-sigmoid-plogis",
        "R",
        "activations.R",
        "1 / (1 + exp(-x))",
        "plogis(x)",
        "plogis is R's logistic function",
    ),
    Rewrite(
        "r-sigmoid-tanh",
        "R",
        "activations.R",
        "1 / (1 + exp(-x))",
        "tanh(x / 2) / 2 + 0.5",
        "sigmoid(x) = 1/2 + tanh(x/2)/2",
    ),
    Rewrite(
        "r-slope-expanded", "R", "activations.R", "  x * (1 - x)", "  x - x^2", "x(1 - x) = x - x^2"
    ),
    Rewrite(
        "r-crossprod-wout",
        "R",
        "steps.R",
        "t(hiddenlayer_activations) %*% d_output",
        "crossprod(hiddenlayer_activations, d_output)",
        "crossprod(a, b) is t(a) %*% b",
    ),
    Rewrite(
        "r-crossprod-wh",
        "R",
        "steps.R",
        "t(X) %*% d_hiddenlayer",
        "crossprod(X, d_hiddenlayer)",
        "crossprod(a, b) is t(a) %*% b",
    ),
    Rewrite(
        "r-tcrossprod-error",
        "R",
        "steps.R",
        "d_output %*% t(wout)",
        "tcrossprod(d_output, wout)",
        "tcrossprod(a, b) is a %*% t(b)",
    ),
    Rewrite(
        "r-bias-rep-each",
        "R",
        "steps.R",
        'sweep(hidden_layer_input1, 2, bh, "+")',
        "hidden_layer_input1 + rep(bh, each = nrow(hidden_layer_input1))",
        "the bias repeated down each column, then added",
    ),
    Rewrite(
        "r-bias-matrix-byrow",
        "R",
        "steps.R",
        'sweep(output_layer_input1, 2, bout, "+")',
        "output_layer_input1 + matrix(bout, nrow(output_layer_input1), length(bout), byrow = TRUE)",
        "the bias laid out once per row, then added",
    ),
    Rewrite(
        "r-bias-double-transpose",
        "R",
        "steps.R",
        'sweep(hidden_layer_input1, 2, bh, "+")',
        "t(t(hidden_layer_input1) + as.vector(bh))",
        "transposed, the bias recycles down each column: one unit per row",
    ),
    Rewrite(
        "r-colsums-apply",
        "R",
        "steps.R",
        "colSums(d_output)",
        "apply(d_output, 2, sum)",
        "column sums, one sum() per column",
    ),
    Rewrite(
        "r-E-negated",
        "R",
        "steps.R",
        "    y - output",
        "    -(output - y)",
        "y - o = -(o - y), exactly",
    ),
)


#: Epochs per case when ``tox -e mutants`` runs every rewrite on every case: a
#: rewrite's rounding shows in every epoch, and the free-running drift it adds
#: grows slowly (parity_tests/test_rewrites.py runs the stress cases longer).
EPOCHS = 200


def check(rewrite: Rewrite, case, workdir: Path, epochs: int | None = EPOCHS) -> str | None:
    """Run one rewrite against the other, unmodified, port on one case: None when parity
    holds, else the first failure (or the port's error)."""
    from nnparity import traces, verdict
    from nnparity.paths import PYTHON_IMPL, R_IMPL
    from nnparity.port import PortError
    from nnparity.ports import PythonPort, RPort

    from .port_copy import copy_with

    ours = PYTHON_IMPL if rewrite.language == "Python" else R_IMPL
    folder = copy_with(ours, rewrite.file, rewrite.original, rewrite.replacement,
                       Path(workdir) / f"{rewrite.id}-{case.name}")
    python_port = PythonPort(folder if rewrite.language == "Python" else None)
    r_port = RPort(folder if rewrite.language == "R" else None)
    try:
        run = traces.run(case, python_port, r_port, epochs=min(epochs or case.epochs, case.epochs))
    except PortError as error:
        return str(error).splitlines()[0]
    if run.passed:
        return None
    first = verdict.first_failure(run.reports.values())
    return first.where() if first else "a port failed"
