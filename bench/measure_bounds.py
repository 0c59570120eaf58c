"""Measure what nnparity/policy.py's bounds are made of, on any case, over all its epochs.

    python bench/measure_bounds.py                     # the scale case, 2000 epochs (a few minutes)
    python bench/measure_bounds.py fixtures/iris       # a case folder, its own epochs
    python bench/measure_bounds.py --epochs 120
    python bench/measure_bounds.py fixtures/saturated --r-impl PATH   # another port (a faithful rewrite, say)

For every recorded matrix it prints, over every cell of every epoch:
lockstep, the largest |Python - R| in units of eps * magnitude (and divided by
sqrt(terms)); free-running, the largest |Python - R| and the largest
|Python - R| / magnitude. Chunks of epochs keep memory bounded.
"""

from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "fixtures"))

from nnparity import policy, steps, traces  # noqa: E402
from nnparity.cases import load_case  # noqa: E402
from nnparity.compare import inputs_of  # noqa: E402
from nnparity.ports import PythonPort, RPort  # noqa: E402


def scale_case(epochs: int):
    from generate import generated

    return generated("scale", 20261105, 2000, 50, 64, 1, 0.001, epochs, "the scale test's case")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("case", nargs="?", help="a case folder or name (default: the scale case)")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--python-impl", help="a Python port in place of python_impl")
    parser.add_argument("--r-impl", help="an R port in place of r_impl")
    args = parser.parse_args()
    case = load_case(args.case) if args.case else scale_case(args.epochs or 2000)
    epochs = args.epochs or case.epochs
    eps = np.finfo(np.float64).eps
    python, r_free, r_lock = PythonPort(args.python_impl), RPort(args.r_impl), RPort(args.r_impl)
    python.start(case)
    r_free.start(case)
    lock = {name: (0.0, 0, 1) for name in steps.NAMES}
    free = {name: (0.0, 0, 0.0) for name in steps.NAMES}
    done = 0
    for size in traces.chunks(epochs, traces.epoch_bytes(case)):
        start = {name: python.state[name].copy() for name in steps.STATE}
        a_all = python.advance(size)
        b_free, b_lock = r_free.advance(size), r_lock.lockstep(case, a_all, start)
        get = inputs_of(case, a_all, start)
        for name in steps.NAMES:
            a = a_all[name]
            magnitude = policy.magnitude(name, a, get)
            m = np.where(magnitude == 0, 1.0, magnitude)
            ratio = np.abs(a - np.asarray(b_lock[name])) / (eps * m)
            if ratio.max() > lock[name][0]:
                epoch = done + int(np.unravel_index(np.argmax(ratio), ratio.shape)[0]) + 1
                lock[name] = (float(ratio.max()), epoch, policy.terms(name, get) if name in policy.SUMMING else 1)
            diff = np.abs(a - np.asarray(b_free[name]))
            worst_abs, at, worst_rel = free[name]
            if diff.max() > worst_abs:
                worst_abs, at = float(diff.max()), done + int(np.unravel_index(np.argmax(diff), diff.shape)[0]) + 1
            free[name] = (worst_abs, at, max(worst_rel, float((diff / m).max())))
        done += size
        a_all = b_free = b_lock = None
        gc.collect()
    print(f"{case.name}, {epochs} epochs, dims {case.dims}")
    print(f"{'matrix':24s} {'lockstep eps*mag':>16s} {'/sqrt(terms)':>12s} {'at':>6s}   {'free max abs':>12s} {'at':>6s} {'free /mag':>10s}")
    for name in steps.NAMES:
        ratio, epoch, n_terms = lock[name]
        worst_abs, at, worst_rel = free[name]
        print(f"{name:24s} {ratio:16.2f} {ratio / np.sqrt(n_terms):12.2f} {epoch:6d}   {worst_abs:12.3g} {at:6d} {worst_rel:10.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
