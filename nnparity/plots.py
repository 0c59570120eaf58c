"""Plots for `nnparity report` (matplotlib, Agg backend: files only, no display).

Each function draws one figure and writes a PNG. The comparison's figures come
from the statistics table (``nnparity.stats``), the same one ``--save-stats``
writes: a plot made from the file is the plot of the run.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
from pathlib import Path


def _writable_matplotlib_folder() -> None:
    """Give matplotlib a folder it can write when HOME cannot be written.

    matplotlib keeps its settings and font cache in ~/.config/matplotlib and
    ~/.cache/matplotlib. Under a HOME that is read-only, missing or not a
    folder it falls back to a temporary folder, removed at exit, and says so in
    two lines of warnings on stderr, which would break the one line promised
    for a run that went well. This is the same fallback, said nowhere.
    """
    if os.environ.get("MPLCONFIGDIR"):
        return
    home = Path(os.environ.get("HOME") or "~").expanduser()
    for variable, default in (("XDG_CONFIG_HOME", ".config"), ("XDG_CACHE_HOME", ".cache")):
        folder = Path(os.environ.get(variable) or home / default) / "matplotlib"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if os.access(folder, os.W_OK):
                continue
        except OSError:
            pass
        temporary = tempfile.mkdtemp(prefix="nnparity-matplotlib-")
        atexit.register(shutil.rmtree, temporary, ignore_errors=True)
        os.environ["MPLCONFIGDIR"] = temporary
        return


_writable_matplotlib_folder()

import matplotlib  # noqa: E402 - after its folder is settled

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402
from matplotlib.ticker import LogLocator  # noqa: E402

from . import steps  # noqa: E402
from .accumulate import differences  # noqa: E402
from .missing import describe_value  # noqa: E402

DPI = 110
COLOURS = {"Python": "#3572A5", "R": "#D2691E"}


def _epochs(n: int) -> np.ndarray:
    return np.arange(1, n + 1)


def _save(fig, path: Path) -> Path:
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


def _overflow_unsaid(draw):
    """A plot whose log axis reaches up to the largest double: matplotlib's transforms overflow
    on its margins, harmlessly (the drawing is right), with a warning on stderr; not said."""

    @functools.wraps(draw)
    def quiet(*args, **kwargs):
        with np.errstate(over="ignore"):
            return draw(*args, **kwargs)

    return quiet


class _FiniteLogLocator(LogLocator):
    """matplotlib's log ticks without those past the largest double (10**309 is inf, which
    its formatter cannot place): an axis that reaches up to 1e308 is drawn."""

    def tick_values(self, vmin, vmax):
        ticks = super().tick_values(vmin, vmax)
        return ticks[np.isfinite(ticks)]


def _log_y(ax, drawn: np.ndarray) -> None:
    """A log y axis that holds `drawn`, the values plotted (positive, finite or not drawn):
    its limits from them, as matplotlib's margins may reach past the largest double."""
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(_FiniteLogLocator())
    ax.yaxis.set_minor_locator(_FiniteLogLocator(subs="auto"))
    shown = drawn[np.isfinite(drawn) & (drawn > 0)]
    if shown.size:
        low, high, top = shown.min(), shown.max(), np.finfo(np.float64).max
        ax.set_ylim(low / 3 or low, high * 3 if high < top / 3 else top)  # 5e-324 / 3 is 0


def not_drawn(curves: dict[str, np.ndarray]) -> list[str]:
    """Each curve's first epoch whose value is not a finite number (NaN, inf), which a plot
    cannot place: 'E from epoch 3 (inf)'."""
    said = []
    for name, curve in curves.items():
        bad = np.flatnonzero(~np.isfinite(curve))
        if bad.size:
            said.append(f"{name} from epoch {bad[0] + 1} ({describe_value(curve[bad[0]])})")
    return said


def _say_not_drawn(ax, curves: dict[str, np.ndarray], what: str) -> None:
    """Write on the plot which values it leaves out (not_drawn)."""
    said = not_drawn(curves)
    if said:
        ax.text(0.01, 0.01, f"not drawn, {what}: " + "; ".join(said), transform=ax.transAxes,
                fontsize=7, color="#CC0000", wrap=True, va="bottom")


@_overflow_unsaid
def loss_curves(losses: dict[str, np.ndarray], path: Path, case: str) -> Path:
    """E = sum((y - output)^2) / 2 per epoch, both languages overlaid, their difference below."""
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(8, 5.5), sharex=True, gridspec_kw={"height_ratios": [3, 2]}
    )
    _log_y(top, np.concatenate([losses["Python"], losses["R"]]))  # before anything is drawn
    for language, style in (("Python", "-"), ("R", "--")):
        loss = losses[language]
        top.plot(
            _epochs(len(loss)),
            loss,
            style,
            color=COLOURS[language],
            label=language,
            linewidth=2 if language == "Python" else 1.5,
        )
    _say_not_drawn(top, losses, "loss")
    top.set_ylabel("loss  sum((y - output)²) / 2")
    top.set_title(f"{case}: training loss per epoch, both languages")
    top.legend()
    top.grid(True, which="both", alpha=0.3)
    # differences' rule for a cell: NaN meeting NaN of its kind is 0, meeting a number inf
    diff = differences(*(losses[k].reshape(-1, 1, 1) for k in ("Python", "R"))).diff.ravel()
    x = _epochs(len(diff))
    floor = _floor(diff)
    drawn = np.where(diff > 0, diff, floor)
    _log_y(bottom, drawn)
    bottom.scatter(x, drawn, s=2, color="#555555", linewidths=0)
    _mark_floor(bottom, floor)
    _say_not_drawn(bottom, {"|Python - R|": diff}, "difference")
    bottom.set_ylabel("|Python - R|")
    bottom.set_xlabel("epoch")
    bottom.grid(True, which="both", alpha=0.3)
    return _save(fig, path)


def _floor(values: np.ndarray) -> float:
    """Where zero is drawn on a log axis: a decade below the smallest nonzero value."""
    nonzero = values[(values > 0) & np.isfinite(values)]
    smallest = float(np.nextafter(0.0, 1.0))  # a tenth of it would be 0
    return max(float(nonzero.min()) / 10, smallest) if nonzero.size else 1e-17


def _mark_floor(ax, floor: float) -> None:
    ax.axhline(floor, color="#999999", linestyle=":", linewidth=1)
    ax.annotate(
        "0 (bitwise equal)",
        (0, floor),
        xycoords=("axes fraction", "data"),
        xytext=(4, 3),
        textcoords="offset points",
        fontsize=8,
        color="#666666",
    )


def _mark_first(ax, first: tuple[int, str] | None, label: str, colour: str) -> None:
    if first is not None:
        epoch, name = first
        ax.axvline(epoch, color=colour, linestyle="--", linewidth=1)
        ax.annotate(
            f"{label}: epoch {epoch}, {name}",
            (epoch, 1),
            xycoords=("data", "axes fraction"),
            xytext=(4, -12),
            textcoords="offset points",
            fontsize=8,
            color=colour,
        )


def _flagged(rows, column: str) -> tuple[int, str] | None:
    """The first (epoch, matrix) whose row carries a flag of the statistics table."""
    flagged = rows[rows[column]]
    if flagged.empty:
        return None
    first = flagged.sort_values(["epoch", "step"], kind="stable").iloc[0]
    return int(first["epoch"]), str(first["matrix"])


def _per_epoch(rows, column: str) -> dict[str, np.ndarray]:
    """matrix -> one figure per epoch, in the article's order, from one mode's rows of the table."""
    ordered = rows.sort_values(["epoch"], kind="stable")
    return {
        name: ordered.loc[ordered["matrix"] == name, column].to_numpy(dtype=np.float64)
        for name in steps.NAMES
        if (rows["matrix"] == name).any()
    }


@_overflow_unsaid
def max_difference(stats, mode: str, case: str, path: Path) -> Path:
    """The largest absolute difference per step so far (running maximum over epochs), log scales.

    Drawn from the statistics table (``nnparity.stats``: column ``max_abs``).
    Epochs where a step is still bitwise equal sit on a marked floor (zero has
    no place on a log axis).
    """
    rows = stats[stats["mode"] == mode]
    fig, ax = plt.subplots(figsize=(9, 5))
    curves = _per_epoch(rows, "max_abs")
    everything = np.concatenate(list(curves.values())) if curves else np.zeros(0)
    floor = _floor(everything)
    colours = plt.get_cmap("tab20")
    so_far = {name: np.maximum.accumulate(c) if c.size else c for name, c in curves.items()}
    drawn = {name: np.where(c > 0, c, floor) for name, c in so_far.items()}
    _log_y(ax, np.concatenate([[floor], *drawn.values()]))  # before anything is drawn on it
    for i, (name, curve) in enumerate(drawn.items()):
        ax.plot(
            _epochs(len(curve)),
            curve,
            color=colours(i % 20),
            linewidth=1.5,
            label=f"{steps.BY_NAME[name].step} {name}",
        )
    _mark_floor(ax, floor)
    _mark_first(ax, _flagged(rows, "first_difference"), "first difference", "#444444")
    _mark_first(ax, _flagged(rows, "first_over"), "first cell beyond the bound", "#CC0000")
    _say_not_drawn(ax, so_far, "not a finite difference")
    ax.set_xscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("largest |Python - R| so far")
    ax.set_title(f"{case}, {mode}: largest difference per step")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    ax.grid(True, which="both", alpha=0.3)
    return _save(fig, path)


@_overflow_unsaid
def ulp_map(stats, mode: str, case: str, path: Path) -> Path:
    """Step x epoch map of the largest ULP difference (column ``max_ulp``); grey: bitwise equal."""
    rows = stats[stats["mode"] == mode]
    curves = _per_epoch(rows, "max_ulp")
    names = list(curves)
    grid = np.array(list(curves.values())) if names else np.zeros((0, 0))
    fig, ax = plt.subplots(figsize=(9, 4.5))
    if grid.size:
        positive = grid[(grid > 0) & np.isfinite(grid)]
        vmax = max(float(positive.max()) if positive.size else 1.0, 2.0)
        # inf ULP (NaN or NA against another value), which pcolormesh would leave blank as it
        # does a bitwise equal cell: above any count, in the 'over' colour
        masked = np.ma.masked_less_equal(np.where(np.isinf(grid), 10 * vmax, grid), 0)
        cmap = plt.get_cmap("viridis").with_extremes(bad="#DDDDDD", over="#CC0000")
        edges = np.arange(grid.shape[1] + 1) + 0.5
        image = ax.pcolormesh(
            edges,
            np.arange(len(names) + 1) - 0.5,
            masked,
            cmap=cmap,
            norm=LogNorm(vmin=1, vmax=vmax),
            shading="flat",
        )
        ax.set_xscale("log")
        ax.set_ylim(len(names) - 0.5, -0.5)
        infinite = "; red: inf, NaN or NA against another value" if np.isinf(grid).any() else ""
        fig.colorbar(image, ax=ax, extend="max" if infinite else "neither",
                     label=f"max ULP difference (grey: bitwise equal{infinite})")
        first = _flagged(rows, "first_difference")
        if first is not None and first[1] in names:
            epoch, name = first
            ax.plot(
                epoch,
                names.index(name),
                marker="o",
                markersize=10,
                markerfacecolor="none",
                markeredgecolor="red",
            )
            ax.annotate(
                f"first difference: epoch {epoch}",
                (epoch, names.index(name)),
                xytext=(10, -4),
                textcoords="offset points",
                color="red",
                fontsize=8,
                bbox=dict(boxstyle="round", fc="white", ec="red"),
            )
    ax.set_yticks(range(len(names)), [f"{steps.BY_NAME[n].step} {n}" for n in names], fontsize=8)
    ax.set_xlabel("epoch")
    ax.set_title(f"{case}, {mode}: ULP differences, step x epoch")
    return _save(fig, path)
