"""Collection browser: list and thumbnail grid over the catalog, search as you type, filters.

Why a little over 400 lines: the table model, the grid's batched layout and the panel share
one selection and one listing (ids from a worker, rows read a page at a time); the listing
itself lives in :mod:`artannot.core.listing`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
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

from artannot.app.workers import Job, JobControl, LatestOnly, start_job
from artannot.core.catalog import (
    ArtworkRow,
    Catalog,
    CollectionStats,
    Filters,
    StatusChange,
    make_thumbnail,
)
from artannot.core.listing import ListedRows, Listing, list_artworks

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
_ROLES = frozenset({Qt.DisplayRole, Qt.ToolTipRole, Qt.UserRole, Qt.DecorationRole})
KEEP_ICONS = 2_000  # thumbnails kept (64 KB each); one scrolled away and back is re-read from the catalog
RELEASE_IN_WORKER = 5_000  # listings longer than this are freed off the GUI thread
GRID_BATCH = 256  # icon-mode layout is O(N): done this many items per event-loop turn, never in one go


def status_text(row: ArtworkRow) -> str:
    if row.error:
        return "error"
    if row.verified:
        return "verified"
    return "annotated" if row.n_regions else "—"


class ArtworkTableModel(QAbstractTableModel):
    """A listing's rows, read from the catalog a page at a time as they are painted; thumbnails
    arrive lazily from a worker. Nothing here grows with the collection but the listing's ids."""

    thumbnailsWanted = Signal(list)

    def __init__(self) -> None:
        super().__init__()
        self.rows = ListedRows()
        self._icons: OrderedDict[str, QIcon] = OrderedDict()  # most recently shown last, bounded
        self._pending: set[str] = set()
        self._want_timer = QTimer(self)
        self._want_timer.setSingleShot(True)
        self._want_timer.setInterval(30)
        self._want_timer.timeout.connect(self._flush_wanted)
        self._wanted: list[str] = []

    def set_listing(self, listing: Listing, catalog: Catalog | None) -> None:
        """Show a query's answer; constant time here: its ids and their index came from a worker,
        and the previous ones are freed in one (a ``rows`` object held from before is emptied)."""
        old = self.rows
        self.beginResetModel()
        self.rows = ListedRows(listing, catalog)
        self.endResetModel()
        if len(old) > RELEASE_IN_WORKER:
            start_job(Job(lambda _ctl, old=old: old.release(), "free listing"))

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.DisplayRole) -> Any:
        if orientation == Qt.Horizontal and role == Qt.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex, role: int = Qt.DisplayRole) -> Any:
        # A paint asks ~8 roles per cell; answering the unused ones first halves its GUI-thread time.
        if role not in _ROLES or not index.isValid():
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
            if icon is not None:
                self._icons.move_to_end(row.id)
            elif row.id not in self._pending:
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
        if len(self._icons) > KEEP_ICONS:  # scrolling through 500k artworks must not keep 500k pixmaps
            self._icons.popitem(last=False)
        self._pending.discard(artwork_id)
        if (i := self.row_of(artwork_id)) >= 0:
            idx = self.index(i, 0)
            self.dataChanged.emit(idx, idx, [Qt.DecorationRole])

    def row_of(self, artwork_id: str) -> int:
        return self.rows.listing.positions.get(artwork_id, -1)

    def replace_row(self, i: int, row: ArtworkRow) -> ArtworkRow:
        old = self.rows[i]
        self.rows.replace(i, row)
        self.dataChanged.emit(self.index(i, 0), self.index(i, self.columnCount() - 1))
        return old


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
    rowsLoaded = Signal()  # a query's answer is shown

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.catalog: Catalog | None = None
        self._stats: CollectionStats | None = None
        self._query = LatestOnly(self)  # the catalog is queried in a worker; the latest query wins
        self._totals = LatestOnly(self)  # the totals too, apart: the rows need not wait for them
        self._loading = False
        self._counting = False
        self._select_when_loaded: str | None = None  # asked for before its listing arrived
        self._then: list[Callable[[], None]] = []
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
        self.grid.setLayoutMode(QListView.Batched)
        self.grid.setBatchSize(GRID_BATCH)
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
        self._debounce.timeout.connect(lambda: self.reload(stats=False))
        self.search.textChanged.connect(lambda _: self._debounce.start())
        self.status_filter.currentIndexChanged.connect(lambda _: self.reload(stats=False))
        self.split_filter.currentIndexChanged.connect(lambda _: self.reload(stats=False))
        self.view_toggle.toggled.connect(lambda on: self.stack.setCurrentIndex(1 if on else 0))
        self.table.selectionModel().currentRowChanged.connect(self._current_changed)
        self.order: str | None = None  # None: relevance while searching, else title
        header = self.table.horizontalHeader()
        header.setSectionsClickable(True)
        header.sectionClicked.connect(self.sort_by_column)

    # -- data ---------------------------------------------------------------
    def set_catalog(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._stats = None
        self.model.set_listing(Listing(), catalog)  # the previous collection's rows are gone
        self.reload()

    def filters(self) -> Filters:
        f = STATUS_FILTERS[self.status_filter.currentText()]
        split = self.split_filter.currentText()
        return Filters(f.annotated, f.verified, f.has_metadata, f.has_error, None if split == SPLITS[0] else split)

    def reload(self, *, stats: bool = True, then: Callable[[], None] | None = None) -> None:
        """Re-query the catalog (search text + filters) in a worker, keeping the current artwork
        selected; ``then`` runs once the answer is shown.

        The query sorts the whole collection (seconds at 500k): on the GUI thread only its answer
        is swapped in. ``stats``: recount the totals too (after indexing); a keystroke does not.
        """
        if self.catalog is None:
            return
        if then is not None:
            self._then.append(then)
        query = self.search.text()
        order = self.order or ("rank" if query.strip() else "title")
        filters = self.filters()
        catalog = self.catalog

        def run(ctl: JobControl) -> Listing:
            with catalog.reader() as reader:
                return list_artworks(reader, query, filters, order, should_stop=ctl.cancelled,
                                     on_first_page=ctl.partial)

        self._loading = True
        self._query.start(run, self._show_listing, self._listing_failed, name="browser query",
                          on_partial=self._show_first_page)
        if stats or (self._stats is None and not self._counting):
            self.update_progress()

    def update_progress(self) -> None:
        """Recount the collection's totals in a worker (a scan of every artwork)."""
        if self.catalog is None:
            return
        catalog = self.catalog

        def run(_ctl: JobControl) -> CollectionStats:
            with catalog.reader() as reader:
                return reader.stats()

        self._counting = True
        self._totals.start(run, self._show_totals, self._totals_failed, name="browser totals")

    def loading(self) -> bool:
        """A query or a count is on its way (tests and benchmarks wait for them)."""
        return self._loading or self._counting

    def _show_totals(self, stats: CollectionStats) -> None:
        self._counting = False
        self._stats = stats
        self._show_stats()

    def _show_first_page(self, listing: Listing) -> None:
        """The first rows while the whole listing is on its way (500k ids take a second or two)."""
        if self.catalog is None or not listing.ids:
            return
        self._select_when_loaded = self._select_when_loaded or self.current_id()  # kept for the rest
        self.model.set_listing(listing, self.catalog)
        if (i := self.model.row_of(self._select_when_loaded or "")) >= 0:
            self.table.selectRow(i)

    def _show_listing(self, listing: Listing) -> None:
        if self.catalog is None:
            return
        current = self._select_when_loaded or self.current_id()
        self._select_when_loaded = None
        self._loading = False
        self.model.set_listing(listing, self.catalog)
        if current is not None and (i := self.model.row_of(current)) >= 0:
            self.table.selectRow(i)
            self.table.scrollTo(self.model.index(i, 0))
        self._show_stats()
        self.rowsLoaded.emit()
        then, self._then = self._then, []
        for fn in then:
            fn()

    def _listing_failed(self, err: Any) -> None:
        self._loading = False
        self._then.clear()
        self.progress_label.setText(f"Listing the collection failed: {err[0]}")

    def _totals_failed(self, err: Any) -> None:
        self._counting = False
        self.progress_label.setText(f"Counting the collection failed: {err[0]}")

    def sort_by_column(self, column: int) -> None:
        self.order = COLUMN_ORDER[column]
        self.table.horizontalHeader().setSortIndicatorShown(True)
        self.table.horizontalHeader().setSortIndicator(column, Qt.AscendingOrder)
        self.reload(stats=False)

    def _show_stats(self) -> None:
        s = self._stats
        if s is None:
            return
        self.progress_label.setText(
            f"{len(self.model.rows)} shown · {s.annotated}/{s.artworks} annotated · {s.verified} verified"
            + (f" · {s.errors} with errors" if s.errors else "")
        )

    def refresh_row(self, artwork_id: str, change: StatusChange | None = None) -> None:
        """Re-read one row's status after a save: indexed look-ups only, whatever the collection's size.

        The totals are adjusted by what the save changed (``change``, from
        ``Catalog.record_annotation``) rather than recounted: a ``stats()`` scan grows with the
        collection.
        """
        if self.catalog is None:
            return
        # Answers on their way may predate this save: ask again (the latest wins).
        if self._loading:
            self.reload(stats=False)
        i = self.model.row_of(artwork_id)
        if i >= 0 and (fresh := self.catalog.row(artwork_id)) is not None:
            self.model.replace_row(i, fresh)
        s = self._stats
        if s is None or change is None or self._counting:
            self.update_progress()
            return
        s.annotated += change.annotated
        s.verified += change.verified
        s.regions += change.regions
        self._show_stats()

    # -- selection ------------------------------------------------------------
    def current_id(self) -> str | None:
        idx = self.table.currentIndex()
        return self.model.rows.id_at(idx.row()) if idx.isValid() and idx.row() < len(self.model.rows) else None

    def select_id(self, artwork_id: str) -> bool:
        """Select an artwork of the list; False when it is not listed (yet: while a query is on
        its way, it is selected when the answer arrives, if listed there)."""
        i = self.model.row_of(artwork_id)
        if i < 0:
            if self._loading:
                self._select_when_loaded = artwork_id
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
        return self.model.rows.id_at(i)

    def next_unannotated(self, after_id: str | None) -> str | None:
        """The next listed artwork without boxes after ``after_id``, wrapping: a scan of one flag
        byte per listed artwork (C speed), no rows read."""
        start = self.model.row_of(after_id) if after_id else -1
        i = self.model.rows.listing.next_unannotated(start)
        return None if i < 0 else self.model.rows.id_at(i)

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            artwork_id = self.model.rows.id_at(current.row())
            if artwork_id != self._select_when_loaded:
                self._select_when_loaded = None  # the curator chose another one meanwhile
            self.artworkActivated.emit(artwork_id)

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
        self._query.cancel()
        self._totals.cancel()
        self._loading = self._counting = False
        self.catalog = None
        self.model.set_listing(Listing(), None)
        for job in list(self._thumb_jobs):
            job.cancel()
        for job in list(self._thumb_jobs):
            job.done.wait(5)
