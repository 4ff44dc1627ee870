from __future__ import annotations

import json
from pathlib import Path

import pytest

from artannot.core.errors import MetadataError
from artannot.core.metadata import read_karpathy
from artannot.core.model import PhraseRecord
from artannot.text.karpathy import CaptionImage, sentences_for, split_sentences, write_caption_data


def test_split_sentences_keeps_abbreviations() -> None:
    text = ' A wave, ca. 1830. "Boats" follow!  Mount Fuji? yes.\n'
    assert [text[s:e] for s, e in split_sentences(text)] == [
        "A wave, ca. 1830.",
        '"Boats" follow!',
        "Mount Fuji? yes.",
    ]
    assert split_sentences("   ") == []


def test_sentences_carry_their_phrases() -> None:
    text = "A blue wave. Three boats."
    recs = [
        PhraseRecord("description", 2, 11, "blue wave", "blue wave"),
        PhraseRecord("description", 19, 24, "boats", "boats"),
        PhraseRecord("title", 0, 4, "Wave", "wave"),
    ]
    sents = sentences_for([("description", text)], recs)
    assert [(s.raw, s.tokens, s.phrases, s.start) for s in sents] == [
        ("A blue wave.", ["a", "blue", "wave"], ["blue wave"], 0),
        ("Three boats.", ["three", "boats"], ["boats"], 13),
    ]


def test_written_files_read_back_through_the_catalog_reader(tmp_path: Path) -> None:
    path = tmp_path / "caption_data.json"
    imgs = [
        CaptionImage("wave.jpg", "train", sentences_for([("d", "A wave.")], []), "ukiyoe/wave.jpg",
                     {"relpath": "ukiyoe/wave.jpg"}),
        CaptionImage("kōrin.jpg", "test", [], "kōrin.jpg"),
    ]
    write_caption_data(path, imgs)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["images"][0]["filepath"] == "train" and data["images"][0]["sentences"][0]["raw"] == "A wave."
    assert data["images"][0]["sentences"][0]["tokens"] == ["a", "wave"]
    back = read_karpathy(path)
    assert [(e.filename, e.split, e.sentences) for e in back] == [
        ("wave.jpg", "train", ["A wave."]),
        ("kōrin.jpg", "test", []),
    ]
    assert back[0].extra["relpath"] == "ukiyoe/wave.jpg" and back[0].extra["artwork_id"] == "ukiyoe/wave.jpg"
    # the classic Karpathy layout, with bare-string sentences another tool wrote
    foreign = tmp_path / "foreign.json"
    foreign.write_text(json.dumps({"images": [
        {"filename": "x.jpg", "filepath": "val2014", "split": "val", "cocoid": 7,
         "sentences": [{"raw": "A man.", "tokens": ["a", "man"]}, "Bare string."]}]}), encoding="utf-8")
    (entry,) = read_karpathy(foreign)
    assert entry.split == "val" and entry.extra["cocoid"] == "7"
    assert entry.sentences == ["A man.", "Bare string."]


def test_malformed_or_unreadable_files_raise(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    for content in ("{", '{"images": 3}', '{"images": [{"sentences": []}]}'):
        bad.write_text(content, encoding="utf-8")
        with pytest.raises(MetadataError):
            read_karpathy(bad)
    # an unreadable file (here a folder) is a MetadataError too, so indexing reports it
    # instead of stopping on an OSError
    folder = tmp_path / "caption_data.json"
    folder.mkdir()
    with pytest.raises(MetadataError, match="cannot read"):
        read_karpathy(folder)
