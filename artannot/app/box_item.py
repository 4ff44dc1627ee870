"""The graphics item of one region: a rectangle in 0-based edge (scene) coordinates.

Items only draw and hit-test; the canvas owns the mouse logic and the RegionDocument owns
the data.  Pens are cosmetic and handles/labels are sized in *screen* pixels, so a box looks
the same at 5% and 800% zoom.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsRectItem, QStyleOptionGraphicsItem, QWidget

from artannot.core.geometry import Box
from artannot.core.model import Region

HANDLE_PX = 8.0  # drawn handle size, screen pixels
GRAB_PX = 7.0  # how close to an edge/corner the mouse must be to grab it, screen pixels

# handle name -> (moves x0, moves y0, moves x1, moves y1)
HANDLES: dict[str, tuple[bool, bool, bool, bool]] = {
    "tl": (True, True, False, False),
    "t": (False, True, False, False),
    "tr": (False, True, True, False),
    "r": (False, False, True, False),
    "br": (False, False, True, True),
    "b": (False, False, False, True),
    "bl": (True, False, False, True),
    "l": (True, False, False, False),
}

CURSORS = {
    "tl": Qt.CursorShape.SizeFDiagCursor, "br": Qt.CursorShape.SizeFDiagCursor,
    "tr": Qt.CursorShape.SizeBDiagCursor, "bl": Qt.CursorShape.SizeBDiagCursor,
    "t": Qt.CursorShape.SizeVerCursor, "b": Qt.CursorShape.SizeVerCursor,
    "l": Qt.CursorShape.SizeHorCursor, "r": Qt.CursorShape.SizeHorCursor,
}

MANUAL_COLOR = QColor(0, 200, 90)
PROPOSAL_COLOR = QColor(255, 150, 0)
SELECTED_COLOR = QColor(255, 230, 0)
NO_LABEL = "(no label)"


@dataclass(frozen=True, slots=True)
class ProposalLabel:
    """The model's best phrase for an unnamed proposal: drawn on the box instead of
    "(no label)", and the label the box gets when the curator accepts it."""

    label: str  # surface text, as the VOC file will hold it
    score: float  # SCAN similarity of the box and the phrase


def handle_points(rect: QRectF) -> dict[str, QPointF]:
    c = rect.center()
    return {
        "tl": rect.topLeft(), "t": QPointF(c.x(), rect.top()), "tr": rect.topRight(),
        "r": QPointF(rect.right(), c.y()), "br": rect.bottomRight(),
        "b": QPointF(c.x(), rect.bottom()), "bl": rect.bottomLeft(),
        "l": QPointF(rect.left(), c.y()),
    }


class BoxItem(QGraphicsRectItem):
    """One region on the canvas; ``index`` is its position in the RegionDocument."""

    def __init__(self, index: int, rect: QRectF, region: Region) -> None:
        super().__init__(rect)
        self.index = index
        self._region = region
        self._hint: ProposalLabel | None = None
        self._view_scale = 1.0
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, True)
        self.setZValue(10)
        self.setAcceptHoverEvents(False)

    # -- state ---------------------------------------------------------------------
    @property
    def region(self) -> Region:
        return self._region

    def set_region(self, region: Region, rect: QRectF) -> None:
        self._region = region
        self.setRect(rect)
        self.update()

    def is_proposal(self) -> bool:
        return self._region.source != "manual"

    def set_hint(self, hint: ProposalLabel | None) -> None:
        if hint != self._hint:
            self._hint = hint
            self.update()

    def label_text(self) -> str:
        """What the box shows: its phrase, else (a proposal) the model's best phrase and score."""
        if self.is_proposal() and not self._region.phrase and self._hint is not None:
            return f"{self._hint.label}  {self._hint.score:.2f}"
        text = self._region.phrase or NO_LABEL
        if self.is_proposal() and self._region.score is not None:
            text = f"{text}  {self._region.score:.2f}"
        return text

    def set_view_scale(self, scale: float) -> None:
        """Handles are sized in screen pixels: the bounding rect depends on the zoom."""
        if scale > 0 and scale != self._view_scale:
            self.prepareGeometryChange()
            self._view_scale = scale

    # -- geometry / hit testing ------------------------------------------------------
    def _margin(self) -> float:
        return max(HANDLE_PX, GRAB_PX) / self._view_scale

    def boundingRect(self) -> QRectF:
        m = self._margin()
        return self.rect().adjusted(-m, -m, m, m)

    def handle_at(self, scene_pos: QPointF) -> str | None:
        """The handle (corner first, then edge) under ``scene_pos``, if any."""
        tol = GRAB_PX / self._view_scale
        r = self.rect()
        pts = handle_points(r)
        for name in ("tl", "tr", "br", "bl"):
            p = pts[name]
            if abs(p.x() - scene_pos.x()) <= tol and abs(p.y() - scene_pos.y()) <= tol:
                return name
        x, y = scene_pos.x(), scene_pos.y()
        inside_x = r.left() - tol <= x <= r.right() + tol
        inside_y = r.top() - tol <= y <= r.bottom() + tol
        if inside_x and abs(y - r.top()) <= tol:
            return "t"
        if inside_x and abs(y - r.bottom()) <= tol:
            return "b"
        if inside_y and abs(x - r.left()) <= tol:
            return "l"
        if inside_y and abs(x - r.right()) <= tol:
            return "r"
        return None

    def hit(self, scene_pos: QPointF) -> bool:
        """Inside the box, or on its border (boxes are hollow but clickable inside)."""
        tol = GRAB_PX / self._view_scale
        return self.rect().adjusted(-tol, -tol, tol, tol).contains(scene_pos)

    # -- painting ------------------------------------------------------------------
    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        r = self.rect()
        selected = self.isSelected()
        color = SELECTED_COLOR if selected else (PROPOSAL_COLOR if self.is_proposal() else MANUAL_COLOR)
        pen = QPen(color, 3 if selected else 2)
        pen.setCosmetic(True)
        if self.is_proposal():
            pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        fill = QColor(color)
        fill.setAlpha(40 if selected else 0)
        painter.setBrush(QBrush(fill))
        painter.drawRect(r)
        self._paint_label(painter, r, color)
        if selected:
            painter.setBrush(QBrush(color))
            pen = QPen(QColor(0, 0, 0))
            pen.setCosmetic(True)
            painter.setPen(pen)
            h = HANDLE_PX / self._view_scale
            for p in handle_points(r).values():
                painter.drawRect(QRectF(p.x() - h / 2, p.y() - h / 2, h, h))

    def _paint_label(self, painter: QPainter, r: QRectF, color: QColor) -> None:
        text = self.label_text()
        painter.save()
        origin = painter.worldTransform().map(r.topLeft())
        box_w = painter.worldTransform().mapRect(r).width()
        painter.resetTransform()  # draw text in screen pixels, inside the box
        font = QFont()
        font.setPointSizeF(9)
        painter.setFont(font)
        fm = QFontMetricsF(font)
        text = fm.elidedText(text, Qt.TextElideMode.ElideRight, max(box_w - 4, 24))
        tr = QRectF(origin.x() + 1, origin.y() + 1, fm.horizontalAdvance(text) + 6, fm.height() + 2)
        bg = QColor(color)
        bg.setAlpha(200)
        painter.fillRect(tr, bg)
        painter.setPen(QColor(0, 0, 0))
        painter.drawText(tr.adjusted(3, 0, 0, 0), Qt.AlignmentFlag.AlignVCenter, text)
        painter.restore()


# -- the one bridge between scene rectangles and VOC boxes ------------------------------
def box_to_rect(box: Box) -> QRectF:
    """VOC box -> scene rectangle in 0-based edge coordinates (image pixmap at scene 0,0)."""
    x0, y0, x1, y1 = box.to_edges()
    return QRectF(QPointF(x0, y0), QPointF(x1, y1))


def rect_to_box(rect: QRectF) -> Box:
    """Scene rectangle (0-based edges) -> VOC box."""
    return Box.from_edges(rect.left(), rect.top(), rect.right(), rect.bottom())


def snap_rect(x0: float, y0: float, x1: float, y1: float, width: int, height: int) -> QRectF:
    """Round edges to whole pixels and clamp into the image; at least one pixel each way."""
    xs = sorted((min(max(round(x0), 0), width), min(max(round(x1), 0), width)))
    ys = sorted((min(max(round(y0), 0), height), min(max(round(y1), 0), height)))
    if xs[1] - xs[0] < 1:
        xs = [xs[0], xs[0] + 1] if xs[0] + 1 <= width else [xs[1] - 1, xs[1]]
    if ys[1] - ys[0] < 1:
        ys = [ys[0], ys[0] + 1] if ys[0] + 1 <= height else [ys[1] - 1, ys[1]]
    return QRectF(QPointF(xs[0], ys[0]), QPointF(xs[1], ys[1]))


def clamp_offset(rect: QRectF, dx: float, dy: float, width: int, height: int) -> tuple[float, float]:
    """Limit a translation so the box stays entirely inside the image (size unchanged)."""
    dx = min(max(dx, -rect.left()), width - rect.right())
    dy = min(max(dy, -rect.top()), height - rect.bottom())
    return dx, dy
