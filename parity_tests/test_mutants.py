"""The suite catches real port mistakes, and names the step: the mutation self-check (tools/mutants.py).

`tox -e mutants` prints the whole score; here every mutant is one test, so a
failure names the mistake the suite stopped catching.
"""

from __future__ import annotations

import dataclasses

import pytest

from tools import mutants


@pytest.mark.parametrize("language", ["Python", "R"])
def test_the_catalogue_holds_at_least_eight_mistakes_per_port(language):
    ids = [m.id for m in mutants.CATALOGUE if m.language == language]
    assert len(ids) >= 8, f"only {len(ids)} {language} mutants: {ids}"


@pytest.mark.parametrize("mutant", mutants.CATALOGUE, ids=lambda m: m.id)
def test_each_mutant_fails_parity_and_the_first_failure_names_its_step(r_available, tmp_path, mutant):
    for case in mutant.cases:
        outcome = mutants.check(mutant, case, tmp_path / case)
        assert outcome.caught, f"{mutant.id} ({mutant.mistake}) survived on {case}: parity held"
        assert outcome.named == mutant.step, f"{mutant.id} ({mutant.mistake}) on {case}: expected step {mutant.step}, {outcome.detail}"


def test_a_harmless_change_survives_so_the_runner_can_tell(r_available, tmp_path):
    """The self-check of the self-check: a replacement that changes nothing must not count as caught."""
    mutant = dataclasses.replace(mutants.CATALOGUE[0], id="no-op", replacement=mutants.CATALOGUE[0].original)
    outcome = mutants.check(mutant, "article", tmp_path)
    assert not outcome.caught and outcome.named is None, outcome


def test_a_mutant_whose_text_is_gone_is_reported_stale_not_skipped(tmp_path):
    mutant = dataclasses.replace(mutants.CATALOGUE[0], original="this text is in no port")
    with pytest.raises(mutants.StaleMutant, match="contains 'this text is in no port' 0 times, expected exactly once"):
        mutants.apply(mutant, tmp_path)
