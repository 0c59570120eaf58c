"""Tidy statistics: one row per (mode, epoch, recorded matrix), built with pandas.

The comparison (``Comparison``, per step ``StepStats``) accumulates its
figures per epoch; ``table`` lays them out as one tidy table, which the HTML
page and its plots read. The terminal table and ``--json`` show its
``summary``, taken from the comparison's totals of the same figures
(report.figures: no pandas for a run that only prints; test_stats holds them
equal). ``--save-stats FILE`` writes the table (CSV, or Parquet for a name
ending in ``.parquet``), so a report made from the file is the report of the
run.

The schema (also in docs/results-as-data.md):

==================  =========  ==================================================
column              dtype      meaning
==================  =========  ==================================================
mode                string     "free" (each language trains on its own) or
                               "lockstep" (R recomputes each step from Python's
                               inputs)
epoch               int64      1-based
step                int64      the article's step number
matrix              string     the article's name (``steps.NAMES``)
cells               int64      cells compared at this epoch
equal               int64      cells bitwise equal (NaN meeting NaN, NA meeting NA)
equal_share         float64    equal / cells
max_abs             float64    largest ``|Python - R|`` (inf: NaN or NA against a
                               number or the other kind)
max_rel             float64    largest ``|Python - R| / max(|Python|, |R|)``
max_ulp             float64    largest distance in units in the last place (inf:
                               NaN or NA against a number or the other kind)
over                int64      cells beyond the bound
bound               float64    the largest difference the bound allows in any cell;
                               every row with --save-stats (the run computes the
                               full bound in every epoch); without it, NaN where
                               a cheaper bound settled every cell
first_difference    bool       this row holds the mode's first cell that is not
                               bitwise equal (where a difference is born)
first_over          bool       this row holds this matrix's first cell beyond
                               the bound
==================  =========  ==================================================

A matrix that could not be compared (missing, misshapen: a structural
problem, reported as such) has no rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import steps


class _Pandas:
    """pandas, imported on first use: it takes about half a second, which a run that prints
    nothing from the table (or imports it in the background, as `nnparity run` does) need not
    wait for."""

    def __getattr__(self, name):
        import pandas

        return getattr(pandas, name)


pd = _Pandas()

#: Column -> dtype, in order: the file's schema.
SCHEMA: dict[str, str] = {
    "mode": "string",
    "epoch": "int64",
    "step": "int64",
    "matrix": "string",
    "cells": "int64",
    "equal": "int64",
    "equal_share": "float64",
    "max_abs": "float64",
    "max_rel": "float64",
    "max_ulp": "float64",
    "over": "int64",
    "bound": "float64",
    "first_difference": "bool",
    "first_over": "bool",
}

#: Per-step figures over all epochs, as the reports show them: column -> how it aggregates.
SUMMARY = {
    "cells": "sum",
    "equal": "sum",
    "max_abs": "max",
    "max_rel": "max",
    "max_ulp": "max",
    "over": "sum",
}


#: pandas before 3 parses decimals with its fast parser unless asked, which can miss the
#: last bit; pandas 3 parses them exactly by default (and deprecates the option).
def round_trip() -> dict:
    """read_csv's option for exact doubles (pandas 3 reads them exactly by default)."""
    return {"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3 else {}


class StatsError(OSError):
    """A statistics file that cannot be written or read; the message names the file."""


def empty() -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype=dtype) for column, dtype in SCHEMA.items()})


def table(reports) -> pd.DataFrame:
    """The tidy table of a run's reports (``{mode: ParityReport}``): mode, epoch, step order."""
    frames = []
    for mode, report in reports.items():
        first = report.first_difference
        for s in report.shown:
            if s.problem:
                continue
            figures = s.figures()
            n = len(figures["max_abs"])
            if n == 0:
                continue
            # a step: every epoch; a once-per-call check (once.OnceCheck): the epochs it was at
            if "epoch" not in figures:
                figures["epoch"] = np.arange(1, n + 1, dtype=np.int64)
                figures["cells"] = np.full(n, s.cells // n, dtype=np.int64)
            frame = pd.DataFrame(
                {
                    "mode": mode,
                    "epoch": figures["epoch"],
                    "step": s.step,
                    "matrix": s.name,
                    "cells": figures["cells"],
                    **{
                        key: figures[key]
                        for key in ("equal", "max_abs", "max_rel", "max_ulp", "over", "bound")
                    },
                    "first_difference": figures["epoch"]
                    == (first.epoch if first and first.name == s.name else 0),
                    "first_over": figures["epoch"]
                    == (s.first_violation.epoch if s.first_violation else 0),
                    # the step list's order, to sort by (a map over the names cost 30 ms on
                    # the article's 70,000 rows: strings, one by one)
                    "_order": steps.position(s.name),
                }
            )
            frames.append(frame)
    if not frames:
        return empty()
    out = pd.concat(frames, ignore_index=True)
    out["equal_share"] = out["equal"] / out["cells"]
    out = out.sort_values(["mode", "epoch", "_order"], kind="stable")
    return conform(out.drop(columns="_order").reset_index(drop=True))


def conform(frame: pd.DataFrame) -> pd.DataFrame:
    """The columns of SCHEMA, in its order and dtypes."""
    return frame[list(SCHEMA)].astype(SCHEMA)


def summary(frame: pd.DataFrame, mode: str, names=steps.NAMES) -> pd.DataFrame:
    """One row per matrix of one mode, indexed by matrix: the figures the tables and --json show.

    Every name in ``names`` has a row; one with no rows in ``frame`` (never
    compared) has zeros, as the comparison counts it.
    """
    rows = frame[frame["mode"] == mode]
    out = rows.groupby("matrix", sort=False).agg(SUMMARY)
    out = out.reindex(list(dict.fromkeys([*names, *out.index])), fill_value=0)
    out["equal_share"] = (out["equal"] / out["cells"].where(out["cells"] > 0)).fillna(0.0)
    return out


# --- files -------------------------------------------------------------------------------


def is_parquet(path: Path | str) -> bool:
    return str(path).lower().endswith(".parquet")


def require_pyarrow(path: Path | str) -> None:
    """Parquet needs pyarrow (the optional extra ``nnparity[parquet]``); say so in one line."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise StatsError(
            f"{path}: writing Parquet needs pyarrow: pip install 'nnparity[parquet]' "
            "(or give a name ending in .csv)"
        ) from None


def is_statistics(path: Path) -> bool:
    """Whether ``path`` is a statistics file nnparity wrote, which --save-stats may replace.

    Recognised as a table of SCHEMA: its columns exactly SCHEMA's names, in order (the
    Parquet file's schema; the CSV's first line), and, for a CSV, every line below a row of
    those columns with their types (a file of the user's that only begins with that line,
    a header pasted over notes, is refused). A user's file or a case's matrix has other
    columns, so it is refused; a table saved elsewhere with these very columns (a filtered
    copy written with ``index=False``) would be taken as nnparity's.
    """
    try:
        if is_parquet(path):
            import pyarrow.parquet as pq

            return pq.read_schema(path).names == list(SCHEMA)
        with open(path, "rb") as handle:
            if handle.readline(4096).rstrip(b"\r\n") != ",".join(SCHEMA).encode():
                return False
        frame = _read_csv(path)
    except (OSError, ValueError):  # pyarrow's "not Parquet", pandas' misfit rows or types
        return False
    bools = [column for column, dtype in SCHEMA.items() if dtype == "bool"]
    return frame.empty or all(frame[column].dtype == bool for column in bools)


def check_target(path: Path | str, traces_folder: Path | str | None = None) -> Path:
    """Where a table can be written for ``path`` (a link followed): StatsError or OutputError
    (one line) when it cannot (atomic.check_file: new, or nnparity's own statistics).

    Not inside ``traces_folder`` (--save-traces), which holds only what the run writes there.
    """
    from .atomic import check_file

    path = Path(path)
    if is_parquet(path):
        require_pyarrow(path)
    if traces_folder is not None and path.resolve().is_relative_to(Path(traces_folder).resolve()):
        raise StatsError(
            f"{path}: is inside the --save-traces folder {traces_folder}, which holds only the "
            "traces; save the statistics beside it"
        )
    return check_file(path, "the statistics (.csv or .parquet)", is_statistics)


def write(frame: pd.DataFrame, path: Path | str) -> Path:
    """Write the table atomically: CSV, or Parquet when the name ends in .parquet.

    CSV floats are written as Python's repr writes them (the shortest decimal
    that reads back to the same double), so ``read`` gives the same doubles.
    """
    stage(frame, path).commit()
    return Path(path)


def stage(frame: pd.DataFrame, path: Path | str):
    """The table written beside `path` (atomic.StagedFile), for the caller to ``commit``
    with its other outputs, or ``abort``."""
    from .atomic import StagedFile

    staged = StagedFile(check_target(path))
    with staged.writing() as tmp:
        if is_parquet(path):
            frame.to_parquet(tmp, index=False)
        else:
            as_r_logical(frame).to_csv(tmp, index=False)
    return staged


def as_r_logical(frame: pd.DataFrame) -> pd.DataFrame:
    """The table with its bool columns as TRUE and FALSE: base R's read.csv reads them as
    logical (True and False, as pandas writes them, it reads as text), pandas' read_csv as
    bool."""
    bools = [column for column, dtype in SCHEMA.items() if dtype == "bool"]
    return frame.assign(**{c: np.where(frame[c], "TRUE", "FALSE") for c in bools})


def _read_csv(path: Path | str) -> pd.DataFrame:
    """A statistics CSV as pandas reads it, every column but the bools in SCHEMA's dtype (the
    bools are TRUE and FALSE, which read_csv takes as bool by itself)."""
    return pd.read_csv(
        path, dtype={c: d for c, d in SCHEMA.items() if d != "bool"}, **round_trip()
    )


def read(path: Path | str) -> pd.DataFrame:
    """Read a table written by ``write`` back, with the schema's dtypes and the same doubles."""
    path = Path(path)
    if is_parquet(path):
        require_pyarrow(path)
    try:
        if is_parquet(path):
            frame = pd.read_parquet(path)
        else:
            frame = _read_csv(path)
    except (OSError, ValueError) as error:
        raise StatsError(f"{path}: cannot be read as nnparity statistics ({error})") from None
    missing = [column for column in SCHEMA if column not in frame.columns]
    if missing:
        raise StatsError(f"{path}: not nnparity statistics (no column {', '.join(missing)})")
    return conform(frame)
