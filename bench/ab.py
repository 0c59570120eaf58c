"""Two versions of nnparity side by side: the same `nnparity run`s, interleaved, in one run.

    git worktree add ../before <commit>
    .venv/bin/python bench/ab.py --before ../before --repeats 5 \\
        --run "--case article --mode free" --run "--case SCALE_FOLDER --epochs 100"

Each version runs as `python -m nnparity run ...` from its own folder (its own
harness, ports and workers; the same virtualenv), before, after, before, after,
... and the table shows, per run, the medians of the wall time and of the CPU
time of the whole process tree (supervisor and workers: resource usage of the
children), and after / before. On a shared, noisy machine the CPU time is the
steadier figure; the wall time is what a user waits. Every run must exit 0: a
faster run that fails is no result. This is a benchmark, never a test.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(folder: Path, args: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one `nnparity run ARGS` made from `folder`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "nnparity", "run", *args], cwd=folder, capture_output=True, text=True
    )
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{folder}: nnparity run {' '.join(args)} exited {done.returncode}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="the other version's folder")
    parser.add_argument("--after", type=Path, default=ROOT, help="default: this repository")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--run", action="append", required=True, help="arguments of nnparity run")
    options = parser.parse_args()
    versions = {"before": options.before.resolve(), "after": options.after.resolve()}
    figures: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for _ in range(options.repeats):
        for run in options.run:
            for name, folder in versions.items():
                figures.setdefault((run, name), []).append(timed(folder, run.split()))
    print(f"before: {versions['before']}\nafter:  {versions['after']}")
    print(f"medians of {options.repeats}, interleaved\n")
    print("| run | wall before | wall after | ratio | CPU before | CPU after | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for run in options.run:
        wall = [statistics.median(w for w, _ in figures[(run, n)]) for n in versions]
        cpu = [statistics.median(c for _, c in figures[(run, n)]) for n in versions]
        print(
            f"| `{run}` | {wall[0]:.2f} s | {wall[1]:.2f} s | {wall[1] / wall[0]:.2f} "
            f"| {cpu[0]:.2f} s | {cpu[1]:.2f} s | {cpu[1] / cpu[0]:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
