"""The build backend: setuptools' own, with one notice of its editable installs silenced.

The wheel maps the top-level folders python_impl/, r_impl/ and fixtures/ into the
nnparity package (pyproject.toml). An editable install of such a layout goes
through setuptools' import finder, and setuptools then prints a ten-line notice
on every editable install ("Editable installation. Please be careful with
folders in your working directory with the same name as your package"). It is
information, not a problem: the only folder named like an import name this
project installs is nnparity/ itself, which is the source the finder points to.
Every other hook, and every other warning, is setuptools' unchanged.
"""

from __future__ import annotations

import warnings

from setuptools import build_meta
from setuptools.build_meta import *  # noqa: F403  (every PEP 517/660 hook, unchanged)

try:
    from setuptools.warnings import InformationOnly
except ImportError:  # setuptools before 67 had no such category
    InformationOnly = None


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    with warnings.catch_warnings():
        if InformationOnly is not None:
            warnings.simplefilter("ignore", InformationOnly)
        return build_meta.build_editable(wheel_directory, config_settings, metadata_directory)
