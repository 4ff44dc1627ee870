"""labelme JSON files (one per image): rectangles become VOC boxes, other shapes are reported.

labelme stores points in image coordinates as its Qt canvas sees them: 0-based, pixel ``i``
spanning ``[i, i+1)``.  So the two corners of a rectangle are *edges*, converted with
:meth:`Box.from_edges` (which also orders corners dragged in any direction).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from artannot.core.interop.base import (
    ArtworkIndex,
    ImportReport,
    InteropError,
    checked_box,
    dimension,
    label,
    load_json,
    number,
    require,
    write_regions,
)
from artannot.core.model import Region
from artannot.core.safe_xml import xml_text_problem

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
    width = dimension(width, "imageWidth", path) if width else 0
    height = dimension(height, "imageHeight", path) if height else 0
    if size and size != (0, 0):
        if width and height and (width, height) != tuple(size):
            raise InteropError(
                f"the file says the image is {width}x{height} but it is {size[0]}x{size[1]}", path)
        width, height = size
    out = LabelmeFile(image_path, width, height)
    for i, shape in enumerate(shapes, start=1):
        what = f"shape {i}"
        text = label(require(shape, "label", str, what, path), what, path)
        kind = shape.get("shape_type") or "polygon"  # labelme's own default
        if kind != "rectangle":
            out.skipped.append(f"{what} ({kind} {text!r}): only rectangles are imported")
            continue
        points = require(shape, "points", list, what, path)
        if len(points) != 2 or not all(isinstance(p, list) and len(p) == 2 for p in points):
            raise InteropError(f"{what} ({text!r}): a rectangle needs two [x, y] corners, got {points!r}", path)
        (xa, ya), (xb, yb) = ((number(v, f"{what} point", path) for v in p) for p in points)
        edges = (min(xa, xb), min(ya, yb), max(xa, xb), max(ya, yb))
        box = checked_box(edges, width, height, f"{what} ({text!r})", path)
        out.regions.append(Region(box=box, phrase=text))
    return out


def _files(source: Path) -> list[Path]:
    if source.is_dir():
        return sorted(p for p in source.rglob("*.json") if not p.name.startswith("."))
    if source.is_file():
        return [source]
    raise InteropError("no such file or folder", source)


def _artwork_of(root: Path, index: ArtworkIndex, path: Path, data: Any) -> tuple[str, str | None]:
    """``(image name, artwork id or None)`` for one labelme file.

    ``imagePath`` is relative to the JSON file.  Inside the collection it must be an artwork;
    a path that climbs out of the JSON's folder and out of the collection (``../../etc/passwd``)
    may only match an artwork by its collection-relative tail (``../images/x.jpg`` from a copy of
    the project) and is an error otherwise -- never a guess by the JSON's own name.  Only a file
    without ``imagePath`` is matched by its stem.
    """
    image_path = data.get("imagePath") if isinstance(data, dict) else None
    if not isinstance(image_path, str) or not image_path:
        same = [a for a in index.ids if PurePosixPath(a).stem == path.stem]
        return path.stem, same[0] if len(same) == 1 else None
    problem = xml_text_problem(image_path)  # a NUL would also break path handling
    if problem:
        raise InteropError(f"imagePath {image_path.encode('ascii', 'backslashreplace').decode()!r} {problem}", path)
    posix = image_path.replace("\\", "/")
    target = Path(os.path.normpath(path.parent.resolve() / posix))
    if target.is_relative_to(root):
        rel = target.relative_to(root).as_posix()
        return image_path, rel if rel in index.ids else None
    climbs = PurePosixPath(posix).is_absolute() or PurePosixPath(os.path.normpath(posix)).parts[:1] == ("..",)
    if not climbs:
        return image_path, index.find(posix)
    aid = index.find(posix, by_name=False)
    if aid is None:
        raise InteropError(f"imagePath {image_path!r} points outside the collection", path)
    return image_path, aid


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
        name, aid = _artwork_of(catalog.root, index, path, data)
        if aid is None:
            report.skipped.append((str(path), f"no artwork for image {name!r} in the collection"))
            continue
        parsed = from_labelme(data, path, catalog.image_size(aid))
        report.skipped += [(str(path), s) for s in parsed.skipped]
        found.setdefault(aid, []).extend(parsed.regions)
    return write_regions(catalog, found, overwrite=overwrite, report=report)
