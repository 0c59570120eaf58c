"""What is installed, and the command that fixes what is not: the one place `nnparity doctor`
and the run's own messages take them from.

This module imports nothing beyond the standard library: it speaks when numpy, rich or
rpy2 cannot be imported.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

#: rpy2-rinterface 3.6.6 and later needs R 4.5; with R 4.2 it fails on "undefined symbol: R_getVar".
RPY2_FOR_OLD_R = "rpy2==3.5.17"
RPY2_FOR_NEW_R = "rpy2>=3.6"
NEW_R = (4, 5)
#: Seconds a child process may take to start R (R and rpy2 start in about a second).
TIMEOUT = 120
R_HOME_EXPLAINED = (
    'rpy2 would stop with "Unable to determine R home" (then "r_home is None"): it finds R '
    "through R_HOME or, when R_HOME is unset, by running `R RHOME`; {why}"
)
#: rpy2's distributions: one up to 3.5; from 3.6 a meta-package over its two parts.
RPY2_PARTS = ("rpy2", "rpy2-rinterface", "rpy2-robjects")


def installed(distribution: str) -> str | None:
    """The installed version of a distribution (as pip names it), or None."""
    from importlib import metadata  # 25 ms of imports: not in every run's start

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


def r_fix() -> str:
    """The command that installs R."""
    return apt("r-base-core")


#: What `run --spreadsheet` needs: LibreOffice's soffice, and a Python with its uno module.
LIBREOFFICE_PACKAGES = ("libreoffice-calc-nogui", "python3-uno")


def libreoffice_fix() -> str:
    return apt(*LIBREOFFICE_PACKAGES)


class BadProgram(Exception):
    """NNPARITY_SOFFICE or NNPARITY_UNO_PYTHON (``variable``) names no program that does what
    it is for."""

    def __init__(self, message: str, variable: str):
        super().__init__(message)
        self.variable = variable


def named_program(variable: str, what: str) -> str | None:
    """The program an environment variable names (None when it is unset or empty); BadProgram
    when there is no program to run there: nothing, a folder, a file without permission to run."""
    value = os.environ.get(variable)
    if not value:
        return None
    found = value if os.sep in value else shutil.which(value)
    if found is None or not os.path.exists(found):
        why = "does not exist" if os.sep in value else "is not on PATH"
    elif os.path.isdir(found):
        why = "is a folder"
    elif not os.access(found, os.X_OK):
        why = "is not executable"
    else:
        return found
    raise BadProgram(f"{variable}={value} {why}: give the path of {what}, or unset it",
                     variable)


def soffice() -> str | None:
    """The soffice `run --spreadsheet` starts: NNPARITY_SOFFICE, or soffice on PATH (Debian's
    `libreoffice` alone is not enough: it is not what is started). BadProgram for an
    NNPARITY_SOFFICE that names nothing to run."""
    return named_program("NNPARITY_SOFFICE", "LibreOffice's soffice") or shutil.which("soffice")


#: Where a Python with LibreOffice's uno module is looked for, after NNPARITY_UNO_PYTHON.
UNO_PYTHONS = ("/usr/bin/python3", "/usr/lib/libreoffice/program/python")
#: Seconds a Python may take to answer `import uno` (it takes well under one).
UNO_IMPORT_TIMEOUT = 60


def uno_python() -> str | None:
    """A Python that can `import uno` (Debian's python3 with python3-uno), or None.

    NNPARITY_UNO_PYTHON, when set, is the one: BadProgram when it cannot import uno."""
    named = named_program("NNPARITY_UNO_PYTHON", "a Python with LibreOffice's uno module")
    if named:
        problem = cannot_import_uno(named)
        if problem:
            raise BadProgram(f"NNPARITY_UNO_PYTHON={named} {problem}: give the path of a Python "
                             "with LibreOffice's uno module, or unset it", "NNPARITY_UNO_PYTHON")
        return named
    for python in filter(None, [*UNO_PYTHONS, shutil.which("python3")]):
        if Path(python).is_file() and cannot_import_uno(python) is None:
            return python
    return None


def cannot_import_uno(python: str) -> str | None:
    """Why `python` cannot import LibreOffice's uno module, or None when it can."""
    try:
        done = subprocess.run([python, "-c", "import uno; print('uno')"], capture_output=True,
                              timeout=UNO_IMPORT_TIMEOUT, env=office_env())
    except subprocess.TimeoutExpired:
        return f"did not answer `import uno` within {UNO_IMPORT_TIMEOUT} s"
    except OSError as error:
        return f"does not run ({error.strerror or error})"
    # its answer, not its exit status alone: /usr/bin/true exits 0 and imports nothing
    said = done.stdout.decode(errors="replace").split()
    return None if done.returncode == 0 and said[-1:] == ["uno"] else "cannot import uno"


def office_env() -> dict[str, str]:
    """The environment for LibreOffice's processes: without LD_LIBRARY_PATH.

    An embedded R sets LD_LIBRARY_PATH to its own libraries, and with it Debian's
    pyuno fails to load ("libreglo.so: cannot open shared object file").
    LibreOffice, a system package, needs none.
    """
    return {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}


def this_pip() -> str:
    """pip of the Python that runs nnparity: a bare `pip` may be another Python's."""
    return f"{shlex.quote(sys.executable)} -m pip"


def pip(*requirements: str) -> str:
    quoted = " ".join(f"'{r}'" for r in requirements)
    return f"{this_pip()} install {quoted}"


def rpy2_for(version: tuple[int, ...]) -> str:
    """The rpy2 that loads with this R."""
    return RPY2_FOR_NEW_R if version and version[:2] >= NEW_R else RPY2_FOR_OLD_R


def rpy2_advice(error: str, version: tuple[int, ...]) -> str:
    """One sentence on why rpy2 did not load, from the last line it printed."""
    if "R_getVar" in error or rpy2_too_new(version):
        return (
            f"{error} (rpy2 3.6 needs R 4.5 or newer; R {'.'.join(map(str, version))} needs "
            f"{RPY2_FOR_OLD_R})"
        )
    if "Unable to determine R home" in error or "r_home is None" in error:
        return R_HOME_EXPLAINED.format(why="neither worked in the child process") + f" ({error})"
    return error


def rpy2_too_new(version: tuple[int, ...]) -> bool:
    """Whether the rpy2 installed is 3.6 or later and R `version` older than 4.5, which it needs
    (it fails on R 4.2 for a symbol R lacks: R_getVar, or Rf_findVarInFrame)."""
    rpy2 = tuple(int(p) for p in re.findall(r"\d+", rpy2_version() or "")[:2])
    return bool(version) and version[:2] < NEW_R and rpy2 >= (3, 6)


def rpy2_fix(version: tuple[int, ...]) -> str:
    """The one command line that gives this Python the rpy2 for R `version`. Where an rpy2 is
    installed (and does not load), all its parts go first: pip's install of rpy2 3.5 over 3.6
    removes only the meta-package, leaving 3.6's rpy2-rinterface and rpy2-robjects over 3.5's
    files, and a damaged rpy2 of the right version is "Requirement already satisfied"."""
    wanted = pip(rpy2_for(version))
    if not any(installed(part) for part in RPY2_PARTS):
        return wanted
    return f"{this_pip()} uninstall -y {' '.join(RPY2_PARTS)} && {wanted}"


def find_r() -> tuple[Path | None, str]:
    """The R executable rpy2 would use, and how it was found."""
    home = os.environ.get("R_HOME")
    if home:
        r = Path(home) / "bin" / "R"
        return (r, f"R_HOME={home}") if r.is_file() else (None, f"R_HOME={home} has no bin/R")
    on_path = shutil.which("R")
    return (Path(on_path), "R on PATH") if on_path else (None, "no R on PATH, R_HOME unset")


def r_facts(r: Path) -> dict[str, str]:
    """R's version, home, BLAS, LAPACK and the test packages, from R itself (Rscript beside R)."""
    rscript = r.parent / "Rscript"
    code = (
        'cat("version", paste(R.version$major, R.version$minor, sep = "."), "\\n")\n'
        'cat("home", R.home(), "\\n")\n'
        'cat("blas", extSoftVersion()[["BLAS"]], "\\n")\n'
        'cat("lapack", La_library(), "\\n")\n'
        'for (p in c("testthat", "lintr")) cat(p, if (requireNamespace(p, quietly = TRUE))'
        ' as.character(packageVersion(p)) else "", "\\n")\n'
    )
    try:
        done = subprocess.run(
            [str(rscript), "--vanilla", "-e", code], capture_output=True, text=True, timeout=TIMEOUT
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return {"error": f"{rscript} did not run ({type(error).__name__}: {error})"}
    if done.returncode != 0:
        return {"error": f"{rscript} failed: {done.stderr.strip()[-300:]}"}
    facts = {}
    for line in done.stdout.splitlines():
        key, _, value = line.partition(" ")
        facts[key] = value.strip()
    return facts


def r_version(facts: dict[str, str]) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in facts["version"].split("."))
    except (KeyError, ValueError):
        return ()


def r_home_lacks(home: str) -> Path | None:
    """The part of an R home that `home` lacks, or None: bin/R, or (on Linux) lib/libR.so,
    the library rpy2 loads."""
    parts = ["bin/R", *(["lib/libR.so"] if sys.platform.startswith("linux") else [])]
    return next((Path(home, p) for p in parts if not Path(home, p).is_file()), None)


def not_an_r_home(home: str, facts: dict[str, str]) -> str | None:
    """Why R_HOME=`home` is no R home rpy2 can start, or None; `facts`: what its R said
    (r_facts), which must include R's version."""
    lacks = r_home_lacks(home)
    if lacks is not None:
        why = f"no {lacks}"
    elif "error" in facts or not r_version(facts):
        why = facts.get("error") or f"{Path(home, 'bin')} does not answer as R does"
    else:
        return None
    return f"R_HOME={home} is not an R home ({why})"


def unset_r_home() -> str:
    """The fix for an R_HOME that is no R home: unset it, and install R where there is none."""
    return "unset R_HOME" if shutil.which("R") else f"unset R_HOME && {apt('r-base-core')}"



def requirement_name(requirement: str) -> str:
    """The distribution a requirement names ("numpy>=1.26" -> "numpy")."""
    return re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement.strip()).group(0)


def declared_dependencies() -> list[str]:
    """What nnparity requires (its extras' aside), as the installed distribution declares it;
    in a checkout that is not installed, as pyproject.toml does."""
    import tomllib
    from importlib import metadata

    try:
        requires = metadata.requires("nnparity") or []
    except metadata.PackageNotFoundError:
        pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
        try:
            requires = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
        except (OSError, KeyError, tomllib.TOMLDecodeError):
            return []
    return [r.split(";")[0].strip() for r in requires if "extra ==" not in r]


def missing_dependencies() -> list[str]:
    """The declared requirements of which nothing is installed, rpy2 aside: which rpy2 to
    install depends on R (rpy2_fix), and doctor and the R bridge say so."""
    return [
        r for r in declared_dependencies()
        if requirement_name(r) != "rpy2" and installed(requirement_name(r)) is None
    ]


def missing_dependency(error: ModuleNotFoundError) -> str | None:
    """One line for a declared dependency that cannot be imported, with the command that
    installs it and any other that is missing; None for another module. (Each dependency's
    module is named as its distribution.)"""
    wanted = {requirement_name(r).lower(): r for r in declared_dependencies()}
    module = (error.name or "").partition(".")[0].lower()
    if module not in wanted:
        return None
    missing = missing_dependencies()
    if not missing:  # installed, yet not importable: its files damaged or removed
        return (f"{module} does not import ({error}): run "
                f"{this_pip()} install --force-reinstall '{wanted[module]}'")
    names = ", ".join(requirement_name(r) for r in missing)
    verb = "is" if len(missing) == 1 else "are"
    return f"nnparity needs {names}, which {verb} not installed: run {pip(*missing)}"


def rpy2_not_loading(error: str, facts: dict[str, str]) -> str:
    """The one sentence for an rpy2 that did not load in this process (`error`: its type and
    first line), and its fix: what doctor says, for the R found (`facts`: r_facts)."""
    version = r_version(facts)
    return (
        f"rpy2 does not load with the R found (R {facts.get('version', '?')}, rpy2 "
        f"{rpy2_version() or 'not installed'}: {rpy2_advice(error, version)}): "
        f"run {rpy2_fix(version)}"
    )
