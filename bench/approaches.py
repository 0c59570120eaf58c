"""What the parity check costs, side by side with what a user would otherwise do.

    python bench/approaches.py                       # article case (5000 epochs) and the scale case (2000 epochs)
    python bench/approaches.py --epochs 20 --repeats 3
    python bench/approaches.py --cases article

Every measurement runs in its own subprocess (so its peak RSS is its own) and
the kinds are interleaved (A B C A B C ...) because the machine is shared and
noisy; the tables show medians. Kinds:

    check        nnparity.traces.run, both modes (free-running and lockstep)
    check-free   nnparity.traces.run, free-running only
    bare         python_impl.train(record=False), then the R port's train(record = FALSE) through the bridge
    csv          Python dumps every matrix of every epoch to CSV (numpy), R does the same (Rscript, write.table),
                 then pandas reads both and compares them
    rpy2-epochs  rpy2 called once per epoch: R's one_epoch() from Python, both epochs' matrices compared

R start-up (starting the embedded R and sourcing the port; for csv, Rscript's
whole run includes it) is reported apart and not counted in the times. The
results and the machine they came from are in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "fixtures"))

KINDS = ("check", "check-free", "bare", "csv", "rpy2-epochs")

R_DUMP = r"""
args <- commandArgs(trailingOnly = TRUE)
for (file in c("activations.R", "steps.R", "train.R", "read_case.R")) source(file.path(args[1], file))
case <- read_case(args[2])
epochs <- as.integer(args[3])
out <- args[4]
wh <- case$wh; bh <- case$bh; wout <- case$wout; bout <- case$bout
for (i in seq_len(epochs)) {
  values <- one_epoch(case$X, case$y, wh, bh, wout, bout, case$lr)
  wh <- values$wh; bh <- values$bh; wout <- values$wout; bout <- values$bout
  for (name in names(values)) {
    write.table(matrix(t(values[[name]]), nrow = 1), file.path(out, paste0(name, ".csv")),
                append = TRUE, sep = ",", row.names = FALSE, col.names = FALSE)
  }
}
"""


def make_case(name: str, folder: Path, epochs: int | None) -> Path:
    from generate import article, generated

    from nnparity.cases import write_case

    if name == "article":
        case = article()
    else:
        case = generated("scale", 20261105, 2000, 50, 64, 1, 0.001, 2000, "the scale test's case (parity_tests/test_scale.py)")
    if epochs:
        case.epochs = epochs
    return write_case(case, folder / name)


# --- one measurement, in a subprocess ----------------------------------------------------

def worker(kind: str, case_dir: Path) -> dict:
    import python_impl
    from nnparity import traces
    from nnparity.bridge import r
    from nnparity.cases import load_case
    from nnparity.ports import PythonPort, RPort

    case = load_case(case_dir)
    r_start = 0.0
    if kind != "csv":
        t = time.perf_counter()
        r()
        r_port = RPort()
        r_start = time.perf_counter() - t
    t = time.perf_counter()
    detail = ""
    if kind in ("check", "check-free"):
        modes = traces.MODES if kind == "check" else ("free",)
        run = traces.run(case, PythonPort(), r_port, case.epochs, modes)
        detail = "parity holds" if run.passed else "PARITY FAILS"
    elif kind == "bare":
        python_impl.train(*case.train_inputs(), case.epochs, record=False)
        r_port.start(case)
        r_port.advance(case.epochs, record=False)
    elif kind == "csv":
        detail = csv_round_trip(case, case_dir)
    elif kind == "rpy2-epochs":
        detail = rpy2_per_epoch(case, r_port)
    seconds = time.perf_counter() - t
    # For csv the largest process may be Rscript, a child: the peak is the larger of the two.
    peak = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) * 1024
    return {"seconds": seconds, "r_start": r_start, "peak_rss": peak, "detail": detail}


def csv_round_trip(case, case_dir: Path) -> str:
    """Both programs dump every matrix of every epoch (one CSV line per epoch); pandas compares the files."""
    import numpy as np
    import pandas as pd

    import python_impl

    with tempfile.TemporaryDirectory() as tmp:
        py_dir, r_dir = Path(tmp) / "python", Path(tmp) / "r"
        py_dir.mkdir()
        r_dir.mkdir()
        files = {}
        try:
            wh, bh, wout, bout = case.wh, case.bh, case.wout, case.bout
            for _ in range(case.epochs):
                values = python_impl.one_epoch(case.X, case.y, wh, bh, wout, bout, case.lr)
                wh, bh, wout, bout = values["wh"], values["bh"], values["wout"], values["bout"]
                for name, value in values.items():
                    if name not in files:
                        files[name] = open(py_dir / f"{name}.csv", "w")
                    np.savetxt(files[name], value.reshape(1, -1), delimiter=",", fmt="%.17g")
        finally:
            for handle in files.values():
                handle.close()
        script = Path(tmp) / "dump.R"
        script.write_text(R_DUMP)
        subprocess.run(["Rscript", str(script), str(ROOT / "r_impl"), str(case_dir), str(case.epochs), str(r_dir)], check=True)
        worst = 0.0
        for name in values:
            a = pd.read_csv(py_dir / f"{name}.csv", header=None).to_numpy()
            b = pd.read_csv(r_dir / f"{name}.csv", header=None).to_numpy()
            worst = max(worst, float(np.max(np.abs(a - b))))
    return f"max diff {worst:.2g} (15 digits in R's CSV)"


def rpy2_per_epoch(case, r_port) -> str:
    """What a user writes with rpy2 alone: call R's one_epoch each epoch, convert, compare."""
    import numpy as np

    import python_impl
    from nnparity.bridge import r

    _, converter = r()
    one_epoch = r_port.env["one_epoch"]
    worst = 0.0
    wh, bh, wout, bout = case.wh, case.bh, case.wout, case.bout
    rwh, rbh, rwout, rbout = wh, bh, wout, bout
    with converter.context():
        for _ in range(case.epochs):
            values = python_impl.one_epoch(case.X, case.y, wh, bh, wout, bout, case.lr)
            wh, bh, wout, bout = values["wh"], values["bh"], values["wout"], values["bout"]
            r_values = one_epoch(case.X, case.y, rwh, rbh, rwout, rbout, case.lr)
            r_values = {name: np.asarray(r_values[name]) for name in values}
            rwh, rbh, rwout, rbout = (r_values[k] for k in ("wh", "bh", "wout", "bout"))
            for name, value in values.items():
                worst = max(worst, float(np.max(np.abs(value - r_values[name]))))
    return f"max diff {worst:.2g}"


# --- the driver ----------------------------------------------------------------------------

def measure(kind: str, case_dir: Path) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, "--worker", kind, "--case-dir", str(case_dir)], capture_output=True, text=True, cwd=ROOT,
    )
    if result.returncode != 0:
        raise SystemExit(f"{kind} on {case_dir.name} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), "?")
    import os

    return f"{platform.platform()}, {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default="article,scale", help="comma-separated: article, scale (default both)")
    parser.add_argument("--epochs", type=int, help="shorten every case to this many epochs")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repetitions per kind (default 3); medians are shown")
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated subset of {', '.join(KINDS)}")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--case-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.case_dir)))
        return 0

    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(Console().width, 110))
    kinds = args.kinds.split(",")
    console.print(f"machine: {machine()}", highlight=False)
    console.print(f"command: python bench/approaches.py {' '.join(sys.argv[1:])}", highlight=False)
    tmp = Path(tempfile.mkdtemp(prefix="nnparity-bench-"))
    try:
        for name in args.cases.split(","):
            case_dir = make_case(name, tmp, args.epochs)
            from nnparity.cases import load_case

            case = load_case(case_dir)
            runs: dict[str, list[dict]] = {kind: [] for kind in kinds}
            for _ in range(args.repeats):
                for kind in kinds:
                    runs[kind].append(measure(kind, case_dir))
            bare = statistics.median(m["seconds"] for m in runs["bare"]) if "bare" in runs else None
            samples, features, hidden, outputs = case.dims
            table = Table(title=f"{name}: {samples} x {features} -> {hidden} -> {outputs}, {case.epochs} epochs, median of {args.repeats}", title_justify="left")
            for column in ("kind", "time (s)", "x bare", "R start-up (s)", "peak RSS (MiB)", "result"):
                table.add_column(column, justify="left" if column in ("kind", "result") else "right")
            for kind, measured in runs.items():
                seconds = statistics.median(m["seconds"] for m in measured)
                table.add_row(
                    kind, f"{seconds:.2f}", f"{seconds / bare:.1f}" if bare else "",
                    f"{statistics.median(m['r_start'] for m in measured):.2f}" if kind != "csv" else "(in time)",
                    f"{max(m['peak_rss'] for m in measured) / 2**20:.0f}", measured[-1]["detail"],
                )
            console.print(table)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
