"""The objects table: one row per region, attributes editable in place.

The table mirrors the RegionDocument; an edit in a cell is reported as
``attributeEdited(row, field, value)`` and goes through the editor's undo stack, never
written into the region here.  ``_syncing`` is the blocker that stops a refresh from the
document (or a selection pushed from the canvas) being echoed back as a user edit.
"""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from artannot.app.canvas import DEFAULT_SHOWN_PROPOSALS, hidden_proposals
from artannot.app.commands import RegionDocument
from artannot.core.model import Region

COLUMNS = ("phrase", "pose", "truncated", "difficult", "source", "score")
EDITABLE_TEXT = {"phrase", "pose"}
CHECKABLE = {"truncated", "difficult"}


class ObjectsPanel(QWidget):
    """Table of regions with selection synced to the canvas (through the editor)."""

    selectionChanged = Signal(list)  # selected rows == region indices
    attributeEdited = Signal(int, str, object)  # row, field name, new value
    rowActivated = Signal(int)  # double-click outside an editable cell: open the label editor

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels([c.capitalize() for c in COLUMNS])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                   | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in range(1, len(COLUMNS)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        self._doc: RegionDocument | None = None
        self._syncing = False
        # Detector proposals held back by the "proposals shown" slider: hidden here as on the
        # canvas (the same rule, canvas.hidden_proposals), kept in the document.
        self._proposal_limit: int | None = DEFAULT_SHOWN_PROPOSALS
        self._hidden: set[int] = set()
        self.table.itemChanged.connect(self._on_item_changed)
        self.table.selectionModel().selectionChanged.connect(self._on_selection)
        self.table.cellDoubleClicked.connect(self._on_double_click)

    def set_document(self, doc: RegionDocument) -> None:
        self._doc = doc
        doc.reset.connect(lambda: self._rebuild([]))
        doc.structureChanged.connect(self._rebuild)
        doc.regionsChanged.connect(self._refresh_rows)
        self._rebuild([])

    # -- document -> table -------------------------------------------------------------
    def _rebuild(self, select: list[int]) -> None:
        assert self._doc is not None
        self._syncing = True
        try:
            with QSignalBlocker(self.table.selectionModel()):
                self.table.setRowCount(len(self._doc))
                for row, region in enumerate(self._doc.regions()):
                    self._fill_row(row, region)
        finally:
            self._syncing = False
        self._apply_hidden()
        self.select_indices(select)

    def _refresh_rows(self, rows: list[int]) -> None:
        assert self._doc is not None
        self._syncing = True
        try:
            for row in rows:
                self._fill_row(row, self._doc.region(row))
        finally:
            self._syncing = False
        self._apply_hidden()  # an accepted proposal makes room for the next one

    # -- proposals held back -------------------------------------------------------------
    def set_proposal_limit(self, limit: int | None) -> None:
        """List only the ``limit`` best detector proposals (None: all), as the canvas draws."""
        self._proposal_limit = limit
        self._apply_hidden()

    def hidden_rows(self) -> set[int]:
        return set(self._hidden)

    def _apply_hidden(self) -> None:
        if self._doc is None:
            return
        self._hidden = hidden_proposals(self._doc.regions(), self._proposal_limit)
        for row in range(self.table.rowCount()):
            self.table.setRowHidden(row, row in self._hidden)

    def _fill_row(self, row: int, region: Region) -> None:
        values = {
            "phrase": region.phrase, "pose": region.pose, "source": region.source,
            "score": "" if region.score is None else f"{region.score:.3f}",
        }
        for col, name in enumerate(COLUMNS):
            item = QTableWidgetItem()
            flags = Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled
            if name in CHECKABLE:
                item.setFlags(flags | Qt.ItemFlag.ItemIsUserCheckable)
                checked = getattr(region, name)
                item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
            else:
                item.setText(values[name])
                item.setFlags(flags | Qt.ItemFlag.ItemIsEditable if name in EDITABLE_TEXT else flags)
            if region.source != "manual":
                item.setToolTip("proposal: Enter accepts, Del rejects")
            self.table.setItem(row, col, item)

    # -- selection ---------------------------------------------------------------------
    def selected_indices(self) -> list[int]:
        """Selected rows; hidden proposals refuse selection, as on the canvas."""
        return sorted({idx.row() for idx in self.table.selectionModel().selectedRows()}
                      - self._hidden)

    def select_indices(self, indices: list[int]) -> None:
        """Set the selection from outside without emitting selectionChanged."""
        with QSignalBlocker(self.table.selectionModel()):
            self.table.clearSelection()
            for row in indices:
                if 0 <= row < self.table.rowCount():
                    self.table.selectionModel().select(
                        self.table.model().index(row, 0),
                        QItemSelectionModel.SelectionFlag.Select
                        | QItemSelectionModel.SelectionFlag.Rows)
        if indices and 0 <= indices[0] < self.table.rowCount():
            self.table.scrollToItem(self.table.item(indices[0], 0))
        self.table.viewport().update()

    def _on_selection(self, *_: object) -> None:
        if not self._syncing:
            self.selectionChanged.emit(self.selected_indices())

    # -- table -> editor ---------------------------------------------------------------
    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        if self._syncing or self._doc is None:
            return
        name = COLUMNS[item.column()]
        row = item.row()
        if name in CHECKABLE:
            value: object = item.checkState() == Qt.CheckState.Checked
        elif name in EDITABLE_TEXT:
            value = " ".join(item.text().split())
        else:
            return
        if value != getattr(self._doc.region(row), name):
            self.attributeEdited.emit(row, name, value)

    def _on_double_click(self, row: int, col: int) -> None:
        if COLUMNS[col] not in EDITABLE_TEXT:
            self.rowActivated.emit(row)
