"""labelme JSON files (one per image): rectangles become VOC boxes, other shapes are reported.

labelme stores points in image coordinates as its Qt canvas sees them: 0-based, pixel ``i``
spanning ``[i, i+1)``.  So the two corners of a rectangle are *edges*, converted with
:meth:`Box.from_edges` (which also orders corners dragged in any direction).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from artannot.core.interop.base import (
    ArtworkIndex,
    ImportReport,
    InteropError,
    checked_box,
    load_json,
    number,
    require,
    write_regions,
)
from artannot.core.model import Region

if TYPE_CHECKING:
    from artannot.core.catalog import Catalog


@dataclass(slots=True)
class LabelmeFile:
    image_path: str  # as written in the file (relative to the JSON file)
    width: int  # 0 when the file does not say
    height: int
    regions: list[Region] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def from_labelme(data: Any, path: Path | str = "<labelme>", size: tuple[int, int] | None = None) -> LabelmeFile:
    """Rectangles of one labelme document. ``size`` (the real image size) is used when the file
    has no ``imageWidth``/``imageHeight``, and must agree with them when it has."""
    if not isinstance(data, dict):
        raise InteropError("a labelme file must be a JSON object", path)
    shapes = require(data, "shapes", list, "labelme file", path)
    image_path = data.get("imagePath")
    if not isinstance(image_path, str) or not image_path:
        image_path = Path(str(path)).stem
    width = data.get("imageWidth") or 0
    height = data.get("imageHeight") or 0
    if not isinstance(width, int) or not isinstance(height, int) or width < 0 or height < 0:
        raise InteropError(f"imageWidth/imageHeight must be positive integers, got {width!r} x {height!r}", path)
    if size and size != (0, 0):
        if width and height and (width, height) != tuple(size):
            raise InteropError(
                f"the file says the image is {width}x{height} but it is {size[0]}x{size[1]}", path)
        width, height = size
    out = LabelmeFile(image_path, width, height)
    for i, shape in enumerate(shapes, start=1):
        what = f"shape {i}"
        label = require(shape, "label", str, what, path)
        kind = shape.get("shape_type") or "polygon"  # labelme's own default
        if kind != "rectangle":
            out.skipped.append(f"{what} ({kind} {label!r}): only rectangles are imported")
            continue
        points = require(shape, "points", list, what, path)
        if len(points) != 2 or not all(isinstance(p, list) and len(p) == 2 for p in points):
            raise InteropError(f"{what} ({label!r}): a rectangle needs two [x, y] corners, got {points!r}", path)
        (xa, ya), (xb, yb) = ((number(v, f"{what} point", path) for v in p) for p in points)
        edges = (min(xa, xb), min(ya, yb), max(xa, xb), max(ya, yb))
        box = checked_box(edges, width, height, f"{what} ({label!r})", path)
        out.regions.append(Region(box=box, phrase=label.strip()))
    return out


def _files(source: Path) -> list[Path]:
    if source.is_dir():
        return sorted(p for p in source.rglob("*.json") if not p.name.startswith("."))
    if source.is_file():
        return [source]
    raise InteropError("no such file or folder", source)


def import_labelme(catalog: Catalog, source: Path, *, overwrite: bool = False) -> ImportReport:
    """Import one labelme file or every ``*.json`` below a folder."""
    source = Path(source)
    index = ArtworkIndex(catalog.artwork_ids())
    report = ImportReport()
    found: dict[str, list[Region]] = {}
    files = _files(source)
    if not files:
        raise InteropError("no labelme .json files found", source)
    for path in files:
        data = load_json(path)
        image_path = data.get("imagePath") if isinstance(data, dict) else None
        name = image_path if isinstance(image_path, str) and image_path else path.stem
        aid = index.find(name)
        if aid is None:  # a JSON file named like the image stem, when that stem is unique
            same = [a for a in index.ids if PurePosixPath(a).stem == path.stem]
            aid = same[0] if len(same) == 1 else None
        if aid is None:
            report.skipped.append((str(path), f"no artwork for image {name!r} in the collection"))
            continue
        parsed = from_labelme(data, path, catalog.image_size(aid))
        report.skipped += [(str(path), s) for s in parsed.skipped]
        found.setdefault(aid, []).extend(parsed.regions)
    return write_regions(catalog, found, overwrite=overwrite, report=report)
