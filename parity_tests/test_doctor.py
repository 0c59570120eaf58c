"""`nnparity doctor`: exit 0 where a run can work, 2 with the fix where it cannot.

Doctor runs in a child process here, as a user runs it, so the tests can hide R
(a PATH without it, R_HOME unset) without touching this process's embedded R.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from nnparity import doctor


def run_doctor(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "nnparity", "doctor"], capture_output=True, text=True, env=env,
        timeout=300,
    )


def test_doctor_exits_0_on_a_set_up_machine_and_says_which_r_and_rpy2_it_found():
    done = run_doctor(dict(os.environ, COLUMNS="200"))
    assert done.returncode == 0, f"doctor says this machine cannot run:\n{done.stdout}{done.stderr}"
    lines = done.stdout.splitlines()
    assert any(line.startswith("ok      R: 4.") for line in lines), done.stdout
    assert any(line.startswith("ok      rpy2: rpy2 ") and " loads R " in line for line in lines), (
        done.stdout
    )
    assert "everything a run needs is there" in done.stdout


def test_doctor_with_r_hidden_exits_2_explains_unable_to_determine_r_home_and_gives_the_fix(
    tmp_path,
):
    """PATH holds only Python's folder (and apt-get, so the fix is Debian's); R_HOME is unset."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    apt_get = shutil.which("apt-get")
    if apt_get:
        (bin_dir / "apt-get").symlink_to(apt_get)
    env = {k: v for k, v in os.environ.items() if k != "R_HOME"}
    env.update(PATH=f"{os.path.dirname(sys.executable)}{os.pathsep}{bin_dir}", COLUMNS="200")
    done = run_doctor(env)
    assert done.returncode == 2, f"doctor should fail without R:\n{done.stdout}{done.stderr}"
    assert "MISSING R: not found" in done.stdout, done.stdout
    assert "Unable to determine R home" in done.stdout, "doctor must explain rpy2's R home error"
    assert "R_HOME is unset and there is no `R` on PATH" in done.stdout, done.stdout
    expected = "apt-get install -y r-base-core" if apt_get else "install r-base-core"
    assert f"fix: {'' if os.geteuid() == 0 or not apt_get else 'sudo '}{expected}" in done.stdout
    assert "nnparity cannot run here: R" in done.stdout
    assert not done.stderr, f"doctor printed errors of its own:\n{done.stderr}"


def test_doctor_with_r_home_pointing_nowhere_says_so_and_fixes_it_by_unsetting_it(tmp_path):
    if shutil.which("R") is None:
        raise AssertionError("this test needs R on PATH (make setup installs it)")
    env = dict(os.environ, R_HOME=str(tmp_path / "no-R-here"), COLUMNS="200")
    done = run_doctor(env)
    assert done.returncode == 2, done.stdout
    assert f"R_HOME points to {tmp_path / 'no-R-here'}, which holds no bin/R" in done.stdout
    assert f"cannot load library '{tmp_path / 'no-R-here'}/lib/libR.so'" in done.stdout
    assert "fix: unset R_HOME" in done.stdout, done.stdout


def test_rpy2_is_3_5_17_for_r_before_4_5_and_3_6_from_r_4_5_on():
    assert doctor.rpy2_for((4, 2, 2)) == "rpy2==3.5.17"
    assert doctor.rpy2_for((4, 5, 0)) == "rpy2>=3.6"
    assert doctor.rpy2_for(()) == "rpy2==3.5.17", "unknown R: the bookworm choice"


def test_an_rpy2_too_new_for_r_is_explained_by_the_versions_not_only_by_the_symbol():
    said = doctor.rpy2_advice("OSError: undefined symbol: R_getVar", (4, 2, 2))
    assert "rpy2 3.6 needs R 4.5 or newer" in said and "R 4.2.2 needs rpy2==3.5.17" in said


def test_a_learners_csv_py_in_the_current_folder_is_not_blamed_on_rpy2(tmp_path):
    # doctor tries rpy2 in a child Python, which put the current folder first on its path.
    (tmp_path / "csv.py").write_text('raise RuntimeError("the learner\'s csv.py")\n')
    done = subprocess.run(
        [sys.executable, "-P", "-m", "nnparity", "doctor"], capture_output=True, text=True,
        cwd=tmp_path, timeout=300, env=dict(os.environ, COLUMNS="200"),
    )
    assert "learner's csv.py" not in done.stdout and done.returncode == 0, done.stdout


def test_doctor_names_an_nnparity_soffice_that_is_not_there_and_fixes_it_by_unsetting_it(
    monkeypatch, tmp_path
):
    """It said 'ok LibreOffice' for any NNPARITY_SOFFICE, where a spreadsheet run then failed."""
    monkeypatch.setenv("NNPARITY_SOFFICE", str(tmp_path / "no-soffice"))
    check = doctor.check_libreoffice()
    assert not check.ok and "NNPARITY_SOFFICE" in check.detail, (
        f"doctor should say NNPARITY_SOFFICE names nothing: {check.detail}"
    )
    assert check.fix == "unset NNPARITY_SOFFICE", check.fix


@pytest.mark.parametrize("variable, value, said", [
    ("NNPARITY_SOFFICE", "false", "does not say a LibreOffice version"),
    ("NNPARITY_UNO_PYTHON", "true", "cannot import uno"),
    ("NNPARITY_CALC_TIMEOUT", "abc", "is not a positive number of seconds"),
], ids=["soffice-that-is-no-libreoffice", "a-python-that-answers-nothing", "a-bad-timeout"])
def test_doctor_names_a_libreoffice_setting_a_spreadsheet_run_could_not_use(
    monkeypatch, variable, value, said
):
    """It said 'ok LibreOffice' for /bin/false, /usr/bin/true and a timeout of 'abc': a
    spreadsheet run then failed, or refused the setting."""
    monkeypatch.setenv(variable, shutil.which(value) or value)
    check = doctor.check_libreoffice()
    assert not check.ok and said in check.detail and check.fix == f"unset {variable}", check
