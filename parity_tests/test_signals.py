"""Ctrl-C reaches a supervisor that runs R itself (nnparity/signals.py, nnparity/bridge.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.usefixtures("r_available")

#: A supervisor that started R, interrupted while R runs: rpy2 calls back into Python
#: while R works, and the handler's KeyboardInterrupt raised there is dropped by rpy2.
INTERRUPTED_IN_R = """
import os, signal, sys, threading
from nnparity import bridge, signals
signals.catch_signals()
bridge.r()
threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
try:
    bridge.r()[0].r("f <- function() { for (i in 1:5e7) x <- i; 0 }")
    bridge.call("f")
except KeyboardInterrupt:
    print("stopped")
else:
    print("went on")
"""


def test_ctrl_c_while_r_runs_in_the_supervisor_stops_it():
    result = subprocess.run(
        [sys.executable, "-c", INTERRUPTED_IN_R], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "stopped", (
        "a Ctrl-C that arrived while R ran in the supervising process was lost (rpy2 drops "
        f"an exception raised in its callbacks):\n{result.stdout}{result.stderr}"
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
