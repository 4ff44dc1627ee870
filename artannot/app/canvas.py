"""The image canvas: zoom, pan, and the mouse side of box editing.

The scene is in image pixel edge coordinates: the image covers ``(0, 0)-(width, height)``
whatever pyramid level is shown.  The canvas never changes regions itself: a finished drag
emits ``boxDrawn`` or ``boxesEdited`` and the editor turns that into one undo command, so a
drag is one undo step however many mouse moves it took.

Why one long module (~510 lines): one QGraphicsView subclass; its mouse states (draw, move,
resize, pan, rubber band) share the same event handlers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import Enum
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QImage,
    QMouseEvent,
    QPainter,
    QPen,
    QPixmap,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsView,
    QWidget,
)

from artannot.app.box_item import (
    CURSORS,
    HANDLES,
    BoxItem,
    ProposalLabel,
    box_to_rect,
    clamp_offset,
    snap_rect,
)
from artannot.app.commands import RegionDocument
from artannot.app.pyramid import PyramidLoader, preview_factor, read_info
from artannot.core.errors import ImageError
from artannot.core.geometry import Box
from artannot.core.model import Region

ZOOM_STEP = 1.25
MIN_SCALE, MAX_SCALE = 0.01, 64.0
FIT_MARGIN = 0.98  # fit a little inside the viewport: see fit_window
DRAG_THRESHOLD_PX = 3
DEFAULT_SHOWN_PROPOSALS = 5  # detector proposals drawn at first; the rest wait behind a slider


def hidden_proposals(regions: Sequence[Region], limit: int | None) -> set[int]:
    """Indices of the detector proposals not drawn: all but the ``limit`` best (None: none).

    Ranked by detector score, not by the phrase score of their labels: the detector score is
    there the moment proposals appear and never changes, so the few boxes a curator is looking
    at (and pressing Enter on) do not reshuffle when the phrase labels arrive from the worker a
    moment later, and the choice is the same with or without a model. The label and its score
    are on each box to decide with. Accepting or rejecting one brings the next one in, so the
    curator works through the proposals a few at a time. Manual boxes and search suggestions
    (added one by one on request) are always drawn.
    """
    if limit is None:
        return set()
    ranked = sorted((i for i, r in enumerate(regions) if r.source == "detector"),
                    key=lambda i: -(regions[i].score or 0.0))  # stable: ties keep their order
    return set(ranked[max(limit, 0):])


class Mode(Enum):
    SELECT = "select"
    DRAW = "draw"


class _Drag:
    """State of one mouse drag (draw, move or resize), kept until release."""

    def __init__(self, kind: str, start: QPointF, items: list[BoxItem], handle: str | None = None) -> None:
        self.kind, self.start, self.items, self.handle = kind, start, items, handle
        self.orig = {it.index: QRectF(it.rect()) for it in items}
        self.moved = False


class AnnotationCanvas(QGraphicsView):
    """QGraphicsView showing the image pyramid and one BoxItem per region."""

    selectionChanged = Signal(list)  # selected region indices
    boxDrawn = Signal(QRectF)  # new box, scene edges, already rounded and clamped
    boxesEdited = Signal(object)  # {index: QRectF} after a move/resize drag (object: int keys)
    boxDoubleClicked = Signal(int)
    modeChanged = Signal(str)
    zoomChanged = Signal(float)
    imageLoaded = Signal(int)  # pyramid factor now displayed (emitted for every level shown)
    imageFailed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._scene = QGraphicsScene(self)
        self.setScene(self._scene)
        self.setBackgroundBrush(QColor(48, 48, 48))
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setRubberBandSelectionMode(Qt.ItemSelectionMode.ContainsItemShape)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.viewport().setMouseTracking(True)
        self._pixmap_item = QGraphicsPixmapItem()
        self._pixmap_item.setZValue(0)
        self._scene.addItem(self._pixmap_item)
        self._levels: dict[int, QPixmap] = {}
        self._shown_factor = 0
        self._preview = 1
        self._loader = PyramidLoader(self)
        self._loader.levelReady.connect(self._on_level)
        self._loader.loadFailed.connect(self.imageFailed)
        self._size = (1, 1)  # never zero: fit computations divide by it
        self._items: list[BoxItem] = []
        self._doc: RegionDocument | None = None
        self._mode = Mode.SELECT
        self._drag: _Drag | None = None
        self._draw_item: QGraphicsRectItem | None = None
        self._pan_origin: QPointF | None = None
        self._boxes_visible = True
        self._proposal_limit: int | None = DEFAULT_SHOWN_PROPOSALS
        self._hidden: set[int] = set()  # detector proposals beyond the limit
        self._labels: dict[Box, ProposalLabel] = {}  # model's best phrase per proposal box
        self._auto_fit = True  # keep fitting on resize until the user picks a zoom
        self._fitting = False
        self._scene.selectionChanged.connect(self._emit_selection)

    # -- image -------------------------------------------------------------------
    def set_image(self, path: Path | None, width: int = 0, height: int = 0) -> None:
        """Show ``path``; the size comes from its header (or the given fallback if unreadable)."""
        self._levels.clear()
        self._shown_factor = 0
        self._pixmap_item.setPixmap(QPixmap())
        self._loader.clear()
        info = None
        if path is not None:
            try:
                info = read_info(path)
            except ImageError as exc:
                self.imageFailed.emit(str(exc))
        if info is not None:
            width, height = info.width, info.height
        self._size = (max(int(width), 1), max(int(height), 1))
        self._scene.setSceneRect(QRectF(0, 0, *self._size))
        self._preview = preview_factor(*self._size)
        self.fit_window()
        if info is not None:
            self._loader.open(info.path, self._preview)

    def image_size(self) -> tuple[int, int]:
        return self._size

    def loader(self) -> PyramidLoader:
        return self._loader

    def shown_factor(self) -> int:
        """Pyramid reduction factor on screen (0 = nothing yet, 1 = full resolution)."""
        return self._shown_factor

    def _on_level(self, factor: int, image: QImage) -> None:
        self._levels[factor] = QPixmap.fromImage(image)
        self._update_level()

    def _update_level(self) -> None:
        """Show the coarsest level that is not magnified on screen; fetch full-res lazily."""
        if not self._levels:
            return
        scale = self.scale_factor()
        wanted = self._preview
        if scale * self._preview > 1.0:
            wanted = 1
            self._loader.request(1)
        factor = wanted if wanted in self._levels else min(self._levels)
        if factor != self._shown_factor:
            pm = self._levels[factor]
            self._pixmap_item.setPixmap(pm)
            self._pixmap_item.setTransform(
                QTransform.fromScale(self._size[0] / pm.width(), self._size[1] / pm.height()))
            self._shown_factor = factor
            self.imageLoaded.emit(factor)
        # crisp pixels when magnified (annotators look at pixel edges), smooth otherwise
        mode = Qt.TransformationMode.FastTransformation if scale * factor > 2.0 else \
            Qt.TransformationMode.SmoothTransformation
        self._pixmap_item.setTransformationMode(mode)

    # -- zoom -------------------------------------------------------------------
    def scale_factor(self) -> float:
        return self.transform().m11()

    def set_scale(self, scale: float, anchor: QPointF | None = None) -> None:
        """Zoom to ``scale`` screen px per image px, keeping the scene point under ``anchor``."""
        scale = min(max(scale, MIN_SCALE), MAX_SCALE)
        vp = anchor if anchor is not None else QPointF(self.viewport().rect().center())
        scene_pt = self.mapToScene(vp.toPoint())
        self.setTransform(QTransform.fromScale(scale, scale))
        delta = self.mapFromScene(scene_pt) - vp.toPoint()
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + delta.x())
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + delta.y())
        for item in self._items:
            item.set_view_scale(scale)
        self._update_level()
        self.zoomChanged.emit(scale)

    def zoom_in(self) -> None:
        self._auto_fit = False
        self.set_scale(self.scale_factor() * ZOOM_STEP)

    def zoom_out(self) -> None:
        self._auto_fit = False
        self.set_scale(self.scale_factor() / ZOOM_STEP)

    def zoom_100(self) -> None:
        self._auto_fit = False
        self.set_scale(1.0)

    def fit_window(self) -> None:
        self._auto_fit = True
        if self._fitting:  # a fit that toggles the scroll bars resizes the viewport: no loop
            return
        vp = self.viewport().size()
        w, h = self._size
        if vp.width() < 2 or vp.height() < 2:
            return
        self._fitting = True
        try:
            # A hair smaller than exact, so rounding never brings scroll bars (which would
            # shrink the viewport, fire resizeEvent and fit again, endlessly).
            self.set_scale(FIT_MARGIN * min(vp.width() / w, vp.height() / h))
            self.centerOn(w / 2, h / 2)
        finally:
            self._fitting = False

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        # Never rescale under the mouse: a drag in progress keeps the zoom it started with.
        if self._auto_fit and self._drag is None and self._draw_item is None:
            self.fit_window()

    def fit_width(self) -> None:
        self._auto_fit = False
        vp = self.viewport().size()
        w = self._size[0]
        bar = self.verticalScrollBar().sizeHint().width()
        self.set_scale((vp.width() - bar) / w)
        self.centerOn(w / 2, 0)

    def wheelEvent(self, event: QWheelEvent) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            super().wheelEvent(event)  # Shift+wheel scrolls
            return
        steps = event.angleDelta().y() / 120.0
        if steps:
            self._auto_fit = False
            self.set_scale(self.scale_factor() * ZOOM_STEP ** steps, event.position())
        event.accept()

    # -- boxes ------------------------------------------------------------------
    def set_document(self, doc: RegionDocument) -> None:
        self._doc = doc
        doc.reset.connect(lambda: self._rebuild([]))
        doc.structureChanged.connect(self._rebuild)
        doc.regionsChanged.connect(self._refresh)
        self._rebuild([])

    def items_list(self) -> list[BoxItem]:
        return list(self._items)

    def _rebuild(self, select: list[int]) -> None:
        self._cancel_drag()
        self._scene.blockSignals(True)
        for item in self._items:
            self._scene.removeItem(item)
        self._items = []
        if self._doc is not None:
            for i, region in enumerate(self._doc.regions()):
                item = BoxItem(i, box_to_rect(region.box), region)
                item.set_view_scale(self.scale_factor())
                item.set_hint(self._labels.get(region.box))
                self._scene.addItem(item)
                self._items.append(item)
            self._apply_visibility()
            for item in self._items:  # hidden proposals refuse selection: Enter skips them
                item.setSelected(item.index in select)
        self._scene.blockSignals(False)
        self._emit_selection()

    def _refresh(self, indices: list[int]) -> None:
        assert self._doc is not None
        for i in indices:
            region = self._doc.region(i)
            self._items[i].set_region(region, box_to_rect(region.box))
            self._items[i].set_hint(self._labels.get(region.box))
        self._apply_visibility()  # an accepted proposal makes room for the next one

    def _apply_visibility(self) -> None:
        self._hidden = hidden_proposals([it.region for it in self._items], self._proposal_limit)
        for item in self._items:
            item.setVisible(self._boxes_visible and item.index not in self._hidden)

    # -- proposals: labels and how many are drawn -------------------------------------
    def set_proposal_limit(self, limit: int | None) -> None:
        """Draw only the ``limit`` best detector proposals (None: all); the rest stay."""
        self._proposal_limit = limit
        self._apply_visibility()

    def proposal_limit(self) -> int | None:
        return self._proposal_limit

    def shown_indices(self) -> list[int]:
        """Regions not held back by the proposal limit (what Ctrl+A selects)."""
        return [it.index for it in self._items if it.index not in self._hidden]

    def add_proposal_labels(self, labels: Mapping[Box, ProposalLabel]) -> None:
        """The model's best phrase for proposal boxes; kept until ``clear_proposal_labels``."""
        self._labels.update(labels)
        for item in self._items:
            item.set_hint(self._labels.get(item.region.box))

    def clear_proposal_labels(self) -> None:
        self._labels.clear()
        for item in self._items:
            item.set_hint(None)

    def proposal_label(self, box: Box) -> ProposalLabel | None:
        return self._labels.get(box)

    def selected_indices(self) -> list[int]:
        return sorted(it.index for it in self._items if it.isSelected())

    def select_indices(self, indices: list[int]) -> None:
        """Programmatic selection; emits selectionChanged once."""
        wanted = set(indices)
        self._scene.blockSignals(True)
        for item in self._items:
            item.setSelected(item.index in wanted)
        self._scene.blockSignals(False)
        self._emit_selection()
        if wanted:
            self.ensureVisible(self._items[min(wanted)].rect(), 20, 20)

    def _emit_selection(self) -> None:
        self.selectionChanged.emit(self.selected_indices())

    def set_boxes_visible(self, visible: bool) -> None:
        self._boxes_visible = visible
        self._apply_visibility()

    def boxes_visible(self) -> bool:
        return self._boxes_visible

    # -- modes ------------------------------------------------------------------
    def mode(self) -> Mode:
        return self._mode

    def set_mode(self, mode: Mode) -> None:
        self._cancel_drag()
        self._mode = mode
        self.viewport().setCursor(
            Qt.CursorShape.CrossCursor if mode is Mode.DRAW else Qt.CursorShape.ArrowCursor)
        self.modeChanged.emit(mode.value)

    # -- mouse ------------------------------------------------------------------
    def _box_at(self, pos: QPointF) -> BoxItem | None:
        """Smallest visible box containing ``pos``: nested fragments stay reachable."""
        hits = [it for it in self._items if it.isVisible() and it.hit(pos)]
        return min(hits, key=lambda it: it.rect().width() * it.rect().height()) if hits else None

    def _handle_at(self, pos: QPointF) -> tuple[BoxItem, str] | None:
        for item in sorted((it for it in self._items if it.isSelected() and it.isVisible()),
                           key=lambda it: it.rect().width() * it.rect().height()):
            handle = item.handle_at(pos)
            if handle:
                return item, handle
        return None

    def _clamped(self, pos: QPointF) -> QPointF:
        w, h = self._size
        return QPointF(min(max(pos.x(), 0.0), w), min(max(pos.y(), 0.0), h))

    def mousePressEvent(self, event: QMouseEvent) -> None:
        pos = self.mapToScene(event.position().toPoint())
        if event.button() == Qt.MouseButton.MiddleButton:
            self._pan_origin = event.position()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            return
        if event.button() != Qt.MouseButton.LeftButton:
            return super().mousePressEvent(event)
        self.setFocus()
        if self._mode is Mode.DRAW:
            self._drag = _Drag("draw", self._clamped(pos), [])
            self._draw_item = QGraphicsRectItem()
            pen = QPen(QColor(255, 230, 0), 2, Qt.PenStyle.DashLine)
            pen.setCosmetic(True)
            self._draw_item.setPen(pen)
            self._draw_item.setZValue(20)
            self._scene.addItem(self._draw_item)
            return
        ctrl = bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier)
        grabbed = None if ctrl else self._handle_at(pos)
        if grabbed:
            self._drag = _Drag("resize", pos, [grabbed[0]], grabbed[1])
            return
        item = self._box_at(pos)
        if item is None:
            self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
            super().mousePressEvent(event)
            return
        if ctrl:
            item.setSelected(not item.isSelected())
            return
        if not item.isSelected():
            self.select_indices([item.index])
        self._drag = _Drag("move", pos, [it for it in self._items if it.isSelected()])

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._pan_origin is not None:
            d = event.position() - self._pan_origin
            self._pan_origin = event.position()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - int(d.x()))
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - int(d.y()))
            return
        pos = self.mapToScene(event.position().toPoint())
        drag = self._drag
        if drag is None:
            if self._mode is Mode.SELECT and not event.buttons():
                grabbed = self._handle_at(pos)
                self.viewport().setCursor(CURSORS[grabbed[1]] if grabbed else Qt.CursorShape.ArrowCursor)
            return super().mouseMoveEvent(event)
        screen_d = (pos - drag.start) * self.scale_factor()
        if not drag.moved and max(abs(screen_d.x()), abs(screen_d.y())) < DRAG_THRESHOLD_PX:
            return
        drag.moved = True
        w, h = self._size
        if drag.kind == "draw":
            p = self._clamped(pos)
            assert self._draw_item is not None
            self._draw_item.setRect(snap_rect(drag.start.x(), drag.start.y(), p.x(), p.y(), w, h))
        elif drag.kind == "move":
            d = pos - drag.start
            dx, dy = round(d.x()), round(d.y())
            for it in drag.items:  # one offset for all, limited by the box closest to an edge
                dx, dy = clamp_offset(drag.orig[it.index], dx, dy, w, h)
            for it in drag.items:
                it.setRect(drag.orig[it.index].translated(dx, dy))
        else:
            it = drag.items[0]
            r = drag.orig[it.index]
            mx0, my0, mx1, my1 = HANDLES[drag.handle or "br"]
            x0 = pos.x() if mx0 else r.left()
            y0 = pos.y() if my0 else r.top()
            x1 = pos.x() if mx1 else r.right()
            y1 = pos.y() if my1 else r.bottom()
            it.setRect(snap_rect(x0, y0, x1, y1, w, h))

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.MiddleButton and self._pan_origin is not None:
            self._pan_origin = None
            self.set_mode(self._mode)  # restores the mode's cursor
            return
        drag, self._drag = self._drag, None
        if drag is None or event.button() != Qt.MouseButton.LeftButton:
            super().mouseReleaseEvent(event)
            self.setDragMode(QGraphicsView.DragMode.NoDrag)
            return
        if drag.kind == "draw":
            rect = self._draw_item.rect() if self._draw_item is not None else QRectF()
            self._remove_draw_item()
            if drag.moved and rect.width() >= 1 and rect.height() >= 1:
                self.boxDrawn.emit(rect)
            return
        changed = {it.index: QRectF(it.rect()) for it in drag.items
                   if it.rect() != drag.orig[it.index]}
        if changed:
            self.boxesEdited.emit(changed)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._mode is Mode.SELECT:
            item = self._box_at(self.mapToScene(event.position().toPoint()))
            if item is not None:
                self.boxDoubleClicked.emit(item.index)
                return
        super().mouseDoubleClickEvent(event)

    def cancel(self) -> None:
        """Esc: abandon a drag, else leave draw mode, else clear the selection."""
        if self._drag is not None:
            self._cancel_drag()
        elif self._mode is Mode.DRAW:
            self.set_mode(Mode.SELECT)
        else:
            self.select_indices([])

    def _cancel_drag(self) -> None:
        """Abandon a drag in progress: items go back to their document geometry."""
        drag, self._drag = self._drag, None
        if drag is not None:
            for it in drag.items:
                it.setRect(drag.orig[it.index])
        self._remove_draw_item()

    def _remove_draw_item(self) -> None:
        if self._draw_item is not None:
            self._scene.removeItem(self._draw_item)
            self._draw_item = None
