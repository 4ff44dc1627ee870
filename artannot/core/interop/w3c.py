"""W3C Web Annotation JSON-LD with IIIF-style ``xywh=`` media-fragment selectors.

One ``AnnotationPage`` of ``Annotation`` items, the shape Mirador and Annotorious read::

    {"type": "Annotation", "motivation": "tagging",
     "body": {"type": "TextualBody", "value": "towering blue wave", "purpose": "tagging"},
     "target": {"source": "<image URI or IIIF canvas id>",
                "selector": {"type": "FragmentSelector",
                             "conformsTo": "http://www.w3.org/TR/media-frags/",
                             "value": "xywh=94,39,466,341"}}}

``xywh`` is 0-based ``x, y, width, height`` in image pixels (:meth:`Box.to_xywh`): VOC
``xmin=1`` is ``x=0``.  A canvas id works as the source when the canvas has the image's size.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

from artannot.core.interop.base import (
    ArtworkIndex,
    ExportReport,
    ImportReport,
    InteropError,
    annotation_to_export,
    check_target,
    checked_xywh,
    label,
    load_json,
    tidy,
    write_regions,
)
from artannot.core.interop.canvases import canvas_links
from artannot.core.interop.selectors import parse_target
from artannot.core.model import Annotation, Region
from artannot.core.safe_io import atomic_write

if TYPE_CHECKING:
    from artannot.core.catalog import Catalog

CONTEXT = "http://www.w3.org/ns/anno.jsonld"
MEDIA_FRAGS = "http://www.w3.org/TR/media-frags/"
_NS = uuid.UUID("5b8e3f2a-7c1d-4e6a-9f0b-2d4c6e8a1b3f")  # stable annotation ids across exports


def _num(v: float) -> str:
    v = tidy(v)
    return str(int(v)) if float(v).is_integer() else repr(v)


def xywh_value(region: Region) -> str:
    return "xywh=" + ",".join(_num(v) for v in region.box.to_xywh())


def to_w3c(items: Sequence[tuple[str, str, Annotation]], page_id: str = "urn:artannot:annotations") -> dict[str, Any]:
    """An AnnotationPage for ``(artwork id, target source, annotation)`` items."""
    out = []
    for aid, source, ann in items:
        for i, r in enumerate(ann.regions):
            out.append({
                "id": f"urn:uuid:{uuid.uuid5(_NS, f'{aid}#{i}#{xywh_value(r)}#{r.phrase}')}",
                "type": "Annotation",
                "motivation": "tagging",
                "body": {"type": "TextualBody", "value": r.phrase, "purpose": "tagging", "format": "text/plain"},
                "target": {
                    "source": source,
                    "selector": {"type": "FragmentSelector", "conformsTo": MEDIA_FRAGS, "value": xywh_value(r)},
                },
            })
    return {"@context": CONTEXT, "id": page_id, "type": "AnnotationPage", "items": out}


def _items(data: Any, path: Path | str) -> list[Any]:
    """Annotations of a page, a collection (``first`` page embedded), a list, or one annotation."""
    if isinstance(data, list):
        return data
    if not isinstance(data, dict):
        raise InteropError("a W3C annotation file must be a JSON object or list", path)
    kind = data.get("type")
    if kind == "Annotation":
        return [data]
    if kind == "AnnotationCollection" and isinstance(data.get("first"), dict):
        data = data["first"]
    items = data.get("items")
    if not isinstance(items, list):
        raise InteropError("expected an AnnotationPage with an 'items' list (or an Annotation)", path)
    return items


def _phrase(body: Any) -> str | None:
    bodies = body if isinstance(body, list) else [body]
    texts = [b for b in bodies if isinstance(b, dict) and b.get("type") == "TextualBody" and isinstance(b.get("value"), str)]
    tagging = [b for b in texts if b.get("purpose") == "tagging"]
    pick = (tagging or texts or [None])[0]
    return pick["value"].strip() if pick else None


def from_w3c(
    data: Any, path: Path | str = "<w3c>", size_of: Callable[[str], tuple[int, int]] | None = None,
    notes: list[str] | None = None,
) -> list[tuple[str, Region]]:
    """``(target source, region)`` pairs, boxes in the target's units (see
    :mod:`artannot.core.interop.selectors` for the target forms); ``size_of(source)`` gives the
    target's size used to check boxes and to convert ``percent:`` fragments (``(0, 0)`` when
    unknown). Shapes taken as their bounding box are described in ``notes``."""
    out = []
    for i, a in enumerate(_items(data, path), start=1):
        what = f"annotation {i}"
        if not isinstance(a, dict) or a.get("type") != "Annotation":
            raise InteropError(f"{what} is not an object of type Annotation", path)
        phrase = _phrase(a.get("body"))
        if phrase is None:
            raise InteropError(f"{what} has no TextualBody with a value", path)
        phrase = label(phrase, what, path)
        selection = parse_target(a.get("target"), what, path)
        x, y, w, h = selection.xywh
        source = selection.source
        if selection.shape != "rect" and notes is not None:
            notes.append(f"{what} ({phrase!r}): {selection.shape} -> bounding box")
        width, height = size_of(source) if size_of else (0, 0)
        if selection.percent:
            if not width or not height:
                raise InteropError(f"{what}: percent fragment but the image size is unknown", path)
            x, w, y, h = x * width / 100, w * width / 100, y * height / 100, h * height / 100
        box = checked_xywh((x, y, w, h), width, height, f"{what} ({phrase!r})", path)
        out.append((source, Region(box=box, phrase=phrase)))
    return out


def source_for(catalog: Catalog, artwork_id: str, base_uri: str | None = None) -> str:
    """The target URI of an artwork: ``base_uri`` + its id (an IIIF image/canvas base), or a file URI."""
    if base_uri:
        return base_uri.rstrip("/") + "/" + quote(artwork_id)
    return (catalog.root / artwork_id).resolve().as_uri()


def artwork_of(source: str, index: ArtworkIndex) -> str | None:
    """The artwork a target source names: by path suffix or by unique file name."""
    parts = urlsplit(source)
    return index.find(unquote(parts.path) if parts.scheme else source)


def export_w3c(
    catalog: Catalog, out: Path, ids: Sequence[str], *, base_uri: str | None = None, overwrite: bool = False
) -> ExportReport:
    out = Path(out)
    if out.suffix.lower() not in (".json", ".jsonld"):
        out = out / "annotations.jsonld"
    check_target(out, overwrite)
    report = ExportReport()
    items = []
    for aid in ids:
        report.artworks += 1
        ann = annotation_to_export(catalog, aid, report)
        if ann is None:
            continue
        report.boxes += len(ann.regions)
        items.append((aid, source_for(catalog, aid, base_uri), ann))
    data = to_w3c(items)
    atomic_write(out, json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8"), backup=False)
    report.written.append(out)
    return report


def annotation_files(source: Path) -> list[Path]:
    """``source`` itself, or every ``.json``/``.jsonld`` annotation file below a folder (an
    ``export -f iiif`` folder: its ``manifest.json`` copies are not annotations)."""
    if not source.is_dir():
        return [source]
    return sorted(p for p in source.rglob("*") if p.suffix.lower() in (".json", ".jsonld")
                  and p.name != "manifest.json" and not p.name.startswith(".") and p.is_file())


def import_w3c(catalog: Catalog, source: Path, *, overwrite: bool = False) -> ImportReport:
    """Boxes of a W3C annotation file (or a folder of them) into VOC files. Targets that are
    canvases of a collection fetched with ``index --iiif`` map to their artwork, scaled from
    canvas units to the stored image's pixels."""
    source = Path(source)
    index = ArtworkIndex(catalog.artwork_ids())
    canvases = canvas_links(catalog)

    def size_of(src: str) -> tuple[int, int]:
        if src in canvases:
            return canvases[src].canvas_size
        aid = artwork_of(src, index)
        return catalog.image_size(aid) if aid else (0, 0)

    report = ImportReport()
    found: dict[str, list[Region]] = {}
    unknown: set[str] = set()
    for file in annotation_files(source):
        for src, region in from_w3c(load_json(file), file, size_of, report.approximated):
            link = canvases.get(src)
            aid = link.artwork if link else artwork_of(src, index)
            if aid is None:
                unknown.add(src)
                continue
            if link is not None:
                region.box = link.to_image(region.box)
            found.setdefault(aid, []).append(region)
    report.skipped += [(s, "no artwork for this target in the collection") for s in sorted(unknown)]
    return write_regions(catalog, found, overwrite=overwrite, report=report)
