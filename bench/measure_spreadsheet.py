"""The measurements behind policy.py's spreadsheet bound and docs/spreadsheet.md.

    python bench/measure_spreadsheet.py engine           # Calc's arithmetic against numpy
    python bench/measure_spreadsheet.py run CASE EPOCHS  # a language against the workbook

``engine`` writes a workbook of single operations (SUM, MMULT, EXP, a - b
near cancellation) on random doubles, has LibreOffice recalculate it, and
counts how often and by how much each differs from numpy and from the
correctly rounded result (math.fsum). ``run`` trains Python and R on a case
(``nnparity run --save-traces``), recalculates the case's workbook, and prints
per step the largest difference to each language, absolute and as a share of
policy.spreadsheet_bound, with the time LibreOffice took.
"""

from __future__ import annotations

import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from nnparity import calc, policy, steps
from nnparity.cases import load_case
from nnparity.compare import inputs_of
from nnparity.traces import load_trace
from nnparity.workbook import constant, write_workbook

N = 2000  # operations of each kind


def engine() -> None:
    from openpyxl import Workbook
    from openpyxl.worksheet.formula import ArrayFormula

    rng = np.random.default_rng(12)
    a = rng.uniform(-1, 1, (N, 8))
    b = rng.uniform(-1, 1, (8, 1))
    x = rng.uniform(-40, 40, N)
    near = rng.uniform(0.5, 2, N)
    # b - a where a is within a few ULP of b, or off by a relative 1e-16 ... 1e-13
    offset = near * 10.0 ** rng.uniform(-16.5, -12.5, N)
    wb = Workbook()
    ws = wb.active
    for i in range(N):
        for j in range(8):
            ws.cell(i + 1, j + 1, constant(a[i, j]))
        ws.cell(i + 1, 10, constant(x[i]))
        ws.cell(i + 1, 11, constant(near[i]))
        ws.cell(i + 1, 12, constant(near[i] + offset[i]))
        ws.cell(i + 1, 21, float(a[i, 0]))  # a number cell: does LibreOffice read it exactly?
        ws.cell(i + 1, 13, f"=SUM(A{i + 1}:H{i + 1})")
        ws.cell(i + 1, 15, f"=EXP(-J{i + 1})")
        ws.cell(i + 1, 16, f"=L{i + 1}-K{i + 1}")
        ws.cell(i + 1, 17, f"=1/(1+EXP(-J{i + 1}))")
    for j in range(8):
        ws.cell(j + 1, 19, constant(b[j, 0]))
    ws.cell(1, 14).value = ArrayFormula(f"N1:N{N}", f"=MMULT(A1:H{N},S1:S8)")
    with tempfile.TemporaryDirectory() as tmp:
        wb.save(Path(tmp, "engine.xlsx"))
        values = calc.recalculate(Path(tmp, "engine.xlsx"))
    rows = next(iter(values.values()))
    col = {name: np.array([r[c] for r in rows[:N]]) for name, c in
           (("SUM", 12), ("MMULT", 13), ("EXP", 14), ("SUB", 15), ("SIGMOID", 16),
            ("NUMBER", 20), ("CONSTANT", 0))}
    report("number cell read by LibreOffice vs written", col["NUMBER"], a[:, 0])
    report("constant formula (=x) vs written", col["CONSTANT"], a[:, 0])
    exact_sum = np.array([math.fsum(r) for r in a])
    exact_dot = np.array([math.fsum(a[i] * b[:, 0]) for i in range(N)])
    products = np.array([math.fsum(p) for p in a * b[:, 0]])  # rounded products, summed exactly
    report("SUM vs numpy (a.sum(axis=1))", col["SUM"], a.sum(axis=1))
    report("SUM vs the correctly rounded sum", col["SUM"], exact_sum)
    report("MMULT vs numpy (a @ b)", col["MMULT"], (a @ b)[:, 0])
    report("MMULT vs rounded products summed exactly", col["MMULT"], products)
    report("MMULT vs the correctly rounded dot product", col["MMULT"], exact_dot)
    report("EXP vs numpy (np.exp)", col["EXP"], np.exp(-x))
    report("EXP vs C's exp (math.exp)", col["EXP"], np.array([math.exp(-v) for v in x]))
    report("1/(1+EXP(-x)) vs numpy", col["SIGMOID"], 1 / (1 + np.exp(-x)))
    sub = near + offset - near
    snapped = (col["SUB"] == 0) & (sub != 0)
    report("a - b near cancellation vs numpy", col["SUB"], sub)
    rel = np.abs(sub) / (near + offset)
    print(f"  snapped to 0: {snapped.sum()} of {N}; largest relative difference snapped "
          f"{rel[snapped].max():.3g} (2**-48 = {2.0**-48:.3g}); smallest kept "
          f"{rel[~snapped & (sub != 0)].min():.3g}")


def report(what: str, spreadsheet: np.ndarray, reference: np.ndarray) -> None:
    ulps = np.abs(spreadsheet.view(np.int64) - reference.view(np.int64))
    same = spreadsheet.view(np.int64) == reference.view(np.int64)
    print(f"{what:45s} equal {same.mean():7.2%}  max {ulps.max():.0f} ULP  "
          f"max abs {np.abs(spreadsheet - reference).max():.3g}")


def run(name: str, epochs: int) -> None:
    case = load_case(name)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "nnparity", "run", "--case", name, "--epochs",
                        str(epochs), "--mode", "free", "--save-traces", tmp, "--json"],
                       check=True, capture_output=True)
        languages = {"Python": load_trace(Path(tmp, "python.npz")),
                     "R": load_trace(Path(tmp, "r.npz"))}
        start = time.perf_counter()
        path = write_workbook(case, epochs, Path(tmp, "a.xlsx"))
        written = time.perf_counter() - start
        values = calc.recalculate(path)
        took = time.perf_counter() - start - written
    sheet = calc.read_trace(values, case.dims, epochs)
    print(f"{name}, {epochs} epochs: workbook written in {written:.1f} s, "
          f"recalculated and read in {took:.1f} s")
    worst = {}
    for language, trace in languages.items():
        get = inputs_of(case, trace, case.state())
        for q in steps.QUANTITIES:
            a, b = trace[q.name], sheet[q.name]
            diff = np.abs(a - b)
            rel = float((diff / policy.spreadsheet_bound(q.name, a, b, get)).max())
            worst[language, q.name] = (float(diff.max()), rel)
    print(f"{'step':>4} {'matrix':24s} {'Python abs':>10} {'of bound':>9} "
          f"{'R abs':>10} {'of bound':>9}")
    for q in steps.QUANTITIES:
        (pa, pr), (ra, rr) = worst["Python", q.name], worst["R", q.name]
        print(f"{q.step:>4} {q.name:24s} {pa:10.3g} {pr:9.3g} {ra:10.3g} {rr:9.3g}")
    print(f"largest: {max(v[0] for v in worst.values()):.3g} absolute, "
          f"{max(v[1] for v in worst.values()):.3g} of the bound")


if __name__ == "__main__":
    if sys.argv[1:2] == ["engine"]:
        engine()
    else:
        run(sys.argv[2], int(sys.argv[3]))
