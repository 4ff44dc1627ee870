"""Fixtures for the vision tests: small images, an isolated models folder, tiny checkpoints.

Everything is built locally with random weights (no downloads) and kept small so the whole
vision suite stays well under a minute on two shared CPU cores.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from artannot.models import ModelManager

SAMPLE_IMAGES = Path(__file__).resolve().parents[2] / "resources" / "sample_collection" / "images"
REPO_SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "sample_collection"
NAMES = ("hokusai_great_wave", "exekias_neck_amphora", "rembrandt_night_watch")
SMALL_SIDE = 320  # longer side of the test images
TEST_SIZES = {"min_size": 224, "max_size": 320}

torch.set_num_threads(2)


def _source_images() -> list[Path]:
    found = [SAMPLE_IMAGES / f"{n}.jpg" for n in NAMES if (SAMPLE_IMAGES / f"{n}.jpg").is_file()]
    if found:
        return found
    return sorted(p for p in REPO_SAMPLE.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[:3]


@pytest.fixture(scope="session")
def small_images(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Sample artworks downscaled to 320 px (or synthetic ones when no sample is present)."""
    out = tmp_path_factory.mktemp("images")
    sources = _source_images()
    paths = []
    for i, src in enumerate(sources or [None, None, None]):
        if src is None:
            rng = np.random.default_rng(i)
            im = Image.fromarray(rng.integers(0, 255, (200 + 10 * i, 300, 3), dtype=np.uint8))
            name = f"synthetic_{i}"
        else:
            im = Image.open(src).convert("RGB")
            im.thumbnail((SMALL_SIDE, SMALL_SIDE))
            name = src.stem
        p = out / f"{name}.jpg"
        im.save(p, quality=90)
        paths.append(p)
    return paths


@pytest.fixture
def models_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "models"
    monkeypatch.setenv("ARTANNOT_MODELS_DIR", str(d))
    return d


@pytest.fixture
def manager(models_dir: Path) -> ModelManager:
    return ModelManager()


@pytest.fixture(scope="session")
def tiny_detector_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Random-weight Faster R-CNN MobileNetV3-320 state dict (the smallest torchvision one)."""
    from artannot.vision.detect import get_detector_spec

    torch.manual_seed(0)
    model = get_detector_spec("fasterrcnn_mobilenet_v3_large_320_fpn").builder()
    path = tmp_path_factory.mktemp("ckpt") / "tiny_frcnn.pth"
    torch.save(model.state_dict(), path)
    return path


@pytest.fixture(scope="session")
def tiny_backbone_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Random-weight ResNet-18 state dict in torchvision layout."""
    from artannot.vision.backbones import build_backbone

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "tiny_resnet18.pth"
    torch.save(build_backbone("resnet18").state_dict(), path)
    return path
