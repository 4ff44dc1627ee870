from __future__ import annotations

import numpy as np
import pytest

from artannot.retrieval.checkpoint import build_model
from artannot.retrieval.config import ScanConfig
from artannot.retrieval.data import ArtworkItem
from artannot.retrieval.index import FragmentIndex, agreement, factory_string
from artannot.retrieval.suggest import CollectionSearch, Suggester, heatmap
from artannot.text.vocab import TextVocab


def _unit(n, d, seed=0):
    x = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("kind", ["flat", "IVF8,PQ8np", "hnsw"])
def test_shortlist_rerank_equals_exhaustive(kind, tmp_path):
    vecs = _unit(2000, 32)
    q = _unit(20, 32, seed=1)
    idx = FragmentIndex.build(vecs, kind=kind)
    idx.set_nprobe(8)  # all lists: the shortlist then contains the exact top-10
    s, ids = idx.search(q, 10, shortlist=300)
    es, eids = idx.exhaustive(q, 10)
    assert agreement(ids, eids) == 1.0
    assert np.allclose(s, es, atol=1e-3)  # float16 store vs float16 store
    idx.save(tmp_path / "i")
    back = FragmentIndex.load(tmp_path / "i")
    back.set_nprobe(8)
    assert np.array_equal(back.search(q, 10, shortlist=300)[1], ids)


def test_auto_index_choice():
    assert factory_string(1_000, 1024) == "Flat"
    assert factory_string(1_000_000, 1024) == "IVF4000,PQ128np"


def _suggester(text_encoder="word"):
    vocab = TextVocab.build([["red circle", "blue square", "green triangle"]],
                            min_phrase_count=1)
    cfg = ScanConfig(embed_size=16, word_dim=8, text_encoder=text_encoder)
    return Suggester(build_model(cfg, vocab, feature_dim=6), vocab, device="cpu")


def test_region_and_phrase_suggestions():
    sug = _suggester()
    feats = np.random.default_rng(0).normal(size=(5, 6)).astype(np.float32)
    got = sug.phrases_for_region(feats[0], extra_phrases=["red square", "zzz qqq"])
    names = [g.phrase for g in got]
    # OOV "red square" is composed from known words; "zzz qqq" has none and is left out.
    assert "red square" in names and "zzz qqq" not in names
    assert not next(g for g in got if g.phrase == "red square").in_vocab
    exact = sug.embed_phrases(["red square"]) @ sug.embed_regions(feats[:1])[0]
    assert next(g for g in got if g.phrase == "red square").score == pytest.approx(exact[0],
                                                                                   abs=1e-5)
    regs = sug.regions_for_phrase("blue square", feats, top_k=5)
    assert sorted(r.region for r in regs) == list(range(5))
    attn = sug.attention("blue square", feats)
    assert attn.shape == (5,) and attn.sum() == pytest.approx(1.0, abs=1e-5)
    # the best region also gets the most attention (softmax of the same cosine)
    assert int(np.argmax(attn)) == regs[0].region


def test_phrase_encoder_cannot_score_oov():
    sug = _suggester("phrase")
    assert not sug.scorable("red square") and sug.scorable("red circle")


def test_heatmap_max_of_covering_boxes():
    h = heatmap([(0, 0, 4, 4), (2, 2, 6, 6)], [0.3, 0.7], width=8, height=8)
    assert h[0, 0] == pytest.approx(0.3) and h[3, 3] == pytest.approx(0.7)
    assert h[5, 5] == pytest.approx(0.7) and h[7, 7] == 0.0 and h[1, 5] == 0.0


def test_collection_search_equals_exhaustive(tmp_path):
    sug = _suggester()
    rng = np.random.default_rng(3)
    items = [ArtworkItem(f"a{i}", rng.normal(size=(int(rng.integers(1, 6)), 6)).astype(
        np.float32), ["red circle"]) for i in range(40)]
    cs = CollectionSearch.build(sug, items)
    hits = cs.search("red circle", top_k=5)
    allv = [(it.id, j, float(s)) for it in items
            for j, s in enumerate(sug.embed_regions(it.features) @ sug.embed_phrases(
                ["red circle"])[0])]
    want = sorted(allv, key=lambda t: -t[2])[:5]
    assert [(h.artwork_id, h.region) for h in hits] == [(a, j) for a, j, _ in want]
    cs.save(tmp_path / "cs")
    back = CollectionSearch.load(sug, tmp_path / "cs")
    assert back.search("red circle", top_k=5) == hits


@pytest.mark.parametrize("kind", ["flat", "IVF8,Flat"])
def test_index_updated_in_place_equals_exhaustive(kind, tmp_path):
    """Adding and removing fragments (a re-detected artwork) without a rebuild: results are
    those of exact scoring over the live fragments, also after saving deltas and loading."""
    vecs = _unit(1500, 32)
    q = _unit(20, 32, seed=1)
    idx = FragmentIndex.build(vecs, kind=kind)
    idx.set_nprobe(8)
    idx.save(tmp_path / "i")
    gone = np.arange(0, 1500, 7)
    idx.remove(gone)
    new_ids = idx.add(_unit(300, 32, seed=2))
    assert new_ids.tolist() == list(range(1500, 1800)) and idx.live == 1800 - len(gone)
    s, ids = idx.search(q, 10, shortlist=1800)
    es, eids = idx.exhaustive(q, 10)
    assert agreement(ids, eids) == 1.0 and not np.isin(ids, gone).any()
    assert (eids >= 1500).any()  # some new fragments rank in the top 10
    idx.save_delta(tmp_path / "i")
    assert len(list((tmp_path / "i").glob("delta-*.npy"))) == 1
    back = FragmentIndex.load(tmp_path / "i")
    back.set_nprobe(8)
    assert np.array_equal(back.search(q, 10, shortlist=1800)[1], ids)
    back.remove([1500])
    back.add(_unit(5, 32, seed=3))
    back.save(tmp_path / "i")  # a full save folds the deltas into the base
    assert not list((tmp_path / "i").glob("delta-*.npy"))
    again = FragmentIndex.load(tmp_path / "i")
    assert len(again) == 1805 and again.live == back.live and bool(again.dead[1500])


def test_needs_rebuild_when_many_fragments_died():
    idx = FragmentIndex.build(_unit(8000, 8), kind="flat")
    assert not idx.needs_rebuild()
    idx.remove(np.arange(1000))
    assert not idx.needs_rebuild()
    idx.remove(np.arange(1000, 2100))
    assert idx.needs_rebuild()


def test_collection_search_updated_per_artwork_equals_a_rebuild(tmp_path):
    sug = _suggester()
    rng = np.random.default_rng(3)

    def item(name: str) -> ArtworkItem:
        return ArtworkItem(name, rng.normal(size=(int(rng.integers(1, 6)), 6)).astype(np.float32), [])

    items = {f"a{i}": item(f"a{i}") for i in range(40)}
    cs = CollectionSearch.build(sug, list(items.values()))
    cs.save(tmp_path / "cs")
    redone = {a: item(a) for a in ("a3", "a17")}  # detected again: new regions
    added = {"b1": item("b1")}
    cs.remove_artworks([*redone, "a30"])
    cs.add_items([*redone.values(), *added.values()])
    del items["a30"]
    items.update(redone)
    items.update(added)
    fresh = CollectionSearch.build(sug, list(items.values()))
    for phrase in ("red circle", "blue square", "green triangle"):
        want = [(h.artwork_id, h.region) for h in fresh.search(phrase, top_k=8)]
        assert [(h.artwork_id, h.region) for h in cs.search(phrase, top_k=8)] == want
    assert cs.artworks() == set(items)
    cs.save_delta(tmp_path / "cs")
    back = CollectionSearch.load(sug, tmp_path / "cs")
    assert [(h.artwork_id, h.region) for h in back.search("red circle", top_k=8)] == \
        [(h.artwork_id, h.region) for h in fresh.search("red circle", top_k=8)]


def test_streamed_build_equals_in_memory_and_is_not_written_twice(tmp_path):
    import os

    sug = _suggester()
    rng = np.random.default_rng(5)
    items = [ArtworkItem(f"a{i}", rng.normal(size=(int(rng.integers(1, 6)), 6)).astype(np.float32), [])
             for i in range(30)]
    mem = CollectionSearch.build(sug, items)
    d = tmp_path / "cs"
    seen = []
    disk = CollectionSearch.build(sug, items, directory=d, progress=lambda i, n: seen.append((i, n)))
    assert seen[-1] == (30, 30) and isinstance(disk.index.vectors.chunks[0], np.memmap)
    inode = os.stat(d / "vectors.npy").st_ino
    disk.save(d)
    assert os.stat(d / "vectors.npy").st_ino == inode  # written once, while embedding
    back = CollectionSearch.load(sug, d)
    for phrase in ("red circle", "blue square"):
        assert [(h.artwork_id, h.region) for h in back.search(phrase, top_k=6)] == \
            [(h.artwork_id, h.region) for h in mem.search(phrase, top_k=6)]
    from artannot.core.errors import ArtannotError

    with pytest.raises(ArtannotError, match="cancelled"):
        CollectionSearch.build(sug, items, directory=tmp_path / "stop", should_stop=lambda: True)
