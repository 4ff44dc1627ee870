"""COCO object-detection JSON: boxes are 0-based ``[x, y, w, h]`` and phrases are categories.

VOC ``xmin=1, xmax=W`` (a box touching both borders) is COCO ``x=0, w=W``; the conversion is
:meth:`Box.to_xywh` / :meth:`Box.from_xywh` and nothing else.  Pose, truncated and difficult
travel in each annotation's ``attributes`` (as CVAT does), so VOC -> COCO -> VOC is lossless
for everything artannot edits.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from artannot.core.errors import ArtannotError
from artannot.core.interop.base import (
    ArtworkIndex,
    ExportReport,
    ImportReport,
    InteropError,
    check_target,
    checked_xywh,
    dimension,
    label,
    load_json,
    number,
    require,
    tidy,
    write_regions,
)
from artannot.core.model import Annotation, Region
from artannot.core.safe_io import atomic_write
from artannot.core.voc import read_voc

if TYPE_CHECKING:
    from artannot.core.catalog import Catalog

SUPERCATEGORY = "phrase"


@dataclass(slots=True)
class CocoImage:
    """One image of a COCO file with the regions found on it, in VOC convention."""

    file_name: str
    width: int
    height: int
    regions: list[Region] = field(default_factory=list)


def to_coco(images: Sequence[tuple[str, int, int, Annotation | None]]) -> dict[str, Any]:
    """COCO dict for ``(file_name, width, height, annotation)`` items; category ids number the
    distinct phrases in sorted order, from 1 (COCO reserves 0 for background in many tools)."""
    phrases = sorted({r.phrase for *_, ann in images if ann is not None for r in ann.regions})
    cat_id = {p: i for i, p in enumerate(phrases, start=1)}
    out_images, out_anns = [], []
    for image_id, (name, width, height, ann) in enumerate(images, start=1):
        out_images.append({"id": image_id, "file_name": name, "width": int(width), "height": int(height)})
        for r in ann.regions if ann is not None else []:
            x, y, w, h = (tidy(v) for v in r.box.to_xywh())
            out_anns.append({
                "id": len(out_anns) + 1, "image_id": image_id, "category_id": cat_id[r.phrase],
                "bbox": [x, y, w, h], "area": tidy(w * h), "iscrowd": 0, "segmentation": [],
                "attributes": {"pose": r.pose, "truncated": r.truncated, "difficult": r.difficult},
            })
    return {
        "info": {"description": "exported by artannot", "version": "1.0"},
        "licenses": [],
        "images": out_images,
        "annotations": out_anns,
        "categories": [{"id": i, "name": p, "supercategory": SUPERCATEGORY} for p, i in cat_id.items()],
    }


def from_coco(data: Any, path: Path | str = "<coco>") -> list[CocoImage]:
    """Images with their regions; refuses the whole file at the first invalid entry."""
    if not isinstance(data, dict):
        raise InteropError("a COCO file must be a JSON object with images, annotations and categories", path)
    images = require(data, "images", list, "COCO file", path)
    anns = require(data, "annotations", list, "COCO file", path)
    cats = require(data, "categories", list, "COCO file", path)
    names: dict[int, str] = {}
    for i, c in enumerate(cats):
        cid = require(c, "id", int, f"categories[{i}]", path)
        names[cid] = label(require(c, "name", str, f"categories[{i}]", path), f"categories[{i}]", path)
    by_id: dict[int, CocoImage] = {}
    for i, im in enumerate(images):
        iid = require(im, "id", (int, str), f"images[{i}]", path)
        name = require(im, "file_name", str, f"images[{i}]", path)
        w = dimension(require(im, "width", int, f"images[{i}]", path), f"images[{i}] ({name}) width", path)
        h = dimension(require(im, "height", int, f"images[{i}]", path), f"images[{i}] ({name}) height", path)
        if iid in by_id:
            raise InteropError(f"images[{i}]: image id {iid!r} is used twice", path)
        by_id[iid] = CocoImage(name, w, h)
    for i, a in enumerate(anns):
        what = f"annotations[{i}]"
        iid = require(a, "image_id", (int, str), what, path)
        cid = require(a, "category_id", int, what, path)
        bbox = require(a, "bbox", list, what, path)
        if iid not in by_id:
            raise InteropError(f"{what}: image id {iid!r} is not in images", path)
        if cid not in names:
            raise InteropError(f"{what}: category id {cid} is unknown (known: {sorted(names)})", path)
        if len(bbox) != 4:
            raise InteropError(f"{what}: bbox must be [x, y, width, height], got {bbox!r}", path)
        x, y, w, h = (number(v, f"{what} bbox", path) for v in bbox)
        img = by_id[iid]
        box = checked_xywh((x, y, w, h), img.width, img.height, f"{what} bbox {bbox}", path)
        attrs = a.get("attributes") if isinstance(a.get("attributes"), dict) else {}
        img.regions.append(Region(
            box=box, phrase=names[cid], pose=label(str(attrs.get("pose", "Unspecified")), f"{what} pose", path),
            truncated=bool(attrs.get("truncated", False)), difficult=bool(attrs.get("difficult", False)),
        ))
    return list(by_id.values())


def import_coco(catalog: Catalog, source: Path, *, overwrite: bool = False) -> ImportReport:
    """Write the boxes of a COCO file as VOC files of the artworks its ``file_name`` values name."""
    source = Path(source)
    images = from_coco(load_json(source), source)
    index = ArtworkIndex(catalog.artwork_ids())
    report = ImportReport()
    found: dict[str, list[Region]] = {}
    for img in images:
        aid = index.find(img.file_name)
        if aid is None:
            report.skipped.append((img.file_name, "no artwork with this file name in the collection"))
            continue
        actual = catalog.image_size(aid)
        if actual != (img.width, img.height) and actual != (0, 0):
            raise InteropError(
                f"{img.file_name}: the COCO file says {img.width}x{img.height} but the image is "
                f"{actual[0]}x{actual[1]}; boxes would land in the wrong place", source)
        found.setdefault(aid, []).extend(img.regions)
    return write_regions(catalog, found, overwrite=overwrite, report=report)


def export_coco(catalog: Catalog, out: Path, ids: Sequence[str], *, overwrite: bool = False) -> ExportReport:
    """One COCO JSON file for the artworks ``ids`` (artworks without boxes are listed as images)."""
    out = Path(out)
    if out.suffix.lower() != ".json":
        out = out / "coco.json"
    check_target(out, overwrite)
    report = ExportReport()
    items = []
    for aid in ids:
        width, height = catalog.image_size(aid)
        path = catalog.annotation_path(aid)
        ann = None
        if path.exists():
            try:
                ann = read_voc(path)
            except ArtannotError as exc:  # a broken file is reported, never half-exported
                report.skipped.append((aid, str(exc)))
                continue
        if ann is not None and (width, height) == (0, 0):
            width, height = ann.width, ann.height
        items.append((aid, width, height, ann))
        report.artworks += 1
        report.boxes += len(ann.regions) if ann else 0
    data = to_coco(items)
    atomic_write(out, json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8"), backup=False)
    report.written.append(out)
    return report
