"""Import and export of annotations in other tools' formats (Qt-free).

Importers write VOC files into the collection (never overwriting one unless asked);
exporters read the collection's VOC files.  Formats and coordinate conventions are
described in ``docs/formats.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from artannot.core.interop.base import (
    ExportError,
    ExportReport,
    ImportReport,
    InteropError,
    select_ids,
)
from artannot.core.interop.coco import export_coco, from_coco, import_coco, to_coco
from artannot.core.interop.iiif import export_iiif
from artannot.core.interop.judgements import (
    JudgementsImportReport,
    import_judgements,
    prepare_judgements_export,
)
from artannot.core.interop.labelme import from_labelme, import_labelme
from artannot.core.interop.voc_export import export_voc
from artannot.core.interop.w3c import export_w3c, from_w3c, import_w3c, to_w3c
from artannot.core.interop.yolo import from_yolo, import_yolo, read_classes, to_yolo_line

IMPORT_FORMATS = ("coco", "labelme", "yolo", "w3c", "iiif", "judgements")  # iiif: W3C pages (folder)
EXPORT_FORMATS = ("voc", "coco", "w3c", "iiif")  # karpathy needs artannot.text: see artannot.cli.export_cmd

__all__ = [
    "EXPORT_FORMATS", "IMPORT_FORMATS", "ExportError", "ExportReport", "ImportReport", "InteropError",
    "export_annotations", "export_coco", "export_iiif", "export_voc", "export_w3c", "from_coco", "from_labelme",
    "from_w3c", "from_yolo", "import_annotations", "import_coco", "import_labelme", "import_w3c",
    "import_yolo", "read_classes", "select_ids", "to_coco", "to_w3c", "to_yolo_line",
    "JudgementsImportReport", "import_judgements", "prepare_judgements_export",
]


def import_annotations(
    root: Path | str, fmt: str, source: Path | str, *, classes: Path | str | None = None, overwrite: bool = False
) -> ImportReport | JudgementsImportReport:
    """Import ``source`` (file or folder) in format ``fmt`` into the collection at ``root``
    (``judgements``: merge a ``judgements.jsonl`` into the collection's judgements)."""
    from artannot.core.catalog import Catalog

    if fmt not in IMPORT_FORMATS:
        raise InteropError(f"unknown import format {fmt!r}; expected one of {', '.join(IMPORT_FORMATS)}")
    source = Path(source)
    if not source.exists():
        raise InteropError("no such file or folder", source)
    if classes is not None and fmt != "yolo":
        raise InteropError("--classes only applies to --format yolo")
    with Catalog.open(root) as cat:
        if fmt == "judgements":
            return import_judgements(cat, source)
        if fmt == "coco":
            return import_coco(cat, source, overwrite=overwrite)
        if fmt == "labelme":
            return import_labelme(cat, source, overwrite=overwrite)
        if fmt in ("w3c", "iiif"):
            return import_w3c(cat, source, overwrite=overwrite)
        return import_yolo(cat, source, classes=Path(classes) if classes else None, overwrite=overwrite)


def export_annotations(
    root: Path | str,
    fmt: str,
    out: Path | str,
    *,
    ids: Sequence[str] | None = None,
    query: str | None = None,
    base_uri: str | None = None,
    overwrite: bool = False,
) -> ExportReport:
    """Export the selected artworks of the collection at ``root`` as ``voc``, ``coco`` or ``w3c``."""
    from artannot.core.catalog import Catalog

    if fmt not in EXPORT_FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; expected one of {', '.join(EXPORT_FORMATS)}")
    with Catalog.open(root) as cat:
        chosen = select_ids(cat, ids, query)
        if fmt == "voc":
            return export_voc(cat, Path(out), chosen, overwrite=overwrite)
        if fmt == "coco":
            return export_coco(cat, Path(out), chosen, overwrite=overwrite)
        if fmt == "iiif":
            return export_iiif(cat, Path(out), chosen, base_uri=base_uri, overwrite=overwrite)
        return export_w3c(cat, Path(out), chosen, base_uri=base_uri, overwrite=overwrite)
