"""Whole-image features: several ImageNet nets, each at its own resolution, side by side.

Why: on Flickr8k one vector per image from EfficientNet-Lite0+1+2 (each at its native
224/240/260 px, averaged with the mirrored image) ranks captions about twice as well as the
RoI features of 36 proposals (bench/flickr_image_side.py): the nets were trained on whole
images at those sizes, and three nets see more than one. SCAN keeps the regions (a phrase
still points at a fragment); the whole-image vector adds what an artwork shows as a whole.

The vectors live in a feature store of their own (``<data_dir>/global_features/<key>/``, no
regions, one whole-image row per artwork), so they resume, compact and survive a kill like
region features do, and a collection detected before they existed only computes them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from artannot.models import ModelManager
from artannot.vision.backbones import LITE_RESOLUTION
from artannot.vision.features import RegionFeatureExtractor
from artannot.vision.loader import load_extractor

GLOBAL_DIR = "global_features"
# The default whole-image encoder: its name is what a SCAN checkpoint records.
DEFAULT_GLOBAL = "lite012"
GLOBAL_ENCODERS: dict[str, tuple[str, ...]] = {
    "lite012": ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"),
}
VIEWS = ("orig", "flip")


class GlobalImageEncoder:
    """One vector per image: each net's mean feature map over the image and its mirror image,
    the nets side by side ([len(nets) * 1280])."""

    def __init__(self, name: str, extractors: Sequence[RegionFeatureExtractor]) -> None:
        self.name = name
        self.extractors = list(extractors)

    @property
    def dim(self) -> int:
        return sum(e.dim for e in self.extractors)

    @property
    def device(self) -> torch.device:
        return self.extractors[0].device

    def encode(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """[N, dim] float32 for RGB uint8 images (any size: each net resizes to its own)."""
        out = np.zeros((len(images), self.dim), np.float32)
        views = [list(images), [np.ascontiguousarray(im[:, ::-1]) for im in images]]
        col = 0
        for ext in self.extractors:
            for seen in views:
                boxes = [np.array([[0, 0, im.shape[1], im.shape[0]]], np.float32) for im in seen]
                whole = np.stack([w for _, w in ext.extract(seen, boxes)])
                out[:, col:col + ext.dim] += whole / len(views)
            col += ext.dim
        return out

    def identity(self) -> dict[str, Any]:
        return {"global": self.name, "nets": [e.identity() for e in self.extractors],
                "views": list(VIEWS), "dim": self.dim, "device": self.device.type}

    @property
    def key(self) -> str:
        """Store folder name: the encoder's name and a digest of its weights and settings."""
        ident = {**self.identity(), "device": None}
        digest = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:10]
        return f"{self.name}-{digest}"

    def store_dir(self, data_dir: Path) -> Path:
        return Path(data_dir) / GLOBAL_DIR / self.key


def load_global_encoder(name: str = DEFAULT_GLOBAL, *, manager: ModelManager | None = None,
                        device: torch.device | str = "cpu",
                        allow_random: bool = False) -> GlobalImageEncoder:
    """The nets of ``name`` with their installed weights (hash-checked by the model manager)."""
    if name not in GLOBAL_ENCODERS:
        raise ValueError(f"unknown whole-image encoder {name!r}; known: {sorted(GLOBAL_ENCODERS)}")
    manager = manager or ModelManager()
    exts = [load_extractor(net, manager=manager, device=device, min_size=LITE_RESOLUTION[net],
                           max_size=LITE_RESOLUTION[net], allow_random=allow_random)
            for net in GLOBAL_ENCODERS[name]]
    return GlobalImageEncoder(name, exts)


def global_stores(data_dir: Path, name: str = DEFAULT_GLOBAL) -> list[Path]:
    """Whole-image stores of encoder ``name`` in a collection, most recently written first."""
    root = Path(data_dir) / GLOBAL_DIR
    found = [p.parent for p in root.glob(f"{name}-*/index.sqlite")] if root.is_dir() else []
    return sorted(found, key=lambda p: (p / "index.sqlite").stat().st_mtime, reverse=True)
