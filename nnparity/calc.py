"""LibreOffice Calc, headless, as the spreadsheet engine: recalculate a workbook, read a trace.

``recalculate(workbook)`` starts soffice with a private profile in a
temporary folder (so it neither reads nor changes the user's LibreOffice
settings, and two runs never share one), has ``calc_uno.py`` load the workbook,
recalculate every formula (``calculateAll``: a hard recalculation, whatever
values the file carries) and hand back every value exactly, then stops that
soffice by its process group. ``read_trace`` cuts the values into a trace
``{name: array[epochs, rows, cols]}`` with ``workbook.Layout``.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

from . import installation, steps
from .workbook import INPUTS, Layout, epoch_sheet

#: What to install when LibreOffice or its Python bridge is missing (doctor's fix too).
FIX = installation.libreoffice_fix()
#: Seconds a recalculation may take before it is stopped, unless NNPARITY_CALC_TIMEOUT says
#: otherwise (``calc_timeout``). The largest workbook the tests recalculate (article, 400
#: epochs) takes under a minute on a busy 2-core machine; 1000 epochs took 76 s.
TIMEOUT = 600.0
TIMEOUT_VARIABLE = "NNPARITY_CALC_TIMEOUT"
LIMIT = f"{TIMEOUT_VARIABLE} sets the limit"
UNO_SCRIPT = Path(__file__).resolve().parent / "calc_uno.py"


class CalcUnavailable(Exception):
    """LibreOffice (soffice) or a Python with its uno module is not installed."""


class BadSetting(CalcUnavailable):
    """An environment variable of LibreOffice's (NNPARITY_CALC_TIMEOUT, NNPARITY_SOFFICE,
    NNPARITY_UNO_PYTHON) that cannot be used."""


class CalcError(Exception):
    """LibreOffice failed or timed out while recalculating a workbook."""


office_env = installation.office_env


def calc_timeout() -> float:
    """The seconds a recalculation may take: NNPARITY_CALC_TIMEOUT, read when it is needed (a
    bad value is named, BadSetting), or TIMEOUT."""
    text = os.environ.get(TIMEOUT_VARIABLE)
    if text is None:
        return TIMEOUT
    try:
        seconds = float(text)
    except ValueError:
        seconds = None
    if seconds is None or not (math.isfinite(seconds) and seconds > 0):
        raise BadSetting(f"{TIMEOUT_VARIABLE}={text!r} is not a positive number of seconds: "
                         f"give one (e.g. {TIMEOUT:g}, the default) or unset it")
    return seconds


def soffice() -> str:
    try:
        found = installation.soffice()
    except installation.BadProgram as error:
        raise BadSetting(str(error)) from None
    if not found:
        raise CalcUnavailable(f"LibreOffice (soffice) is not installed: {FIX}")
    return found


def uno_python() -> str:
    """A Python that can `import uno` (Debian's python3 with python3-uno)."""
    try:
        found = installation.uno_python()
    except installation.BadProgram as error:
        raise BadSetting(str(error)) from None
    if not found:
        raise CalcUnavailable(f"no Python with LibreOffice's uno module: {FIX}")
    return found


def check_available() -> tuple[str, str]:
    """soffice and the uno Python, or CalcUnavailable naming the fix."""
    return soffice(), uno_python()


def recalculate(
    workbook: Path | str, timeout: float | None = None, pdf: Path | None = None,
    limit: str = LIMIT,
) -> dict[str, list[list]]:
    """Every sheet's values after a full recalculation: {sheet: rows of numbers}. It is
    stopped after `timeout` seconds (None: ``calc_timeout()``); `limit` says what set them.

    With ``pdf``, the recalculated workbook is also printed to that PDF file.
    """
    return recalculate_all([workbook], timeout, [pdf], limit)[0]


def recalculate_all(
    workbooks: list[Path | str], timeout: float | None = None, pdfs: list | None = None,
    limit: str = LIMIT,
) -> list[dict[str, list[list]]]:
    """recalculate() for several workbooks in one LibreOffice (it takes seconds to start)."""
    timeout = calc_timeout() if timeout is None else timeout
    office, python = check_available()
    workbooks = [Path(w).resolve() for w in workbooks]
    pdfs = pdfs or [None] * len(workbooks)
    with tempfile.TemporaryDirectory(prefix="nnparity-calc-") as tmp:
        jobs = []
        for i, (workbook, pdf) in enumerate(zip(workbooks, pdfs, strict=True)):
            # LibreOffice opens a copy: it leaves a lock file beside what it opens, and
            # a workbook another LibreOffice holds open (the user's, a parallel run's)
            # is refused. Its own folder keeps both away from the user's file.
            copy = Path(tmp, f"workbook{i}{workbook.suffix}")
            shutil.copyfile(workbook, copy)
            jobs.append({"workbook": str(copy), "out": str(Path(tmp, f"values{i}.json")),
                         "pdf": str(Path(pdf).resolve()) if pdf else None})
        Path(tmp, "jobs.json").write_text(json.dumps(jobs))
        names = ", ".join(str(w) for w in workbooks)
        pipe = f"nnparity-{uuid.uuid4().hex}"
        profile = Path(tmp, "profile").as_uri()
        pipes_before = _office_pipes()
        try:
            process = subprocess.Popen(
                [office, f"-env:UserInstallation={profile}", "--headless", "--invisible",
                 "--norestore", "--nologo", "--nodefault", "--nolockcheck",
                 f"--accept=pipe,name={pipe};urp;StarOffice.ComponentContext"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                env=dict(office_env(), TMPDIR=tmp),  # its lu*.tmp folders: in ours, removed
            )
        except OSError as error:
            raise CalcError(f"{names}: LibreOffice ({office}) did not start "
                            f"({error.strerror or error})") from None
        returncode = None
        try:  # -X faulthandler: a crash in pyuno still says where
            returncode, stderr, office_ended = _client(
                [python, "-X", "faulthandler", str(UNO_SCRIPT), pipe, str(Path(tmp, "jobs.json"))],
                process, timeout,
            )
        except subprocess.TimeoutExpired:
            raise CalcError(f"{names}: LibreOffice did not finish recalculating within "
                            f"{timeout:.3g} s ({limit})") from None
        finally:  # a client that finished asked the office to quit: give it time to
            _stop(process, grace=10 if returncode == 0 else 0)
            _remove_dead_pipes(pipes_before)
        outs = [Path(job["out"]) for job in jobs]
        # calc_uno writes each out file whole (a rename) after it read every sheet: all
        # present means every workbook was recalculated and read, however the client ended.
        if not all(out.is_file() for out in outs):
            if office_ended is not None:
                raise CalcError(f"{names}: {_ended(office_ended, f'soffice ({office})')} before "
                                "LibreOffice recalculated anything")
            last = f"{_ended(returncode)}: {_last_word(stderr)}"
            for workbook, job in zip(workbooks, jobs, strict=True):  # name the user's file
                last = last.replace(job["workbook"], str(workbook))
            raise CalcError(f"{names}: LibreOffice could not recalculate it: {last}")
        return [json.loads(out.read_text()) for out in outs]


#: Seconds the uno client may go on once the office it talks to has ended: a client that
#: asked the office to quit leaves at once, one still waiting to connect to it never would.
ORPHANED = 5.0


def _client(command: list[str], office: subprocess.Popen, timeout: float):
    """Run the uno client until it ends: its exit status, its stderr, and the office's exit
    status when the office ended and the client did not follow (else None).
    TimeoutExpired after `timeout` seconds."""
    try:
        client = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  text=True, env=office_env())
    except OSError as error:
        return 127, f"{command[0]} did not start ({error.strerror or error})", None
    deadline, orphaned = time.monotonic() + timeout, None
    try:
        while True:
            try:
                wait = max(0.0, min(0.2, deadline - time.monotonic()))
                _, stderr = client.communicate(timeout=wait)
                return client.returncode, stderr, None
            except subprocess.TimeoutExpired:
                if time.monotonic() >= deadline:
                    raise
            if office.poll() is not None:
                orphaned = orphaned or time.monotonic()
                if time.monotonic() - orphaned > ORPHANED:
                    client.kill()
                    _, stderr = client.communicate()
                    return client.returncode, stderr, office.returncode
    finally:
        if client.poll() is None:
            client.kill()
            client.communicate()


def _ended(returncode: int, who: str = "its client") -> str:
    """How a process ended, in words: its exit status or the signal that stopped it."""
    if returncode < 0:
        try:
            return f"{who} was stopped by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"{who} was stopped by signal {-returncode}"
    return f"{who} exited with status {returncode}"


def _last_word(stderr: str) -> str:
    """The line of the client's stderr that says what went wrong."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    fatal = [line for line in lines if line.startswith("Fatal Python error")]
    return (fatal or lines or ["it printed nothing"])[-1]


#: Where LibreOffice makes its named pipes (sockets): /tmp, whatever TMPDIR says (sal's
#: PIPEDEFAULTPATH), /var/tmp when /tmp cannot hold them.
PIPE_FOLDERS = ("/tmp", "/var/tmp")


def _office_pipes() -> set[Path]:
    """This user's LibreOffice pipes (OSL_PIPE_<uid>_<name>): the --accept one, named by
    nnparity, and its single-instance one (SingleOfficeIPC_<hash of the profile>)."""
    found: set[Path] = set()
    for folder in PIPE_FOLDERS:
        found.update(Path(folder).glob(f"OSL_PIPE_{os.getuid()}_*"))
    return found


def _remove_dead_pipes(before: set[Path]) -> None:
    """Remove the pipes that appeared since ``before`` and that no process listens on any
    more: an office stopped (Ctrl-C, a timeout, a client that failed) leaves them in /tmp.
    One that still answers belongs to a LibreOffice running beside this one, and stays."""
    for path in _office_pipes() - before:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(1.0)
            try:
                probe.connect(str(path))
                continue  # alive
            except OSError:
                pass
        try:
            path.unlink()
        except OSError:
            pass


def _stop(process: subprocess.Popen, grace: float = 10) -> None:
    """Stop the soffice this module started (its own process group), gently first."""
    try:
        process.wait(timeout=grace)
        return
    except subprocess.TimeoutExpired:
        pass
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
            process.wait(timeout=10)
            return
        except (ProcessLookupError, subprocess.TimeoutExpired):
            continue


def workbook_epochs(values: dict[str, list[list]]) -> int:
    """How many epoch sheets a recalculated workbook has (epoch 1, 2, ... without a gap)."""
    epochs = 0
    while epoch_sheet(epochs + 1) in values:
        epochs += 1
    return epochs


def read_trace(values: dict[str, list[list]], dims, epochs: int) -> dict[str, np.ndarray]:
    """The trace the workbook computed: {name: array[epochs, rows, cols]}, every cell read.

    A formula error (#VALUE!, #NAME? ...) or a cell without a number reads as NaN,
    which the comparison reports where it first appears.
    """
    layout = Layout(tuple(dims), epochs)
    if INPUTS not in values:
        raise CalcError(f"the workbook has no '{INPUTS}' sheet")
    trace = {name: np.full((epochs, *layout.shape(name)), np.nan) for name in steps.NAMES}
    for epoch in range(1, epochs + 1):
        sheet = values.get(epoch_sheet(epoch))
        if sheet is None:
            raise CalcError(f"the workbook has no sheet '{epoch_sheet(epoch)}'")
        for name, block in layout.epoch(epoch).items():
            for i in range(block.rows):
                row = sheet[block.top - 1 + i] if block.top - 1 + i < len(sheet) else []
                for j in range(block.cols):
                    c = block_col(j)
                    value = row[c] if c < len(row) else None
                    if isinstance(value, float):
                        trace[name][epoch - 1, i, j] = value
    return trace


def block_col(j: int) -> int:
    """0-based column of a block's column j (blocks start in column B)."""
    from .workbook import FIRST_COL

    return FIRST_COL - 1 + j
