"""What --save-stats adds to the comparison: the bound computed in full in every epoch.

    python bench/measure_stats_cost.py                  # three cases
    python bench/measure_stats_cost.py --cases article --repeats 7

Without --save-stats the comparison computes the full bound (for a step that
sums, the sum of |terms|: a matrix product per epoch) only in epochs where a
cheaper bound cannot settle every cell. With it, every epoch gets the full
bound, so the statistics file's ``bound`` column has a value in every row.
This script trains each case once, then times ``Comparison.add`` on the same
traces both ways, interleaved (A B A B ...) on a shared machine, and prints
the medians and their ratio per mode. docs/results-as-data.md quotes a run.
"""

from __future__ import annotations

import argparse
import statistics
import time

from nnparity import steps
from nnparity.cases import load_case
from nnparity.compare import Comparison
from nnparity.ports import PythonPort, RPort

CASES = {"article": 5000, "many_hidden": 2000, "many_samples": 2000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"{'case':<14}{'mode':<10}{'lazy bound':>12}{'full bound':>12}{'ratio':>8}")
    for name in args.cases:
        case, epochs = load_case(name), CASES[name]
        python, r = PythonPort(), RPort()
        python.start(case)
        r.start(case)
        start = {n: python.state[n].copy() for n in steps.STATE}
        a, b = python.advance(epochs), r.advance(epochs)
        others = {"free": b, "lockstep": r.lockstep(case, a, start)}
        for mode, other in others.items():
            times: dict[bool, list[float]] = {False: [], True: []}
            for _ in range(args.repeats):
                for full in (False, True):
                    comparison = Comparison(case, mode, full_bounds=full)
                    t = time.perf_counter()
                    comparison.add(a, other, epochs, start)
                    times[full].append(time.perf_counter() - t)
            lazy, full = statistics.median(times[False]), statistics.median(times[True])
            times = f"{lazy * 1e3:>10.0f}ms{full * 1e3:>10.0f}ms{full / lazy:>8.2f}"
            print(f"{name:<14}{mode:<10}{times}")


if __name__ == "__main__":
    main()
