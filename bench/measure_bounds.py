"""Measure what nnparity/policy.py's bounds are made of, on any case, over all its epochs.

    python bench/measure_bounds.py                     # the scale case, 2000 epochs (a few minutes)
    python bench/measure_bounds.py fixtures/iris       # a case folder, its own epochs
    python bench/measure_bounds.py --epochs 120
    python bench/measure_bounds.py fixtures/saturated --r-impl PATH   # another port,
                                                   # a faithful rewrite, say

For every recorded matrix it prints, over every cell of every epoch:
lockstep, the largest |Python - R| in units of eps * magnitude (and divided by
sqrt(terms)) and that as a share of the policy's bound; free-running, the
largest |Python - R|, the largest |Python - R| / magnitude and the largest
share of the policy's bound. ``--json`` prints the same as JSON (with the
environment's fingerprint: scripts/blas_matrix.py --measure collects it per
BLAS). Chunks of epochs keep memory bounded.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "fixtures"))

from nnparity import policy, steps, traces  # noqa: E402
from nnparity.cases import load_case  # noqa: E402
from nnparity.compare import inputs_of  # noqa: E402
from nnparity.fingerprint import fingerprint  # noqa: E402
from nnparity.ports import PythonPort, RPort  # noqa: E402


def scale_case(epochs: int):
    from generate import generated

    return generated("scale", 20261105, 2000, 50, 64, 1, 0.001, epochs, "the scale test's case")


def measure(case, epochs: int, python_impl=None, r_impl=None) -> dict[str, dict]:
    """Per recorded matrix, the largest differences over every cell of every epoch.

    lockstep: |Python - R| in units of eps * magnitude, where, and that over
    the policy's bound in the same units (N, or N * sqrt(terms) for a sum);
    free-running: the largest |Python - R|, where, per magnitude, and over the
    policy's bound (1 means at the bound).
    """
    eps = np.finfo(np.float64).eps
    python, r_free, r_lock = PythonPort(python_impl), RPort(r_impl), RPort(r_impl)
    python.start(case)
    r_free.start(case)
    out = {
        name: {
            "lockstep": 0.0,
            "lockstep_epoch": 0,
            "terms": 1,
            "lockstep_of_bound": 0.0,
            "free_abs": 0.0,
            "free_epoch": 0,
            "free_per_magnitude": 0.0,
            "free_of_bound": 0.0,
        }
        for name in steps.NAMES
    }
    done = 0
    for size in traces.chunks(epochs, traces.epoch_bytes(case)):
        start = {name: python.state[name].copy() for name in steps.STATE}
        a_all = python.advance(size)
        b_free, b_lock = r_free.advance(size), r_lock.lockstep(case, a_all, start)
        get = inputs_of(case, a_all, start)
        for name in steps.NAMES:
            m_ = out[name]
            a = a_all[name]
            magnitude = policy.magnitude(name, a, get)
            m = np.where(magnitude == 0, 1.0, magnitude)
            n_terms = policy.terms(name, get) if name in policy.SUMMING else 1
            ratio = np.abs(a - np.asarray(b_lock[name])) / (eps * m)
            if ratio.max() > m_["lockstep"]:
                epoch = done + int(np.unravel_index(np.argmax(ratio), ratio.shape)[0]) + 1
                m_.update(lockstep=float(ratio.max()), lockstep_epoch=epoch, terms=n_terms)
            units = policy.lockstep_ulps(name) * (np.sqrt(n_terms) if name in policy.SUMMING else 1)
            m_["lockstep_of_bound"] = max(m_["lockstep_of_bound"], float(ratio.max()) / units)
            b = np.asarray(b_free[name])
            diff = np.abs(a - b)
            if diff.max() > m_["free_abs"]:
                at = done + int(np.unravel_index(np.argmax(diff), diff.shape)[0]) + 1
                m_.update(free_abs=float(diff.max()), free_epoch=at)
            m_["free_per_magnitude"] = max(m_["free_per_magnitude"], float((diff / m).max()))
            allowed = policy.free_running_bound(name, a, b, get)
            m_["free_of_bound"] = max(m_["free_of_bound"], float((diff / allowed).max()))
        done += size
        a_all = b_free = b_lock = None
        gc.collect()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("case", nargs="?", help="a case folder or name (default: the scale case)")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--python-impl", help="a Python port in place of python_impl")
    parser.add_argument("--r-impl", help="an R port in place of r_impl")
    parser.add_argument("--json", action="store_true", help="print the measurements as JSON")
    args = parser.parse_args()
    case = load_case(args.case) if args.case else scale_case(args.epochs or 2000)
    epochs = args.epochs or case.epochs
    found = measure(case, epochs, args.python_impl, args.r_impl)
    if args.json:
        out = {"case": case.name, "epochs": epochs, "steps": found, "environment": fingerprint()}
        print(json.dumps(out))
        return 0
    print(f"{case.name}, {epochs} epochs, dims {case.dims}")
    print(
        f"{'matrix':24s} {'lockstep eps*mag':>16s} {'/sqrt(terms)':>12s} {'at':>6s} "
        f"{'of bound':>8s}   "
        f"{'free max abs':>12s} {'at':>6s} {'free /mag':>10s} {'of bound':>8s}"
    )
    for name in steps.NAMES:
        m = found[name]
        print(
            f"{name:24s} {m['lockstep']:16.2f} {m['lockstep'] / np.sqrt(m['terms']):12.2f} "
            f"{m['lockstep_epoch']:6d} {m['lockstep_of_bound']:8.3f}   {m['free_abs']:12.3g} "
            f"{m['free_epoch']:6d} {m['free_per_magnitude']:10.3g} {m['free_of_bound']:8.3g}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
