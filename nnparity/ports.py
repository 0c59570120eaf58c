"""The kinds of port, by name: what a worker process can load.

Each kind is one module with one Port subclass (port.py is the interface).
A new kind (a learner's script, say) registers here.
"""

from __future__ import annotations

import importlib

from .port import Port
from .python_port import PythonPort  # noqa: F401 - the kinds, importable from here
from .r_port import RPort  # noqa: F401

KINDS: dict[str, str] = {
    "python": "nnparity.python_port:PythonPort",
    "r": "nnparity.r_port:RPort",
    "python-script": "nnparity.scripts:PythonScript",  # a learner's script, run as written
    "r-script": "nnparity.scripts:RScript",
}


def open_port(kind: str, path=None, **options) -> Port:
    module, name = KINDS[kind].split(":")
    return getattr(importlib.import_module(module), name)(path, **options)
