"""The parity check against the cost of training itself: whole processes, side by side.

    .venv/bin/python bench/benchmark.py                  # the table of docs/benchmarks.md
    .venv/bin/python bench/benchmark.py --repeats 3 --runs article-free,article-both
    .venv/bin/python bench/benchmark.py --long           # also the scale case over 2000 epochs

Kinds, each a whole process (or two), as a user runs them:

    check-free   nnparity run --case CASE --epochs N --mode free
    check-both   nnparity run --case CASE --epochs N            (free-running and lockstep)
    bare         python: python_impl's train(record=False); then Rscript r_impl/main.R CASE N
    in-process   the same check-free run with both ports in one process (no workers): the
                 difference to check-free is what supervision costs (issue 8: under 0.3 s)

The kinds are interleaved (A B C A B C ...), because the machine is shared and
noisy, and the table shows medians and the ratio of medians. Peak memory is the
largest total resident size of the run's processes (supervisor and workers),
sampled every 20 ms in one more run of each check, after the timed ones: sampling
slows the run it watches (``timed``), so no timed run is sampled. The goals are
issue 9's; a ratio says nothing unless its two figures were measured in the same
run, which is why nothing here is a test.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "fixtures"))

from nnparity.paths import R_IMPL  # noqa: E402

#: run name -> (case, epochs, kind of check, goal for the ratio check / bare)
RUNS = {
    "article-free": ("article", 5000, "check-free", 1.2),
    "article-both": ("article", 5000, "check-both", 2.0),
    "scale-free": ("scale", 100, "check-free", 1.3),
    "scale-both": ("scale", 100, "check-both", 2.2),
}
IN_PROCESS = (
    "import io, sys; from rich.console import Console; from nnparity import cases, traces; "
    "from nnparity.ports import PythonPort, RPort; from nnparity.report import show_run; "
    "run = traces.run(cases.load_case(sys.argv[1]), PythonPort(), RPort(), int(sys.argv[2]), "
    "('free',)); show_run(run, Console(file=io.StringIO()))"
)
BARE_PYTHON = (
    "import sys; from nnparity import cases, paths; c = cases.load_case(sys.argv[1]); "
    "paths.python_impl().train(*c.train_inputs(), int(sys.argv[2]))"
)


def scale_case(folder: Path) -> Path:
    from generate import generated

    from nnparity.cases import write_case

    case = generated("scale", 20261105, 2000, 50, 64, 1, 0.001, 2000, "the scale test's case")
    return write_case(case, folder / "scale")


def tree_rss(token: str, seen: dict[int, bool]) -> int:
    """Resident bytes of every process carrying the token in its environment. A process's
    environment is read once (``seen``: pid -> carries it): reading it takes that process's
    memory lock, which its page faults wait for."""
    total = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        pid = int(proc.name)
        try:
            if pid not in seen:
                seen[pid] = token.encode() in (proc / "environ").read_bytes()
            if not seen[pid]:
                continue
            for line in (proc / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def timed(commands: list[list[str]], sample: bool = False) -> tuple[float, int, int]:
    """Run the commands one after the other: (seconds, peak total RSS, last exit code).

    Only with `sample` is the peak RSS measured (0 without), and those seconds are not
    for the table: sampling /proc every 20 ms slowed the scale case's free-running check
    2.08 -> 2.26 s and its bare trainings 1.54 -> 1.55 s (medians of 7, interleaved,
    when each sample read every process's environment; docs/benchmarks.md).
    """
    token = f"NNPARITY_BENCH={uuid.uuid4().hex}"
    env = dict(os.environ, NNPARITY_BENCH=token.split("=")[1])
    peak, done = 0, threading.Event()

    def sample_rss() -> None:
        nonlocal peak
        seen: dict[int, bool] = {}
        while not done.is_set():
            peak = max(peak, tree_rss(token, seen))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample_rss, daemon=True) if sample else None
    if sampler:
        sampler.start()
    began = time.perf_counter()
    code = 0
    for command in commands:
        code = subprocess.run(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        ).returncode
    took = time.perf_counter() - began
    done.set()
    if sampler:
        sampler.join()
    return took, peak, code


def commands(kind: str, case: str, epochs: int) -> list[list[str]]:
    nnparity = [sys.executable, "-m", "nnparity", "run", "--case", case, "--epochs", str(epochs)]
    if kind == "check-free":
        return [nnparity + ["--mode", "free"]]
    if kind == "check-both":
        return [nnparity]
    if kind == "in-process":
        return [[sys.executable, "-c", IN_PROCESS, case, str(epochs)]]
    from nnparity.cases import resolve

    folder = str(resolve(case))
    return [
        [sys.executable, "-c", BARE_PYTHON, folder, str(epochs)],
        ["Rscript", str(R_IMPL / "main.R"), folder, str(epochs)],
    ]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--repeats", type=int, default=5, help="interleaved repetitions (default 5)"
    )
    parser.add_argument(
        "--runs", default=",".join(RUNS), help=f"comma-separated subset of {', '.join(RUNS)}"
    )
    parser.add_argument(
        "--long", action="store_true", help="also the scale case over 2000 epochs, both modes"
    )
    parser.add_argument(
        "--no-supervision-cost", action="store_true",
        help="skip the in-process run that measures what supervision costs",
    )
    args = parser.parse_args()
    runs = [name.strip() for name in args.runs.split(",") if name.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        cases = {"article": "article", "scale": str(scale_case(Path(tmp)))}
        kinds = {}  # (case, epochs, kind) -> list of (seconds, rss, code)
        for name in runs:
            case, epochs, kind, _ = RUNS[name]
            for k in (kind, "bare"):
                kinds.setdefault((case, epochs, k), [])
        if not args.no_supervision_cost:
            kinds.setdefault(("article", 5000, "check-free"), [])
            kinds.setdefault(("article", 5000, "in-process"), [])
        for _ in range(args.repeats):
            for (case, epochs, kind), results in kinds.items():
                results.append(timed(commands(kind, cases[case], epochs)))
        peaks = {}  # (case, epochs, kind) -> peak RSS of one more run, sampled
        for case, epochs, kind in kinds:
            if kind.startswith("check"):
                peaks[(case, epochs, kind)] = timed(commands(kind, cases[case], epochs), True)
        long = None
        if args.long:
            long = timed(commands("check-both", cases["scale"], 2000), True)
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} cores; "
        f"python {platform.python_version()}"
    )
    print(
        f"command: python bench/benchmark.py {' '.join(sys.argv[1:])}   "
        f"(medians of {args.repeats}, interleaved)"
    )
    print()
    print("| run | nnparity run | bare trainings | ratio | goal | peak RSS |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in runs:
        case, epochs, kind, goal = RUNS[name]
        check = kinds[(case, epochs, kind)]
        bare = kinds[(case, epochs, "bare")]
        _, peak, peak_code = peaks[(case, epochs, kind)]
        failed = [code for _, _, code in check if code != 0] + ([peak_code] if peak_code else [])
        t_check = statistics.median(t for t, _, _ in check)
        t_bare = statistics.median(t for t, _, _ in bare)
        rss = peak / 1e6
        mode = "free" if kind == "check-free" else "both"
        note = f" (exit {failed[0]}!)" if failed else ""
        print(
            f"| {case}, {epochs} epochs, `--mode {mode}` | {t_check:.2f} s{note} | {t_bare:.2f} s "
            f"| {t_check / t_bare:.2f}x | <= {goal}x | {rss:.0f} MB |"
        )
    if not args.no_supervision_cost:
        supervised = statistics.median(t for t, _, _ in kinds[("article", 5000, "check-free")])
        alone = statistics.median(t for t, _, _ in kinds[("article", 5000, "in-process")])
        print()
        print(
            f"supervision (article, 5000 epochs, --mode free): {supervised:.2f} s with workers, "
            f"{alone:.2f} s with both ports in one process: "
            f"{supervised - alone:+.2f} s (goal < 0.3 s)"
        )
    if long is not None:
        seconds, rss, code = long
        print(
            f"| scale, 2000 epochs, both modes | {seconds:.1f} s (exit {code}) | | "
            f"| <= 600 MB | {rss / 1e6:.0f} MB |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
