"""Detector + feature extractor as one unit, shared by ``artannot detect`` and the GUI.

``load_pipeline`` builds both models by name (weights from the model manager) and says
where their feature store lives; ``pipeline_for_store`` rebuilds the models that made an
existing store, so features computed later (a curator-drawn box) are comparable with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from artannot.core.errors import ModelError
from artannot.models import ModelManager
from artannot.vision.device import select_device
from artannot.vision.features import RegionFeatureExtractor
from artannot.vision.loader import (
    DEFAULT_BACKBONE,
    DEFAULT_DETECTOR,
    load_detector,
    load_extractor,
    model_key,
)


@dataclass
class Pipeline:
    detector: Any  # a vision.detect.Detector
    extractor: RegionFeatureExtractor
    device: torch.device

    @property
    def key(self) -> str:
        """Feature store folder name for these models and settings."""
        return model_key(self.detector, self.extractor)

    def store_dir(self, data_dir: Path) -> Path:
        return Path(data_dir) / "features" / self.key

    def describe(self) -> dict[str, str]:
        det, ext = self.detector.identity(), self.extractor.identity()
        return {"detector": det.get("weights") or det["detector"],
                "backbone": ext.get("weights") or ext["backbone"],
                "device": str(self.device)}


def load_pipeline(detector: str = DEFAULT_DETECTOR, backbone: str = DEFAULT_BACKBONE, *,
                  device: str | None = None, k: int = 36, min_size: int = 600,
                  max_size: int = 1000, manager: ModelManager | None = None) -> Pipeline:
    dev = select_device(device)
    manager = manager or ModelManager()
    det = load_detector(detector, manager=manager, device=dev, k=k, min_size=min_size,
                        max_size=max_size)
    ext = load_extractor(backbone, manager=manager, device=dev, min_size=min_size,
                         max_size=max_size)
    return Pipeline(det, ext, dev)


def device_for_store(meta: dict[str, Any], preference: str | None) -> str | None:
    """An explicit ``preference`` wins; ``auto`` becomes the device type that computed the
    store's features when it is present here, so features added to the store (Ctrl+R, a drawn
    box) match the ones in it. A store made on a GPU opened on a laptop falls back to ``auto``:
    its features are still read, and the runner refuses to add CPU ones to it."""
    if (preference or "auto").strip().lower() != "auto" or not meta:
        return preference
    recorded = meta.get("device", "cpu")  # stores without the field were made on the CPU
    try:
        select_device(recorded)
    except ModelError:
        return preference
    return recorded


def pipeline_for_store(meta: dict[str, Any], *, device: str | None = None,
                       manager: ModelManager | None = None) -> Pipeline:
    """The detector and backbone recorded in a store's meta (see ``runner.run_identity``), on
    the device that made it when ``device`` leaves the choice open (see :func:`device_for_store`)."""
    det, ext = meta.get("detector") or {}, meta.get("backbone") or {}
    params = ext.get("params") or {}
    return load_pipeline(det.get("weights") or det.get("detector") or DEFAULT_DETECTOR,
                         ext.get("weights") or ext.get("backbone") or DEFAULT_BACKBONE,
                         device=device_for_store(meta, device),
                         k=int((det.get("params") or {}).get("k", 36)),
                         min_size=int(params.get("min_size", 600)),
                         max_size=int(params.get("max_size", 1000)), manager=manager)
