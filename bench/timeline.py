"""Where the time of one `nnparity run` goes: its phases, as seen by the supervisor.

    .venv/bin/python bench/timeline.py run --case article --mode free > /dev/null

Runs the command line in this process as `python -m nnparity` does (workers
started first), with the supervisor's main steps wrapped to print, on stderr,
the seconds since this process started when each begins and ends, and when
each reply of a worker arrives. For a picture of one run; ratios and medians
come from bench/benchmark.py.
"""

from __future__ import annotations

import sys
import time

T0 = time.perf_counter()


def mark(what: str) -> None:
    print(f"{time.perf_counter() - T0:7.3f} s  {what}", file=sys.stderr)


def wrap(owner, name: str) -> None:
    function = getattr(owner, name)
    label = f"{getattr(owner, '__name__', owner)}.{name}".replace("nnparity.", "")

    def timed(*args, **kwargs):
        mark(f"> {label}")
        try:
            return function(*args, **kwargs)
        finally:
            mark(f"< {label}")

    setattr(owner, name, timed)


def main() -> int:
    from nnparity import signals, spawn

    signals.catch_signals()
    spawn.early(sys.argv[1:])
    mark("workers started")
    from nnparity import cli, report, supervise, traces

    mark("harness imported")
    for owner, name in [
        (supervise.WorkerPort, "wait_loaded"), (traces, "run"), (supervise.Supervisor, "__exit__"),
        (report, "stage_stats"), (report, "show_run"),
    ]:
        wrap(owner, name)
    cli.stage_stats, cli.show_run = report.stage_stats, report.show_run
    collect = supervise.WorkerPort._collect

    def collected(self, target):
        collect(self, target)
        mark(f"  {self.language} replied: {target.what}")

    supervise.WorkerPort._collect = collected
    try:
        return cli.main(sys.argv[1:])
    finally:
        mark("end")


if __name__ == "__main__":
    sys.exit(main())
