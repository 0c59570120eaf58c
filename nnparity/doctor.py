"""`nnparity doctor`: what a run needs, what the checks need, and the command that fixes each gap.

A run needs R and an rpy2 that loads with it. rpy2 is checked in a child
process: an rpy2 built for another R can crash the process that loads it, and
doctor must live to say so. The test tools (testthat, lintr, Chromium,
LibreOffice) are reported too; their absence does not stop a run.

Exit code 0: everything a run needs is there. 2: it is not (no R, or no rpy2
that loads with it); each missing piece is printed with the command that fixes
it.

"Unable to determine R home" is the commonest rpy2 failure: rpy2 finds R
through the R_HOME variable or, when it is unset, by running `R RHOME`; with
neither (R not installed, or not on PATH, and R_HOME unset or wrong) it stops
with that message. Doctor says which of the two is the case.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .command import BAD_INPUT, OK, write_out
from .installation import (
    R_HOME_EXPLAINED,
    TIMEOUT,
    BadProgram,
    apt,
    declared_dependencies,
    find_r,
    libreoffice_fix,
    missing_dependencies,
    not_an_r_home,
    office_env,
    pip,
    r_facts,
    r_fix,
    r_version,
    requirement_name,
    rpy2_advice,
    rpy2_fix,
    rpy2_for,
    rpy2_version,
    soffice,
    uno_python,
    unset_r_home,
)

R_HOME_WRONG = (
    "rpy2 uses R_HOME first and would stop with \"cannot load library '{home}/lib/libR.so'\"; "
    "R_HOME points to {home}, which holds no bin/R"
)


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""  # the one command that fixes it, when not ok
    needed_by: str = "a run"  # "a run", or the tox env that needs it
    checked: bool = True  # False: could not be checked without what is missing above

    @property
    def blocks_run(self) -> bool:
        return self.checked and not self.ok and self.needed_by == "a run"


RPY2_PROBE = """
import rpy2.robjects as robjects
print(robjects.r("R.version.string")[0])
"""


def rpy2_loads() -> tuple[bool, str]:
    """Start R through rpy2 in a child process (a crash there cannot take doctor down)."""
    try:
        done = subprocess.run(  # -P: a csv.py in the current folder is not the standard one
            [sys.executable, "-P", "-c", RPY2_PROBE],
            capture_output=True, text=True, timeout=TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        return False, f"starting R through rpy2 took over {TIMEOUT} s"
    if done.returncode == 0:
        r = (done.stdout.strip().splitlines() or ["?"])[-1]
        return True, f"rpy2 {rpy2_version()} loads {r}"
    if done.returncode < 0:
        return False, f"the process loading rpy2 crashed (signal {-done.returncode})"
    last = [line for line in done.stderr.strip().splitlines() if line.strip()]
    return False, last[-1].strip() if last else f"exit code {done.returncode}"


def diagnose() -> list[Check]:
    checks = [Check("Python", True, f"{platform.python_version()} ({sys.executable})")]
    checks.append(check_dependencies())
    r_checks, facts = check_r()
    checks += r_checks
    version = r_version(facts)
    checks.append(check_rpy2(facts, version))
    if facts.get("blas"):
        blas = f"R: {facts['blas']} (LAPACK {facts.get('lapack', '?')}); numpy: {numpy_blas()}"
        checks.append(Check("BLAS", True, blas))
    for package, env in (("testthat", "tox -e rtests"), ("lintr", "tox -e lint")):
        fix = apt(f"r-cran-{package}")
        if not version:
            checks.append(Check(package, False, "not checked: needs R", fix, env, checked=False))
        else:
            found = facts.get(package, "")
            checks.append(Check(package, bool(found), found or "R package not installed", fix, env))
    chromium = ("chromium", "chromium-browser")
    checks.append(program("Chromium", chromium, "chromium", "tox -e browser"))
    checks.append(check_libreoffice())
    return checks


def check_dependencies() -> Check:
    """The Python packages nnparity declares (rpy2's own check follows R's)."""
    missing = missing_dependencies()
    if missing:
        names = ", ".join(requirement_name(r) for r in missing)
        return Check("Python packages", False, f"not installed: {names}", pip(*missing))
    found = [requirement_name(r) for r in declared_dependencies()]
    return Check("Python packages", True, ", ".join(n for n in found if n != "rpy2"))


def check_r() -> tuple[list[Check], dict[str, str]]:
    """R and R_HOME, and what R says about itself."""
    r, how = find_r()
    home = os.environ.get("R_HOME")
    if r is None:
        why = (
            R_HOME_WRONG.format(home=home)
            if home
            else R_HOME_EXPLAINED.format(why="R_HOME is unset and there is no `R` on PATH")
        )
        fix = unset_r_home() if home else r_fix()
        detail = f"not found ({how}). {why}"
        return [Check("R", False, detail, fix)], {}
    facts = r_facts(r)
    wrong_home = not_an_r_home(home, facts) if home else None
    if wrong_home:
        return [Check("R", False, wrong_home, unset_r_home())], {}
    if "error" in facts:
        return [Check("R", False, facts["error"], r_fix())], {}
    found = f"{facts.get('version', '?')} at {facts.get('home', '?')} ({how})"
    return [Check("R", True, found), r_home_check(facts.get("home", ""))], facts


def check_rpy2(facts: dict[str, str], version: tuple[int, ...]) -> Check:
    rpy2 = rpy2_version()
    if rpy2 is None:
        return Check("rpy2", False, "not installed", pip(rpy2_for(version)))
    if not version:
        return Check(
            "rpy2", False, f"{rpy2} installed; not loaded: it needs R (above)", checked=False
        )
    loads, said = rpy2_loads()
    if loads:
        return Check("rpy2", True, said)
    why = f"{rpy2} does not load with R {facts['version']}: {rpy2_advice(said, version)}"
    return Check("rpy2", False, why, rpy2_fix(version))


def r_home_check(home: str) -> Check:
    """Whether R_HOME, if set, agrees with the R found; rpy2 uses R_HOME first."""
    value = os.environ.get("R_HOME")
    if not value:
        return Check("R_HOME", True, f"unset: rpy2 asks `R RHOME`, which says {home}")
    if Path(value).resolve() != Path(home).resolve():
        return Check(
            "R_HOME", False, f"{value}, but that R says its home is {home}", f"export R_HOME={home}"
        )
    return Check("R_HOME", True, value)


def numpy_blas() -> str:
    try:
        import numpy as np

        blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception as error:  # numpy's build information is a nicety, never a failure
        return f"unknown ({type(error).__name__})"


def program(name: str, commands: tuple[str, ...], package: str, needed_by: str) -> Check:
    found = next((shutil.which(c) for c in commands if shutil.which(c)), None)
    return Check(
        name,
        found is not None,
        found or f"not found (looked for {', '.join(commands)})",
        apt(package),
        needed_by,
    )


def check_libreoffice() -> Check:
    """What `run --spreadsheet` starts (nnparity/calc.py): soffice, and a Python with uno."""
    from .calc import BadSetting, calc_timeout

    try:
        office, python = soffice(), uno_python()
        calc_timeout()  # NNPARITY_CALC_TIMEOUT, which a run reads
        if office and os.environ.get("NNPARITY_SOFFICE"):
            office_answers(office)
    except BadProgram as error:  # an NNPARITY_SOFFICE or NNPARITY_UNO_PYTHON that cannot work
        return Check("LibreOffice", False, str(error), f"unset {error.variable}",
                     "tox -e spreadsheet, nnparity run --spreadsheet")
    except BadSetting as error:
        return Check("LibreOffice", False, str(error), "unset NNPARITY_CALC_TIMEOUT",
                     "tox -e spreadsheet, nnparity run --spreadsheet")
    if office and python:
        found = f"{office}; LibreOffice's uno module in {python}"
    elif not office:
        found = "no soffice (NNPARITY_SOFFICE unset, none on PATH)"
    else:
        found = f"{office}, but no Python with LibreOffice's uno module (python3-uno)"
    return Check("LibreOffice", bool(office and python), found, libreoffice_fix(),
                 "tox -e spreadsheet, nnparity run --spreadsheet")


def office_answers(office: str) -> None:
    """The soffice a user named (NNPARITY_SOFFICE) says its version, as LibreOffice's does;
    BadProgram otherwise (/bin/false is a program, and no LibreOffice)."""
    try:
        done = subprocess.run([office, "--version"], capture_output=True, timeout=60,
                              env=office_env())
    except (OSError, subprocess.TimeoutExpired):
        done = None
    if done is None or done.returncode != 0 or b"LibreOffice" not in done.stdout:
        raise BadProgram(f"NNPARITY_SOFFICE={office} does not say a LibreOffice version "
                         "(soffice --version): give the path of LibreOffice's soffice, or "
                         "unset it", "NNPARITY_SOFFICE")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "doctor",
        help="check what a run needs (R, rpy2, BLAS) and the checks need, "
        "with the command that fixes each missing piece",
    )
    p.set_defaults(handler=command_doctor)


def command_doctor(args, console, err) -> int:
    def say(text: str) -> None:
        console.print(text, highlight=False, markup=False, soft_wrap=True)

    checks = diagnose()
    blocking = [c.name for c in checks if c.blocks_run]
    others = [c.name for c in checks if not c.ok]

    def show() -> None:
        for check in checks:
            mark = "ok     " if check.ok else "MISSING" if check.checked else "?      "
            need = "" if check.needed_by == "a run" else f" (needed by {check.needed_by})"
            say(f"{mark} {check.name}: {check.detail}{need}")
            if not check.ok and check.fix:
                say(f"        fix: {check.fix}")
        if blocking:
            say(f"nnparity cannot run here: {', '.join(blocking)} missing (fixes above).")
        else:
            say(
                f"everything a run needs is there"
                f"{'; missing for some checks: ' if others else ''}{', '.join(others)}."
            )

    write_out(console, err, show)  # a full or closed stdout: one line; the code as found
    return BAD_INPUT if blocking else OK
