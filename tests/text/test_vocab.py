from __future__ import annotations

import json
from pathlib import Path

import pytest

from artannot.text.vocab import (
    SPECIALS,
    UNK_ID,
    PhraseVocab,
    VocabError,
    WordVocab,
    phrase_tokens,
)

TRAIN = [
    ["blue wave", "wave", "boat", "blue wave"],
    ["wave", "boat", "white crest"],
    ["wave", "boat", "blue wave"],
    ["wave", "boat", "blue wave", "mount fuji"],
]


def test_min_count_and_special_tokens() -> None:
    v = PhraseVocab.build(TRAIN, min_count=4)
    assert v.itos[:4] == ["<pad>", "<start>", "<end>", "<unk>"] == list(SPECIALS)
    assert v.itos[4:] == ["blue wave", "boat", "wave"]  # count 4 each, then alphabetical
    assert "white crest" not in v and v.counts["white crest"] == 1
    assert v.encode(["wave", "white crest", "never seen"]) == [v.id("wave"), UNK_ID, UNK_ID]
    assert v.encode(["boat"], add_start_end=True) == [1, v.id("boat"), 2]
    assert v.decode(v.encode(["boat", "wave"])) == ["boat", "wave"]
    assert len(PhraseVocab.build(TRAIN, min_count=1)) == 4 + 5


def test_specials_in_text_do_not_collide() -> None:
    v = PhraseVocab.build([["<unk>", "<pad>", "cat"]], min_count=1)
    assert v.itos == [*SPECIALS, "cat"]


def test_save_load_round_trip(tmp_path: Path) -> None:
    v = PhraseVocab.build(TRAIN, min_count=2)
    v.save(tmp_path / "vocab.json")
    data = json.loads((tmp_path / "vocab.json").read_text(encoding="utf-8"))
    assert data["kind"] == "phrase" and data["counts"]["white crest"] == 1
    loaded = PhraseVocab.load(tmp_path / "vocab.json")
    assert loaded == v and loaded.counts == v.counts and loaded.min_count == 2
    assert not list(tmp_path.glob(".*tmp"))  # no temp file left behind
    with pytest.raises(VocabError):
        WordVocab.load(tmp_path / "vocab.json")  # wrong kind
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(VocabError):
        PhraseVocab.load(tmp_path / "bad.json")


def test_coverage_numbers() -> None:
    v = PhraseVocab.build(TRAIN, min_count=4)
    cov = v.coverage([["wave", "wave", "white crest"], ["boat", "sea"]])
    assert cov == {
        "occurrences": 5,
        "in_vocab": 3,
        "oov": 2,
        "in_vocab_share": 0.6,
        "oov_share": 0.4,
        "types": 4,
        "types_in_vocab": 2,
        "types_oov": 2,
    }
    assert v.coverage([])["in_vocab_share"] == 0.0


def test_phrase_tokens() -> None:
    assert phrase_tokens("crest of claw-like foam") == ["crest", "of", "claw-like", "foam"]
    assert phrase_tokens("Musée d'Orsay, Paris 🎨") == ["musée", "d'orsay", "paris"]
    assert phrase_tokens("") == []


def test_word_vocab_makes_unknown_phrases_embeddable(tmp_path: Path) -> None:
    pv = PhraseVocab.build(TRAIN, min_count=4)
    wv = pv.word_vocab(min_count=2)
    assert wv == WordVocab.build(TRAIN, min_count=2)
    assert wv.itos[:4] == list(SPECIALS)
    assert "crest" not in wv and "blue" in wv  # "white crest" was seen once
    assert "white wave" not in pv
    assert wv.encode_phrase("blue boat") == [wv.id("blue"), wv.id("boat")]
    assert wv.composable("blue boat") and not wv.composable("white boat")
    wv.save(tmp_path / "w.json")
    assert WordVocab.load(tmp_path / "w.json") == wv
