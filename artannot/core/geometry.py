"""Box coordinates and the one convention artannot uses at every boundary.

Pascal VOC stores *1-based inclusive* pixel indices: a box covering only the
top-left pixel is ``xmin=1, ymin=1, xmax=1, ymax=1``.  Everything that works on
arrays or draws on a canvas (numpy, torchvision, Qt, COCO) uses *0-based edge*
coordinates, where that same pixel spans ``[0, 1) x [0, 1)``.

    edges  x0 = xmin - 1,  x1 = xmax        (so width = xmax - xmin + 1)
    voc    xmin = x0 + 1,  xmax = x1

``Box`` always holds VOC values (possibly fractional, as some tools write them);
convert with :meth:`Box.to_edges` / :meth:`Box.from_edges` and nowhere else.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Box:
    """A box in VOC convention: 1-based, inclusive pixel indices."""

    xmin: float
    ymin: float
    xmax: float
    ymax: float

    def __post_init__(self) -> None:
        for v in (self.xmin, self.ymin, self.xmax, self.ymax):
            if not math.isfinite(v):
                raise ValueError(f"box coordinate is not a finite number: {self}")
        if self.xmax < self.xmin or self.ymax < self.ymin:
            raise ValueError(f"box has max < min: {self}")

    # -- conversions -------------------------------------------------------
    def to_edges(self) -> tuple[float, float, float, float]:
        """0-based edge coordinates ``(x0, y0, x1, y1)`` for arrays, Qt and torchvision."""
        return (self.xmin - 1.0, self.ymin - 1.0, float(self.xmax), float(self.ymax))

    @classmethod
    def from_edges(cls, x0: float, y0: float, x1: float, y1: float) -> Box:
        """Inverse of :meth:`to_edges`; orders the corners so a drag in any direction works."""
        x0, x1 = sorted((float(x0), float(x1)))
        y0, y1 = sorted((float(y0), float(y1)))
        return cls(x0 + 1.0, y0 + 1.0, x1, y1)

    def to_xywh(self) -> tuple[float, float, float, float]:
        """0-based ``(x, y, w, h)`` as COCO and IIIF ``xywh`` fragments use."""
        x0, y0, x1, y1 = self.to_edges()
        return (x0, y0, x1 - x0, y1 - y0)

    @classmethod
    def from_xywh(cls, x: float, y: float, w: float, h: float) -> Box:
        return cls.from_edges(x, y, x + w, y + h)

    # -- properties --------------------------------------------------------
    @property
    def width(self) -> float:
        return self.xmax - self.xmin + 1.0

    @property
    def height(self) -> float:
        return self.ymax - self.ymin + 1.0

    @property
    def area(self) -> float:
        return max(self.width, 0.0) * max(self.height, 0.0)

    def rounded(self) -> Box:
        """Integer pixel indices, as LabelImg writes them."""
        return Box(*(float(round(v)) for v in (self.xmin, self.ymin, self.xmax, self.ymax)))

    def clamped(self, width: int, height: int) -> Box:
        """The part of the box inside a ``width`` x ``height`` image (at least one pixel)."""
        xmin = min(max(self.xmin, 1.0), float(width))
        ymin = min(max(self.ymin, 1.0), float(height))
        xmax = min(max(self.xmax, xmin), float(width))
        ymax = min(max(self.ymax, ymin), float(height))
        return Box(xmin, ymin, xmax, ymax)

    def inside(self, width: int, height: int) -> bool:
        return self.xmin >= 1 and self.ymin >= 1 and self.xmax <= width and self.ymax <= height

    def translated(self, dx: float, dy: float) -> Box:
        return Box(self.xmin + dx, self.ymin + dy, self.xmax + dx, self.ymax + dy)

    def iou(self, other: Box) -> float:
        ax0, ay0, ax1, ay1 = self.to_edges()
        bx0, by0, bx1, by1 = other.to_edges()
        iw = max(0.0, min(ax1, bx1) - max(ax0, bx0))
        ih = max(0.0, min(ay1, by1) - max(ay0, by0))
        inter = iw * ih
        union = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter
        return inter / union if union > 0 else 0.0

    @classmethod
    def whole_image(cls, width: int, height: int) -> Box:
        return cls(1.0, 1.0, float(width), float(height))
