"""The basket: fragments and artworks collected from search results, in the curator's order.

``Basket`` is plain Python (add, remove, move, export as CSV/JSON, export the artworks as a
VOC or COCO subset through ``core.interop``); ``BasketWidget`` shows it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
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

from artannot.core.geometry import Box
from artannot.core.safe_io import atomic_write


@dataclass(frozen=True)
class BasketEntry:
    kind: str  # "fragment" | "artwork"
    artwork_id: str
    box: Box | None = None  # VOC box of a fragment
    phrase: str = ""  # the query that found it
    score: float | None = None

    def key(self) -> tuple:
        return (self.kind, self.artwork_id, self.box)

    def text(self) -> str:
        if self.kind == "artwork":
            return f"🖼 {self.artwork_id}"
        b = self.box
        where = f"{b.xmin:.0f},{b.ymin:.0f}–{b.xmax:.0f},{b.ymax:.0f}" if b else ""
        score = f" {self.score:.3f}" if self.score is not None else ""
        return f"▣ {self.artwork_id} [{where}] “{self.phrase}”{score}"

    def row(self) -> dict:
        d = asdict(self)
        b = self.box
        d["box"] = None if b is None else {"xmin": b.xmin, "ymin": b.ymin, "xmax": b.xmax, "ymax": b.ymax}
        return d


class Basket:
    """Ordered, duplicate-free list of entries."""

    def __init__(self) -> None:
        self.entries: list[BasketEntry] = []

    def add(self, entry: BasketEntry) -> bool:
        if any(e.key() == entry.key() for e in self.entries):
            return False
        self.entries.append(entry)
        return True

    def remove(self, index: int) -> None:
        del self.entries[index]

    def move(self, index: int, delta: int) -> int:
        j = min(max(index + delta, 0), len(self.entries) - 1)
        if j != index:
            self.entries.insert(j, self.entries.pop(index))
        return j

    def artwork_ids(self) -> list[str]:
        return list(dict.fromkeys(e.artwork_id for e in self.entries))

    def to_json(self) -> str:
        return json.dumps([e.row() for e in self.entries], indent=2, ensure_ascii=False)

    def to_csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["order", "kind", "artwork_id", "xmin", "ymin", "xmax", "ymax", "phrase", "score"])
        for i, e in enumerate(self.entries, 1):
            b = e.box
            w.writerow([i, e.kind, e.artwork_id, *(("", "", "", "") if b is None else
                                                   (b.xmin, b.ymin, b.xmax, b.ymax)),
                        e.phrase, "" if e.score is None else f"{e.score:.6f}"])
        return buf.getvalue()

    def export_list(self, path: Path) -> Path:
        path = Path(path)
        text = self.to_csv() if path.suffix.lower() == ".csv" else self.to_json()
        atomic_write(path, text.encode("utf-8"), backup=False)
        return path

    def export_subset(self, root: Path, fmt: str, out: Path):
        """The basket's artworks (their VOC annotations) as a VOC folder or a COCO file."""
        from artannot.core.interop import export_annotations

        return export_annotations(root, fmt, out, ids=self.artwork_ids(), overwrite=True)


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
        self.count = QLabel("Basket is empty")
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
        n = sum(self.basket.add(e) for e in entries)
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
        n, arts = len(self.basket.entries), len(self.basket.artwork_ids())
        self.count.setText(f"{n} items from {arts} artworks" if n else "Basket is empty")

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
