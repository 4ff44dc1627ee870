"""Whole-image vectors: EfficientNet-Lite1/2 from their PyPI packages, the three-net encoder,
its own resumable store, and `artannot detect` filling it after the regions."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from artannot.models import ModelManager
from artannot.vision.backbones import build_backbone
from artannot.vision.feature_store import FeatureStore
from artannot.vision.global_features import (
    DEFAULT_GLOBAL,
    GLOBAL_DIR,
    global_stores,
    load_global_encoder,
)
from artannot.vision.runner import encode_collection, load_rgb


@pytest.fixture(scope="module")
def encoder():
    return load_global_encoder(DEFAULT_GLOBAL, manager=ModelManager())


@pytest.mark.parametrize("name, blocks", [("efficientnet_lite1", 21), ("efficientnet_lite2", 21)])
def test_lite1_and_lite2_load_their_bundled_weights_strictly(name: str, blocks: int) -> None:
    manager = ModelManager()
    status = {s.name: s for s in manager.list()}[f"{name}_imagenet"]
    assert status.architecture == name
    net = build_backbone(name)
    assert len(net._blocks) == blocks  # Lite0 has 16; the strict load below checks every shape
    from artannot.vision.loader import load_state_dict_file

    net.load_state_dict(load_state_dict_file(manager.path_for(status.name)), strict=True)
    net.eval()
    with torch.inference_mode():  # an ImageNet classifier: a flat grey image is no confident class
        logits = net.classify(net(torch.zeros(1, 3, 240, 240)).mean((2, 3)))
    assert logits.shape == (1, 1000) and torch.isfinite(logits).all()


def test_vector_is_three_nets_side_by_side_and_mirror_invariant(encoder, small_images) -> None:
    assert encoder.dim == 3 * 1280
    im = load_rgb(small_images[0])
    both = encoder.encode([im, np.ascontiguousarray(im[:, ::-1])])
    assert both.shape == (2, 3840) and np.isfinite(both).all()
    # the mean over the image and its mirror image: a mirrored artwork is the same artwork
    np.testing.assert_allclose(both[0], both[1], rtol=1e-4, atol=1e-4)
    other = encoder.encode([load_rgb(small_images[1])])[0]
    cos = float(both[0] @ other / np.linalg.norm(both[0]) / np.linalg.norm(other))
    assert cos < 0.999  # two different artworks are not the same vector
    ident = encoder.identity()
    assert [n["backbone"] for n in ident["nets"]] == ["efficientnet_lite0", "efficientnet_lite1",
                                                     "efficientnet_lite2"]
    assert [n["params"]["min_size"] for n in ident["nets"]] == [224, 240, 260]


def test_encode_collection_resumes_and_recomputes_changed_images(encoder, small_images,
                                                                 tmp_path: Path) -> None:
    items = []
    for p in small_images:
        shutil.copy(p, tmp_path / p.name)
        items.append((p.name, tmp_path / p.name))
    store_dir = encoder.store_dir(tmp_path / "data")
    seen: list[str] = []
    with FeatureStore(store_dir, dim=encoder.dim) as store:
        first = encode_collection(items, store, encoder, batch_size=1,
                                  progress=lambda d, t, a: seen.append(a),
                                  should_stop=lambda: len(seen) >= 1)
    assert first.stopped and first.processed == 1
    with FeatureStore(store_dir, dim=encoder.dim) as store:
        rest = encode_collection(items, store, encoder, batch_size=2)
        assert (rest.skipped, rest.processed) == (1, len(items) - 1)
        rs = store.get(items[0][0])
        assert rs.features.shape == (0, encoder.dim) and rs.whole_image_feature.shape == (3840,)
        want = encoder.encode([load_rgb(items[0][1])])[0]
        np.testing.assert_allclose(np.asarray(rs.whole_image_feature, np.float32), want,
                                   rtol=1e-2, atol=1e-2)  # stored as float16
    os.utime(items[0][1], ns=(1, 1))  # the image changed on disk: its vector is recomputed
    with FeatureStore(store_dir, dim=encoder.dim) as store:
        again = encode_collection(items, store, encoder)
    assert (again.processed, again.skipped) == (1, len(items) - 1)
    assert global_stores(tmp_path / "data") == [store_dir]


def test_detect_command_adds_whole_image_vectors_after_regions(small_images, tmp_path: Path) -> None:
    from artannot.cli import app
    from artannot.core.catalog import Catalog
    from artannot.retrieval.collection_training import collection_dataset

    root = tmp_path / "col"
    (root / "images").mkdir(parents=True)
    (root / "metadata").mkdir()
    for p in small_images:
        shutil.copy(p, root / "images" / p.name)
        (root / "metadata" / f"{p.stem}.json").write_text(json.dumps(
            {"title": p.stem, "description": "A large wave and a small boat under a grey sky."}),
            encoding="utf-8")
    runner = CliRunner()
    args = ["--k", "3", "--min-size", "128", "--max-size", "128"]
    assert runner.invoke(app, ["index", str(root)]).exit_code == 0
    r = runner.invoke(app, ["detect", str(root), "--no-whole", *args])
    assert r.exit_code == 0, r.output
    with Catalog.open(root) as cat:
        data_dir = cat.data_dir
    assert not (data_dir / GLOBAL_DIR).exists()
    r = runner.invoke(app, ["detect", str(root), *args])  # regions unchanged, vectors added
    assert r.exit_code == 0, r.output
    assert f"0 processed, {len(small_images)} unchanged" in r.output
    assert f"{len(small_images)} processed, 0 unchanged" in r.output
    stores = global_stores(data_dir)
    assert len(stores) == 1
    with FeatureStore(stores[0], readonly=True) as store:
        assert len(store) == len(small_images) and store.dim == 3840
    r = runner.invoke(app, ["phrases", str(root), "--min-count", "1"])
    assert r.exit_code == 0, r.output
    ds = collection_dataset(root, min_phrase_count=1)  # training finds the vectors by itself
    assert ds.global_dim == 3840 and len(ds) == len(small_images)
    assert all(it.whole is not None and it.whole.shape == (3840,) for it in ds.items)
