"""A copy of a port folder with one textual change: what the mutation self-check and the
tests use to make a port with one known mistake."""

from __future__ import annotations

import shutil
from pathlib import Path


class NotExactlyOnce(ValueError):
    """The text to replace does not occur exactly once in its file."""


def copy_with(port: Path, file: str, original: str, replacement: str, folder: Path) -> Path:
    """A copy of a port folder at `folder`, with `original` in `file` replaced.

    `original` must occur exactly once in the file, so a change cannot go
    stale silently when the port is edited. The copy leaves out __pycache__
    and r_impl's variants.
    """
    shutil.copytree(port, folder, ignore=shutil.ignore_patterns("__pycache__", "variants"))
    path = Path(folder) / file
    text = path.read_text()
    count = text.count(original)
    if count != 1:
        raise NotExactlyOnce(
            f"{Path(port).name}/{file} contains {original!r} {count} times, expected exactly once"
        )
    path.write_text(text.replace(original, replacement))
    return Path(folder)
