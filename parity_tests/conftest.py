"""Shared fixtures: the cases, the two ports, one embedded R per process."""

from __future__ import annotations

import os
import signal

import pytest
from hypothesis import settings

from nnparity import cases, paths
from nnparity.bridge import RUnavailable
from nnparity.ports import PythonPort, RPort

CASE_NAMES = cases.names()

# A suite started in the background (a non-interactive shell's `&`, nohup, some CI runners)
# inherits SIGINT ignored, and so would every run the tests start and send a Ctrl-C to: an
# nnparity that finds SIGINT ignored leaves it so (signals.catch_signals), as shells do, and
# the Ctrl-C tests would fail for a reason that is not nnparity's. Caught here, SIGINT is
# back to its default in every process the tests start (exec resets a caught signal).
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def r_available() -> None:
    """Fail (not skip) every R test with the one-sentence fix when R cannot be had."""
    from nnparity.bridge import r

    try:
        r()
    except RUnavailable as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture
def r_port(r_available) -> RPort:
    return RPort()


@pytest.fixture
def python_port() -> PythonPort:
    return PythonPort()


@pytest.fixture(params=CASE_NAMES)
def case(request) -> cases.Case:
    return cases.load_case(request.param)


@pytest.fixture(scope="session")
def article() -> cases.Case:
    return cases.load_case("article")


# Hypothesis (test_properties.py): in CI (tox passes CI through) the examples
# are derandomized, so every run tries the same ones and a failure reproduces;
# on a desk they are random, to find new ones. No deadline: a step crosses into
# R, whose timing varies on a shared machine. Measured on two shared cores:
# 3-46 ms an example, 150 examples in about 5 s (1500 random ones, 58 s, found
# no failure).
settings.register_profile("ci", derandomize=True, max_examples=150, deadline=None, print_blob=True)
settings.register_profile("dev", max_examples=150, deadline=None, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture
def port_copy(tmp_path):
    """``port_copy("r_impl", "steps.R", old, new)``: a copy of one of our ports with one textual
    change (tools/port_copy.py)."""
    from tools.port_copy import copy_with

    def make(folder: str, file: str, old: str, new: str):
        return copy_with(paths.BASE / folder, file, old, new, tmp_path / folder)

    return make
