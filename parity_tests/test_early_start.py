"""Workers started early (nnparity/spawn.py): faster, and still safe.

`nnparity run` starts its R and Python workers before it reads its command
line; they warm their language while the input is checked. These tests hold
that to the contract: no port code runs before its input is checked, the
workers of a run that never starts are ended, and a worker's temporary files
go with it, however the run ends.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from parity_tests.test_supervision import (
    RETURN_R,
    TRAIN_PY,
    TRAIN_R,
    finish,
    leftover_processes,
    nnparity,
    one_line,
)

pytestmark = pytest.mark.usefixtures("r_available")


def test_bad_input_runs_no_port_code_and_ends_the_workers_started_early(port_copy, tmp_path):
    witness = tmp_path / "the port was loaded"
    r_port = port_copy("r_impl", "train.R", TRAIN_R, f'file.create("{witness}")\n{TRAIN_R}')
    result = nnparity(
        "run", "--case", str(tmp_path / "no such case"), "--r-impl", str(r_port), cwd=tmp_path
    )
    assert result.returncode == 2, result.stdout + result.stderr
    one_line(result.stderr, "no such case")
    assert not witness.exists(), "the R port was sourced although the case was bad"
    assert not leftover_processes(result.token), "a worker started early outlived the run"


def test_a_ports_temporary_files_are_removed_when_the_run_ends(port_copy, tmp_path):
    notes = tmp_path / "where the temporary files went"
    r_port = port_copy(
        "r_impl", "train.R", RETURN_R,
        f'{RETURN_R}, tmp = {{cat(tempdir(), file = "{notes}.R"); '
        'writeLines("x", file.path(tempdir(), "r-scratch")); 0}',
    )
    python_port = port_copy(
        "python_impl", "train.py", TRAIN_PY,
        f"{TRAIN_PY}\n    import tempfile\n"
        f"    open('{notes}.py', 'w').write(tempfile.mkdtemp())",
    )
    result = nnparity(
        "run", "--epochs", "3", "--r-impl", str(r_port), "--python-impl", str(python_port),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for language in ("R", "py"):
        folder = Path(Path(f"{notes}.{language}").read_text())
        assert not folder.exists(), f"the {language} port's temporary folder {folder} was left"


def test_a_killed_runs_workers_leave_no_temporary_files(port_copy, tmp_path):
    notes = tmp_path / "tempdir"
    r_port = port_copy(
        "r_impl", "train.R", TRAIN_R,
        f'{TRAIN_R}\n  cat(tempdir(), file = "{notes}")\n  repeat {{\n  }}',
    )
    result = nnparity(
        "run", "--epochs", "3", "--r-impl", str(r_port), "--timeout", "5", cwd=tmp_path
    )
    assert result.returncode == 1, result.stdout + result.stderr
    one_line(result.stderr, "timed out")
    folder = Path(notes.read_text())
    assert not folder.exists(), f"R's tempdir() {folder} outlived its killed worker"
    assert not leftover_processes(result.token), "a worker outlived the run"


def test_ctrl_c_while_the_workers_start_is_one_line_and_exit_130(tmp_path):
    token = uuid.uuid4().hex
    process = subprocess.Popen(
        [sys.executable, "-m", "nnparity", "run", "--case", "article"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "NNPARITY_TEST_TOKEN": token},
    )
    deadline = time.monotonic() + 30
    while len(leftover_processes(token)) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)  # until both workers are started (R's takes about 0.7 s to be ready)
    process.send_signal(signal.SIGINT)
    out, err = finish(process, 30)
    assert process.returncode == 130, f"exit {process.returncode}\n{out}{err}"
    one_line(err, "interrupted")
    assert not leftover_processes(token), "a worker started early outlived the run"


def test_a_workers_idle_blas_threads_sleep_unless_the_user_chose_how_long_they_spin(
    monkeypatch, tmp_path
):
    from nnparity import spawn

    monkeypatch.delenv("OPENBLAS_THREAD_TIMEOUT", raising=False)
    timeout = spawn.worker_env(str(tmp_path))["OPENBLAS_THREAD_TIMEOUT"]
    assert timeout == spawn.BLAS_THREAD_TIMEOUT, (
        "a worker's OpenBLAS threads should sleep soon after a product (they spin on the cores "
        "the other worker needs otherwise)"
    )
    monkeypatch.setenv("OPENBLAS_THREAD_TIMEOUT", "20")
    assert spawn.worker_env(str(tmp_path))["OPENBLAS_THREAD_TIMEOUT"] == "20", (
        "the user's own OPENBLAS_THREAD_TIMEOUT should reach the workers unchanged"
    )


#: `python -m nnparity` with its command line replaced by a report of what the supervisor's
#: numpy will find when the command line imports it.
SUPERVISOR_ENV = """
import os, sys, types
cli = types.ModuleType("nnparity.cli")
cli.main = lambda: print(os.environ.get("OPENBLAS_THREAD_TIMEOUT"), "numpy" in sys.modules) or 0
sys.modules["nnparity.cli"] = cli
from nnparity.__main__ import command
sys.exit(command())
"""


@pytest.mark.parametrize("users", [None, "20"])
def test_the_supervisors_idle_blas_threads_sleep_unless_the_user_chose_how_long_they_spin(
    users
):
    from nnparity import spawn

    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    if users is not None:
        env["OPENBLAS_THREAD_TIMEOUT"] = users
    done = subprocess.run([sys.executable, "-c", SUPERVISOR_ENV], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    expected = f"{users or spawn.BLAS_THREAD_TIMEOUT} False"
    assert done.stdout.strip() == expected, (
        f"the supervisor's numpy should start with OPENBLAS_THREAD_TIMEOUT="
        f"{users or spawn.BLAS_THREAD_TIMEOUT} (the user's own value, else nnparity's) and "
        f"before numpy is imported (its threads start as it is); found "
        f"'{done.stdout.strip()}' as 'value numpy-already-imported'"
    )


@pytest.mark.parametrize("name", ["MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"])
def test_a_workers_memory_settings_are_nnparitys_unless_the_user_chose_them(
    monkeypatch, tmp_path, name
):
    from nnparity import spawn

    ours = spawn.MALLOC[name]
    monkeypatch.delenv(name, raising=False)
    assert spawn.worker_env(str(tmp_path))[name] == ours, (
        f"a worker should start with {name}={ours} (spawn.py: memory kept between chunks)"
    )
    monkeypatch.setenv(name, "12345")
    assert spawn.worker_env(str(tmp_path))[name] == "12345", (
        f"the user's own {name} should reach the workers unchanged"
    )
