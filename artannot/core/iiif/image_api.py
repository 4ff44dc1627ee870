"""IIIF Image API (2 and 3): which URL gives a canvas's image at the size the user asked for,
and turning the answer into an image file no larger than that.

Level-0 services (static files) only serve the sizes their ``info.json`` lists plus the full
image, so the smallest listed size at least as large as wanted is used; other levels are asked
for ``w,`` directly. Whatever arrives is checked to be a complete image and, when larger than
wanted (a listed level-0 size, a static image without a service, a server's rounding), reduced
here, so the stored image's longer side is exactly the size asked for.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from PIL import Image

import artannot.core.collection  # noqa: F401 -- sets the one decompression-bomb limit
from artannot.core.iiif.fetch import Fetcher
from artannot.core.iiif.manifest import Canvas, IiifError


@dataclass(slots=True)
class ImageInfo:
    width: int
    height: int
    version: int  # Image API 2 or 3
    level: int  # compliance level (1 when not stated)
    sizes: list[tuple[int, int]]


def _level(profile: Any) -> int | None:
    for p in profile if isinstance(profile, list) else [profile]:
        if isinstance(p, str):
            for level in (0, 1, 2):
                if f"level{level}" in p:
                    return level
    return None


def parse_info(data: Any, where: str, hint: int | None = None) -> ImageInfo:
    """An ``info.json``; wrong or missing dimensions raise :class:`IiifError`."""
    if not isinstance(data, dict):
        raise IiifError("image service info.json is not a JSON object", where)
    w, h = data.get("width"), data.get("height")
    if isinstance(w, bool) or isinstance(h, bool) or not isinstance(w, int) or not isinstance(h, int) or w <= 0 or h <= 0:
        raise IiifError(f"image service info.json has no positive width/height ({w!r} x {h!r})", where)
    context = str(data.get("@context", ""))
    version = 3 if ("image/3" in context or data.get("type") == "ImageService3") else \
        2 if "image/2" in context else (hint or 2)
    sizes = []
    for s in data.get("sizes") or []:
        if isinstance(s, dict) and isinstance(s.get("width"), int) and isinstance(s.get("height"), int) \
                and s["width"] > 0 and s["height"] > 0:
            sizes.append((s["width"], s["height"]))
    level = _level(data.get("profile"))
    return ImageInfo(w, h, version, 1 if level is None else level, sizes)


def size_segment(info: ImageInfo, longest: int | None) -> str:
    """The ``size`` part of an Image API request for a longer side of ``longest`` (None: max)."""
    full = "max" if info.version == 3 else "full"
    if longest is None or max(info.width, info.height) <= longest:
        return full
    if info.level == 0:
        fitting = [s for s in info.sizes if max(s) >= longest and max(s) < max(info.width, info.height)]
        if not fitting:
            return full  # reduced here after download
        w, h = min(fitting, key=max)
        return f"{w},{h}" if info.version == 3 else f"{w},"
    w = max(1, round(info.width * longest / max(info.width, info.height)))
    return f"{w},"


def image_request(service: str, info: ImageInfo, longest: int | None) -> str:
    return f"{service}/full/{size_segment(info, longest)}/0/default.jpg"


@dataclass(slots=True)
class Downloaded:
    data: bytes
    extension: str  # ".jpg" / ".png"
    width: int
    height: int
    url: str  # what was fetched


def fetch_canvas_image(fetcher: Fetcher, canvas: Canvas, longest: int | None, base: str) -> Downloaded:
    """The canvas's image, through its image service when it has one, else its static image."""
    if canvas.service:
        service = fetcher.resolve(canvas.service, base)
        info_url = service + "/info.json"
        info = parse_info(fetcher.get_json(info_url), info_url, canvas.service_version)
        url = image_request(service, info, longest)
    elif canvas.image_url:
        url = fetcher.resolve(canvas.image_url, base)
    else:
        raise IiifError(f"canvas {canvas.index + 1} has no image and no image service", canvas.id)
    return encode(fetcher.get_bytes(url), url, longest)


def encode(data: bytes, url: str, longest: int | None) -> Downloaded:
    """Check that ``data`` is a whole image; reduce it to ``longest`` when larger.

    JPEG and PNG within the size are kept byte for byte; anything else becomes JPEG (quality 92).
    """
    try:
        with Image.open(io.BytesIO(data)) as im:
            fmt, size = im.format, im.size
            im.load()  # a truncated or corrupt answer fails here, not in the catalog later
            if longest is not None and max(size) > longest:
                im.thumbnail((longest, longest), Image.Resampling.LANCZOS)
            elif fmt in ("JPEG", "PNG"):
                return Downloaded(data, ".jpg" if fmt == "JPEG" else ".png", size[0], size[1], url)
            out = io.BytesIO()
            im.convert("RGB").save(out, "JPEG", quality=92)
            return Downloaded(out.getvalue(), ".jpg", im.width, im.height, url)
    except Image.DecompressionBombError as exc:
        raise IiifError(f"image is too large to open safely ({exc})", url) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise IiifError(f"the answer is not a readable image ({exc})", url) from None
