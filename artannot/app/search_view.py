"""Search mode: a phrase -> fragments (region crops) from every artwork, as a paged grid.

Ranking is the service's two-stage search (faiss shortlist over region embeddings, exact
re-score); the index is built or loaded on a worker and cached in the collection's data dir.
Results can be refined by the browser's metadata filters (full text, status, split), opened
in the editor, used as a "more like this" query, or collected in the basket.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from artannot.app.browser import SPLITS, STATUS_FILTERS
from artannot.app.workers import JobControl, LatestOnly
from artannot.core.catalog import Filters
from artannot.retrieval.service import Fragment, SuggestionService

CROP = 140
PAGE_SIZE = 24
TOP_K = 240


def crop_jpeg(path: Path, fragment: Fragment, side: int = CROP) -> bytes:
    """A JPEG of the fragment (with a little context) for the grid."""
    import io

    from PIL import Image

    with Image.open(path) as im:
        x0, y0, x1, y1 = fragment.box.to_edges()
        pad = 0.08 * max(x1 - x0, y1 - y0)
        im = im.convert("RGB").crop((max(0, int(x0 - pad)), max(0, int(y0 - pad)),
                                     min(im.width, int(x1 + pad) + 1), min(im.height, int(y1 + pad) + 1)))
        im.thumbnail((side, side))
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=85)
        return buf.getvalue()


class SearchView(QWidget):
    """The search dock. ``openRequested(Fragment)``, ``basketRequested(list[Fragment], kind)``."""

    openRequested = Signal(object)
    basketRequested = Signal(list, str)
    message = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.service: SuggestionService | None = None
        self.catalog = None
        self.results: list[Fragment] = []
        self.shown: list[Fragment] = []  # after refinement
        self.page = 0
        self.query_text = ""
        self._search = LatestOnly(self)
        self._crops = LatestOnly(self)

        self.query = QLineEdit(placeholderText="Phrase, e.g. “white crest of foam”")
        self.query.returnPressed.connect(self.run_query)
        go = QPushButton("Search")
        go.clicked.connect(self.run_query)
        self.refine = QLineEdit(placeholderText="Refine: title, description, phrases…")
        self.refine.textChanged.connect(lambda _: self.apply_filters())
        self.status_filter = QComboBox()
        self.status_filter.addItems(list(STATUS_FILTERS))
        self.status_filter.currentIndexChanged.connect(lambda _: self.apply_filters())
        self.split_filter = QComboBox()
        self.split_filter.addItems(list(SPLITS))
        self.split_filter.currentIndexChanged.connect(lambda _: self.apply_filters())

        self.grid = QListWidget()
        self.grid.setObjectName("fragment_grid")
        self.grid.setViewMode(QListView.ViewMode.IconMode)
        self.grid.setIconSize(QSize(CROP, CROP))
        self.grid.setGridSize(QSize(CROP + 16, CROP + 40))
        self.grid.setResizeMode(QListView.ResizeMode.Adjust)
        self.grid.setMovement(QListView.Movement.Static)
        self.grid.setWordWrap(False)
        self.grid.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.grid.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        self.grid.itemActivated.connect(lambda it: self.openRequested.emit(it.data(Qt.ItemDataRole.UserRole)))

        self.prev_button = QToolButton(text="◀")
        self.prev_button.clicked.connect(lambda: self.show_page(self.page - 1))
        self.next_button = QToolButton(text="▶")
        self.next_button.clicked.connect(lambda: self.show_page(self.page + 1))
        self.page_label = QLabel("")
        self.status = QLabel("Type a phrase and press Enter.")
        self.status.setWordWrap(True)
        actions = QHBoxLayout()
        for text, slot in (("Open", self.open_selected), ("More like this", self.more_like_this),
                           ("Add to basket", lambda: self.add_selected("fragment")),
                           ("Add artwork", lambda: self.add_selected("artwork"))):
            b = QToolButton(text=text)
            b.clicked.connect(slot)
            actions.addWidget(b)
        actions.addStretch(1)

        top = QHBoxLayout()
        top.addWidget(self.query, 1)
        top.addWidget(go)
        refine = QHBoxLayout()
        refine.addWidget(self.refine, 2)
        refine.addWidget(self.status_filter, 1)
        refine.addWidget(self.split_filter)
        pager = QHBoxLayout()
        pager.addWidget(self.prev_button)
        pager.addWidget(self.page_label, 1)
        pager.addWidget(self.next_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(top)
        layout.addLayout(refine)
        layout.addWidget(self.status)
        layout.addWidget(self.grid, 1)
        layout.addLayout(pager)
        layout.addLayout(actions)

    def shutdown(self) -> None:
        for jobs in (self._search, self._crops):
            job = jobs.current
            jobs.cancel()
            if job is not None:
                job.done.wait(10)

    def set_collection(self, catalog, service: SuggestionService | None) -> None:
        self._search.cancel()
        self._crops.cancel()
        self.catalog, self.service = catalog, service
        self.results, self.shown = [], []
        self.grid.clear()
        self.status.setText("Type a phrase and press Enter." if service and service.available
                            else "Search needs a trained model (see the Suggestions panel).")

    # -- querying ------------------------------------------------------------------------
    def run_query(self, text: str | None = None):
        text = (text if text is not None else self.query.text()).strip()
        if not text or self.service is None:
            return None
        if not self.service.available:
            self.status.setText(self.service.why_unavailable())
            return None
        self.query.setText(text)
        self.query_text = text
        service = self.service

        def run(ctl: JobControl) -> list[Fragment]:
            service.search_index(progress=ctl.progress, should_stop=ctl.cancelled)
            return service.search(text, top_k=TOP_K)

        self.results = []
        self.status.setText(f"Searching “{text}”… (the first search builds the index)")
        return self._search.start(run, self._results, self._failed, "search")

    def more_like_this(self):
        sel = self.selected()
        if not sel or self.service is None:
            return None
        frag, service = sel[0], self.service
        self.query_text = f"like {Path(frag.artwork_id).stem} #{frag.region}"
        self.results = []
        self.status.setText(f"Fragments like {frag.artwork_id} region {frag.region}…")

        def run(ctl: JobControl) -> list[Fragment]:
            service.search_index(progress=ctl.progress, should_stop=ctl.cancelled)
            return service.similar(frag.artwork_id, frag.box, top_k=TOP_K)

        return self._search.start(run, self._results, self._failed, "similar")

    def _results(self, fragments: list[Fragment]) -> None:
        self.results = list(fragments)
        self.apply_filters()

    def _failed(self, err) -> None:
        self.status.setText(f"Search failed: {err[0]}")

    def filters(self) -> Filters:
        f = STATUS_FILTERS[self.status_filter.currentText()]
        split = self.split_filter.currentText()
        return Filters(f.annotated, f.verified, f.has_metadata, f.has_error,
                       None if split == SPLITS[0] else split)

    def apply_filters(self) -> None:
        """Refine within the results: keep fragments of artworks matching the filters."""
        if self.catalog is None:
            return
        f, q = self.filters(), self.refine.text().strip()
        if q or f != Filters():
            allowed = {r.id for r in self.catalog.rows(q, f, order="id")}
            self.shown = [r for r in self.results if r.artwork_id in allowed]
        else:
            self.shown = list(self.results)
        refined = f" (refined from {len(self.results)})" if len(self.shown) != len(self.results) else ""
        self.status.setText(f"{len(self.shown)} fragments for “{self.query_text}”{refined}")
        self.show_page(0)

    # -- grid ------------------------------------------------------------------------------
    def pages(self) -> int:
        return max(1, -(-len(self.shown) // PAGE_SIZE))

    def show_page(self, page: int) -> None:
        self.page = min(max(page, 0), self.pages() - 1)
        chunk = self.shown[self.page * PAGE_SIZE:(self.page + 1) * PAGE_SIZE]
        self.grid.clear()
        titles = {}
        for frag in chunk:
            if frag.artwork_id not in titles and self.catalog is not None:
                titles[frag.artwork_id] = self.catalog.artwork(frag.artwork_id).title
            item = QListWidgetItem(f"#{frag.rank} · {frag.score:.3f} · {titles.get(frag.artwork_id, '')[:14]}")
            item.setData(Qt.ItemDataRole.UserRole, frag)
            item.setToolTip(f"{titles.get(frag.artwork_id, '')}\n{frag.artwork_id}, region {frag.region}, "
                            f"score {frag.score:.4f}")
            self.grid.addItem(item)
        self.page_label.setText(f"page {self.page + 1}/{self.pages()} · {len(self.shown)} fragments")
        self.prev_button.setEnabled(self.page > 0)
        self.next_button.setEnabled(self.page < self.pages() - 1)
        self._load_crops(chunk)

    def _load_crops(self, chunk: list[Fragment]) -> None:
        if self.catalog is None or not chunk:
            return
        root = self.catalog.root

        def run(ctl: JobControl) -> None:
            for i, frag in enumerate(chunk):
                if ctl.cancelled():
                    return
                try:
                    ctl.partial((frag, crop_jpeg(root / frag.artwork_id, frag)))
                except OSError:
                    continue

        job = self._crops.start(run, lambda _: None, None, "crops")
        job.signals.partial.connect(lambda item, job=job: self._set_crop(*item) if job is self._crops.current else None)

    def _set_crop(self, frag: Fragment, jpeg: bytes) -> None:
        for i in range(self.grid.count()):
            item = self.grid.item(i)
            if item.data(Qt.ItemDataRole.UserRole) == frag:
                pix = QPixmap()
                if pix.loadFromData(jpeg):
                    item.setIcon(QIcon(pix))
                return

    def selected(self) -> list[Fragment]:
        items = self.grid.selectedItems() or ([self.grid.currentItem()] if self.grid.currentItem() else [])
        return [it.data(Qt.ItemDataRole.UserRole) for it in items]

    def open_selected(self) -> None:
        sel = self.selected()
        if sel:
            self.openRequested.emit(sel[0])

    def add_selected(self, kind: str) -> None:
        sel = self.selected()
        if sel:
            self.basketRequested.emit(sel, kind)
