"""What is installed and the fix for what is not (nnparity/installation.py): the versions read
the way pip installed them, and the commands doctor and a run print.

An rpy2 of another version is a stand-in in a folder put first on PYTHONPATH: its package
and its distribution's metadata, shadowing the virtualenv's rpy2 in a child process only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from nnparity import paths
from parity_tests.test_bad_input import run_subprocess
from parity_tests.test_doctor import run_doctor
from parity_tests.test_supervision import one_line


def fake_rpy2(site: Path, robjects: str, versions: dict[str, str]) -> dict[str, str]:
    """rpy2 as 3.6 lays it out, in `site`: a top-level package without __version__, the code
    `robjects` for rpy2.robjects, and distributions' metadata (name -> version). The
    environment of a child process that imports it first."""
    for part in ("rpy2", "rpy2/robjects", "rpy2/situation"):
        (site / part).mkdir(parents=True, exist_ok=True)
        (site / part / "__init__.py").write_text("")
    (site / "rpy2/robjects/__init__.py").write_text(robjects)
    for name, version in versions.items():
        info = site / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        )
    return dict(os.environ, PYTHONPATH=str(site), COLUMNS="200")


RPY2_3_6 = {"rpy2": "3.6.9", "rpy2-rinterface": "3.6.7", "rpy2-robjects": "3.6.6"}
LOADS_R_4_5 = 'r = lambda code: ["R version 4.5.0 (a stand-in)"]\n'
NEEDS_R_4_5 = 'raise OSError("/usr/lib/R/lib/libR.so: undefined symbol: R_getVar")\n'


def test_doctor_accepts_an_rpy2_3_6_that_loads_its_r_and_names_its_version(tmp_path):
    done = run_doctor(fake_rpy2(tmp_path / "site", LOADS_R_4_5, RPY2_3_6))
    assert "ok      rpy2: rpy2 3.6.9 loads R version 4.5.0 (a stand-in)" in done.stdout, (
        "doctor refused an rpy2 3.6 that loads R (3.6's top-level rpy2 has no __version__):\n"
        + done.stdout
    )


def test_a_run_with_rpy2_3_6_on_r_4_2_is_refused_for_the_symbol_r_lacks(tmp_path):
    result = run_subprocess(fake_rpy2(tmp_path / "site", NEEDS_R_4_5, RPY2_3_6), tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    line = one_line(result.stderr, "rpy2 does not load", "R_getVar")
    assert "__version__" not in line, f"the reason given is not rpy2's real one: {line}"


def test_the_fingerprint_reads_rpy2s_version_without_rpy2_version_attribute(
    monkeypatch, r_available
):
    import rpy2

    from nnparity import fingerprint

    monkeypatch.delattr(rpy2, "__version__", raising=False)  # as rpy2 3.6's top-level package
    side = fingerprint.r_side()
    assert side.get("rpy2") == metadata.version("rpy2"), (
        f"the fingerprint's R side lost R for want of rpy2.__version__: {side}"
    )


RPY2_MIXED = {"rpy2": "3.5.17", "rpy2-rinterface": "3.6.7", "rpy2-robjects": "3.6.6"}
MIXED = "raise ImportError(\"cannot import name 'SexpVectorCCompatibleAbstract'\")\n"
DAMAGED = "this is not Python\n"


@pytest.mark.parametrize(
    "robjects, versions",
    [(MIXED, RPY2_MIXED), (DAMAGED, {"rpy2": "3.5.17"}), (NEEDS_R_4_5, RPY2_3_6)],
    ids=["3.5-over-3.6s-parts", "3.5-damaged", "3.6-on-r-4.2"],
)
def test_doctors_fix_for_an_rpy2_that_does_not_load_removes_every_part_then_installs(
    tmp_path, robjects, versions
):
    # pip's install of rpy2==3.5.17 over 3.6 leaves 3.6's two parts; over a damaged 3.5.17
    # it does nothing ("Requirement already satisfied"): the fix must not be that install.
    done = run_doctor(fake_rpy2(tmp_path / "site", robjects, versions))
    pip = f"{sys.executable} -m pip"
    fix = (
        f"fix: {pip} uninstall -y rpy2 rpy2-rinterface rpy2-robjects && "
        f"{pip} install 'rpy2==3.5.17'"
    )
    assert fix in [line.strip() for line in done.stdout.splitlines()], (
        f"doctor's fix for this rpy2 would leave it as it is; expected {fix!r} in:\n"
        + done.stdout
    )


def not_r(home: Path, *parts: str) -> Path:
    """A folder with some of an R home's parts, none of them R: bin/R and bin/Rscript are
    scripts that print "not R", lib/libR.so is empty."""
    for part in parts:
        (home / part).parent.mkdir(parents=True, exist_ok=True)
        (home / part).write_text("#!/bin/sh\necho not R\n" if part.startswith("bin/") else "")
        (home / part).chmod(0o755)
    return home


NOT_R_HOMES = {
    "bin-R-and-Rscript": ("bin/R", "bin/Rscript"),
    "bin-R-and-libR": ("bin/R", "lib/libR.so"),
    "every-part": ("bin/R", "bin/Rscript", "lib/libR.so"),
}


@pytest.mark.parametrize("parts", NOT_R_HOMES.values(), ids=NOT_R_HOMES.keys())
def test_doctor_calls_an_r_home_that_is_not_r_so_and_fixes_it_by_unsetting_it(tmp_path, parts):
    home = not_r(tmp_path / "not-R", *parts)
    done = run_doctor(dict(os.environ, R_HOME=str(home), COLUMNS="200"))
    assert done.returncode == 2, done.stdout
    assert f"MISSING R: R_HOME={home} is not an R home (" in done.stdout, (
        f"doctor took a folder with {', '.join(parts)} for R:\n{done.stdout}"
    )
    assert "fix: unset R_HOME" in done.stdout, done.stdout


@pytest.mark.parametrize("parts", NOT_R_HOMES.values(), ids=NOT_R_HOMES.keys())
def test_a_run_with_an_r_home_that_is_not_r_says_so_and_to_unset_it(tmp_path, parts):
    home = not_r(tmp_path / "not-R", *parts)
    result = run_subprocess(dict(os.environ, R_HOME=str(home)), tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    one_line(result.stderr, f"R_HOME={home} is not an R home (", ": unset R_HOME.")



#: A Python in which some distributions are not installed (`HIDDEN`): neither importable nor
#: in the installed distributions' metadata, as after `pip uninstall`; then nnparity's
#: command line, as the `nnparity` script starts it.
WITHOUT = """
import importlib.metadata, sys
HIDDEN = {hidden}
class Hide:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Hide())
version = importlib.metadata.version
def hidden_version(name):
    if name in HIDDEN:
        raise importlib.metadata.PackageNotFoundError(name)
    return version(name)
importlib.metadata.version = hidden_version
sys.argv = ["nnparity", *{argv}]
from nnparity.__main__ import main
main()
"""


def nnparity_without(hidden: set[str], *argv: str, cwd: Path) -> subprocess.CompletedProcess:
    script = WITHOUT.format(hidden=sorted(hidden), argv=list(argv))
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=cwd,
        env=dict(os.environ, COLUMNS="200", PYTHONPATH=str(Path.cwd())),
    )


PIP = f"{sys.executable} -m pip install"


@pytest.mark.parametrize(
    "hidden, argv, fix",
    [
        ({"rich"}, ["--help"], "'rich>=13'"),
        ({"rich"}, ["doctor"], "'rich>=13'"),
        ({"numpy"}, ["run", "--epochs", "3"], "'numpy>=1.26'"),
        ({"pandas"}, ["run", "--epochs", "3", "--save-stats", "s.csv"], "'pandas>=2.0'"),
        ({"openpyxl"}, ["workbook", "--out", "w.xlsx"], "'openpyxl>=3.1'"),
        ({"rich", "pandas"}, ["--help"], "'pandas>=2.0' 'rich>=13'"),
    ],
    ids=["rich-help", "rich-doctor", "numpy-run", "pandas-save-stats", "openpyxl-workbook",
         "two-missing"],
)
def test_a_missing_dependency_is_one_line_with_the_pip_command_and_exit_2(
    tmp_path, hidden, argv, fix
):
    done = nnparity_without(hidden, *argv, cwd=tmp_path)
    assert done.returncode == 2, (
        f"nnparity {' '.join(argv)} without {', '.join(sorted(hidden))}: exit {done.returncode}"
        f"\n{done.stderr}"
    )
    line = one_line(done.stderr, "which ", "not installed: run ")
    assert line.endswith(f"{PIP} {fix}"), f"not the command that installs them: {line}"


def test_doctor_names_the_declared_dependencies_that_are_missing_and_cannot_pass(tmp_path):
    done = nnparity_without({"pandas", "matplotlib", "openpyxl"}, "doctor", cwd=tmp_path)
    lines = [line.strip() for line in done.stdout.splitlines()]
    assert done.returncode == 2, (
        f"doctor passed without pandas, matplotlib, openpyxl:\n{done.stdout}"
    )
    assert "MISSING Python packages: not installed: pandas, matplotlib, openpyxl" in lines, (
        done.stdout
    )
    assert f"fix: {PIP} 'pandas>=2.0' 'matplotlib>=3.8' 'openpyxl>=3.1'" in lines, done.stdout


def test_setup_system_as_a_user_without_sudo_says_to_run_it_as_root_and_fails(tmp_path):
    """A PATH where `id -u` says 1000, dpkg-query finds nothing installed, apt-get exists and
    sudo does not."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shims = {"id": "echo 1000", "dpkg-query": "exit 1", "apt-get": "exit 0"}
    for name, body in shims.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    for tool in ("grep", "dirname", "basename"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    script = paths.BASE / "scripts" / "setup-system.sh"
    done = subprocess.run(
        [shutil.which("bash"), str(script)], capture_output=True, text=True, timeout=60,
        env={"PATH": str(bin_dir)},
    )
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, (
        f"setup-system.sh without root or sudo: exit {done.returncode}\n{done.stderr}"
    )
    assert "not root and no sudo" in lines[0] and f"su -c 'bash {script}'" in lines[0], lines[0]



def doctors_fix(done: subprocess.CompletedProcess, check: str) -> str:
    """The command doctor printed under its line for `check` (R, rpy2, LibreOffice)."""
    lines = done.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith(f"MISSING {check}:"))
    fix = lines[at + 1].strip()
    assert fix.startswith("fix: "), f"doctor gave no fix for {check}:\n{done.stdout}"
    return fix.removeprefix("fix: ")


def test_a_run_without_r_gives_the_fix_doctor_gives(tmp_path):
    bin_dir = tmp_path / "bin"  # Python's folder, apt-get where there is one, and no R
    bin_dir.mkdir()
    if shutil.which("apt-get"):
        (bin_dir / "apt-get").symlink_to(shutil.which("apt-get"))
    env = {k: v for k, v in os.environ.items() if k != "R_HOME"}
    env.update(PATH=f"{os.path.dirname(sys.executable)}{os.pathsep}{bin_dir}", COLUMNS="200")
    fix = doctors_fix(run_doctor(env), "R")
    result = run_subprocess(env, tmp_path)
    line = one_line(result.stderr, "R is not installed")
    assert line.endswith(f": {fix}."), f"the run's fix is not doctor's ({fix}): {line}"


def test_a_run_with_an_rpy2_that_does_not_load_gives_the_fix_doctor_gives(tmp_path):
    env = fake_rpy2(tmp_path / "site", NEEDS_R_4_5, RPY2_3_6)
    fix = doctors_fix(run_doctor(env), "rpy2")
    line = one_line(run_subprocess(env, tmp_path).stderr, "rpy2 does not load", "R 4.")
    assert line.endswith(f": run {fix}."), f"the run's fix is not doctor's ({fix}): {line}"
    assert "rpy2 3.6 needs R 4.5 or newer" in line, line


def only_libreoffice(tmp_path: Path) -> dict[str, str]:
    """A PATH with Python's folder, apt-get where there is one, and a `libreoffice` but no
    `soffice` (what run --spreadsheet starts)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "libreoffice").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "libreoffice").chmod(0o755)
    if shutil.which("apt-get"):
        (bin_dir / "apt-get").symlink_to(shutil.which("apt-get"))
    env = {k: v for k, v in os.environ.items() if k != "NNPARITY_SOFFICE"}
    env.update(PATH=f"{bin_dir}{os.pathsep}{os.path.dirname(sys.executable)}", COLUMNS="200")
    return env


def test_doctor_does_not_take_libreoffice_without_soffice_for_what_a_spreadsheet_run_needs(
    tmp_path,
):
    done = run_doctor(only_libreoffice(tmp_path))
    assert "MISSING LibreOffice: no soffice" in done.stdout, (
        f"doctor passed LibreOffice where run --spreadsheet finds no soffice:\n{done.stdout}"
    )
    fix = doctors_fix(done, "LibreOffice")
    assert fix.endswith("libreoffice-calc-nogui python3-uno"), f"python3-uno not in: {fix}"


def test_a_spreadsheet_run_without_soffice_gives_the_fix_doctor_gives(tmp_path):
    env = only_libreoffice(tmp_path)
    fix = doctors_fix(run_doctor(env), "LibreOffice")
    result = subprocess.run(
        [sys.executable, "-m", "nnparity", "run", "--epochs", "2", "--spreadsheet"],
        cwd=paths.BASE, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    line = one_line(result.stderr, "LibreOffice (soffice) is not installed")
    assert line.endswith(f": {fix}"), f"the run's fix is not doctor's ({fix}): {line}"
