"""Export VOC files into a folder, normalised to LabelImg's element order (lossless otherwise)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from artannot.core.errors import ArtannotError
from artannot.core.interop.base import ExportReport, check_target
from artannot.core.safe_io import atomic_write
from artannot.core.voc import read_voc, voc_bytes

if TYPE_CHECKING:
    from artannot.core.catalog import Catalog


def export_voc(catalog: Catalog, out_dir: Path, ids: Sequence[str], *, overwrite: bool = False) -> ExportReport:
    """``<out_dir>/<stem>.xml`` per annotated artwork (image subfolders mirrored when stems clash).

    Every target is checked before anything is written, so a refused export writes nothing.
    """
    out_dir = Path(out_dir)
    report = ExportReport()
    stems = [PurePosixPath(a).stem for a in ids]
    plan = []
    for aid in ids:
        src = catalog.annotation_path(aid)
        if not src.exists():
            report.skipped.append((aid, "not annotated"))
            continue
        p = PurePosixPath(aid)
        rel = p.stem + ".xml" if stems.count(p.stem) == 1 else str(p.with_suffix(".xml"))
        target = out_dir / rel
        check_target(target, overwrite)
        plan.append((aid, src, target))
    for aid, src, target in plan:
        try:
            ann = read_voc(src)
        except ArtannotError as exc:
            report.skipped.append((aid, str(exc)))
            continue
        atomic_write(target, voc_bytes(ann), backup=False)
        report.written.append(target)
        report.artworks += 1
        report.boxes += len(ann.regions)
    return report
