"""SCAN over frozen pretrained phrase vectors: texts, several texts per image, training,
checkpoints that carry their vectors, shipping in float16, and fine-tuning from a model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from artannot.retrieval.checkpoint import (
    CheckpointError,
    export_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from artannot.retrieval.config import ScanConfig
from artannot.retrieval.data import (
    ArtworkItem,
    ScanDataset,
    encode_texts,
    texts_of,
    texts_with_sentences,
)
from artannot.retrieval.evaluate import artwork_scores, evaluate, group_texts
from artannot.retrieval.suggest import Suggester
from artannot.retrieval.train import init_from, train
from tests.retrieval.fake_vectors import fake_vectors

DIM = 16
FAST = dict(embed_size=64, phrase_dim=DIM, mlp_hidden=64, batch_size=32, lr=2e-3,
            lr_update=100, max_violation=False, text_encoder="pretrained",
            text_model="no_such_text_model")


@pytest.fixture(scope="module")
def dataset(synthetic_small):
    items, _, _ = synthetic_small
    ds = ScanDataset(items, min_phrase_count=1)
    ds.vocab.vectors = fake_vectors(DIM)
    return ds


@pytest.fixture(scope="module")
def trained(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("pretrained")
    res = train(dataset, ScanConfig(num_epochs=6, **FAST), out_dir=out, device="cpu")
    return res, out


class _Rec:
    def __init__(self, field, norm):
        self.field, self.norm = field, norm


def test_texts_per_artwork_or_per_field_with_sentences():
    recs = [_Rec("c0", "dog"), _Rec("c0", "beach"), _Rec("c1", "puppy")]
    assert texts_of(recs, "artwork") == [["dog", "beach", "puppy"]]
    assert texts_of(recs, "field") == [["dog", "beach"], ["puppy"]]
    fields = {"c0": "A dog runs on the beach. It is happy.", "c1": "A puppy  plays ."}
    assert texts_of(recs, "field", fields) == [
        ["dog", "beach", "a dog runs on the beach", "it is happy"], ["puppy", "a puppy plays"]]
    assert texts_of(recs, "artwork", fields)[0][3:] == [
        "a dog runs on the beach", "it is happy", "a puppy plays"]
    assert texts_with_sentences(recs, "field", fields) == [
        (["dog", "beach", "a dog runs on the beach", "it is happy"], 2),
        (["puppy", "a puppy plays"], 1)]
    assert texts_with_sentences(recs, "artwork") == [(["dog", "beach", "puppy"], 0)]
    assert texts_of([], "artwork") == [] and texts_of([], "field") == []
    with pytest.raises(ValueError):
        texts_of(recs, "sentence")


def test_maximal_phrases_drop_the_parts_of_longer_ones():
    from artannot.retrieval.data import maximal_phrases

    got = maximal_phrases(["child", "child in a pink dress", "pink dress", "dress", "stairs",
                           "set of stairs", "pink", "stairs"])
    assert got == ["child in a pink dress", "set of stairs"]
    assert maximal_phrases(["dresser", "dress"]) == ["dresser", "dress"]  # words, not letters
    recs = [_Rec("c0", "dog"), _Rec("c0", "black dog"), _Rec("c1", "dog")]
    assert texts_of(recs, "field", maximal=True) == [["black dog"], ["dog"]]


def test_batch_carries_the_frozen_vectors(dataset):
    texts = [["red circle", "blue square"], ["red circle"]]
    tb = encode_texts(dataset.vocab, texts)
    want = dataset.vocab.vectors.lookup(["red circle", "blue square"])
    assert tb.vectors.shape == (2, 2, DIM)
    assert torch.allclose(tb.vectors[0], torch.from_numpy(want), atol=1e-3)
    assert torch.allclose(tb.vectors[1, 0], tb.vectors[0, 0]) and tb.vectors[1, 1].abs().sum() == 0


def test_several_texts_per_image_are_all_correct(trained, dataset):
    res, _ = trained
    test = dataset.split("test")[:6]
    # Image i gets two texts: its own and (a copy of) it again, as Flickr's captions are.
    items = [ArtworkItem(it.id, it.features, it.phrases, "test") for it in test for _ in (0, 1)]
    images, truth = group_texts(items)
    assert [im.id for im in images] == [it.id for it in test]
    assert truth == [[2 * i, 2 * i + 1] for i in range(6)]
    scores, truth2 = artwork_scores(res.model, dataset.vocab, items)
    assert scores.shape == (6, 12) and truth2 == truth
    assert np.allclose(scores[:, 0::2], scores[:, 1::2], atol=1e-5)


def test_pretrained_encoder_learns_better_than_chance(trained, dataset):
    res, _ = trained
    chance = 100.0 / len(dataset.split("test"))
    m = evaluate(res.model, dataset, "test")
    assert m.i2t.r1 >= 5 * chance and m.t2i.r1 >= 5 * chance, m.to_json()


def test_checkpoint_carries_its_phrase_vectors(trained, dataset, tmp_path):
    """Without the text model, known phrases still score (vectors travel with the model);
    unseen ones are reported as unscorable instead of crashing."""
    res, out = trained
    ck = load_checkpoint(res.best_path)  # text_model "no_such_text_model" is not installed
    assert not ck.vocab.vectors.can_embed
    known = ck.vocab.phrase_list()[0]
    sug = Suggester(ck.model, ck.vocab, device="cpu")
    assert sug.scorable(known) and not sug.scorable("a phrase nobody embedded")
    feats = dataset.split("test")[0].features
    got = sug.phrases_for_region(np.asarray(feats[0], np.float32), top_k=5)
    assert len(got) == 5 and [g.score for g in got] == sorted((g.score for g in got), reverse=True)
    # The same ranking as the in-memory model that made it.
    ref = Suggester(res.model, dataset.vocab, device="cpu").phrases_for_region(
        np.asarray(feats[0], np.float32), candidates=ck.vocab.phrase_list(), top_k=5)
    assert [g.phrase for g in got] == [g.phrase for g in ref]


def test_export_half_precision_keeps_the_ranking(trained, dataset, tmp_path):
    res, _ = trained
    dst = export_checkpoint(res.best_path, tmp_path / "general.pt", provenance="test")
    assert dst.stat().st_size < res.best_path.stat().st_size
    state = torch.load(dst, weights_only=True)
    assert state["optimizer"] is None and state["provenance"] == "test"
    assert all(v.dtype == torch.float16 for v in state["model"].values() if v.is_floating_point())
    a = load_checkpoint(res.best_path)
    b = load_checkpoint(dst)
    a.vocab.vectors = b.vocab.vectors = dataset.vocab.vectors  # test phrases are not in the vocab
    items = dataset.split("test")
    sa, _ = artwork_scores(a.model, a.vocab, items)
    sb, _ = artwork_scores(b.model, b.vocab, items)
    assert np.abs(sa - sb).max() < 0.02
    assert (sa.argmax(1) == sb.argmax(1)).mean() >= 0.95


def test_fine_tune_starts_from_the_given_model(trained, dataset, tmp_path):
    res, _ = trained
    # The architecture comes from the initial model, training options from the new config.
    cfg, state = init_from(ScanConfig(embed_size=8, num_epochs=1, lr=1e-5), res.best_path,
                           dataset.feature_dim)
    assert cfg.embed_size == 64 and cfg.phrase_dim == DIM and cfg.lr == 1e-5
    tuned = train(dataset, cfg.replace(num_epochs=1, batch_size=32), out_dir=tmp_path / "ft",
                  device="cpu", init=res.best_path)
    # One tiny-lr epoch from a good model is still good; from scratch it would be near chance.
    m = evaluate(tuned.model, dataset, "test")
    assert m.rsum >= 0.8 * evaluate(res.model, dataset, "test").rsum

    with pytest.raises(CheckpointError, match="backbone"):
        init_from(ScanConfig(), res.best_path, dataset.feature_dim + 1)
    word = ScanConfig(text_encoder="word", embed_size=16, word_dim=8, num_epochs=1)
    path = tmp_path / "word.pt"
    from artannot.retrieval.checkpoint import build_model

    save_checkpoint(path, build_model(word, dataset.vocab, dataset.feature_dim), dataset.vocab)
    with pytest.raises(CheckpointError, match="pretrained text encoder"):
        init_from(ScanConfig(), path, dataset.feature_dim)
