"""Where a W3C annotation points: its target's source and the region selected in it.

IIIF tools write the same rectangle several ways; all of these are read:

* ``"https://…/canvas/1#xywh=10,20,30,40"`` -- a string target with a media fragment
  (``pixel:`` or ``percent:`` forms);
* ``{"source": …, "selector": {"type": "FragmentSelector", "value": "xywh=…"}}`` (the source
  a string or a ``{"id": …, "type": "Canvas"}`` object, the selector possibly a list);
* ``{"source": …, "selector": {"type": "SvgSelector", "value": "<svg>…</svg>"}}``: a
  ``<rect>`` is exact; a polygon, polyline, path, circle or ellipse becomes its bounding box,
  and :attr:`Selection.shape` says so, so the import report can count it.

Coordinates stay in the target's space (image pixels, or canvas units for a IIIF canvas).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree

from artannot.core.interop.base import InteropError
from artannot.core.safe_xml import parse_untrusted_xml

XYWH_RE = re.compile(r"^xywh=(?:(pixel|percent):)?([^,]+),([^,]+),([^,]+),([^,]+)$")
_NUMBER_RE = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_PATH_TOKEN_RE = re.compile(r"[MmLlHhVvCcSsQqTtAaZz]|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
SHAPES = ("rect", "polygon", "polyline", "path", "circle", "ellipse")


@dataclass(frozen=True, slots=True)
class Selection:
    source: str
    xywh: tuple[float, float, float, float]
    percent: bool = False
    shape: str = "rect"  # anything else: the bounding box of that SVG shape


def _source_id(source: Any) -> str | None:
    if isinstance(source, str):
        return source
    if isinstance(source, dict):
        sid = source.get("id", source.get("@id"))
        return sid if isinstance(sid, str) else None
    return None


def parse_fragment(value: str, what: str, path: Path | str) -> tuple[tuple[float, float, float, float], bool]:
    """``xywh=[pixel:|percent:]x,y,w,h`` -> ``((x, y, w, h), is_percent)``."""
    m = XYWH_RE.match(value.strip())
    if not m:
        raise InteropError(f"{what}: selector value {value!r} is not 'xywh=x,y,w,h'", path)
    try:
        x, y, w, h = (float(v) for v in m.groups()[1:])
    except ValueError:
        raise InteropError(f"{what}: xywh values are not numbers: {value!r}", path) from None
    return (x, y, w, h), m.group(1) == "percent"


def _attr(el: etree._Element, name: str, what: str, path: Path | str) -> float:
    try:
        return float(str(el.get(name, "0")).strip().removesuffix("px"))
    except ValueError:
        raise InteropError(f"{what}: SVG {etree.QName(el).localname} has a non-numeric {name}", path) from None


def _path_points(d: str) -> list[tuple[float, float]]:
    """The points a path's commands pass through or pull towards (control points included,
    so their bounding box contains the curve)."""
    points: list[tuple[float, float]] = []
    cx = cy = sx = sy = 0.0
    command = ""
    tokens = _PATH_TOKEN_RE.findall(d)
    i = 0
    sizes = {"m": 2, "l": 2, "t": 2, "h": 1, "v": 1, "c": 6, "s": 4, "q": 4, "a": 7, "z": 0}
    while i < len(tokens):
        if tokens[i].isalpha():
            command = tokens[i]
            i += 1
            if command in "Zz":
                cx, cy = sx, sy
                continue
        if not command or command in "Zz":
            raise ValueError("path data does not start with a command")
        n = sizes[command.lower()]
        args = [float(t) for t in tokens[i:i + n]]
        if len(args) < n:
            raise ValueError("path data ends in the middle of a command")
        i += n
        rel = command.islower()
        low = command.lower()
        if low == "h":
            cx = args[0] + (cx if rel else 0)
        elif low == "v":
            cy = args[0] + (cy if rel else 0)
        elif low == "a":
            cx, cy = args[5] + (cx if rel else 0), args[6] + (cy if rel else 0)
        else:
            pairs = [(args[k] + (cx if rel else 0), args[k + 1] + (cy if rel else 0)) for k in range(0, n, 2)]
            points += pairs[:-1]
            cx, cy = pairs[-1]
        points.append((cx, cy))
        if low == "m":
            sx, sy = cx, cy
            command = "l" if rel else "L"  # further pairs after a moveto are linetos
    return points


def _svg_box(value: str, what: str, path: Path | str) -> tuple[tuple[float, float, float, float], str]:
    try:
        root = parse_untrusted_xml(value.encode("utf-8"), path, error=InteropError)
    except InteropError as exc:
        raise InteropError(f"{what}: SvgSelector: {exc.message}", path) from None
    for el in root.iter():
        if not isinstance(el.tag, str) or etree.QName(el).localname not in SHAPES:
            continue
        kind = etree.QName(el).localname
        if kind == "rect":
            return (_attr(el, "x", what, path), _attr(el, "y", what, path),
                    _attr(el, "width", what, path), _attr(el, "height", what, path)), "rect"
        if kind == "circle":
            cx, cy, r = (_attr(el, k, what, path) for k in ("cx", "cy", "r"))
            return (cx - r, cy - r, 2 * r, 2 * r), kind
        if kind == "ellipse":
            cx, cy, rx, ry = (_attr(el, k, what, path) for k in ("cx", "cy", "rx", "ry"))
            return (cx - rx, cy - ry, 2 * rx, 2 * ry), kind
        try:
            if kind == "path":
                points = _path_points(el.get("d", ""))
            else:
                numbers = [float(n) for n in _NUMBER_RE.findall(el.get("points", ""))]
                points = list(zip(numbers[0::2], numbers[1::2]))
        except ValueError as exc:
            raise InteropError(f"{what}: SVG {kind} has unreadable coordinates ({exc})", path) from None
        if len(points) < 2:
            raise InteropError(f"{what}: SVG {kind} has fewer than two points", path)
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        x0, y0, x1, y1 = min(xs), min(ys), max(xs), max(ys)
        # An axis-aligned four-cornered polygon is a rectangle drawn as a polygon: exact.
        exact = kind == "polygon" and len(set(xs)) == 2 and len(set(ys)) == 2 and len(points) in (4, 5)
        return (x0, y0, x1 - x0, y1 - y0), "rect" if exact else kind
    raise InteropError(f"{what}: SvgSelector holds no rect, polygon, polyline, path, circle or ellipse", path)


def _from_selector(selector: Any, what: str, path: Path | str) -> tuple[tuple[float, float, float, float], bool, str] | None:
    """``(xywh, percent, shape)`` of the first supported selector, None when none is."""
    for sel in selector if isinstance(selector, list) else [selector]:
        if not isinstance(sel, dict):
            continue
        kind = sel.get("type")
        if kind == "FragmentSelector":
            xywh, percent = parse_fragment(str(sel.get("value", "")), what, path)
            return xywh, percent, "rect"
        if kind == "SvgSelector":
            if not isinstance(sel.get("value"), str):
                raise InteropError(f"{what}: SvgSelector without an inline 'value' is not supported", path)
            xywh, shape = _svg_box(sel["value"], what, path)
            return xywh, False, shape
    return None


def parse_target(target: Any, what: str, path: Path | str) -> Selection:
    """The :class:`Selection` of an annotation's ``target`` (the first one, when a list)."""
    target = target[0] if isinstance(target, list) and target else target
    if isinstance(target, dict) and "selector" not in target and "source" not in target:
        target = _source_id(target)  # {"id": "canvas#xywh=…", "type": "Canvas"}
    if isinstance(target, str):
        source, _, fragment = target.partition("#")
        if not fragment:
            raise InteropError(f"{what}: target needs a 'source' and a 'selector' (or a '#xywh=' fragment)", path)
        xywh, percent = parse_fragment(fragment, what, path)
        return Selection(source, xywh, percent)
    source = _source_id(target.get("source")) if isinstance(target, dict) else None
    if source is None:
        raise InteropError(f"{what}: target needs a 'source' and a 'selector'", path)
    if "selector" not in target and "#" in source:
        return parse_target(source, what, path)
    found = _from_selector(target.get("selector"), what, path)
    if found is None:
        raise InteropError(f"{what}: only FragmentSelector (xywh=) and SvgSelector targets are supported", path)
    xywh, percent, shape = found
    return Selection(source, xywh, percent, shape)
