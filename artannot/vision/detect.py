"""Region detectors by name: weight-free proposals, or torchvision Faster R-CNN.

A detector turns RGB images into at most ``k`` boxes each, as 0-based edges in original
image pixels (torchvision's convention), with scores and labels.  Labels of the Faster R-CNN
backend are COCO class names, kept as pseudo-phrases; proposals are labelled "region".
Architectures are built here with random weights; weights come from the model manager via
:mod:`artannot.vision.loader`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn
from torchvision.models import detection as tvd
from torchvision.ops import nms

from artannot.core.errors import ModelError
from artannot.vision.proposals import ProposalConfig, propose

# torchvision's COCO label ids (91 slots with "N/A" gaps), index 0 is the background.
COCO_CATEGORIES: tuple[str, ...] = (
    "__background__", "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train",
    "truck", "boat", "traffic light", "fire hydrant", "N/A", "stop sign", "parking meter",
    "bench", "bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra",
    "giraffe", "N/A", "backpack", "umbrella", "N/A", "N/A", "handbag", "tie", "suitcase",
    "frisbee", "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove",
    "skateboard", "surfboard", "tennis racket", "bottle", "N/A", "wine glass", "cup", "fork",
    "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange", "broccoli", "carrot",
    "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant", "bed", "N/A",
    "dining table", "N/A", "N/A", "toilet", "N/A", "tv", "laptop", "mouse", "remote",
    "keyboard", "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "N/A",
    "book", "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush",
)
PROPOSAL_LABEL = "region"


@dataclass(slots=True)
class Detections:
    """Boxes of one image: ``boxes`` [n, 4] float32 0-based edges, n <= k."""

    boxes: np.ndarray
    scores: np.ndarray
    labels: list[str]


class Detector(Protocol):
    name: str

    def detect(self, images: Sequence[np.ndarray]) -> list[Detections]: ...

    def identity(self) -> dict[str, Any]: ...


# -- registry -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DetectorSpec:
    name: str
    needs_weights: bool
    builder: Callable[..., nn.Module] | None = None  # architecture with random weights
    description: str = ""


DETECTORS: dict[str, DetectorSpec] = {}


def register_detector(spec: DetectorSpec) -> DetectorSpec:
    if spec.name in DETECTORS:
        raise ValueError(f"detector {spec.name!r} registered twice")
    DETECTORS[spec.name] = spec
    return spec


def list_detectors() -> list[str]:
    return sorted(DETECTORS)


def get_detector_spec(name: str) -> DetectorSpec:
    try:
        return DETECTORS[name]
    except KeyError:
        raise ModelError(f"unknown detector {name!r}; known: {', '.join(list_detectors())}") from None


def _frcnn(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    def build(**kwargs: Any) -> nn.Module:
        # weights=None and weights_backbone=None: torchvision must never try to download.
        return fn(weights=None, weights_backbone=None, num_classes=len(COCO_CATEGORIES), **kwargs)

    return build


register_detector(DetectorSpec("proposals", False, None,
                               "weight-free selective search ranked by saliency (default)"))
register_detector(DetectorSpec("fasterrcnn_resnet50_fpn", True, _frcnn(tvd.fasterrcnn_resnet50_fpn),
                               "torchvision Faster R-CNN ResNet-50 FPN (COCO)"))
register_detector(DetectorSpec("fasterrcnn_resnet50_fpn_v2", True,
                               _frcnn(tvd.fasterrcnn_resnet50_fpn_v2),
                               "torchvision Faster R-CNN ResNet-50 FPN v2 (COCO)"))
register_detector(DetectorSpec("fasterrcnn_mobilenet_v3_large_320_fpn", True,
                               _frcnn(tvd.fasterrcnn_mobilenet_v3_large_320_fpn),
                               "torchvision Faster R-CNN MobileNetV3 320 FPN (COCO), fast"))


# -- backends -----------------------------------------------------------------------------
@dataclass
class ProposalDetector:
    """Backend that works out of the box: no weights, CPU only (OpenCV)."""

    config: ProposalConfig = field(default_factory=ProposalConfig)
    name: str = "proposals"

    def detect(self, images: Sequence[np.ndarray]) -> list[Detections]:
        out = []
        for img in images:
            boxes, scores = propose(img, self.config)
            out.append(Detections(boxes, scores, [PROPOSAL_LABEL] * len(boxes)))
        return out

    def identity(self) -> dict[str, Any]:
        c = self.config
        return {"detector": self.name, "weights": None, "sha256": None,
                "params": {"k": c.k, "max_side": c.max_side, "iou": c.iou, "seg_k": c.seg_k}}


class FasterRCNNDetector:
    """torchvision Faster R-CNN, then class-agnostic NMS, a score floor and the top ``k``."""

    def __init__(
        self,
        model: nn.Module,
        *,
        name: str,
        weights: str | None = None,
        sha256: str | None = None,
        device: torch.device | str = "cpu",
        k: int = 36,
        score_floor: float = 0.05,
        iou: float = 0.5,
        min_size: int = 600,
        max_size: int = 1000,
    ) -> None:
        self.name, self.weights, self.sha256 = name, weights, sha256
        self.device = torch.device(device)
        self.k, self.score_floor, self.iou = k, score_floor, iou
        self.min_size, self.max_size = min_size, max_size
        model.transform.min_size = (min_size,)
        model.transform.max_size = max_size
        model.roi_heads.score_thresh = score_floor
        model.roi_heads.detections_per_img = max(100, 3 * k)
        self.model = model.eval().to(self.device)

    @torch.inference_mode()
    def detect(self, images: Sequence[np.ndarray]) -> list[Detections]:
        if not images:
            return []
        tensors = [torch.from_numpy(np.ascontiguousarray(im)).to(self.device)
                   .permute(2, 0, 1).float().div_(255.0) for im in images]
        with torch.autocast(self.device.type, enabled=self.device.type == "cuda"):
            raw = self.model(tensors)
        out = []
        for r in raw:
            boxes, scores, labels = r["boxes"].float(), r["scores"].float(), r["labels"]
            keep = scores >= self.score_floor
            boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
            keep = nms(boxes, scores, self.iou)[: self.k]  # class-agnostic: one box per place
            names = [COCO_CATEGORIES[i] if 0 <= i < len(COCO_CATEGORIES) else str(i)
                     for i in labels[keep].tolist()]
            out.append(Detections(boxes[keep].cpu().numpy().astype(np.float32),
                                  scores[keep].cpu().numpy().astype(np.float32), names))
        return out

    def identity(self) -> dict[str, Any]:
        return {"detector": self.name, "weights": self.weights, "sha256": self.sha256,
                "params": {"k": self.k, "score_floor": self.score_floor, "iou": self.iou,
                           "min_size": self.min_size, "max_size": self.max_size}}
