"""Helpers for driving the editor in tests (not a test module)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest

from artannot.app.canvas import AnnotationCanvas
from artannot.core.geometry import Box
from artannot.core.model import Annotation, Region


def annotation_for(path: Path, width: int, height: int, regions: list[Region] | None = None) -> Annotation:
    return Annotation(filename=path.name, width=width, height=height, regions=list(regions or []))


def vp(canvas: AnnotationCanvas, x: float, y: float) -> QPoint:
    """Viewport point of scene point (x, y)."""
    return canvas.mapFromScene(QPointF(x, y))


def drag(canvas: AnnotationCanvas, start: tuple[float, float], end: tuple[float, float],
         button: Qt.MouseButton = Qt.MouseButton.LeftButton) -> None:
    """Press at scene ``start``, move in a few steps, release at scene ``end``."""
    view = canvas.viewport()
    p0, p1 = vp(canvas, *start), vp(canvas, *end)
    QTest.mousePress(view, button, Qt.KeyboardModifier.NoModifier, p0)
    for k in (1, 2, 3):
        QTest.mouseMove(view, p0 + (p1 - p0) * (k / 4))
    QTest.mouseMove(view, p1)
    QTest.mouseRelease(view, button, Qt.KeyboardModifier.NoModifier, p1)


def box(x0: float, y0: float, x1: float, y1: float) -> Box:
    return Box(x0, y0, x1, y1)
