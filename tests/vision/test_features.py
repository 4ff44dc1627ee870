"""Region features: bundled EfficientNet-Lite0 through the manager, a custom ResNet-18, RoIAlign."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from artannot.core.errors import ModelError
from artannot.models import ModelManager
from artannot.vision.backbones import build_backbone, get_backbone_spec, list_backbones
from artannot.vision.features import resized_shape
from artannot.vision.loader import load_extractor, load_state_dict_file
from artannot.vision.runner import load_rgb

from .conftest import SAMPLE_IMAGES, TEST_SIZES

AMPHORA_CLASSES = {"vase", "water jug", "whiskey jug", "pitcher", "pot", "teapot", "beer bottle"}


def test_registry_dims() -> None:
    assert {"efficientnet_lite0", "resnet50", "resnet101", "resnet18"} <= set(list_backbones())
    assert get_backbone_spec("efficientnet_lite0").dim == 1280
    assert get_backbone_spec("resnet50").dim == 2048 and get_backbone_spec("resnet101").dim == 2048
    with pytest.raises(ModelError):
        get_backbone_spec("vgg16")


def test_resized_shape_follows_torchvision_rule() -> None:
    assert resized_shape(500, 1000, 600, 1000) == (500, 1000)  # longer side caps
    assert resized_shape(300, 400, 600, 1000) == (600, 800)
    assert resized_shape(1024, 821, 600, 1000) == (748, 600)


def test_bundled_lite0_loads_strict_and_classifies_sensibly(manager: ModelManager) -> None:
    """The rebuilt Lite0 really is the ImageNet model: an amphora reads as a vessel."""
    from PIL import Image
    from torchvision.models._meta import _IMAGENET_CATEGORIES as CLASSES

    src = SAMPLE_IMAGES / "exekias_neck_amphora.jpg"
    state = load_state_dict_file(manager.path_for("efficientnet_lite0_imagenet"))
    net = build_backbone("efficientnet_lite0")
    net.load_state_dict(state, strict=True)
    rand = build_backbone("efficientnet_lite0")
    spec = get_backbone_spec("efficientnet_lite0")
    img = np.asarray(Image.open(src).convert("RGB").resize((224, 224), Image.BILINEAR), np.float32) / 255
    x = (torch.from_numpy(img).permute(2, 0, 1) - torch.tensor(spec.mean)[:, None, None]) / torch.tensor(spec.std)[:, None, None]
    with torch.inference_mode():
        p = net.eval().classify(net(x[None]).mean((2, 3))).softmax(1)[0]
        q = rand.eval().classify(rand(x[None]).mean((2, 3))).softmax(1)[0]
    top5 = {CLASSES[i] for i in p.topk(5).indices.tolist()}
    assert top5 & AMPHORA_CLASSES, top5
    assert float(p.max()) > 0.2 > float(q.max())


def test_lite0_extractor_shapes_and_determinism(manager: ModelManager, small_images: list[Path]) -> None:
    ext = load_extractor("efficientnet_lite0", manager=manager, **TEST_SIZES)
    assert ext.dim == 1280 and ext.weights == "efficientnet_lite0_imagenet"
    imgs = [load_rgb(p) for p in small_images[:2]]
    boxes = []
    for im in imgs:
        h, w = im.shape[:2]
        boxes.append(np.array([[0, 0, w, h], [w / 4, h / 4, w / 2, h / 2], [0, 0, 8, 8]], np.float32))
    out = ext.extract(imgs, boxes)
    again = ext.extract(imgs, boxes)
    for (regions, whole), (r2, w2) in zip(out, again):
        assert regions.shape == (3, 1280) and whole.shape == (1280,)
        assert np.isfinite(regions).all() and (regions >= 0).all()  # after ReLU6
        assert np.allclose(regions, r2) and np.allclose(whole, w2)
        # the whole-image box pools nearly the same thing as the whole-image feature
        cos = regions[0] @ whole / (np.linalg.norm(regions[0]) * np.linalg.norm(whole))
        assert cos > 0.9
        assert not np.allclose(regions[1], regions[2])
    # features do not depend on which images share a batch (resume, --batch-size)
    single = ext.extract(imgs[1:], boxes[1:])[0][0]
    np.testing.assert_allclose(single, out[1][0], rtol=1e-4, atol=1e-4)


def test_custom_resnet18_backbone_via_import(manager: ModelManager, tiny_backbone_ckpt: Path,
                                             small_images: list[Path]) -> None:
    manager.import_file(tiny_backbone_ckpt, name="r18", role="backbone", architecture="resnet18")
    ext = load_extractor("r18", manager=manager, **TEST_SIZES)
    assert ext.dim == 512 and ext.sha256 == manager.sha256_for("r18")
    im = load_rgb(small_images[0])
    [(regions, whole)] = ext.extract([im], [np.array([[0, 0, 50, 60]], np.float32)])
    assert regions.shape == (1, 512) and whole.shape == (512,)


def test_wrong_architecture_is_a_model_error(manager: ModelManager, tiny_backbone_ckpt: Path,
                                            tmp_path: Path) -> None:
    manager.import_file(tiny_backbone_ckpt, name="r18_as_r50", role="backbone", architecture="resnet50")
    with pytest.raises(ModelError, match="do not fit"):
        load_extractor("r18_as_r50", manager=manager)
    with pytest.raises(ModelError, match="no weights installed"):
        load_extractor("resnet101", manager=manager)
    ext = load_extractor("resnet50", manager=ModelManager(tmp_path / "empty", manifest=[]),
                         allow_random=True)
    assert ext.dim == 2048 and ext.weights is None


def test_not_a_checkpoint(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a pickle")
    with pytest.raises(ModelError, match="checkpoint"):
        load_state_dict_file(bad)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_gpu_half_precision_matches_cpu(manager: ModelManager, small_images: list[Path]) -> None:
    from artannot.vision.feature_store import FeatureStore
    from artannot.vision.loader import load_detector
    from artannot.vision.runner import detect_collection

    cpu = load_extractor("efficientnet_lite0", manager=manager, device="cpu", **TEST_SIZES)
    gpu = load_extractor("efficientnet_lite0", manager=manager, device="cuda", **TEST_SIZES)
    assert gpu.half
    im = load_rgb(small_images[0])
    b = [np.array([[0, 0, im.shape[1], im.shape[0]], [10, 10, 100, 90]], np.float32)]
    (rc, _), = cpu.extract([im], b)
    (rg, _), = gpu.extract([im], b)
    cos = (rc * rg).sum(1) / (np.linalg.norm(rc, axis=1) * np.linalg.norm(rg, axis=1))
    assert (cos > 0.99).all()
    det = load_detector("proposals", manager=manager, k=8)
    store = FeatureStore(Path(str(small_images[0].parent.parent)) / "gpu_store")
    report = detect_collection([(p.stem, p) for p in small_images], store, det, gpu, batch_size=2)
    assert report.processed == len(small_images) and not report.failed
