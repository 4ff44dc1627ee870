"""The whole-image term: a second, two-tower score over one vector per artwork, trained beside
SCAN, shipped in checkpoints, and left out for items that have no vector."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from artannot.retrieval.attention import l2norm
from artannot.retrieval.checkpoint import export_checkpoint, load_checkpoint, read_weights
from artannot.retrieval.config import ScanConfig
from artannot.retrieval.data import ArtworkItem, ScanDataset, encode_texts, stack_wholes
from artannot.retrieval.evaluate import artwork_scores, evaluate, global_scores, group_texts
from artannot.retrieval.scan import ScanModel
from artannot.retrieval.train import train
from tests.retrieval.fake_vectors import fake_vectors

DIM, GDIM = 16, 48
FAST = dict(embed_size=64, phrase_dim=DIM, mlp_hidden=0, batch_size=32, lr=2e-3,
            lr_update=100, max_violation=False, text_encoder="pretrained",
            text_model="no_such_text_model", phrase_loss=0.0)


def _word_vector(word: str) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha1(word.encode()).digest()[:4], "little")
    return np.random.default_rng(seed + 1).standard_normal(GDIM).astype(np.float32)


def _whole_of(phrases: list[str], rng: np.random.Generator) -> np.ndarray:
    """What an image-level net would see: the artwork's content, plus noise, never its regions."""
    words = {w for p in phrases for w in p.split()}
    return sum(_word_vector(w) for w in words) + 0.3 * rng.standard_normal(GDIM).astype(np.float32)


@pytest.fixture(scope="module")
def uninformative_regions(synthetic_small):
    """The synthetic scenes with their region features replaced by noise: only the
    whole-image vectors carry the content."""
    items, _, _ = synthetic_small
    rng = np.random.default_rng(0)
    out = [ArtworkItem(it.id, rng.standard_normal(it.features.shape).astype(np.float32),
                       it.phrases, it.split, _whole_of(it.phrases, rng)) for it in items]
    ds = ScanDataset(out, min_phrase_count=1)
    ds.vocab.vectors = fake_vectors(DIM)
    return ds


def _without_wholes(ds: ScanDataset) -> ScanDataset:
    plain = ScanDataset([ArtworkItem(it.id, it.features, it.phrases, it.split) for it in ds.items],
                        ds.vocab)
    return plain


def test_whole_image_term_learns_what_regions_cannot(uninformative_regions, tmp_path):
    ds = uninformative_regions
    assert ds.global_dim == GDIM
    cfg = ScanConfig(num_epochs=8, **FAST)
    with_term = train(ds, cfg, out_dir=tmp_path / "with", device="cpu")
    assert with_term.model.has_global and with_term.model.config.global_dim == GDIM
    alone = train(_without_wholes(ds), cfg, out_dir=tmp_path / "alone", device="cpu")
    assert not alone.model.has_global
    m_with = evaluate(with_term.model, ds, "test")
    m_alone = evaluate(alone.model, _without_wholes(ds), "test")
    chance = 100 * 10 / len(ds.split("test"))  # R@10 of a random ranking
    assert m_alone.i2t.r10 < 2.5 * chance  # noise regions: SCAN alone is near chance
    assert m_with.i2t.r1 > 40 and m_with.t2i.r1 > 40, (m_with.i2t, m_with.t2i)


def test_checkpoint_and_fp16_export_keep_the_term(uninformative_regions, tmp_path):
    ds = uninformative_regions
    res = train(ds, ScanConfig(num_epochs=2, **FAST), out_dir=tmp_path, device="cpu")
    items = ds.split("test")
    before, _ = artwork_scores(res.model, ds.vocab, items)
    export_checkpoint(res.best_path, tmp_path / "ship.pt")
    for path, tol in ((res.best_path, 1e-5), (tmp_path / "ship.pt", 2e-2)):
        ck = load_checkpoint(path)
        ck.vocab.vectors = ds.vocab.vectors
        assert ck.model.has_global
        assert torch.allclose(ck.model.global_std.float(), res.model.global_std, rtol=1e-2)
        after, _ = artwork_scores(ck.model, ck.vocab, items)
        assert np.abs(after - before).max() < tol


def test_images_without_a_vector_get_no_whole_image_score(uninformative_regions, tmp_path):
    ds = uninformative_regions
    res = train(ds, ScanConfig(num_epochs=1, **FAST), out_dir=tmp_path, device="cpu")
    items = ds.split("test")[:6]
    images, _ = group_texts(items)
    images[2] = ArtworkItem(images[2].id, images[2].features, images[2].phrases, "test")
    g = global_scores(res.model, ds.vocab, images, items)
    assert g is not None and g.shape == (len(images), len(items))
    assert np.all(g[2] == 0) and np.abs(g[[0, 1, 3]]).min() > 0
    none = [ArtworkItem(i.id, i.features, i.phrases, i.split) for i in images]
    assert stack_wholes(none) is None and global_scores(res.model, ds.vocab, none, items) is None


def test_bigru_text_encoders_train_without_the_term(uninformative_regions, tmp_path):
    cfg = ScanConfig(num_epochs=1, **{**FAST, "text_encoder": "phrase", "word_dim": 16})
    res = train(uninformative_regions, cfg, out_dir=tmp_path, device="cpu")
    assert not res.model.has_global and res.model.config.global_dim == 0
    with pytest.raises(ValueError, match="pretrained"):
        ScanConfig(text_encoder="word", global_dim=8)


def test_standardisation_reads_a_bounded_sample_of_distinct_images() -> None:
    from artannot.retrieval.train import whole_sample

    rng = np.random.default_rng(0)
    items = [ArtworkItem(f"a{i // 5}", np.zeros((1, 2)), ["x"], "train",
                         rng.standard_normal(4).astype(np.float16)) for i in range(50)]
    items.append(ArtworkItem("judged", np.zeros((1, 2)), ["x"], "train"))  # no vector
    assert whole_sample(items, seed=0).shape == (10, 4)  # 5 captions of an image count once
    small = whole_sample(items, seed=0, limit=3)
    assert small.shape == (3, 4) and np.array_equal(small, whole_sample(items, seed=0, limit=3))


@pytest.mark.parametrize("global_text", ["sentences", "units"])
def test_a_text_is_summed_up_by_its_sentences_when_it_has_any(uninformative_regions,
                                                              global_text):
    cfg = ScanConfig(global_dim=GDIM, global_text=global_text, **FAST)
    model = ScanModel(cfg, feature_dim=8, num_phrases=4, num_words=4)
    caption = ["red circle", "blue square", "a red circle beside a blue square"]
    tb = encode_texts(uninformative_regions.vocab, [caption, caption[:2]], [1, 0])
    assert tb.summary_mask.tolist() == [[False, False, True], [True, True, False]]
    with torch.no_grad():
        got = model.encode_global_texts(tb)
        units = tb.vectors[0, 2] if global_text == "sentences" else tb.vectors[0].mean(0)
        want = l2norm(model.global_txt(torch.stack([units, tb.vectors[1, :2].mean(0)])))
    assert torch.allclose(got, want, atol=1e-6)


def test_older_checkpoints_keep_the_text_summary_they_were_trained_with() -> None:
    old = ScanConfig.from_dict({"embed_size": 64, "global_dim": 8, "text_encoder": "pretrained"})
    assert old.global_text == "units" and old.global_epochs == 0
    assert ScanConfig().global_text == "sentences" and ScanConfig().global_epochs > 0
    with pytest.raises(ValueError, match="global_text"):
        ScanConfig(global_text="words")


def _tower(state: dict) -> dict:
    return {k: v for k, v in state.items() if k.startswith("global_")}


def _scan(state: dict) -> dict:
    return {k: v for k, v in state.items() if not k.startswith("global_")}


@pytest.mark.parametrize("stop_after", [None, 3, 4])
def test_towers_refit_alone_with_scan_at_its_best_epoch_and_resume(uninformative_regions, tmp_path,
                                                             stop_after):
    """After SCAN's epochs the two towers are fitted again, alone, with SCAN frozen at its
    best epoch. Interrupted at the switch or inside the towers' epochs, a resumed run ends
    as an uninterrupted one."""
    from artannot.text.vocab import TextVocab

    # every phrase in the vocabulary: a resumed run embeds its texts from the stored vectors
    vocab = TextVocab.build((it.phrases for it in uninformative_regions.items),
                            min_phrase_count=1, min_word_count=1)
    vocab.vectors = uninformative_regions.vocab.vectors
    ds = ScanDataset(uninformative_regions.items, vocab)
    cfg = ScanConfig(num_epochs=3, global_epochs=3, seed=1, **FAST)
    out = tmp_path / "run"
    scan_best: list[dict] = []
    ended: list[int] = []

    def progress(p):
        if p.val is not None:
            ended.append(p.epoch)
            assert p.num_epochs == 6
            if p.epoch == 3:
                scan_best.append(read_weights(out / "best.pt"))

    stop = (lambda: len(ended) >= stop_after) if stop_after else None
    res = train(ds, cfg, out_dir=out, device="cpu", progress=progress, should_stop=stop)
    if stop_after:
        assert res.interrupted and res.epochs_done == stop_after
        res = train(ds, cfg, out_dir=out, device="cpu", progress=progress)
    assert not res.interrupted and res.epochs_done == 6
    assert [h["stage"] for h in res.history] == ["scan"] * 3 + ["whole-image towers"] * 3
    last = read_weights(res.last_path)
    for k, v in _scan(scan_best[0]).items():
        assert torch.equal(last[k], v), k  # SCAN: exactly its best epoch
    assert any(not torch.equal(last[k], v) for k, v in _tower(scan_best[0]).items())
    # the kept model is the best of all six epochs by the combined val rsum
    best_val = max(h["val"]["rsum"] for h in res.history)
    assert res.best_rsum == pytest.approx(best_val)
    if stop_after:
        ref = train(ds, cfg, out_dir=tmp_path / "ref", device="cpu")
        for k, v in read_weights(ref.last_path).items():
            assert torch.allclose(last[k], v, atol=1e-6), k
        assert [h["val"]["rsum"] for h in ref.history] == pytest.approx(
            [h["val"]["rsum"] for h in res.history])


def test_a_fine_tune_keeps_its_initial_towers(uninformative_regions, tmp_path):
    ds = uninformative_regions
    base = train(ds, ScanConfig(num_epochs=2, global_epochs=2, **FAST), out_dir=tmp_path / "base",
                 device="cpu")
    assert [h["stage"] for h in base.history] == ["scan"] * 2 + ["whole-image towers"] * 2
    tuned = train(ds, ScanConfig(num_epochs=1, **FAST), out_dir=tmp_path / "ft", device="cpu",
                  init=base.best_path)
    assert tuned.model.has_global and tuned.model.config.global_epochs == 0
    assert [h["stage"] for h in tuned.history] == ["scan"]
