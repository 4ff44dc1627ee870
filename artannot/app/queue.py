"""Queue panel: "next artwork to annotate" by a chosen strategy, and collection progress."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from artannot.app.workers import JobControl, LatestOnly
from artannot.core import queue
from artannot.core.catalog import Catalog, StatusChange


class QueuePanel(QWidget):
    """Emits ``openRequested(id)``; progress and confidences are computed on workers."""

    openRequested = Signal(str)
    message = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.catalog: Catalog | None = None
        self._progress: queue.Progress | None = None
        self.service = None
        self.confidence: dict[str, float] = {}
        self._progress_job = LatestOnly(self)
        self._confidence_job = LatestOnly(self)
        self.strategy = QComboBox()
        for key, label in queue.STRATEGIES.items():
            self.strategy.addItem(label, key)
        self.strategy.currentIndexChanged.connect(lambda _: self._strategy_changed())
        self.next_button = QPushButton("Next to annotate (N)")
        self.next_button.clicked.connect(lambda: self.next(None))
        self.progress = QLabel("")
        self.progress.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.strategy, 1)
        row.addWidget(self.next_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(row)
        layout.addWidget(self.progress)

    def set_collection(self, catalog: Catalog, service) -> None:
        self.catalog, self.service, self.confidence = catalog, service, {}
        self._progress = None
        self.progress.setText("")  # filled in once indexing is done (refresh_progress)

    def strategy_key(self) -> str:
        return self.strategy.currentData()

    def next(self, current: str | None) -> str | None:
        if self.catalog is None:
            return None
        nxt = queue.next_artwork(self.catalog, self.strategy_key(), current, self.confidence)
        if nxt is None:
            self.message.emit("Nothing left in the queue: every artwork is verified.")
        else:
            self.openRequested.emit(nxt)
        return nxt

    def refresh_progress(self) -> None:
        if self.catalog is None:
            return
        root = self.catalog.root

        def run(ctl: JobControl) -> queue.Progress:
            with Catalog.open(root, refresh=False) as cat:
                return queue.collection_progress(cat)

        self._progress_job.start(run, self._show_progress, None, "progress")

    def _show_progress(self, progress: queue.Progress) -> None:
        self._progress = progress
        self.progress.setText(progress.text())

    def saved(self, change: StatusChange) -> None:
        """One artwork was saved: adjust the totals (a recount only when none were shown yet)."""
        if self._progress is None:
            self.refresh_progress()
        else:
            self._show_progress(queue.after_save(self._progress, change))

    def shutdown(self, wait: float = 10) -> None:
        """Cancel the progress and confidence jobs (the window is closing) and let them end."""
        jobs = [j for j in (self._progress_job.current, self._confidence_job.current) if j]
        self._progress_job.cancel()
        self._confidence_job.cancel()
        for job in jobs:
            job.done.wait(wait)

    def _strategy_changed(self) -> None:
        if self.strategy_key() != "low_confidence" or self.confidence or self.catalog is None:
            return
        service = self.service
        if service is None or not service.available:
            self.message.emit("Lowest confidence needs a trained model; using the catalog order.")
            return
        ids = [r.id for r in self.catalog.rows(order="id")]
        self.message.emit("Scoring suggestion confidence of every artwork…")

        def run(ctl: JobControl) -> dict[str, float]:
            return service.confidence(ids, ctl.cancelled)

        def done(conf: dict[str, float]) -> None:
            self.confidence = conf
            self.message.emit(f"Confidence scored for {len(conf)} artworks.")

        self._confidence_job.start(run, done, lambda e: self.message.emit(f"Confidence failed: {e[0]}"),
                                   "confidence")
