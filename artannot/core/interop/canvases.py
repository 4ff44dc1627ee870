"""Artworks that came from IIIF canvases, and the scale between canvas and stored image.

``artannot index --iiif`` stores each canvas's id and size in the artwork's sidecar (the
``iiif`` block, see :mod:`artannot.core.iiif.collection`). Annotations address the canvas
in canvas units, while VOC boxes are in pixels of the stored image, usually smaller: these
helpers convert between the two, through :class:`Box` edges so the VOC convention holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from artannot.core.geometry import Box
from artannot.core.interop.base import tidy
from artannot.core.model import Artwork

if TYPE_CHECKING:
    from artannot.core.catalog import Catalog

# Boxes brought back from canvas units keep 1/10000 pixel: enough for any tool's float boxes,
# and it absorbs the rounding of an export at 6 decimals, so a round trip is exact.
IMAGE_PLACES = 4


@dataclass(frozen=True, slots=True)
class CanvasLink:
    artwork: str
    canvas: str
    canvas_size: tuple[int, int]
    image_size: tuple[int, int]
    manifest: str  # the manifest's id
    manifest_copy: Path | None  # the copy stored beside the images
    version: int

    def _scale(self) -> tuple[float, float]:
        (cw, ch), (iw, ih) = self.canvas_size, self.image_size
        return cw / iw, ch / ih

    def to_canvas(self, box: Box) -> Box:
        sx, sy = self._scale()
        x0, y0, x1, y1 = box.to_edges()
        return Box.from_edges(x0 * sx, y0 * sy, x1 * sx, y1 * sy)

    def to_image(self, box: Box) -> Box:
        sx, sy = self._scale()
        x0, y0, x1, y1 = box.to_edges()
        return Box.from_edges(*(tidy(v, IMAGE_PLACES) for v in (x0 / sx, y0 / sy, x1 / sx, y1 / sy)))


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def canvas_link(artwork: Artwork, image_size: tuple[int, int]) -> CanvasLink | None:
    """The canvas an artwork was fetched from, or None (not from IIIF, or sizes unknown)."""
    f = artwork.fields
    canvas = f.get("iiif.canvas")
    size = (_int(f.get("iiif.canvas_width")), _int(f.get("iiif.canvas_height")))
    if not canvas or min(size) <= 0 or min(image_size) <= 0:
        return None
    copy = f.get("iiif.manifest_copy")
    sidecars = [p for p in artwork.metadata_paths if Path(p).suffix.lower() == ".json"]
    manifest_copy = Path(sidecars[0]).parent / copy if copy and sidecars else None
    return CanvasLink(artwork.id, canvas, size, image_size, f.get("iiif.manifest", ""), manifest_copy,
                      _int(f.get("iiif.version")) or 3)


def canvas_links(catalog: Catalog) -> dict[str, CanvasLink]:
    """``{canvas id: link}`` for every artwork of the collection that came from a canvas."""
    out: dict[str, CanvasLink] = {}
    for art in catalog.artworks():
        if "iiif.canvas" in art.fields:
            link = canvas_link(art, catalog.image_size(art.id))
            if link is not None:
                out.setdefault(link.canvas, link)
    return out
