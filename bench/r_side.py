"""The R side of a run, timed in one process: lockstep, recording, and the numpy <-> R border.

    .venv/bin/python bench/r_side.py                           # article (5000 epochs), scale (100)
    .venv/bin/python bench/r_side.py --against main~5 --repeats 7
    .venv/bin/python bench/r_side.py --cases article --epochs 2000

Kinds, each timed on the same inputs, interleaved (A B C A B C ...) because the machine is
shared and noisy, and reported as medians of ``--repeats``. The time is the process's CPU
time (R runs inside it), which a busy machine disturbs less than the wall time printed beside
it:

    lockstep             RPort.lockstep as a run calls it: the elementwise steps of steps.csv
                         in one call over the chunk (harness.R, lockstep_batched)
    lockstep-per-epoch   the same with batching off: every step called once per epoch
    lockstep@REV         (--against REV) REV's harness.R nnparity_lockstep, same inputs,
                         numpy2ri's conversions
    train-record         r_impl's train(record = TRUE), inside R (no conversion)
    train-bare           train(record = FALSE), inside R
    train-record@REV     (--against REV) REV's r_impl train(record = TRUE), inside R
    advance              RPort.advance(record=True): train(record = TRUE), the border checks
                         and the trace into numpy (one copy per matrix, or per epoch of a
                         large one: bridge.py_arrays)

Every kind's result is checked against the first's (same bits) before anything is timed.
The scale case is test_scale's (2000 samples x 50 features x 64 hidden units), generated.
Nothing here is a test: a ratio means something only between kinds of one run.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "fixtures"))
sys.path.insert(0, str(ROOT / "bench"))

from nnparity import bridge, steps, traces  # noqa: E402
from nnparity.cases import load_case  # noqa: E402
from nnparity.paths import R_IMPL  # noqa: E402
from nnparity.ports import PythonPort, RPort  # noqa: E402

CASES = {"article": 5000, "scale": 100}


def load_case_named(name: str, workdir: Path):
    if name != "scale":
        return load_case(name)
    import benchmark

    return load_case(benchmark.scale_case(workdir))


def revision_files(rev: str, workdir: Path) -> tuple[Path, Path]:
    """REV's harness.R and a copy of REV's r_impl (its load.R and the files it names)."""
    folder = workdir / "against"
    (folder / "r_impl").mkdir(parents=True, exist_ok=True)

    def show(path: str) -> str:
        return subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{rev}:{path}"],
            check=True, capture_output=True, text=True,
        ).stdout

    harness = folder / "harness.R"
    harness.write_text(show("nnparity/r/harness.R"))
    for file in ("load.R", "activations.R", "steps.R", "train.R"):
        (folder / "r_impl" / file).write_text(show(f"r_impl/{file}"))
    return harness, folder / "r_impl"


def collect() -> None:
    """Python's and R's garbage collected: a kind's time should not include the collection
    of the garbage the kind before it left (R collects when its heap fills)."""
    gc.collect()
    bridge.r()[0].r["gc"]()


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        np.asarray(a[k]).tobytes() == np.asarray(b[k]).tobytes() for k in a
    )


def kinds_for(case, epochs: int, against: str | None, workdir: Path) -> dict:
    """name -> a function of no arguments returning what it computed (a dict of arrays)."""
    robjects, converter = bridge.r()
    python = PythonPort()
    python.start(case)
    start = python.weights()
    trace = python.advance(epochs, True)
    port = RPort()

    # A run's chunks (traces.chunks): the article's 5000 epochs are one; the scale case's
    # 100 epochs are 17 (6 epochs of 5.2 MB each at most). Each with the weights it starts from.
    sizes = traces.chunks(epochs, traces.epoch_bytes(case))
    parts, offset = [], 0
    for size in sizes:
        chunk_start = start if offset == 0 else {k: trace[k][offset - 1] for k in steps.STATE}
        parts.append(({k: v[offset : offset + size] for k, v in trace.items()}, chunk_start))
        offset += size

    def joined(results: list[dict]) -> dict:
        return {k: np.concatenate([r[k] for r in results]) for k in results[0]}

    def lockstep(batch: bool):
        def run():
            port.batch = batch
            return joined([port.lockstep(case, part, part_start) for part, part_start in parts])

        return run

    # train() inside R: its arguments converted once, its result left in R.
    with converter.context():
        args = [robjects.conversion.get_conversion().py2rpy(getattr(case, k))
                for k in ("X", "y", *steps.STATE)]
    lr = robjects.FloatVector([case.lr])

    def train(env, record: bool):
        function = env["train"]

        def run():
            for size in sizes:  # each chunk from the case's start: what is timed is the same
                result = function(
                    *args, lr, robjects.IntVector([size]), robjects.BoolVector([record])
                )
            return {"output": np.asarray(result.rx2("output")).copy()}

        return run

    def advance():
        def run():
            port.start(case)
            chunks = [port.advance(size, True) for size in sizes]
            return {k: v for k, v in joined(chunks).items() if k in steps.NAMES}

        return run

    kinds = {
        "lockstep": lockstep(True),
        "lockstep-per-epoch": lockstep(False),
    }
    old_train = None
    if against:
        harness, r_impl = revision_files(against, workdir)
        old = robjects.r["new.env"]()
        robjects.r["sys.source"](str(harness), envir=old)
        old_port = bridge.call("nnparity_load_port", np.array([str(r_impl / "load.R")]))
        old_train = old_port

        def old_lockstep():
            results = []
            for part, part_start in parts:
                with converter.context() as context:  # numpy2ri's conversions, as REV had
                    def as_list(arrays):
                        return robjects.ListVector(
                            {k: context.py2rpy(np.asarray(v)) for k, v in arrays.items()}
                        )

                    result = old["nnparity_lockstep"](
                        port.env, as_list({n: part[n] for n in steps.NAMES}),
                        as_list(part_start), case.X, case.y, float(case.lr),
                        port.quantities, np.array(steps.STATE),
                    )
                    values = result["values"]
                results.append({n: np.ascontiguousarray(values[n]) for n in values.keys()})
            return joined(results)

        kinds[f"lockstep@{against}"] = old_lockstep
    kinds["train-record"] = train(port.env, True)
    kinds["train-bare"] = train(port.env, False)
    if old_train is not None:
        kinds[f"train-record@{against}"] = train(old_train, True)
    kinds["advance"] = advance()
    return kinds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="article,scale")
    parser.add_argument("--epochs", type=int, help="epochs (default: article 5000, scale 100)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--against", metavar="REV", help="also time REV's harness and r_impl")
    options = parser.parse_args()
    print(f"R side, one process; medians of {options.repeats}, kinds interleaved; "
          f"load average {open('/proc/loadavg').read().split()[0]} at start")
    with tempfile.TemporaryDirectory() as workdir:
        for name in options.cases.split(","):
            epochs = options.epochs or CASES.get(name, 1000)
            case = load_case_named(name, Path(workdir))
            kinds = kinds_for(case, epochs, options.against, Path(workdir))
            results = {k: f() for k, f in kinds.items()}  # also a warm-up
            groups = [("lockstep", [k for k in kinds if k.startswith("lockstep")]),
                      ("train", [k for k in kinds if k.startswith("train-record")]),
                      ("advance", [k for k in kinds if k.startswith("advance")])]
            for _, members in groups:
                for k in members[1:]:
                    if not same(results[members[0]], results[k]):
                        raise SystemExit(f"{name}: {k} differs from {members[0]}")
            times: dict[str, list[float]] = {k: [] for k in kinds}
            walls: dict[str, list[float]] = {k: [] for k in kinds}
            for _ in range(options.repeats):
                for k, f in kinds.items():
                    collect()  # each kind starts from a collected heap, not the last one's garbage
                    began, wall = time.process_time(), time.perf_counter()
                    f()
                    times[k].append(time.process_time() - began)
                    walls[k].append(time.perf_counter() - wall)
            medians = {k: statistics.median(v) for k, v in times.items()}
            wall = {k: statistics.median(v) for k, v in walls.items()}
            sizes = traces.chunks(epochs, traces.epoch_bytes(case))
            print(f"\n{name}, {epochs} epochs in {len(sizes)} chunk(s) of at most {max(sizes)} "
                  "(same bits within each group: yes)")
            for _, members in groups:
                base = medians[members[0]]
                for k in members:
                    print(f"  {k:28} {medians[k]:7.3f} s   {medians[k] / base:5.2f}x "
                          f"{members[0]}   (wall {wall[k]:.3f} s)")
            bare = medians["train-bare"]
            costs = ", ".join(f"{k}: {medians[k] - bare:+.3f} s" for k in groups[1][1])
            print(f"  {'train-bare':28} {bare:7.3f} s   recording costs ({costs})")
    print(f"\n(r_impl: {R_IMPL})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
