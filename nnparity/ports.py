"""Ports: the two implementations behind one interface (start, advance).

``PythonPort`` runs a Python implementation in this process; ``bridge.RPort``
runs an R one in the embedded R. Either can be ours or a user's: a Python file
or package, an R file or folder, that defines ``train`` with the signature of
python_impl / r_impl. The lockstep check also needs the R port's ``steps``
(one function per recorded matrix, as r_impl/steps.R).
"""

from __future__ import annotations

import importlib.util
import itertools
import sys
from pathlib import Path

import numpy as np

from .bridge import PortError
from .paths import PYTHON_IMPL, python_impl

_loaded = itertools.count()


def load_python_module(path: Path | str | None):
    """Import a Python implementation from a file or package folder, under a private name."""
    if path is None:
        return python_impl()
    path = Path(path).resolve()
    init = path / "__init__.py" if path.is_dir() else path
    if not init.is_file():
        raise FileNotFoundError(f"{path}: no such Python file, or a folder without __init__.py")
    name = f"_nnparity_port_{next(_loaded)}"
    locations = [str(path)] if path.is_dir() else None
    spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=locations)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[name]
        raise PortError(f"{path}: cannot be imported ({type(error).__name__}: {error})") from None
    if not callable(getattr(module, "train", None)):
        raise PortError(f"{path}: does not define train(X, y, wh, bh, wout, bout, lr, epochs, record)")
    return module


class PythonPort:
    """A Python implementation, trained chunk by chunk, its weights kept between chunks."""

    language = "Python"

    def __init__(self, path: Path | str | None = None):
        self.path = Path(path) if path is not None else PYTHON_IMPL
        self.module = load_python_module(path)
        self.state = None

    def start(self, case) -> None:
        self.state = dict(X=case.X, y=case.y, lr=case.lr, **{k: v.copy() for k, v in case.state().items()})

    def advance(self, epochs: int, record: bool = True) -> dict[str, np.ndarray]:
        s = self.state
        try:
            result = self.module.train(s["X"], s["y"], s["wh"], s["bh"], s["wout"], s["bout"], s["lr"], epochs, record=record)
        except Exception as error:
            raise PortError(f"the Python port {self.path} failed: {type(error).__name__}: {error}") from error
        for name in ("wh", "bh", "wout", "bout"):
            s[name] = result[name]
        if not record:
            return {"output": result["output"]}
        return {**result["trace"], **returned(result)}


def returned(result: dict) -> dict[str, np.ndarray]:
    """What train() returned (the final weights and output), as returned_<name>: [1, rows, cols]."""
    return {f"returned_{name}": np.array(result[name], dtype=np.float64)[None] for name in ("output", "wh", "bh", "wout", "bout")}
