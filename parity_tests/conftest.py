"""Shared fixtures: the cases, the two ports, one embedded R per process."""

from __future__ import annotations

import pytest

from nnparity import cases
from nnparity.bridge import RPort, RUnavailable
from nnparity.ports import PythonPort

CASE_NAMES = cases.names()


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
