"""A learner's script, run as written, as a port.

People who read the article type its code into a script: top-level code, the
article's names, random initial weights, one ``for`` loop over the epochs.
``PythonScript`` and ``RScript`` run such a script unmodified on disk and
present it as a port (nnparity/port.py: ``start``, ``advance``, ``language``,
``path``, the capability flags):

- the training loop is found in the script's parse tree (Python's ``ast``;
  R's own ``parse()``, in nnparity/r/script.R): the ``for`` loop whose body
  assigns most of the article's matrices;
- just before it, the case's X, y, weights, biases and lr are assigned under
  the script's names (its random initialisation runs, then is overridden),
  and the loop is made to run the case's number of epochs;
- at the end of each pass of the body, every article matrix the body assigns
  is recorded; a matrix it never assigns comes back as ``NotComputed``;
- when the loop ends the script stops: what follows prints or plots.

A script cannot be stopped and resumed between chunks of epochs: ``advance``
runs the whole loop once, for every epoch, and a second call is refused.
There are no step functions to drive, so a script is compared free-running
only (``can_lockstep`` is false).

The article's own spellings are known (``KNOWN_SPELLINGS``); others map with
``--names their_name=article_name``.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import gc
import io
import itertools
import os
import re
import sys
import traceback
import warnings
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path

import numpy as np

from . import cases, steps
from .command import BadInput
from .compare import NotComputed
from .paths import R_HARNESS_DIR
from .port import Port, PortError

SCRIPT_R = R_HARNESS_DIR / "script.R"

#: Names the article's listings use for what nnparity calls otherwise: the R
#: listing's Y and hidden_layer_activations, both listings' epoch.
KNOWN_SPELLINGS: dict[str, str] = {
    "Y": "y",
    "hidden_layer_activations": "hiddenlayer_activations",
    "epoch": "epochs",
    "learning_rate": "lr",  # as its formulas write it (steps 10 and 11)
}

#: What the case provides, assigned just before the loop under the script's names.
INPUTS: tuple[str, ...] = (*steps.DATA, *steps.STATE, "lr")

#: Every name --names may map to.
ARTICLE_NAMES: tuple[str, ...] = tuple(dict.fromkeys((*steps.NAMES, *INPUTS, "epochs")))

#: How to get the lockstep check for a script (the story prints it; --mode lockstep says it).
TO_LOCKSTEP = (
    "For the lockstep check, turn the loop body into steps (one function per matrix, as "
    "python_impl/steps.py and r_impl/steps.R) and a train() that calls them, and run it with "
    "--python-impl / --r-impl"
)
FREE_ONLY = (
    "{which} free-running only: a script has no step functions, so nnparity cannot hand "
    "one step the other language's inputs. " + TO_LOCKSTEP
)

PYTHON2_PRINT = "Missing parentheses in call to 'print'"
#: What `%%` and `**` in a loop body probably are (the article's page lost `%*%`'s `*`).
DAMAGE = (
    "the article's web page lost the * of %*% (its R reads X%%wh and d_output**t(wout)); "
    "a matrix product is %*% in R, and this loop has"
)
#: How the article writes each of the case's inputs, for a refusal of the script's own kind.
AS_THE_ARTICLE = {
    "Python": {
        "X": "X = np.array([[1, 0, 1, 0], [1, 0, 1, 1], [0, 1, 0, 1]])",
        "y": "y = np.array([[1], [1], [0]])",
        "wh": "wh = np.random.uniform(size=(inputlayer_neurons, hiddenlayer_neurons))",
        "bh": "bh = np.random.uniform(size=(1, hiddenlayer_neurons))",
        "wout": "wout = np.random.uniform(size=(hiddenlayer_neurons, output_neurons))",
        "bout": "bout = np.random.uniform(size=(1, output_neurons))",
    },
    "R": {
        "X": "X = matrix(c(1, 0, 1, 0, 1, 0, 1, 1, 0, 1, 0, 1), nrow = 3, byrow = TRUE) "
        "(or as.matrix() of yours)",
        "y": "Y = matrix(c(1, 1, 0), byrow = FALSE)",
        "wh": "wh = matrix(rnorm(inputlayer_neurons * hiddenlayer_neurons), "
        "inputlayer_neurons, hiddenlayer_neurons)",
        "bh": "bh = matrix(rep(runif(hiddenlayer_neurons), each = nrow(X)), nrow = nrow(X))",
        "wout": "wout = matrix(rnorm(hiddenlayer_neurons * output_neurons), "
        "hiddenlayer_neurons, output_neurons)",
        "bout": "bout = matrix(rep(runif(output_neurons), nrow(X)), nrow = nrow(X))",
    },
}
#: What each matrix of cases.FITS takes part in, in each language's article (in the script's
#: names, the matrices its shapes break).
FIT_OPERATIONS = {
    "Python": {
        "wh": "np.dot(X, wh)",
        "bh": "np.dot(X, wh) + bh",
        "wout": "np.dot(hiddenlayer_activations, wout)",
        "bout": "np.dot(hiddenlayer_activations, wout) + bout",
        "y": "y - output",
    },
    "R": {
        "wh": "X %*% wh",
        "bh": "X %*% wh + bh",
        "wout": "hidden_layer_activations %*% wout",
        "bout": "hidden_layer_activations %*% wout + bout",
        "y": "y - output",
    },
}
MISSING_FILE_R = re.compile(r"cannot open file '([^']*)': No such file or directory")


class ScriptRefused(BadInput):
    """A script nnparity cannot run up to its training loop: bad input, exit code 2."""


def parse_names(pairs: list[str] | None) -> dict[str, str]:
    """``["W1=wh", ...]`` -> ``{"W1": "wh"}``, checked against the article's names."""
    found: dict[str, str] = {}
    given: dict[str, str] = {}  # article name -> the pair that mapped it
    for pair in pairs or []:
        theirs, sep, article = (part.strip() for part in pair.partition("="))
        if not sep or not theirs or not article:
            raise BadInput(f"--names {pair}: expected their_name=article_name, e.g. W1=wh")
        article = KNOWN_SPELLINGS.get(article, article)  # the article's own: epoch, Y, ...
        if article not in ARTICLE_NAMES:
            raise BadInput(
                f"--names {pair}: {article} is not one of the article's names "
                f"({', '.join(ARTICLE_NAMES)}; or its spellings {', '.join(KNOWN_SPELLINGS)})"
            )
        if theirs in found and found[theirs] != article:
            raise BadInput(
                f"--names {pair}: {theirs} is already mapped to {found[theirs]}: a name of the "
                "script's stands for one of the article's"
            )
        if article in given and found.get(theirs) != article:
            raise BadInput(
                f"--names {given[article]} and --names {pair} both name {article}: nnparity "
                f"would put the case's {article} in one and leave the other as the script has "
                "it; give one"
            )
        given[article] = pair
        found[theirs] = article
    return found


def spellings(names: dict[str, str] | None) -> dict[str, str]:
    """The article's known spellings, then the user's (which win)."""
    return {**KNOWN_SPELLINGS, **(names or {})}


def case_inputs(case) -> dict[str, np.ndarray | float]:
    return {"X": case.X, "y": case.y, **case.state(), "lr": float(case.lr)}


def _same_numbers(a, b) -> bool:
    """Whether two values hold the same numbers in the same order (any type or layout)."""
    try:
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return a.size == b.size and np.array_equal(a.ravel(), b.ravel(), equal_nan=True)


def _is_data_frame(value) -> bool:
    """A pandas DataFrame (pandas is imported only by a script that uses it)."""
    kind = type(value)
    return kind.__name__ == "DataFrame" and kind.__module__.split(".")[0] == "pandas"


def python_kind(own, case_value: np.ndarray, in_place: bool) -> str | None:
    """How a script's own value differs from the case's array where it changes what the
    script computes (None when it computes the same: numbers, lists numpy converts, integers,
    a 1-D array or a number where the case's has one row, since numpy broadcasts it as a row).
    `in_place`: the loop updates it with `+=`, which keeps its type."""
    if own is None:
        return None
    if isinstance(own, np.matrix):
        return "a numpy matrix (where * is a matrix product, not the article's elementwise one)"
    if isinstance(own, (int, float, np.integer, np.floating)) and not isinstance(own, np.ndarray):
        array = np.asarray(float(own))  # a number: += makes a new one, of the sum's type
    elif isinstance(own, (list, tuple)):
        kind = type(own).__name__
        if in_place:
            return f"a {kind} (its += appends, where the article's array adds)"
        try:
            array = np.asarray(own)
        except ValueError:
            return f"a ragged {kind} of lists"
        if array.dtype.kind not in "biuf":
            return f"a {kind} of {array.dtype} items"
    elif isinstance(own, np.ndarray):
        array = own
    else:
        return f"a {type(own).__module__.split('.')[0]} {type(own).__name__}"
    if array.dtype.kind not in "biuf":
        return f"an array of {array.dtype}"
    if array.dtype.kind == "f" and array.dtype != np.float64:
        return f"a {array.dtype} array (it computes in another precision than the case's float64)"
    if array.dtype.kind in "biu" and in_place:
        return f"an {array.dtype} array (its += cannot hold the float update)"
    if array.ndim > 2:
        return f"a {array.ndim}-D array"
    if array.ndim < 2 and case_value.shape[0] != 1:
        # numpy broadcasts a 1-D array as a row: a column (y) or a matrix (X, wh) it is not
        return "a number" if array.ndim == 0 else f"a 1-D array of {array.size}"
    return None


class _Script(Port):
    """What both languages share: the case, one run, the trace as a port returns it."""

    # can_lockstep stays False (Port's): no step functions, free-running only
    can_chunk = False  # the loop runs once, for every epoch: advance is called once

    def __init__(self, path: Path | str, names: dict[str, str] | None = None):
        super().__init__(path)
        self.names = spellings(names)
        if self.path.is_dir():
            raise ScriptRefused(f"{self.path}: is a folder, not a script file")
        if not self.path.is_file():
            raise ScriptRefused(f"{self.path}: no such file")
        self.case = None
        self.state = None
        self.ran = False
        self.given: dict[str, np.ndarray] = {}  # X, y, weights as given to the loop (steps 0, 1)
        self.notes: list[str] = []  # what the story says of the run (the script's own lr...)
        #: names the script sets before its loop from another name (W2 = wout): name -> source
        self.aliases: dict[str, str] = {}

    def start(self, case) -> None:
        self.case = case
        self.state = {k: np.array(v, dtype=np.float64) for k, v in case.state().items()}
        self.ran = False

    def advance(self, epochs: int, record: bool = True) -> dict[str, np.ndarray]:
        if self.case is None:
            raise PortError(f"{self.path}: start(case) must come before advance")
        if self.ran:
            raise PortError(
                f"{self.path}: a script runs its training loop once, for every epoch: it cannot "
                "be advanced a second time (start it again to rerun it)"
            )
        self.ran = True
        trace = self._run(int(epochs))
        for name in steps.STATE:
            if isinstance(trace.get(name), np.ndarray):
                self.state[name] = trace[name][-1]
        if not record:
            return {"output": trace["output"][-1]} if "output" in trace else {}
        recorded = {
            name: trace.get(name, NotComputed(self.describe(), "its loop never assigns it"))
            for name in steps.NAMES
        }
        return {**self._once(), **recorded, **self._returned(trace)}

    def _once(self) -> dict[str, np.ndarray]:
        """Steps 0 and 1 as the ports record them ([1, rows, cols]): what the loop started
        from, as it was given to the script."""
        once = getattr(steps, "ONCE", {})
        return {key: self.given[q.name][None] for key, q in once.items() if q.name in self.given}

    def _returned(self, trace: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """What the ports' train() returns, for a script: what its variables hold when the
        loop ends, the last epoch of each matrix."""
        returned = getattr(steps, "RETURNED", {})
        return {key: trace[name][-1:] for key, name in returned.items() if name in trace}

    def weights(self) -> dict[str, np.ndarray]:
        """The weights and biases the next epoch would start from (the case's before advance)."""
        return dict(self.state or {})

    def describe(self) -> str:
        return f"the {self.language} script {self.path.name}"

    def other_language_hint(self) -> str:
        """For a script that does not parse: when its name says it is the other language's."""
        other = {"Python": (".r", "--r-script"), "R": (".py", "--python-script")}[self.language]
        if self.path.suffix.lower() != other[0]:
            return ""
        return f" (a {self.path.suffix} file: is it for {other[1]}?)"

    def where(self, line: int | None) -> str:
        return f"{self.path}:{line}" if line else str(self.path)

    def stopped(self, phase: str, line: int | None, error: str, epoch: int) -> Exception:
        """The script's error as nnparity's: exit 2 before the loop, 1 inside it."""
        if phase == "inside":
            return PortError(
                f"{self.where(line)}: the script stopped inside its training loop at epoch "
                f"{epoch}: {error}"
            )
        return ScriptRefused(
            f"{self.where(line)}: the script stopped before its training loop: {error}"
        )

    def mismatch(self, target: str, name: str, kind: str, shape) -> ScriptRefused:
        """The script's own value of a name the case replaces is of another kind: as written,
        the script computes something else than with the case's (exit 2)."""
        line = self.loop_line()
        what = "float array" if self.language == "Python" else "matrix"
        return ScriptRefused(
            f"{self.where(line)}: {target} is {kind}, where the case's {name} is a "
            f"{' x '.join(map(str, shape))} {what}: put in its place, the case's would not "
            "compute what the script computes as written, so nnparity cannot check it; write "
            f"it as the article does: {AS_THE_ARTICLE[self.language][name]}"
        )

    def unnamed(self, missing: list[str], carried: list[str],
                untrained: list[str] = ()) -> ScriptRefused:
        """The script never assigns some of the case's inputs (its weights), or its loop never
        updates them (`untrained`: set before it, then left alone): the case's had nowhere to
        go, or could not train, and the loop ran from the script's own random values; its loop
        carries `carried` under names not the article's, which --names would map."""
        state = [name for name in steps.STATE if name in (*missing, *untrained)]
        copies = {c: self.aliases[c] for c in carried if self.aliases.get(c) in state}
        if copies:  # the script set them from the weights (W2 = wout): paired as it says
            pairs, hint = list(copies.items()), ""
        elif len(carried) == len(state):
            pairs = list(zip(carried, state, strict=True))
            hint = " (paired in the order the script sets them: check)" if len(pairs) > 1 else ""
        else:
            pairs, hint = [(carried[0], state[0])], ""
        them = "it" if len(pairs) == 1 else "them"
        said = []
        if missing:
            said.append(f"the script never assigns {', '.join(missing)}, so the case's could not "
                        "replace its own")
        if untrained:
            said.append(f"its loop never updates {', '.join(untrained)}, where the case's go")
        return ScriptRefused(
            f"{self.where(self.loop_line())}: {'; '.join(said)} (its random weights would "
            f"train, not the case's); its loop updates {', '.join(carried)}, not the article's "
            f"names: name {them} with {' '.join(f'--names {t}={a}' for t, a in pairs)}{hint}"
        )

    def misfit(self, shapes: dict[str, tuple], theirs: dict[str, str]) -> ScriptRefused | None:
        """The refusal of a script whose own matrices (`shapes`, by article name; `theirs`: the
        script's names) do not fit together (cases.FITS, a bias per sample allowed): as
        written, it stops, or computes something else than the article's network; the case's,
        which fit, would be checked in their place, not the script. None when they fit."""
        broken = cases.misfit(shapes, per_sample=True)
        if broken is None:
            return None
        name, _, other, _ = broken
        words = re.compile(rf"\b({'|'.join(theirs)})\b") if theirs else None

        def spelt(text: str) -> str:  # in the script's names
            return words.sub(lambda m: theirs[m.group(1)], text) if words else text

        def shown(key: str) -> str:
            return " x ".join(map(str, shapes[key]))

        operation = FIT_OPERATIONS[self.language][name]

        def at(key: str) -> int:  # where the operation reads it (y's reads no X, no wout)
            found = re.search(rf"\b{key}\b", operation)
            return found.start() if found else len(operation)

        first, then = sorted((name, other), key=at)
        why = ""
        if name == "y":
            rows = shapes["X"][0] if "X" in shapes else "?"
            cols = shapes["wout"][1] if "wout" in shapes else "?"
            why = f" as the article's (output is {rows} x {cols}: a row per row of X, a column "
            why += "per column of wout)"
        elif other == "X":  # a bias's rows
            why = f" as the article's ({name} has 1 row, or one per row of X)"
        elif name in ("bh", "bout"):
            why = " as the article's"
        return ScriptRefused(
            f"{self.where(self.loop_line())}: as written, {spelt(first)} is {shown(first)} and "
            f"{spelt(then)} {shown(then)}: {spelt(operation)} cannot be computed{spelt(why)}; "
            "the case's matrices, which fit, would be checked in their place, not the script "
            "as written: make the script's own fit together"
        )

    def loop_line(self) -> int | None:
        return None

    def missing_file(self, line: int | None, name: str | None, error: str = "") -> ScriptRefused:
        what = (
            f"reads {name}, which is not there"
            if name
            else f"needs a file that is not there ({error})"
        )
        return ScriptRefused(
            f"{self.where(line)}: the script {what} (relative paths "
            f"are read from {Path.cwd()}): put the file there, or run nnparity from the "
            "folder the script expects"
        )

    def _run(self, epochs: int) -> dict[str, np.ndarray]:
        raise NotImplementedError


# ---- Python: ast ------------------------------------------------------------------------------


class _LoopDone(BaseException):
    """Raised when the training loop ends: the rest of the script does not run."""


class _Unnamed(BaseException):
    """The script never assigns some of the case's inputs, and its loop carries values under
    names not the article's (args: the article names, the script's names)."""


class _Misfit(BaseException):
    """The script's own X, y, weights and biases do not fit together as the article's network
    (args: article name -> shape, article name -> the script's name)."""


class _PerSample(BaseException):
    """The training loop runs over the samples, not the epochs (args: the refusal's words)."""


class _Refused(BaseException):
    """The script changed X or y before its loop (args: the article's name, the script's)."""


class _Skipped(BaseException):
    """A pass ended at a `continue` before assigning some matrices (args: the failure's words)."""


class _Derived(BaseException):
    """The loop reads, in place of X or y, a copy of other values (args: the refusal's words)."""


class _RanOut(BaseException):
    """The loop's own sequence ran out before the case's epochs (args: the refusal's words)."""


class _Shared(BaseException):
    """Two of the script's weights are one array as written (args: the refusal's words)."""


class _Mismatch(BaseException):
    """The script's own value of a name the case replaces is of another kind (args: target,
    name, kind, shape); no `except` of the script's catches it."""


def _target_names(target: ast.AST) -> list[str]:
    """The variables an assignment target binds: x, x[0], x.attr, (a, b)."""
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [n for element in target.elts for n in _target_names(element)]
    if isinstance(target, ast.Starred):
        return _target_names(target.value)
    if isinstance(target, (ast.Subscript, ast.Attribute)):
        return _target_names(target.value)
    return []


def _assignments(node: ast.AST):
    """Every assignment under a node (function and class bodies excluded), with its names."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(child, ast.Assign):
            yield child, [n for t in child.targets for n in _target_names(t)]
        elif isinstance(child, (ast.AugAssign, ast.AnnAssign)):
            yield child, _target_names(child.target)
        elif isinstance(child, ast.NamedExpr):
            yield child, _target_names(child.target)
        yield from _assignments(child)


def _loops(tree: ast.AST, depth: int = 0):
    """Every loop with its depth (loops inside loops are deeper)."""
    for child in ast.iter_child_nodes(tree):
        if isinstance(child, (ast.For, ast.While, ast.AsyncFor)):
            yield child, depth
            yield from _loops(child, depth + 1)
        else:
            yield from _loops(child, depth)


def _function_locals(tree: ast.Module, loop: ast.For) -> set[str] | None:
    """The local names of the function the loop is in (None when it is at module level)."""
    inside = None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if any(child is loop for child in ast.walk(node)):
                inside = node  # ast.walk goes outside in: the last match is the innermost
    if inside is None:
        return None
    arguments = inside.args
    every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
    every += [a for a in (arguments.vararg, arguments.kwarg) if a is not None]
    declared = {
        n
        for node in ast.walk(inside)
        if isinstance(node, (ast.Global, ast.Nonlocal))
        for n in node.names
    }
    assigned = {n for _, names in _assignments(inside) for n in names}
    return ({a.arg for a in every} | assigned) - declared


class _Rewrite(ast.NodeTransformer):
    """The training loop becomes: the case's inputs assigned, the loop over the case's
    epochs with a record at the end of every pass, then a stop."""

    def __init__(self, loop: ast.For, targets: dict[str, list[str]], local: set[str] | None,
                 recorded: dict[str, str] | None = None):
        self.loop = loop
        self.targets = targets
        self.local = local  # inside a function: the names local to it; None at module level
        self.recorded = recorded or {}  # article name -> the script's name the loop assigns

    def visit_For(self, node: ast.For):
        self.generic_visit(node)
        if node is not self.loop:
            return node
        lookup = "locals(), globals()"
        inject = []
        for name, targets in self.targets.items():
            for target in targets:
                # A global read inside a function stays global: assigning it there
                # would make it local to the whole function.
                bound = (
                    target
                    if self.local is None or target in self.local
                    else f"globals()[{target!r}]"
                )
                inject.append(f"{bound} = __nnparity__.value({name!r}, {target!r}, {lookup})")
        enter = f"__nnparity__.enter({lookup})"
        statements = [enter, *inject, "__nnparity__.fits()"]
        before = [ast.parse(line).body[0] for line in statements]
        # the loop's own range as written, evaluated once where the loop would (a walrus in it
        # binds there): its errors are the script's, its length a note, or per-sample training
        written = ast.parse(f"__nnparity__.written(None, {lookup})").body[0]
        written.value.args[0] = node.iter
        before.insert(0, written)
        record = ast.parse(f"__nnparity__.record({lookup})").body[0]
        node.iter = ast.parse("__nnparity__.passes()", mode="eval").body
        # a pass that ends at a `continue` (one skipping a printout) is recorded there
        def at_continue(line: int) -> ast.stmt:
            return ast.parse(f"__nnparity__.record({lookup}, at={line})").body[0]

        node.body = [*_before_continue(self._tracked(node.body), at_continue), record]
        done = ast.parse("__nnparity__.done()").body[0]
        made = [*before, node, done]
        for statement in made:
            ast.copy_location(statement, node)
            ast.fix_missing_locations(statement)
        return made


    def _tracked(self, statements: list[ast.stmt]) -> list[ast.stmt]:
        """The statements (and those of the blocks inside them: if, with, try, inner loops),
        with the hooks told around each: before one that assigns a weight, ``update()``;
        after one that assigns a step's matrix, ``assigned(name, value)`` (_Hooks.record
        takes each matrix as the pass computed it for its updates)."""
        theirs = {script: name for name, script in self.recorded.items()}
        out = []
        for statement in statements:
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                out.append(statement)
                continue
            for field in ("body", "orelse", "finalbody"):
                block = getattr(statement, field, None)
                if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                    setattr(statement, field, self._tracked(block))
            for handler in getattr(statement, "handlers", None) or []:
                handler.body = self._tracked(handler.body)
            if isinstance(statement, ast.Assign):
                direct = [n for t in statement.targets for n in _target_names(t)]
            elif isinstance(statement, (ast.AugAssign, ast.AnnAssign)):
                direct = _target_names(statement.target)
            else:
                direct = []
            updates = any(theirs.get(n) in steps.STATE for n in _statement_assigns(statement))
            if updates:
                out.append(self._hook("__nnparity__.update(locals(), globals())", statement))
            out.append(statement)
            for script in dict.fromkeys(direct):
                name = theirs.get(script)
                if name is not None and name not in steps.STATE:
                    out.append(self._hook(f"__nnparity__.assigned({name!r}, {script})", statement))
        return out

    @staticmethod
    def _hook(code: str, where: ast.stmt) -> ast.stmt:
        hook = ast.parse(code).body[0]
        ast.copy_location(hook, where)
        ast.fix_missing_locations(hook)
        return hook


def _before_continue(statements: list[ast.stmt], hook) -> list[ast.stmt]:
    """The statements with `hook(line)` run before each `continue` of the loop they are the
    body of: in its if, with and try blocks, not in an inner loop's (its `continue` is that
    loop's) nor in a function or class defined there."""
    out = []
    for statement in statements:
        if isinstance(statement, ast.Continue):
            out.append(ast.copy_location(hook(statement.lineno), statement))
        elif isinstance(statement, (ast.For, ast.AsyncFor, ast.While)):
            if statement.orelse:  # an inner loop's else block is this loop's
                statement.orelse = _before_continue(statement.orelse, hook)
        elif not isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for field in ("body", "orelse", "finalbody"):
                block = getattr(statement, field, None)
                if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                    setattr(statement, field, _before_continue(block, hook))
            for handler in getattr(statement, "handlers", None) or []:
                handler.body = _before_continue(handler.body, hook)
            for case in getattr(statement, "cases", None) or []:  # match
                case.body = _before_continue(case.body, hook)
        out.append(statement)
    return out


def _aliases(statements: list[ast.stmt], names: dict[str, str]) -> dict[str, str]:
    """Names set from another name (W1 = wh; W1, b1 = wh, bh; W1 = wh.copy()): name -> the
    article's name of its source."""
    found = {}
    for statement in statements:
        if not (isinstance(statement, ast.Assign) and len(statement.targets) == 1):
            continue
        target, value = statement.targets[0], statement.value
        pairs = (list(zip(target.elts, value.elts, strict=True)) if isinstance(target, ast.Tuple)
                 and isinstance(value, ast.Tuple) and len(target.elts) == len(value.elts)
                 else [(target, value)])
        for t, v in pairs:
            if isinstance(v, ast.Call) and isinstance(v.func, ast.Attribute) and not v.args:
                v = v.func.value  # wh.copy()
            if isinstance(t, ast.Name) and isinstance(v, ast.Name):
                found[t.id] = names.get(v.id, v.id)
    return found


def _statement_assigns(statement: ast.stmt) -> list[str]:
    """The names a statement assigns, itself or anywhere inside it (not in functions)."""
    return [n for _, names in _assignments(ast.Module([statement], [])) for n in names]


class _Hooks:
    """What the rewritten script calls: the case's values in, each pass's matrices out."""

    def __init__(
        self,
        inputs: dict,
        epochs: int,
        recorded: dict[str, str],
        names: dict[str, str],
        in_place: set[str] = frozenset(),
        carried: tuple[str, ...] = (),
    ):
        self.inputs = inputs
        self.carried = carried  # the script's names the loop assigns (its weights, if unnamed)
        self.in_place = in_place  # the script's names the loop updates with +=
        self.epochs = epochs
        self.recorded = dict(recorded)  # article name -> script name (enter adds weights)
        self.names = names
        self.phase = "before"
        self.count = 0
        self.trace: dict[str, list[np.ndarray]] = {name: [] for name in recorded}
        # The case's matrices whose shape differs from the script's own (for an error).
        self.resized: list[str] = []
        self.given: dict[str, np.ndarray] = {}  # what the loop starts from, in the script's layout
        self.notes: list[str] = []  # the script's own lr and epochs, which the case's replaced
        self.written_count: int | None = None  # the passes the loop makes as written
        self.own_counter: tuple[int, int] | None = None  # its first value and step (_counting)
        self.own_values = None  # its sequence, when it is no such range (passes())
        self.loop_text = ""  # `for ... in ...` as written (a refusal quotes it)
        self.over_data = False  # its range reads X or y
        self.nested = False  # it runs inside another loop
        # this pass's step matrices as it computed its updates from them (assigned())
        self.early: dict[str, np.ndarray] = {}
        self.holder: dict[int, str] = {}  # id of an object -> the step whose name last took it
        self.first_data: dict[str, np.ndarray] = {}  # X or y as first set (first())
        self.derived: dict[str, tuple[str, str]] = {}  # PythonScript.derived
        self.updating = False  # a weight's update has come in this pass
        #: The names the loop's body reads (a learning rate under another name is among them),
        #: and those its statements updating a weight read.
        self.loop_reads: set[str] = set()
        self.update_reads: set[str] = set()
        self.function_reads: set[str] = set()  # names the script's own functions read
        #: the loop body's plain assignments: (name, line, text, whether it reads that name)
        self.loop_sets: list[tuple[str, int, str, bool]] = []
        #: The script's own values as the loop would have started from them (enter): article
        #: name -> (the script's name, its value); the case's replace them.
        self.own: dict[str, tuple[str, object]] = {}

    def written(self, value, *scopes) -> None:
        """The loop's own range as written, evaluated as Python would before the first pass:
        what it raises is the script's error before its loop (a NameError for range(epochs),
        range(5e3)'s TypeError). A range over the samples (as long as the script's X has rows,
        read from X or y, or inside another loop; or an unsized one read from them: zip(X, y))
        is per-sample training (_PerSample). Then, if sized, a note of its passes."""
        iter(value)  # `for i in 5000:` fails here as written
        try:
            count = len(value)
        except Exception:  # not a sized range
            count = None
        self.own_counter = _counting(value) if count else None
        self.own_values = None if self.own_counter else value
        own_x = self._own("X", scopes)
        rows = np.shape(own_x[1])[0] if own_x is not None and np.ndim(own_x[1]) >= 1 else None
        passes = count
        if count is None and rows is not None and (self.over_data or self.nested):
            # zip(X, y), an iterator: its passes counted up to one more than X's rows (the
            # loop runs the case's epochs instead; an endless one is not run to its end)
            taken = list(itertools.islice(value, rows + 1))
            passes = len(taken)
            self.own_values = itertools.chain(taken, value)
        if passes is not None and passes == rows and (self.over_data or self.nested):
            raise _PerSample(per_sample(self.loop_text, passes))
        if self.over_data and passes is not None and rows is not None and passes < rows:
            # range(0, X.shape[0], 2), np.array_split(np.arange(len(X)), 2): fewer passes
            # than samples, read from them (range(len(X) * 1000) counts epochs)
            raise _PerSample(per_sample(self.loop_text, passes, rows))
        if count is None:
            return
        self.written_count = count
        if count != self.epochs:
            self.notes.append(f"loop runs {count} epochs as written; nnparity ran {self.epochs}")

    def passes(self) -> Iterable:
        """The values the loop's counter takes over the case's epochs, as the script's own
        sequence gives them: a range counting as the script's does (range(1, epoch + 1) from
        1, by its step); any other sequence's own values (enumerate(range(epoch)), tqdm's),
        continued by its last step where it runs out before the case's epochs."""
        if self.own_values is not None:
            return _continued(self.own_values, self.epochs, self.loop_text)
        first, step = self.own_counter or (0, 1)
        return range(first, first + step * self.epochs, step)

    def first(self, name: str, *scopes) -> None:
        """X or y as the script first sets it (it sets it again before its loop)."""
        found = self._own(name, scopes)
        try:
            self.first_data[name] = np.array(found[1], dtype=np.float64)
        except (TypeError, ValueError, IndexError):  # not numbers (yet): nothing to compare
            pass

    def enter(self, *scopes) -> None:
        """The loop is reached: its own values are kept before the case's replace them."""
        self.phase = "inside"
        for name in INPUTS:
            found = self._own(name, scopes)
            if found is not None:
                self.own[name] = found
        self._refuse_changed_data()
        self._refuse_shared_weights()
        missing = [name for name in INPUTS if name != "lr" and name not in self.own]
        # set before the loop, and never assigned in it: the case's would not train there
        untrained = [name for name in steps.STATE if name in self.own and name not in
                     self.recorded]
        if any(name in steps.STATE for name in missing) or untrained:
            # what the loop carries from epoch to epoch under names not the article's: arrays
            # the script set before the loop (in the order it did) and the loop assigns again
            carried = {
                n: v
                for scope in reversed(scopes)
                for n, v in scope.items()
                if n in self.carried and isinstance(v, np.ndarray) and v.dtype.kind in "biuf"
            }
            if not any(name in steps.STATE for name in missing):
                # weights set and left alone (updated by a helper, say): only arrays of their
                # shapes stand for them (not a history of losses the loop fills)
                shapes = {np.shape(self.own[name][1]) for name in untrained}
                carried = {n: v for n, v in carried.items() if np.shape(v) in shapes}
            if carried:
                raise _Unnamed(missing, list(carried), untrained)
        # A weight or bias the loop updates without assigning its name (np.add(wh, g, out=wh),
        # a helper adding in place) is recorded too, at each pass's end, under the name the
        # case's value was put in: its update is compared, never left out as "not computed"
        # (with one epoch, a wrong update had then held parity).
        for name in steps.STATE:
            if name not in self.recorded and name in self.own:
                self.recorded[name] = self.own[name][0]
                self.trace[name] = []

    def _refuse_shared_weights(self) -> None:
        """Two weights or biases that are one array as written (bh = bout = np.zeros(...)):
        each update moves both, which the article's network does not do, and the case's two
        arrays put in their place would hide it."""
        arrays = [(script, own) for name, (script, own) in self.own.items()
                  if name in steps.STATE and isinstance(own, np.ndarray)]
        for i, (script, own) in enumerate(arrays):
            for other_script, other_own in arrays[i + 1:]:
                if np.shares_memory(own, other_own):
                    raise _Shared(
                        f"as written, {script} and {other_script} are one array (or parts of "
                        "one): each update of one moves the other, which the article's network "
                        f"does not; nnparity would put two arrays of the case's in their place, "
                        f"so the run would not check the script as written: give {script} and "
                        f"{other_script} arrays of their own"
                    )

    def fits(self) -> None:
        """After the case's values are in place (their kinds checked): the script's own
        matrices must fit together, as the script as written computes with them."""
        shapes, theirs = {}, {}
        for name, (script_name, own) in self.own.items():
            if name == "lr" or not isinstance(own, (np.ndarray, list, tuple)):
                continue  # a number broadcasts to any shape
            try:
                shape = np.shape(own)
            except ValueError:  # a ragged list: its kind was refused
                continue
            if len(shape) in (1, 2):
                shapes[name] = shape if len(shape) == 2 else (1, shape[0])  # numpy's row
                theirs[name] = script_name
        if cases.misfit(shapes, per_sample=True) is not None:
            raise _Misfit(shapes, theirs)

    def _refuse_changed_data(self) -> None:
        """X or y whose values the script changed before its loop (standardised, labels
        smoothed): the case's, put in just before the loop, would take the changed values'
        place, and the check train on other inputs than the script's. A new layout (a
        transposition, a selection of rows, a column made of a vector) and a new type of the
        same numbers (np.array of a list, astype(float)) change no value: not refused."""
        for name, first in self.first_data.items():
            if name not in self.own:
                continue
            try:
                now = np.array(self.own[name][1], dtype=np.float64)
            except (TypeError, ValueError):
                continue
            if now.shape == first.shape and not np.array_equal(now, first, equal_nan=True):
                raise _Refused(name, self.own[name][0])

    def _own(self, name: str, scopes) -> tuple[str, object] | None:
        """The script's name and value of an article name (under any of its names)."""
        for script_name in [k for k, v in self.names.items() if v == name] + [name]:
            for scope in scopes:
                if script_name in scope:
                    return script_name, scope[script_name]
        return None

    def _own_value(self, name: str) -> object:
        return self.own[name][1] if name in self.own else None

    def _lr_note(self, lr: float, scopes) -> str | None:
        """What the story says of the learning rate: the case's lr replaced the script's own, or
        could not reach its loop (no lr named, or one the loop never reads)."""
        rates = [n for scope in scopes for n, v in scope.items()
                 if n in self.loop_reads and isinstance(v, (float, np.floating))
                 and np.isfinite(v) and v != round(v)]
        # a number the weights' updates read first (eps in a log is no rate)
        rates.sort(key=lambda n: n not in self.update_reads)
        lr_names = {k for k, v in self.names.items() if v == "lr"} | {"lr"}
        sets = [s for s in self.loop_sets if s[0] in lr_names]
        if sets:
            return lr_set_note(sets[0], lr)
        if "lr" not in self.own:
            return no_lr_note(lr, rates)
        own_name, own = self.own["lr"]
        others = [n for n in rates if n != own_name]
        read = own_name in self.loop_reads | self.function_reads
        if not read and others:
            return (f"learning rate: the loop reads no {own_name}, so the case's {lr!r} put in "
                    f"{own_name} was not used (is it {others[0]}? say --names {others[0]}=lr)")
        if isinstance(own, (int, float, np.number)) and float(own) != lr:
            return f"lr is {float(own)!r}; the case's {lr!r} was used"
        return None

    def value(self, name: str, target: str, *scopes):
        """The case's `name`; a bias the script holds once per sample keeps that layout."""
        value = np.array(self.inputs[name], dtype=np.float64) if name != "lr" else self.inputs[name]
        if name == "lr":
            note = self._lr_note(float(value), scopes)
            if note:
                self.notes.append(note)
            return value
        if name in steps.BY_NAME and steps.BY_NAME[name].bias:
            # the script's own X, not the case's X the hooks may already have put in its place
            own, own_x = np.asarray(self._own_value(name)), self._own_value("X")
            rows = np.shape(own_x)[0] if np.ndim(own_x) >= 1 else None
            if own.ndim == 2 and own.shape[0] > 1 and own.shape[0] == rows:
                value = np.repeat(value, self.inputs["X"].shape[0], axis=0)
        own = next((scope[target] for scope in scopes if target in scope), None)
        if target in self.derived and not _same_numbers(own, self._own_value(name)):
            raise _Derived(self.derived[target][1])  # other values than X's: refused
        if name in steps.DATA and _is_data_frame(own):
            # X read with pandas, the loop converting it (X.values, X.to_numpy()): the case's as
            # the script holds its own, a DataFrame of its columns, so the loop runs as written
            self.given[name] = np.array(value, dtype=np.float64)
            columns = own.columns if len(own.columns) == value.shape[1] else None
            return type(own)(value, columns=columns)
        kind = python_kind(own, value, target in self.in_place)
        if kind is not None:
            raise _Mismatch(target, name, kind, value.shape)
        self.given[name] = np.array(value, dtype=np.float64)  # copied: += changes it in place
        own = self._own_value(name)
        if np.ndim(own) == 2 and np.shape(own) != value.shape:
            self.resized.append(
                f"{name} {' x '.join(map(str, value.shape))} (the script's "
                f"{' x '.join(map(str, np.shape(own)))})"
            )
        current = next((scope[target] for scope in scopes if target in scope), None)
        if (name in steps.STATE and isinstance(current, np.ndarray) and current.flags.writeable
                and current.dtype == np.float64 and current.shape == value.shape):
            # Into the script's own array: whatever else holds it (params = [wh, bh, ...]
            # updated as p += g, a view of it) trains the case's values, as written.
            np.copyto(current, value)
            return current
        return value

    def update(self, *scopes) -> None:
        """A statement assigning a weight comes next (_Rewrite._tracked): the step matrices
        assigned so far in this pass are taken as they are now (one filled in place after it
        was assigned, column by column in an inner loop, included)."""
        if not self.updating:
            for name in list(self.early):
                script = self.recorded[name]
                found = [scope[script] for scope in scopes if script in scope]
                # not one another step's name took since (d_output = E, then d_output *= s):
                # what changed it in place is that step, not this one
                if found and self.holder.get(id(found[0]), name) == name:
                    self.assigned(name, found[0])
        self.updating = True

    def assigned(self, name: str, value) -> None:
        """A step's matrix was assigned: kept if it is its last value before the pass's first
        weight update, or its first after one (a step computed after an update, too early).
        One assigned again later (a printout from the updated weights) is not what the pass
        computed its updates from."""
        if value is None or (self.updating and name in self.early):
            return
        self.holder[id(value)] = name  # the step whose name last took this object
        try:
            self.early[name] = np.array(value, dtype=np.float64)
        except (TypeError, ValueError):  # not numbers: record() says so at the pass's end
            self.early.pop(name, None)

    def record(self, *scopes, at: int | None = None) -> None:
        """The pass's matrices, at its end or at a `continue` (line `at`), which must come
        after the pass assigned each of them: one skipped would be the pass before's."""
        skipped = [n for n in self.recorded if n not in steps.STATE and n not in self.early]
        if at is not None and skipped:
            raise _Skipped(
                f"the pass of epoch {self.count + 1} ended at the `continue` of line {at} before "
                f"it assigned {', '.join(skipped)}: nnparity compares every matrix of every "
                "pass, and as written that epoch computes none (it skips its training?)")
        self.count += 1
        early, self.early, self.updating = self.early, {}, False
        self.holder = {}
        for name, script_name in self.recorded.items():
            found = [scope[script_name] for scope in scopes if script_name in scope]
            if name in early:
                found = [early[name]]
            if not found:
                continue
            value = np.array(found[0], dtype=np.float64)
            value = value.reshape(1, -1) if value.ndim < 2 else value
            kept = self.trace[name]
            if kept and kept[0].shape != value.shape:
                raise ValueError(
                    f"{script_name} is {value.shape[0]} x {value.shape[1]} at the end of epoch "
                    f"{self.count}, but was {kept[0].shape[0]} x {kept[0].shape[1]}"
                )
            kept.append(value)

    def done(self) -> None:
        self.phase = "after"
        raise _LoopDone


class PythonScript(_Script):
    """A learner's Python 3 script, run in this process with its loop rewritten through ast."""

    language = "Python"
    FOR_LOOP = "for i in range(epoch):"  # the training loop as a refusal suggests it

    def __init__(self, path: Path | str, names: dict[str, str] | None = None):
        super().__init__(path, names)
        self.source = self._read()
        try:
            self.tree = ast.parse(self.source, filename=str(self.path))
        except SyntaxError as error:
            raise self._syntax(error) from None
        self.loop, self.recorded, assigned = self._find_loop()
        self._refuse_weights_held_in_objects()
        self._refuse_weights_taken_from_objects()
        self.aliases = _aliases(
            [s for s in self.tree.body if s.end_lineno < self.loop.lineno], self.names)
        own = set(_target_names(self.loop.target))  # the loop's counter is no weight
        self.carried = tuple(
            n for n in dict.fromkeys(assigned) if n not in own and self.names.get(n, n) not in
            ARTICLE_NAMES
        )
        self.local = _function_locals(self.tree, self.loop)
        self.in_place = {
            n
            for node in ast.walk(self.loop)
            if isinstance(node, ast.AugAssign)
            for n in _target_names(node.target)
        }
        #: X or y assigned before the loop at the top level: {name: [statements]}
        self.data_set: dict[str, list[ast.stmt]] = {}
        for statement in self.tree.body:
            if statement.end_lineno >= self.loop.lineno:
                break
            for theirs in dict.fromkeys(_statement_assigns(statement)):
                if self.names.get(theirs, theirs) in steps.DATA:
                    self.data_set.setdefault(self.names.get(theirs, theirs), []).append(statement)
        # each compared at the loop with its values where first set: a change, whether by a
        # statement setting it again (X = X / 2) or in place (X.sort(), a function), is refused
        used = {n.id for n in ast.walk(self.tree) if isinstance(n, ast.Name)}
        self.targets = {}
        for name in INPUTS:
            theirs = [k for k, v in self.names.items() if v == name and k in used]
            self.targets[name] = theirs or [name]
        # X or y under another name the loop reads (inputs = X before it): the case's there too
        reads = {n.id for n in ast.walk(self.loop) if isinstance(n, ast.Name)}
        #: names the loop reads in place of X or y, made from it: name -> (X or y, refusal)
        self.derived: dict[str, tuple[str, str]] = {}
        for alias, name in self.aliases.items():
            if name in steps.DATA and alias in reads and alias not in self.targets[name]:
                self.targets[name].append(alias)
        self._refuse_data_never_read(reads)

    def loop_line(self) -> int | None:
        return self.loop.lineno

    def _refuse_data_never_read(self, reads: set[str]) -> None:
        """A loop that reads X or y under none of the names the case's goes into (nor do the
        script's functions): it trains on what it reads instead (Xs = scale(X) before it, a
        function's own parameter), never on the case's."""
        in_functions = {
            n.id for f in ast.walk(self.tree) if isinstance(f, (ast.FunctionDef, ast.Lambda))
            for n in ast.walk(f) if isinstance(n, ast.Name)
        }
        for name in steps.DATA:
            theirs = self.targets[name]
            # a loop computing none of the steps that read it (its first lines only) needs none
            needs = any(name in q.inputs for q in steps.QUANTITIES if q.name in self.recorded)
            if not needs or set(theirs) & (reads | in_functions):
                continue
            made = {  # what the loop reads instead, made from it before the loop
                target: statement.lineno
                for statement in self.tree.body if statement.end_lineno < self.loop.lineno
                for target in dict.fromkeys(_statement_assigns(statement))
                if target in reads and self.names.get(target, target) not in ARTICLE_NAMES
                and any(isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
                        and n.id in theirs for n in ast.walk(statement))
            }
            refusal = data_never_read(
                theirs[0], name, [f"{target} (line {line})" for target, line in made.items()])
            if not made:
                raise ScriptRefused(f"{self.where(self.loop.lineno)}: {refusal}")
            # the same numbers under another name (inputs = np.array(X, dtype=float)) get the
            # case's too; other values are refused, at the loop (_Hooks.value)
            self.targets[name] += list(made)
            self.derived.update({target: (name, refusal) for target in made})

    def _refuse_weights_held_in_objects(self) -> None:
        """A loop that updates no weight under a plain name but assigns parts of objects
        (self.wh += ..., params["wh"] = ...) trains weights nnparity cannot put the case's in:
        refused (it failed at step 2, the case's weights, put in plain names, never used)."""
        if any(name in steps.STATE for name in self.recorded):
            return
        held = []
        for node in ast.walk(self.loop):
            targets = node.targets if isinstance(node, ast.Assign) else (
                [node.target] if isinstance(node, ast.AugAssign) else [])
            for target in targets:
                keyed = isinstance(target, ast.Subscript) and isinstance(
                    target.slice, ast.Constant) and isinstance(target.slice.value, str)
                if isinstance(target, ast.Attribute) or keyed:
                    held.append(ast.unparse(target))
        if held:
            shown = ", ".join(dict.fromkeys(held))
            raise ScriptRefused(
                f"{self.where(self.loop.lineno)}: its loop updates no weight under a plain name "
                f"but parts of objects ({shown}): nnparity puts the case's weights in plain "
                "names (wh, bh, wout, bout, or those --names maps), so it cannot start this "
                "loop from them; to check it, train plain names in the loop (wh = self.wh "
                "before it, self.wh = wh after it)"
            )

    def _refuse_weights_taken_from_objects(self) -> None:
        """A loop whose pass takes a weight from a part of an object before reading it (wh =
        params["wh"], or wh, bh, ... = params["wh"], ... at the top of the body) starts each
        pass from the object, not from the case's weights nnparity puts in before the loop:
        refused (it failed at step 2 of epoch 1, with the script's own weights)."""
        def part(node) -> bool:
            keyed = isinstance(node, ast.Subscript) and isinstance(
                node.slice, ast.Constant) and isinstance(node.slice.value, str)
            return keyed or isinstance(node, ast.Attribute)

        read: set[str] = set()
        taken = []
        for statement in self.loop.body:
            if isinstance(statement, ast.Assign):
                pairs = []
                for target in statement.targets:
                    if isinstance(target, ast.Tuple) and isinstance(statement.value, ast.Tuple):
                        pairs += zip(target.elts, statement.value.elts, strict=False)
                    else:
                        pairs.append((target, statement.value))
                for target, value in pairs:
                    name = target.id if isinstance(target, ast.Name) else None
                    if (name and self.names.get(name, name) in steps.STATE and name not in read
                            and part(value)):
                        taken.append(statement)
                        break
            read |= {n.id for n in ast.walk(statement) if isinstance(n, ast.Name)}
        if taken:
            shown = "; ".join(ast.get_source_segment(self.source, t) or ast.unparse(t)
                              for t in taken)
            raise ScriptRefused(
                f"{self.where(taken[0].lineno)}: its loop takes weights from parts of objects "
                f"at the start of each pass ({shown}): nnparity puts the case's weights in "
                "plain names before the loop, and each pass replaces them with the object's; "
                "to check it, take them once before the loop and train the plain names in it "
                "(the object set from them after it)"
            )

    def _read(self) -> str:
        """The source as `python` reads it: bytes decoded by its BOM or coding cookie, else
        UTF-8 (importlib's decode_source, universal newlines)."""
        from importlib.util import decode_source

        try:
            return decode_source(self.path.read_bytes())
        except (UnicodeDecodeError, SyntaxError, LookupError) as error:
            raise ScriptRefused(
                f"{self.path}: Python cannot read it as text ({error}): save it as UTF-8, or "
                "declare its encoding on its first line, e.g. # -*- coding: latin-1 -*-"
            ) from None

    def _syntax(self, error: SyntaxError) -> ScriptRefused:
        where = self.where(error.lineno)
        if error.msg.startswith(PYTHON2_PRINT):
            code = (error.text or "").strip()
            return ScriptRefused(
                f"{where}: Python 2 syntax (`{code}`): nnparity runs the script with Python 3, "
                "where print is a function: write print(...) with parentheses"
            )
        return ScriptRefused(
            f"{where}: Python cannot parse it: {error.msg}{self.other_language_hint()}"
        )

    def _find_loop(self) -> tuple[ast.For, dict[str, str], list[str]]:
        loops = []
        for loop, depth in _loops(self.tree):
            assigned = [n for _, names in _assignments(loop) for n in names]
            article = {}
            for theirs in assigned:
                name = self.names.get(theirs, theirs)
                if name in steps.NAMES:
                    article.setdefault(name, theirs)
            loops.append((loop, depth, assigned, article))
        if not loops:
            raise ScriptRefused(f"{self.path}: {NO_LOOP}")
        # The loop assigning most of the article's matrices; on a tie the innermost, whose one
        # pass computes them once: an epoch (a loop around it printing every 1000 epochs only
        # repeats it).
        loop, depth, assigned, article = min(
            loops, key=lambda x: (-len(x[3]), -x[1], x[0].lineno))
        self.loop_nested = depth > 0  # inside another loop (the epochs, if it runs per sample)
        if not article:
            raise ScriptRefused(self._in_functions(loops) or f"{self.path}: " + no_article_names(
                [(one.lineno, names) for one, _, names, _ in loops]))
        # Every loop that trains (updates every weight and bias), besides the one chosen: a
        # second would go unchecked. A loop inside another that qualifies is part of it.
        trains = [
            entry[0] for entry in loops if entry[0] is loop or set(steps.STATE) <= set(entry[3])
        ]
        outer = [
            one
            for one in trains
            if not any(other is not one and _inside(one, other) for other in trains)
        ]
        if len(outer) > 1:
            raise ScriptRefused(f"{self.path}: {two_loops(sorted(one.lineno for one in outer))}")
        if not isinstance(loop, ast.For):
            raise ScriptRefused(f"{self.where(loop.lineno)}: {not_a_for_loop('while', self)}")
        self._refuse_rounds_that_change_training(loop, [entry[0] for entry in loops])
        ordered = {name: article[name] for name in steps.NAMES if name in article}
        return loop, ordered, assigned

    def _refuse_rounds_that_change_training(self, loop: ast.For, loops: list[ast.AST]) -> None:
        """A loop around the training loop may only repeat it (printing the error every 1000
        epochs): nnparity runs the training loop once, over the case's epochs, and stops the
        script when it ends, so what the loop around it does between its runs (new random
        weights, a smaller lr) would never run, and the run check another training than the
        script's. Refused: a statement of a loop around it, outside it, that assigns a weight,
        bias, X, y or lr, or a name the training loop's article matrices read from before it
        (a learning rate under another name)."""
        inner = {n for _, names in _assignments(loop) for n in names}
        reads = {
            n.id
            for node, names in _assignments(loop)
            if any(self.names.get(t, t) in steps.NAMES for t in names)
            for n in ast.walk(node)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
        }

        def trains(name: str) -> bool:
            return self.names.get(name, name) in INPUTS or (name in reads and name not in inner)

        for outer in sorted((o for o in loops if _inside(loop, o)), key=lambda o: o.lineno):
            for node, names in _assignments(outer):
                changed = [n for n in dict.fromkeys(names) if trains(n)]
                if node is loop or _inside(node, loop) or not changed:
                    continue
                raise ScriptRefused(
                    f"{self.where(outer.lineno)}: "
                    f"{changing_rounds(loop.lineno, changed, node.lineno)}"
                )

    def _in_functions(self, loops) -> str | None:
        """A loop whose body computes the article's matrices in functions it calls, which
        assign them themselves (global output; output = ...): the refusal saying so, or
        None."""
        assigning = {}
        for node in ast.walk(self.tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                names = [self.names.get(n, n) for _, ns in _assignments(node) for n in ns]
                found = [n for n in dict.fromkeys(names) if n in steps.NAMES]
                if found:
                    assigning[node.name] = found
        for loop, _, _, _ in loops:
            called = [c.func.id for c in ast.walk(loop) if isinstance(c, ast.Call)
                      and isinstance(c.func, ast.Name) and c.func.id in assigning]
            if called:
                called = list(dict.fromkeys(called))
                matrices = list(dict.fromkeys(n for f in called for n in assigning[f]))
                return f"{self.where(loop.lineno)}: {computed_in_functions(matrices, called)}"
        return None

    def body_lines(self) -> dict[str, tuple[int, int]]:
        """For each article matrix: the lines of the loop's statement that assigns it."""
        return self._lines(self.loop.body, steps.NAMES)

    def init_lines(self) -> dict[str, tuple[int, int]]:
        """For each weight and bias: the top-level statement before the loop that sets it
        (step 1: the script's own start, which the case's replaces)."""
        before = [s for s in self.tree.body if s.end_lineno < self.loop.lineno]
        return self._lines(before, steps.STATE)

    def _lines(self, statements, names) -> dict[str, tuple[int, int]]:
        found: dict[str, tuple[int, int]] = {}
        for statement in statements:
            assigned = [n for _, ns in _assignments(ast.Module([statement], [])) for n in ns]
            for theirs in assigned:
                name = self.names.get(theirs, theirs)
                if name in names and name not in found:
                    found[name] = (statement.lineno, statement.end_lineno)
        return found

    def _run(self, epochs: int) -> dict[str, np.ndarray]:
        code = self._compiled()
        hooks = _Hooks(
            case_inputs(self.case), epochs, self.recorded, self.names, self.in_place, self.carried
        )
        namespace = {"__name__": "__main__", "__file__": str(self.path), "__builtins__": builtins}
        namespace["__nnparity__"] = hooks
        hooks.loop_reads = {
            n.id for n in ast.walk(self.loop) if isinstance(n, ast.Name)
            and isinstance(n.ctx, ast.Load)
        }
        hooks.update_reads = {
            n.id for statement in ast.walk(self.loop)
            if isinstance(statement, (ast.Assign, ast.AugAssign))
            and any(self.names.get(t, t) in steps.STATE for t in _statement_assigns(statement))
            for n in ast.walk(statement) if isinstance(n, ast.Name)
        }
        #: names read inside the script's functions (update(w, g) reading lr)
        hooks.function_reads = {
            n.id for f in ast.walk(self.tree) if isinstance(f, (ast.FunctionDef, ast.Lambda))
            for n in ast.walk(f) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
        }
        hooks.loop_sets = [
            (target.id, statement.lineno, ast.get_source_segment(self.source, statement)
             or ast.unparse(statement), any(isinstance(n, ast.Name) and n.id == target.id
                                           for n in ast.walk(statement.value)))
            for statement in self.loop.body if isinstance(statement, ast.Assign)
            for target in statement.targets if isinstance(target, ast.Name)
        ]
        hooks.loop_text = f"for {ast.unparse(self.loop.target)} in {ast.unparse(self.loop.iter)}"
        hooks.over_data = any(self.names.get(n.id, n.id) in steps.DATA
                              for n in ast.walk(self.loop.iter) if isinstance(n, ast.Name))
        hooks.nested = self.loop_nested
        hooks.derived = self.derived
        # What the script prints is its own business, not nnparity's output; its warnings
        # (numpy's overflow, say) are kept to explain an error.
        printed = io.StringIO()
        try:
            with (
                self._imports_beside_it(),
                contextlib.redirect_stdout(printed),
                contextlib.redirect_stderr(printed),
                warnings.catch_warnings(record=True) as warned,
            ):
                warnings.simplefilter("always")
                exec(code, namespace)
        except _LoopDone:
            self._let_go(namespace)
        except _Mismatch as mismatch:
            raise self.mismatch(*mismatch.args) from None
        except _Unnamed as unnamed:
            raise self.unnamed(*unnamed.args) from None
        except _Misfit as misfit:
            raise self.misfit(*misfit.args) from None
        except (_PerSample, _Shared, _RanOut, _Derived) as refused:
            raise ScriptRefused(f"{self.where(self.loop.lineno)}: {refused}") from None
        except _Skipped as skipped:  # a failure of the training it checks: exit 1
            raise PortError(f"{self.where(self.loop.lineno)}: {skipped}") from None
        except _Refused as refused:
            name, theirs = refused.args
            first, *changes = self.data_set[name]
            lines = [(c.lineno, ast.get_source_segment(self.source, c) or ast.unparse(c))
                     for c in changes]
            at = lines[0][0] if lines else self.loop.lineno
            raise ScriptRefused(
                f"{self.where(at)}: {data_changed(theirs, name, first.lineno, lines)}") from None
        except (Exception, SystemExit) as error:
            raise self._error(error, hooks, warned) from None
        else:
            line = self.loop.lineno
            raise ScriptRefused(
                f"{self.where(line)}: the script ended without running its training loop "
                "(is it in a function that is never called, or under an if that is false?)"
            )
        if hooks.count != epochs:
            raise PortError(f"{self.where(self.loop.lineno)}: {ended_early(hooks.count, epochs)}")
        self.given = hooks.given
        self.notes = [f"{self.path.name}'s {note}" for note in hooks.notes]
        return {name: np.stack(values) for name, values in hooks.trace.items() if values}

    @staticmethod
    def _let_go(namespace: dict) -> None:
        """The script stopped at its loop's end: what it holds is let go of, as Python's own
        end would, so that a file it opened and never closed (a log of each pass) is flushed
        and closed now, whole, not cut at its last buffer when the worker ends."""
        namespace.clear()
        gc.collect()

    def _compiled(self):
        """The script with its loop rewritten to call the hooks (``_Rewrite``), compiled."""
        # A fresh tree each run (the rewrite changes it in place); its loop is at the same place.
        tree = ast.parse(self.source, filename=str(self.path))
        at = (self.loop.lineno, self.loop.col_offset)
        loop = next(
            n for n in ast.walk(tree) if isinstance(n, ast.For) and (n.lineno, n.col_offset) == at
        )
        tree = _Rewrite(loop, self.targets, self.local, self.recorded).visit(tree)
        # X or y as the script first sets it, to learn at the loop whether it changed since
        for name, statements in self.data_set.items():
            at = next(i for i, s in enumerate(tree.body) if s.lineno == statements[0].lineno)
            hook = _Rewrite._hook(f"__nnparity__.first({name!r}, globals())", tree.body[at])
            tree.body.insert(at + 1, hook)
        return compile(tree, str(self.path), "exec")

    @contextlib.contextmanager
    def _imports_beside_it(self):
        """As `python script.py` does, the script's folder first on the import path (a
        learner's own helper module beside the script); its modules go when it ends."""
        folder = str(self.path.resolve().parent)
        sys.path.insert(0, folder)
        modules = set(sys.modules)
        cwd = os.getcwd()
        argv, sys.argv = sys.argv, [str(self.path)]  # its command line: `python script.py`
        try:
            yield
        finally:
            sys.argv = argv
            os.chdir(cwd)  # the script's os.chdir() is its own: the next run starts from here
            sys.path.remove(folder)
            # The script's own modules go with it: another script may have one of that name.
            for name in set(sys.modules) - modules:
                file = getattr(sys.modules[name], "__file__", None)
                if file and Path(file).resolve().is_relative_to(folder):
                    del sys.modules[name]

    def _error(self, error: BaseException, hooks: _Hooks, warned=()) -> Exception:
        frames = [
            f for f in traceback.extract_tb(error.__traceback__) if f.filename == str(self.path)
        ]
        line = frames[-1].lineno if frames else None
        if hooks.phase == "before" and isinstance(error, FileNotFoundError):
            return self.missing_file(line, error.filename, f"{type(error).__name__}: {error}")
        text = f"{type(error).__name__}: {error}"
        if isinstance(error, NameError) and getattr(error, "name", "") == "xrange":
            text += " (Python 2's xrange is range in Python 3)"
        if isinstance(error, ModuleNotFoundError) and error.name:  # the script runs in our Python
            text += (f" (the script runs in nnparity's Python, {sys.executable}: install the "
                     f"package that provides {error.name.split('.')[0]} into it, "
                     f"{sys.executable} -m pip install PACKAGE)")
        if isinstance(error, EOFError):  # input(): no one types in a run
            text += " (the script asks for input, and nnparity runs it with none to read)"
        said = list(dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in warned))
        if said:
            text += f" (Python warned: {'; '.join(said)})"
        if hooks.phase == "inside" and hooks.resized:
            text += f"; note: the case's sizes differ from the script's: {', '.join(hooks.resized)}"
        written = hooks.written_count
        if hooks.phase == "inside" and written is not None and hooks.count >= written:
            text += (f"; note: its loop runs {written} epochs as written, and nnparity ran "
                     f"{hooks.epochs} (the case's, or --epochs): --epochs {written} runs as many")
        return self.stopped(hooks.phase, line, text, hooks.count + 1)


def lr_set_note(assignment: tuple[str, int, str, bool], lr: float) -> str:
    """A loop that assigns its learning rate itself each pass: from something else (lr =
    config['lr']: the case's is never used) or from itself (lr = lr * 0.99: the first pass's
    only). Worded as script.R's script_lr_set_note."""
    name, line, text, reads_itself = assignment
    what, then = ("changes", "is the first pass's only") if reads_itself else (
        "sets", "was not used")
    return (f"learning rate: the loop {what} {name} itself each pass (line {line}: {text}), "
            f"so the case's {lr!r} {then}")


def no_lr_note(lr: float, candidates: list[str]) -> str:
    """A script naming no learning rate lr (nor --names): the case's cannot reach its loop."""
    hint = f" (is it {candidates[0]}? say --names {candidates[0]}=lr)" if candidates else ""
    return f"learning rate is its own: it names none lr, so the case's {lr!r} was not used{hint}"


def _continued(values: Iterable, epochs: int, loop_text: str) -> Iterator:
    """A loop's own values for `epochs` passes: as its sequence yields them, then, if it runs
    out first, each the last plus the last step (numbers, or tuples of numbers: enumerate's
    (1, 1)); _RanOut where no such step continues it (a list of names)."""
    given, last, before = 0, None, None
    for value in values:
        if given == epochs:
            return
        yield value
        given, before, last = given + 1, last, value
    step = _step(before, last) if given else None
    if given < epochs and step is None:
        raise _RanOut(
            f"the training loop's own sequence ({loop_text}) gives {given} values, which do "
            f"not count on by a step, and the case asks for {epochs} epochs: run with "
            f"--epochs {given}, or loop over a range"
        )
    while given < epochs:
        last = _plus(last, step)
        yield last
        given += 1


def _step(before, last):
    """What a sequence counts by from `before` to `last` (1 when it gave one value): a number,
    a tuple of such steps (enumerate's (1, 1), enumerate(zip(...))'s (1, (1, 1))), or None for
    values that do not count (strings, arrays, lists)."""
    if isinstance(last, tuple):
        if not last or (before is not None and not (
                isinstance(before, tuple) and len(before) == len(last))):
            return None
        steps_of = [_step(None if before is None else b, a) for b, a in
                    zip(before if before is not None else last, last, strict=True)]
        return None if any(s is None for s in steps_of) else tuple(steps_of)
    def number(v) -> bool:
        return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(
            v, (bool, np.bool_))

    if not number(last) or (before is not None and not number(before)):
        return None
    return 1 if before is None else last - before


def _plus(value, step):
    """`value` counted on by `step` (_step's), tuples component by component."""
    if isinstance(value, tuple):
        return tuple(_plus(v, s) for v, s in zip(value, step, strict=True))
    return value + step


def _counting(value) -> tuple[int, int] | None:
    """(first, step) of a loop's sequence that counts by integers (a range, a list or array of
    them in steps of one size), else None."""
    if isinstance(value, range):
        return value.start, value.step
    if isinstance(value, (list, tuple)):
        if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value):
            return None
    elif not isinstance(value, np.ndarray) or value.ndim != 1:
        return None
    numbers = np.asarray(value)
    if numbers.dtype.kind not in "iu":
        return None
    steps_of = np.diff(numbers)
    step = int(steps_of[0]) if len(steps_of) else 1
    if step == 0 or (len(steps_of) and not (steps_of == step).all()):
        return None
    return int(numbers[0]), step


def _inside(node: ast.AST, other: ast.AST) -> bool:
    return any(child is node for child in ast.walk(other) if child is not other)


def two_loops(lines: list[int]) -> str:
    """The refusal of a script with more than one training loop (lines: where each starts)."""
    listed = ", ".join(map(str, lines[:-1])) + f" and {lines[-1]}"
    return (
        f"the loops at lines {listed} each train the network (each updates the weights and "
        "biases): nnparity checks one training loop per script, and would "
        "leave the others unchecked: keep one training loop in the script, and put another "
        "training in a script of its own"
    )


def data_changed(theirs: str, name: str, first: int, lines: list[tuple[int, str]]) -> str:
    """The refusal of a script that changes the values of its X or y (`theirs`) between
    line `first`, where it sets it, and its loop: at `lines` (each line and its code, the
    statements setting it again), or in place (X.sort(), a function changing it)."""
    shown = "; ".join(f"line {line}: " + " ".join(code.split()) for line, code in lines)
    where = (f"set again at {shown}" if lines else
             "in place, by a call or a statement that does not assign it")
    return (
        f"the script changes the values of {theirs} after line {first}, where it sets them, "
        f"and before its training loop ({where}): "
        f"nnparity puts the case's {name} in place just before the loop, so that change "
        "would not apply to it and the check would train on other inputs than the script "
        f"does; make the change in the case's {name}.csv, or leave it out of the script"
    )


def data_never_read(theirs: str, name: str, made: list[str]) -> str:
    """The refusal of a loop that never reads X or y (`theirs`), but `made` (names made from
    it before the loop, each with its line) or nothing the script says."""
    instead = f": it reads {', '.join(made)}, made from {theirs}" if made else ""
    return (
        f"the training loop never reads {theirs}{instead}; nnparity puts the case's {name} in "
        f"{theirs} just before the loop, where the loop would not use it: let the loop read "
        f"{theirs} (or map the name it reads to the article's: --names its_name={name})"
    )


def ended_early(passes: int, epochs: int) -> str:
    """The loop ended after fewer passes than the case's epochs: a `break` (early stopping)."""
    if not passes:
        return "the training loop ended in its first pass (a `break` in it?)"
    return (
        f"the training loop ended after {passes} of the {epochs} epochs asked for (a `break` "
        f"in it?): to check the epochs before it ends, run with --epochs {passes}"
    )


def not_a_for_loop(kind: str, script: _Script) -> str:
    """The refusal of a training loop of another `kind` than `for` (while, repeat)."""
    return (
        f"the training loop is a `{kind}` loop; nnparity runs a `for` loop once per epoch: "
        f"write it as {script.FOR_LOOP}"
    )


def changing_rounds(loop: int, changed: list[str], changed_at: int | None = None) -> str:
    """The refusal of a loop around the training loop (at line `loop`) that changes what it
    trains from between its runs (`changed`, at line `changed_at` when known)."""
    at = f" (line {changed_at})" if changed_at else ""
    return (
        f"the training loop (line {loop}) runs inside this loop, which changes "
        f"{', '.join(changed)}{at} between its runs: nnparity runs the training loop once, over "
        "the case's epochs, and stops the script when it ends, so that change would never run; "
        "write the training as one loop over all its epochs (a loop around it may only repeat "
        "it, printing the error, say)"
    )


def computed_in_functions(matrices: list[str], called: list[str]) -> str:
    """The refusal of a loop whose matrices are assigned inside the functions it calls."""
    shown = ", ".join(matrices[:4]) + (", ..." if len(matrices) > 4 else "")
    return (
        f"the loop computes the article's matrices ({shown}) in functions it calls "
        f"({', '.join(called)}), which assign them inside themselves: nnparity records what "
        "the loop's own body assigns; assign each there (output = forward(X), the function "
        "returning it), or put the functions' lines in the loop"
    )


def per_sample(loop_text: str, passes: int, rows: int | None = None) -> str:
    """The refusal of a loop over the samples (one pass per row of X), or over batches of them
    (`rows`: fewer passes than X has rows)."""
    if rows is None:
        how = (f"over the samples ({loop_text}: {passes} passes, one per sample of X): that is "
               "per-sample training, one update per sample")
    else:
        how = (f"over batches of the samples ({loop_text}: {passes} passes over X's {rows} "
               "rows): that is mini-batch training, one update per batch")
    return (
        f"the training loop runs {how}; the article's network takes every sample at once "
        "(full batch) and updates once per epoch, which is what nnparity checks"
    )


NO_LOOP = (
    "no training loop found: nnparity looks for a for loop whose body assigns the article's "
    "matrices (hidden_layer_input, output, wout, bh, ...)"
)


def no_article_names(loops: list[tuple[int, list[str]]]) -> str:
    """No loop assigns the article's names (loops: each one's line and what it assigns)."""
    where = "; ".join(
        f"line {line} assigns {', '.join(dict.fromkeys(assigned)) or 'nothing'}"
        for line, assigned in loops
    )
    return (
        f"no loop assigns any of the article's matrices ({where}): name them as the article "
        "does (wh, bh, output, ...) or map yours with --names your_name=article_name"
    )


# ---- R: parse(), calls as data (nnparity/r/script.R) ------------------------------------------


@cache
def _script_r_loaded() -> bool:
    from .bridge import call, source_harness

    source_harness(SCRIPT_R)
    call("nnparity_script_steps", str(steps.CSV))  # its step facts, from steps.csv
    call("nnparity_script_fits", *(np.array(column) for column in zip(*cases.FITS, strict=True)))
    return True


def _r_call(function: str, *args):
    from .bridge import call

    _script_r_loaded()
    return call(function, *args)


def _scalar(value, default=None):
    flat = np.ravel(np.asarray(value))
    if flat.size == 0:
        return default
    item = flat[0].item() if hasattr(flat[0], "item") else flat[0]
    if isinstance(item, int) and item == -(2**31):  # NA_integer_
        return default
    if isinstance(item, float) and np.isnan(item):
        return default
    return item


class RScript(_Script):
    """A learner's R script, run in the embedded R with its loop rewritten as a call."""

    language = "R"
    FOR_LOOP = "for (i in 1:epoch) { ... }"

    def __init__(self, path: Path | str, names: dict[str, str] | None = None):
        super().__init__(path, names)
        self.plan = _r_call(
            "nnparity_script_plan", str(self.path.resolve()), *self._map(), np.array(steps.NAMES)
        )
        if "refusal" in self.plan.keys():
            raise ScriptRefused(self.refusal(self.plan["refusal"]))
        if "problem" in self.plan.keys():
            problem = _scalar(self.plan["problem"])
            hint = self.other_language_hint() if "cannot parse" in problem else ""
            raise ScriptRefused(f"{self.path}: {problem}{hint}")
        #: Calls that look like the article's scraped `%*%` (`%%`, or `**` read as a power).
        self.damage = [str(d) for d in np.ravel(self.plan["damage"])]
        if "aliases" in self.plan.keys():
            aliases = self.plan["aliases"]
            self.aliases = dict(zip((str(n) for n in np.ravel(aliases["from"])),
                                    (str(n) for n in np.ravel(aliases["to"])), strict=True))

    def refusal(self, facts) -> str:
        """script.R's plan refused the script, with the facts of why (its ``kind``): worded
        here, once for both languages."""
        def texts(value) -> list[str]:
            return [str(v) for v in np.ravel(value)]

        kind = str(_scalar(facts["kind"]))
        if kind == "two_loops":
            return f"{self.path}: {two_loops([int(v) for v in np.ravel(facts['lines'])])}"
        if kind == "no_loop":
            return f"{self.path}: {NO_LOOP}"
        if kind == "no_names":
            # each loop's names, one loop after another (their counts)
            counts = np.ravel(facts["counts"]).astype(int)
            groups = np.split(np.array(texts(facts["assigned"]), dtype=object),
                              np.cumsum(counts)[:-1])
            loops = zip((int(line) for line in np.ravel(facts["lines"])), groups, strict=True)
            return f"{self.path}: {no_article_names([(n, list(g)) for n, g in loops])}"
        if kind == "not_for":
            text = not_a_for_loop(str(_scalar(facts["loop_kind"])), self)
        elif kind == "rounds":
            text = changing_rounds(int(_scalar(facts["loop_line"])), texts(facts["changed"]))
        elif kind == "data_unread":
            text = data_never_read(str(_scalar(facts["theirs"])), str(_scalar(facts["name"])),
                                   texts(facts["made"]))
        elif kind == "called":
            text = computed_in_functions(texts(facts["matrices"]), texts(facts["called"]))
        else:
            raise ValueError(f"script.R refused with an unknown kind: {kind}")
        return f"{self.where(int(_scalar(facts['line'])))}: {text}"

    def loop_line(self) -> int | None:
        return _scalar(self.plan["line"])

    def _map(self) -> tuple[np.ndarray, np.ndarray]:
        return np.array(list(self.names), dtype=str), np.array(list(self.names.values()), dtype=str)

    def body_lines(self) -> dict[str, tuple[int, int]]:
        return self._lines("body_lines")

    def init_lines(self) -> dict[str, tuple[int, int]]:
        return self._lines("init_lines")

    def _lines(self, which: str) -> dict[str, tuple[int, int]]:
        found: dict[str, tuple[int, int]] = {}
        rows = self.plan[which]
        for name, first, last in zip(
            np.ravel(rows["name"]), np.ravel(rows["first"]), np.ravel(rows["last"]), strict=True
        ):
            found.setdefault(str(name), (int(first), int(last)))
        return found

    def _run(self, epochs: int) -> dict[str, np.ndarray]:
        from .bridge import named_list as _named_list

        inputs = case_inputs(self.case)
        lr = inputs.pop("lr")
        arrays = _named_list({k: np.asarray(v, dtype=np.float64) for k, v in inputs.items()})
        arrays.rx2["lr"] = lr
        outcome = _r_call(
            "nnparity_script_run",
            str(self.path.resolve()),  # absolute: the script's setwd() moves R's folder
            *self._map(),
            np.array(steps.NAMES),
            arrays,
            int(epochs),
        )
        status = str(_scalar(outcome["status"]))
        if status == "misfit":
            dims, theirs = outcome["dims"], outcome["theirs"]
            shapes = {n: tuple(int(d) for d in np.ravel(dims[n])) for n in dims.keys()}
            refusal = self.misfit(shapes, {n: str(_scalar(theirs[n])) for n in theirs.keys()})
            if refusal is not None:
                raise refusal
        if status == "plan":
            raise ScriptRefused(self.refusal(outcome["refusal"]))
        if status == "data_changed":
            name = str(_scalar(outcome["name"]))
            changes = self.plan["data_set"][name]
            lines = list(zip((int(v) for v in np.ravel(changes["lines"])),
                             (str(v) for v in np.ravel(changes["code"])), strict=True))
            theirs, first = str(_scalar(outcome["theirs"])), int(_scalar(changes["first_line"]))
            at = lines[0][0] if lines else self.loop_line()
            raise ScriptRefused(f"{self.where(at)}: {data_changed(theirs, name, first, lines)}")
        if status == "per_sample":
            rows = _scalar(outcome["rows"]) if "rows" in outcome.keys() else None
            text = per_sample(str(_scalar(outcome["loop_text"])), int(_scalar(outcome["passes"])),
                              None if rows is None else int(rows))
            raise ScriptRefused(f"{self.where(self.loop_line())}: {text}")
        if status == "unnamed":
            raise self.unnamed(
                [str(n) for n in np.ravel(outcome["missing"])],
                [str(n) for n in np.ravel(outcome["carried"])],
                [str(n) for n in np.ravel(outcome["untrained"])],
            )
        if status == "refused":
            raise self.mismatch(
                str(_scalar(outcome["target"])),
                str(_scalar(outcome["name"])),
                str(_scalar(outcome["message"])),
                [int(d) for d in np.ravel(outcome["dims"])],
            )
        if status != "done":
            message = str(_scalar(outcome["message"], ""))
            line = _scalar(outcome["line"]) if "line" in outcome.keys() else None
            missing = MISSING_FILE_R.search(message)
            if status == "before" and missing:
                raise self.missing_file(line, missing.group(1))
            if status == "inside" and self.damage:
                message += f"; {DAMAGE}: {'; '.join(self.damage)}"
            raise self.stopped(status, line, message, int(_scalar(outcome["count"], 0)) + 1)
        count = int(_scalar(outcome["count"], 0))
        if count != epochs:
            raise PortError(f"{self.where(self.loop_line())}: {ended_early(count, epochs)}")
        self.notes = [f"{self.path.name}'s {note}" for note in np.ravel(outcome["notes"])]
        given = outcome["given"]
        self.given = {name: np.asarray(given[name], dtype=np.float64) for name in given.keys()}
        trace = outcome["trace"]
        return {name: np.ascontiguousarray(trace[name], dtype=np.float64) for name in trace.keys()}


# ---- `nnparity run --r-script / --python-script` ----------------------------------------------


def add_run_options(run, r_group) -> None:
    """The script options of `nnparity run` (r_group: the R side's mutually exclusive group)."""
    r_group.add_argument(
        "--r-script",
        type=Path,
        metavar="FILE",
        help="a learner's R script, run as written (its training loop found and recorded)",
    )
    run.add_argument(
        "--python-script",
        type=Path,
        metavar="FILE",
        help="a learner's Python 3 script, run as written, in place of python_impl/",
    )
    run.add_argument(
        "--names",
        action="append",
        metavar="THEIRS=ARTICLE",
        default=[],
        help="a script's name for one of the article's (repeatable), e.g. --names W1=wh",
    )


#: --names given with no script (run, explain): bad input.
NAMES_NEED_A_SCRIPT = (
    "--names maps a learner's script's names to the article's: give --python-script or "
    "--r-script with it (a port's names are the article's already)"
)


def wanted(args) -> bool:
    return bool(getattr(args, "r_script", None) or getattr(args, "python_script", None))


def sides(args) -> tuple[tuple[str, Path | None, dict], tuple[str, Path | None, dict]]:
    """The kind, path and options of each side of a run where either may be a script
    (call inside bad_input(): conflicting options are bad input)."""
    from .paths import R_VARIANTS

    if args.python_script and args.python_impl:
        raise BadInput("--python-script and --python-impl both name the Python side: give one")
    if wanted(args) and args.mode in ("lockstep", "both"):
        raise BadInput(
            f"--mode {args.mode}: a script has no step functions to drive; it is checked "
            f"free-running (--mode free). {TO_LOCKSTEP}"
        )
    names = {"names": parse_names(args.names)}
    if args.names and not wanted(args):
        raise BadInput(NAMES_NEED_A_SCRIPT)
    if args.python_script:
        python = ("python-script", args.python_script, names)
    else:
        python = ("python", args.python_impl, {})
    if args.r_script:
        r = ("r-script", args.r_script, names)
    else:
        r = ("r", R_VARIANTS / args.r_variant if args.r_variant else args.r_impl, {})
    return python, r


def remark(result, *ports) -> None:
    """Say in the story that a script is checked free-running only, and how to get lockstep."""
    scripts = [p for p in ports if p.kind.endswith("-script")]
    sides = [p.describe() for p in scripts]
    which = f"{' and '.join(sides)} {'are' if len(sides) > 1 else 'is'} checked"
    remarks = result.reports["free"].remarks
    for port in scripts:  # the script's own lr and epochs, which the case's replaced
        remarks.extend(getattr(port, "notes", None) or [])
    remarks.append(FREE_ONLY.format(which=which))
