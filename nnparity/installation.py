"""What is installed, and the command that fixes what is not: the one place `nnparity doctor`
and the run's own messages take them from.

This module imports nothing beyond the standard library: it speaks when numpy, rich or
rpy2 cannot be imported.
"""

from __future__ import annotations

from importlib import metadata


def installed(distribution: str) -> str | None:
    """The installed version of a distribution (as pip names it), or None."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def rpy2_version() -> str | None:
    """rpy2's version as pip installed it. Not ``rpy2.__version__``: from 3.6 on the top-level
    ``rpy2`` is a namespace package without one (its code comes in rpy2-rinterface and
    rpy2-robjects, each with a version of its own, under the rpy2 meta-package)."""
    return installed("rpy2")


def rpy2_is_3_5() -> bool:
    """Whether the rpy2 installed is 3.5, in one piece (no 3.6 part beside it)."""
    version = rpy2_version() or ""
    return version.startswith("3.5.") and installed("rpy2-rinterface") is None
