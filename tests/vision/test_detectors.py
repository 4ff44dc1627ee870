"""Detectors: device choice, weight-free proposals, Faster R-CNN through the real loading path."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from artannot.core.errors import ModelError
from artannot.core.geometry import Box
from artannot.models import ModelManager
from artannot.vision.detect import (
    COCO_CATEGORIES,
    FasterRCNNDetector,
    ProposalDetector,
    list_detectors,
)
from artannot.vision.device import select_device, use_half
from artannot.vision.feature_store import RegionSet, edges_to_voc
from artannot.vision.loader import load_detector
from artannot.vision.proposals import ProposalConfig, propose
from artannot.vision.runner import load_rgb


def test_select_device() -> None:
    assert select_device("cpu") == torch.device("cpu")
    assert select_device(None).type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert select_device("auto") == select_device(None)
    assert not use_half(torch.device("cpu"))
    with pytest.raises(ModelError):
        select_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ModelError, match="CUDA is not available"):
            select_device("cuda")


def test_registry_has_backends() -> None:
    names = list_detectors()
    assert "proposals" in names and "fasterrcnn_resnet50_fpn" in names
    assert "fasterrcnn_resnet50_fpn_v2" in names


def test_proposals_k_boxes_inside_image_whole_image_first(small_images: list[Path]) -> None:
    for path in small_images:
        img = load_rgb(path)
        h, w = img.shape[:2]
        boxes, scores = propose(img, ProposalConfig(k=36))
        assert boxes.shape == (36, 4) and scores.shape == (36,)
        assert np.array_equal(boxes[0], [0, 0, w, h])
        assert (boxes[:, 0] >= 0).all() and (boxes[:, 1] >= 0).all()
        assert (boxes[:, 2] <= w).all() and (boxes[:, 3] <= h).all()
        assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
        # de-duplicated: no two boxes overlap more than the NMS threshold (grid fill aside)
        t = torch.from_numpy(boxes)
        from torchvision.ops import box_iou
        iou = box_iou(t, t).fill_diagonal_(0)
        assert float(iou[1:, 1:].max()) <= 0.9
        voc = [Box.from_edges(*b) for b in boxes]
        assert all(b.inside(w, h) for b in voc)


def test_proposals_deterministic(small_images: list[Path]) -> None:
    img = load_rgb(small_images[0])
    a = propose(img)
    b = propose(img)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_proposals_plain_and_tiny_images() -> None:
    flat = np.full((120, 90, 3), 128, np.uint8)
    boxes, _ = propose(flat, ProposalConfig(k=10))
    assert len(boxes) == 10 and np.array_equal(boxes[0], [0, 0, 90, 120])  # grid fills up
    tiny = np.zeros((4, 5, 3), np.uint8)
    boxes, _ = propose(tiny, ProposalConfig(k=5))
    assert np.array_equal(boxes[0], [0, 0, 5, 4])


def test_voc_convention_at_the_boundary() -> None:
    w, h = 320, 200
    voc = edges_to_voc(np.array([[0, 0, w, h], [9.5, 19, 20, 40]], np.float32))
    assert voc[0].tolist() == [1, 1, w, h]
    assert Box(*voc[0]) == Box.whole_image(w, h) and Box(*voc[0]).to_edges() == (0, 0, w, h)
    assert voc[1].tolist() == [10.5, 20, 20, 40]
    rs = RegionSet("a", voc, np.ones(2, np.float32), ["x", "y"], np.zeros((2, 4), np.float16),
                   np.zeros(4, np.float16))
    assert rs.edges().tolist() == [[0, 0, w, h], [9.5, 19, 20, 40]]


def _import_tiny_detector(manager: ModelManager, ckpt: Path) -> None:
    manager.import_file(ckpt, name="tiny_frcnn", role="detector",
                        architecture="fasterrcnn_mobilenet_v3_large_320_fpn", provenance="test")


def test_fasterrcnn_through_manager(manager: ModelManager, tiny_detector_ckpt: Path,
                                    small_images: list[Path]) -> None:
    _import_tiny_detector(manager, tiny_detector_ckpt)
    det = load_detector("tiny_frcnn", manager=manager, k=8, score_floor=0.0, min_size=224, max_size=320)
    assert isinstance(det, FasterRCNNDetector) and det.sha256 == manager.sha256_for("tiny_frcnn")
    imgs = [load_rgb(small_images[0])]
    out1 = det.detect(imgs)
    out2 = det.detect(imgs)
    for img, d, d2 in zip(imgs, out1, out2):
        h, w = img.shape[:2]
        assert 1 <= len(d.boxes) <= 8 and d.boxes.shape[1] == 4
        assert (d.boxes[:, :2] >= 0).all() and (d.boxes[:, 2] <= w).all() and (d.boxes[:, 3] <= h).all()
        assert set(d.labels) <= set(COCO_CATEGORIES) and (np.diff(d.scores) <= 1e-6).all()
        assert np.array_equal(d.boxes, d2.boxes)  # deterministic
    assert det.identity()["weights"] == "tiny_frcnn"


def test_detector_needs_weights_and_refuses_corrupted(manager: ModelManager, tiny_detector_ckpt: Path) -> None:
    with pytest.raises(ModelError, match="no weights installed"):
        load_detector("fasterrcnn_resnet50_fpn", manager=manager)
    _import_tiny_detector(manager, tiny_detector_ckpt)
    path = manager.path_for("tiny_frcnn")
    with open(path, "r+b") as f:
        f.seek(1000)
        f.write(b"\x00garbage\x00")
    os.utime(path, ns=(5, 5))
    with pytest.raises(ModelError, match="mismatch"):
        load_detector("tiny_frcnn", manager=manager)


def test_proposals_backend_needs_nothing(manager: ModelManager, small_images: list[Path]) -> None:
    det = load_detector("proposals", manager=manager, k=12)
    assert isinstance(det, ProposalDetector)
    [d] = det.detect([load_rgb(small_images[0])])
    assert len(d.boxes) == 12 and d.labels == ["region"] * 12
