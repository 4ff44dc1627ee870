"""Malformed input through ``artannot import``: one clear line, exit 1, nothing written anywhere.

Every importer is all-or-nothing (docs/formats.md): one bad record refuses the whole import,
so a file whose second image is bad never leaves the first one imported.  Each case checks
that no traceback escapes, the error names the file and the record, and no file changed
anywhere under the test's folder (collection included).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from artannot.cli import app

runner = CliRunner()
WAVE, VENUS = "images/hokusai_great_wave.jpg", "images/botticelli_birth_of_venus.jpg"
WAVE_SIZE, VENUS_SIZE = (928, 514), (1024, 643)
DEEP = "[" * 100_000 + "]" * 100_000
HUGE = 10**400


def snapshot(folder: Path) -> dict[str, str]:
    """Every file below ``folder`` (the catalog cache aside) with its content hash."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in folder.rglob("*") if p.is_file() and ".artannot" not in p.parts}


def assert_refused(tmp_path: Path, collection: Path, fmt: str, src: Path, *needles: str) -> None:
    before = snapshot(tmp_path)
    res = runner.invoke(app, ["import", str(collection), "-f", fmt, "--from", str(src), "--overwrite"])
    assert isinstance(res.exception, SystemExit), res.exception  # no traceback
    assert res.exit_code == 1, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert "Traceback" not in res.output
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert snapshot(tmp_path) == before  # nothing half-written, nothing written outside


# -- COCO ---------------------------------------------------------------------------

def _coco(**change) -> dict:
    doc = {
        "images": [{"id": 1, "file_name": WAVE, "width": WAVE_SIZE[0], "height": WAVE_SIZE[1]},
                   {"id": 2, "file_name": VENUS, "width": VENUS_SIZE[0], "height": VENUS_SIZE[1]}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 50, 50]},
                        {"id": 2, "image_id": 2, "category_id": 2, "bbox": [20, 20, 60, 60]}],
        "categories": [{"id": 1, "name": "wave"}, {"id": 2, "name": "shell"}],
    }
    for key, fn in change.items():
        fn(doc[key])
    return doc


def _set(path: tuple, value):
    def apply(obj):
        for k in path[:-1]:
            obj = obj[k]
        obj[path[-1]] = value
    return apply


COCO_CASES = {
    "huge width": (_coco(images=_set((0, "width"), HUGE)), ["images[0]"]),
    "huge bbox": (_coco(annotations=_set((0, "bbox", 0), HUGE)), ["annotations[0]"]),
    "nan bbox": (_coco(annotations=_set((0, "bbox", 1), float("nan"))), ["annotations[0]"]),
    "inf bbox": (_coco(annotations=_set((0, "bbox", 2), float("inf"))), ["annotations[0]"]),
    "NUL in label": (_coco(categories=_set((0, "name"), "wa\x00ve")), ["categories[0]", "control character"]),
    "bell in label": (_coco(categories=_set((0, "name"), "wave\x07")), ["categories[0]"]),
    "lone surrogate": (_coco(categories=_set((0, "name"), "wave\ud800")), ["categories[0]", "surrogate"]),
    "2nd image bad label": (_coco(categories=_set((1, "name"), "she\x01ll")), ["categories[1]"]),
    "control char in pose": (_coco(annotations=_set((1, "attributes"), {"pose": "up\x02"})), ["annotations[1]"]),
}


@pytest.mark.parametrize("doc,needles", COCO_CASES.values(), ids=COCO_CASES.keys())
def test_coco_malformed_values_refused(sample_copy: Path, tmp_path: Path, doc: dict, needles: list[str]) -> None:
    src = tmp_path / "coco.json"
    src.write_text(json.dumps(doc))  # NaN/Infinity/\ud800 as Python's json writes them
    assert_refused(tmp_path, sample_copy, "coco", src, "coco.json", *needles)


def test_coco_deeply_nested_json_refused(sample_copy: Path, tmp_path: Path) -> None:
    src = tmp_path / "coco.json"
    src.write_text('{"images": ' + DEEP + "}")
    assert_refused(tmp_path, sample_copy, "coco", src, "coco.json", "nested")


def test_coco_overlong_integer_refused(sample_copy: Path, tmp_path: Path) -> None:
    src = tmp_path / "coco.json"
    src.write_text('{"images": [{"id": ' + "9" * 5000 + "}]}")
    assert_refused(tmp_path, sample_copy, "coco", src, "coco.json")


# -- labelme ------------------------------------------------------------------------

def _labelme(label="wave", points=((10, 10), (60, 60)), **extra) -> dict:
    doc = {"shapes": [{"label": label, "points": [list(p) for p in points], "shape_type": "rectangle"}],
           "imagePath": "../sample_collection/" + WAVE, "imageWidth": WAVE_SIZE[0], "imageHeight": WAVE_SIZE[1]}
    doc.update(extra)
    return doc


LABELME_CASES = {
    "path outside the collection": (_labelme(imagePath="../../../../etc/passwd"), ["imagePath", "outside"]),
    "absolute path outside": (_labelme(imagePath="/etc/passwd"), ["imagePath", "outside"]),
    "huge point": (_labelme(points=((HUGE, 10), (60, 60))), ["shape 1"]),
    "nan point": (_labelme(points=((float("nan"), 10), (60, 60))), ["shape 1"]),
    "inf point": (_labelme(points=((10, 10), (float("inf"), 60))), ["shape 1"]),
    "huge width": (_labelme(imageWidth=HUGE), ["imageWidth"]),
    "NUL in label": (_labelme(label="wa\x00ve"), ["shape 1", "control character"]),
    "lone surrogate": (_labelme(label="\udfffwave"), ["shape 1", "surrogate"]),
}


@pytest.mark.parametrize("doc,needles", LABELME_CASES.values(), ids=LABELME_CASES.keys())
def test_labelme_malformed_values_refused(sample_copy: Path, tmp_path: Path, doc: dict, needles: list[str]) -> None:
    src = tmp_path / "labelme"
    src.mkdir()
    (src / "a_good.json").write_text(json.dumps(_labelme()))  # imported only if all files are good
    (src / "b_bad.json").write_text(json.dumps(doc))
    assert_refused(tmp_path, sample_copy, "labelme", src, "b_bad.json", *needles)


def test_labelme_deeply_nested_json_refused(sample_copy: Path, tmp_path: Path) -> None:
    src = tmp_path / "deep.json"
    src.write_text('{"shapes": ' + DEEP + "}")
    assert_refused(tmp_path, sample_copy, "labelme", src, "deep.json", "nested")


def test_labelme_good_folder_still_imports(sample_copy: Path, tmp_path: Path) -> None:
    src = tmp_path / "labelme"
    src.mkdir()
    (src / "a_good.json").write_text(json.dumps(_labelme()))
    res = runner.invoke(app, ["import", str(sample_copy), "-f", "labelme", "--from", str(src), "--overwrite"])
    assert res.exit_code == 0, res.output
    assert "wrote 1 annotation file(s) with 1 box(es)" in res.output


# -- YOLO ---------------------------------------------------------------------------

YOLO_CASES = {
    "nan centre": ("0 nan 0.5 0.1 0.1", ["line 1"]),
    "inf size": ("0 0.5 0.5 inf 0.1", ["line 1"]),
    "overflowing size": ("0 0.5 0.5 1e400 0.1", ["line 1"]),
    "huge class id": (f"{HUGE} 0.5 0.5 0.1 0.1", ["line 1"]),
    "nan size": ("0 0.5 0.5 0.1 nan", ["line 1"]),
}


@pytest.mark.parametrize("line,needles", YOLO_CASES.values(), ids=YOLO_CASES.keys())
def test_yolo_malformed_values_refused(sample_copy: Path, tmp_path: Path, line: str, needles: list[str]) -> None:
    src = tmp_path / "yolo"
    src.mkdir()
    (src / "classes.txt").write_text("wave\nshell\n")
    (src / "hokusai_great_wave.txt").write_text("0 0.5 0.5 0.2 0.2\n")  # good, must not be written alone
    (src / "botticelli_birth_of_venus.txt").write_text(line + "\n")
    assert_refused(tmp_path, sample_copy, "yolo", src, "botticelli_birth_of_venus.txt", *needles)


@pytest.mark.parametrize("classes,needles", [
    ("wave\nsh\x00ell\n", ["class 1", "control character"]),
    ("wave\nshell\x1b[31m\n", ["class 1", "control character"]),
], ids=["NUL", "escape sequence"])
def test_yolo_bad_class_names_refused(sample_copy: Path, tmp_path: Path, classes: str, needles: list[str]) -> None:
    src = tmp_path / "yolo"
    src.mkdir()
    (src / "classes.txt").write_text(classes)
    (src / "hokusai_great_wave.txt").write_text("1 0.5 0.5 0.2 0.2\n")
    assert_refused(tmp_path, sample_copy, "yolo", src, "classes.txt", *needles)


# -- W3C ----------------------------------------------------------------------------

def _anno(value="xywh=10,10,50,50", phrase="wave", source="images/hokusai_great_wave.jpg") -> dict:
    return {"type": "Annotation", "body": {"type": "TextualBody", "value": phrase, "purpose": "tagging"},
            "target": {"source": source, "selector": {"type": "FragmentSelector", "value": value}}}


W3C_CASES = {
    "nan xywh": (_anno(value="xywh=nan,10,50,50"), ["annotation 2"]),
    "inf xywh": (_anno(value="xywh=10,10,inf,50"), ["annotation 2"]),
    "overflowing xywh": (_anno(value="xywh=10,10,1e400,50"), ["annotation 2"]),
    "huge integer xywh": (_anno(value=f"xywh=10,10,{HUGE},50"), ["annotation 2"]),
    "NUL in phrase": (_anno(phrase="wa\x00ve"), ["annotation 2", "control character"]),
    "lone surrogate": (_anno(phrase="wave\ud83c"), ["annotation 2", "surrogate"]),
}


@pytest.mark.parametrize("bad,needles", W3C_CASES.values(), ids=W3C_CASES.keys())
def test_w3c_malformed_values_refused(sample_copy: Path, tmp_path: Path, bad: dict, needles: list[str]) -> None:
    src = tmp_path / "page.json"
    src.write_text(json.dumps({"type": "AnnotationPage",
                               "items": [_anno(source="images/botticelli_birth_of_venus.jpg"), bad]}))
    assert_refused(tmp_path, sample_copy, "w3c", src, "page.json", *needles)


def test_w3c_deeply_nested_json_refused(sample_copy: Path, tmp_path: Path) -> None:
    src = tmp_path / "page.json"
    src.write_text('{"type": "AnnotationPage", "items": ' + DEEP + "}")
    assert_refused(tmp_path, sample_copy, "w3c", src, "page.json", "nested")


def test_w3c_target_outside_collection_is_skipped_not_resolved(sample_copy: Path, tmp_path: Path) -> None:
    src = tmp_path / "page.json"
    src.write_text(json.dumps({"type": "AnnotationPage",
                               "items": [_anno(source="file:///etc/passwd"), _anno(source="../../../etc/passwd")]}))
    before = snapshot(tmp_path)
    res = runner.invoke(app, ["import", str(sample_copy), "-f", "w3c", "--from", str(src)])
    assert res.exit_code == 0, res.output
    assert "wrote 0 annotation file(s)" in res.output and "skipped ../../../etc/passwd" in res.output
    assert snapshot(tmp_path) == before


# -- unreadable input ---------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["coco", "labelme", "w3c"])
def test_unreadable_or_non_utf8_file_refused(sample_copy: Path, tmp_path: Path, fmt: str) -> None:
    src = tmp_path / "latin1.json"
    src.write_bytes(b'{"label": "\xe9t\xe9"}')
    assert_refused(tmp_path, sample_copy, fmt, src, "latin1.json")
