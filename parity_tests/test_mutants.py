"""The suite catches real port mistakes, and names the step: the mutation self-check
(tools/mutants.py).

`tox -e mutants` prints the whole score; here every mutant is one test, so a
failure names the mistake the suite stopped catching.
"""

from __future__ import annotations

import dataclasses
import re

import pytest

from nnparity import paths, steps
from tools import mutants


@pytest.mark.parametrize("language", ["Python", "R"])
def test_each_ports_mistakes_reach_every_step_but_the_two_single_products(language):
    """Steps 7 (d_output) and 9 (d_hiddenlayer) are one multiplication each: no mutant yet."""
    named = {steps.step_of(m.step) for m in mutants.CATALOGUE if m.language == language}
    missing = {2, 3, 4, 5, 6, 8, 10, 11} - named
    assert not missing, f"no {language} mutant is named at step(s) {sorted(missing)}"


def test_the_catalogue_is_distinct_mistakes_each_named_at_a_recorded_matrix():
    ids = [m.id for m in mutants.CATALOGUE]
    assert len(set(ids)) == len(ids), f"repeated ids: {sorted(i for i in ids if ids.count(i) > 1)}"
    changes = [(m.language, m.file, m.original, m.replacement) for m in mutants.CATALOGUE]
    assert len(set(changes)) == len(changes), "two mutants make the same change"
    assert all(m.step in (*steps.ONCE, *steps.NAMES, *steps.RETURNED) for m in mutants.CATALOGUE)
    assert all(m.original != m.replacement for m in mutants.CATALOGUE)


def test_the_readme_counts_the_catalogue():
    readme = (paths.BASE / "README.md").read_text()
    said = re.search(r"\| `mutants` \| (\d+) small, realistic mistakes", readme)
    assert said, "README's tox table has no `mutants` row saying how many mistakes"
    assert int(said.group(1)) == len(mutants.CATALOGUE), (
        f"README says {said.group(1)} mutants, the catalogue holds {len(mutants.CATALOGUE)}"
    )


@pytest.mark.parametrize("mutant", mutants.CATALOGUE, ids=lambda m: m.id)
def test_each_mutant_fails_parity_and_the_first_failure_names_its_step(
    r_available, tmp_path, mutant
):
    for case in mutant.cases:
        outcome = mutants.check(mutant, case, tmp_path / case)
        assert outcome.caught, f"{mutant.id} ({mutant.mistake}) survived on {case}: parity held"
        assert outcome.named == mutant.step, (
            f"{mutant.id} ({mutant.mistake}) on {case}: expected step {mutant.step}, "
            f"{outcome.detail}"
        )
        assert outcome.ok, (
            f"{mutant.id} ({mutant.mistake}) on {case} must give a wrong value, "
            f"not a crash or a shape: {outcome.detail}"
        )


#: The shape mistakes each port's catalogue must hold as biting mutants (a wrong value, not a
#: crash): the four transpositions and each bias summed over the samples' other axis; in R also
#: a bias recycled down the columns and one swept along the rows.
MUST_BITE = {
    "Python": {
        "py-transposed-wout", "py-wh-transposed-forward", "py-wout-update-transposed",
        "py-wh-update-untransposed", "py-bh-axis-flat", "py-bout-axis-flat",
    },
    "R": {
        "r-transposed-wout", "r-wh-transposed-forward", "r-wout-update-transposed",
        "r-wh-update-untransposed", "r-bh-axis", "r-bout-axis", "r-bias-recycled",
        "r-sweep-margin",
    },
}


@pytest.mark.parametrize("language", sorted(MUST_BITE))
def test_each_ports_transposition_and_axis_mistakes_are_in_the_catalogue_and_must_bite(language):
    biting = {m.id for m in mutants.CATALOGUE if m.language == language and m.bites}
    missing = MUST_BITE[language] - biting
    assert not missing, f"{language}: no biting mutant {sorted(missing)} in tools/mutants.py"


def test_every_axis_transposition_and_recycling_mistake_must_bite_on_two_cases():
    """fixtures/README.md: where a mistake only crashes, it says nothing about its step."""
    shape_mistakes = [m for m in mutants.CATALOGUE if m.bites]
    for mutant in shape_mistakes:
        assert len(set(mutant.cases)) >= 2, f"{mutant.id} bites on {mutant.cases} only"


def test_a_harmless_change_survives_so_the_runner_can_tell(r_available, tmp_path):
    """The self-check of the self-check: a replacement that changes nothing must not count as
    caught.
    """
    mutant = dataclasses.replace(
        mutants.CATALOGUE[0], id="no-op", replacement=mutants.CATALOGUE[0].original
    )
    outcome = mutants.check(mutant, "article", tmp_path)
    assert not outcome.caught and outcome.named is None, outcome


def test_a_mutant_whose_text_is_gone_is_reported_stale_not_skipped(tmp_path):
    mutant = dataclasses.replace(mutants.CATALOGUE[0], original="this text is in no port")
    with pytest.raises(
        mutants.StaleMutant,
        match="contains 'this text is in no port' 0 times, expected exactly once",
    ):
        mutants.apply(mutant, tmp_path)
