"""The pytest plugin: point the parity suite at your own ports.

Installed with nnparity (entry point ``pytest11``), it does nothing until one of
its options is given:

    pytest --r-impl my_r_port/ [--python-impl my_port.py] [--nnparity-case article]

Then pytest runs nnparity's parity suite (``nnparity/parity_suite.py``) on the
ports named, ours standing in for the one not named: one test per case, mode
and matrix ``nnparity run`` compares (``steps.COMPARED``: steps 0 and 1, every
epoch's steps 2 to 11, and what train() returned as step 12), named
``test_step[<case>-<mode>-<step>-<matrix>]``, so ``-k "article and 11-bout"``
selects the bias update of the article case. Each case and mode is run once per
session (``nnparity_runs`` caches the reports); every test reads its verdict
from there.

Without explicit test paths only the parity suite runs; with paths, it runs
beside your own tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

SUITE = Path(__file__).resolve().with_name("parity_suite.py")


def pytest_addoption(parser) -> None:
    group = parser.getgroup("nnparity", "nnparity: check your ports of the article's network")
    group.addoption(
        "--r-impl", metavar="PATH",
        help="nnparity: an R file or folder to check in place of nnparity's r_impl",
    )
    group.addoption(
        "--python-impl", metavar="PATH",
        help="nnparity: a Python file or package to check in place of nnparity's python_impl",
    )
    group.addoption(
        "--nnparity-case", metavar="NAME_OR_PATH", action="append", default=None,
        help="nnparity: a shipped case name or a case folder; repeat for more "
        "(default: every shipped case)",
    )
    group.addoption(
        "--nnparity-mode", choices=("free", "lockstep", "both"), default="both",
        help="nnparity: which comparison (default: both)",
    )
    group.addoption(
        "--nnparity-epochs", metavar="N", type=int, default=None,
        help="nnparity: epochs to train (default: each case's own)",
    )


def active(config) -> bool:
    return bool(config.getoption("r_impl") or config.getoption("python_impl"))


def pytest_configure(config) -> None:
    if not active(config):
        return
    here = Path(config.invocation_params.dir)
    for option in ("r_impl", "python_impl"):
        value = config.getoption(option)
        if value and not (here / value).exists():
            raise pytest.UsageError(f"--{option.replace('_', '-')} {value}: no such file or folder")
    check_epochs_and_cases(config)
    # Only the parity suite, unless the user named test paths of their own too.
    if config.args_source == pytest.Config.ArgsSource.ARGS:
        config.args.append(str(SUITE))
    else:
        config.args[:] = [str(SUITE)]


def check_epochs_and_cases(config) -> None:
    """--nnparity-epochs and --nnparity-case as `nnparity run` checks --epochs and --case: a
    usage error naming the option, before any test runs."""
    from .cases import CaseError, epochs_count, load_case

    epochs = config.getoption("nnparity_epochs")
    if epochs is not None and isinstance(epochs_count(epochs), str):
        raise pytest.UsageError(f"--nnparity-epochs {epochs}: {epochs_count(epochs)}")
    for case in config.getoption("nnparity_case") or ():
        try:
            load_case(case)
        except CaseError as error:
            raise pytest.UsageError(f"--nnparity-case {case}: {error}") from None


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path, parent):
    """The suite lives outside the user's project: name it as nnparity's file, not by a path."""
    if Path(module_path).resolve() == SUITE:
        return pytest.Module.from_parent(parent, path=SUITE, nodeid="nnparity/parity_suite.py")
    return None


@dataclass
class Outcome:
    """One case and mode: the report, or why there is none."""

    report: object | None = None  # nnparity.verdict.ParityReport
    case: object | None = None  # nnparity.cases.Case
    error: str | None = None
    train_error: str | None = None  # the port's train() failed (a lockstep-only run's check)


class Runs:
    """The session's runs, one per case and mode, made on first request."""

    def __init__(self, config):
        here = Path(config.invocation_params.dir)
        self.r_path = here / config.getoption("r_impl") if config.getoption("r_impl") else None
        python = config.getoption("python_impl")
        self.python_path = here / python if python else None
        self.epochs = config.getoption("nnparity_epochs")
        self.ports = None
        self.port_error: str | None = None
        self.outcomes: dict[tuple[str, str], Outcome] = {}
        self.notes: dict[str, list[str]] = {}  # what a run says of what it leaves unseen

    def load_ports(self):
        """The two ports, each in a worker process (nnparity.supervise): a port that quits,
        crashes or prints cannot end or corrupt the pytest session."""
        from . import supervise
        from .command import BadInput
        from .port import PortError

        if self.ports is None and self.port_error is None:
            self.supervisor = supervise.Supervisor()
            python_port = self.supervisor.port("python", self.python_path)
            r_port = self.supervisor.port("r", self.r_path)
            try:
                python_port.wait_loaded()
                r_port.wait_loaded()
                self.ports = (python_port, r_port)
            except BadInput as error:  # no R, or an rpy2 that does not load with it
                self.port_error = f"{error} (`nnparity doctor` says what is missing)"
            except PortError as error:
                self.port_error = f"the port does not load: {error}"
        return self.ports

    def close(self) -> None:
        if getattr(self, "supervisor", None) is not None:
            self.supervisor.__exit__(None, None, None)

    def outcome(self, case: str, mode: str) -> Outcome:
        if (case, mode) not in self.outcomes:
            self.outcomes[case, mode] = self._run(case, mode)
        return self.outcomes[case, mode]

    def _run(self, case_name: str, mode: str) -> Outcome:
        """The one call into nnparity's run API: train both ports, compare every step."""
        from . import traces
        from .cases import CaseError, load_case
        from .port import PortError

        try:
            case = load_case(case_name)
        except CaseError as error:
            return Outcome(error=str(error))
        ports = self.load_ports()
        if ports is None:
            return Outcome(case=case, error=self.port_error)
        python_port, r_port = ports
        try:
            run = traces.run(case, python_port, r_port, self.epochs, (mode,))
        except PortError as error:  # a port failed while it ran
            return Outcome(case=case, error=str(error))
        note = run.calls_note()
        if note:  # said at the session's end, as `nnparity run` says it (pytest_terminal_summary)
            self.notes.setdefault(note, []).append(f"{Path(case_name).name} ({mode})")
        # a lockstep-only run calls train() for its bits alone: its failure fails the tests of
        # what train() returns (step 12); each step's own stands
        failed = run.failed_trainings[0] if run.failed_trainings else None
        return Outcome(report=run.reports[mode], case=case, train_error=failed)


@pytest.fixture(scope="session")
def nnparity_runs(request):
    """Every case and mode the suite asks for, each run once per session."""
    runs = Runs(request.config)
    request.config.stash[RUNS] = runs
    yield runs
    runs.close()


RUNS = pytest.StashKey["Runs"]()


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """The notes `nnparity run` prints with its verdict (a train() called in chunks leaves a
    schedule on its own loop counter unseen), which the tests' pass or fail cannot carry."""
    runs = config.stash.get(RUNS, None)
    if runs is None or not runs.notes:
        return
    terminalreporter.section("nnparity notes")
    for note, where in runs.notes.items():
        terminalreporter.write_line(f"{', '.join(where)}: {note}")


def cases_asked(config) -> list[str]:
    from . import cases

    return config.getoption("nnparity_case") or cases.names()


def modes_asked(config) -> tuple[str, ...]:
    from .policy import MODES

    mode = config.getoption("nnparity_mode")
    return MODES if mode == "both" else (mode,)
