"""Detect regions from the GUI: this artwork or the whole collection, on a worker.

Which models run, what is reused and what a run reports are the rules of
``retrieval/collection_detection.py`` (Qt-free); this module runs them as jobs and turns the
results into signals. The detector is the ``detector`` setting and models run on the
``device`` setting.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from artannot.app.workers import Job, JobControl, start_job
from artannot.retrieval.collection_detection import (
    DetectionResult,
    DetectionSession,
    proposals_from,
)


class DetectionController(QObject):
    """Runs detection jobs; the main window shows ``progress`` and ``status`` signals."""

    progress = Signal(int, int)
    status = Signal(str)
    modelsUsed = Signal(dict)  # {"detector", "backbone", "device"}
    finished = Signal()
    storeChanged = Signal()
    wholesChanged = Signal()  # an artwork's whole-image vector was added after Ctrl+R

    def __init__(self, parent: QObject | None = None, *, detector: str = "proposals",
                 device: str | None = None) -> None:
        super().__init__(parent)
        self.detector = detector  # the ``detector`` setting
        self.device = device  # the ``device`` setting (None/"auto": CUDA when present)
        self.job: Job | None = None
        self._session: DetectionSession | None = None  # models loaded once per collection
        self.max_proposals = 36
        self.whole_job: Job | None = None  # the whole-image vector after a Ctrl+R

    def busy(self) -> bool:
        return self.job is not None

    def reset(self) -> None:
        """A new collection: models may differ (another store)."""
        self.cancel()
        self._session = None

    def detect_artwork(self, catalog, artwork_id: str, on_regions) -> Job | None:
        """Proposals of one artwork to ``on_regions(artwork_id, list[Region])``, then its
        whole-image vector in a job of its own (the proposals never wait for three more nets)."""
        path = catalog.root / artwork_id
        session = self._session_for(catalog.data_dir)

        def done(res: DetectionResult) -> None:
            self._single_done(artwork_id, res, on_regions)
            if res.regions is not None:
                self._encode_whole(session, artwork_id, path)

        return self._start(catalog, lambda s, ctl: s.detect_artwork(artwork_id, path, **_hooks(ctl)),
                           "Detecting regions", done)

    def _encode_whole(self, session: DetectionSession, artwork_id: str, path: Path) -> None:
        if self.whole_job is not None:  # the previous artwork's: it resumes on its next Ctrl+R
            self.whole_job.cancel()
        job = self.whole_job = Job(
            lambda ctl: session.encode_artwork(artwork_id, path, should_stop=ctl.cancelled),
            "whole-image vector")
        job.signals.result.connect(lambda report: report is not None and report.processed
                                   and self.wholesChanged.emit())
        job.signals.error.connect(lambda e: self.status.emit(
            f"The whole-image vector of {artwork_id} was not computed: {e[0]}"))
        job.signals.finished.connect(lambda: setattr(self, "whole_job", None)
                                     if self.whole_job is job else None)
        start_job(job)

    def detect_collection(self, catalog) -> Job | None:
        items = [(a.id, a.image_path) for a in catalog.artworks()]
        return self._start(catalog, lambda s, ctl: s.detect_collection(items, **_hooks(ctl)),
                           "Detecting regions in the collection", self._collection_done)

    def _start(self, catalog, run, text: str, on_result) -> Job | None:
        if self.job is not None:
            self.status.emit("Detection is already running (cancel it first).")
            return None
        session = self._session_for(catalog.data_dir)
        job = Job(lambda ctl: run(session, ctl), "detect")
        self.job = job
        job.signals.progress.connect(self.progress)
        job.signals.result.connect(on_result)
        job.signals.error.connect(lambda e: self.status.emit(f"Detection failed: {e[0]}"))
        job.signals.finished.connect(self._finished)
        self.status.emit(f"{text}… (Esc in the progress area or “Cancel detection” stops it)")
        return start_job(job)

    def _session_for(self, data_dir: Path) -> DetectionSession:
        s = self._session
        if s is None or (s.data_dir, s.detector, s.device) != (data_dir, self.detector, self.device):
            s = self._session = DetectionSession(data_dir, detector=self.detector, device=self.device)
        return s

    def _single_done(self, artwork_id: str, result: DetectionResult, on_regions) -> None:
        self.modelsUsed.emit(result.models)
        if result.regions is None:
            self.status.emit(f"Detection failed: {result.failure()}")
            return
        props = proposals_from(result.regions)[: self.max_proposals]
        on_regions(artwork_id, props)
        self.status.emit(result.single_message(len(props)))
        if result.report is not None:
            self.storeChanged.emit()

    def _collection_done(self, result: DetectionResult) -> None:
        self.modelsUsed.emit(result.models)
        self.status.emit(result.collection_message())
        self.storeChanged.emit()

    def _finished(self) -> None:
        job, self.job = self.job, None
        if job is not None and job.cancelled:
            self.status.emit("Detection cancelled; finished artworks are stored (run it again to resume).")
        self.finished.emit()

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def shutdown(self, wait: float = 30) -> None:
        jobs = [j for j in (self.job, self.whole_job) if j is not None]
        self.cancel()
        for job in jobs:
            job.cancel()
            job.done.wait(wait)


def _hooks(ctl: JobControl) -> dict[str, Any]:
    """A job's progress and cancel flag as the session's ``progress`` / ``should_stop``."""
    return {"progress": lambda done, total, _artwork_id: ctl.progress(done, total),
            "should_stop": ctl.cancelled}
