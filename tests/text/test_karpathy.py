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


def test_caption_data_streams_from_a_generator_with_the_bytes_of_one_json_dump(tmp_path: Path) -> None:
    """Issue 16: images are written one by one, yet the file is what ``json.dumps`` of the
    whole structure gives (compact, non-ASCII kept), so files written before are unchanged."""
    def images():
        yield CaptionImage("wave.jpg", "train", sentences_for([("d", "A wave. Two boats.")], [
            PhraseRecord("d", 2, 6, "wave", "wave")]), "ukiyoe/wave.jpg", {"relpath": "ukiyoe/wave.jpg"})
        yield CaptionImage("kōrin.jpg", None, [], "kōrin.jpg")
        yield CaptionImage("fuji.jpg", "val", sentences_for([("t", "Fuji \"red\".")], []), "fuji.jpg")

    expected, sentid = [], 0
    for imgid, img in enumerate(images()):
        sents = [{"raw": s.raw, "tokens": s.tokens, "phrases": s.phrases, "field": s.field,
                  "imgid": imgid, "sentid": sentid + k} for k, s in enumerate(img.sentences)]
        sentid += len(sents)
        expected.append({**img.extra, "filename": img.filename, "filepath": img.split or "",
                         "split": img.split or "", "sentences": sents,
                         "sentids": [s["sentid"] for s in sents], "imgid": imgid, "artwork_id": img.artwork_id})
    path = tmp_path / "caption_data.json"
    write_caption_data(path, images())
    assert path.read_bytes() == json.dumps({"dataset": "artannot", "images": expected}, ensure_ascii=False,
                                           separators=(",", ":")).encode("utf-8")
    write_caption_data(path, iter(()), dataset="empty")
    assert path.read_bytes() == b'{"dataset":"empty","images":[]}'
    assert [p.name for p in tmp_path.iterdir()] == ["caption_data.json"]  # no temp file left


def test_a_failing_generator_leaves_the_previous_file(tmp_path: Path) -> None:
    path = tmp_path / "caption_data.json"
    write_caption_data(path, [CaptionImage("a.jpg", "train", [], "a.jpg")])
    before = path.read_bytes()

    def broken():
        yield CaptionImage("b.jpg", "train", [], "b.jpg")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        write_caption_data(path, broken())
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["caption_data.json"]
