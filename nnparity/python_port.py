"""A Python implementation of the article's network (ours, python_impl/, or a user's)."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import itertools
import sys
import traceback
from pathlib import Path

import numpy as np

from . import steps
from .paths import PYTHON_IMPL, python_impl
from .port import BorderError, Port, PortError, check_trace, plain

_loaded = itertools.count()


def load_python_module(path: Path | str | None):
    """Import a Python implementation from a file or package folder, under a private name.

    Ours is nnparity.python_impl (paths.python_impl()).
    """
    if path is None or Path(path).resolve() == PYTHON_IMPL.resolve():
        return python_impl()
    path = Path(path).resolve()
    init = path / "__init__.py" if path.is_dir() else path
    if not init.is_file():
        raise FileNotFoundError(f"{path}: no such Python file, or a folder without __init__.py")
    name = f"_nnparity_port_{next(_loaded)}"
    locations = [str(path)] if path.is_dir() else None
    # Python runs a file of any name; importlib guesses the loader from ".py" only.
    loader = importlib.machinery.SourceFileLoader(name, str(init))
    spec = importlib.util.spec_from_file_location(
        name, init, loader=loader, submodule_search_locations=locations
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as error:  # SystemExit and KeyboardInterrupt from the port's code too
        del sys.modules[name]
        raise PortError(f"{path}: cannot be imported ({describe_exception(error, path)})") from None
    if not callable(getattr(module, "train", None)):
        raise PortError(
            f"{path}: does not define train(X, y, wh, bh, wout, bout, lr, epochs, record)"
        )
    return module


def describe_exception(error: BaseException, path: Path) -> str:
    """The exception, and the port's own line that raised it (the innermost frame in the port)."""
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    if isinstance(error, SystemExit):
        text = (
            f"it called sys.exit({error.code!r}); a port must return from train, "
            "not end the process"
        )
    path = Path(path).resolve()
    root = str(path.parent if path.is_file() else path)
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename.startswith(root)]
    if frames:
        f = frames[-1]
        text += f" (at {Path(f.filename).name}:{f.lineno}, in {f.name}: {(f.line or '').strip()})"
    return text


class PythonPort(Port):
    """A Python implementation, trained chunk by chunk, its weights kept between chunks."""

    language = "Python"
    can_lockstep = False

    def __init__(self, path: Path | str | None = None):
        super().__init__(path if path is not None else PYTHON_IMPL)
        self.module = load_python_module(self.path)
        self.state = None

    def start(self, case) -> None:
        # Copies: nothing the port does to its arrays can reach the case, or another port.
        self.state = dict(
            X=case.X.copy(),
            y=case.y.copy(),
            lr=case.lr,
            **{k: v.copy() for k, v in case.state().items()},
        )

    def advance(self, epochs: int, record: bool = True) -> dict[str, np.ndarray]:
        s = self.state
        try:
            result = self.module.train(
                s["X"].copy(),
                s["y"].copy(),
                *(s[k] for k in steps.STATE),
                s["lr"],
                epochs,
                record=record,
            )
        except (
            BaseException
        ) as error:  # a port's SystemExit or KeyboardInterrupt is its failure, not ours
            raise PortError(
                f"{self.describe()} failed: {describe_exception(error, self.path)}"
            ) from None
        if not hasattr(result, "get"):
            raise BorderError(
                f"{self.describe()} returned {type(result).__name__} from train; "
                "expected a dict with "
                f"{', '.join(steps.STATE)}, output and trace"
            )
        for name in steps.STATE:
            value = result.get(name)
            if not isinstance(value, np.ndarray) or value.dtype != np.float64:
                raise BorderError(
                    f"{self.describe()} returned {type(value).__name__} as {name} from train; "
                    "expected an array of doubles"
                )
            s[name] = plain(value)
        if not record:
            return {"output": np.asarray(result.get("output"))}
        return {**check_trace(self, result.get("trace"), epochs), **returned(self, result)}

    def weights(self) -> dict[str, np.ndarray]:
        return {name: self.state[name] for name in steps.STATE}


def returned(port: Port, result: dict) -> dict[str, np.ndarray]:
    """What train() returned (the final weights and output), as returned_<name>: [1, rows, cols]."""
    out = {}
    for name in ("output", *steps.STATE):
        value = result.get(name)
        if not isinstance(value, np.ndarray) or value.dtype != np.float64:
            raise BorderError(
                f"{port.describe()} returned {type(value).__name__} as {name} from train; "
                "expected an array of doubles"
            )
        out[steps.returned(name)] = plain(value)[None]
    return out
