"""README's sample output is what `nnparity run` prints: the test runs it and reads the sample.

The sample is the indented block after ``$ .venv/bin/nnparity run --case article``.
Its lines must occur in the output in the same order (``...`` stands for lines left
out; a line indented deeper than the story is the story's long line wrapped).
Words, steps, matrices, bounds and the verdict must match exactly. Figures that
depend on the BLAS (the table's shares and differences, where the first difference
is born and its values) are compared for their form only: numbers become ``#``.
"""

from __future__ import annotations

import re

import pytest

from nnparity import paths
from nnparity.cli import main

COMMAND = "$ .venv/bin/nnparity run --case article"
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[+-]?\d+)?%?")
TABLE_ROW = re.compile(r"^(\d+) (\w+) (.+) (0 ok|[\d,]+ FAIL)$")
RULE = re.compile(r"^─+$")
STORY_WRAP = " " * 6  # README wraps the story's long line with this indent


def readme_sample() -> list[str]:
    lines = (paths.BASE / "README.md").read_text().splitlines()
    start = lines.index("    " + COMMAND) + 1
    sample = []
    for line in lines[start:]:
        if line and not line.startswith("    "):
            break
        sample.append(line[4:])
    while sample and not sample[-1]:
        sample.pop()
    joined: list[str] = []
    for line in sample:  # the story's wrapped line, joined back
        if line.startswith(STORY_WRAP) and joined:
            joined[-1] += " " + line.strip()
        else:
            joined.append(line)
    return joined


def shape(line: str) -> str:
    """A line as compared: spaces collapsed; BLAS-dependent figures as #."""
    line = " ".join(line.split())
    if RULE.match(line):
        return "─"
    row = TABLE_ROW.match(line)
    if row:
        step, name, figures, over = row.groups()
        return f"{step} {name} {NUMBER.sub('#', figures)} {over}"
    if line.startswith("first difference born at"):
        return NUMBER.sub("#", re.sub(r"\(\w+\)", "(#)", line, count=1))
    return line


def test_the_readme_sample_is_the_output_of_nnparity_run(capsys, monkeypatch, r_available):
    monkeypatch.setenv("COLUMNS", "80")
    code = main(["run", "--case", "article"])
    out = capsys.readouterr().out
    assert code == 0, out
    printed = [shape(line) for line in out.splitlines()]
    at = 0
    for line in readme_sample():
        if line == "...":
            continue
        want = shape(line)
        try:
            at = printed.index(want, at) + 1
        except ValueError:
            pytest.fail(
                f"README's sample line\n    {line}\nis not printed (after line {at}); "
                f"compared as\n    {want}\noutput:\n{out}",
                pytrace=False,
            )


def test_the_readme_sample_is_found_and_has_both_tables():
    sample = readme_sample()
    assert sample[-1].startswith("PARITY HOLDS: article"), sample[-1]
    assert sum(line.lstrip().startswith("step  matrix") for line in sample) == 1
    assert any(line.startswith("article, 5000 epochs, lockstep") for line in sample)
