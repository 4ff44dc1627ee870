"""What every import and export shares: errors, reports, selection and writing VOC files.

Importers turn a foreign file into ``{artwork id: [Region, ...]}`` with *every* box checked
first; only then is anything written, so an invalid file never leaves a half-imported
collection.  Box conversions go through :class:`artannot.core.geometry.Box` only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from artannot.core.errors import ArtannotError
from artannot.core.geometry import Box
from artannot.core.model import Annotation, Region
from artannot.core.safe_io import write_all
from artannot.core.safe_json import read_untrusted_json
from artannot.core.safe_xml import xml_text_problem
from artannot.core.voc import VocValidationError, new_annotation, read_voc, validate, voc_bytes

if TYPE_CHECKING:
    from artannot.core.catalog import Catalog


class InteropError(ArtannotError):
    """A file to import is invalid (bad JSON, missing field, impossible box, unknown class)."""

    code = "E701"


class ExportError(ArtannotError):
    """An export cannot be done (nothing selected, unknown id, output exists)."""

    code = "E702"


@dataclass(slots=True)
class ImportReport:
    written: list[Path] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (item, why)
    boxes: int = 0
    approximated: list[str] = field(default_factory=list)  # shapes imported as their bounding box

    def lines(self) -> list[str]:
        out = [f"wrote {len(self.written)} annotation file(s) with {self.boxes} box(es)"]
        if self.approximated:
            out.append(f"  {len(self.approximated)} non-rectangular shape(s) imported as their bounding box")
        out += [f"  wrote {p}" for p in self.written]
        out += [f"  skipped {item}: {why}" for item, why in self.skipped]
        return out


@dataclass(slots=True)
class ExportReport:
    written: list[Path] = field(default_factory=list)
    artworks: int = 0
    boxes: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"exported {self.artworks} artwork(s), {self.boxes} box(es)"]
        out += [f"  wrote {p}" for p in self.written]
        out += [f"  skipped {item}: {why}" for item, why in self.skipped]
        return out


# -- reading helpers ------------------------------------------------------------

def load_json(path: Path) -> Any:
    """JSON from ``path`` (BOM tolerated); any problem is an :class:`InteropError` naming the file."""
    return read_untrusted_json(path, error=InteropError)


def number(value: Any, what: str, path: Path | str) -> float:
    """A finite number (bools refused: JSON ``true`` is not a coordinate; ``10**400`` is no float)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InteropError(f"{what} must be a number, got {value!r}", path)
    try:
        result = float(value)
    except OverflowError:
        raise InteropError(f"{what} is too large ({len(str(value))} digits)", path) from None
    if not math.isfinite(result):
        raise InteropError(f"{what} must be a finite number, got {value!r}", path)
    return result


# Largest image side accepted from a file (a 2 gigapixel-wide scan still fits).
MAX_DIMENSION = 1 << 31


def dimension(value: Any, what: str, path: Path | str) -> int:
    """An image width or height: a positive integer no larger than :data:`MAX_DIMENSION`."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_DIMENSION:
        shown = f"{len(str(value))}-digit number" if isinstance(value, int) and value > MAX_DIMENSION else repr(value)
        raise InteropError(f"{what} must be a positive integer up to {MAX_DIMENSION}, got {shown}", path)
    return value


def label(value: Any, what: str, path: Path | str) -> str:
    """A phrase (or other text) headed for a VOC file: XML must be able to hold it, so control
    characters and lone surrogates are refused here instead of failing at save time."""
    if not isinstance(value, str):
        raise InteropError(f"{what} must be text, got {type(value).__name__}", path)
    problem = xml_text_problem(value)
    if problem:
        raise InteropError(f"{what}: label {value.encode('ascii', 'backslashreplace').decode()!r} {problem}", path)
    return value.strip()


def require(obj: Any, key: str, kind: type | tuple[type, ...], what: str, path: Path | str) -> Any:
    if not isinstance(obj, dict):
        raise InteropError(f"{what} must be a JSON object", path)
    if key not in obj:
        raise InteropError(f"{what} has no {key!r} field", path)
    value = obj[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise InteropError(f"{what}: {key!r} has the wrong type ({type(value).__name__})", path)
    return value


# Float noise allowed at the image border (e.g. 0.1 + 0.2 style sums, 6-decimal YOLO files).
BORDER_TOLERANCE = 1e-6


def check_edges(edges: tuple[float, float, float, float], width: int, height: int, what: str,
                path: Path | str) -> tuple[float, float, float, float]:
    """0-based edges ``(x0, y0, x1, y1)`` checked to be a non-empty box inside a ``width`` x
    ``height`` image; float noise at the border (within ``BORDER_TOLERANCE``) is clamped."""
    x0, y0, x1, y1 = edges
    if not all(math.isfinite(v) for v in edges):
        raise InteropError(f"{what} has a coordinate that is not a finite number ({x0:g},{y0:g} - {x1:g},{y1:g})",
                           path)
    if x1 <= x0 or y1 <= y0:
        raise InteropError(f"{what} is empty or inverted (edges {x0:g},{y0:g} - {x1:g},{y1:g})", path)
    if width > 0 and height > 0:
        tol = BORDER_TOLERANCE * max(width, height)
        if x0 < -tol or y0 < -tol or x1 > width + tol or y1 > height + tol:
            raise InteropError(
                f"{what} lies outside the {width}x{height} image (edges {x0:g},{y0:g} - {x1:g},{y1:g})", path
            )
        x0, y0 = max(x0, 0.0), max(y0, 0.0)
        x1, y1 = min(x1, float(width)), min(y1, float(height))
    return (x0, y0, x1, y1)


def checked_box(edges: tuple[float, float, float, float], width: int, height: int, what: str,
                path: Path | str) -> Box:
    """:func:`check_edges`, then ``Box.from_edges``."""
    return Box.from_edges(*check_edges(edges, width, height, what, path))


def checked_xywh(xywh: tuple[float, float, float, float], width: int, height: int, what: str,
                 path: Path | str) -> Box:
    """A COCO/IIIF 0-based ``(x, y, w, h)`` box, checked, converted with ``Box.from_xywh``."""
    x, y, w, h = xywh
    if w <= 0 or h <= 0:
        raise InteropError(f"{what}: width and height must be positive, got {w:g} x {h:g}", path)
    edges = (x, y, x + w, y + h)
    clamped = check_edges(edges, width, height, what, path)
    return Box.from_xywh(x, y, w, h) if clamped == edges else Box.from_edges(*clamped)


def tidy(v: float, places: int = 6) -> float:
    """Round away binary float noise (``90.80000000000001`` -> ``90.8``) for files people read."""
    r = round(v, places)
    return float(int(r)) if r.is_integer() else r


# -- matching foreign file names to artworks ------------------------------------------

class ArtworkIndex:
    """Finds an artwork by id, by a path ending in its id, or by a unique file name."""

    def __init__(self, ids: Iterable[str]) -> None:
        self.ids = set(ids)
        self._by_name: dict[str, list[str]] = {}
        for aid in self.ids:
            self._by_name.setdefault(PurePosixPath(aid).name, []).append(aid)

    def find(self, name: str, *, by_name: bool = True) -> str | None:
        """``by_name=False``: only an exact id or a path ending in one (no file-name guess)."""
        name = name.replace("\\", "/").removeprefix("./")
        if name in self.ids:
            return name
        parts = PurePosixPath(name).parts
        for i in range(1, len(parts)):  # "../images/x.jpg", "/abs/coll/images/x.jpg"
            tail = "/".join(parts[i:])
            if tail in self.ids:
                return tail
        if not by_name:
            return None
        hits = self._by_name.get(PurePosixPath(name).name, [])
        return hits[0] if len(hits) == 1 else None


# -- writing -------------------------------------------------------------------------

def write_regions(
    catalog: Catalog,
    found: dict[str, list[Region]],
    *,
    overwrite: bool = False,
    report: ImportReport | None = None,
) -> ImportReport:
    """Write one VOC file per artwork (where the collection keeps it), never clobbering one
    that exists unless ``overwrite`` (then the old file is kept as ``.bak``).

    All or nothing: every document is built and checked, then :func:`write_all` stages them
    all before replacing any, so a full disk or a failed rename never leaves half an import."""
    report = report or ImportReport()
    files: dict[Path, bytes] = {}
    boxes = 0
    for aid in sorted(found):
        regions = found[aid]
        if not regions:
            report.skipped.append((aid, "no rectangles to import"))
            continue
        target = catalog.annotation_path(aid)
        if target.exists() and not overwrite:
            report.skipped.append((aid, f"{target.name} exists (use --overwrite to replace it)"))
            continue
        width, height = catalog.image_size(aid)
        ann = new_annotation(catalog.root / aid, width, height)
        ann.regions = list(regions)
        problems = validate(ann)
        if problems:
            raise VocValidationError("; ".join(problems), target)
        files[target] = voc_bytes(ann)
        boxes += len(regions)
    if files:
        report.written += write_all(files)
        report.boxes += boxes
        catalog.refresh()
    return report


# -- reading for exports ----------------------------------------------------------------

def annotation_to_export(catalog: Catalog, artwork_id: str, report: ExportReport) -> Annotation | None:
    """The artwork's saved annotation; None when it has none, or when its file is broken
    (then named in ``report.skipped``: a broken file is reported, never half-exported)."""
    path = catalog.annotation_path(artwork_id)
    if not path.exists():
        return None
    try:
        return read_voc(path)
    except ArtannotError as exc:
        report.skipped.append((artwork_id, str(exc)))
        return None


# -- selection -----------------------------------------------------------------------

def select_ids(catalog: Catalog, ids: Sequence[str] | None = None, query: str | None = None) -> list[str]:
    """Artwork ids to export: ``ids`` (each must exist), a catalog full-text ``query``, both
    (their intersection), or everything."""
    known = catalog.artwork_ids()
    chosen = list(known)
    if ids:
        index = ArtworkIndex(known)
        picked = []
        for given in ids:
            aid = index.find(given)
            if aid is None:
                raise ExportError(f"no artwork {given!r} in the collection", catalog.root)
            picked.append(aid)
        chosen = list(dict.fromkeys(picked))
    if query:
        matching = {r.id for r in catalog.rows(query)}
        chosen = [a for a in chosen if a in matching]
    if not chosen:
        raise ExportError("nothing selected to export" + (f" (query {query!r} matches nothing)" if query else ""),
                          catalog.root)
    return chosen


def check_target(path: Path, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        raise ExportError("output exists (use --overwrite to replace it)", path)
