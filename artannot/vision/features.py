"""Region features: RoIAlign on a backbone's last feature map, mean-pooled per box.

This is the thesis' "bottom-up attention" feature with the detector and the feature
backbone decoupled: any detector's boxes are pooled from one ImageNet backbone
(2048-d ResNet, 1280-d EfficientNet-Lite0).  One whole-image feature per artwork (the mean
of the valid feature map) serves the coarse k = 1 model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn
from torchvision.ops import roi_align

from artannot.vision.backbones import BackboneSpec
from artannot.vision.device import use_half


def resized_shape(h: int, w: int, min_size: int, max_size: int) -> tuple[int, int]:
    """Shorter side ``min_size`` unless the longer would exceed ``max_size`` (as torchvision)."""
    scale = min(min_size / min(h, w), max_size / max(h, w))
    return max(1, round(h * scale)), max(1, round(w * scale))


class RegionFeatureExtractor:
    """Pools ``dim``-d features for given boxes (0-based edges, original pixels)."""

    def __init__(
        self,
        backbone: nn.Module,
        spec: BackboneSpec,
        *,
        weights: str | None = None,
        sha256: str | None = None,
        device: torch.device | str = "cpu",
        min_size: int = 600,
        max_size: int = 1000,
        pool_size: int = 7,
    ) -> None:
        self.spec, self.weights, self.sha256 = spec, weights, sha256
        self.device = torch.device(device)
        self.half = use_half(self.device)
        self.min_size, self.max_size, self.pool_size = min_size, max_size, pool_size
        backbone = backbone.eval().to(self.device)
        self.backbone = backbone.half() if self.half else backbone
        dtype = torch.float16 if self.half else torch.float32
        self._mean = torch.tensor(spec.mean, dtype=dtype, device=self.device).view(3, 1, 1)
        self._std = torch.tensor(spec.std, dtype=dtype, device=self.device).view(3, 1, 1)

    @property
    def dim(self) -> int:
        return self.spec.dim

    @property
    def name(self) -> str:
        return self.spec.name

    def _prepare(self, im: np.ndarray) -> torch.Tensor:
        h, w = im.shape[:2]
        rh, rw = resized_shape(h, w, self.min_size, self.max_size)
        small = cv2.resize(im, (rw, rh), interpolation=cv2.INTER_AREA) if (rh, rw) != (h, w) else im
        t = torch.from_numpy(np.ascontiguousarray(small)).to(self.device).permute(2, 0, 1)
        dtype = torch.float16 if self.half else torch.float32
        return (t.to(dtype) / 255.0 - self._mean) / self._std

    @torch.inference_mode()
    def extract(
        self, images: Sequence[np.ndarray], boxes: Sequence[np.ndarray]
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per image ``(region_features [n, dim] float32, whole_image_feature [dim] float32)``.

        Images are batched only with others of the same resized shape, never padded: a
        feature must not depend on which images happened to share its batch (resumed runs
        and different ``--batch-size`` values must store identical features).
        """
        tensors = [self._prepare(im) for im in images]
        groups: dict[tuple[int, int], list[int]] = {}
        for i, t in enumerate(tensors):
            groups.setdefault(tuple(t.shape[1:]), []).append(i)
        out: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(images)
        for (rh, rw), idx in groups.items():
            fmap = self.backbone(torch.stack([tensors[i] for i in idx]))
            rois = []
            for i in idx:
                h, w = images[i].shape[:2]
                scale = torch.tensor([rw / w, rh / h, rw / w, rh / h], dtype=torch.float32)
                b = torch.as_tensor(np.asarray(boxes[i], np.float32)).reshape(-1, 4) * scale
                rois.append(b.to(device=self.device, dtype=fmap.dtype))
            pooled = roi_align(fmap, rois, output_size=self.pool_size,
                               spatial_scale=1.0 / self.spec.stride, sampling_ratio=2,
                               aligned=True).float().mean(dim=(2, 3)).cpu().numpy()
            wholes = fmap.float().mean(dim=(2, 3)).cpu().numpy()
            start = 0
            for j, (i, r) in enumerate(zip(idx, rois)):
                out[i] = (pooled[start: start + len(r)], wholes[j])
                start += len(r)
        return out  # type: ignore[return-value]

    def identity(self) -> dict[str, Any]:
        return {"backbone": self.spec.name, "weights": self.weights, "sha256": self.sha256,
                "dim": self.dim, "params": {"min_size": self.min_size, "max_size": self.max_size,
                                            "pool": "roi_align7_mean"}}
