from __future__ import annotations

import pytest
import torch

from artannot.retrieval.checkpoint import CheckpointError, load_checkpoint
from artannot.retrieval.config import ScanConfig
from artannot.retrieval.data import ScanDataset
from artannot.retrieval.evaluate import evaluate, evaluate_fragments
from artannot.retrieval.suggest import Suggester
from artannot.retrieval.train import train

FAST = dict(embed_size=128, word_dim=64, batch_size=32, lr=2e-3, lr_update=100,
            max_violation=False)


@pytest.fixture(scope="module")
def dataset(synthetic_small):
    items, _, _ = synthetic_small
    return ScanDataset(items, min_phrase_count=1)


@pytest.mark.parametrize("text_encoder", ["phrase", "word"])
def test_learns_better_than_chance(dataset, synthetic_small, tmp_path, text_encoder):
    """Held-out R@1 must be >= 5x chance (chance = 1/N_test = 1/40 = 2.5%, bar 12.5%)."""
    cfg = ScanConfig(text_encoder=text_encoder, num_epochs=10, **FAST)
    res = train(dataset, cfg, out_dir=tmp_path, device="cpu")
    test = dataset.split("test")
    chance = 100.0 / len(test)
    m = evaluate(res.model, dataset, "test")
    assert len(test) == 40
    assert m.i2t.r1 >= 5 * chance, m.to_json()
    assert m.t2i.r1 >= 5 * chance, m.to_json()
    # Fragment level on the ground-truth boxes: distinct test phrases as candidates.
    _, frags, scenes = synthetic_small
    fm = evaluate_fragments(res.model, dataset.vocab,
                            [f for f, s in zip(frags, scenes) if s.split == "test"])
    assert fm.i2t.r1 >= 5 * 100.0 / fm.n_texts
    assert res.best_path is not None and res.epochs_done == 10


def test_hardest_negatives_after_the_warm_up_epochs(dataset, tmp_path, monkeypatch):
    import artannot.retrieval.train as train_module

    flags: list[bool] = []
    real = train_module.contrastive_loss

    def recording(scores, margin=0.2, max_violation=True, same=None):
        flags.append(max_violation)
        return real(scores, margin=margin, max_violation=max_violation, same=same)

    monkeypatch.setattr(train_module, "contrastive_loss", recording)
    small = ScanDataset(dataset.items[:64] + dataset.split("val"), dataset.vocab)
    cfg = ScanConfig(num_epochs=3, **{**FAST, "max_violation": True, "hardest_after": 2})
    train(small, cfg, out_dir=tmp_path, device="cpu")
    per_epoch = len(flags) // 3
    assert per_epoch >= 1 and flags == [False] * (2 * per_epoch) + [True] * per_epoch
    with pytest.raises(ValueError, match="hardest_after"):
        ScanConfig(hardest_after=-1)
    assert ScanConfig().hardest_after == 5
    # a checkpoint written before the option existed resumes as it was trained: no warm-up
    assert ScanConfig.from_dict({"embed_size": 64}).hardest_after == 0


def test_interrupt_and_resume_matches_uninterrupted(dataset, tmp_path):
    cfg = ScanConfig(num_epochs=3, seed=3, **FAST)
    small = ScanDataset(dataset.items[:60] + dataset.split("val"), dataset.vocab)
    full = train(small, cfg, out_dir=tmp_path / "full", device="cpu")

    epochs_seen: list[int] = []

    def progress(p):
        if p.val is not None or p.epoch_seconds is not None:
            epochs_seen.append(p.epoch)

    part = train(small, cfg, out_dir=tmp_path / "part", device="cpu", progress=progress,
                 should_stop=lambda: len(epochs_seen) >= 1)
    assert part.interrupted and part.epochs_done == 1
    assert load_checkpoint(tmp_path / "part" / "last.pt").epoch == 1
    resumed_epochs: list[int] = []
    res = train(small, cfg, out_dir=tmp_path / "part", device="cpu",
                progress=lambda p: resumed_epochs.append(p.epoch))
    assert resumed_epochs[0] == 2 and not res.interrupted and res.epochs_done == 3
    for (k, a), b in zip(full.model.state_dict().items(), res.model.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6), k
    assert [h["val"]["rsum"] for h in full.history] == pytest.approx(
        [h["val"]["rsum"] for h in res.history])


def test_checkpoint_alone_serves_suggestions(dataset, synthetic_small, tmp_path):
    cfg = ScanConfig(num_epochs=2, text_encoder="word", **FAST)
    res = train(dataset, cfg, out_dir=tmp_path, device="cpu")
    ck = load_checkpoint(res.last_path)
    assert ck.config == cfg and ck.model.feature_dim == 256
    assert ck.vocab.phrase_list() == dataset.vocab.phrase_list()
    sug = Suggester.from_checkpoint(res.best_path, device="cpu")
    _, frags, _ = synthetic_small
    hits = sug.phrases_for_region(frags[0].box_features[0], top_k=5,
                                  extra_phrases=["tiny teal crescent", "large red circle"])
    assert len(hits) == 5 and hits[0].score >= hits[-1].score
    with torch.no_grad():
        a = load_checkpoint(res.best_path).model.state_dict()
    assert set(a) == set(sug.model.state_dict())


def test_bad_checkpoint_is_reported(tmp_path):
    p = tmp_path / "x.pt"
    p.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError):
        load_checkpoint(p)
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "missing.pt")
