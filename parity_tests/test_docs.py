"""The project stands alone: its documents name only files that are in the repository, and
nothing (docs, code, tests) cites a file outside it."""

from __future__ import annotations

import re
import subprocess

import pytest

from nnparity import paths

ROOT = paths.BASE
TOP = (
    "bench|scripts|tools|nnparity|parity_tests|r_impl|python_impl|fixtures|docs|r_tests"
    "|notebooks|constraints|build_backend"
)
#: A path inside the repository, as documents write it: `bench/benchmark.py`, `r_impl/`.
REPO_PATH = re.compile(rf"(?<![\w./-])(?:{TOP})/[\w./-]*[\w/]")
#: Places outside the repository that a document or a comment must not send a reader to.
OUTSIDE = re.compile("|".join(map(re.escape, ("/" + "tmp/", "/" + "work/", "DESIGN" + ".md"))))


def tracked(*patterns: str) -> list[str]:
    """The repository's files matching `patterns` (none outside a git checkout)."""
    try:
        done = subprocess.run(
            ["git", "ls-files", *patterns], cwd=ROOT, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return []
    return done.stdout.split()


DOCUMENTS = tracked("*.md")


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_repository_path_a_document_names_exists(document):
    text = (ROOT / document).read_text()
    missing = sorted({p.rstrip(".") for p in REPO_PATH.findall(text)} - {""})
    missing = [p for p in missing if not (ROOT / p).exists()]
    assert not missing, f"{document} names files that are not in the repository: {missing}"


def test_nothing_cites_a_file_outside_the_repository():
    files = tracked("*.md", "*.py", "*.R", "*.ipynb", "*.toml", "*.ini", "*.sh", "Makefile")
    if not files:
        pytest.skip("not a git checkout: the repository's files cannot be listed")
    cited = [
        f"{name}:{number}: {line.strip()}"
        for name in files
        for number, line in enumerate((ROOT / name).read_text().splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert not cited, "cited outside the repository:\n" + "\n".join(cited)
