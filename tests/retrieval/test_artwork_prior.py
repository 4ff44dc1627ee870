"""The whole-image term of fragment search: computed once per artwork version, kept beside the
index (delta files), and neutral for an artwork without a whole-image vector."""

# ruff: noqa: F811  (session fixtures imported from tests.app.suggestions_fixtures)
from __future__ import annotations

import shutil
from dataclasses import dataclass

import numpy as np
import pytest

from artannot.retrieval.artwork_prior import ArtworkPrior
from artannot.retrieval.fragment_keys import FragmentKeys
from tests.app.suggestions_fixtures import WAVE, suggest_collection, suggest_copy  # noqa: F401

D, G = 4, 6
SEA = {WAVE, "images/korin_rough_waves.jpg", "images/turner_shipwreck_of_the_minotaur.jpg"}


@dataclass
class _Record:
    whole_image_feature: np.ndarray


class FakeWholes:
    """A whole-image store: versions and vectors, and how often each vector was read."""

    def __init__(self, vectors: dict[str, np.ndarray]) -> None:
        self.vectors = dict(vectors)
        self.version = dict.fromkeys(vectors, "v1")
        self.reads: list[str] = []

    def versions(self) -> dict[str, str]:
        return dict(self.version)

    def get(self, artwork_id: str) -> _Record:
        self.reads.append(artwork_id)
        return _Record(self.vectors[artwork_id])


def _project(x: np.ndarray) -> np.ndarray:
    """A stand-in for the image tower: the first D dimensions, unit length."""
    y = x[:, :D]
    return y / np.linalg.norm(y, axis=1, keepdims=True)


def _keys(*artworks: str) -> FragmentKeys:
    keys = FragmentKeys()
    for a in artworks:
        keys.extend(a, 3)
    return keys


def test_each_artwork_is_projected_once_per_version_and_kept_in_files(tmp_path):
    rng = np.random.default_rng(0)
    store = FakeWholes({a: rng.standard_normal(G).astype(np.float32) for a in "abc"})
    keys = _keys("a", "b", "c", "d")  # "d" has regions but no whole-image vector yet
    prior = ArtworkPrior.empty(D, "lite012-x")
    assert prior.update(keys, store, _project)
    assert sorted(store.reads) == ["a", "b", "c"] and len(prior) == 3
    prior.save(tmp_path)

    store.reads.clear()
    assert not prior.update(keys, store, _project) and store.reads == []  # nothing changed

    store.vectors["b"] = rng.standard_normal(G).astype(np.float32)  # re-encoded
    store.version["b"] = "v2"
    store.vectors["d"] = rng.standard_normal(G).astype(np.float32)  # computed later
    store.version["d"] = "v1"
    del store.version["c"]  # its image left the collection
    assert prior.update(keys, store, _project)
    assert sorted(store.reads) == ["b", "d"]
    prior.save_delta(tmp_path)
    assert len(list(tmp_path.glob("prior-*.npz"))) == 1

    loaded = ArtworkPrior.load(tmp_path, D)
    assert loaded is not None and loaded.state == prior.state and "c" not in loaded.state
    assert np.array_equal(loaded.have, [True, True, False, True])
    want = _project(np.stack([store.vectors[a] for a in "abd"])).astype(np.float16)
    assert np.array_equal(loaded.vectors[[0, 1, 3]], want)
    assert not loaded.update(keys, store, _project)  # the files were complete


def test_an_artwork_without_a_vector_is_neither_pushed_nor_held_back():
    prior = ArtworkPrior.empty(D, "s")
    store = FakeWholes({"a": np.array([1, 0, 0, 0, 0, 0], np.float32),
                        "b": np.array([0, 1, 0, 0, 0, 0], np.float32)})
    prior.update(_keys("a", "b", "c"), store, _project)
    term = prior.term(np.array([0, 1, 2, 7]), np.array([0.6, 0.8, 0, 0], np.float32))
    assert term[0] == pytest.approx(0.6) and term[1] == pytest.approx(0.8)
    assert term[2] == pytest.approx(0.7) and term[3] == pytest.approx(0.7)  # the candidates' mean
    # several boxes of one artwork: each counts, as each is a candidate
    term = prior.term(np.array([0, 0, 2, 0, 1]), np.array([0.6, 0.8, 0, 0], np.float32))
    assert term == pytest.approx([0.6, 0.6, 0.65, 0.6, 0.8], abs=1e-3)


def test_unreadable_or_other_sized_files_are_recomputed_not_fatal(tmp_path):
    prior = ArtworkPrior.empty(D, "s")
    prior.update(_keys("a"), FakeWholes({"a": np.ones(G, np.float32)}), _project)
    prior.save(tmp_path)
    assert ArtworkPrior.load(tmp_path, D + 1) is None
    (tmp_path / "prior.npy").write_bytes(b"not numpy")
    assert ArtworkPrior.load(tmp_path, D) is None
    assert ArtworkPrior.load(tmp_path / "nowhere", D) is None


@pytest.fixture
def general_copy(suggest_copy):
    """The suggestion fixture's collection with no model of its own (so the bundled general
    model, which has a whole-image term) and with its whole-image vectors computed."""
    from artannot.cli.detect_cmd import run_whole_images

    shutil.rmtree(suggest_copy / ".artannot" / "scan")
    run_whole_images(suggest_copy, device="cpu")
    return suggest_copy


def test_search_adds_the_artworks_whole_image_term_to_its_fragments(general_copy, monkeypatch):
    import torch

    from artannot.core.catalog import Catalog
    from artannot.retrieval import suggest
    from artannot.retrieval.service import SuggestionService
    from artannot.vision.feature_store import FeatureStore
    from artannot.vision.global_features import global_stores

    phrase = "waves of the sea"
    with Catalog.open(general_copy, refresh=False) as cat:
        data_dir = cat.data_dir
    svc = SuggestionService(general_copy, data_dir)
    try:
        assert svc.model_name().startswith("general/")
        hits = svc.search(phrase, top_k=400)  # every fragment of the 12 artworks
        cs = svc.search_index()
        assert cs.prior is not None and len(cs.prior) == 12 and cs.prior_weight == 0.5
        model, sug = cs.suggester.model, cs.suggester
        text = suggest.phrase_prior_vectors(model, sug.vocab, [phrase])[0]
        q = sug.embed_phrases([phrase])[0]
        by_artwork: dict[str, list] = {}
        for h in hits:
            by_artwork.setdefault(h.artwork_id, []).append(h)
        (whole_dir,) = global_stores(data_dir)
        for aid, own in by_artwork.items():
            region = sug.embed_regions(np.asarray(svc.regions(aid).features)) @ q
            with FeatureStore(whole_dir, readonly=True) as wholes, torch.no_grad():
                vector = np.asarray(wholes.get(aid).whole_image_feature)
                whole = suggest.whole_prior_vectors(model, [vector])[0]
            expected = region + 0.5 * float(whole @ text)
            for h in own:  # each fragment: its region's score plus its artwork's term
                assert h.score == pytest.approx(expected[h.region], abs=3e-3)
            # the term is the same for every box of an artwork: their order is the region's
            assert [h.region for h in own] == list(np.argsort(-region, kind="stable")[:len(own)])
        assert hits[0].artwork_id in SEA  # Turner's storm comes first, with every model so far
    finally:
        svc.close()

    # A new session loads the term with the index instead of computing it again.
    def refuse(*_args, **_kwargs):
        raise AssertionError("recomputed")

    monkeypatch.setattr(suggest, "whole_prior_vectors", refuse)
    again = SuggestionService(general_copy, data_dir)
    try:
        assert [(h.artwork_id, h.region, round(h.score, 5)) for h in again.search(phrase, top_k=400)] \
            == [(h.artwork_id, h.region, round(h.score, 5)) for h in hits]
    finally:
        again.close()


def test_vectors_computed_after_the_index_join_it_without_a_rebuild(suggest_copy):
    """Regions first (Ctrl+R, or an older detection), whole-image vectors later: the next
    search session adds the term to the cached index as a delta file."""
    from artannot.cli.detect_cmd import run_whole_images
    from artannot.core.catalog import Catalog
    from artannot.retrieval.service import SuggestionService

    shutil.rmtree(suggest_copy / ".artannot" / "scan")
    with Catalog.open(suggest_copy, refresh=False) as cat:
        data_dir = cat.data_dir
    svc = SuggestionService(suggest_copy, data_dir)
    try:
        before = svc.search("waves of the sea", top_k=5)
        assert svc.search_index().prior is None
    finally:
        svc.close()
    (keys,) = (data_dir / "search").glob("*/keys.npy")
    built = keys.stat().st_mtime_ns

    run_whole_images(suggest_copy, device="cpu")
    svc = SuggestionService(suggest_copy, data_dir)
    try:
        after = svc.search("waves of the sea", top_k=5)
        assert len(svc.search_index().prior) == 12
    finally:
        svc.close()
    assert keys.stat().st_mtime_ns == built  # not rebuilt
    saved = ArtworkPrior.load(keys.parent, 1024)
    assert saved is not None and len(saved) == 12  # and kept for the next session
    assert [h.score for h in after] != [h.score for h in before]
