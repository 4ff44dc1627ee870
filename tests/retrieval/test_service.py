"""SuggestionService on a real (small) collection: features, suggestions, search, judgements."""

# ruff: noqa: F811  (session fixtures imported from tests.app.suggestions_fixtures)
from __future__ import annotations

import shutil

import numpy as np
import pytest

from artannot.core import queue
from artannot.core.geometry import Box
from artannot.core.judgements_store import Judgement
from artannot.retrieval.collection_training import collection_dataset
from artannot.retrieval.judgements import box_key, judgement_report, parse_box_key, stored_index
from artannot.retrieval.service import SuggestionService
from tests.app.suggestions_fixtures import (  # noqa: F401
    WAVE,
    service,
    suggest_collection,
    suggest_copy,
)


def test_phrases_for_stored_and_drawn_boxes(service) -> None:
    svc, cat = service
    assert svc.available and "SCAN: scan/best.pt" in svc.info().summary()
    phrases = [(p.norm, p.text) for p in cat.phrases(WAVE)]
    rs = svc.regions(WAVE)
    stored = rs.box_list()[1]
    assert np.array_equal(svc.region_feature(WAVE, stored), np.asarray(rs.features[1], np.float32))
    ranked = svc.phrases_for_box(WAVE, stored, phrases, top_k=5)
    origins = [r.origin for r in ranked]
    n_art = len({n for n, _ in phrases})
    assert origins == ["artwork"] * n_art + ["collection"] * 5  # metadata phrases first
    assert [r.rank for r in ranked] == list(range(1, len(ranked) + 1))
    art = [r.score for r in ranked if r.origin == "artwork"]
    assert art == sorted(art, reverse=True)
    assert not {r.phrase for r in ranked if r.origin == "collection"} & {n for n, _ in phrases}

    # A drawn box: RoI feature from the store's backbone; the feature map is computed once.
    drawn = Box(100, 80, 300, 250)
    f1 = svc.region_feature(WAVE, drawn)
    memo = svc.pipeline().extractor.backbone
    calls = []
    memo.inner.register_forward_hook(lambda *_: calls.append(1))
    f2 = svc.region_feature(WAVE, Box(120, 90, 310, 260))
    assert f1.shape == (svc.store().dim,) and calls == [] and not np.allclose(f1, f2)


def test_regions_for_phrase_and_heat(service) -> None:
    svc, cat = service
    norm = cat.phrases(WAVE)[0].norm
    res = svc.regions_for_phrase(WAVE, norm, top_k=3)
    assert [h.rank for h in res.hits] == [1, 2, 3]
    assert [h.score for h in res.hits] == sorted((h.score for h in res.hits), reverse=True)
    assert abs(float(res.attention.sum()) - 1) < 1e-4
    w, h = cat.image_size(WAVE)
    heat = res.heat(w, h)
    assert heat.shape == (h, w) and heat.max() == pytest.approx(1.0)


def test_collection_search_is_cached_and_more_like_this(service, suggest_copy) -> None:
    svc, cat = service
    frags = svc.search(cat.phrases(WAVE)[0].norm, top_k=10)
    assert len(frags) == 10 and [f.rank for f in frags] == list(range(1, 11))
    assert list((cat.data_dir / "search").glob("*/keys.npy"))  # index cached in the data dir
    again = SuggestionService(suggest_copy, cat.data_dir)
    assert [(f.artwork_id, f.region) for f in again.search(cat.phrases(WAVE)[0].norm, top_k=10)] == \
        [(f.artwork_id, f.region) for f in frags]
    like = again.similar(frags[0].artwork_id, frags[0].box, top_k=3)
    assert (like[0].artwork_id, like[0].region) == (frags[0].artwork_id, frags[0].region)
    assert like[0].score == pytest.approx(1.0, abs=1e-3)
    again.close()


def test_judgements_report_and_training_pairs(service, suggest_copy) -> None:
    svc, cat = service
    box = svc.regions(WAVE).box_list()[2]
    assert parse_box_key(box_key(box)) == box
    cat.judgements.add(Judgement(WAVE, box_key(box), "towering blue wave", 1, 0.5, True, "phrase:scan/best.pt"))
    cat.judgements.add(Judgement(WAVE, box_key(box), "mount fuji", 1, 0.4, False, "phrase:scan/best.pt"))
    cat.judgements.add(Judgement(WAVE, box_key(box), "mount fuji", 3, 0.3, True, "phrase:scan/best.pt"))
    cat.judgements.add(Judgement(WAVE, box_key(box), "", 0, 0.9, False, "proposal:proposals"))
    report = {r.kind: r for r in judgement_report(cat.judgements.all())}
    assert report["phrase"].lists == 2 and report["phrase"].top1 == 0.5 and report["phrase"].top5 == 1.0
    assert report["proposal"].rejected == 1
    drawn = Box(4, 4, 61, 47)  # a curator's own box: no stored region is within a pixel of it
    assert stored_index(svc.regions(WAVE), drawn) is None
    cat.judgements.add(Judgement(WAVE, box_key(drawn), "Signature  Inscription", 2, 0.2, True, "phrase:scan/best.pt"))
    plain = collection_dataset(suggest_copy, min_phrase_count=1)
    extra = collection_dataset(suggest_copy, min_phrase_count=1, use_judgements=True)
    assert len(extra) == len(plain) + 3
    stored, pooled = extra.items[-2], extra.items[-1]
    assert stored.phrases == ["mount fuji"] and stored.features.shape[0] == 1
    # the drawn box trains with the very feature its suggestions were made from
    assert pooled.phrases == ["signature inscription"] and pooled.features.shape == (1, stored.features.shape[1])
    np.testing.assert_allclose(pooled.features[0], svc.region_feature(WAVE, drawn), rtol=1e-4, atol=1e-5)


def test_queue_strategies() -> None:
    from types import SimpleNamespace as R

    rows = [R(id="a", n_regions=3, verified=False), R(id="b", n_regions=0, verified=False),
            R(id="c", n_regions=1, verified=False), R(id="d", n_regions=0, verified=True)]
    assert queue.order(rows, "unannotated") == ["b", "a", "c"]
    assert queue.order(rows, "fewest_boxes") == ["b", "c", "a"]
    assert queue.order(rows, "low_confidence", {"a": 0.1, "c": 0.5}) == ["a", "c", "b"]
    assert queue.next_in(["b", "a", "c"], "a") == "c" and queue.next_in(["b", "a", "c"], "c") == "b"
    with pytest.raises(ValueError):
        queue.order(rows, "random")


def test_training_names_the_artworks_without_features(suggest_copy) -> None:
    """Artworks whose regions were never detected (or whose shard is gone) are reported by
    `artannot train`, not skipped silently."""
    from typer.testing import CliRunner

    from artannot.cli import app
    from artannot.retrieval.collection_training import collection_dataset

    shutil.copy(suggest_copy / WAVE, suggest_copy / "images" / "late_addition.jpg")
    ds = collection_dataset(suggest_copy, min_phrase_count=1)
    assert ds.without_features == ["images/late_addition.jpg"]
    r = CliRunner().invoke(app, ["train", str(suggest_copy), "--out", str(suggest_copy / "r"),
                                 "--num-epochs", "1", "--min-phrase-count", "1",
                                 "--init", "scratch", "--embed-size", "16", "--batch-size", "4"])
    assert r.exit_code == 0, r.output
    assert "1 artwork(s) have no readable region features" in r.output
    assert "images/late_addition.jpg" in r.output


def test_collection_search_follows_a_redetection_without_a_rebuild(service, suggest_copy) -> None:
    """Ctrl+R on one artwork replaces its fragments in the cached index (a delta file), and
    the results equal those of an index built from scratch."""
    from artannot.vision.feature_store import FeatureStore

    svc, cat = service
    phrase = cat.phrases(WAVE)[0].norm
    svc.search(phrase, top_k=10)
    (search_dir,) = [p.parent for p in (cat.data_dir / "search").glob("*/keys.npy")]
    with FeatureStore(svc.store_dir) as store:  # the artwork detected again: other regions
        rs = store.get(WAVE)
        k = len(rs) // 2
        store.put(WAVE, "redetected", rs.boxes[:k], rs.scores[:k], rs.labels[:k],
                  np.asarray(rs.features[::-1][:k]), np.asarray(rs.whole_image_feature))
    svc.reload()
    updated = [(f.artwork_id, f.region, round(f.score, 4)) for f in svc.search(phrase, top_k=20)]
    assert list(search_dir.glob("delta-*.npy")) and (search_dir / "keys.npy").is_file()
    cs = svc.search_index()
    assert sum(1 for a, _ in (cs.keys[i] for i in range(len(cs.keys)) if not cs.index.dead[i])
               if a == WAVE) == k
    shutil.rmtree(cat.data_dir / "search")
    fresh = SuggestionService(suggest_copy, cat.data_dir)
    assert [(f.artwork_id, f.region, round(f.score, 4)) for f in fresh.search(phrase, top_k=20)] == updated
    fresh.close()
