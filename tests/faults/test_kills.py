"""SIGKILL at a random moment of real work (issue 15): nothing is torn, nothing is lost, and a
rerun ends where a clean run does. Moments come from seeded RNGs; children report their
durable steps, so each check knows what must have survived."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.faults.checks import VocChain
from tests.faults.conftest import N_ARTWORKS
from tests.faults.harness import Job
from tests.faults.trials import (
    CURATED,
    baseline,
    command_trial,
    curate_trial,
    prepare_curation,
    voc_trial,
)


def test_voc_saves_killed_leave_old_or_new_version_and_a_backup(tmp_path: Path) -> None:
    chain = VocChain(tmp_path / "scratch")
    rng = random.Random(15)
    for n in range(12):
        trial = voc_trial(tmp_path / f"trial{n}", chain, rng.uniform(0.0, 0.08))
        assert trial.killed  # the loop never ends by itself
        assert trial.problems == []
    assert len(chain.versions) > 1  # some trials got past a completed save


def test_curator_clicks_killed_lose_no_judgement_and_keep_the_catalog(job: Job, tmp_path: Path) -> None:
    from artannot.core.catalog import Catalog

    target = prepare_curation(job)
    chain, acked, rng = VocChain(tmp_path / "scratch"), [], random.Random(7)
    for _ in range(5):
        trial = curate_trial(job, target, chain, acked, rng.uniform(0.0, 0.4))
        assert trial.killed
        assert trial.problems == []
    assert acked, "no click completed before the kills: nothing was tested"
    with Catalog.open(job.root) as cat:  # opens cleanly and sees the curated artwork
        assert cat.stats().annotated == N_ARTWORKS + 1
        assert cat.row(CURATED).n_regions == 2
        assert len(cat.judgements) >= len(acked)


@pytest.mark.parametrize("name, trials", [("index", 3), ("phrases", 2), ("detect", 3), ("train", 2)])
def test_command_killed_then_rerun_matches_a_clean_run(job: Job, name: str, trials: int) -> None:
    base = baseline(job, name)
    assert base.result, "a clean run made nothing to compare with"
    rng, kills = random.Random(len(name)), 0
    for _ in range(trials):
        trial = command_trial(job, base, rng.uniform(0.0, base.seconds))
        kills += trial.killed
        assert trial.problems == []
    # A run faster than the baseline (a busy machine during the baseline) may end before its
    # moment: then draw earlier moments, so at least one run is really killed.
    for k in range(1, 8):
        if kills:
            break
        trial = command_trial(job, base, rng.uniform(0.0, base.seconds / 2 ** k))
        kills += trial.killed
        assert trial.problems == []
    assert kills  # not every run ended before its moment came
