"""Render the article's workbook, recalculated by LibreOffice headless, as the README's picture.

    .venv/bin/python scripts/render_workbook.py [docs/img/workbook-epoch1.png]

Writes the article case's one-epoch workbook, has LibreOffice recalculate it
and print it to PDF (nnparity.calc), and turns the epoch 1 sheet's first page
into a PNG with pdftoppm (Debian's poppler-utils).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from nnparity import calc
from nnparity.cases import load_case
from nnparity.workbook import write_workbook

ROOT = Path(__file__).resolve().parent.parent


def main(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        book = write_workbook(load_case("article"), 1, Path(tmp, "article.xlsx"))
        pdf = Path(tmp, "article.pdf")
        calc.recalculate(book, pdf=pdf)
        # Page 1 is the inputs sheet; page 2 the first page of 'epoch 1'.
        subprocess.run(["pdftoppm", "-f", "2", "-l", "2", "-r", "110", "-png", "-singlefile",
                        str(pdf), str(Path(tmp, "page"))], check=True)
        shutil.copyfile(Path(tmp, "page.png"), out)
    print(f"written: {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs/img/workbook-epoch1.png")
