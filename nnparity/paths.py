"""Where nnparity's own files are: the one module that knows.

In the repository the two ports and the cases are top-level folders
(``python_impl/``, ``r_impl/``, ``fixtures/``) beside the ``nnparity`` package;
the wheel carries them inside the package (``nnparity/python_impl`` and so on,
mapped at build time by pyproject.toml). Everything else asks here, so a source
checkout, an editable install and an installed wheel behave the same.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

#: The ``nnparity`` package folder (site-packages/nnparity in a wheel install).
PACKAGE = Path(__file__).resolve().parent


def _bundled() -> bool:
    """True in an installed wheel: the ports and the cases sit inside the package."""
    return all((PACKAGE / name).is_dir() for name in ("python_impl", "r_impl", "fixtures"))


#: Where the ports and the cases live: the package (wheel) or the repository root (checkout).
BASE = PACKAGE if _bundled() else PACKAGE.parent

#: The Python port (the article's numpy code).
PYTHON_IMPL = BASE / "python_impl"
#: The R port (the article's R code); its ``variants/`` hold overlays such as the article's own R.
R_IMPL = BASE / "r_impl"
#: The R port's variants: folders that redefine only what differs from r_impl.
R_VARIANTS = R_IMPL / "variants"
#: The shipped cases, one folder each.
FIXTURES = BASE / "fixtures"
#: nnparity's own R code (the harness the bridge sources into the embedded R).
R_HARNESS_DIR = PACKAGE / "r"
HARNESS_R = R_HARNESS_DIR / "harness.R"

def missing_parts() -> str | None:
    """Why this nnparity has not the ports and cases it runs (a copy of the package folder
    alone), or None."""
    absent = [p.name + "/" for p in (PYTHON_IMPL, R_IMPL, FIXTURES) if not p.is_dir()]
    if not absent:
        return None
    return (f"the nnparity package at {PACKAGE} has no {', '.join(absent)} beside it (a copy "
            "of the package folder alone?): run it from a checkout of the repository, or "
            "install the wheel, which carries them")


#: The import name of our Python port: inside nnparity, never a top-level ``python_impl``.
PYTHON_IMPL_MODULE = "nnparity.python_impl"


def python_impl():
    """Our Python port as a module, imported from PYTHON_IMPL under ``nnparity.python_impl``.

    Imported by path, so it is the same module whether nnparity runs from a
    checkout, an editable install or a wheel.
    """
    module = sys.modules.get(PYTHON_IMPL_MODULE)
    if module is not None:
        return module
    init, folder = PYTHON_IMPL / "__init__.py", [str(PYTHON_IMPL)]
    spec = importlib.util.spec_from_file_location(
        PYTHON_IMPL_MODULE, init, submodule_search_locations=folder
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[PYTHON_IMPL_MODULE] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[PYTHON_IMPL_MODULE]
        raise
    return module
