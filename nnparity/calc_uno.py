"""Recalculate a workbook in a running LibreOffice and dump every value, exactly.

Run by the Python that has LibreOffice's ``uno`` module (Debian's python3 with
python3-uno), not by nnparity's own Python: it imports nothing of nnparity
and needs nothing beyond the standard library and ``uno``.

    python3 calc_uno.py PIPE_NAME JOBS.json

JOBS.json lists the workbooks: [{"workbook": PATH, "out": PATH.json, "pdf": PATH}, ...]
("pdf" optional).
It connects to the soffice listening on the pipe, loads each workbook hidden,
calls ``calculateAll()`` (a hard recalculation of every formula, whatever
values the file carries), and writes for every sheet its used area as rows of
numbers (text and empty cells as null, formula errors as the string "error").
UNO hands doubles over as doubles and json writes them with repr, so every
value arrives bit for bit (LibreOffice's own .xlsx and .ods writers keep only
15 significant digits). With "pdf" it also prints the recalculated workbook to
a PDF (the README's picture of the workbook is made this way).
"""

import json
import os
import sys
import time

import uno
from com.sun.star.beans import PropertyValue
from com.sun.star.connection import NoConnectException

ERROR = 4  # com.sun.star.sheet.FormulaResult.ERROR


def connect(pipe, seconds=60.0):
    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext(
        "com.sun.star.bridge.UnoUrlResolver", local
    )
    deadline = time.monotonic() + seconds
    while True:
        try:
            return resolver.resolve(
                f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext"
            )
        except NoConnectException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def prop(name, value):
    p = PropertyValue()
    p.Name, p.Value = name, value
    return p


def read(desktop, workbook, pdf=None):
    """Load one workbook hidden, recalculate every formula, return every sheet's values."""
    url = uno.systemPathToFileUrl(workbook)
    doc = desktop.loadComponentFromURL(url, "_blank", 0, (prop("Hidden", True),))
    if doc is None:
        raise SystemExit(f"{workbook}: LibreOffice could not open it")
    try:
        doc.calculateAll()
        sheets = {}
        for i in range(doc.Sheets.Count):
            sheet = doc.Sheets.getByIndex(i)
            cursor = sheet.createCursor()
            cursor.gotoEndOfUsedArea(False)
            end = cursor.RangeAddress
            area = sheet.getCellRangeByPosition(0, 0, end.EndColumn, end.EndRow)
            rows = [list(row) for row in area.getDataArray()]
            values = [[v if isinstance(v, float) else None for v in row] for row in rows]
            errors = sheet.queryFormulaCells(ERROR)
            for address in errors.RangeAddresses:
                for r in range(address.StartRow, address.EndRow + 1):
                    for c in range(address.StartColumn, address.EndColumn + 1):
                        values[r][c] = "error"
            sheets[sheet.Name] = values
        if pdf:
            doc.storeToURL(uno.systemPathToFileUrl(pdf), (prop("FilterName", "calc_pdf_Export"),))
    finally:
        doc.close(True)
    return sheets


def main(pipe, jobs):
    ctx = connect(pipe)
    desktop = ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
    with open(jobs) as handle:
        todo = json.load(handle)
    for job in todo:  # one office, several workbooks: its start-up is most of a small one's time
        sheets = read(desktop, job["workbook"], job.get("pdf"))
        part = job["out"] + ".part"  # an out file is whole or absent: the caller trusts it
        with open(part, "w") as handle:
            json.dump(sheets, handle)
        os.replace(part, job["out"])
    try:
        desktop.terminate()
    except Exception:  # the office quits as the bridge goes down: that is the point
        pass
    # Leave without Python's teardown: pyuno tearing down a bridge the office has just
    # closed can crash the interpreter, and the work is already on disk.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main(*sys.argv[1:3])
