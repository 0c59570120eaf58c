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
