"""What is installed, and the command that fixes what is not: the one place `nnparity doctor`
and the run's own messages take them from.

This module imports nothing beyond the standard library: it speaks when numpy, rich or
rpy2 cannot be imported.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from importlib import metadata

#: rpy2-rinterface 3.6.6 and later needs R 4.5; with R 4.2 it fails on "undefined symbol: R_getVar".
RPY2_FOR_OLD_R = "rpy2==3.5.17"
RPY2_FOR_NEW_R = "rpy2>=3.6"
NEW_R = (4, 5)
#: rpy2's distributions: one up to 3.5; from 3.6 a meta-package over its two parts.
RPY2_PARTS = ("rpy2", "rpy2-rinterface", "rpy2-robjects")


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


def sudo() -> str:
    return "" if os.geteuid() == 0 else "sudo "


def apt(*packages: str) -> str:
    if shutil.which("apt-get") is None:
        return f"install {' and '.join(packages)} with your system's package manager"
    return f"{sudo()}apt-get install -y {' '.join(packages)}"


def this_pip() -> str:
    """pip of the Python that runs nnparity: a bare `pip` may be another Python's."""
    return f"{shlex.quote(sys.executable)} -m pip"


def pip(*requirements: str) -> str:
    quoted = " ".join(f"'{r}'" for r in requirements)
    return f"{this_pip()} install {quoted}"


def rpy2_for(version: tuple[int, ...]) -> str:
    """The rpy2 that loads with this R."""
    return RPY2_FOR_NEW_R if version and version[:2] >= NEW_R else RPY2_FOR_OLD_R


def rpy2_fix(version: tuple[int, ...]) -> str:
    """The one command line that gives this Python the rpy2 for R `version`. Where an rpy2 is
    installed (and does not load), all its parts go first: pip's install of rpy2 3.5 over 3.6
    removes only the meta-package, leaving 3.6's rpy2-rinterface and rpy2-robjects over 3.5's
    files, and a damaged rpy2 of the right version is "Requirement already satisfied"."""
    wanted = pip(rpy2_for(version))
    if not any(installed(part) for part in RPY2_PARTS):
        return wanted
    return f"{this_pip()} uninstall -y {' '.join(RPY2_PARTS)} && {wanted}"
