from __future__ import annotations

import json
from pathlib import Path

import pytest

from artannot.core.geometry import Box
from artannot.core.interop import (
    InteropError,
    from_labelme,
    from_yolo,
    import_annotations,
    to_yolo_line,
)
from artannot.core.voc import read_voc
from tests.interop.helpers_interop import tricky_annotation

VENUS = "images/botticelli_birth_of_venus.jpg"


def _labelme(shapes: list, **extra: object) -> dict:
    return {"version": "5.5.0", "flags": {}, "shapes": shapes, "imagePath": "../images/botticelli_birth_of_venus.jpg",
            "imageData": None, **extra}


def _rect(label: str, points: list) -> dict:
    return {"label": label, "points": points, "group_id": None, "shape_type": "rectangle", "flags": {}}


def test_labelme_rectangles_hand_computed() -> None:
    doc = _labelme([
        _rect("venus", [[10, 20], [110, 70]]),  # edges 10..110 -> VOC 11..110
        _rect("dragged up-left", [[110, 70], [10, 20]]),  # corner order does not matter
        _rect("whole", [[0, 0], [200, 100]]),
        _rect("float", [[0.5, 1.25], [3.5, 4]]),
        {"label": "shell", "points": [[1, 1], [5, 1], [3, 4]], "shape_type": "polygon"},
        {"label": "dot", "points": [[1, 1]], "shape_type": "point"},
    ], imageWidth=200, imageHeight=100)
    parsed = from_labelme(doc, "x.json")
    assert [(r.phrase, r.box) for r in parsed.regions] == [
        ("venus", Box(11, 21, 110, 70)),
        ("dragged up-left", Box(11, 21, 110, 70)),
        ("whole", Box(1, 1, 200, 100)),
        ("float", Box(1.5, 2.25, 3.5, 4)),
    ]
    assert parsed.skipped == ["shape 5 (polygon 'shell'): only rectangles are imported",
                              "shape 6 (point 'dot'): only rectangles are imported"]


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"shapes": "x"}, "'shapes' has the wrong type"),
        ({"version": "5"}, "no 'shapes' field"),
        (_labelme([_rect("a", [[0, 0]])], imageWidth=10, imageHeight=10), "needs two [x, y] corners"),
        (_labelme([_rect("a", [[0, 0], [11, 5]])], imageWidth=10, imageHeight=10), "outside the 10x10 image"),
        (_labelme([_rect("a", [[3, 0], [3, 5]])], imageWidth=10, imageHeight=10), "empty or inverted"),
        (_labelme([{"points": [[0, 0], [1, 1]], "shape_type": "rectangle"}]), "no 'label' field"),
    ],
)
def test_invalid_labelme_refused(doc: dict, message: str) -> None:
    with pytest.raises(InteropError) as info:
        from_labelme(doc, "x.json")
    assert message in str(info.value)


def test_labelme_size_must_match_image() -> None:
    with pytest.raises(InteropError, match="says the image is 10x10 but it is 20x20"):
        from_labelme(_labelme([], imageWidth=10, imageHeight=10), "x.json", size=(20, 20))


def test_import_labelme_folder(sample_copy: Path, tmp_path: Path) -> None:
    src = tmp_path / "labelme"
    src.mkdir()
    (src / "venus.json").write_text(json.dumps(_labelme([_rect("venus on a shell", [[100, 50], [300, 250]]),
                                                         {"label": "x", "points": [], "shape_type": "circle"}])))
    (src / "stranger.json").write_text(json.dumps(_labelme([], imagePath="nowhere.png")))
    report = import_annotations(sample_copy, "labelme", src)
    [written] = report.written
    assert written == sample_copy / "annotations" / "botticelli_birth_of_venus.xml"
    assert [(r.phrase, r.box) for r in read_voc(written).regions] == [("venus on a shell", Box(101, 51, 300, 250))]
    reasons = [why for _, why in report.skipped]
    assert any("only rectangles" in w for w in reasons)
    assert any("no artwork for image 'nowhere.png'" in w for w in reasons)


# -- YOLO ---------------------------------------------------------------------------

def test_yolo_hand_computed() -> None:
    # 200x100 image: centre (0.3, 0.4), size (0.2, 0.5) -> edges x 40..80, y 15..65 -> VOC 41..80, 16..65
    regions = from_yolo("0 0.3 0.4 0.2 0.5\n\n1 0.5 0.5 1.0 1.0\n", ["cat", "whole"], 200, 100)
    assert [(r.phrase, r.box) for r in regions] == [("cat", Box(41, 16, 80, 65)), ("whole", Box(1, 1, 200, 100))]


def test_yolo_six_decimals_snap_back_to_pixels() -> None:
    ann = tricky_annotation()
    integral = [r for r in ann.regions if all(float(v).is_integer() for v in
                                              (r.box.xmin, r.box.ymin, r.box.xmax, r.box.ymax))]
    text = "\n".join(to_yolo_line(r.box, 0, ann.width, ann.height) for r in integral)
    back = from_yolo(text, ["x"], ann.width, ann.height)
    assert [r.box for r in back] == [r.box for r in integral]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0 0.5 0.5 0.2", "expected 'class cx cy w h'"),
        ("0 0.5 0.5 0.2 x", "not numbers"),
        ("3 0.5 0.5 0.2 0.2", "class id 3 is unknown"),
        ("0 0.5 0.5 -0.2 0.2", "must be positive"),
        ("0 0.95 0.5 0.2 0.2", "outside the 200x100 image"),
    ],
)
def test_invalid_yolo_refused(text: str, message: str) -> None:
    with pytest.raises(InteropError, match=message):
        from_yolo(text, ["cat"], 200, 100, "l.txt")


def test_import_yolo_folder(sample_copy: Path, tmp_path: Path) -> None:
    from artannot.core.catalog import Catalog

    with Catalog.open(sample_copy) as cat:
        w, h = cat.image_size(VENUS)
    src = tmp_path / "labels"
    src.mkdir()
    (src / "botticelli_birth_of_venus.txt").write_text("0 0.5 0.5 1 1\n1 0.25 0.25 0.5 0.5\n")
    (src / "unknown_stem.txt").write_text("0 0.5 0.5 1 1\n")
    with pytest.raises(InteropError, match="no class list"):
        import_annotations(sample_copy, "yolo", src)
    classes = tmp_path / "names.txt"
    classes.write_text("goddess\nleft quarter\n")
    report = import_annotations(sample_copy, "yolo", src, classes=classes)
    [written] = report.written
    expected_half = Box.from_edges(0, 0, w / 2, h / 2)
    assert [(r.phrase, r.box) for r in read_voc(written).regions] == [
        ("goddess", Box(1, 1, w, h)), ("left quarter", expected_half)]
    assert report.skipped == [(str(src / "unknown_stem.txt"), "no artwork with this stem")]
