"""A port that does not give the same bits twice is named: its noise is no port difference."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nnparity import determinism, steps, traces
from nnparity.cli import main
from nnparity.port import PortError
from nnparity.ports import PythonPort

#: A Python port whose trace carries 1 ULP of run-to-run noise in one cell of
#: `output` at epoch 2, as a threaded BLAS that splits a sum differently on
#: each call would: every call of train nudges that cell up, then down.
NOISY_PORT = '''
import numpy as np
from nnparity.paths import python_impl

_train = python_impl().train

calls = []


def train(X, y, wh, bh, wout, bout, lr, epochs, record=False):
    result = _train(X, y, wh, bh, wout, bout, lr, epochs, record=record)
    calls.append(1)
    if record and epochs >= 2:
        output = result["trace"]["output"]
        output[1, 0, 0] = np.nextafter(output[1, 0, 0], np.inf if len(calls) % 2 else -np.inf)
    return result
'''


class Noisy(PythonPort):
    """Our Python port, with another last bit in one cell of `output` at epoch 2 on each call."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def advance(self, epochs, record=True):
        trace = super().advance(epochs, record)
        self.calls += 1
        if epochs >= 2:
            trace["output"][1, 0, 0] += self.calls * 2.0**-52
        return trace


class Failing(PythonPort):
    def advance(self, epochs, record=True):
        raise PortError("the port failed on purpose")


def test_a_deterministic_port_gives_the_same_bits_twice(article):
    result = determinism.check(PythonPort(), article)
    assert result.same_bits is True, result.describe()
    assert result.epochs == determinism.EPOCHS and result.first is None


def test_run_to_run_noise_is_found_and_named_by_epoch_step_and_cell(article):
    result = determinism.check(Noisy(), article)
    assert result.same_bits is False, "a cell differed between two runs and the check missed it"
    epoch, name, row, col, first, second = result.first
    assert (epoch, name, row, col) == (2, "output", 1, 1), result.describe()
    assert first != second
    story = result.describe()
    assert "does NOT give the same bits twice" in story, story
    assert "epoch 2, step 4 (output), cell [1, 1]" in story, story


def test_a_port_that_fails_cannot_be_checked_and_says_why(article):
    result = determinism.check(Failing(), article)
    assert result.same_bits is None and "failed on purpose" in result.error


def test_the_check_does_not_change_the_run_it_comes_before(article, r_port):
    checked = traces.run(article, PythonPort(), r_port, 20)
    unchecked = traces.run(article, PythonPort(), r_port, 20, check_determinism=False)
    assert set(checked.determinism) == {"Python", "R"} and unchecked.determinism == {}
    for result in checked.determinism.values():
        assert result.same_bits, result.describe()
    for mode in traces.MODES:
        pairs = zip(checked.reports[mode].stats, unchecked.reports[mode].stats, strict=True)
        for a, b in pairs:
            same = (a.cells, a.equal, a.max_abs) == (b.cells, b.equal, b.max_abs)
            assert same, f"{mode}/{a.name}: the check before the run changed the run"


class Counting:
    """A port, with the epochs of each advance it was asked for."""

    def __init__(self, port):
        self.port, self.advanced = port, []

    def __getattr__(self, name):
        return getattr(self.port, name)

    def advance(self, epochs, record=True):
        self.advanced.append(epochs)
        return self.port.advance(epochs, record)


def test_a_port_that_trains_in_the_run_is_trained_once_more_for_the_check_not_twice(
    article, r_port
):
    python, r = Counting(PythonPort()), Counting(r_port)
    run = traces.run(article, python, r, 20, modes=("free",))
    for port in (python, r):
        assert port.advanced == [determinism.EPOCHS, 20], (
            f"{port.language}: the run's first chunk, from the same start, should be the check's "
            f"second training; advanced {port.advanced}"
        )
        assert run.determinism[port.language].same_bits, run.determinism[port.language].describe()
    assert list(run.determinism) == ["Python", "R"]


def test_r_trains_twice_for_the_check_when_only_lockstep_runs(article, r_port):
    r = Counting(r_port)
    run = traces.run(article, PythonPort(), r, 20, modes=("lockstep",))
    assert r.advanced == [determinism.EPOCHS] * 2, (
        f"R does not train in a lockstep-only run: its check needs two trainings; {r.advanced}"
    )
    assert run.determinism["R"].same_bits, run.determinism["R"].describe()


def test_noise_between_the_check_and_the_runs_first_chunk_is_found(article, r_port):
    run = traces.run(article, Noisy(), r_port, 20, modes=("free",))
    found = run.determinism["Python"]
    assert found.same_bits is False, "the first chunk differed from the check's training: missed"
    assert found.first[:4] == (2, "output", 1, 1), found.describe()


def test_nnparity_run_says_when_a_port_does_not_give_the_same_bits_twice(tmp_path, capsys):
    port = tmp_path / "noisy.py"
    port.write_text(NOISY_PORT)
    code = main(["run", "--epochs", "10", "--python-impl", str(port)])
    out = capsys.readouterr().out
    assert code == 0, out  # 1 ULP of noise is within the bounds: parity still holds
    said = "run to run: the Python port does NOT give the same bits twice"
    assert said in " ".join(out.split()), out
    assert "the R port" not in out, "R gave the same bits twice and should not be mentioned"

    main(["run", "--epochs", "10", "--python-impl", str(port), "--json"])
    reported = json.loads(capsys.readouterr().out)["determinism"]
    assert reported["R"]["same_bits"] is True
    assert reported["Python"]["same_bits"] is False
    assert reported["Python"]["first_difference"]["epoch"] == 2
    assert reported["Python"]["first_difference"]["matrix"] == "output"
    assert reported["Python"]["first_difference"]["step"] == steps.BY_NAME["output"].step
    first = reported["Python"]["first_difference"]
    up_from_run_2 = np.nextafter(np.nextafter(first["run_2"], np.inf), np.inf)
    assert first["run_1"] == up_from_run_2, f"one run 1 ULP up, the other 1 ULP down: {first}"



class EpochsAmiss(PythonPort):
    """Our Python port, recording one epoch fewer of d_output than it trained (``more``
    false), or E's last epoch twice (``more`` true), every time."""

    more = False

    def advance(self, epochs, record=True):
        trace = super().advance(epochs, record)
        if record and self.more:
            trace["E"] = np.concatenate([trace["E"], trace["E"][-1:]])
        elif record:
            trace["d_output"] = trace["d_output"][:-1]
        return trace


@pytest.mark.parametrize("more", [False, True], ids=["one-epoch-fewer", "one-epoch-more"])
def test_a_trace_amiss_by_an_epoch_every_time_is_not_called_run_to_run_noise(
    article, r_port, more
):
    """The check's training and the run's first chunk are of different lengths: a port that
    records an epoch too few or too many in both gives the same bits twice in the epochs both
    trained (the comparison names the wrong count as a structural problem); it is no sign of
    a non-deterministic BLAS."""
    port = EpochsAmiss()
    port.more = more
    run = traces.run(article, port, r_port, 20, modes=("free",))
    found = run.determinism["Python"]
    assert found.same_bits is True, (
        f"a trace an epoch amiss in every training was called non-deterministic: "
        f"{found.describe()}"
    )


class WrongOnFirstCall(PythonPort):
    """Our Python port with a doubled learning rate in its first training only: a train() that
    keeps state between calls, as a global counter does."""

    def __init__(self, fails: bool = False):
        super().__init__()
        self.calls, self.fails = 0, fails

    def advance(self, epochs, record=True):
        self.calls += 1
        if self.calls == 1 and self.fails:
            raise PortError("the port failed on its first call")
        if self.calls == 1:
            self.state["lr"] = self.state["lr"] * 2
            try:
                return super().advance(epochs, record)
            finally:
                self.state["lr"] = self.state["lr"] / 2
        return super().advance(epochs, record)


def test_a_port_that_trains_otherwise_on_its_first_call_fails_free_running(article, r_port):
    """The check's training is the port's first call of train(); the run compares a later one.
    A program that trains once gets the first: free-running cannot hold for it."""
    run = traces.run(article, WrongOnFirstCall(), r_port, 20)
    found = run.determinism["Python"]
    assert found.beyond is not None and found.beyond[:2] == (1, "wout"), found.describe()
    assert not run.reports["free"].passed, "free-running held for a port wrong on its first call"
    assert "differ beyond the free-running bound" in run.reports["free"].error
    assert not run.reports["lockstep"].passed, (
        "lockstep reads Python's training, a later call than a program that trains once makes"
    )
    assert not run.passed


def test_lockstep_alone_fails_for_a_python_port_wrong_on_its_first_call(article, r_port):
    run = traces.run(article, WrongOnFirstCall(), r_port, 20, modes=("lockstep",))
    assert not run.passed, "lockstep read Python's second training and held"


def test_lockstep_alone_holds_for_an_r_port_wrong_on_its_first_train_and_says_so(
    article, port_copy
):
    """Lockstep calls R's steps on their own, never its train(): a note, not a failure."""
    from nnparity.ports import RPort
    from nnparity.report import determinism_lines

    original = "train <- function(X, y, wh, bh, wout, bout, lr, epochs, record = FALSE) {\n"
    counted = ("calls <- 0\n" + original + "  calls <<- calls + 1\n"
               "  if (calls == 1) lr <- lr * 2\n")
    r = RPort(port_copy("r_impl", "train.R", original, counted))
    run = traces.run(article, PythonPort(), r, 20, modes=("lockstep",))
    assert run.passed, run.reports["lockstep"].error
    assert any("the R port does NOT give the same results twice" in line
               for line in determinism_lines(run)), determinism_lines(run)


def test_run_to_run_noise_within_the_bound_is_a_note_not_a_failure(article, r_port):
    run = traces.run(article, Noisy(), r_port, 20, modes=("free",))
    assert run.determinism["Python"].same_bits is False
    assert run.determinism["Python"].beyond is None, run.determinism["Python"].describe()
    assert run.passed, "1 ULP of run-to-run noise failed the run"


def test_a_port_that_fails_on_its_first_call_only_fails_free_running(article, r_port):
    run = traces.run(article, WrongOnFirstCall(fails=True), r_port, 20, modes=("free",))
    found = run.determinism["Python"]
    assert found.first_call_failed, found.describe()
    assert not run.passed, "free-running held for a port whose first training failed"
    error = run.reports["free"].error
    assert "failed on its first training" in error and "first call" in error, error


def test_a_run_in_several_calls_of_train_says_how_many_epochs_one_call_trained(article, r_port):
    """A train() with a schedule on its own loop counter (lr halved from its 12th epoch) held
    parity over calls of 12 epochs: the run cannot see it, and says what it could not see."""
    from nnparity.report import determinism_lines

    run = traces.run(article, PythonPort(), r_port, 30, ("free",),
                     chunk_bytes=12 * traces.epoch_bytes(article))
    assert len(run.calls) > 1, run.calls
    said = [line for line in determinism_lines(run) if line.startswith("calls:")]
    assert said and f"at most {max(run.calls)} epochs each" in said[0], determinism_lines(run)
    one = traces.run(article, PythonPort(), r_port, 30, ("free",))
    assert not [line for line in determinism_lines(one) if line.startswith("calls:")]
