from __future__ import annotations

import json
from pathlib import Path

import pytest

from artannot.core.catalog import Catalog
from artannot.core.geometry import Box
from artannot.core.interop import (
    InteropError,
    export_annotations,
    from_w3c,
    import_annotations,
    to_w3c,
)
from artannot.core.voc import new_annotation, read_voc
from tests.interop.helpers_interop import H, W, boxes, reload, through_json, tricky_annotation

SRC = "https://iiif.example.org/canvas/1"


def test_shape_is_what_mirador_and_annotorious_read() -> None:
    ann = new_annotation("a.jpg", W, H)
    ann.regions = tricky_annotation().regions[1:2]
    page = to_w3c([("a.jpg", SRC, ann)])
    assert page["@context"] == "http://www.w3.org/ns/anno.jsonld"
    assert page["type"] == "AnnotationPage"
    [item] = page["items"]
    assert item["type"] == "Annotation"
    assert item["id"].startswith("urn:uuid:")
    assert item["body"] == {"type": "TextualBody", "value": "towering blue wave", "purpose": "tagging",
                            "format": "text/plain"}
    assert item["target"] == {"source": SRC, "selector": {
        "type": "FragmentSelector", "conformsTo": "http://www.w3.org/TR/media-frags/",
        "value": "xywh=94,39,466,341"}}
    # ids are stable across exports
    assert to_w3c([("a.jpg", SRC, ann)])["items"][0]["id"] == item["id"]


def test_voc_w3c_voc_round_trip_is_exact() -> None:
    original = reload(tricky_annotation())
    page = through_json(to_w3c([("images/test.jpg", SRC, original)]))
    values = [i["target"]["selector"]["value"] for i in page["items"]]
    assert values[0] == f"xywh=0,0,{W},{H}"
    assert values[2] == "xywh=9.5,19.25,90.8,181.45"
    pairs = from_w3c(page, size_of=lambda s: (W, H))
    assert {s for s, _ in pairs} == {SRC}
    back = new_annotation("images/test.jpg", W, H)
    back.regions = [r for _, r in pairs]
    assert boxes(reload(back)) == boxes(original)


def test_reads_other_shapes_of_the_same_model() -> None:
    one = {"type": "Annotation",
           "body": [{"type": "TextualBody", "value": "note", "purpose": "commenting"},
                    {"type": "TextualBody", "value": "cat", "purpose": "tagging"}],
           "target": {"source": SRC, "selector": {"type": "FragmentSelector", "value": "xywh=pixel:0,0,10,5"}}}
    assert [(r.phrase, r.box) for _, r in from_w3c(one)] == [("cat", Box(1, 1, 10, 5))]
    coll = {"type": "AnnotationCollection", "first": {"type": "AnnotationPage", "items": [one]}}
    assert len(from_w3c(coll)) == 1
    pct = dict(one, target={"source": SRC, "selector": {"type": "FragmentSelector", "value": "xywh=percent:50,50,50,50"}})
    assert from_w3c(pct, size_of=lambda s: (200, 100))[0][1].box == Box(101, 51, 200, 100)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"type": "AnnotationPage"}, "'items' list"),
        ({"type": "AnnotationPage", "items": [{"type": "Note"}]}, "not an object of type Annotation"),
        ({"type": "Annotation", "body": {"type": "TextualBody", "value": "x"}, "target": SRC}, "target needs"),
        ({"type": "Annotation", "body": {"type": "TextualBody", "value": "x"},
          "target": {"source": SRC, "selector": {"type": "SvgSelector", "value": "<svg/>"}}}, "holds no rect"),
        ({"type": "Annotation", "body": {"type": "TextualBody", "value": "x"},
          "target": {"source": SRC, "selector": {"type": "TextQuoteSelector", "exact": "x"}}}, "only FragmentSelector"),
        ({"type": "Annotation", "body": {"type": "TextualBody", "value": "x"},
          "target": {"source": SRC, "selector": {"type": "FragmentSelector", "value": "t=1,2"}}}, "is not 'xywh"),
        ({"type": "Annotation", "body": {"type": "TextualBody", "value": "x"},
          "target": {"source": SRC, "selector": {"type": "FragmentSelector", "value": "xywh=0,0,-3,4"}}}, "must be positive"),
        ({"type": "Annotation", "body": {"type": "TextualBody", "value": "x"},
          "target": {"source": SRC, "selector": {"type": "FragmentSelector", "value": "xywh=600,0,50,4"}}}, "outside the 640x480"),
        ({"type": "Annotation", "body": {"type": "Image"},
          "target": {"source": SRC, "selector": {"type": "FragmentSelector", "value": "xywh=0,0,3,4"}}}, "no TextualBody"),
    ],
)
def test_invalid_w3c_refused(data: object, message: str) -> None:
    with pytest.raises(InteropError, match=message.replace("(", r"\(")):
        from_w3c(data, "w.json", size_of=lambda s: (W, H))


def test_collection_round_trip_through_w3c_files(sample_copy: Path, tmp_path: Path) -> None:
    aid = "images/hokusai_great_wave.jpg"
    before = read_voc(sample_copy / "annotations" / "hokusai_great_wave.xml")
    out = tmp_path / "w3c.jsonld"
    report = export_annotations(sample_copy, "w3c", out, ids=[aid], base_uri="https://museum.example/iiif/")
    assert report.boxes == len(before.regions)
    page = json.loads(out.read_text())
    assert {i["target"]["source"] for i in page["items"]} == {"https://museum.example/iiif/images/hokusai_great_wave.jpg"}
    (sample_copy / "annotations" / "hokusai_great_wave.xml").unlink()
    imported = import_annotations(sample_copy, "w3c", out)
    assert [p.name for p in imported.written] == ["hokusai_great_wave.xml"]
    after = read_voc(imported.written[0])
    assert boxes(after) == boxes(before)
    with Catalog.open(sample_copy) as cat:
        assert cat.annotation_path(aid) == imported.written[0]
