"""The comparison's own cost, in process: ``Comparison.add`` on chunks of real traces.

    .venv/bin/python bench/compare_speed.py                        # this checkout alone
    .venv/bin/python bench/compare_speed.py --against main~3       # side by side with a revision

Both ports train once in this process (the scale case of parity_tests/test_scale.py,
chunked as ``nnparity run`` chunks it, and the article case); some of their chunks are
kept (SCALE_STRETCHES: 18 epochs, 94 MB per trace) and ``Comparison.add`` is timed on
them, free-running and in lockstep, ``--repeats`` times.
With ``--against REV`` the package as it was at REV (``git archive``) is imported beside
this one under another name and timed on the same chunks, interleaved with it (A B A B),
so their ratio comes from one run on a shared, noisy machine. Reading the scale case's
X.csv (``cases.read_matrix``, 100,000 cells) is timed the same way. Medians are printed.
"""

from __future__ import annotations

import argparse
import importlib
import io
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "fixtures"))
sys.path.insert(0, str(ROOT / "bench"))

from nnparity import cases, steps, traces  # noqa: E402
from nnparity.ports import PythonPort, RPort  # noqa: E402

#: The scale case's stretches of epochs that are kept and compared, each on its own: the
#: first chunk (where the first difference is born), and two chunks from epoch 67 on, where
#: free-running differences peak (epoch 73) and some cells need the full bound.
SCALE_STRETCHES = ((1, 6), (67, 78))
ARTICLE_EPOCHS = 5000


def old_package(revision: str, folder: Path) -> str:
    """The nnparity package at `revision`, importable as ``nnparity_<n>``; its import name."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", revision, "nnparity"],
        check=True, capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    name = "nnparity_against"
    (folder / "nnparity").rename(folder / name)
    sys.path.insert(0, str(folder))
    return name


def stretches(case, stretches) -> list[tuple[int, list]]:
    """Both ports trained as ``nnparity run`` chunks a run, up to the last stretch's end; per
    stretch (first epoch, last epoch), the epochs before it and its chunks, each as
    (python, r free-running, r lockstep, start, size)."""
    python, r = PythonPort(), RPort()
    python.start(case)
    r.start(case)
    kept, done = [(first - 1, []) for first, _ in stretches], 0
    for size in traces.chunks(stretches[-1][1], traces.epoch_bytes(case)):
        start = {n: python.state[n].copy() for n in steps.STATE}
        a, b = python.advance(size), r.advance(size)
        for (first, last), (_, chunks) in zip(stretches, kept, strict=True):
            if first <= done + 1 and done + size <= last:
                chunks.append((a, b, r.lockstep(case, a, start), start, size))
        done += size
    return kept


def time_add(compare_module, case, stretches, mode: str) -> float:
    """Comparison.add over every chunk of every stretch, in one comparison per stretch."""
    total = 0.0
    for before, chunks in stretches:
        comparison = compare_module.Comparison(case, mode)
        comparison.epochs = before  # the stretch's chunks are the run's from epoch before + 1
        t = time.perf_counter()
        for python, free, lockstep, start, size in chunks:
            comparison.add(python, free if mode == "free" else lockstep, size, start)
        total += time.perf_counter() - t
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--against", metavar="REV", help="a git revision to time beside this one")
    args = parser.parse_args()
    import benchmark

    tmp = tempfile.TemporaryDirectory()
    folder = benchmark.scale_case(Path(tmp.name))
    packages = {"this checkout": "nnparity"}
    if args.against:
        packages[args.against] = old_package(args.against, Path(tmp.name) / "against")
    modules = {label: importlib.import_module(f"{n}.compare") for label, n in packages.items()}
    readers = {label: importlib.import_module(f"{n}.cases") for label, n in packages.items()}

    scale = cases.load_case(folder)
    article = cases.load_case("article")
    work = {
        "scale, epochs " + ", ".join(f"{a}-{b}" for a, b in SCALE_STRETCHES): (
            scale, stretches(scale, SCALE_STRETCHES)
        ),
        f"article, {ARTICLE_EPOCHS} epochs": (
            article, stretches(article, ((1, ARTICLE_EPOCHS),))
        ),
    }
    labels = list(packages)
    print(f"{'Comparison.add on':<30}{'mode':<10}" + "".join(f"{x:>16}" for x in labels)
          + ("       ratio" if len(labels) == 2 else ""))
    for what, (case, chunks) in work.items():
        for mode in ("free", "lockstep"):
            times = {label: [] for label in labels}
            for _ in range(args.repeats):
                for label in labels:
                    times[label].append(time_add(modules[label], case, chunks, mode))
            show(what, mode, times)
    times = {label: [] for label in labels}
    for _ in range(args.repeats):
        for label in labels:
            t = time.perf_counter()
            readers[label].read_matrix(folder / "X.csv")
            times[label].append(time.perf_counter() - t)
    show("read_matrix, scale X.csv", "", times)
    tmp.cleanup()


def show(what: str, mode: str, times: dict[str, list[float]]) -> None:
    medians = [statistics.median(t) for t in times.values()]
    line = f"{what:<30}{mode:<10}" + "".join(f"{m * 1e3:>14.1f}ms" for m in medians)
    if len(medians) == 2:
        line += f"{medians[1] / medians[0]:>11.2f}x"
    print(line, flush=True)


if __name__ == "__main__":
    main()
