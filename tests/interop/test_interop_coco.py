from __future__ import annotations

import json
from pathlib import Path

import pytest

from artannot.core.catalog import Catalog
from artannot.core.geometry import Box
from artannot.core.interop import InteropError, from_coco, to_coco
from artannot.core.interop.coco import import_coco
from artannot.core.voc import new_annotation, read_voc
from tests.interop.helpers_interop import H, W, boxes, reload, through_json, tricky_annotation


def test_border_box_is_x0_wW() -> None:
    ann = new_annotation("a.jpg", W, H)
    ann.regions = tricky_annotation().regions[:1]
    coco = to_coco([("a.jpg", W, H, ann)])
    a = coco["annotations"][0]
    assert a["bbox"] == [0, 0, W, H]
    assert a["area"] == W * H
    assert coco["images"][0] == {"id": 1, "file_name": "a.jpg", "width": W, "height": H}


def test_single_pixel_boxes() -> None:
    coco = to_coco([("a.jpg", W, H, tricky_annotation())])
    by_name = {c["id"]: c["name"] for c in coco["categories"]}
    bbox = {by_name[a["category_id"]]: a["bbox"] for a in coco["annotations"]}
    assert bbox["single top-left pixel"] == [0, 0, 1, 1]
    assert bbox["single bottom-right pixel"] == [W - 1, H - 1, 1, 1]
    assert bbox["float box, LabelImg-incompatible"] == [9.5, 19.25, 90.8, 181.45]


def test_voc_coco_voc_round_trip_is_exact() -> None:
    original = reload(tricky_annotation())
    coco = through_json(to_coco([("images/test.jpg", W, H, original)]))
    [img] = from_coco(coco)
    assert (img.file_name, img.width, img.height) == ("images/test.jpg", W, H)
    back = new_annotation("images/test.jpg", W, H)
    back.regions = img.regions
    back = reload(back)  # through a VOC file again
    assert boxes(back) == boxes(original)
    assert [(r.pose, r.truncated, r.difficult) for r in back.regions] == [
        (r.pose, r.truncated, r.difficult) for r in original.regions
    ]


def test_categories_are_distinct_phrases() -> None:
    coco = to_coco([("a.jpg", W, H, tricky_annotation())])
    names = [c["name"] for c in coco["categories"]]
    assert len(names) == len(set(names)) == 6
    assert [c["id"] for c in coco["categories"]] == list(range(1, 7))


def _coco(**ann_overrides: object) -> dict:
    ann = {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10]}
    ann.update(ann_overrides)
    return {"images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 50}],
            "annotations": [ann], "categories": [{"id": 1, "name": "cat"}]}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "must be a JSON object"),
        ({"images": [], "annotations": []}, "no 'categories' field"),
        (_coco(bbox=[0, 0, -5, 10]), "must be positive"),
        (_coco(bbox=[0, 0, 10]), "bbox must be [x, y, width, height]"),
        (_coco(bbox=[0, "a", 10, 10]), "must be a number"),
        (_coco(category_id=7), "category id 7 is unknown"),
        (_coco(image_id=9), "image id 9 is not in images"),
        (_coco(bbox=[95, 0, 10, 10]), "outside the 100x50 image"),
        (_coco(bbox=[-1, 0, 10, 10]), "outside the 100x50 image"),
        ({**_coco(), "images": [{"id": 1, "file_name": "a.jpg", "width": 100}]}, "no 'height' field"),
    ],
)
def test_invalid_coco_refused(data: object, message: str) -> None:
    with pytest.raises(InteropError) as info:
        from_coco(data, "x.json")
    assert message in str(info.value)
    assert info.value.code == "E701"


def test_import_coco_into_collection(sample_copy: Path, tmp_path: Path) -> None:
    aid = "images/botticelli_birth_of_venus.jpg"
    with Catalog.open(sample_copy) as cat:
        w, h = cat.image_size(aid)
    data = {
        "images": [{"id": 7, "file_name": "botticelli_birth_of_venus.jpg", "width": w, "height": h},
                   {"id": 8, "file_name": "not_in_collection.jpg", "width": 10, "height": 10}],
        "annotations": [{"id": 1, "image_id": 7, "category_id": 3, "bbox": [0, 0, w, h]},
                        {"id": 2, "image_id": 7, "category_id": 3, "bbox": [10.5, 20, 30, 40.25]}],
        "categories": [{"id": 3, "name": "goddess on a scallop shell"}],
    }
    src = tmp_path / "coco.json"
    src.write_text(json.dumps(data))
    with Catalog.open(sample_copy) as cat:
        report = import_coco(cat, src)
        assert cat.rows(filters=None)  # catalog still usable
        assert [r.n_regions for r in cat.rows() if r.id == aid] == [2]
    assert [p.name for p in report.written] == ["botticelli_birth_of_venus.xml"]
    assert report.skipped == [("not_in_collection.jpg", "no artwork with this file name in the collection")]
    ann = read_voc(report.written[0])
    assert boxes(ann) == [("goddess on a scallop shell", Box(1, 1, w, h)),
                          ("goddess on a scallop shell", Box(11.5, 21, 40.5, 60.25))]
    assert (ann.width, ann.height, ann.filename) == (w, h, "botticelli_birth_of_venus.jpg")
    # a second import does not clobber the file ...
    with Catalog.open(sample_copy) as cat:
        again = import_coco(cat, src)
    assert not again.written and "exists" in again.skipped[-1][1]
    # ... unless asked, and then the old one is kept as .bak
    with Catalog.open(sample_copy) as cat:
        forced = import_coco(cat, src, overwrite=True)
    assert forced.written and forced.written[0].with_name(forced.written[0].name + ".bak").exists()


def test_import_refuses_size_mismatch_and_writes_nothing(sample_copy: Path, tmp_path: Path) -> None:
    data = {"images": [{"id": 1, "file_name": "bruegel_harvesters.jpg", "width": 3, "height": 3}],
            "annotations": [], "categories": []}
    src = tmp_path / "c.json"
    src.write_text(json.dumps(data))
    with Catalog.open(sample_copy) as cat, pytest.raises(InteropError, match="boxes would land"):
        import_coco(cat, src)
    assert not (sample_copy / "annotations" / "bruegel_harvesters.xml").exists()


def test_malformed_json_message(tmp_path: Path, sample_copy: Path) -> None:
    src = tmp_path / "bad.json"
    src.write_text('{"images": [}')
    with Catalog.open(sample_copy) as cat, pytest.raises(InteropError, match=r"malformed JSON: .* line 1"):
        import_coco(cat, src)
