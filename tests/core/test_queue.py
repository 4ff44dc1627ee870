"""The annotation queue and collection progress, over a real catalog.

Progress sums and the next artwork come from indexed catalog columns (issue 16: a save must not
re-read every VOC file, Ctrl+N must not sort the whole collection); these tests hold them equal
to the plain definitions: a recount from the files, and ``queue.order`` over all rows.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from artannot.core import queue
from artannot.core.catalog import Catalog
from artannot.core.geometry import Box
from artannot.core.model import PhraseRecord, Region, normalise_phrase
from artannot.core.voc import new_annotation, read_voc, save_voc


def test_normalise_phrase() -> None:
    assert normalise_phrase("  Towering\tBlue \n Wave ") == "towering blue wave"
    assert normalise_phrase("Cafe\u0301") == "café"
    assert normalise_phrase("A  B", lowercase=False, collapse_whitespace=False) == "A  B"


def _phrases(*norms: str) -> list[PhraseRecord]:
    return [PhraseRecord("description", 0, len(n), n, n) for n in norms]


def _save(cat: Catalog, aid: str, labels: list[str], verified: bool = False):
    path = cat.annotation_path(aid)
    ann = new_annotation(cat.root / aid, *cat.image_size(aid))
    ann.regions = [Region(Box(1, 1, 10 + i, 10 + i), label) for i, label in enumerate(labels)]
    ann.verified = verified
    save_voc(ann, path, force=True)
    return cat.record_annotation(aid, ann, path)


def recount(cat: Catalog) -> tuple[int, int]:
    """The definition: distinct metadata phrases per artwork, and those that label one of its boxes."""
    phrases = covered = 0
    for row in cat.rows(order="id"):
        norms = {p.norm for p in cat.phrases(row.id) if p.norm}
        phrases += len(norms)
        if norms and row.n_regions:
            labels = {normalise_phrase(r.phrase) for r in read_voc(cat.annotation_path(row.id)).regions}
            covered += len(norms & labels)
    return phrases, covered


def test_labels_count_as_covered_by_their_norm(sample_copy: Path) -> None:
    with Catalog.open(sample_copy) as cat:
        aid = "images/korin_rough_waves.jpg"
        cat.store_phrases([(aid, "h", _phrases("café terrace", "blue wave", "boat"))])
        before = queue.collection_progress(cat)
        # a label typed with a decomposed accent (macOS input) or odd spacing covers the phrase
        change = _save(cat, aid, ["Caf\u0065\u0301 terrace", "Blue  Wave"])
        after = queue.collection_progress(cat)
        assert change.covered == 2 and after.phrases_covered == before.phrases_covered + 2
        assert queue.after_save(before, change) == after
        assert (after.phrases, after.phrases_covered) == recount(cat)


def test_progress_after_saves_equals_a_recount(sample_copy: Path) -> None:
    rng = random.Random(3)
    with Catalog.open(sample_copy) as cat:
        ids = cat.artwork_ids()
        words = ["wave", "boat", "mountain", "gold ground", "iris", "bridge"]
        cat.store_phrases([(a, "h", _phrases(*rng.sample(words, 3))) for a in ids])
        progress = queue.collection_progress(cat)
        for _ in range(12):
            change = _save(cat, rng.choice(ids), rng.sample(words, rng.randint(0, 3)), rng.random() < 0.3)
            progress = queue.after_save(progress, change)
        fresh = queue.collection_progress(cat)
        assert progress == fresh
        assert (fresh.phrases, fresh.phrases_covered) == recount(cat)
        assert fresh.phrases_covered > 0
    with Catalog.open(sample_copy) as cat:  # the columns are rebuilt from the files on re-index
        assert queue.collection_progress(cat) == fresh


@pytest.mark.parametrize("strategy", ["unannotated", "fewest_boxes", "low_confidence"])
def test_next_artwork_follows_the_queue_order(sample_copy: Path, strategy: str) -> None:
    rng = random.Random(7)
    with Catalog.open(sample_copy) as cat:
        ids = cat.artwork_ids()
        for aid in rng.sample(ids, 6):
            _save(cat, aid, ["x"] * rng.randint(0, 3), verified=rng.random() < 0.4)
        expected = queue.order(cat.rows(order="title"), strategy)
        assert 0 < len(expected) < len(ids)
        for current in [None, *ids]:
            assert queue.next_artwork(cat, strategy, current) == queue.next_in(expected, current), current
        conf = {a: rng.random() for a in ids[::2]}
        scored = queue.order(cat.rows(order="title"), "low_confidence", conf)
        assert queue.next_artwork(cat, "low_confidence", scored[0], conf) == scored[1]
        with pytest.raises(ValueError):
            queue.next_artwork(cat, "random", None)


def test_queue_of_one_and_of_none(sample_copy: Path) -> None:
    with Catalog.open(sample_copy) as cat:
        ids = cat.artwork_ids()
        for aid in ids[1:]:
            _save(cat, aid, ["x"], verified=True)
        assert queue.next_artwork(cat, "unannotated", None) == ids[0]
        assert queue.next_artwork(cat, "unannotated", ids[0]) is None  # only the current one is left
        assert queue.next_artwork(cat, "unannotated", ids[1]) == ids[0]
        _save(cat, ids[0], ["x"], verified=True)
        assert queue.next_artwork(cat, "unannotated", ids[0]) is None
