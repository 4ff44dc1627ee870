"""The basket dock: shows a :class:`~artannot.core.basket.Basket` and asks where to export it.

The basket's rules (entries, duplicates, order, CSV/JSON lists, VOC/COCO subsets) live in
``core/basket.py``; this module is only the widget and its file dialogs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from artannot.core.basket import Basket, BasketEntry

__all__ = ["BasketEntry", "BasketWidget", "file_dialog_chooser"]  # BasketEntry: for the main window


def file_dialog_chooser(parent: QWidget) -> Callable[[str, str], Path | None]:
    def choose(title: str, kind: str) -> Path | None:
        if kind == "dir":
            path = QFileDialog.getExistingDirectory(parent, title)
        else:
            path, _ = QFileDialog.getSaveFileName(parent, title, "", kind)
        return Path(path) if path else None

    return choose


class BasketWidget(QWidget):
    """Shows a :class:`Basket`; ``openRequested(entry)`` on double click."""

    openRequested = Signal(object)
    message = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.basket = Basket()
        self.root: Path | None = None
        self.choose_path = file_dialog_chooser(self)  # tests replace it
        self.list = QListWidget()
        self.list.itemActivated.connect(lambda it: self.openRequested.emit(it.data(Qt.ItemDataRole.UserRole)))
        self.count = QLabel(self.basket.summary())
        buttons = QHBoxLayout()
        for text, slot in (("▲", lambda: self._move(-1)), ("▼", lambda: self._move(1)),
                           ("Remove", self.remove_current), ("Export list…", self.export_list),
                           ("Export VOC…", lambda: self.export_subset("voc")),
                           ("Export COCO…", lambda: self.export_subset("coco"))):
            b = QToolButton(text=text)
            b.clicked.connect(slot)
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.count)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)

    def add(self, entries: list[BasketEntry]) -> int:
        n = self.basket.add_all(entries)
        self._refresh(self.list.currentRow())
        return n

    def _refresh(self, current: int = -1) -> None:
        self.list.clear()
        for e in self.basket.entries:
            item = QListWidgetItem(e.text())
            item.setData(Qt.ItemDataRole.UserRole, e)
            self.list.addItem(item)
        if self.basket.entries:
            self.list.setCurrentRow(min(max(current, 0), len(self.basket.entries) - 1))
        self.count.setText(self.basket.summary())

    def _move(self, delta: int) -> None:
        i = self.list.currentRow()
        if i >= 0:
            self._refresh(self.basket.move(i, delta))

    def remove_current(self) -> None:
        i = self.list.currentRow()
        if i >= 0:
            self.basket.remove(i)
            self._refresh(i)

    def export_list(self) -> Path | None:
        path = self.choose_path("Export basket as CSV or JSON", "CSV (*.csv);;JSON (*.json)")
        if path is None:
            return None
        self.basket.export_list(path)
        self.message.emit(f"Basket written to {path}")
        return path

    def export_subset(self, fmt: str) -> Path | None:
        if self.root is None or not self.basket.entries:
            return None
        out = self.choose_path(f"Export basket artworks as {fmt.upper()}",
                               "dir" if fmt == "voc" else "COCO JSON (*.json)")
        if out is None:
            return None
        report = self.basket.export_subset(self.root, fmt, out)
        self.message.emit(f"Exported {len(self.basket.artwork_ids())} artworks as {fmt.upper()} to {out}"
                          f" ({report.lines()[0]})")
        return out
