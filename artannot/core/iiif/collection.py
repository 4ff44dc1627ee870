"""A IIIF manifest (or a collection of them) written as an ordinary artannot collection folder.

Each manifest gets a folder ``<label-slug>-<hash of its id>/`` holding a copy of the manifest
(``manifest.json``) and, per canvas, the image (``0001-<canvas label>.jpg``) with a JSON sidecar
of the same stem, which the catalog reads like any museum record (see ``docs/formats.md``).
The sidecar also keeps the canvas id and size, so exports can target the canvas again.

Files are written atomically, image first and sidecar last: a canvas whose sidecar names it is
complete, and a second run skips it (resume). A canvas that fails is reported and the others
are still imported; only an unusable top-level manifest stops the import before any write.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from artannot.core.iiif.fetch import Fetcher, FetchOptions, start
from artannot.core.iiif.image_api import fetch_canvas_image
from artannot.core.iiif.manifest import (
    Canvas,
    IiifError,
    Manifest,
    Text,
    collection_members,
    is_collection,
    parse_manifest,
)
from artannot.core.safe_io import atomic_write

MANIFEST_COPY = "manifest.json"
IMAGE_SUFFIXES = (".jpg", ".png")
MAX_DEPTH = 4  # collections of collections


@dataclass(slots=True)
class IiifReport:
    manifests: int = 0
    imported: list[str] = field(default_factory=list)  # collection-relative image paths
    already: int = 0  # canvases fetched by an earlier run
    failed: list[tuple[str, str]] = field(default_factory=list)  # (what, why)
    stopped: bool = False

    def lines(self) -> list[str]:
        out = [f"{self.manifests} manifest(s): {len(self.imported)} canvas(es) imported, "
               f"{self.already} already there, {len(self.failed)} failed"]
        out += [f"  failed {what}: {why}" for what, why in self.failed]
        if self.stopped:
            out.append("stopped: run again to fetch the rest")
        return out


def slug(text: str, limit: int = 40) -> str:
    """A file-name-safe ASCII form of a label (``Vue d'Arles`` -> ``vue-d-arles``)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:limit].rstrip("-")


def manifest_folder(manifest: Manifest) -> str:
    """Stable per manifest id (a re-run finds its files), readable by its label."""
    digest = hashlib.sha1(manifest.id.encode("utf-8")).hexdigest()[:8]
    return f"{slug(manifest.label.value) or 'manifest'}-{digest}"


def canvas_stem(canvas: Canvas) -> str:
    name = slug(canvas.label.value, 30)
    return f"{canvas.index + 1:04d}" + (f"-{name}" if name else "")


def _key(label: str, taken: dict[str, Any]) -> str:
    """A metadata label usable as a key path component (no ``.``/``[``), unique in ``taken``."""
    key = re.sub(r"[.\[\]]+", " ", label).strip() or "field"
    base, n = key, 2
    while key in taken:
        key, n = f"{base} ({n})", n + 1
    return key


def _pairs(pairs: list[tuple[Text, Text]], others: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for label, value in pairs:
        key = _key(label.value, out)
        out[key] = value.value
        if value.others:
            others[key] = dict(value.others)
    return out


def canvas_record(manifest: Manifest, canvas: Canvas, image_url: str) -> dict[str, Any]:
    """The sidecar of one canvas: text fields in the preferred language (they feed phrases),
    the other languages under ``other_languages`` (kept, not extracted), and ``iiif``."""
    title = manifest.label.value
    if len(manifest.canvases) > 1 or not title:
        part = canvas.label.value or f"image {canvas.index + 1}"
        title = f"{title} — {part}" if title and part != title else part
    record: dict[str, Any] = {"title": title}
    others: dict[str, Any] = {}
    for key, text in (("label", canvas.label), ("summary", manifest.summary), ("canvas_summary", canvas.summary),
                      ("attribution", manifest.attribution)):
        if text.value and text.value != title:
            record[key] = text.value
        if text.others:
            others[key] = dict(text.others)
    if manifest.label.others:
        others["manifest_label"] = dict(manifest.label.others)
    meta_others: dict[str, Any] = {}
    if manifest.metadata:
        record["metadata"] = _pairs(manifest.metadata, meta_others)
    canvas_others: dict[str, Any] = {}
    if canvas.metadata:
        record["canvas_metadata"] = _pairs(canvas.metadata, canvas_others)
    if meta_others:
        others["metadata"] = meta_others
    if canvas_others:
        others["canvas_metadata"] = canvas_others
    if manifest.rights:
        record["rights"] = manifest.rights
    if others:
        record["other_languages"] = others
    record["iiif"] = {
        "manifest": manifest.id, "manifest_copy": MANIFEST_COPY, "version": manifest.version,
        "canvas": canvas.id, "canvas_index": canvas.index,
        "canvas_width": canvas.width, "canvas_height": canvas.height, "image": image_url,
    }
    return record


def _done_before(folder: Path, stem: str, canvas_id: str) -> bool:
    """A canvas is complete when its sidecar names it and its image is there."""
    sidecar = folder / f"{stem}.json"
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    named = data.get("iiif", {}).get("canvas") if isinstance(data, dict) and isinstance(data.get("iiif"), dict) else None
    return named == canvas_id and any((folder / f"{stem}{s}").is_file() for s in IMAGE_SUFFIXES)


def _write_json(path: Path, data: Any) -> None:
    atomic_write(path, json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8"), backup=False)


def _import_canvas(fetcher: Fetcher, manifest: Manifest, canvas: Canvas, folder: Path, base: str,
                   longest: int | None) -> str:
    """Fetch and write one canvas; returns the image's file name."""
    stem = canvas_stem(canvas)
    image = fetch_canvas_image(fetcher, canvas, longest, base)
    for other in IMAGE_SUFFIXES:  # an earlier run's image in another format would be a second artwork
        if other != image.extension:
            (folder / f"{stem}{other}").unlink(missing_ok=True)
    atomic_write(folder / f"{stem}{image.extension}", image.data, backup=False)
    _write_json(folder / f"{stem}.json", canvas_record(manifest, canvas, image.url))
    return f"{stem}{image.extension}"


@dataclass(slots=True)
class _Loaded:
    manifest: Manifest
    raw: dict[str, Any]
    base: str  # URI the manifest was read from (references resolve against it)


def _manifests(fetcher: Fetcher, data: Any, uri: str, report: IiifReport, depth: int = 0) -> list[_Loaded]:
    """The manifests of a manifest or collection document; bad members are reported."""
    if is_collection(data):
        if depth >= MAX_DEPTH:
            raise IiifError(f"collections nested deeper than {MAX_DEPTH} levels", uri)
        out: list[_Loaded] = []
        for ref in collection_members(data, uri):
            try:
                member_uri = fetcher.resolve(ref.id, uri)
                member = ref.embedded if ref.embedded is not None else fetcher.get_json(member_uri)
                out += _manifests(fetcher, member, member_uri, report, depth + 1)
            except IiifError as exc:
                report.failed.append((f"{ref.kind.lower()} {ref.id}", str(exc)))
        return out
    manifest, problems = parse_manifest(data, uri)
    report.failed += problems
    return [_Loaded(manifest, data, uri)]


def import_iiif(
    source: str | Path,
    dest: Path | str,
    *,
    size: int | None = 2000,
    options: FetchOptions | None = None,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> IiifReport:
    """Fetch a manifest/collection (URL or local file) into the collection folder ``dest``.

    ``size`` is the longer side of the stored images (None: the full image). Raises
    :class:`IiifError` when the source itself cannot be read or is not a manifest/collection
    (nothing written); per-canvas and per-member problems are in the report.
    """
    if size is not None and size <= 0:
        raise IiifError(f"image size must be positive, got {size}")
    fetcher, uri = start(source, options)
    report = IiifReport()
    data = fetcher.get_json(uri)
    loaded = _manifests(fetcher, data, uri, report)
    dest = Path(dest)
    report.manifests = len(loaded)
    jobs: list[tuple[_Loaded, Canvas, Path]] = []
    for item in loaded:
        folder = dest / manifest_folder(item.manifest)
        _write_json(folder / MANIFEST_COPY, item.raw)
        for canvas in item.manifest.canvases:
            if _done_before(folder, canvas_stem(canvas), canvas.id):
                report.already += 1
            else:
                jobs.append((item, canvas, folder))
    total, done = len(jobs), 0
    if progress is not None:
        progress(0, total)

    def run(item: _Loaded, canvas: Canvas, folder: Path) -> str | None:
        if should_stop is not None and should_stop():
            return None
        return _import_canvas(fetcher, item.manifest, canvas, folder, item.base, size)

    with ThreadPoolExecutor(max_workers=max(1, fetcher.options.workers)) as pool:
        futures = {pool.submit(run, *job): job for job in jobs}
        try:
            for future in as_completed(futures):
                _, canvas, folder = futures[future]
                what = f"canvas {canvas.index + 1} ({canvas.id})"
                try:
                    name = future.result()
                except IiifError as exc:
                    report.failed.append((what, str(exc)))
                except OSError as exc:  # disk full, permissions: the canvas is not half-written
                    report.failed.append((what, f"cannot write: {exc}"))
                else:
                    if name is None:
                        report.stopped = True
                    else:
                        report.imported.append((folder.relative_to(dest) / name).as_posix())
                done += 1
                if progress is not None:
                    progress(done, total)
        except BaseException:  # Ctrl+C: finish the downloads under way, start no more
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    report.imported.sort()
    return report
