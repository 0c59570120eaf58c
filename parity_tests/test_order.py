"""When a run asks each port for what: R, the slower port, never waits on Python's start."""

from __future__ import annotations

from nnparity import traces
from nnparity.port import submit
from nnparity.ports import PythonPort, RPort


class Asked:
    """A port answered on demand, as a worker is: it logs each request and each wait."""

    def __init__(self, port, log: list):
        self.port, self.log = port, log
        self.language, self.path = port.language, port.path
        self.can_lockstep = port.can_lockstep

    def describe(self) -> str:
        return self.port.describe()

    def submit(self, operation: str, *args):
        self.log.append(("asked", self.language, operation))
        return _Later(self, operation, args)


class _Later:
    def __init__(self, asked: Asked, operation: str, args: tuple):
        self.asked, self.operation, self.args = asked, operation, args
        self.answer = None

    def result(self):
        self.asked.log.append(("waited", self.asked.language, self.operation))
        if self.answer is None:
            self.answer = submit(self.asked.port, self.operation, *self.args)
        return self.answer.result()


def test_free_running_asks_r_for_its_second_chunk_before_waiting_for_pythons_first(r_available):
    """Python's first chunk comes late (numpy's first products, its determinism check: 160 ms
    on the scale case); R's worker had waited for it, 55 ms, before it was asked for more."""
    from nnparity.cases import load_case

    case, log = load_case("article"), []
    run = traces.run(
        case, Asked(PythonPort(), log), Asked(RPort(), log), 6, ("free",),
        chunk_bytes=2 * traces.epoch_bytes(case),
    )
    assert run.passed
    advances = [i for i, entry in enumerate(log) if entry == ("asked", "R", "advance")]
    python_first = log.index(("waited", "Python", "advance"), advances[0])
    assert len(advances) >= 3 and advances[2] < python_first, (
        "R's second chunk of the run should be asked for as soon as its first is in, before "
        f"the run waits for Python's first: {log}"
    )


def _chunk_requests(log: list, language: str) -> tuple[list[int], list[int]]:
    """Where the run (after its last start: a determinism check starts before it) asked a
    port for each chunk, and where it waited for each."""
    begin = max(i for i, entry in enumerate(log) if entry == ("asked", language, "start"))
    asked = [i for i, e in enumerate(log) if i > begin and e == ("asked", language, "advance")]
    waits = [i for i, e in enumerate(log) if i > begin and e == ("waited", language, "advance")]
    return asked, waits[-len(asked):]


def test_free_running_keeps_r_two_chunks_ahead_of_the_comparison(r_available):
    """R's worker, the slowest, always has its next chunk queued: when the run waits for R's
    chunk k, chunk k+1 is already asked for (it waited 50-220 ms a run on the scale case)."""
    from nnparity.cases import load_case

    case, log = load_case("article"), []
    run = traces.run(
        case, Asked(PythonPort(), log), Asked(RPort(), log), 10, ("free",),
        chunk_bytes=2 * traces.epoch_bytes(case),
    )
    assert run.passed
    asked, waits = _chunk_requests(log, "R")
    assert len(asked) == 5, f"10 epochs in chunks of 2 should be 5 requests to R: {log}"
    for k, wait in enumerate(waits[:-1]):
        assert asked[k + 1] < wait, (
            f"when the run waited for R's chunk {k}, R's chunk {k + 1} should already have been "
            f"asked for, so that R's worker is never idle: {log}"
        )


def test_with_lockstep_r_is_asked_for_one_chunk_ahead(r_available):
    """R's worker also recomputes Python's chunks (lockstep), queued behind its own chunks: a
    second chunk asked ahead would hold lockstep's chunk k back behind R's chunk k+1."""
    from nnparity.cases import load_case

    case, log = load_case("article"), []
    run = traces.run(
        case, Asked(PythonPort(), log), Asked(RPort(), log), 10, ("free", "lockstep"),
        chunk_bytes=2 * traces.epoch_bytes(case),
    )
    assert run.passed
    asked, waits = _chunk_requests(log, "R")
    for k, wait in enumerate(waits[:-2]):
        assert asked[k + 2] > wait, (
            f"with lockstep, R's chunk {k + 2} should be asked for only once its chunk {k} is "
            f"in: {log}"
        )
