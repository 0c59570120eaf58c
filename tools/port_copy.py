"""A copy of a port folder with one textual change: what the mutation self-check, the
tests and the wheel check use to make a port with one known mistake. The one place that
copies a port."""

from __future__ import annotations

import shutil
from pathlib import Path


class NotExactlyOnce(ValueError):
    """The text to replace does not occur exactly once in its file."""


def copy_port(port: Path, folder: Path) -> Path:
    """A copy of a port folder at `folder`, leaving out __pycache__ and r_impl's variants."""
    shutil.copytree(port, folder, ignore=shutil.ignore_patterns("__pycache__", "variants"))
    return Path(folder)


def change_once(folder: Path, file: str, original: str, replacement: str, label: str = "") -> None:
    """Replace `original` in `folder/file`; it must occur there exactly once, so a change
    cannot go stale silently when the port is edited. `label` names the port in the error."""
    path = Path(folder) / file
    text = path.read_text()
    count = text.count(original)
    if count != 1:
        raise NotExactlyOnce(
            f"{label or Path(folder).name}/{file} contains {original!r} {count} times, "
            "expected exactly once"
        )
    path.write_text(text.replace(original, replacement))


def copy_with(port: Path, file: str, original: str, replacement: str, folder: Path) -> Path:
    """A copy of a port folder at `folder` (``copy_port``), with `original` in `file` replaced."""
    copy_port(port, folder)
    change_once(folder, file, original, replacement, label=Path(port).name)
    return Path(folder)
