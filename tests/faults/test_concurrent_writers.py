"""Two processes writing one collection at once (issue 15): no artwork lost, both end well
(the second waits for the first's lock), and a rerun finds nothing left to do."""

from __future__ import annotations

from tests.faults.conftest import N_ARTWORKS
from tests.faults.harness import Job
from tests.faults.trials import command, together_trial


def test_two_detects_at_once_lose_no_artwork(job: Job) -> None:
    assert together_trial(job, ["detect", "detect"], before=["index"]).problems == []
    again = command(job, "detect")
    assert f"0 processed, {N_ARTWORKS} unchanged, 0 failed" in again.output()


def test_phrases_and_index_at_once_both_succeed(job: Job) -> None:
    assert together_trial(job, ["phrases", "index"]).problems == []


def test_two_first_indexings_at_once_both_succeed(job: Job) -> None:
    """Both find every artwork new; the one inserting second must not fail on the other's rows
    (it did: "UNIQUE constraint failed: artworks.id", exit 1)."""
    for _ in range(4):
        assert together_trial(job, ["index", "index"]).problems == []
