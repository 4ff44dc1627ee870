"""Metadata sidecars: JSON/XML flattened with key paths, Karpathy captions, description choice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from artannot.core import metadata as md
from artannot.core.errors import MetadataError

SAMPLE_META = Path(__file__).resolve().parents[2] / "resources" / "sample_collection" / "metadata"


def test_flatten_nested_json():
    data = {"title": "Amphora", "creator": {"name": "Exekias", "dates": [1, None, "540 BC"]},
            "subjects": ["war", {"term": "Ajax"}], "onview": True, "empty": None}
    flat = md.flatten(data)
    assert flat == {
        "title": "Amphora", "creator.name": "Exekias", "creator.dates[0]": "1", "creator.dates[2]": "540 BC",
        "subjects[0]": "war", "subjects[1].term": "Ajax", "onview": "true",
    }


def test_read_json_sidecar(tmp_path):
    p = tmp_path / "a.json"
    p.write_bytes(b"\xef\xbb\xbf" + json.dumps({"title": "Vase \u00e9", "description": "A red vase."}).encode())
    assert md.read_sidecar(p) == {"title": "Vase é", "description": "A red vase."}


def test_read_xml_sidecar_with_namespaces_attributes_repeats(tmp_path):
    p = tmp_path / "a.xml"
    p.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<lido:record xmlns:lido="http://www.lido-schema.org" id="42">'
        "<lido:title lang=\"en\">Rough Waves</lido:title>"
        "<lido:subject>waves</lido:subject><lido:subject>gold</lido:subject>"
        "<lido:creator><lido:name>Ogata Kōrin</lido:name></lido:creator>"
        "</lido:record>", encoding="utf-8")
    f = md.read_sidecar(p)
    assert f["@id"] == "42"
    assert f["title"] == "Rough Waves" and f["title@lang"] == "en"
    assert f["subject[0]"] == "waves" and f["subject[1]"] == "gold"
    assert f["creator.name"] == "Ogata Kōrin"


def test_latin1_xml_sidecar(tmp_path):
    p = tmp_path / "a.xml"
    p.write_bytes('<?xml version="1.0" encoding="ISO-8859-1"?><r><title>Tête</title></r>'.encode("latin-1"))
    assert md.read_sidecar(p) == {"title": "Tête"}


@pytest.mark.parametrize("name,content,hint", [
    ("bad.json", b'{"title": "x",', "malformed JSON"),
    ("scalar.json", b'"just a string"', "object"),
    ("latin.json", '{"t": "é"}'.encode("latin-1"), "UTF-8"),
    ("bad.xml", b"<r><title>x</r>", "malformed XML"),
    ("dtd.xml", b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>', "DOCTYPE"),
    ("a.txt", b"title: x", "unsupported"),
])
def test_bad_sidecars_raise_metadata_error(tmp_path, name, content, hint):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(MetadataError) as info:
        md.read_sidecar(p)
    assert info.value.code == "E201" and name in str(info.value) and hint in str(info.value)


def test_sample_sidecars_all_read():
    by_stem: dict[str, dict[str, str]] = {}
    for p in sorted(SAMPLE_META.iterdir()):
        fields = md.read_sidecar(p)
        assert fields, p
        by_stem.setdefault(p.stem, {}).update(fields)
    assert len(by_stem) == 12
    for stem, fields in by_stem.items():
        assert md.title_of(fields), stem
        assert md.descriptions_of(fields), stem
    assert md.title_of(by_stem["korin_rough_waves"]) == "Rough Waves"  # not creator.name


def test_text_fields_default_and_user_choice():
    fields = {"title": "Rough Waves", "creator.name": "Ogata Kōrin", "description": "Waves on gold.",
              "notes[0]": "Screen.", "medium": "ink", "empty_description": " "}
    assert [k for k, _ in md.text_fields(fields)] == ["title", "description", "notes[0]"]
    # the user's order, which is also the extraction order
    assert md.text_fields(fields, ["medium", "Creator.Name"]) == [("medium", "ink"), ("creator.name", "Ogata Kōrin")]
    assert md.text_fields(fields, ["notes"]) == [("notes[0]", "Screen.")]


def test_title_and_descriptions():
    fields = {"objectName": "Vase", "description": "A red vase.", "label": "Gallery label.", "sentences[0].raw": "s"}
    assert md.title_of(fields) == "Vase"
    # a nested name is someone's name (the artist's), not the artwork's title
    assert md.title_of({"creator.name": "Ogata Kōrin"}) == ""
    assert md.title_of({"creator.name": "Ogata Kōrin", "name": "Rough Waves"}) == "Rough Waves"
    assert md.title_of({"titles[0].title": "Rough Waves"}) == "Rough Waves"
    assert md.descriptions_of(fields, ["First sentence.", " "]) == ["First sentence.", "A red vase."]


def test_read_karpathy(tmp_path):
    p = tmp_path / "caption_data.json"
    p.write_text(json.dumps({"images": [
        {"filename": "a.jpg", "filepath": "train", "sentences": [{"raw": " A bowl. "}, {"raw": ""}, "Plain."]},
        {"filename": "sub/b.jpg", "split": "restval", "sentences": []},
        {"filename": "c.jpg", "filepath": "val2014", "cocoid": 7},
    ]}))
    entries = md.read_karpathy(p)
    assert [(e.filename, e.split, e.sentences) for e in entries] == [
        ("a.jpg", "train", ["A bowl.", "Plain."]), ("sub/b.jpg", "train", []), ("c.jpg", None, [])]
    assert entries[2].extra["cocoid"] == "7"
    assert md.looks_like_karpathy(p)


@pytest.mark.parametrize("content,hint", [
    (b'{"images": {}}', "images"), (b'{"images": [{"sentences": []}]}', "filename"), (b"[1,", "malformed")])
def test_bad_karpathy(tmp_path, content, hint):
    p = tmp_path / "caption_data.json"
    p.write_bytes(content)
    with pytest.raises(MetadataError) as info:
        md.read_karpathy(p)
    assert hint in str(info.value) and "caption_data.json" in str(info.value)


def test_looks_like_karpathy(tmp_path):
    other = tmp_path / "captions.json"
    other.write_text('{"images": []}')
    meta = tmp_path / "a.json"
    meta.write_text('{"title": "x", "images": ["a.jpg"]}')
    assert md.looks_like_karpathy(other)
    assert not md.looks_like_karpathy(meta)
