"""SuggestionService.best_phrases_for_regions: the batch behind labelled proposals agrees box by
box with the one-box suggestion list, and degrades to None instead of raising."""

# ruff: noqa: F811  (session fixtures imported from tests.app.suggestions_fixtures)
from __future__ import annotations

import pytest

from artannot.core.catalog import Catalog
from artannot.core.geometry import Box
from artannot.retrieval import service as service_module
from artannot.retrieval.service import SuggestionService
from tests.app.suggestions_fixtures import (  # noqa: F401
    VENUS,
    WAVE,
    service,
    suggest_collection,
    suggest_copy,
)


def _same(best, first) -> None:
    assert best is not None
    assert (best.phrase, best.label, best.origin, best.in_vocab, best.rank) == \
        (first.phrase, first.label, first.origin, first.in_vocab, 1)
    assert best.score == pytest.approx(first.score, abs=1e-5)


def test_matches_phrases_for_box_with_metadata_phrases(service) -> None:
    svc, cat = service
    phrases = [(p.norm, p.text) for p in cat.phrases(WAVE)]
    assert phrases
    boxes = svc.regions(WAVE).box_list() + [Box(100, 80, 300, 250)]  # stored regions + a drawn box
    best = svc.best_phrases_for_regions(WAVE, boxes, phrases)
    assert len(best) == len(boxes)
    for b, box in zip(best, boxes):
        _same(b, svc.phrases_for_box(WAVE, box, phrases, top_k=1)[0])
        assert b.origin == "artwork" and b.phrase in dict(phrases)
    assert len({b.phrase for b in best}) > 1  # not one phrase for every box


def test_matches_phrases_for_box_from_the_vocabulary(service) -> None:
    svc, _ = service
    boxes = svc.regions(VENUS).box_list()
    best = svc.best_phrases_for_regions(VENUS, boxes)
    for b, box in zip(best, boxes):
        _same(b, svc.phrases_for_box(VENUS, box, top_k=1)[0])
        assert b.origin == "collection" and b.label == b.phrase and b.in_vocab
    # metadata phrases the model cannot score at all: the vocabulary answers, as for one box
    odd = [("qqzx vvbn", "Qqzx Vvbn")]
    fallback = svc.best_phrases_for_regions(VENUS, boxes[:2], odd)
    assert [b.phrase for b in fallback] == [b.phrase for b in best[:2]]


def test_unavailable_service_gives_none_per_box(suggest_copy, monkeypatch) -> None:
    monkeypatch.setattr(service_module, "general_checkpoint", lambda: (None, "no general model here"))
    with Catalog.open(suggest_copy) as cat:
        (cat.data_dir / "scan" / "best.pt").unlink()
        (cat.data_dir / "scan" / "last.pt").unlink(missing_ok=True)
        svc = SuggestionService(suggest_copy, cat.data_dir)
        assert not svc.available
        assert svc.best_phrases_for_regions(WAVE, svc.regions(WAVE).box_list()[:3]) == [None] * 3
        assert svc.best_phrases_for_regions(WAVE, []) == []
        svc.close()
