"""Detection for one collection during a session ("Detect regions" in the GUI), without Qt.

Results go to the collection's feature store (the one suggestions and training read). A store
that the configured detector made is reused with its models, so its features stay comparable;
otherwise the configured detector runs with the backbone of the latest store (a new
collection: the bundled backbone). The models are loaded once per session. For a single
artwork whose features are already stored for this exact image, the stored regions are
returned without recomputing anything. ``app/detection.py`` runs this on a worker.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from artannot.core.model import Region
from artannot.retrieval.model_files import feature_stores
from artannot.vision.feature_store import FeatureStore, RegionSet
from artannot.vision.global_features import GlobalImageEncoder, global_stores, load_global_encoder
from artannot.vision.pipeline import Pipeline, load_pipeline, pipeline_for_store
from artannot.vision.runner import (
    RunReport,
    detect_collection,
    encode_into_collection,
    image_fingerprint,
)

DEFAULT_K = 36  # regions per artwork when another detector's store gives no number


def store_detector(meta: dict[str, Any]) -> str:
    """The detector (model name, else kind) that made a store, from its meta."""
    det = meta.get("detector") or {}
    return det.get("weights") or det.get("detector") or ""


def meta_for_detector(metas: Sequence[dict[str, Any]], detector: str) -> dict[str, Any] | None:
    """Store meta to build ``detector``'s pipeline from (``metas`` newest first), or None.

    A store ``detector`` made gives its backbone and sizes too; else the newest store's
    backbone is kept and only the detector swapped (with that store's ``k``); no store: None
    (the bundled backbone)."""
    same = [m for m in metas if store_detector(m) == detector]
    if same:
        return same[0]
    if not metas:
        return None
    params = (metas[0].get("detector") or {}).get("params") or {}
    return {**metas[0], "detector": {"detector": detector, "params": {"k": params.get("k", DEFAULT_K)}}}


def collection_pipeline(data_dir: Path, detector: str = "proposals",
                        device: str | None = None) -> Pipeline:
    """The models detection runs with in this collection (see :func:`meta_for_detector`)."""
    metas = []
    for path in feature_stores(data_dir):
        with FeatureStore(path, readonly=True) as store:
            metas.append(dict(store.meta))
    meta = meta_for_detector(metas, detector)
    if meta is None:
        return load_pipeline(detector, device=device)
    return pipeline_for_store(meta, device=device)


def proposals_from(regions: RegionSet) -> list[Region]:
    """Stored regions as dashed detector proposals, best first."""
    out = []
    for box, score, label in zip(regions.box_list(), regions.scores, regions.labels):
        out.append(Region(box=box, phrase="" if label == "region" else label, source="detector",
                          score=float(score)))
    return sorted(out, key=lambda r: -(r.score or 0.0))


@dataclass
class DetectionResult:
    """What one detection call did."""

    report: RunReport | None  # None: nothing ran, the regions were stored for this image
    regions: RegionSet | None  # a single artwork's (detached from the store), else None
    models: dict[str, str]  # {"detector", "backbone", "device"} as ``Pipeline.describe``
    wholes: RunReport | None = None  # the whole-image vectors' run after a collection's regions

    def failure(self) -> str:
        """Why a single artwork has no regions."""
        if self.report is not None and self.report.failed:
            return next(iter(self.report.failed.values()))
        return "no regions"

    def single_message(self, shown: int) -> str:
        """Status line after a single artwork's ``shown`` proposals appear."""
        how = "stored earlier" if self.report is None else f"detected in {self.report.seconds:.1f} s"
        return (f"{shown} proposals ({how}, {self.models['detector']} on {self.models['device']}): "
                "Enter accepts, Del rejects")

    def collection_message(self) -> str:
        """Status line after a collection run."""
        r, m = self.report, self.models
        if r is None:
            return "Detection: nothing to do"
        text = (f"Detection: {r.processed} processed, {r.skipped} unchanged, {len(r.failed)} failed "
                f"({r.images_per_second:.2f} images/s, {m['detector']} + {m['backbone']} on {m['device']})")
        w = self.wholes
        if w is not None:
            text += (f"; whole-image vectors: {w.processed} computed, {w.skipped} unchanged"
                     + (" (cancelled)" if w.stopped else ""))
        return text


class DetectionSession:
    """One collection's detection for a session: models loaded on first use, then kept.

    Thread-safe: a worker thread may call :meth:`detect` while another asks for the models.
    """

    def __init__(self, data_dir: Path, *, detector: str = "proposals",
                 device: str | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.detector = detector  # the ``detector`` setting
        self.device = device  # the ``device`` setting (None/"auto": CUDA when present)
        self._lock = threading.Lock()
        self._pipeline: Pipeline | None = None
        self._encoder: GlobalImageEncoder | None = None

    def pipeline(self) -> Pipeline:
        with self._lock:
            if self._pipeline is None:
                self._pipeline = collection_pipeline(self.data_dir, self.detector, self.device)
            return self._pipeline

    def detect_artwork(self, artwork_id: str, image_path: Path, *,
                       progress: Callable[[int, int, str], None] | None = None,
                       should_stop: Callable[[], bool] | None = None) -> DetectionResult:
        """One artwork's regions: the stored ones when this exact image was detected before."""
        return self._run([(artwork_id, Path(image_path))], artwork_id, progress, should_stop)

    def encode_artwork(self, artwork_id: str, image_path: Path, *,
                       should_stop: Callable[[], bool] | None = None) -> RunReport | None:
        """One artwork's whole-image vector, after its regions (Ctrl+R): fragment search
        weighs artworks by it and training uses it. None when it is stored for this exact
        image already (the nets are not even loaded then)."""
        fingerprint = image_fingerprint(Path(image_path))
        for folder in global_stores(self.data_dir)[:1]:  # the one written last
            with FeatureStore(folder, readonly=True) as wholes:
                if wholes.has(artwork_id, fingerprint):
                    return None
        _, report = encode_into_collection([(artwork_id, Path(image_path))], self.data_dir,
                                           self.global_encoder(), batch_size=1,
                                           should_stop=should_stop)
        return report

    def global_encoder(self) -> GlobalImageEncoder:
        """The whole-image encoder, on the device the regions are computed on."""
        device = self.pipeline().device
        with self._lock:
            if self._encoder is None:
                self._encoder = load_global_encoder(device=device)
            return self._encoder

    def detect_collection(self, items: Sequence[tuple[str, Path]], *,
                          progress: Callable[[int, int, str], None] | None = None,
                          should_stop: Callable[[], bool] | None = None) -> DetectionResult:
        """Detect ``(artwork_id, image_path)`` items into the store, then add their
        whole-image vectors (:mod:`artannot.vision.global_features`) to theirs: unchanged
        ones are skipped, a cancelled run keeps what finished (run it again to resume)."""
        result = self._run(list(items), None, progress, should_stop)
        if result.report is not None and not result.report.stopped:
            _, result.wholes = encode_into_collection(items, self.data_dir, self.global_encoder(),
                                                      batch_size=2, progress=progress,
                                                      should_stop=should_stop)
        return result

    def _run(self, items: list[tuple[str, Path]], single: str | None,
             progress: Callable[[int, int, str], None] | None,
             should_stop: Callable[[], bool] | None) -> DetectionResult:
        pipe = self.pipeline()
        with FeatureStore(pipe.store_dir(self.data_dir), dim=pipe.extractor.dim) as store:
            if single and store.has(single, image_fingerprint(items[0][1])):
                return DetectionResult(None, store.get(single), pipe.describe())
            report = detect_collection(items, store, pipe.detector, pipe.extractor, batch_size=2,
                                       progress=progress, should_stop=should_stop)
            regions = store.get(single) if single and store.has(single) else None
            if regions is not None:  # detach from memory maps: the store closes here
                regions.features = regions.features.copy()
        return DetectionResult(report, regions, pipe.describe())
