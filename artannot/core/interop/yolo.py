"""YOLO txt labels: one file per image, lines ``class cx cy w h`` normalised to ``[0, 1]``.

The centre and size are fractions of the image's width and height, measured on 0-based edges:
``x0 = (cx - w/2) * W``, ``x1 = (cx + w/2) * W``, then :meth:`Box.from_edges`.  Files are
written with ~6 decimals, so edges land a few thousandths of a pixel off the integer the
author meant; :func:`snap` puts them back (documented in docs/formats.md).
"""

from __future__ import annotations

import math
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from artannot.core.geometry import Box
from artannot.core.interop.base import ImportReport, InteropError, checked_box, label, write_regions
from artannot.core.model import Region

if TYPE_CHECKING:
    from artannot.core.catalog import Catalog

CLASSES_FILE = "classes.txt"
SNAP_PIXELS = 0.01  # an edge this close to an integer pixel boundary is put on it


def snap(v: float) -> float:
    r = round(v)
    return float(r) if abs(v - r) <= SNAP_PIXELS else round(v, 3)


def read_classes(path: Path) -> list[str]:
    """Class names, one a line, line number = class id (blank lines at the end ignored)."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as exc:
        raise InteropError(f"cannot read the class list: {exc.strerror or exc}", path) from exc
    except UnicodeDecodeError as exc:
        raise InteropError(f"class list is not UTF-8 text: {exc}", path) from exc
    while lines and not lines[-1].strip():
        lines.pop()
    names = [ln.strip() for ln in lines]
    if not names:
        raise InteropError("class list is empty", path)
    for i, n in enumerate(names):
        if not n:
            raise InteropError(f"class {i} (line {i + 1}) has no name", path)
    return [label(n, f"class {i} (line {i + 1})", path) for i, n in enumerate(names)]


def from_yolo(text: str, classes: list[str], width: int, height: int, path: Path | str = "<yolo>") -> list[Region]:
    """Regions of one YOLO label file for a ``width`` x ``height`` image."""
    if width <= 0 or height <= 0:
        raise InteropError("the image size is unknown, so normalised boxes cannot be placed", path)
    regions = []
    for n, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        if len(parts) != 5:
            raise InteropError(f"line {n}: expected 'class cx cy w h', got {line.strip()!r}", path)
        try:
            cls = int(parts[0])
            cx, cy, w, h = (float(p) for p in parts[1:])
        except ValueError:
            raise InteropError(f"line {n}: not numbers: {line.strip()!r}", path) from None
        if not all(math.isfinite(v) for v in (cx, cy, w, h)):
            raise InteropError(f"line {n}: coordinates must be finite numbers, got {line.strip()!r}", path)
        if not 0 <= cls < len(classes):
            raise InteropError(f"line {n}: class id {cls} is unknown ({len(classes)} classes in the class list)", path)
        if w <= 0 or h <= 0:
            raise InteropError(f"line {n}: width and height must be positive, got {w:g} x {h:g}", path)
        edges = (snap((cx - w / 2) * width), snap((cy - h / 2) * height),
                 snap((cx + w / 2) * width), snap((cy + h / 2) * height))
        box = checked_box(edges, width, height, f"line {n} ({classes[cls]!r})", path)
        regions.append(Region(box=box, phrase=classes[cls]))
    return regions


def to_yolo_line(box: Box, class_id: int, width: int, height: int) -> str:
    """The YOLO line for a VOC box (used by tests and by anyone writing YOLO)."""
    x0, y0, x1, y1 = box.to_edges()
    return (f"{class_id} {(x0 + x1) / 2 / width:.6f} {(y0 + y1) / 2 / height:.6f} "
            f"{(x1 - x0) / width:.6f} {(y1 - y0) / height:.6f}")


def import_yolo(
    catalog: Catalog, source: Path, *, classes: Path | None = None, overwrite: bool = False
) -> ImportReport:
    """Import a folder of YOLO ``*.txt`` files (or one file), named after the image stems."""
    source = Path(source)
    if source.is_dir():
        files = sorted(p for p in source.rglob("*.txt") if p.name != CLASSES_FILE and not p.name.startswith("."))
        folder = source
    elif source.is_file():
        files, folder = [source], source.parent
    else:
        raise InteropError("no such file or folder", source)
    classes_path = Path(classes) if classes is not None else folder / CLASSES_FILE
    if not classes_path.exists():
        raise InteropError(f"no class list: give --classes or put {CLASSES_FILE} next to the labels", classes_path)
    names = read_classes(classes_path)
    by_stem: dict[str, list[str]] = {}
    for aid in catalog.artwork_ids():
        by_stem.setdefault(PurePosixPath(aid).stem, []).append(aid)
    report = ImportReport()
    found: dict[str, list[Region]] = {}
    for path in files:
        hits = by_stem.get(path.stem, [])
        if len(hits) != 1:
            why = "no artwork with this stem" if not hits else f"{len(hits)} artworks share this stem"
            report.skipped.append((str(path), why))
            continue
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise InteropError(f"cannot read: {exc}", path) from exc
        width, height = catalog.image_size(hits[0])
        found.setdefault(hits[0], []).extend(from_yolo(text, names, width, height, path))
    return write_regions(catalog, found, overwrite=overwrite, report=report)
