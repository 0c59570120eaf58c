"""Ctrl-C in the supervising process: while it starts, and while R runs in it (nnparity/signals.py,
nnparity/__main__.py, nnparity/bridge.py)."""

from __future__ import annotations

import json
import platform
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.usefixtures("r_available")

#: A supervisor that started R, interrupted while R runs: rpy2 calls back into Python
#: while R works, and the handler's KeyboardInterrupt raised there is dropped by rpy2.
INTERRUPTED_IN_R = """
import os, signal, sys, threading, time
from nnparity import bridge, signals
signals.catch_signals()
bridge.r()
threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
began = time.monotonic()
try:
    bridge.r()[0].r("f <- function() { repeat x <- 1; 0 }")
    bridge.call("f")
except KeyboardInterrupt:
    print(f"stopped after {time.monotonic() - began:.1f} s")
else:
    print("went on")
"""


@pytest.fixture(scope="module")
def interrupted_in_r() -> subprocess.CompletedProcess:
    """INTERRUPTED_IN_R's output, run once for this module's tests; a run still in R after
    30 s is killed and reported as such."""
    command = [sys.executable, "-c", INTERRUPTED_IN_R]
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired as hung:
        out, err = (
            part.decode() if isinstance(part, bytes) else part or ""
            for part in (hung.stdout, hung.stderr)
        )
        return subprocess.CompletedProcess(command, -9, "still in R after 30 s\n" + out, err)


def test_ctrl_c_while_r_runs_in_the_supervisor_stops_r_at_once(interrupted_in_r):
    result = interrupted_in_r
    said = result.stdout.strip()
    assert said.startswith("stopped after") and float(said.split()[2]) < 2.0, (
        "a Ctrl-C that arrived while R ran an endless loop in the supervising process did not "
        f"stop it within 2 s (R was not told, or the stop was lost):\n{result.stdout}"
        f"{result.stderr}"
    )


def test_ctrl_c_while_r_runs_in_the_supervisor_prints_no_traceback(interrupted_in_r):
    result = interrupted_in_r
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr, (
        "a Ctrl-C raised inside one of rpy2's callbacks was printed by cffi with a "
        f"traceback:\n{result.stderr}"
    )


def test_starting_r_keeps_the_supervisors_signal_handlers():
    code = (
        "import signal; from nnparity import bridge, signals; signals.catch_signals(); "
        "bridge.r(); print(signal.getsignal(signal.SIGINT) is signals.on_signal)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "True", (
        f"rpy2 replaced the supervisor's SIGINT handler as R started:\n{result.stderr}"
    )


#: A Ctrl-C while `nnparity` imports its modules, before any run: the import of the first
#: module after the signal handlers (spawn) is interrupted, as a Ctrl-C there would.
CTRL_C_WHILE_IMPORTING = """
import sys
class Interrupting:
    stopped = False

    def find_spec(self, name, path=None, target=None):
        if name == "nnparity.spawn" and not self.stopped:  # one Ctrl-C
            self.stopped = True
            raise KeyboardInterrupt
sys.meta_path.insert(0, Interrupting())
from nnparity import __main__
print(__main__.command())
"""


def test_ctrl_c_while_the_command_imports_its_modules_is_one_line_and_exit_130():
    result = subprocess.run(
        [sys.executable, "-c", CTRL_C_WHILE_IMPORTING], capture_output=True, text=True,
        timeout=60,
    )
    assert result.stdout.strip() == "130" and "Traceback" not in result.stderr, (
        "a Ctrl-C while nnparity imported its modules (before a run began) did not end in "
        f"one line and exit code 130:\nstdout: {result.stdout}\nstderr: {result.stderr}"
    )
    assert result.stderr.strip().startswith("nnparity: interrupted (Ctrl-C)"), result.stderr


def test_ctrl_c_before_run_json_reads_its_command_line_still_prints_one_json_document():
    # `run --json` prints one document whatever happens, a stop during start-up included.
    code = CTRL_C_WHILE_IMPORTING.replace(
        "from nnparity import __main__",
        'sys.argv = ["nnparity", "run", "--json", "--case", "iris"]\nfrom nnparity import __main__',
    ).replace("print(__main__.command())", "__main__.command()")
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    try:
        document = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"stdout is not one JSON document:\n{result.stdout}\n{result.stderr}")
    assert document["passed"] is False and document["error"]["exit_code"] == 130, document
    assert document["case"] == "iris", document


@pytest.mark.parametrize("stop, code", [("KeyboardInterrupt", 130), ("Interrupted(15)", 143)],
                         ids=["ctrl-c", "sigterm"])
def test_a_stop_inside_numpys_import_during_run_json_is_one_line_and_one_document(stop, code):
    # Inside the start of numpy's extension (its numpy.dtypes): numpy cannot be imported again
    # in this process, and the handler that builds the JSON document must not need it.
    script = CTRL_C_WHILE_IMPORTING.replace('"nnparity.spawn"', '"numpy.dtypes"').replace(
        "raise KeyboardInterrupt", f"raise {stop}"
    ).replace(
        "from nnparity import __main__",
        "from nnparity.signals import Interrupted\n"
        'sys.argv = ["nnparity", "run", "--json", "--epochs", "300"]\n'
        "from nnparity import __main__",
    ).replace("print(__main__.command())", "sys.exit(__main__.command())")
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == code and len(result.stderr.strip().splitlines()) == 1, (
        f"a stop while the supervisor imported numpy did not end in one line and exit {code}:"
        f"\nexit {result.returncode}\nstderr: {result.stderr}"
    )
    try:
        document = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"stdout is not one JSON document:\n{result.stdout}\n{result.stderr}")
    assert document["error"]["exit_code"] == code, document


def test_a_signal_while_the_outputs_move_in_and_the_result_is_printed_is_too_late_to_stop():
    """Stopping there would leave outputs moved in, the earlier ones gone, under a message
    that the run was stopped: the command completes instead."""
    from nnparity import signals

    kept = {number: signal.getsignal(number)
            for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        with signals.finishing():
            signals.on_signal(signal.SIGINT, None)  # raises KeyboardInterrupt outside
        with pytest.raises(KeyboardInterrupt):
            signals.on_signal(signal.SIGINT, None)
    finally:  # on_signal ignores later signals from then on: pytest's own handlers back
        signals.acted_on()  # and the stop it took is not left pending for the next command
        for number, handler in kept.items():
            signal.signal(number, handler)


def test_a_signal_while_a_result_prints_lets_it_print_whole(capsys):
    """explain interrupted while printing left part of its walkthrough on stdout."""
    import os

    from rich.console import Console

    from nnparity import signals
    from nnparity.command import write_out

    def write() -> None:
        print("the first half")
        os.kill(os.getpid(), signal.SIGINT)  # delivered at once, to this thread
        print("the second half")

    kept = {number: signal.getsignal(number)
            for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        signals.catch_signals()
        write_out(Console(), Console(stderr=True), write)
    finally:
        for number, handler in kept.items():
            signal.signal(number, handler)
    out = capsys.readouterr().out
    assert out == "the first half\nthe second half\n", f"the result was cut short: {out!r}"


@pytest.mark.skipif(platform.machine() != "x86_64" or not Path("/proc/self/syscall").exists(),
                    reason="finds the write by its x86_64 syscall number in /proc/PID/syscall")
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT],
                         ids=["SIGTERM", "SIGHUP", "SIGINT"])
def test_a_signal_while_the_result_waits_on_a_slow_reader_leaves_it_whole(tmp_path, stop):
    """A signal that ended a write to a full pipe part way: 4096 of the 12443 bytes of
    --json reached the reader, and the run exited 0."""
    import fcntl
    import os
    import time

    reader, writer = os.pipe()
    fcntl.fcntl(reader, 1031, 4096)  # F_SETPIPE_SZ: the pipe holds 4096 bytes
    run = subprocess.Popen([sys.executable, "-m", "nnparity", "run", "--epochs", "300", "--json"],
                           stdout=writer, stderr=subprocess.PIPE, cwd=tmp_path)
    os.close(writer)
    try:
        deadline = time.monotonic() + 120
        while True:  # until it waits in write(1, ...) on the full pipe
            fields = Path(f"/proc/{run.pid}/syscall").read_text().split()
            if fields and fields[0] == "1" and int(fields[1], 16) == 1:
                break
            assert run.poll() is None and time.monotonic() < deadline, "never waited on stdout"
            time.sleep(0.01)
        run.send_signal(stop)
        time.sleep(0.3)
        with os.fdopen(reader, "rb") as pipe:
            printed = pipe.read()
        run.wait(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, run.stderr.read().decode()
    document = json.loads(printed)  # whole: one JSON document
    assert document["passed"] is True


def test_a_signal_held_through_nested_finishing_blocks_is_still_too_late():
    """write_out's block sits inside the run's: leaving the inner one had ended the run's,
    and the signal, let through by the outer one, stopped a run whose result was printed."""
    import os

    from nnparity import signals

    kept = {number: signal.getsignal(number) for number in signals.STOPS}
    try:
        signals.catch_signals()
        with signals.finishing():
            with signals.finishing():
                os.kill(os.getpid(), signal.SIGTERM)  # held: this thread blocks it
            assert signals._finishing == 1
    finally:
        signals.acted_on()
        for number, handler in kept.items():
            signal.signal(number, handler)
    assert signals._finishing == 0


#: A stop whose exception Python drops: the handler runs inside a weakref callback (the
#: garbage collector freed an object while `report` drew its plots), where Python prints
#: "Exception ignored in ..." with a traceback and goes on.
SWALLOWED_IN_A_CALLBACK = """
import signal, weakref
from nnparity import signals
signals.catch_signals()
class Plot: pass
plot = Plot()
ref = weakref.ref(plot, lambda _: signals.on_signal(signal.SIGINT, None))
del plot  # the callback runs: its KeyboardInterrupt is dropped
print("went on past the signal")
try:
    with signals.finishing():
        print("outputs moved into place")
except KeyboardInterrupt:
    print("stopped before the outputs moved")
"""


def test_a_stop_python_dropped_in_a_callback_still_stops_the_command_before_its_outputs():
    # report went on to exit 0 after a Ctrl-C that landed in a weakref callback, with a
    # traceback of the dropped KeyboardInterrupt on stderr.
    done = subprocess.run([sys.executable, "-c", SWALLOWED_IN_A_CALLBACK],
                          capture_output=True, text=True, timeout=60)
    assert done.stdout.splitlines() == [
        "went on past the signal", "stopped before the outputs moved"], done.stdout + done.stderr
    assert done.stderr == "", f"a traceback for the dropped stop:\n{done.stderr}"
