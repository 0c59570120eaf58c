"""A verdict that cannot lie: `nnparity run` under hostile ports, signals and outputs.

Each test runs the command as a user does, in a process of its own, and holds
it to the contract: exit 0 only when every step of every epoch was compared;
1 when parity fails or a port fails, ends, hangs or returns something that is
not a trace; 2 for bad input; 130/143/129 for Ctrl-C/SIGTERM/SIGHUP. Every
failure is one line on stderr, nothing is half-written and nothing of the
user's is deleted.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import queue
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

from nnparity import paths
from nnparity.atomic import MANIFEST
from nnparity.steps import BY_NAME, QUANTITIES
from nnparity.supervise import WorkerPort

pytestmark = pytest.mark.usefixtures("r_available")

TRAIN_R = "train <- function(X, y, wh, bh, wout, bout, lr, epochs, record = FALSE) {"
TRAIN_PY = "def train(X, y, wh, bh, wout, bout, lr, epochs, record=False):"
RETURN_R = "    wh = wh, bh = bh, wout = wout, bout = bout, output = output, trace = trace"
RETURN_PY = "    return dict(wh=wh, bh=bh, wout=wout, bout=bout, output=output, trace=trace)"


def nnparity(*args: str, cwd: Path, env: dict | None = None, timeout: float = 120, **popen):
    """Run `python -m nnparity ARGS`, marked so that any process it leaves behind can be found."""
    token = uuid.uuid4().hex
    environment = dict(os.environ if env is None else env, NNPARITY_TEST_TOKEN=token)
    streams = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, **popen}
    result = subprocess.run(
        [sys.executable, "-m", "nnparity", *args],
        cwd=cwd,
        env=environment,
        text=True,
        timeout=timeout,
        **streams,
    )
    result.token = token
    return result


def leftover_processes(token: str) -> list[int]:
    """Processes still carrying a run's token in their environment (workers that outlived it)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if f"NNPARITY_TEST_TOKEN={token}".encode() in (proc / "environ").read_bytes():
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


def finish(process: subprocess.Popen, timeout: float) -> tuple[str, str]:
    """Its output once it ends; a process that does not end in time is killed (its workers die
    with it, by their parent-death signal), never left running after the test."""
    try:
        return process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        raise AssertionError(f"still running after {timeout} s (killed):\n{out}{err}") from None


def one_line(stderr: str, *words: str) -> str:
    assert "Traceback" not in stderr, f"a traceback reached the user:\n{stderr}"
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{stderr}"
    assert lines[0].startswith("nnparity: "), lines[0]
    for word in words:
        assert word in lines[0], f"the message does not say {word!r}: {lines[0]}"
    return lines[0]


# -- ports that end the process ---------------------------------------------------------

ENDINGS = [
    # (id, port folder, file, original, replacement, exit code, words)
    (
        "r-quit-in-train",
        "r_impl",
        "train.R",
        TRAIN_R,
        TRAIN_R + "\n  quit()",
        1,
        ["exited with status 0", "epochs 1-"],
    ),
    (
        "r-q-at-top-level",
        "r_impl",
        "train.R",
        TRAIN_R,
        'q("no")\n' + TRAIN_R,
        2,
        ["while loading", "status 0"],
    ),
    (
        "r-quit-status-3",
        "r_impl",
        "train.R",
        TRAIN_R,
        TRAIN_R + "\n  quit(status = 3)",
        1,
        ["exited with status 3"],
    ),
    (
        "python-sys-exit-in-train",
        "python_impl",
        "train.py",
        TRAIN_PY,
        TRAIN_PY + "\n    import sys; sys.exit(0)",
        1,
        ["sys.exit(0)"],
    ),
    (
        "python-sys-exit-at-import",
        "python_impl",
        "train.py",
        TRAIN_PY,
        "import sys; sys.exit(0)\n" + TRAIN_PY,
        2,
        ["sys.exit(0)", "cannot be imported"],
    ),
    (
        "python-os-exit-in-train",
        "python_impl",
        "train.py",
        TRAIN_PY,
        TRAIN_PY + "\n    import os; os._exit(0)",
        1,
        ["exited with status 0"],
    ),
    (
        "python-segfault",
        "python_impl",
        "train.py",
        TRAIN_PY,
        TRAIN_PY + "\n    import ctypes; ctypes.string_at(0)",
        1,
        ["SIGSEGV"],
    ),
    (
        "python-keyboard-interrupt-in-train",
        "python_impl",
        "train.py",
        TRAIN_PY,
        TRAIN_PY + "\n    raise KeyboardInterrupt",
        1,
        ["KeyboardInterrupt"],
    ),
]


@pytest.mark.parametrize(
    "folder, file, old, new, code, words", [e[1:] for e in ENDINGS], ids=[e[0] for e in ENDINGS]
)
def test_a_port_that_ends_its_process_never_turns_the_run_green(
    port_copy, tmp_path, folder, file, old, new, code, words
):
    option = "--r-impl" if folder == "r_impl" else "--python-impl"
    result = nnparity(
        "run", "--epochs", "20", option, str(port_copy(folder, file, old, new)), cwd=tmp_path
    )
    assert result.returncode == code, (
        f"exit {result.returncode}, expected {code}\n{result.stdout}{result.stderr}"
    )
    assert "PARITY HOLDS" not in result.stdout
    one_line(result.stderr, *words)
    assert not leftover_processes(result.token), "a worker outlived the run"


#: python_impl's train returning every matrix as an array of a class of its own whose
#: differences are all zero, and its output 1e-9 off: compared with that class's arithmetic,
#: the run would hold.
BLIND_PY = RETURN_PY.replace("trace=trace)", """trace=_blind(trace))


class _Blind(np.ndarray):
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        result = getattr(ufunc, method)(*(np.asarray(x) for x in inputs), **kwargs)
        return np.zeros_like(result) if ufunc is np.subtract else result


def _blind(trace):
    if "output" in trace:
        trace["output"] = trace["output"] + 1e-9
    return {name: np.asarray(value).view(_Blind) for name, value in trace.items()}""")


def test_a_ports_own_array_class_cannot_change_how_it_is_compared(port_copy, tmp_path):
    port = port_copy("python_impl", "train.py", RETURN_PY, BLIND_PY)
    result = nnparity("run", "--epochs", "20", "--python-impl", str(port), cwd=tmp_path)
    assert result.returncode == 1, (
        f"exit {result.returncode}, expected 1 (parity fails)\n{result.stdout}{result.stderr}"
    )
    assert "Traceback" not in result.stderr, f"a traceback reached the user:\n{result.stderr}"
    assert "PARITY FAILS" in result.stdout and "step 4 (output)" in result.stdout, (
        f"the output 1e-9 off is not what fails:\n{result.stdout}"
    )


# -- signals and hangs ------------------------------------------------------------------


def start_hanging_run(port_copy, tmp_path, *extra: str) -> tuple[subprocess.Popen, str]:
    port = port_copy("r_impl", "train.R", TRAIN_R, TRAIN_R + "\n  repeat {\n  }")
    token = uuid.uuid4().hex
    process = subprocess.Popen(
        [sys.executable, "-m", "nnparity", "run", "--epochs", "20", "--r-impl", str(port), *extra],
        cwd=tmp_path,
        env=dict(os.environ, NNPARITY_TEST_TOKEN=token),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return process, token


#: The workers of a default run (both modes) on a case that fits one chunk, as these tests'
#: runs are: Python, R, and R's twin that recomputes the steps (traces.lockstep_worker).
RUN_WORKERS = 3


def wait_for_r_to_spin(token: str, timeout: float = 60) -> None:
    """Until the run's workers exist and R is inside its endless loop (a worker at full CPU)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        workers = [
            pid
            for pid in leftover_processes(token)
            if b"nnparity.worker" in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]
        if len(workers) >= 2:  # explain's two, or a run's RUN_WORKERS (the twin starts last)
            time.sleep(1.0)
            return
        time.sleep(0.2)
    raise AssertionError("the workers did not start")


def stop_spinning_r(process, token: str, sent: int, code: int, what: str) -> str:
    """Send `sent` once R spins in a worker: `what` must end with `code` within 2 s, say so in
    one line, and leave no worker. Returns its stdout."""
    try:
        wait_for_r_to_spin(token)
    except BaseException:  # nothing left spinning in R after the tests
        process.kill()
        raise
    began = time.monotonic()
    process.send_signal(sent)
    out, err = finish(process, 30)
    took = time.monotonic() - began
    assert process.returncode == code, f"exit {process.returncode}, expected {code}\n{out}{err}"
    assert took < 2.0, f"{what} took {took:.1f} s to stop"
    one_line(err, "stopped" if sent != signal.SIGINT else "interrupted")
    assert not leftover_processes(token), f"a worker outlived {what}"
    return out


@pytest.mark.parametrize(
    "sent, code",
    [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)],
    ids=["ctrl-c", "sigterm", "sighup"],
)
def test_a_signal_stops_a_run_stuck_in_r_within_two_seconds_and_leaves_nothing(
    port_copy, tmp_path, sent, code
):
    target = tmp_path / "new" / "traces"
    process, token = start_hanging_run(port_copy, tmp_path, "--save-traces", str(target))
    stop_spinning_r(process, token, sent, code, "the run")
    assert not (tmp_path / "new").exists(), "a folder the run created is still there"


def test_json_of_a_run_stopped_by_a_signal_is_one_document_with_the_signals_exit_code(
    port_copy, tmp_path
):
    process, token = start_hanging_run(port_copy, tmp_path, "--json")
    out = stop_spinning_r(process, token, signal.SIGTERM, 143, "the run")
    try:
        document = json.loads(out)
    except json.JSONDecodeError as error:
        raise AssertionError(
            f"a stopped run with --json printed no JSON ({error}): {out!r}"
        ) from None
    assert document["passed"] is False and document["error"]["exit_code"] == 143, document
    assert "stopped by SIGTERM" in document["error"]["message"], document


def test_a_second_ctrl_c_does_not_break_the_clean_up(port_copy, tmp_path):
    process, token = start_hanging_run(port_copy, tmp_path, "--save-traces", str(tmp_path / "t"))
    wait_for_r_to_spin(token)
    process.send_signal(signal.SIGINT)
    process.send_signal(signal.SIGINT)
    out, err = finish(process, 30)
    assert process.returncode == 130, out + err
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "r_impl") == [], (
        "the run left files behind"
    )


def workers_of(token: str, supervisor: int) -> list[int]:
    """The worker processes of the run carrying `token`: the supervisor's children running
    nnparity.worker (a worker's own child, forked and not yet exec'd, shows the same
    command line for a moment: R's start runs `R RHOME` so)."""
    found = []
    for pid in leftover_processes(token):
        try:
            parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
            if parent == supervisor and b"nnparity.worker" in Path(
                f"/proc/{pid}/cmdline"
            ).read_bytes():
                found.append(pid)
        except (OSError, IndexError, ValueError):
            continue
    return found


def alive(pid: int) -> bool:
    """The process exists and is not a zombie (killed, not yet reaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def spinning_r_port(port_copy, tmp_path) -> tuple[Path, Path]:
    """An R port whose train says it has begun (a file) and then loops for ever."""
    flag = tmp_path / "r-is-spinning"
    loop = f'\n  file.create("{flag}")\n  repeat {{\n  }}'
    return port_copy("r_impl", "train.R", TRAIN_R, TRAIN_R + loop), flag


def wait_for(flag: Path, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while not flag.exists():
        assert time.monotonic() < end, "the R port never began training"
        time.sleep(0.05)


def test_workers_die_with_a_supervisor_killed_by_sigkill(port_copy, tmp_path):
    # SIGKILL leaves the supervisor no chance to clean up, and a worker inside an R loop never
    # reads its socket again: only the kernel's parent-death signal (worker.py) can end it.
    port, flag = spinning_r_port(port_copy, tmp_path)
    token = uuid.uuid4().hex
    process = subprocess.Popen(
        [sys.executable, "-m", "nnparity", "run", "--epochs", "20", "--r-impl", str(port)],
        cwd=tmp_path,
        env=dict(os.environ, NNPARITY_TEST_TOKEN=token),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(flag)
        workers = workers_of(token, process.pid)
        assert len(workers) == RUN_WORKERS, f"expected {RUN_WORKERS} workers, found {workers}"
    finally:  # a failure above must not leave the run spinning in R after the tests
        process.kill()
        process.wait(timeout=30)
    end = time.monotonic() + 1.0
    while any(alive(pid) for pid in workers) and time.monotonic() < end:
        time.sleep(0.05)
    assert not [pid for pid in workers if alive(pid)], (
        "a worker outlived its supervisor by more than a second after SIGKILL"
    )


#: Runs a command as a child subreaper (PR_SET_CHILD_SUBREAPER = 36): a process orphaned under
#: it (a worker whose supervisor exited first) is adopted by this one instead of by init, so it
#: shows which workers the supervisor did not end and wait for itself.
ADOPTER = """
import ctypes, json, os, subprocess, sys, time
from pathlib import Path
ctypes.CDLL(None, use_errno=True).prctl(36, 1)
run = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(run.pid, flush=True)
code = run.wait()
time.sleep(1.0)
adopted = []
for proc in Path("/proc").iterdir():
    try:
        if proc.name.isdigit():
            ppid = (proc / "stat").read_text().rsplit(")", 1)[1].split()[1]
            if ppid == str(os.getpid()):
                adopted.append(int(proc.name))
    except (OSError, IndexError):
        continue
print(json.dumps({"code": code, "adopted": adopted}), flush=True)
"""


def test_sigterm_makes_the_supervisor_end_and_wait_for_its_workers_itself(port_copy, tmp_path):
    # The workers' parent-death signal would end them anyway once the supervisor is gone; this
    # checks the supervisor's own clean-up: no worker may outlive it, even for a moment.
    port, flag = spinning_r_port(port_copy, tmp_path)
    token = uuid.uuid4().hex
    command = [sys.executable, "-m", "nnparity", "run", "--epochs", "20", "--r-impl", str(port)]
    adopter = subprocess.Popen(
        [sys.executable, "-c", ADOPTER, *command],
        cwd=tmp_path,
        env=dict(os.environ, NNPARITY_TEST_TOKEN=token),
        stdout=subprocess.PIPE,
        text=True,
    )
    supervisor = int(adopter.stdout.readline())
    try:
        wait_for(flag)
        workers = workers_of(token, supervisor)
        assert len(workers) == RUN_WORKERS, f"expected {RUN_WORKERS} workers, found {workers}"
    finally:  # SIGTERM ends the run whatever happened above: nothing left spinning in R
        os.kill(supervisor, signal.SIGTERM)
    out, _ = finish(adopter, 60)
    outcome = json.loads(out)
    assert outcome["code"] == 143, outcome
    # (a process a worker started dies with the worker's session but is not the supervisor's
    # to wait for: only the workers themselves count)
    orphaned = sorted(set(outcome["adopted"]) & set(workers))
    assert not orphaned, (
        f"worker(s) {orphaned} outlived the supervisor after SIGTERM: it did not end and wait "
        "for them before exiting"
    )


def test_timeout_ends_a_run_whose_port_hangs_with_exit_1_and_one_line(port_copy, tmp_path):
    port = port_copy("r_impl", "train.R", TRAIN_R, TRAIN_R + "\n  repeat {\n  }")
    began = time.monotonic()
    result = nnparity(
        "run", "--epochs", "20", "--r-impl", str(port), "--timeout", "3", cwd=tmp_path
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert time.monotonic() - began < 30
    one_line(result.stderr, "timed out after 3 s", "had not finished training epochs 1-")
    assert not leftover_processes(result.token)


# -- the port border --------------------------------------------------------------------

RETURNS = [
    (
        "python-lists",
        "python_impl",
        "train.py",
        RETURN_PY,
        RETURN_PY.replace("trace=trace", "trace={k: v.tolist() for k, v in trace.items()}"),
        "returned a list for X",
    ),
    (
        "python-none",
        "python_impl",
        "train.py",
        RETURN_PY,
        "    return None",
        "returned NoneType from train",
    ),
    (
        "python-no-trace",
        "python_impl",
        "train.py",
        RETURN_PY,
        RETURN_PY.replace(", trace=trace", ""),
        "as its trace",
    ),
    (
        "python-strings",
        "python_impl",
        "train.py",
        RETURN_PY,
        RETURN_PY.replace("trace=trace", "trace={k: v.astype(str) for k, v in trace.items()}"),
        "returned strings",
    ),
    (
        "python-integers",
        "python_impl",
        "train.py",
        RETURN_PY,
        RETURN_PY.replace("trace=trace", "trace={k: v.astype(int) for k, v in trace.items()}"),
        "returned integers",
    ),
    ("r-null", "r_impl", "train.R", f"  list(\n{RETURN_R}\n  )", "  NULL",
     "returned NULL from train"),
    (
        "r-no-trace",
        "r_impl",
        "train.R",
        RETURN_R,
        RETURN_R.replace(", trace = trace", ""),
        "returned NULL as its trace",
    ),
    (
        "r-unnamed-trace",
        "r_impl",
        "train.R",
        RETURN_R,
        RETURN_R.replace("trace = trace", "trace = unname(trace)"),
        "unnamed entries",
    ),
    (
        # a wrong E first, the right one after it: R's trace$E read the first, Python the last
        "r-trace-names-a-matrix-twice",
        "r_impl",
        "train.R",
        RETURN_R,
        RETURN_R.replace(
            "trace = trace", "trace = c(list(E = lapply(trace$E, `*`, 2)), trace)"
        ),
        "returned a list with two entries named E as its trace",
    ),
    (
        "r-returns-a-weight-twice",
        "r_impl",
        "train.R",
        RETURN_R,
        RETURN_R.replace("wh = wh,", "wh = wh * 2, wh = wh,"),
        "returned a list with two entries named wh from train",
    ),
    (
        "r-character",
        "r_impl",
        "train.R",
        RETURN_R,
        RETURN_R.replace("trace = trace", "trace = lapply(trace, as.character)"),
        "returned character values",
    ),
    (
        "r-data-frame",
        "r_impl",
        "train.R",
        RETURN_R,
        RETURN_R.replace("trace = trace", "trace = data.frame(a = 1)"),
        "a data.frame",
    ),
    (
        "r-integer",
        "r_impl",
        "train.R",
        RETURN_R,
        RETURN_R.replace("trace = trace", "trace = lapply(trace, function(a) array(1L, 2:4))"),
        "an integer array",
    ),
    (
        "r-epochs-list-too-short",
        "r_impl",
        "train.R",
        RETURN_R,
        RETURN_R.replace("trace = trace", "trace = within(trace, E <- E[-1])"),
        "returned a list of 4 epochs of E in its trace, 4 of them recorded, for 5 epochs trained",
    ),
    (
        "r-epochs-list-odd-shape",
        "r_impl",
        "train.R",
        RETURN_R,
        RETURN_R.replace(
            "trace = trace", "trace = within(trace, E[[3]] <- rbind(E[[3]], 0))"
        ),
        "as epoch 3 of E in its trace",
    ),
    (
        "r-epochs-list-of-integers",
        "r_impl",
        "train.R",
        RETURN_R,
        RETURN_R.replace(
            "trace = trace", "trace = within(trace, E <- lapply(E, `>`, 0))"
        ),
        "returned logical values for E",
    ),
]


@pytest.mark.parametrize(
    "folder, file, old, new, words", [r[1:] for r in RETURNS], ids=[r[0] for r in RETURNS]
)
def test_what_a_port_returns_is_checked_where_it_crosses(
    port_copy, tmp_path, folder, file, old, new, words
):
    option = "--r-impl" if folder == "r_impl" else "--python-impl"
    result = nnparity(
        "run", "--epochs", "5", option, str(port_copy(folder, file, old, new)), cwd=tmp_path
    )
    assert result.returncode == 1, result.stdout + result.stderr
    line = one_line(result.stderr, words)
    assert "expected" in line, line


#: (id, what python_impl's train does to its trace before returning it, the matrix it spoils)
PYTHON_TRACE_FAULTS = [
    ("one-epoch-fewer", 'trace["d_output"] = trace["d_output"][:-1]', "d_output"),
    ("one-epoch-more", 'trace["E"] = np.concatenate([trace["E"], trace["E"][-1:]])', "E"),
    ("missing", 'del trace["slope_hidden_layer"]', "slope_hidden_layer"),
    (
        "misspelled",
        'trace["hiddenlayer_activation"] = trace.pop("hiddenlayer_activations")',
        "hiddenlayer_activations",
    ),
    ("wrong-rank", 'trace["bout"] = trace["bout"][:, :, 0]', "bout"),
]


@pytest.mark.parametrize(
    "spoil, name", [f[1:] for f in PYTHON_TRACE_FAULTS], ids=[f[0] for f in PYTHON_TRACE_FAULTS]
)
def test_a_python_trace_lockstep_cannot_use_is_a_finding_about_python_at_its_step(
    port_copy, tmp_path, spoil, name
):
    port = port_copy(
        "python_impl", "train.py", RETURN_PY, f"    if record:\n        {spoil}\n" + RETURN_PY
    )
    result = nnparity("run", "--epochs", "20", "--json", "--python-impl", str(port), cwd=tmp_path)
    assert result.returncode == 1, f"exit {result.returncode}\n{result.stdout}{result.stderr}"
    assert "nnparity: " not in result.stderr and "Traceback" not in result.stderr, (
        f"the run failed outside the comparison instead of reporting the Python trace:\n"
        f"{result.stderr}"
    )
    lockstep = json.loads(result.stdout)["modes"]["lockstep"]
    assert lockstep["error"] is None, lockstep["error"]
    by_name = {s["matrix"]: s for s in lockstep["steps"]}
    problem = by_name[name]["problem"] or ""
    assert "Python" in problem and "R's" not in problem, (
        f"lockstep's problem at {name} should name the Python trace, not R: {problem!r}"
    )
    readers = {q.name for q in QUANTITIES if name in q.inputs}
    for step in QUANTITIES:
        if step.name != name and step.name not in readers:
            got = by_name[step.name]
            assert got["problem"] is None and got["cells"] > 0, (
                f"lockstep should still recompute {step.name}, whose inputs are fine: {got}"
            )
    assert f"step {BY_NAME[name].step} ({name})" in json.loads(result.stdout)["verdict"]


def test_a_python_port_that_changes_its_input_arrays_cannot_change_what_r_sees(port_copy, tmp_path):
    port = port_copy(
        "python_impl", "train.py", RETURN_PY, "    X[:] = 0\n    y[:] = 0\n" + RETURN_PY
    )
    result = nnparity("run", "--epochs", "30", "--python-impl", str(port), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_whatever_a_port_prints_goes_to_stderr_so_json_stays_json(port_copy, tmp_path):
    port = port_copy(
        "r_impl", "train.R", TRAIN_R, TRAIN_R + '\n  print("from R"); cat("cat\\n"); message("msg")'
    )
    result = nnparity("run", "--epochs", "5", "--json", "--r-impl", str(port), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["passed"] is True
    assert "from R" in result.stderr and "msg" in result.stderr


def test_whatever_a_python_port_prints_at_import_and_in_train_goes_to_stderr_so_json_stays_json(
    port_copy, tmp_path
):
    port = port_copy(
        "python_impl",
        "train.py",
        TRAIN_PY,
        'print("printed at import")\n'
        + TRAIN_PY
        + '\n    print("printed in train")\n    import os; os.write(1, b"written to fd 1\\n")',
    )
    result = nnparity("run", "--epochs", "5", "--json", "--python-impl", str(port), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError as error:
        raise AssertionError(f"stdout is not JSON ({error}):\n{result.stdout[:500]}") from None
    assert report["passed"] is True
    for said in ("printed at import", "printed in train", "written to fd 1"):
        assert said in result.stderr, f"{said!r} did not reach stderr:\n{result.stderr}"


#: (id, how a run fails before there is a verdict, its exit code)
RUNS_WITHOUT_A_VERDICT = [
    ("python-port-sys-exit", "port", 1),
    ("timeout", "--timeout 0.001", 1),
    ("no-such-case", "--case /nonexistent", 2),
]


@pytest.mark.parametrize(
    "how, code", [r[1:] for r in RUNS_WITHOUT_A_VERDICT], ids=[r[0] for r in RUNS_WITHOUT_A_VERDICT]
)
def test_json_is_one_json_document_saying_the_run_failed_when_there_is_no_verdict(
    port_copy, tmp_path, how, code
):
    if how == "port":
        exits = TRAIN_PY + "\n    import sys; sys.exit(0)"
        port = port_copy("python_impl", "train.py", TRAIN_PY, exits)
        how = f"--python-impl {port}"
    result = nnparity("run", "--epochs", "5", "--json", *how.split(), cwd=tmp_path)
    assert result.returncode == code, f"exit {result.returncode}\n{result.stdout}{result.stderr}"
    line = one_line(result.stderr)
    try:
        document = json.loads(result.stdout)
    except json.JSONDecodeError as error:
        raise AssertionError(
            f"--json printed no JSON document ({error}) for a run that failed: {result.stdout!r}"
        ) from None
    assert document["passed"] is False, document
    assert document["error"] == {
        "exit_code": code, "message": line.removeprefix("nnparity: ")
    }, f"the document should carry the exit code and stderr's line: {document}"
    assert document["epochs"] in (5, None) and document["case"], document


def test_json_of_a_run_with_a_verdict_says_error_null(tmp_path):
    result = nnparity("run", "--epochs", "5", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert "error" in document and document["error"] is None, (
        f"a run that reached its verdict should say error: null: {document.get('error', 'absent')}"
    )


def test_an_r_error_while_loading_a_port_is_one_line_carrying_rs_message(port_copy, tmp_path):
    port = port_copy("r_impl", "train.R", TRAIN_R, 'stop("broken on purpose")\n' + TRAIN_R)
    result = nnparity("run", "--r-impl", str(port), cwd=tmp_path)
    assert result.returncode == 2
    one_line(result.stderr, "train.R", "broken on purpose")


# -- outputs whole or absent ------------------------------------------------------------


def test_save_traces_refuses_a_folder_holding_the_users_files_and_changes_nothing(tmp_path):
    folder = tmp_path / "mine"
    (folder / "photos").mkdir(parents=True)
    (folder / "notes.txt").write_text("keep me")
    result = nnparity("run", "--epochs", "5", "--save-traces", str(folder), cwd=tmp_path)
    assert result.returncode == 2
    one_line(result.stderr, "notes.txt", "did not write")
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt", "photos"]


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda t: t.write_text("a file"), "not a folder"),
        (lambda t: t.symlink_to(t.parent / "nowhere" / "x"), "dangling"),
        (lambda t: (t / "python.npz").mkdir(parents=True), "did not write (python.npz)"),
    ],
    ids=["a-file", "a-dangling-link", "python-npz-is-a-folder"],
)
def test_a_traces_target_that_cannot_be_used_exits_2_before_any_port_runs(tmp_path, make, words):
    target = tmp_path / "t"
    make(target)
    result = nnparity("run", "--epochs", "5", "--save-traces", str(target), cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    one_line(result.stderr, str(target), words)


def test_traces_that_cannot_fit_on_the_disk_are_refused_before_the_run(tmp_path):
    result = nnparity(
        "run", "--epochs", str(2**31 - 1), "--save-traces", str(tmp_path / "t"), cwd=tmp_path
    )
    assert result.returncode == 2
    one_line(result.stderr, "the traces need", "free")
    assert not (tmp_path / "t").exists()


def test_a_traces_folder_holds_exactly_what_the_last_run_wrote(tmp_path):
    target = tmp_path / "t"
    assert (
        nnparity("run", "--epochs", "5", "--save-traces", str(target), cwd=tmp_path).returncode == 0
    )
    assert (target / "r.npz").exists()
    result = nnparity(
        "run", "--epochs", "5", "--mode", "lockstep", "--save-traces", str(target), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    written = sorted(p.name for p in target.iterdir())
    assert written == [MANIFEST, "case", "python.npz", "python.rds", "trace.json"], (
        f"a stale R trace was left: {written}"
    )
    assert json.loads((target / "trace.json").read_text())["files"] == ["python.npz", "python.rds"]


def test_a_relative_traces_folder_is_where_the_user_meant_whatever_r_does_with_its_working_folder(
    port_copy, tmp_path
):
    port = port_copy("r_impl", "train.R", TRAIN_R, TRAIN_R + "\n  setwd(tempdir())")
    result = nnparity(
        "run", "--epochs", "5", "--r-impl", str(port), "--save-traces", "rel", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "rel" / "python.npz").is_file() and (tmp_path / "rel" / "r.npz").is_file()
    assert f"trace saved: {tmp_path / 'rel' / 'python.npz'}" in result.stdout


def test_report_out_refuses_a_folder_of_the_users_even_with_an_index_html(tmp_path):
    folder = tmp_path / "site"
    (folder / "photos").mkdir(parents=True)
    (folder / "index.html").write_text("<p>mine</p>")
    (folder / "notes.txt").write_text("keep me")
    result = nnparity("report", "--epochs", "5", "--out", str(folder), cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    one_line(result.stderr, "notes.txt")
    assert sorted(p.name for p in folder.iterdir()) == ["index.html", "notes.txt", "photos"]
    assert (folder / "index.html").read_text() == "<p>mine</p>"


def tree(folder: Path) -> dict[str, object]:
    """Everything under `folder`, as it is on disk: a file's bytes, a link's target, a folder,
    or another kind of file (its mode); never opened unless it is a regular file."""
    out = {}
    for path in sorted(folder.rglob("*")):
        mode = path.lstat().st_mode
        if path.is_symlink():
            out[str(path.relative_to(folder))] = ("link", os.readlink(path))
        elif path.is_dir():
            out[str(path.relative_to(folder))] = "folder"
        elif path.is_file():
            out[str(path.relative_to(folder))] = path.read_bytes()
        else:
            out[str(path.relative_to(folder))] = ("special", mode)
    return out


def a_users_csv(t: Path) -> Path:
    (t / "precious.csv").write_text("data\n")
    return t / "precious.csv"


def a_cases_own_csv(t: Path) -> Path:
    import shutil

    from nnparity.paths import FIXTURES

    shutil.copytree(FIXTURES / "article", t / "c1")
    return t / "c1" / "X.csv"


def a_fifo(t: Path) -> Path:
    os.mkfifo(t / "fifo")
    return t / "fifo"


def a_device_node(t: Path) -> Path:
    try:  # a character device like /dev/null (1, 3), made here: never the system's own
        os.mknod(t / "mynull", 0o666 | 0o020000, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("making a device node needs root")
    return t / "mynull"


def a_link_to_a_users_file(t: Path) -> Path:
    (t / "mine.csv").write_text("data\n")
    (t / "link.csv").symlink_to("mine.csv")
    return t / "link.csv"


@pytest.mark.parametrize(
    "make", [a_users_csv, a_cases_own_csv, a_fifo, a_device_node, a_link_to_a_users_file],
    ids=lambda make: make.__name__.replace("_", "-"),
)
def test_save_stats_refuses_an_existing_file_nnparity_did_not_write_before_any_port_runs(
    tmp_path, make
):
    target = make(tmp_path)
    before = tree(tmp_path)
    result = nnparity(
        "run", "--epochs", "5", "--mode", "free", "--save-stats", str(target), cwd=tmp_path
    )
    assert result.returncode == 2, result.stdout + result.stderr
    one_line(result.stderr, str(target))
    assert result.stdout == "", f"the run went ahead although it could not save: {result.stdout}"
    assert tree(tmp_path) == before, f"--save-stats {target.name} changed what was there"


def test_save_stats_replaces_its_own_earlier_statistics_file(tmp_path):
    from nnparity import stats, steps

    for epochs in ("3", "4"):
        result = nnparity(
            "run", "--epochs", epochs, "--mode", "free", "--save-stats", "s.csv", cwd=tmp_path
        )
        assert result.returncode == 0, result.stdout + result.stderr
    assert len(stats.read(tmp_path / "s.csv")) == 4 * len(steps.NAMES), (
        "the second run did not replace the statistics file the first one wrote"
    )


def test_save_stats_through_a_symbolic_link_writes_the_file_it_points_to(tmp_path):
    from nnparity import stats, steps

    real = tmp_path / "real.csv"
    first = nnparity("run", "--epochs", "3", "--mode", "free", "--save-stats", str(real),
                     cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    (tmp_path / "link.csv").symlink_to("real.csv")
    result = nnparity(
        "run", "--epochs", "4", "--mode", "free", "--save-stats", "link.csv", cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "link.csv").is_symlink(), "the link was replaced by a file"
    assert len(stats.read(real)) == 4 * len(steps.NAMES), "the file the link points to was not"


def test_workbook_refuses_an_xlsx_nnparity_did_not_write(tmp_path):
    from openpyxl import Workbook

    Workbook().save(tmp_path / "mine.xlsx")
    before = tree(tmp_path)
    result = nnparity("workbook", "--out", "mine.xlsx", cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    one_line(result.stderr, "mine.xlsx")
    assert tree(tmp_path) == before, "workbook --out replaced a workbook of the user's"


def test_workbook_replaces_its_own_earlier_workbook(tmp_path):
    from openpyxl import load_workbook

    for epochs in ("1", "2"):
        result = nnparity("workbook", "--epochs", epochs, "--out", "w.xlsx", cwd=tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
    sheets = load_workbook(tmp_path / "w.xlsx", read_only=True).sheetnames
    assert len(sheets) == 3, f"the second workbook (2 epochs) did not replace the first: {sheets}"


def test_workbook_refuses_its_own_workbook_once_the_user_has_edited_and_saved_it(tmp_path):
    # openpyxl (like LibreOffice) keeps the creator and last editor "nnparity" on a re-save
    from openpyxl import load_workbook

    first = nnparity("workbook", "--epochs", "1", "--out", "w.xlsx", cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    edited = load_workbook(tmp_path / "w.xlsx")
    edited.active["A1"] = "MY EDIT"
    edited.save(tmp_path / "w.xlsx")
    before = tree(tmp_path)
    result = nnparity("workbook", "--epochs", "1", "--out", "w.xlsx", cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    one_line(result.stderr, "w.xlsx", "changed since nnparity wrote it")
    assert tree(tmp_path) == before, "workbook --out replaced a workbook the user had edited"


def test_workbook_refuses_its_own_workbook_once_only_its_title_was_edited(tmp_path):
    # The properties part holds the seal; a title typed into it alone is an edit too.
    import zipfile

    first = nnparity("workbook", "--epochs", "1", "--out", "w.xlsx", cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    path = tmp_path / "w.xlsx"
    with zipfile.ZipFile(path) as archive:
        parts = {info: archive.read(info) for info in archive.infolist()}
    with zipfile.ZipFile(path, "w") as archive:
        for info, data in parts.items():
            if info.filename == "docProps/core.xml":
                data = data.replace(b"</cp:coreProperties>",
                                    b"<dc:title>My notes</dc:title></cp:coreProperties>")
            archive.writestr(info, data)
    before = tree(tmp_path)
    result = nnparity("workbook", "--epochs", "1", "--out", "w.xlsx", cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    one_line(result.stderr, "w.xlsx", "changed since nnparity wrote it")
    assert tree(tmp_path) == before, "workbook --out replaced a workbook whose title was edited"


def patch_member(path: Path, member: str, local_offset: int, central_offset: int, change) -> None:
    """Change a 2-byte field of `member`'s local and central zip headers: change(old) -> new."""
    import struct

    data = bytearray(path.read_bytes())
    for magic, name_length_at, name_at, offset in (
        (b"PK\x03\x04", 26, 30, local_offset), (b"PK\x01\x02", 28, 46, central_offset)
    ):
        at = data.find(magic)
        while at >= 0:
            length = struct.unpack_from("<H", data, at + name_length_at)[0]
            if data[at + name_at:at + name_at + length] == member.encode():
                old = struct.unpack_from("<H", data, at + offset)[0]
                struct.pack_into("<H", data, at + offset, change(old))
            at = data.find(magic, at + 4)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "local_offset, central_offset, change",
    [(8, 10, lambda old: 9), (6, 8, lambda old: old | 1)],
    ids=["unsupported-compression", "encrypted"],
)
def test_workbook_refuses_an_xlsx_whose_properties_it_cannot_read_without_a_traceback(
    tmp_path, local_offset, central_offset, change
):
    first = nnparity("workbook", "--epochs", "1", "--out", "w.xlsx", cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    patch_member(tmp_path / "w.xlsx", "docProps/core.xml", local_offset, central_offset, change)
    before = tree(tmp_path)
    result = nnparity("workbook", "--epochs", "1", "--out", "w.xlsx", cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    one_line(result.stderr, "w.xlsx", "not a file nnparity wrote")
    assert tree(tmp_path) == before, "workbook --out replaced an xlsx it could not read"


def test_report_out_refuses_files_of_the_users_named_as_a_reports_files(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<h1>mine</h1>")
    (site / "loss.png").write_text("png")
    before = tree(tmp_path)
    result = nnparity("report", "--epochs", "5", "--out", "site", cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    one_line(result.stderr, str(site), "index.html")
    assert tree(tmp_path) == before, "report --out replaced files nnparity did not write"


def a_case_folder_with_notes(t: Path) -> None:
    a_cases_own_csv(t)
    (t / "c1" / "NOTES.txt").write_text("notes")
    (t / "c1").rename(t / "case")


def a_trace_json_and_case_folder_of_the_users(t: Path) -> None:
    (t / "case").mkdir()
    (t / "case" / "notes.txt").write_text("notes")
    (t / "trace.json").write_text('{"mine": true}')


@pytest.mark.parametrize(
    "make", [a_case_folder_with_notes, a_trace_json_and_case_folder_of_the_users],
    ids=lambda make: make.__name__.replace("_", "-"),
)
def test_save_traces_refuses_files_of_the_users_named_as_trace_files(tmp_path, make):
    folder = tmp_path / "work"
    folder.mkdir()
    make(folder)
    before = tree(tmp_path)
    result = nnparity(
        "run", "--epochs", "5", "--mode", "free", "--save-traces", "work", cwd=tmp_path
    )
    assert result.returncode == 2, result.stdout + result.stderr
    one_line(result.stderr, str(folder), "did not write")
    assert tree(tmp_path) == before, "--save-traces deleted or changed files of the user's"


def add_a_file_to_the_case(t: Path) -> str:
    (t / "case" / "mine.txt").write_text("mine")
    return "case/mine.txt"


def change_trace_json(t: Path) -> str:
    with open(t / "trace.json", "a") as handle:
        handle.write("\n")
    return "trace.json"


def remove_a_file_of_the_case(t: Path) -> str:
    (t / "case" / "X.csv").unlink()
    return "case/X.csv"


@pytest.mark.parametrize("change", [add_a_file_to_the_case, change_trace_json,
                                    remove_a_file_of_the_case],
                         ids=["a-file-added", "a-file-changed", "a-file-removed"])
def test_a_traces_folder_the_user_changed_since_nnparity_wrote_it_is_refused(tmp_path, change):
    first = nnparity("run", "--epochs", "3", "--mode", "free", "--save-traces", "t", cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    name = change(tmp_path / "t")
    before = tree(tmp_path)
    result = nnparity("run", "--epochs", "3", "--mode", "free", "--save-traces", "t", cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    one_line(result.stderr, str(tmp_path / "t"), name)
    assert tree(tmp_path) == before, "--save-traces replaced a folder the user had changed"


def test_report_out_refuses_a_traces_folder_nnparity_wrote(tmp_path):
    first = nnparity("run", "--epochs", "3", "--mode", "free", "--save-traces", "t", cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    before = tree(tmp_path)
    result = nnparity("report", "--epochs", "3", "--out", "t", cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    one_line(result.stderr, str(tmp_path / "t"), "traces")
    assert tree(tmp_path) == before, "a report replaced saved traces"


def test_save_traces_into_a_symbolic_link_writes_into_the_folder_it_points_to(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to("real")
    for _ in range(2):  # the second run replaces the first one's traces through the link
        result = nnparity(
            "run", "--epochs", "3", "--mode", "free", "--save-traces", "link", cwd=tmp_path
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert (tmp_path / "link").is_symlink(), "the link was replaced by a folder"
        assert (tmp_path / "real" / "python.npz").is_file(), "nothing was written where it points"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "real"], "a staging folder left"


def test_a_traces_folder_with_a_mount_point_inside_is_refused_and_the_mount_kept(tmp_path):
    # The case folder's files copied, times and all, onto a file system mounted on case/: what
    # the manifest records is all there, unchanged, but case/ is another file system now.
    import shutil

    first = nnparity("run", "--epochs", "3", "--mode", "free", "--save-traces", "t", cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    shutil.copytree(tmp_path / "t" / "case", tmp_path / "keep")  # copy2: the same mtime_ns
    before = tree(tmp_path)
    args = "run --epochs 3 --mode free --save-traces t"
    script = (f'cp -p keep/* t/case/ && "$0" -m nnparity {args}; code=$?; '
              'echo "mounted: $(ls t/case | wc -l)"; exit $code')
    result = on_tmpfs(tmp_path / "t" / "case", "size=2m", ["sh", "-c", script, sys.executable],
                      cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    one_line(result.stderr, str(tmp_path / "t"), "case")
    assert result.stdout.splitlines()[-1] != "mounted: 0", "the mounted file system was emptied"
    assert tree(tmp_path) == before, "--save-traces replaced a folder with a mount point inside"


def test_an_earlier_output_that_cannot_be_removed_entirely_is_named_in_one_line(
    tmp_path, monkeypatch, capsys
):
    from nnparity.atomic import StagedFolder

    target = tmp_path / "out"
    with StagedFolder(target, "the report") as staging:
        (staging / "stuck.txt").write_text("first")
    unlink = os.unlink

    def refuse_stuck(path, *args, **kwargs):
        if str(path).endswith("stuck.txt"):
            raise PermissionError(1, "Operation not permitted", str(path))
        return unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", refuse_stuck)
    with StagedFolder(target, "the report") as staging:
        (staging / "new.txt").write_text("second")
    monkeypatch.undo()
    assert (target / "new.txt").read_text() == "second", "the new output was not put in place"
    left = [p for p in tmp_path.iterdir() if p != target]
    assert left, "the earlier output was removed after all: nothing to say"
    line = one_line(capsys.readouterr().err, str(target), "could not be removed")
    assert str(left[0]) in line, f"the line does not say where the rest is ({left[0]}): {line}"


@pytest.mark.parametrize("failing", [1, 2], ids=["moving-the-old-aside", "moving-the-new-in"])
def test_an_output_that_cannot_be_moved_into_place_leaves_the_earlier_one_and_nothing_else(
    tmp_path, monkeypatch, failing
):
    # The rename of the earlier output aside, or of the new one into place, fails (EBUSY, say):
    # the earlier output stays as it was, and no staging or .old folder is left beside it.
    from nnparity.atomic import StagedFolder

    target = tmp_path / "out"
    with StagedFolder(target, "the report") as staging:
        (staging / "page.txt").write_text("first")
    replace, calls = os.replace, []

    def busy(source, destination):
        calls.append(source)
        if len(calls) == failing:
            raise OSError(16, "Device or resource busy", str(source))
        return replace(source, destination)

    monkeypatch.setattr(os, "replace", busy)
    with pytest.raises(OSError), StagedFolder(target, "the report") as staging:
        (staging / "page.txt").write_text("second")
    monkeypatch.undo()
    assert (target / "page.txt").read_text() == "first", "the earlier output was changed"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"], (
        f"left beside the target: {sorted(p.name for p in tmp_path.iterdir())}"
    )


def test_save_traces_refuses_the_current_folder(tmp_path):
    here = tmp_path / "here"
    here.mkdir()
    result = nnparity("run", "--epochs", "3", "--mode", "free", "--save-traces", ".", cwd=here)
    assert result.returncode == 2, result.stdout + result.stderr
    one_line(result.stderr, str(here), "current folder")
    assert here.is_dir() and not any(here.iterdir()), "the current folder was replaced"


def test_save_traces_refuses_a_folder_holding_the_current_folder(tmp_path):
    first = nnparity("run", "--epochs", "3", "--mode", "free", "--save-traces", "t", cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    before = tree(tmp_path)
    result = nnparity("run", "--epochs", "3", "--mode", "free", "--save-traces", "..",
                      cwd=tmp_path / "t" / "case")
    assert result.returncode == 2, result.stdout + result.stderr
    one_line(result.stderr, str(tmp_path / "t"), "current folder")
    assert tree(tmp_path) == before, "the folder holding the current folder was replaced"


def test_a_replaced_folder_keeps_its_permissions(tmp_path):
    target = tmp_path / "t"
    target.mkdir()
    os.chmod(target, 0o2770)
    for _ in range(2):  # an empty folder, then nnparity's own traces
        result = nnparity("run", "--epochs", "3", "--mode", "free", "--save-traces", "t",
                          cwd=tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
        mode = target.stat().st_mode & 0o7777
        assert mode == 0o2770, f"the folder's permissions became {mode:o}, not 2770"


def test_a_traces_folder_that_is_a_mount_point_is_refused_before_the_run_leaving_nothing(
    tmp_path,
):
    # A mount point cannot be renamed (EBUSY): the run trained, then could not replace it.
    args = "run --epochs 3 --mode free --save-traces mp"
    script = f'"$0" -m nnparity {args}; code=$?; echo "left: $(ls -A)"; exit $code'
    result = on_tmpfs(tmp_path / "mp", "size=1m", ["sh", "-c", script, sys.executable],
                      cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    one_line(result.stderr, str(tmp_path / "mp"), "is a mount point")
    assert "PARITY" not in result.stdout, f"the run went on before refusing:\n{result.stdout}"
    assert result.stdout.splitlines()[-1] == "left: mp", f"something was left: {result.stdout}"


# -- the environment --------------------------------------------------------------------


FILLS = [
    # (id, command line writing into the folder "disk", what it writes)
    ("report", ["report", "--epochs", "50", "--out", "disk/site"], "disk/site"),
    ("save-stats", ["run", "--epochs", "500", "--save-stats", "disk/s.csv"], "disk/s.csv"),
    ("workbook", ["workbook", "--epochs", "200", "--out", "disk/w.xlsx"], "disk/w.xlsx"),
]


@pytest.mark.parametrize("args, target", [f[1:] for f in FILLS], ids=[f[0] for f in FILLS])
def test_an_output_that_fills_the_disk_is_one_line_naming_it_and_leaves_nothing(
    tmp_path, args, target
):
    # 100 kB: the free-space check lets these small outputs start; the disk fills as they write.
    # The tmpfs vanishes with its namespace: what is left on it is listed from inside.
    disk = tmp_path / "disk"
    then_list = f'"$0" -m nnparity "$@"; code=$?; echo "left: $(ls -A {disk})"; exit $code'
    command = ["sh", "-c", then_list, sys.executable, *args]
    result = on_tmpfs(disk, "size=100k", command, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    one_line(result.stderr, f"{tmp_path / target}: cannot be written", "No space left on device")
    assert result.stdout.splitlines()[-1] == "left: ", f"a partial output was left: {result.stdout}"


def test_traces_that_fill_the_disk_during_the_run_are_one_line_and_leave_nothing(
    port_copy, tmp_path
):
    # The free-space check passes (20 MB for 13 MB of traces); then the Python port fills the
    # disk from inside train, so the run's own trace writes are the ones that fail.
    disk = tmp_path / "disk"
    fill = (
        f"\n    try:\n        with open({str(disk / 'filler')!r}, 'ab') as f:\n"
        "            while True:\n                f.write(bytes(65536))\n"
        "    except OSError:\n        pass"
    )
    port = port_copy("python_impl", "train.py", TRAIN_PY, TRAIN_PY + fill)
    args = ["run", "--python-impl", str(port), "--save-traces", str(disk / "t")]
    then_list = f'"$0" -m nnparity "$@"; code=$?; echo "left: $(ls -A {disk})"; exit $code'
    result = on_tmpfs(disk, "size=20m", ["sh", "-c", then_list, sys.executable, *args])
    assert result.returncode == 2, result.stdout + result.stderr
    one_line(result.stderr, f"{disk / 't'}: cannot be written", "No space left on device")
    assert result.stdout.splitlines()[-1] == "left: filler", f"a partial output: {result.stdout}"


def test_a_full_dev_shm_does_not_fail_a_run(tmp_path):
    # Containers often mount a small /dev/shm (Docker: 64 MB); 1 MB is full before the article
    # case's first chunk. Memory files are a speed-up: the socket can carry every message.
    shm = Path("/dev/shm")
    result = on_tmpfs(shm, "size=1m", [sys.executable, "-m", "nnparity", "run"], cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == "", result.stderr


def test_a_wrong_r_home_is_one_line_and_exit_2(tmp_path):
    result = nnparity(
        "run", "--epochs", "5", cwd=tmp_path, env=dict(os.environ, R_HOME="/nonexistent")
    )
    assert result.returncode == 2
    one_line(result.stderr, "R_HOME=/nonexistent")


def on_tmpfs(folder: Path, options: str, command: list[str], **run) -> subprocess.CompletedProcess:
    """`command` with a tmpfs mounted on `folder` (mount options: "ro", "size=100k") in a mount
    namespace of its own: a read-only or full file system that root cannot write past and
    that vanishes with the command. Skips where unshare and mount are not allowed."""
    folder.mkdir(exist_ok=True)
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", f"mount -t tmpfs -o {options} tmpfs {folder}"],
        capture_output=True,
    )
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (unshare -m, mount): {probe.stderr!r}")
    script = f'mount -t tmpfs -o {options} tmpfs {folder} && exec "$@"'
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", script, "sh", *command],
        capture_output=True,
        text=True,
        timeout=300,
        **run,
    )


def read_only_home(tmp_path: Path, command: list[str]) -> subprocess.CompletedProcess:
    """`command` with HOME on a read-only file system (as root, permissions cannot stop a
    write)."""
    home = tmp_path / "home"
    return on_tmpfs(home, "ro", command, cwd=tmp_path, env=dict(os.environ, HOME=str(home)))


@pytest.mark.parametrize(
    "args",
    [
        ["run", "--epochs", "5", "--json"],
        ["report", "--epochs", "5", "--out", "site"],
        ["explain", "--step", "2"],
    ],
    ids=["run-json", "report", "explain"],
)
def test_a_read_only_home_changes_nothing_a_command_says(tmp_path, args):
    # R, rpy2, matplotlib (~/.config and ~/.cache/matplotlib) and fontconfig may want to
    # write under HOME; none of it may reach the user or the exit code.
    result = read_only_home(tmp_path, [sys.executable, "-m", "nnparity", *args])
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == "", f"a read-only HOME made {args[0]} say:\n{result.stderr}"
    if args[0] == "run":
        assert json.loads(result.stdout)["passed"] is True


@pytest.mark.parametrize("home", ["/proc/self", "/dev/null"], ids=["under-proc", "a-file"])
def test_a_home_that_cannot_hold_folders_changes_nothing_report_says(tmp_path, home):
    result = nnparity(
        "report", "--epochs", "5", "--out", "site", cwd=tmp_path, env=dict(os.environ, HOME=home)
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", f"HOME={home} made report say:\n{result.stderr}"
    assert (tmp_path / "site" / "loss.png").is_file()


@pytest.mark.parametrize("args", [["run", "--epochs", "5"], ["run", "--epochs", "5", "--json"]],
                         ids=["run", "run-json"])
def test_a_full_stdout_is_one_line_and_exit_2_where_the_verdict_was_a_pass(tmp_path, args):
    # It exited 0: `nnparity run --json > result.json` on a full disk passed a CI gate with an
    # empty result.json. A result that cannot be written is an output that cannot be written.
    with open("/dev/full", "w") as full:
        result = nnparity(*args, cwd=tmp_path, stdout=full)
    assert result.returncode == 2, f"the result was lost, yet exit {result.returncode}"
    one_line(result.stderr, "No space left on device")


def test_a_run_started_with_stderr_closed_prints_its_json_and_exits_0(tmp_path):
    # The workers' sockets took fd 2, and the run ended with exit 1, no JSON and no word.
    result = subprocess.run(
        [sys.executable, "-m", "nnparity", "run", "--epochs", "5", "--json"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=300,
        preexec_fn=lambda: os.close(2),
    )
    assert result.returncode == 0, f"exit {result.returncode}: {result.stdout[-300:]!r}"
    assert json.loads(result.stdout)["passed"] is True


def test_a_reader_that_stops_early_does_not_fail_a_run_whose_parity_held(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "nnparity", "run", "--epochs", "5"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    process.stdout.read(20)
    process.stdout.close()  # as `| head -c 20` does
    _, err = finish(process, 120)
    assert process.returncode == 0, err.decode()
    assert b"Traceback" not in err


def test_a_closed_stdout_is_one_line_and_exit_2_where_the_verdict_was_a_pass(tmp_path):
    result = subprocess.run(
        f"exec {sys.executable} -m nnparity run --epochs 5 >&-",
        shell=True,
        cwd=tmp_path,
        capture_output=False,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, f"the result was lost, yet exit {result.returncode}"
    one_line(result.stderr, "standard output is closed")


@pytest.mark.parametrize(
    "more, verdict",
    [([], 2), (["--json"], 2), (["--r-impl", "FAILING"], 1)],  # 2: a pass, its result lost
    ids=["tables", "json", "a-failing-verdict"],
)
def test_save_stats_is_written_though_stdout_is_closed(port_copy, tmp_path, more, verdict):
    if "FAILING" in more:  # R's output-layer bias update forgets the learning rate
        port = port_copy("r_impl", "steps.R", "bout + colSums(d_output) * lr",
                         "bout + colSums(d_output)")
        more = ["--r-impl", str(port)]
    args = " ".join(["run", "--epochs", "5", "--mode", "free", "--save-stats", "s.csv", *more])
    result = subprocess.run(
        f"exec {sys.executable} -m nnparity {args} >&-", shell=True, cwd=tmp_path,
        stderr=subprocess.PIPE, text=True, timeout=120,
    )
    assert (tmp_path / "s.csv").is_file(), (
        f"--save-stats wrote no file when stdout was closed, yet the exit code was "
        f"{result.returncode}:\n{result.stderr}"
    )
    assert result.returncode == verdict, result.stderr
    one_line(result.stderr, "standard output is closed")


def test_the_article_case_passes_with_every_safeguard_on(tmp_path):
    result = nnparity("run", "--timeout", "600", "--save-traces", "t", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["passed"] and report["epochs"] == 5000
    assert report["environment"]["R"].startswith("R version"), (
        "the R side of the fingerprint comes from the R worker"
    )


# -- explain: its ports are supervised as run's are -------------------------------------

SCRIPTS = Path(__file__).parent / "scripts"
LOOP_PY = "    # forward propagation"
LOOP_R = "  # forward"


def script_copy(tmp_path: Path, name: str, loop_line: str, first_line: str = "") -> Path:
    """A learner's faithful script with `loop_line` put at the top of its training loop."""
    source = (SCRIPTS / name).read_text()
    old = LOOP_PY if name.endswith(".py") else LOOP_R
    assert old in source, f"{name} no longer has the line {old!r} this test edits"
    copy = tmp_path / f"hostile_{name}"
    copy.write_text(first_line + source.replace(old, loop_line, 1))
    return copy


def explain_script(script: Path, *args: str, cwd: Path, **run):
    option = "--python-script" if script.suffix == ".py" else "--r-script"
    return nnparity("explain", option, str(script), "--step", "2", *args, cwd=cwd, **run)


EXPLAIN_ENDINGS = [
    # (id, script, line put in its loop, words)
    ("python-os-exit", "faithful.py", "    import os; os._exit(0)", ["exited with status 0"]),
    ("python-segfault", "faithful.py", "    import ctypes; ctypes.string_at(0)", ["SIGSEGV"]),
    (
        "r-kills-its-process",
        "faithful.R",
        "  tools::pskill(Sys.getpid(), tools::SIGKILL)",
        ["killed by SIGKILL"],
    ),
]


@pytest.mark.parametrize(
    "name, line, words", [e[1:] for e in EXPLAIN_ENDINGS], ids=[e[0] for e in EXPLAIN_ENDINGS]
)
def test_explain_with_a_script_that_ends_its_process_exits_1_with_one_line_and_no_walkthrough(
    tmp_path, name, line, words
):
    result = explain_script(script_copy(tmp_path, name, line), cwd=tmp_path)
    assert result.returncode == 1, f"exit {result.returncode}\n{result.stdout}{result.stderr}"
    one_line(result.stderr, "ended its process while training epochs 1-1", *words)
    assert result.stdout == "", "a walkthrough was printed although a port never finished"
    assert not leftover_processes(result.token), "a worker outlived explain"


@pytest.mark.parametrize(
    "sent, code",
    [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)],
    ids=["ctrl-c", "sigterm", "sighup"],
)
def test_explain_with_a_script_stuck_in_r_stops_on_a_signal_within_two_seconds(
    tmp_path, sent, code
):
    script = script_copy(tmp_path, "faithful.R", "  repeat {\n  }")
    token = uuid.uuid4().hex
    process = subprocess.Popen(
        [sys.executable, "-m", "nnparity", "explain", "--r-script", str(script)],
        cwd=tmp_path,
        env=dict(os.environ, NNPARITY_TEST_TOKEN=token),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out = stop_spinning_r(process, token, sent, code, "explain")
    assert out == ""


def test_explain_timeout_ends_a_script_that_hangs_with_exit_1_and_one_line(tmp_path):
    script = script_copy(tmp_path, "faithful.py", "    while True:\n        pass")
    result = explain_script(script, "--timeout", "10", cwd=tmp_path)  # a loaded machine's start
    assert result.returncode == 1, result.stdout + result.stderr
    one_line(result.stderr, "timed out after 10 s", "had not finished")
    assert result.stdout == ""
    assert not leftover_processes(result.token)


@pytest.mark.parametrize(
    "name, line, first, words",
    [
        (
            "faithful.py",
            '    import os; os.write(1, b"written to fd 1\\n")',
            'import os; os.write(1, b"fd 1 at import\\n")\n',
            ["written to fd 1", "fd 1 at import"],
        ),
        ("faithful.R", '  system("echo from a shell")', "", ["from a shell"]),
    ],
    ids=["python-writes-to-fd-1", "r-runs-a-shell-command"],
)
def test_explain_keeps_what_a_script_writes_to_stdout_out_of_the_walkthrough(
    tmp_path, name, line, first, words
):
    result = explain_script(script_copy(tmp_path, name, line, first), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Step 2:" in result.stdout
    for word in words:
        assert word not in result.stdout.splitlines(), f"{word!r} landed in explain's stdout"
        assert word in result.stderr.splitlines(), f"{word!r} did not reach stderr"


def test_explain_with_a_full_stdout_is_one_line_and_exit_2(tmp_path):
    with open("/dev/full", "w") as full:
        result = nnparity("explain", "--step", "2", cwd=tmp_path, stdout=full)
    assert result.returncode == 2, result.stderr
    one_line(result.stderr, "No space left on device")


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the dropping
def test_a_signal_whose_exception_a_finalizer_swallowed_still_stops_the_wait_for_a_worker():
    # Python runs a signal handler wherever the main thread is, a __del__ included, and an
    # exception raised there is printed and dropped ("Exception ignored in ..."); the handler
    # has already made later signals ignored. Seen once under load: a SIGTERMed run that
    # waited for an R loop for ever. The wait for a worker must raise the stop itself.

    from nnparity import signals
    from nnparity.cases import load_case
    from nnparity.supervise import Supervisor

    class SignalledWhileCollected:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(1000):  # the handler runs between two bytecodes, here
                pass

    kept = {each: signal.getsignal(each) for each in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        with Supervisor() as ports:
            port = ports.port("python")
            port.wait_loaded()
            signals.catch_signals()
            SignalledWhileCollected()  # collected at once: the handler runs in its __del__
            assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN, "the handler did not run"
            with pytest.raises(signals.Interrupted):
                port.start(load_case("article"))
    finally:
        signals.acted_on()
        for each, handler in kept.items():
            signal.signal(each, handler)


# -- lockstep's own R worker ------------------------------------------------------------


def test_lockstep_gets_an_r_worker_of_its_own_only_for_a_run_of_one_chunk():
    from nnparity import cases, traces

    article = cases.load_case("article")
    assert traces.lockstep_worker(article, article.epochs, traces.MODES), (
        "the article's run is one chunk: lockstep should recompute the steps beside R's training"
    )
    assert not traces.lockstep_worker(article, article.epochs, ("free",)), (
        "a free-running run has no lockstep to give a worker"
    )
    assert not traces.lockstep_worker(article, article.epochs, traces.MODES, chunk_bytes=4096), (
        "a run of many chunks keeps every core busy already: no second R worker"
    )


def test_what_a_port_says_while_it_loads_is_shown_once_though_lockstep_loads_it_again(
    port_copy, tmp_path
):
    said = "nnparity-test: the port was sourced"
    port = port_copy("r_impl", "train.R", TRAIN_R, f'message("{said}")\n{TRAIN_R}')
    result = nnparity("run", "--epochs", "20", "--r-impl", str(port), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr.count(said) == 1, (
        f"the port's message at load should reach stderr once (the lockstep worker loads the "
        f"port too, quietly); stderr was:\n{result.stderr}"
    )
    assert not leftover_processes(result.token), "a worker outlived the run"


def test_workers_let_go_end_on_their_own_and_leaving_the_block_waits_for_them():
    """A run lets its workers go before it writes the verdict (cli.command_run): they end
    meanwhile, and leaving the Supervisor's block still waits for every one of them."""
    from nnparity.supervise import Supervisor

    with Supervisor() as ports:
        workers = [ports.port("python"), ports.port("r")]
        for port in workers:
            port.wait_loaded()
        ports.let_go()
        began = time.monotonic()
        ended = [port.process.wait(timeout=10) for port in workers]
        folder = Path(ports.folder)
    assert ended == [0, 0] and time.monotonic() - began < 5, (
        f"workers let go should end on their own, at once and cleanly: exit codes {ended}"
    )
    assert not folder.exists(), "leaving the block should remove the run's message folder"


def test_a_request_being_sent_when_the_run_closes_the_socket_ends_quietly():
    # A signal ends a run while a request is on its way to a worker: let_go() closes the
    # socket under the sending thread, whose write then finds no handle (a TypeError inside
    # multiprocessing). That thread printed a traceback above the one line of the stop.
    ours, theirs = multiprocessing.Pipe()
    send_bytes = ours._send

    def closed_while_sending(buffer):
        ours.close()
        send_bytes(buffer)

    ours._send = closed_while_sending
    port = SimpleNamespace(
        connection=ours, folder=None, _outbox=queue.Queue(), _released=[],
        _released_lock=threading.Lock(),
    )
    port._outbox.put(("advance", (5, True)))
    port._outbox.put(None)
    try:
        WorkerPort._send_loop(port)
    except Exception as error:
        pytest.fail(f"the sending thread raised {error!r} when the run closed the socket")
    finally:
        theirs.close()


#: python_impl's train forking a child that would sleep for a minute, and r_impl's train
#: leaving a shell command running in the background: both carry the run's token.
LEFT_RUNNING = [
    (
        "python-fork",
        "python_impl",
        "train.py",
        RETURN_PY,
        "    import os, time\n    if os.fork() == 0:\n        time.sleep(60)\n        os._exit(0)\n"
        + RETURN_PY,
    ),
    (
        "r-background",
        "r_impl",
        "train.R",
        "  trace <- list()\n",
        '  system("sleep 60 &")\n  trace <- list()\n',
    ),
    (  # a session of its own: not in the worker's process group
        "python-new-session",
        "python_impl",
        "train.py",
        RETURN_PY,
        "    import subprocess\n    subprocess.Popen(['sleep', '60'], start_new_session=True)\n"
        + RETURN_PY,
    ),
    (
        "r-setsid",
        "r_impl",
        "train.R",
        "  trace <- list()\n",
        '  system("setsid sleep 60 > /dev/null 2>&1 &")\n  trace <- list()\n',
    ),
]


@pytest.mark.parametrize(
    "folder, file, old, new", [e[1:] for e in LEFT_RUNNING], ids=[e[0] for e in LEFT_RUNNING]
)
def test_what_a_port_leaves_running_ends_with_a_run_that_ends_normally(
    port_copy, tmp_path, folder, file, old, new
):
    option = "--r-impl" if folder == "r_impl" else "--python-impl"
    result = nnparity(
        "run", "--epochs", "5", "--mode", "free", option, str(port_copy(folder, file, old, new)),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    left = leftover_processes(result.token)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, (
        f"a process the {folder} port started ({len(left)} of them) was still running after "
        "the run ended normally"
    )


def test_a_learners_module_named_like_the_standard_librarys_does_not_reach_the_workers(tmp_path):
    # Learners name files random.py or csv.py. The `nnparity` command does not put the current
    # folder on sys.path (`python -P` stands for it here); its workers must not either.
    (tmp_path / "random.py").write_text('raise ImportError("the learner\'s random.py")\n')
    (tmp_path / "csv.py").write_text("x = 1\n")
    result = subprocess.run(
        [sys.executable, "-P", "-m", "nnparity", "run", "--epochs", "5", "--mode", "free"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, (
        "a random.py in the folder nnparity ran in was imported by a worker in place of the "
        f"standard library's:\n{result.stderr}"
    )


def test_a_python_port_imports_the_modules_beside_it_from_any_folder(tmp_path):
    # As `python port.py` would: the port's own folder is on its sys.path, wherever nnparity
    # runs (the worker no longer has the current folder there).
    port = tmp_path / "port"
    port.mkdir()
    (port / "helpers.py").write_text("from nnparity.paths import python_impl\n")
    (port / "my_port.py").write_text(
        "from helpers import python_impl\n\ntrain = python_impl().train\n"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run(
        [sys.executable, "-P", "-m", "nnparity", "run", "--epochs", "5", "--mode", "free",
         "--python-impl", str(port / "my_port.py")],
        cwd=elsewhere, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, (
        f"a port importing the module beside it did not load:\n{result.stderr}"
    )



def test_workers_run_the_package_and_ports_of_the_checkout_the_run_was_started_from(
    tmp_path, r_available
):
    """A second checkout sharing the virtualenv (a git worktree): `python -m nnparity` there
    imports that checkout's package; its workers must too, with its ports, not the installed
    ones. A step changed in the checkout's r_impl held parity when they did not."""
    import shutil

    root = Path(__file__).resolve().parent.parent
    checkout = tmp_path / "checkout"
    for folder in ("nnparity", "python_impl", "r_impl", "fixtures"):
        shutil.copytree(root / folder, checkout / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    steps_r = checkout / "r_impl" / "steps.R"
    text = steps_r.read_text()
    assert "colSums(d_output) * lr" in text, "r_impl/steps.R changed: the test's edit is stale"
    steps_r.write_text(text.replace("colSums(d_output) * lr", "colSums(d_output) * lr * 2", 1))
    result = nnparity("run", "--epochs", "5", "--mode", "free", cwd=checkout)
    assert result.returncode == 1, (
        "the checkout's r_impl doubles bout's update, yet the run exited "
        f"{result.returncode}: its workers ran another package's ports\n{result.stdout}"
    )
    assert "step 11 (bout)" in result.stdout, result.stdout


@pytest.fixture(scope="module")
def saved_traces(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("saved") / "t"
    result = nnparity("run", "--epochs", "5", "--save-traces", str(folder), cwd=folder.parent)
    assert result.returncode == 0, result.stderr
    return folder


#: Commands beside `run`, `explain` and `report` that print a result, and the exit code each
#: gives here when stdout takes what it prints.
PRINTING = {
    "compare": (lambda traces: ["compare", str(traces), str(traces)], 0),
    "workbook": (lambda traces: ["workbook", "--epochs", "1", "--out", "w.xlsx"], 0),
    "doctor": (lambda traces: ["doctor"], None),  # 0 or 2, as the machine is
}


@pytest.mark.parametrize("command", PRINTING)
def test_a_full_stdout_is_one_line_and_exit_2_where_the_command_would_exit_0(
    tmp_path, saved_traces, command
):
    argv, code = PRINTING[command]
    expected = code if code is not None else nnparity(*argv(saved_traces), cwd=tmp_path).returncode
    expected = 2 if expected == 0 else expected  # what it printed was lost: no pass
    with open("/dev/full", "w") as full:
        result = nnparity(*argv(saved_traces), cwd=tmp_path, stdout=full)
    assert result.returncode == expected, f"{command}: exit {result.returncode}\n{result.stderr}"
    one_line(result.stderr, "No space left on device")


@pytest.mark.parametrize("command", PRINTING)
def test_a_reader_that_stops_early_changes_no_exit_code(tmp_path, saved_traces, command):
    argv, code = PRINTING[command]
    expected = code if code is not None else nnparity(*argv(saved_traces), cwd=tmp_path).returncode
    reader, writer = os.pipe()
    os.close(reader)  # as `| head -0` leaves it: every write is a broken pipe
    with os.fdopen(writer, "w") as closed:
        result = nnparity(*argv(saved_traces), cwd=tmp_path, stdout=closed)
    assert result.returncode == expected, (
        f"{command} | head: exit {result.returncode} where it exits {expected}:\n{result.stderr}"
    )
    assert "Traceback" not in result.stderr, result.stderr


#: What can stop a run once it has trained and compared, before its outputs are in place:
#: a full disk while the statistics are written, a Ctrl-C; and the exit code then.
LATE_STOPS = {
    "full-disk": (OSError(28, "No space left on device"), 2),
    "ctrl-c": (KeyboardInterrupt(), 130),
}


@pytest.mark.parametrize("stop", LATE_STOPS, ids=LATE_STOPS)
def test_a_run_stopped_before_its_outputs_are_in_place_leaves_the_earlier_ones_as_they_were(
    tmp_path, monkeypatch, capsys, stop
):
    """Traces and statistics move in together: the traces had replaced the earlier ones, then
    the statistics failed on a full disk (exit 2), or a Ctrl-C came, and the run said it
    had been stopped with nothing left half-written."""
    import pandas as pd

    from nnparity import cli

    first = nnparity("run", "--epochs", "5", "--mode", "free", "--save-traces", "t",
                     "--save-stats", "s.csv", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    before = tree(tmp_path)
    error, code = LATE_STOPS[stop]

    def fails(*args, **kwargs):
        raise error

    monkeypatch.setattr(pd.DataFrame, "to_csv", fails)  # the statistics, written last
    monkeypatch.chdir(tmp_path)
    got = cli.main(["run", "--epochs", "7", "--mode", "free", "--save-traces", "t",
                    "--save-stats", "s.csv"])
    capsys.readouterr()
    assert got == code, f"exit {got}"
    assert tree(tmp_path) == before, (
        "a run stopped before its outputs moved in replaced the earlier ones, or left "
        f"something beside them: {sorted(set(tree(tmp_path)) ^ set(before))}"
    )


def test_a_copy_of_the_package_alone_says_what_it_lacks(tmp_path):
    """It said "[Errno 2] No such file or directory: '.../fixtures'"."""
    import shutil

    root = Path(__file__).resolve().parent.parent
    shutil.copytree(root / "nnparity", tmp_path / "nnparity",
                    ignore=shutil.ignore_patterns("__pycache__"))
    result = nnparity("run", "--case", "article", cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    one_line(result.stderr, "has no python_impl/, r_impl/, fixtures/ beside it", "wheel")


#: Code that prints a forged verdict and ends the process: what a port may try to run in the
#: supervisor through its reply (a pickle calls what it names).
FORGE = ("import os, sys; sys.stdout.write('PARITY HOLDS: forged\\n'); sys.stdout.flush(); "
         "os._exit(0)")

#: Ways a Python port can put a call of exec into its reply: a str subclass among its trace's
#: names, or the worker's own encoder replaced (the port runs in the worker's process).
FORGED_REPLIES = {
    "trace-name": '''
class _Name(str):
    def __reduce__(self):
        return (exec, (FORGE,))


_train = train


def train(*args, **kwargs):
    result = _train(*args, **kwargs)
    if result["trace"]:
        result["trace"][_Name("E")] = result["trace"].pop("E")
    return result
''',
    "worker-encoder": '''
import sys as _sys


class _Call:
    def __reduce__(self):
        return (exec, (FORGE,))


_wire = _sys.modules["nnparity.wire"]
_encode = _wire.encode
_wire.encode = lambda reply, *args: _encode((reply, _Call()), *args)
''',
}


@pytest.mark.parametrize("route", FORGED_REPLIES)
def test_a_port_cannot_make_the_supervisor_run_its_code_through_its_reply(
    tmp_path, port_copy, route
):
    """A reply is read as data only: a trace's names cross as plain str, and a reply naming a
    class or function is refused; the run fails naming the port."""
    end = "    return dict(wh=wh, bh=bh, wout=wout, bout=bout, output=output, trace=trace)\n"
    code = f"\nFORGE = {FORGE!r}\n" + FORGED_REPLIES[route]
    port = port_copy("python_impl", "train.py", end, end + code)
    result = nnparity("run", "--epochs", "5", "--python-impl", str(port), "--json", cwd=tmp_path)
    assert "forged" not in result.stdout, f"the port's code ran in the supervisor:\n{result.stdout}"
    document = json.loads(result.stdout)
    if route == "trace-name":  # its name is the plain "E": a faithful port, checked
        assert result.returncode == 0 and document["passed"], result.stdout + result.stderr
        return
    # its first reply, to the load, is refused: a port that does not load (exit 2)
    assert result.returncode == 2 and document["passed"] is False, result.stdout
    assert "sent a reply nnparity cannot read (it holds a builtins.exec" in result.stderr, (
        result.stderr
    )


#: An R port whose steps$bout is wrong (lockstep's to find; its train() is right), and which
#: replaces the harness's lockstep() from its file with one handing back Python's own values.
REPLACES_THE_HARNESS = '''
steps$bout <- function(bout, d_output, lr) bout + colSums(d_output) * lr * 2
lockstep <<- function(port, trace, start, X, y, lr, quantities, state_names,
                      elementwise, batch) {
  values <- lapply(trace[names(quantities)], function(v) {
    if (is.list(v)) v <- as_epochs_last(v)
    attr(v, "epochs_last") <- TRUE
    v
  })
  list(values = values, problems = list())
}
'''


def test_an_r_port_cannot_replace_the_harnesss_functions_from_its_files(tmp_path, port_copy):
    """harness.R lived in R's global environment, where a port's `<<-` replaced its lockstep():
    a wrong step passed lockstep, exit 0. The harness lives in an environment of its own."""
    end = "    wh = wh, bh = bh, wout = wout, bout = bout, output = output, trace = trace\n  )\n}\n"
    port = port_copy("r_impl", "train.R", end, end + REPLACES_THE_HARNESS)
    result = nnparity("run", "--epochs", "5", "--mode", "lockstep", "--r-impl", str(port),
                      cwd=tmp_path)
    assert result.returncode == 1, (
        f"a port's own lockstep() replaced the harness's: exit {result.returncode}\n"
        f"{result.stdout}{result.stderr}"
    )
    assert "First: epoch 1, step 11 (bout)" in result.stdout, result.stdout


#: A Python port that leaves a process behind which left the worker's session (setsid) and
#: cleared its environment (so the worker's mark in it is gone too): it writes a file later.
ESCAPES = '''
_train = train


def train(*args, **kwargs):
    import os

    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execve("/bin/sh", ["sh", "-c", "sleep 2; echo escaped > {out}"], {{"PATH": "/bin"}})
        os._exit(0)
    return _train(*args, **kwargs)
'''


def test_a_process_a_port_leaves_without_its_session_or_environment_ends_with_the_run(
    tmp_path, port_copy
):
    """It outlived the run and wrote its file 2 s later: now the command line adopts what its
    workers' children leave (a child subreaper) and ends it as it exits."""
    out = tmp_path / "escaped.txt"
    end = "    return dict(wh=wh, bh=bh, wout=wout, bout=bout, output=output, trace=trace)\n"
    port = port_copy("python_impl", "train.py", end, end + ESCAPES.format(out=out))
    result = nnparity("run", "--epochs", "5", "--mode", "free", "--python-impl", str(port),
                      cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    time.sleep(3.5)
    assert not out.exists(), "a process the port left behind outlived the run"


def test_a_step_whose_arguments_lockstep_hands_by_position_says_so_when_it_fails(
    tmp_path, port_copy
):
    """A faithful E written function(out, target) target - out, called so by the port's own
    train(): lockstep hands its inputs in the step list's order (y, output), and the failure
    read as a wrong formula."""
    from tools.port_copy import change_once

    port = port_copy("r_impl", "steps.R", "  E = function(y, output) {\n    y - output\n",
                     "  E = function(out, target) {\n    target - out\n")
    change_once(port, "train.R", "steps$E(y, output)", "steps$E(output, y)")
    result = nnparity("run", "--epochs", "5", "--r-impl", str(port), cwd=tmp_path)
    assert result.returncode == 1 and "(free, 5 epochs): parity holds" in result.stdout, (
        result.stdout + result.stderr
    )
    said = " ".join(result.stdout.split())
    assert ("lockstep handed steps$E its inputs by position (out = y, target = output), as "
            "its arguments (out, target) are not the step list's names (y, output): if that is "
            "not what they mean, name them so") in said, said


def test_a_shells_background_job_survives_nnparity_execd_by_that_shell(tmp_path):
    """A shell that `exec`s nnparity hands it its children: the processes nnparity ends as it
    exits must be only what its ports' children left, never those."""
    # the job's output elsewhere: on the captured pipes it would hold them open for 60 s
    script = (f"sleep 60 > /dev/null 2>&1 & echo $! > job.pid; "
              f"exec {shlex.quote(sys.executable)} -m nnparity run --epochs 5 --mode free")
    result = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120)
    job = int((tmp_path / "job.pid").read_text())
    try:
        assert result.returncode == 0, result.stdout + result.stderr
        os.kill(job, 0)  # raises ProcessLookupError when it was ended
    except ProcessLookupError:
        pytest.fail("nnparity ended a background job of the shell that exec'd it")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(job, signal.SIGKILL)


def test_an_r_port_setting_its_steps_in_the_global_environment_is_checked_in_lockstep(
    tmp_path, port_copy
):
    """`steps <<- list(...)` at the top of steps.R puts the list in R's global environment, as
    Rscript main.R would: lockstep said the port defines no steps list."""
    port = port_copy("r_impl", "steps.R", "steps <- list(", "steps <<- list(")
    result = nnparity("run", "--epochs", "5", "--r-impl", str(port), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "modes: free, lockstep" in result.stdout, result.stdout


def test_an_r_port_that_fails_then_hangs_in_a_chunk_asked_for_ahead_ends_the_run_at_once(
    port_copy,
):
    """Free-running, R's next chunks are asked for before R's last one is in (traces.R_AHEAD):
    after a failed chunk, R's worker goes on with one nobody will read. A port that then hung
    there held the run until --timeout, where it had ended in 2 s with the failure."""
    from nnparity import supervise, traces
    from nnparity.cases import load_case

    hangs_after = (
        TRAIN_R + '\n  calls <<- if (exists("calls")) calls + 1 else 1\n'
        '  if (calls == 5) stop("broken in the fifth call")\n'
        "  if (calls > 5) repeat {}\n"
    )
    port = port_copy("r_impl", "train.R", TRAIN_R, hangs_after)
    case = load_case("article")
    with supervise.Supervisor(supervise.Deadline(30)) as ports:
        python_port, r_port = ports.port("python"), ports.port("r", port)
        python_port.wait_loaded()
        r_port.wait_loaded()
        # a run that waits for the hanging chunk ends with RunTimeout here
        run = traces.run(case, python_port, r_port, 16, ("free",),
                         chunk_bytes=2 * traces.epoch_bytes(case),
                         environment=r_port.environment)  # as `nnparity run` asks for it
        verdict = time.monotonic()
    left = time.monotonic() - verdict
    assert not run.passed and "broken in the fifth call" in (run.reports["free"].error or ""), (
        f"the run should fail with R's error: {run.reports['free'].error!r}"
    )
    assert left < 1.5, (
        f"the workers took {left:.1f} s to end after the verdict: R's worker, hanging in a chunk "
        "nobody reads, should be killed at once, not after spawn.end's 2 s of grace"
    )


def test_a_worker_that_cannot_be_started_is_one_line_and_leaves_no_folder(
    tmp_path, monkeypatch, capsys
):
    from nnparity import spawn
    from nnparity.cli import main

    def cannot_execute(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(spawn.subprocess, "Popen", cannot_execute)
    spawn.early(["run"])  # as `nnparity run` starts its workers, before the command line
    code = main(["run", "--epochs", "3"])
    _, err = capsys.readouterr()
    assert code == 2, f"exit {code}, expected 2: {err}"
    one_line(err, "cannot start the Python port's worker process", "Permission denied")
    assert list(tmp_path.iterdir()) == [], "a worker's temporary folder was left behind"


def test_a_lockstep_run_whose_r_train_fails_does_not_pass(port_copy, tmp_path):
    # Lockstep calls R's steps, and R's train() only to check its bits: a train() that always
    # stopped passed the run (exit 0), its error in --json's determinism alone.
    port = port_copy("r_impl", "train.R", "  trace <- list()\n",
                     '  stop("train() is broken")\n  trace <- list()\n')
    result = nnparity("run", "--epochs", "5", "--mode", "lockstep", "--r-impl", str(port),
                      cwd=tmp_path)
    assert result.returncode == 1, f"R's train() fails, yet exit {result.returncode}"
    verdict = result.stdout.strip().splitlines()[-2]
    assert verdict.startswith("PARITY FAILS: article: the R port") and \
        "train() is broken" in verdict, result.stdout


@pytest.mark.parametrize("sent", ["SIGUSR1", "SIGALRM"])
def test_a_port_signalling_nnparity_stops_the_run_cleaned_up_and_said(port_copy, tmp_path, sent):
    # SIGUSR1 to the parent ended nnparity with no word, no --json and its workers' folders
    # left behind (exit 138 from the kernel, not from nnparity).
    port = port_copy("python_impl", "train.py", '    """Train for `epochs`',
                     f'    import os, signal; os.kill(os.getppid(), signal.{sent})\n'
                     '    """Train for `epochs`')
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    number = getattr(signal, sent)
    result = nnparity("run", "--epochs", "5", "--json", "--python-impl", str(port), cwd=tmp_path,
                      env=dict(os.environ, TMPDIR=str(tmp)),  # not ignored, as an xdist worker's
                      preexec_fn=lambda: signal.signal(number, signal.SIG_DFL))  # may leave it
    assert result.returncode == 128 + number, f"exit {result.returncode}\n{result.stderr}"
    assert json.loads(result.stdout)["error"]["exit_code"] == 128 + number, result.stdout
    one_line(result.stderr, f"stopped by {sent}")
    assert list(tmp.iterdir()) == [], f"left behind: {list(tmp.iterdir())}"


PARTIAL_FRAME_PY = '''    import os as _os, stat as _stat
    for fd in range(3, 64):  # a frame header announcing 16 MB, then 10 bytes, into the socket
        try:
            if _stat.S_ISSOCK(_os.fstat(fd).st_mode):
                _os.write(fd, b"\\x01\\x00\\x00\\x00" + b"x" * 10)
        except OSError:
            pass
    """Train for `epochs`'''


def test_a_port_writing_part_of_a_reply_into_its_socket_is_ended_by_the_timeout(
    port_copy, tmp_path
):
    # The supervisor waited in Connection.recv_bytes() for the rest of the frame, past
    # --timeout, for ever.
    port = port_copy("python_impl", "train.py", '    """Train for `epochs`', PARTIAL_FRAME_PY)
    started = time.monotonic()
    result = nnparity("run", "--epochs", "5", "--timeout", "5", "--python-impl", str(port),
                      cwd=tmp_path, timeout=60)  # its --timeout, and the worker's kill
    assert time.monotonic() - started < 60, "the run outlived its --timeout by far"
    assert result.returncode == 1, f"exit {result.returncode}\n{result.stderr}"
    one_line(result.stderr, "timed out after 5 s (--timeout)")


def test_a_port_writing_garbage_into_its_socket_is_said_to_send_an_unreadable_reply(
    port_copy, tmp_path
):
    # It was "killed by SIGKILL (out of memory, or killed from outside)": nnparity had killed
    # the worker itself after the connection broke.
    port = port_copy("python_impl", "train.py", '    """Train for `epochs`',
                     PARTIAL_FRAME_PY.replace('b"\\x01\\x00\\x00\\x00" + b"x" * 10',
                                              'b"\\x80\\x00\\x00\\x01" + b"garbage"'))
    result = nnparity("run", "--epochs", "5", "--timeout", "60", "--python-impl", str(port),
                      cwd=tmp_path, timeout=90)
    assert result.returncode == 1, f"exit {result.returncode}\n{result.stderr}"
    one_line(result.stderr, "sent a reply nnparity cannot read")


def test_an_r_port_given_by_a_relative_path_loads_though_its_file_calls_setwd(
    port_copy, tmp_path
):
    # "r_impl: train.R: 'r_impl/train.R' is not an existing file": steps.R's setwd() moved
    # R's folder before train.R, named relative to the folder nnparity runs in, was sourced.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    text = (paths.R_IMPL / "steps.R").read_text()
    port_copy("r_impl", "steps.R", text, text + f'\nsetwd("{elsewhere}")\n')
    result = nnparity("run", "--epochs", "5", "--r-impl", "r_impl", cwd=tmp_path)
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stderr}"


def test_an_error_in_a_ports_load_r_names_load_r(port_copy, tmp_path):
    # "r_impl: file.exists(...) is not TRUE (in eval(exprs[i], envir))": no file named.
    port = port_copy("r_impl", "load.R", 'r_impl_files <- c(',
                     'stopifnot(file.exists("nowhere.R"))\nr_impl_files <- c(')
    result = nnparity("run", "--epochs", "5", "--r-impl", str(port), cwd=tmp_path)
    assert result.returncode == 2, f"exit {result.returncode}\n{result.stderr}"
    one_line(result.stderr, 'load.R: file.exists("nowhere.R") is not TRUE')


@pytest.mark.parametrize("payload", [
    'pickle.dumps(("inline", None))',  # a reply of no (status, value) shape
    'b"\\x80\\x04N(K\\x01\\x90."',  # unpickling raises AttributeError
], ids=["no-status-and-value", "attribute-error"])
def test_a_port_forging_a_reply_in_its_socket_is_one_line_not_a_traceback(
    port_copy, tmp_path, payload
):
    # A traceback, and --json printed nothing: the forged reply reached the run unchecked.
    frame = (f"    import os as _os, pickle, stat as _stat\n    _p = {payload}\n"
             "    for fd in range(3, 64):\n        try:\n"
             "            if _stat.S_ISSOCK(_os.fstat(fd).st_mode):\n"
             "                _os.write(fd, len(_p).to_bytes(4, 'big') + _p)\n"
             "        except OSError:\n            pass\n"
             '    """Train for `epochs`')
    port = port_copy("python_impl", "train.py", '    """Train for `epochs`', frame)
    result = nnparity("run", "--epochs", "5", "--json", "--python-impl", str(port), cwd=tmp_path)
    assert result.returncode == 1, f"exit {result.returncode}\n{result.stderr}"
    one_line(result.stderr, "sent a reply nnparity cannot read")
    assert json.loads(result.stdout)["error"]["exit_code"] == 1, result.stdout


def test_a_port_announcing_a_reply_of_2_to_the_62_bytes_is_refused_at_once(port_copy, tmp_path):
    # The supervisor waited for the bytes without --timeout, or buffered gigabytes.
    port = port_copy("python_impl", "train.py", '    """Train for `epochs`',
                     PARTIAL_FRAME_PY.replace(
                         'b"\\x01\\x00\\x00\\x00" + b"x" * 10',
                         'b"\\xff\\xff\\xff\\xff" + (1 << 62).to_bytes(8, "big")'))
    result = nnparity("run", "--epochs", "5", "--python-impl", str(port), cwd=tmp_path,
                      timeout=60)
    assert result.returncode == 1, f"exit {result.returncode}\n{result.stderr}"
    one_line(result.stderr, "sent a reply nnparity cannot read (a frame of")
