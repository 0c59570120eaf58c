"""The pytest plugin: `pytest --r-impl PATH` checks a user's port, one test per case, mode and step.

Each test runs pytest in a child process from a scratch folder outside the
repository, as a user's project would.
"""

from __future__ import annotations

import re
import subprocess
import sys

from nnparity import paths, steps
from tools.port_copy import copy_port, copy_with

EPOCHS = "5"  # the wrong-axis bias shows at epoch 1; 5 epochs keep each child run short


def user_pytest(folder, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rf", *args]
    return subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=600)


def r_port_copy(folder, old: str | None = None, new: str | None = None):
    """r_impl copied to folder/my_port, with `old` in steps.R replaced by `new` when given."""
    if old is None:
        return copy_port(paths.R_IMPL, folder / "my_port")
    return copy_with(paths.R_IMPL, "steps.R", old, new, folder / "my_port")


def test_a_faithful_copy_of_r_impl_passes_every_step_of_both_modes(tmp_path):
    r_port_copy(tmp_path)
    done = user_pytest(tmp_path, "--r-impl", "my_port", "--nnparity-case", "article",
                       "--nnparity-epochs", EPOCHS)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{2 * len(steps.QUANTITIES)} passed" in done.stdout, done.stdout


def test_a_bias_summed_over_the_wrong_axis_fails_the_test_named_for_its_step(tmp_path):
    r_port_copy(tmp_path, "bout + colSums(d_output) * lr", "bout + rowSums(d_output) * lr")
    done = user_pytest(tmp_path, "--r-impl", "my_port", "--nnparity-case", "article",
                       "--nnparity-epochs", EPOCHS, "--nnparity-mode", "lockstep")
    assert done.returncode == 1, done.stdout + done.stderr
    failed = re.findall(r"^FAILED (\S+)", done.stdout, flags=re.M)
    assert failed == ["nnparity/parity_suite.py::test_step[article-lockstep-11-bout]"], (
        f"lockstep must fail at step 11 (bout) alone; failed: {failed}\n{done.stdout}"
    )


def test_k_selects_one_steps_test_per_mode(tmp_path):
    r_port_copy(tmp_path)
    done = user_pytest(tmp_path, "--r-impl", "my_port", "--nnparity-case", "article",
                       "--nnparity-epochs", EPOCHS, "-k", "article and bout", "-v")
    assert done.returncode == 0, done.stdout + done.stderr
    ran = re.findall(r"::test_step\[(\S+)\] PASSED", done.stdout)
    assert ran == ["article-free-11-bout", "article-lockstep-11-bout"], done.stdout


def test_a_port_folder_that_does_not_exist_is_a_usage_error_naming_it(tmp_path):
    done = user_pytest(tmp_path, "--r-impl", "no_such_port")
    assert done.returncode == 4, done.stdout + done.stderr
    assert "--r-impl no_such_port: no such file or folder" in done.stderr


def test_without_its_options_the_plugin_adds_no_test(tmp_path):
    (tmp_path / "test_mine.py").write_text("def test_mine():\n    assert True\n")
    done = user_pytest(tmp_path, "-q")
    assert done.returncode == 0 and "1 passed" in done.stdout, done.stdout + done.stderr


def test_a_step_lockstep_cannot_recompute_says_which_python_input_it_lacked(tmp_path):
    return_line = (
        "    return dict(wh=wh, bh=bh, wout=wout, bout=bout, output=output, trace=trace)\n"
    )
    copy_with(paths.PYTHON_IMPL, "train.py", return_line,
              '    if record:\n        del trace["slope_hidden_layer"]\n' + return_line,
              tmp_path / "my_port")
    done = user_pytest(tmp_path, "--python-impl", "my_port", "--nnparity-case", "article",
                       "--nnparity-epochs", EPOCHS, "--nnparity-mode", "lockstep",
                       "-k", "d_hiddenlayer")
    assert done.returncode == 1, done.stdout + done.stderr
    said = " ".join(done.stdout.split())
    assert "step 9 (d_hiddenlayer) not compared: not computed by lockstep: it reads " \
        "slope_hidden_layer" in said, f"the failure should say which input was lacking:\n{said}"
