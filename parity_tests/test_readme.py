"""README's sample outputs are what nnparity prints: each test runs one and reads its sample.

The first sample is the indented block after ``$ .venv/bin/nnparity run --case article``.
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


def block(command: str) -> list[str]:
    """README's indented block after the line ``    {command}``, unindented."""
    lines = (paths.BASE / "README.md").read_text().splitlines()
    start = lines.index("    " + command) + 1
    sample = []
    for line in lines[start:]:
        if line and not line.startswith("    "):
            break
        sample.append(line[4:])
    while sample and not sample[-1]:
        sample.pop()
    return sample


def readme_sample() -> list[str]:
    sample = block(COMMAND)
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


EXPLAIN = "$ .venv/bin/nnparity explain --step 2"
#: The agreement column: "bitwise equal" here; on another BLAS a 1-ULP difference.
AGREEMENT = re.compile(r"│ (bitwise equal|max difference [^│]*?) +│")


def boxed(line: str) -> str:
    """A line of rich's boxes as compared: the agreement as #, rules and spaces collapsed."""
    return " ".join(re.sub("─+", "─", AGREEMENT.sub("│ # │", line)).split())


def test_the_readme_explain_sample_is_what_nnparity_explain_prints(
    capsys, monkeypatch, r_available
):
    monkeypatch.setenv("COLUMNS", "100")
    code = main(EXPLAIN.split()[2:])
    out = capsys.readouterr().out
    assert code == 0, out
    assert [boxed(line) for line in block(EXPLAIN)] == [boxed(line) for line in out.splitlines()], (
        f"README's sample after `{EXPLAIN}` is not what it prints at 100 columns:\n{out}"
    )


WRONG_AXIS = "$ .venv/bin/nnparity run --r-impl my_r_port/"


def form(text: str) -> str:
    """Whitespace collapsed, numbers (versions, figures) as #."""
    return " ".join(NUMBER.sub("#", text).split())


def test_the_readme_sample_of_a_port_with_a_wrong_axis_is_what_nnparity_prints(
    capsys, monkeypatch, tmp_path, r_available
):
    """Each stretch of the sample between `...` occurs in the output, in order."""
    from tools.port_copy import copy_with

    copy_with(
        paths.R_IMPL, "steps.R", "bout + colSums(d_output) * lr", "bout + rowSums(d_output) * lr",
        tmp_path / "my_r_port",
    )
    monkeypatch.chdir(tmp_path)
    code = main(WRONG_AXIS.split()[2:])
    out = capsys.readouterr().out
    assert code == 1, f"a bias summed over the wrong axis must fail, as README's sample says\n{out}"
    printed, at = form(out), 0
    for stretch in (form(part) for part in "\n".join(block(WRONG_AXIS)).split("...")):
        if not stretch:
            continue
        found = printed.find(stretch, at)
        assert found >= 0, f"README's sample after `{WRONG_AXIS}` says {stretch!r}; printed:\n{out}"
        at = found + len(stretch)
