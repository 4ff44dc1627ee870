"""The bundled general model: suggestions on a collection that never trained anything, a
clear note when the model is missing or damaged, and fine-tuning from it."""

# ruff: noqa: F811  (session fixtures imported from tests.app.suggestions_fixtures)
from __future__ import annotations

import shutil

import numpy as np
import pytest

from artannot.core.catalog import Catalog
from artannot.core.errors import ModelError
from artannot.models import ManifestEntry, ModelManager
from artannot.retrieval import service as service_module
from artannot.retrieval.model_files import GENERAL_MODEL, general_checkpoint
from artannot.retrieval.service import SuggestionService
from tests.app.suggestions_fixtures import WAVE, suggest_collection, suggest_copy  # noqa: F401


@pytest.fixture
def untrained(suggest_copy):
    """The sample with phrases and detected regions, but no model trained on it."""
    shutil.rmtree(suggest_copy / ".artannot" / "scan")
    return suggest_copy


def _own_phrases(root, artwork_id):
    with Catalog.open(root, refresh=False) as cat:
        return list(dict.fromkeys((p.norm, p.text) for p in cat.phrases(artwork_id)))


def test_bundled_model_is_registered_and_hash_checked():
    path, why = general_checkpoint()
    assert path is not None, why
    mgr = ModelManager()
    row = next(s for s in mgr.list() if s.name == GENERAL_MODEL)
    assert row.installed and row.bundled and row.role == "scan" and row.hash_check == "full"
    assert path.stat().st_size <= 20 * 1024 * 1024
    # The same file under a manifest entry with another hash is refused, naming the file.
    entry = mgr.entry(GENERAL_MODEL)
    bad = ManifestEntry(**{**{f: getattr(entry, f) for f in entry.__slots__}, "sha256": "0" * 64})
    with pytest.raises(ModelError, match="sha256 mismatch"):
        ModelManager(models_dir=mgr.models_dir, manifest=[bad]).path_for(GENERAL_MODEL)


def test_untrained_collection_gets_ranked_phrases_from_the_general_model(untrained):
    svc = SuggestionService(untrained, untrained / ".artannot")
    assert svc.available and svc.is_general
    assert svc.model_name().startswith("general/")
    region0 = svc.regions(WAVE).box_list()[0]  # region 0 is the whole image
    own = _own_phrases(untrained, WAVE)
    ranked = svc.phrases_for_box(WAVE, region0, own, top_k=8)
    mine = [r for r in ranked if r.origin == "artwork"]
    assert len(mine) == len({norm for norm, _ in own})
    scores = [r.score for r in mine]
    assert scores == sorted(scores, reverse=True)
    assert max(scores) - min(scores) > 0.05  # a ranking, not near-uniform noise
    # "Collection" phrases come from this collection's own vocabulary, not from Flickr's.
    with Catalog.open(untrained, refresh=False) as cat:
        collection_phrases = set(cat.phrase_counts())
    others = [r.phrase for r in ranked if r.origin == "collection"]
    assert others and set(others) <= collection_phrases
    svc.close()
    # Phrases embedded on demand were kept with the collection for the next session.
    assert (untrained / ".artannot" / "phrase_vectors" / "all_minilm_l6_v2" / "vectors.npy").is_file()


def test_the_wave_is_found_in_the_great_wave():
    """A model that knows English and objects, with no training on artworks: the whole Great
    Wave print (features from the default pipeline at its default size, as `artannot detect`
    computes them) prefers sea phrases to unrelated ones."""
    from artannot.retrieval.suggest import Suggester
    from artannot.vision.pipeline import load_pipeline
    from artannot.vision.runner import load_model_image
    from tests.conftest import SAMPLE_COLLECTION

    path, _ = general_checkpoint()
    sug = Suggester.from_checkpoint(path, device="cpu")
    image = load_model_image(SAMPLE_COLLECTION / WAVE)
    h, w = image.pixels.shape[:2]
    whole = np.array([[0, 0, w / image.sx, h / image.sy]], np.float32)
    region = sug.embed_regions(image.pool(load_pipeline("proposals", "efficientnet_lite0",
                                                        device="cpu").extractor, whole))[0]
    # Several phrases each way: one phrase's wording should not decide (the session-7 model
    # ties "waves of the sea" with "portrait of an old man", 0.306 / 0.308, while ranking
    # "a big wave" first).
    sea = ["waves of the sea", "a big wave", "a boat on the waves", "the sea"]
    unrelated = ["portrait of an old man", "a dog running on grass", "a woman in a red dress",
                 "a bowl of fruit"]
    scores = dict(zip(sea + unrelated, sug.embed_phrases(sea + unrelated) @ region))
    assert max(scores, key=scores.get) in sea, scores
    assert np.mean([scores[p] for p in sea]) > np.mean([scores[p] for p in unrelated]) + 0.02, scores


def test_missing_general_model_is_explained(untrained, monkeypatch):
    monkeypatch.setattr(service_module, "general_checkpoint",
                        lambda: (None, "the bundled general model is unavailable: sha256 mismatch"))
    svc = SuggestionService(untrained, untrained / ".artannot")
    assert not svc.available
    why = svc.why_unavailable()
    assert "No SCAN model trained on this collection yet" in why and "sha256 mismatch" in why


def test_store_of_another_backbone_gets_a_clear_message(untrained, monkeypatch):
    svc = SuggestionService(untrained, untrained / ".artannot")
    monkeypatch.setattr(type(svc.store()), "dim", property(lambda self: 2048))
    with pytest.raises(service_module.ServiceError, match="2048-d"):
        svc.suggester()
    svc.close()
