"""`nnparity report`: one HTML page (index.html) with PNG plots of a run.

The page appears whole or not at all: everything is written into a temporary
folder beside the target, which is then renamed into place.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
from rich.console import Console

from . import stats as tidy
from . import supervise, traces
from .atomic import OutputError, StagedFolder, _reason
from .cases import load_case
from .command import (
    FAILS,
    OK,
    add_case_option,
    add_timeout_option,
    bad_input,
    parse_epochs_option,
    parse_timeout,
    write_out,
)
from .compare import ParityReport
from .report import (
    MODE_TITLES,
    determinism_lines,
    shown_figures,
    story,
    verdict,
)


class LossRecorder:
    """Keeps the loss of every epoch each language trains, from the chunks of the run.

    The loss is the article's E summed: sum((y - output)^2) / 2, where the
    recorded matrix E is y - output.
    """

    def __init__(self):
        self.losses: dict[str, list[np.ndarray]] = {"Python": [], "R": []}

    def __call__(self, language: str, trace: dict[str, np.ndarray]) -> None:
        if isinstance(trace.get("E"), np.ndarray):  # not a step's problem (cells.Unrecorded)
            E = np.asarray(trace["E"], dtype=np.float64)
            self.losses[language].append((E.reshape(len(E), -1) ** 2).sum(axis=1) / 2)

    def loss(self) -> dict[str, np.ndarray]:
        return {
            language: np.concatenate(parts) if parts else np.zeros(0)
            for language, parts in self.losses.items()
        }


def report_folder(out: Path | str) -> StagedFolder:
    """The report's folder, checked before the run: new, empty, or an earlier report."""
    return StagedFolder(out, "the report")


def write_report(
    run: traces.Run, losses: dict[str, np.ndarray], out: Path | str | StagedFolder, stats=None
) -> Path:
    """Write index.html and its plots into `out`, atomically; returns the page's path.

    The figures come from ``stats``, the run's statistics table (``nnparity.stats``;
    made from the run when not given): a page made from a saved table is the same page.
    """
    from . import plots  # matplotlib takes about a second to import: only the report pays for it

    stats = tidy.table(run.reports) if stats is None else stats
    folder = out if isinstance(out, StagedFolder) else report_folder(out)
    staging = folder.open()
    try:
        images = [("loss.png", "Training loss per epoch, Python and R overlaid",
                   plots.loss_curves(losses, staging / "loss.png", run.case.name))]
        for mode in run.reports:
            name = run.case.name
            diff, ulps = f"max-diff-{mode}.png", f"ulp-map-{mode}.png"
            images.append(
                (
                    diff,
                    f"Largest difference per step, {mode}",
                    plots.max_difference(stats, mode, name, staging / diff),
                )
            )
            images.append(
                (
                    ulps,
                    f"ULP differences, step x epoch, {mode}",
                    plots.ulp_map(stats, mode, name, staging / ulps),
                )
            )
        listed = [(name, alt) for name, alt, _ in images]
        (staging / "index.html").write_text(page(run, losses, listed, stats))
        target = folder.commit()
    except BaseException as error:
        folder.abort()
        if isinstance(error, OSError) and not isinstance(error, OutputError):  # a full disk
            raise OutputError(f"{folder.target}: cannot be written ({_reason(error)})") from None
        raise
    return target / "index.html"


STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1000px; margin: 2em auto;
       padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
.verdict { font-weight: bold; padding: 0.6em 1em; border-radius: 4px; }
.pass { background: #e6f4ea; color: #1e6b34; } .fail { background: #fce8e6; color: #a50e0e; }
table { border-collapse: collapse; font-size: 0.9em; }
td, th { padding: 0.2em 0.7em; text-align: right; border-bottom: 1px solid #eee; }
td.name, th.name { text-align: left; }
pre { background: #f6f8fa; padding: 0.8em; white-space: pre-wrap; }
img { max-width: 100%; display: block; margin: 1em 0; }
"""

# Sets the title once every image has loaded (naturalWidth > 0): the browser check reads it.
CHECK_IMAGES = """
window.addEventListener("load", function () {
  var images = Array.from(document.images);
  var loaded = images.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.setAttribute("data-images-loaded", loaded + "/" + images.length);
});
"""


def page(
    run: traces.Run, losses: dict[str, np.ndarray], images: list[tuple[str, str]], stats
) -> str:
    e = html.escape
    case = run.case
    status = "pass" if run.passed else "fail"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>nnparity report: "
        f"{e(case.name)}</title><style>{STYLE}</style><script>{CHECK_IMAGES}</script></head><body>",
        f"<h1>nnparity: {e(case.name)}, {run.epochs} epochs</h1>",
        f"<p>{e(case.description)}</p>" if case.description else "",
        f'<p class="verdict {status}">{e(verdict(run))}</p>',
        *(f"<p>{e(line)}</p>" for line in determinism_lines(run)),
        "<h2>Training loss</h2>",
        f"<p>Loss after epoch {run.epochs}: Python {losses['Python'][-1]:.6g}, R "
        f"{losses['R'][-1]:.6g}.</p>"
        if len(losses["Python"])
        else "",
        _img(images[0]),
    ]
    by_mode = {name.split("-")[-1].removesuffix(".png"): [] for name, _ in images[1:]}
    for image in images[1:]:
        by_mode[image[0].split("-")[-1].removesuffix(".png")].append(image)
    for mode, report in run.reports.items():
        figures = tidy.summary(stats, mode)
        parts += [
            f"<h2>{e(MODE_TITLES[mode])}</h2>",
            f"<pre>{e(story(report))}</pre>",
            _table(report, figures),
        ]
        parts += [_img(image) for image in by_mode.get(mode, [])]
    parts.append("</body></html>")
    return "\n".join(p for p in parts if p)


def _img(image: tuple[str, str]) -> str:
    name, alt = image
    return f'<img src="{html.escape(name)}" alt="{html.escape(alt)}">'


def _table(report: ParityReport, summary) -> str:
    """The terminal's table (report.table), with the cells compared: counts as integers."""
    rows = [
        "<table><tr><th>step</th><th class=name>matrix</th><th>cells</th><th>bitwise "
        "equal</th><th>max abs</th><th>max rel</th><th>max ULP</th><th>beyond bound</th></tr>"
    ]
    for s in report.shown:
        said = s.problem or ("not computed" if s.not_computed else None) or (
            "not compared" if s.not_compared else None)
        start = f"<tr><td>{s.step}</td><td class=name>{html.escape(s.name)}</td>"
        if said:
            rows.append(f"{start}<td colspan=6>{html.escape(said)}</td></tr>")
            continue
        f = summary.loc[s.name]  # one row of mixed columns: its counts come as floats
        figures = "".join(f"<td>{html.escape(text)}</td>" for text in shown_figures(f))
        rows.append(f"{start}<td>{int(f['cells']):,}</td>{figures}<td>{int(f['over']):,}</td>"
                    "</tr>")
    rows.append("</table>")
    rows.append(f"<p><small>bound: {html.escape(report.tolerance)}</small></p>")
    return "\n".join(rows)


def add_parser(sub) -> None:
    p = sub.add_parser(
        "report",
        help=(
            "run both ports and write an HTML page with plots (loss, differences per step, ULP "
            "map)"
        ),
    )
    add_case_option(p)
    p.add_argument("--epochs", help="epochs to train (default: the case's)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR",
                   help="folder to write index.html and the PNGs into "
                   "(new, empty, or an earlier report: replaced whole)")
    add_timeout_option(p)
    p.set_defaults(handler=command_report)


def command_report(args, console: Console, err: Console) -> int:
    # The case, and an --out that is not new, empty or an earlier report, before any port runs.
    with bad_input():
        case = load_case(args.case)
        epochs = case.epochs
        if args.epochs is not None:
            epochs = parse_epochs_option("--epochs", args.epochs)
        deadline = supervise.Deadline(parse_timeout(args.timeout))
        folder = report_folder(args.out)
    losses = LossRecorder()
    with supervise.Supervisor(deadline) as ports:
        python_port, r_port = ports.port("python"), ports.port("r")
        with bad_input():
            python_port.wait_loaded()
            r_port.wait_loaded()
        run = traces.run(
            case, python_port, r_port, epochs, observe=losses, environment=r_port.environment
        )
    index = write_report(run, losses.loss(), folder)
    write_out(console, err, lambda: (
        console.print(verdict(run), highlight=False, markup=False),
        console.print(f"report written to {index}", highlight=False, markup=False),
    ))
    return OK if run.passed else FAILS
