"""``export --format iiif``: W3C annotation pages per canvas and a manifest that references them.

For every manifest the selected artworks came from (``index --iiif``), ``OUT/<folder>/`` gets:

* ``annotations/<image stem>.json`` -- an ``AnnotationPage`` for one canvas; each box is an
  ``Annotation`` (``motivation: tagging``) whose ``target`` is ``<canvas id>#xywh=x,y,w,h`` in
  canvas units: the box in stored-image pixels scaled by canvas size / image size;
* ``manifest.json`` -- the stored copy of the manifest, each annotated canvas listing its page
  (v3 ``annotations``; v2 ``otherContent``), ready for Mirador or Annotorious.

Page ids are ``--base-uri`` + their path under ``OUT`` (where the folder will be published),
or ``file:`` URIs. ``import --format w3c`` (or ``iiif``) reads the pages back, exactly.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from artannot.core.interop.base import (
    ExportError,
    ExportReport,
    annotation_to_export,
    check_target,
    load_json,
)
from artannot.core.interop.canvases import CanvasLink, canvas_link
from artannot.core.interop.w3c import to_w3c
from artannot.core.model import Annotation, Region
from artannot.core.safe_io import write_all
from artannot.core.voc import new_annotation

if TYPE_CHECKING:
    from artannot.core.catalog import Catalog


def _page_uri(out: Path, rel: PurePosixPath, base_uri: str | None) -> str:
    if base_uri:
        return base_uri.rstrip("/") + "/" + quote(str(rel))
    return (out / rel).resolve().as_uri()


def canvas_page(link: CanvasLink, ann: Annotation, page_id: str) -> dict[str, Any]:
    """The annotation page of one canvas: boxes scaled to canvas units, string targets."""
    scaled = new_annotation(link.artwork, *link.canvas_size)
    scaled.regions = [Region(box=link.to_canvas(r.box), phrase=r.phrase) for r in ann.regions]
    page = to_w3c([(link.artwork, link.canvas, scaled)], page_id)
    for item in page["items"]:
        target = item["target"]
        item["target"] = f"{target['source']}#{target['selector']['value']}"
    return page


def _canvases(manifest: dict[str, Any]) -> list[Any]:
    if "sequences" in manifest:
        seqs = manifest.get("sequences") or [{}]
        return seqs[0].get("canvases", []) if isinstance(seqs[0], dict) else []
    return manifest.get("items", []) if isinstance(manifest.get("items"), list) else []


def link_pages(manifest: dict[str, Any], pages: dict[str, str], version: int) -> dict[str, Any]:
    """``manifest`` with each canvas in ``pages`` (canvas id -> page id) referencing its page;
    references the manifest already had to other pages are kept."""
    for canvas in _canvases(manifest):
        if not isinstance(canvas, dict):
            continue
        page = pages.get(canvas.get("id", canvas.get("@id")))
        if page is None:
            continue
        if version == 2:
            refs = [r for r in canvas.get("otherContent", []) if isinstance(r, dict) and r.get("@id") != page]
            canvas["otherContent"] = refs + [{"@id": page, "@type": "sc:AnnotationList"}]
        else:
            refs = [r for r in canvas.get("annotations", []) if isinstance(r, dict) and r.get("id") != page]
            canvas["annotations"] = refs + [{"id": page, "type": "AnnotationPage"}]
    return manifest


def export_iiif(
    catalog: Catalog, out: Path, ids: Sequence[str], *, base_uri: str | None = None, overwrite: bool = False
) -> ExportReport:
    """Pages and manifests under the folder ``out``; artworks not from IIIF are reported as
    skipped. Everything is written together or not at all."""
    out = Path(out)
    if out.suffix.lower() in (".json", ".jsonld"):
        raise ExportError("the iiif export writes a folder (pages and manifests), not one file", out)
    report = ExportReport()
    files: dict[Path, bytes] = {}
    manifests: dict[Path, tuple[CanvasLink, dict[str, str]]] = {}
    for aid in ids:
        report.artworks += 1
        link = canvas_link(catalog.artwork(aid), catalog.image_size(aid))
        if link is None or link.manifest_copy is None:
            report.skipped.append((aid, "not fetched from a IIIF manifest (use --format w3c)"))
            continue
        pages = manifests.setdefault(link.manifest_copy, (link, {}))[1]
        ann = annotation_to_export(catalog, aid, report)
        if ann is None or not ann.regions:
            continue
        rel = PurePosixPath(link.manifest_copy.parent.name, "annotations", PurePosixPath(aid).stem + ".json")
        page_id = _page_uri(out, rel, base_uri)
        files[out / rel] = _json(canvas_page(link, ann, page_id))
        pages[link.canvas] = page_id
        report.boxes += len(ann.regions)
    for copy, (link, pages) in sorted(manifests.items()):
        manifest = load_json(copy)
        if not isinstance(manifest, dict):
            raise ExportError("stored manifest copy is not a JSON object", copy)
        files[out / copy.parent.name / "manifest.json"] = _json(link_pages(manifest, pages, link.version))
    if not files:
        raise ExportError("none of the selected artworks was fetched from a IIIF manifest", catalog.root)
    for path in files:
        check_target(path, overwrite)
    report.written += write_all(files)
    return report


def _json(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8")
