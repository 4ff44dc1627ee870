"""Canvas: drawing, moving and resizing with real mouse events; zoom; coordinates."""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from artannot.app.canvas import FIT_MARGIN, Mode
from artannot.core.geometry import Box
from artannot.core.model import Region

from .editor_helpers import drag, vp


def test_draw_box_matches_voc_convention(editor_factory, qtbot):
    editor = editor_factory(scale=1.0)
    canvas = editor.canvas()
    QTest.keyClick(canvas, Qt.Key.Key_W)  # W toggles draw mode
    assert canvas.mode() is Mode.DRAW
    with qtbot.waitSignal(editor.regionsChanged):
        drag(canvas, (0, 0), (10, 5))
    regions = editor.annotation().regions
    assert [r.box for r in regions] == [Box(1, 1, 10, 5)]
    assert regions[0].source == "manual"
    assert editor.is_dirty()
    assert editor.selected_indices() == [0]


def test_draw_at_zoom_2_is_rounded_and_clamped(editor_factory):
    editor = editor_factory(scale=2.0)
    canvas = editor.canvas()
    canvas.set_mode(Mode.DRAW)
    drag(canvas, (10.2, 20.4), (39.8, 49.6))
    assert editor.annotation().regions[0].box == Box(11, 21, 40, 50)
    # dragging beyond the image stops at its border (scene x = 200, y = 150)
    canvas.fit_window()
    drag(canvas, (150, 100), (260, 190))
    assert editor.annotation().regions[1].box == Box(151, 101, 200, 150)


def test_tiny_drag_creates_nothing(editor_factory):
    editor = editor_factory(scale=1.0)
    canvas = editor.canvas()
    canvas.set_mode(Mode.DRAW)
    p = vp(canvas, 50, 50)
    QTest.mousePress(canvas.viewport(), Qt.MouseButton.LeftButton, pos=p)
    QTest.mouseRelease(canvas.viewport(), Qt.MouseButton.LeftButton, pos=p + p * 0)
    assert editor.annotation().regions == []
    assert not editor.is_dirty()


def test_drag_move_is_one_undo_step_and_clamped(editor_factory):
    editor = editor_factory(regions=[Region(Box(11, 11, 30, 40), "head")], scale=2.0)
    canvas = editor.canvas()
    drag(canvas, (20, 20), (45, 27))  # select + move by (25, 7) in several mouse moves
    assert editor.annotation().regions[0].box == Box(36, 18, 55, 47)
    assert editor.undo_stack().count() == 1
    drag(canvas, (40, 30), (400, 30))  # far past the right edge: stops at x1 = 200
    assert editor.annotation().regions[0].box == Box(181, 18, 200, 47)
    editor.undo_stack().undo()
    editor.undo_stack().undo()
    assert editor.annotation().regions[0].box == Box(11, 11, 30, 40)
    assert not editor.is_dirty()


def test_resize_by_corner_and_edge_handles(editor_factory):
    editor = editor_factory(regions=[Region(Box(11, 11, 30, 40), "head")], scale=2.0)
    canvas = editor.canvas()
    editor.select_indices([0])
    drag(canvas, (30, 40), (60, 70))  # bottom-right corner (edges x1=30, y1=40)
    assert editor.annotation().regions[0].box == Box(11, 11, 60, 70)
    drag(canvas, (10, 40), (0, 40))  # left edge (x0=10) to the image border
    assert editor.annotation().regions[0].box == Box(1, 11, 60, 70)
    drag(canvas, (35, 10), (35, -50))  # top edge beyond the image: clamped to 0
    assert editor.annotation().regions[0].box == Box(1, 1, 60, 70)
    assert editor.undo_stack().count() == 3


def test_click_selects_smallest_box_and_ctrl_click_adds(editor_factory):
    regions = [Region(Box(1, 1, 150, 120), "vase"), Region(Box(21, 21, 40, 40), "handle")]
    editor = editor_factory(regions=regions, scale=2.0)
    canvas = editor.canvas()
    QTest.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, pos=vp(canvas, 30, 30))
    assert editor.selected_indices() == [1]
    QTest.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.ControlModifier, vp(canvas, 100, 100))
    assert editor.selected_indices() == [0, 1]
    assert editor.objects_panel().selected_indices() == [0, 1]


def test_zoom_fit_100_and_wheel(editor_factory):
    editor = editor_factory(width=400, height=100, scale=None)
    canvas = editor.canvas()
    vpw, vph = canvas.viewport().width(), canvas.viewport().height()
    canvas.fit_window()
    assert abs(canvas.scale_factor() - FIT_MARGIN * min(vpw / 400, vph / 100)) < 1e-6
    canvas.zoom_100()
    assert canvas.scale_factor() == 1.0
    canvas.zoom_in()
    assert abs(canvas.scale_factor() - 1.25) < 1e-9
    canvas.zoom_out()
    assert abs(canvas.scale_factor() - 1.0) < 1e-9
    canvas.fit_width()
    assert canvas.scale_factor() < vpw / 400
    # the wheel zooms keeping the scene point under the cursor in place
    canvas.set_scale(2.0)
    anchor = vp(canvas, 100, 50)
    before = canvas.mapToScene(anchor)
    qtbot_wheel(canvas, anchor, 120)
    assert abs(canvas.scale_factor() - 2.5) < 1e-9
    after = canvas.mapToScene(anchor)
    assert abs(after.x() - before.x()) < 1.0 and abs(after.y() - before.y()) < 1.0


def qtbot_wheel(canvas, pos, delta):
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    ev = QWheelEvent(QPointF(pos), QPointF(canvas.viewport().mapToGlobal(pos)), QPoint(0, 0),
                     QPoint(0, delta), Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                     Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(canvas.viewport(), ev)


def test_hide_boxes_and_scene_rect(editor_factory):
    editor = editor_factory(regions=[Region(Box(1, 1, 10, 10), "a")])
    canvas = editor.canvas()
    assert canvas.sceneRect().width() == 200 and canvas.sceneRect().height() == 150
    editor.action("toggle_boxes").trigger()
    assert not any(it.isVisible() for it in canvas.items_list())
    editor.action("toggle_boxes").trigger()
    assert all(it.isVisible() for it in canvas.items_list())


def test_fit_window_never_loops_on_scroll_bars(qtbot, tmp_path, monkeypatch):  # noqa: ANN001
    """Fitting exactly made scroll bars appear, which resized the viewport and fitted again,
    forever (CPU spin; PySide6 eventually aborted the interpreter). Now it settles at once."""
    from PIL import Image
    from PySide6.QtCore import QRectF
    from PySide6.QtWidgets import QApplication

    from artannot.app import canvas as cv

    calls = []
    original = cv.AnnotationCanvas.resizeEvent
    def counting(self, event) -> None:  # noqa: ANN001
        calls.append(1)
        original(self, event)

    monkeypatch.setattr(cv.AnnotationCanvas, "resizeEvent", counting)
    path = tmp_path / "wide.jpg"
    Image.new("RGB", (4200, 2800), (10, 20, 30)).save(path)
    canvas = cv.AnnotationCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(600, 400)
    canvas.show()
    canvas.scene().setSceneRect(QRectF(0, 0, 4200, 2800))
    with qtbot.waitSignal(canvas.imageLoaded, timeout=10_000):
        canvas.set_image(path)
    # Rounds of the event loop, not a pause: a fit/scroll-bar loop re-posts its events each
    # round and would pass 10 calls however busy the machine is.
    for _ in range(50):
        QApplication.processEvents()
    assert len(calls) < 10
    assert not canvas.horizontalScrollBar().isVisible() and not canvas.verticalScrollBar().isVisible()
