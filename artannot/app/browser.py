"""Collection browser: list and thumbnail grid over the catalog, search as you type, filters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListView,
    QStackedWidget,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from artannot.app.workers import Job, JobControl, start_job
from artannot.core.catalog import ArtworkRow, Catalog, Filters, make_thumbnail

COLUMNS = ("Title", "Museum", "Culture / period", "Date", "Split", "Regions", "Status")
# Catalog sort order of each column (clicking a header sorts by it; a search sorts by relevance).
COLUMN_ORDER = ("title", "museum", "culture", "date", "split", "regions", "status")
STATUS_FILTERS = {
    "All artworks": Filters(),
    "Not annotated": Filters(annotated=False),
    "Annotated": Filters(annotated=True),
    "Verified": Filters(verified=True),
    "Not verified": Filters(verified=False),
    "Without metadata": Filters(has_metadata=False),
    "With errors": Filters(has_error=True),
}
SPLITS = ("any split", "train", "val", "test")
THUMB = 128


def status_text(row: ArtworkRow) -> str:
    if row.error:
        return "error"
    if row.verified:
        return "verified"
    return "annotated" if row.n_regions else "—"


class ArtworkTableModel(QAbstractTableModel):
    """Rows from the catalog; thumbnails arrive lazily from a worker."""

    thumbnailsWanted = Signal(list)

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[ArtworkRow] = []
        self._icons: dict[str, QIcon] = {}
        self._pending: set[str] = set()
        self._want_timer = QTimer(self)
        self._want_timer.setSingleShot(True)
        self._want_timer.setInterval(30)
        self._want_timer.timeout.connect(self._flush_wanted)
        self._wanted: list[str] = []

    def set_rows(self, rows: list[ArtworkRow]) -> None:
        self.beginResetModel()
        self.rows = rows
        self.endResetModel()

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.DisplayRole) -> Any:
        if orientation == Qt.Horizontal and role == Qt.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex, role: int = Qt.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        col = index.column()
        if role == Qt.DisplayRole:
            return (row.title, row.museum, row.culture, row.date, row.split or "", row.n_regions,
                    status_text(row))[col]
        if role == Qt.ToolTipRole:
            return row.error or row.id
        if role == Qt.UserRole:
            return row.id
        if role == Qt.DecorationRole and col == 0:
            icon = self._icons.get(row.id)
            if icon is None and row.id not in self._pending:
                self._pending.add(row.id)
                self._wanted.append(row.id)
                self._want_timer.start()
            return icon
        return None

    def _flush_wanted(self) -> None:
        wanted, self._wanted = self._wanted, []
        if wanted:
            self.thumbnailsWanted.emit(wanted)

    def set_thumbnail(self, artwork_id: str, jpeg: bytes) -> None:
        pix = QPixmap()
        if not pix.loadFromData(jpeg):
            return
        self._icons[artwork_id] = QIcon(pix)
        self._pending.discard(artwork_id)
        for i, row in enumerate(self.rows):
            if row.id == artwork_id:
                idx = self.index(i, 0)
                self.dataChanged.emit(idx, idx, [Qt.DecorationRole])
                break

    def row_of(self, artwork_id: str) -> int:
        return next((i for i, r in enumerate(self.rows) if r.id == artwork_id), -1)


def thumbnail_job(root: Path, ids: list[str]) -> Any:
    """Worker body: cached thumbnails from the catalog, new ones made and stored."""

    def run(ctl: JobControl) -> None:
        with Catalog.open(root, refresh=False) as cat:
            for i, aid in enumerate(ids):
                if ctl.cancelled():
                    return
                jpeg = cat.thumbnail(aid)
                if jpeg is None:
                    try:
                        jpeg = make_thumbnail(cat.root / aid, THUMB)
                    except Exception:  # unreadable image: the list shows its error instead
                        continue
                    cat.store_thumbnail(aid, jpeg)
                ctl.partial((aid, jpeg))
                ctl.progress(i + 1, len(ids))

    return run


class CollectionBrowser(QWidget):
    """Lists a collection's artworks; emits ``artworkActivated(id)`` when one is chosen."""

    artworkActivated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.catalog: Catalog | None = None
        self.model = ArtworkTableModel()
        self.model.thumbnailsWanted.connect(self._load_thumbnails)
        self._thumb_jobs: list[Job] = []

        self.search = QLineEdit(placeholderText="Search title, description, phrases…")
        self.search.setClearButtonEnabled(True)
        self.status_filter = QComboBox()
        self.status_filter.addItems(list(STATUS_FILTERS))
        self.split_filter = QComboBox()
        self.split_filter.addItems(list(SPLITS))
        self.view_toggle = QToolButton(text="Grid", checkable=True)
        self.progress_label = QLabel()

        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.setSortingEnabled(False)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.Stretch)
        self.table.setIconSize(QSize(32, 32))
        self.grid = QListView()
        self.grid.setModel(self.model)
        self.grid.setViewMode(QListView.IconMode)
        self.grid.setIconSize(QSize(THUMB, THUMB))
        self.grid.setGridSize(QSize(THUMB + 24, THUMB + 40))
        self.grid.setResizeMode(QListView.Adjust)
        self.grid.setUniformItemSizes(True)
        self.grid.setWordWrap(True)
        self.grid.setSelectionModel(self.table.selectionModel())
        self.stack = QStackedWidget()
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.grid)

        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.view_toggle)
        filters = QHBoxLayout()
        filters.addWidget(self.status_filter, 1)
        filters.addWidget(self.split_filter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(top)
        layout.addLayout(filters)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.progress_label)

        self._debounce = QTimer(self, singleShot=True, interval=120)
        self._debounce.timeout.connect(self.reload)
        self.search.textChanged.connect(lambda _: self._debounce.start())
        self.status_filter.currentIndexChanged.connect(lambda _: self.reload())
        self.split_filter.currentIndexChanged.connect(lambda _: self.reload())
        self.view_toggle.toggled.connect(lambda on: self.stack.setCurrentIndex(1 if on else 0))
        self.table.selectionModel().currentRowChanged.connect(self._current_changed)
        self.order: str | None = None  # None: relevance while searching, else title
        header = self.table.horizontalHeader()
        header.setSectionsClickable(True)
        header.sectionClicked.connect(self.sort_by_column)

    # -- data ---------------------------------------------------------------
    def set_catalog(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.reload()

    def filters(self) -> Filters:
        f = STATUS_FILTERS[self.status_filter.currentText()]
        split = self.split_filter.currentText()
        return Filters(f.annotated, f.verified, f.has_metadata, f.has_error, None if split == SPLITS[0] else split)

    def reload(self) -> None:
        """Re-query the catalog (search text + filters), keeping the current artwork selected."""
        if self.catalog is None:
            return
        current = self.current_id()
        query = self.search.text()
        order = self.order or ("rank" if query.strip() else "title")
        rows = self.catalog.rows(query, self.filters(), order=order)
        self.model.set_rows(rows)
        if current is not None and (i := self.model.row_of(current)) >= 0:
            self.table.selectRow(i)
        self.update_progress()

    def sort_by_column(self, column: int) -> None:
        self.order = COLUMN_ORDER[column]
        self.table.horizontalHeader().setSortIndicatorShown(True)
        self.table.horizontalHeader().setSortIndicator(column, Qt.AscendingOrder)
        self.reload()

    def update_progress(self) -> None:
        if self.catalog is None:
            return
        s = self.catalog.stats()
        self.progress_label.setText(
            f"{len(self.model.rows)} shown · {s.annotated}/{s.artworks} annotated · {s.verified} verified"
            + (f" · {s.errors} with errors" if s.errors else "")
        )

    def refresh_row(self, artwork_id: str) -> None:
        """Re-read one row's status after a save."""
        if self.catalog is None:
            return
        i = self.model.row_of(artwork_id)
        fresh = [r for r in self.catalog.rows(self.search.text(), self.filters()) if r.id == artwork_id]
        if i >= 0 and fresh:
            self.model.rows[i] = fresh[0]
            self.model.dataChanged.emit(self.model.index(i, 0), self.model.index(i, len(COLUMNS) - 1))
        self.update_progress()

    # -- selection ------------------------------------------------------------
    def current_id(self) -> str | None:
        idx = self.table.currentIndex()
        return self.model.rows[idx.row()].id if idx.isValid() and idx.row() < len(self.model.rows) else None

    def select_id(self, artwork_id: str) -> bool:
        i = self.model.row_of(artwork_id)
        if i < 0:
            return False
        self.table.selectRow(i)
        self.table.scrollTo(self.model.index(i, 0))
        return True

    def step(self, delta: int) -> str | None:
        """Select the next (+1) or previous (-1) artwork in the current list."""
        if not self.model.rows:
            return None
        idx = self.table.currentIndex()
        i = min(max((idx.row() if idx.isValid() else -1) + delta, 0), len(self.model.rows) - 1)
        self.table.selectRow(i)
        return self.model.rows[i].id

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.artworkActivated.emit(self.model.rows[current.row()].id)

    def _load_thumbnails(self, ids: list[str]) -> None:
        if self.catalog is None:
            return
        job = Job(thumbnail_job(self.catalog.root, ids), "thumbnails")
        job.signals.partial.connect(lambda item: self.model.set_thumbnail(*item))
        self._thumb_jobs.append(job)
        job.signals.finished.connect(lambda job=job: self._thumb_jobs.remove(job) if job in self._thumb_jobs else None)
        start_job(job)

    def shutdown(self) -> None:
        """Stop pending work: a debounced search must not query a catalog that is closing."""
        self._debounce.stop()
        self.catalog = None
        for job in list(self._thumb_jobs):
            job.cancel()
        for job in list(self._thumb_jobs):
            job.done.wait(5)
