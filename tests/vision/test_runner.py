"""Batch runs: resume after interruption, skip unchanged images, bad images reported."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from artannot.core.errors import ModelError
from artannot.models import ModelManager
from artannot.vision.feature_store import FeatureStore
from artannot.vision.loader import load_detector, load_extractor
from artannot.vision.runner import detect_collection

from .conftest import TEST_SIZES


@pytest.fixture
def pipeline(manager: ModelManager):
    det = load_detector("proposals", manager=manager, k=6)
    ext = load_extractor("efficientnet_lite0", manager=manager, **TEST_SIZES)
    return det, ext


@pytest.fixture
def collection(tmp_path: Path, small_images: list[Path]) -> list[tuple[str, Path]]:
    folder = tmp_path / "col"
    folder.mkdir()
    items = []
    for p in small_images:
        dst = folder / p.name
        shutil.copy(p, dst)
        items.append((p.name, dst))
    return items


def test_resume_after_interruption(tmp_path: Path, pipeline, collection) -> None:
    det, ext = pipeline
    store = FeatureStore(tmp_path / "fs", dim=ext.dim)
    seen: list[str] = []
    report = detect_collection(collection, store, det, ext, batch_size=1,
                               progress=lambda d, t, a: seen.append(a),
                               should_stop=lambda: len(seen) >= 1)
    assert report.stopped and report.processed == 1 and len(store) == 1
    store.close()

    store = FeatureStore(tmp_path / "fs")  # a new process: only what was flushed survives
    first = store.get(collection[0][0])
    report = detect_collection(collection, store, det, ext, batch_size=2)
    assert not report.stopped and report.skipped == 1 and report.processed == len(collection) - 1
    assert store.ids() == sorted(a for a, _ in collection)
    for artwork_id, path in collection:
        rs = store.get(artwork_id)
        assert rs.features.shape == (6, 1280) and rs.whole_image_feature.shape == (1280,)
        from PIL import Image
        w, h = Image.open(path).size
        assert rs.boxes[0].tolist() == [1, 1, w, h]  # whole image, VOC convention
        assert all(b.inside(w, h) for b in rs.box_list())
    # the resumed run computed the same thing a single run would (determinism)
    np.testing.assert_array_equal(store.get(collection[0][0]).features, first.features)
    assert store.meta["backbone"]["weights"] == "efficientnet_lite0_imagenet"
    assert store.meta["backbone"]["sha256"].startswith("57934424")
    store.close()


def test_unchanged_skipped_changed_redone(tmp_path: Path, pipeline, collection) -> None:
    det, ext = pipeline
    with FeatureStore(tmp_path / "fs") as store:
        detect_collection(collection[:2], store, det, ext)
        report = detect_collection(collection[:2], store, det, ext)
        assert report.skipped == 2 and report.processed == 0
        os.utime(collection[0][1], ns=(10**18, 10**18))
        report = detect_collection(collection[:2], store, det, ext)
        assert report.processed == 1 and report.skipped == 1


def test_bad_images_are_reported_not_fatal(tmp_path: Path, pipeline, collection) -> None:
    det, ext = pipeline
    good_id, good = collection[0]
    truncated = tmp_path / "col" / "truncated.jpg"
    data = good.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    garbage = tmp_path / "col" / "garbage.jpg"
    garbage.write_bytes(b"not an image at all")
    items = [("truncated.jpg", truncated), ("missing.jpg", tmp_path / "col" / "missing.jpg"),
             ("garbage.jpg", garbage), (good_id, good)]
    with FeatureStore(tmp_path / "fs") as store:
        report = detect_collection(items, store, det, ext, batch_size=2)
        assert report.processed == 1 and store.ids() == [good_id]
        assert set(report.failed) == {"truncated.jpg", "missing.jpg", "garbage.jpg"}
        assert "truncated" in report.failed["truncated.jpg"] and "missing" in report.failed["missing.jpg"]


def test_store_of_other_models_is_refused(tmp_path: Path, pipeline, collection, manager) -> None:
    det, ext = pipeline
    with FeatureStore(tmp_path / "fs") as store:
        detect_collection(collection[:1], store, det, ext)
        other = load_extractor("resnet18", manager=manager, allow_random=True, **TEST_SIZES)
        with pytest.raises(ModelError, match="other models"):
            detect_collection(collection[:1], store, det, other)


def test_cli_detect_on_a_catalogued_collection(isolated_dirs, collection) -> None:
    from artannot.cli.detect_cmd import register

    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:
        pass

    folder = collection[0][1].parent
    runner = CliRunner()
    args = ["detect", str(folder), "--k", "4", "--min-size", "224", "--max-size", "320", "--device", "cpu"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert f"{len(collection)} processed" in res.output
    res = runner.invoke(app, args)
    assert res.exit_code == 0 and f"{len(collection)} unchanged" in res.output
    stores = list(isolated_dirs["data"].rglob("index.sqlite"))
    feature_stores = [s.parent for s in stores if s.parent.parent.name == "features"]
    assert len(feature_stores) == 1 and "proposals__efficientnet_lite0_imagenet" in feature_stores[0].name
    res = runner.invoke(app, ["detect", str(folder), "--detector", "fasterrcnn_resnet50_fpn"])
    assert res.exit_code == 1 and "no weights installed" in res.output


def test_pipeline_rebuilt_from_store_meta_is_accepted(tmp_path: Path, manager, collection) -> None:
    from artannot.vision.pipeline import load_pipeline, pipeline_for_store

    pipe = load_pipeline(k=5, manager=manager, device="cpu", **TEST_SIZES)
    store_dir = pipe.store_dir(tmp_path / "data")
    assert store_dir.name == "proposals__efficientnet_lite0_imagenet-57934424__k5_224-320"
    with FeatureStore(store_dir, dim=pipe.extractor.dim) as store:
        detect_collection(collection[:1], store, pipe.detector, pipe.extractor)
        again = pipeline_for_store(store.meta, manager=manager, device="cpu")
        assert again.key == pipe.key
        report = detect_collection(collection[:2], store, again.detector, again.extractor)
        assert report.skipped == 1 and report.processed == 1


def test_model_image_of_a_huge_jpeg_is_decoded_reduced(tmp_path: Path) -> None:
    from PIL import Image

    from artannot.vision.runner import load_model_image, load_rgb

    path = tmp_path / "scan.jpg"
    Image.new("RGB", (9000, 6000), (200, 180, 150)).save(path, quality=70)  # 54 MP
    im = load_model_image(path)
    assert im.pixels.shape == (3000, 4500, 3) and (im.sx, im.sy) == (0.5, 0.5)
    edges = np.array([[0, 0, 9000, 6000], [100, 200, 300, 600]], np.float32)
    np.testing.assert_array_equal(im.to_model(edges)[1], [50, 100, 150, 300])
    np.testing.assert_array_equal(im.to_stored(im.to_model(edges)), edges)
    small = tmp_path / "small.png"
    Image.new("RGB", (640, 480), (10, 20, 30)).save(small)
    untouched = load_model_image(small)  # up to 50 MP: the very pixels load_rgb gives
    assert (untouched.sx, untouched.sy) == (1.0, 1.0)
    np.testing.assert_array_equal(untouched.pixels, load_rgb(small))


def test_detection_on_a_reduced_decode_stores_full_size_boxes(
    tmp_path: Path, pipeline, collection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lower the thresholds so a test image counts as huge: a PNG is reduced after decoding."""
    from PIL import Image

    from artannot.vision import runner

    src = Image.open(collection[0][1]).convert("RGB")
    path = tmp_path / "big.png"
    src.resize((src.width * 4, src.height * 4)).save(path)
    width, height = src.width * 4, src.height * 4
    monkeypatch.setattr(runner, "REDUCE_ABOVE", 10_000)
    monkeypatch.setattr(runner, "MODEL_SIDE", max(width, height) // 4)
    assert runner.load_model_image(path).pixels.shape[:2] == (height // 4, width // 4)
    det, ext = pipeline
    with FeatureStore(tmp_path / "fs", dim=ext.dim) as store:
        report = detect_collection([("big.png", path)], store, det, ext)
        assert report.processed == 1
        rs = store.get("big.png")
        assert rs.boxes[0].tolist() == [1, 1, width, height]  # the whole image, full-size grid
        assert all(b.inside(width, height) for b in rs.box_list())
        assert max(b.xmax for b in rs.box_list()) > width // 4  # boxes were scaled back


def test_model_image_limit_does_not_depend_on_import_order() -> None:
    """Imported alone (a fresh interpreter), the runner still allows 400 MP scans, not PIL's 89 MP."""
    import subprocess
    import sys

    code = ("from artannot.vision import runner; from PIL import Image; "
            "print(Image.MAX_IMAGE_PIXELS, runner.MAX_IMAGE_PIXELS)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["400000000", "400000000"]


def test_huge_palette_image_is_reduced_in_colour(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A palette scan over the reduce threshold loads (averaging palette indices used to fail)."""
    from PIL import Image

    from artannot.vision import runner

    board = Image.new("L", (64, 48))
    board.putdata([255 * ((x + y) % 2) for y in range(48) for x in range(64)])
    path = tmp_path / "map.png"
    board.convert("P").save(path)
    monkeypatch.setattr(runner, "REDUCE_ABOVE", 1000)
    monkeypatch.setattr(runner, "MODEL_SIDE", 16)
    im = runner.load_model_image(path)
    assert im.pixels.shape == (12, 16, 3) and (im.sx, im.sy) == (0.25, 0.25)
    assert 120 <= im.pixels.mean() <= 135
