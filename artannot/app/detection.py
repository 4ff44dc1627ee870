"""Detect regions from the GUI: this artwork or the whole collection, on a worker.

Results go to the collection's feature store (the one suggestions and training read). The
detector is the ``detector`` setting and models run on the ``device`` setting. A store that
the configured detector made is reused with its models, so its features stay comparable;
otherwise the configured detector runs with the backbone of the latest store (a new
collection: the bundled backbone). For a single
artwork whose features are already stored for this exact image, the stored regions are shown
without recomputing anything.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from artannot.app.workers import Job, JobControl, start_job
from artannot.core.model import Region
from artannot.retrieval.model_files import feature_stores


def _store_detector(meta: dict) -> str:
    det = meta.get("detector") or {}
    return det.get("weights") or det.get("detector") or ""


def _store_dir_and_pipeline(data_dir: Path, cache: dict, detector: str = "proposals",
                            device: str | None = None):
    """(store folder, pipeline) for a collection; the pipeline is built once per session."""
    from artannot.vision.feature_store import FeatureStore
    from artannot.vision.pipeline import load_pipeline, pipeline_for_store

    with cache.setdefault("lock", threading.Lock()):
        if "pipeline" not in cache:
            metas = []
            for path in feature_stores(data_dir):
                with FeatureStore(path, readonly=True) as store:
                    metas.append(dict(store.meta))
            same = [m for m in metas if _store_detector(m) == detector]
            if same:  # a store this detector made: its backbone and sizes too
                cache["pipeline"] = pipeline_for_store(same[0], device=device)
            elif metas:  # another detector's store: keep its backbone, swap the detector
                params = (metas[0].get("detector") or {}).get("params") or {}
                meta = {**metas[0], "detector": {"detector": detector, "params": {"k": params.get("k", 36)}}}
                cache["pipeline"] = pipeline_for_store(meta, device=device)
            else:
                cache["pipeline"] = load_pipeline(detector, device=device)
        pipe = cache["pipeline"]
    return pipe.store_dir(data_dir), pipe


def detect_items(data_dir: Path, items: list[tuple[str, Path]], cache: dict, ctl: JobControl,
                 *, reuse_single: bool = True, detector: str = "proposals", device: str | None = None):
    """Worker body: detect ``items`` into the store; returns (report, RegionSet | None, info)."""
    from artannot.vision.feature_store import FeatureStore
    from artannot.vision.runner import detect_collection, image_fingerprint

    store_dir, pipe = _store_dir_and_pipeline(data_dir, cache, detector, device)
    with FeatureStore(store_dir, dim=pipe.extractor.dim) as store:
        single = items[0][0] if len(items) == 1 else None
        if single and reuse_single and store.has(single, image_fingerprint(items[0][1])):
            return None, store.get(single), pipe.describe()
        report = detect_collection(items, store, pipe.detector, pipe.extractor, batch_size=2,
                                   progress=lambda d, t, _aid: ctl.progress(d, t),
                                   should_stop=ctl.cancelled)
        regions = store.get(single) if single and store.has(single) else None
        if regions is not None:  # detach from memory maps: the store closes here
            regions.features = regions.features.copy()
    return report, regions, pipe.describe()


def proposals_from(regions) -> list[Region]:
    """Stored regions as dashed detector proposals, best first."""
    out = []
    for box, score, label in zip(regions.box_list(), regions.scores, regions.labels):
        out.append(Region(box=box, phrase="" if label == "region" else label, source="detector",
                          score=float(score)))
    return sorted(out, key=lambda r: -(r.score or 0.0))


class DetectionController(QObject):
    """Runs detection jobs; the main window shows ``progress`` and ``status`` signals."""

    progress = Signal(int, int)
    status = Signal(str)
    modelsUsed = Signal(dict)  # {"detector", "backbone", "device"}
    finished = Signal()
    storeChanged = Signal()

    def __init__(self, parent: QObject | None = None, *, detector: str = "proposals",
                 device: str | None = None) -> None:
        super().__init__(parent)
        self.detector = detector  # the ``detector`` setting
        self.device = device  # the ``device`` setting (None/"auto": CUDA when present)
        self.job: Job | None = None
        self._cache: dict = {}
        self.max_proposals = 36

    def busy(self) -> bool:
        return self.job is not None

    def reset(self) -> None:
        """A new collection: models may differ (another store)."""
        self.cancel()
        self._cache = {}

    def detect_artwork(self, catalog, artwork_id: str, on_regions) -> Job | None:
        """Proposals of one artwork to ``on_regions(artwork_id, list[Region])``."""
        return self._start(catalog, [(artwork_id, catalog.root / artwork_id)], "Detecting regions",
                           lambda res: self._single_done(artwork_id, res, on_regions))

    def detect_collection(self, catalog) -> Job | None:
        items = [(a.id, a.image_path) for a in catalog.artworks()]
        return self._start(catalog, items, "Detecting regions in the collection", self._collection_done)

    def _start(self, catalog, items, text: str, on_result) -> Job | None:
        if self.job is not None:
            self.status.emit("Detection is already running (cancel it first).")
            return None
        data_dir, cache, detector, device = catalog.data_dir, self._cache, self.detector, self.device
        job = Job(lambda ctl: detect_items(data_dir, items, cache, ctl, detector=detector, device=device),
                  "detect")
        self.job = job
        job.signals.progress.connect(self.progress)
        job.signals.result.connect(on_result)
        job.signals.error.connect(lambda e: self.status.emit(f"Detection failed: {e[0]}"))
        job.signals.finished.connect(self._finished)
        self.status.emit(f"{text}… (Esc in the progress area or “Cancel detection” stops it)")
        return start_job(job)

    def _single_done(self, artwork_id: str, result, on_regions) -> None:
        report, regions, used = result
        self.modelsUsed.emit(used)
        if regions is None:
            msg = next(iter(report.failed.values()), "no regions") if report else "no regions"
            self.status.emit(f"Detection failed: {msg}")
            return
        props = proposals_from(regions)[: self.max_proposals]
        on_regions(artwork_id, props)
        how = "stored earlier" if report is None else f"detected in {report.seconds:.1f} s"
        self.status.emit(f"{len(props)} proposals ({how}, {used['detector']} on {used['device']}): "
                         "Enter accepts, Del rejects")
        if report is not None:
            self.storeChanged.emit()

    def _collection_done(self, result) -> None:
        report, _regions, used = result
        self.modelsUsed.emit(used)
        self.status.emit(f"Detection: {report.processed} processed, {report.skipped} unchanged, "
                         f"{len(report.failed)} failed ({report.images_per_second:.2f} images/s, "
                         f"{used['detector']} + {used['backbone']} on {used['device']})")
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
        job = self.job
        self.cancel()
        if job is not None:
            job.done.wait(wait)
