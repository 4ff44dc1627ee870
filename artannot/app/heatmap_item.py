"""Phrase -> regions overlay on the canvas: ranked highlight boxes and an attention heat map.

The scene has the image at (0, 0) in 0-based edge pixels, so a region's ``Box.to_edges()``
is its scene rectangle (``box_item.box_to_rect``) and a heat map pixel is a scene pixel.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPixmapItem, QGraphicsRectItem, QGraphicsScene

from artannot.app.box_item import box_to_rect
from artannot.retrieval.service import PhraseRegions, RegionHit

HEAT_MAX_SIDE = 1024  # the heat map is piecewise constant: a reduced grid scaled up is exact enough
HIGHLIGHT = QColor(255, 87, 34)


def heat_image(heat: np.ndarray) -> QImage:
    """[H, W] in [0, 1] -> premultiplied ARGB: transparent at 0, warm and opaque at 1."""
    v = np.clip(np.asarray(heat, np.float32), 0.0, 1.0)
    h, w = v.shape
    rgba = np.empty((h, w, 4), np.uint8)
    rgba[..., 0] = 255  # red ramps to yellow with the weight
    rgba[..., 1] = (v * 220).astype(np.uint8)
    rgba[..., 2] = 0
    rgba[..., 3] = (v * 255).astype(np.uint8)
    img = QImage(rgba.data, w, h, 4 * w, QImage.Format.Format_RGBA8888)
    return img.copy()  # own the pixels: ``rgba`` is freed when this returns


class HighlightItem(QGraphicsRectItem):
    """One ranked region for the phrase; a click turns it into an annotation (callback)."""

    def __init__(self, hit: RegionHit, on_click: Callable[[RegionHit], None] | None) -> None:
        super().__init__(box_to_rect(hit.box))
        self.hit = hit
        self._on_click = on_click
        pen = QPen(HIGHLIGHT, 3 if hit.rank == 1 else 2)
        pen.setCosmetic(True)
        self.setPen(pen)
        self.setBrush(QBrush(QColor(255, 87, 34, 40 if hit.rank == 1 else 18)))
        self.setZValue(15)  # above the image and the heat map, below dragged boxes
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip(f"#{hit.rank} score {hit.score:.3f}, attention {hit.attention:.3f} — click to annotate")

    def paint(self, painter: QPainter, option, widget=None) -> None:
        super().paint(painter, option, widget)
        painter.save()
        scale = painter.worldTransform().m11() or 1.0
        painter.scale(1 / scale, 1 / scale)  # label in screen pixels at any zoom
        r = self.rect()
        font = QFont()
        font.setBold(True)
        font.setPointSize(10)
        painter.setFont(font)
        text = f" {self.hit.rank} "
        tr = painter.fontMetrics().boundingRect(text).adjusted(-2, -1, 2, 1)
        tr.moveTopLeft((r.topLeft() * scale).toPoint())
        painter.fillRect(tr, HIGHLIGHT)
        painter.setPen(QColor("white"))
        painter.drawText(tr, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._on_click is not None:
            event.accept()
            self._on_click(self.hit)
            return
        super().mousePressEvent(event)


class PhraseOverlay:
    """Owns the overlay items of one scene; ``show`` replaces whatever was there."""

    def __init__(self, scene: QGraphicsScene) -> None:
        self.scene = scene
        self.heat_item: QGraphicsPixmapItem | None = None
        self.highlights: list[HighlightItem] = []
        self.result: PhraseRegions | None = None
        self._opacity = 0.5
        self._heat_visible = True

    def show(self, result: PhraseRegions, size: tuple[int, int],
             on_click: Callable[[RegionHit], None] | None = None) -> None:
        self.clear()
        self.result = result
        w, h = size
        f = max(1.0, max(w, h) / HEAT_MAX_SIDE)
        sw, sh = max(1, round(w / f)), max(1, round(h / f))
        small = PhraseRegions(result.artwork_id, result.phrase, result.hits,
                              [_scaled(b, sw / w, sh / h) for b in result.boxes], result.attention)
        pix = QPixmap.fromImage(heat_image(small.heat(sw, sh)))
        self.heat_item = QGraphicsPixmapItem(pix)
        self.heat_item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.heat_item.setScale(w / sw)
        self.heat_item.setZValue(5)
        self.heat_item.setOpacity(self._opacity)
        self.heat_item.setVisible(self._heat_visible)
        self.heat_item.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, False)
        self.heat_item.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.scene.addItem(self.heat_item)
        for hit in result.hits:
            item = HighlightItem(hit, on_click)
            self.scene.addItem(item)
            self.highlights.append(item)

    def set_opacity(self, opacity: float) -> None:
        self._opacity = float(opacity)
        if self.heat_item is not None:
            self.heat_item.setOpacity(self._opacity)

    def set_heat_visible(self, visible: bool) -> None:
        self._heat_visible = bool(visible)
        if self.heat_item is not None:
            self.heat_item.setVisible(self._heat_visible)

    def clear(self) -> None:
        for item in [self.heat_item, *self.highlights]:
            if item is not None and item.scene() is self.scene:
                self.scene.removeItem(item)
        self.heat_item, self.highlights, self.result = None, [], None


def _scaled(box, sx: float, sy: float):
    from artannot.core.geometry import Box

    x0, y0, x1, y1 = box.to_edges()
    return Box.from_edges(x0 * sx, y0 * sy, x1 * sx, y1 * sy)

