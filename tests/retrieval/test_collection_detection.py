"""Detection for a collection in a session, without Qt: which models, what is reused, what a
run reports (the GUI's "Detect regions" runs exactly this on a worker; that the module imports
no Qt is checked by ``tests/test_architecture.py``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from artannot.core.geometry import Box
from artannot.retrieval.collection_detection import (
    DetectionResult,
    DetectionSession,
    meta_for_detector,
    proposals_from,
    store_detector,
)
from artannot.vision.feature_store import FeatureStore, RegionSet
from artannot.vision.pipeline import load_pipeline
from artannot.vision.runner import RunReport, detect_collection

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "sample_collection" / "images"
SIZES = {"min_size": 224, "max_size": 320}


def store_meta(detector: str, backbone: str = "efficientnet_lite0", k: int = 8, weights: str = "") -> dict:
    det = {"detector": detector, "params": {"k": k}}
    if weights:
        det["weights"] = weights
    return {"detector": det, "backbone": {"backbone": backbone, "params": {"min_size": 224}}}


def test_models_follow_the_stores_of_the_collection() -> None:
    frcnn = store_meta("fasterrcnn", "resnet18", k=20, weights="frcnn_art")
    proposals = store_meta("proposals", "resnet50", k=12)
    assert store_detector(frcnn) == "frcnn_art" and store_detector(proposals) == "proposals"
    assert store_detector({}) == ""
    # a store the configured detector made wins, even when it is not the newest
    assert meta_for_detector([frcnn, proposals], "proposals") is proposals
    # another detector's store: its backbone and k, the configured detector
    swapped = meta_for_detector([frcnn, proposals], "other_detector")
    assert swapped["backbone"] == frcnn["backbone"]
    assert swapped["detector"] == {"detector": "other_detector", "params": {"k": 20}}
    assert frcnn["detector"]["detector"] == "fasterrcnn"  # the store's meta is not changed
    assert meta_for_detector([], "proposals") is None  # a new collection: bundled backbone


def test_proposals_best_first_with_labels() -> None:
    regions = RegionSet("a.jpg", np.asarray([[1, 1, 10, 10], [5, 5, 50, 60]], np.float32),
                        np.asarray([0.2, 0.9], np.float32), ["region", "dog"],
                        np.zeros((2, 4), np.float16), np.zeros(4, np.float16))
    props = proposals_from(regions)
    assert [(p.box, p.phrase, p.source) for p in props] == [
        (Box(5, 5, 50, 60), "dog", "detector"), (Box(1, 1, 10, 10), "", "detector")]
    assert props[0].score == pytest.approx(0.9)


def test_messages_say_what_ran() -> None:
    used = {"detector": "proposals", "backbone": "efficientnet_lite0", "device": "cpu"}
    stored = DetectionResult(None, None, used)
    assert stored.single_message(12) == ("12 proposals (stored earlier, proposals on cpu): "
                                         "Enter accepts, Del rejects")
    assert stored.failure() == "no regions"
    run = DetectionResult(RunReport(total=4, processed=2, skipped=1, failed={"x": "truncated JPEG"},
                                    seconds=4.0), None, used)
    assert run.failure() == "truncated JPEG"
    assert run.collection_message() == ("Detection: 2 processed, 1 unchanged, 1 failed "
                                        "(0.50 images/s, proposals + efficientnet_lite0 on cpu)")


@pytest.fixture
def collection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, list[tuple[str, Path]]]:
    """Three small artworks and a store made by the proposals detector (k = 4, small sizes)."""
    monkeypatch.setenv("ARTANNOT_MODELS_DIR", str(tmp_path / "models"))  # nothing installed
    images = tmp_path / "images"
    images.mkdir()
    items = []
    for name in ("hokusai_great_wave.jpg", "exekias_neck_amphora.jpg", "rembrandt_night_watch.jpg"):
        im = Image.open(SAMPLE / name).convert("RGB")
        im.thumbnail((320, 320))
        im.save(images / name, quality=90)
        items.append((f"images/{name}", images / name))
    data_dir = tmp_path / "data"
    pipe = load_pipeline("proposals", device="cpu", k=4, **SIZES)
    with FeatureStore(pipe.store_dir(data_dir), dim=pipe.extractor.dim) as store:
        assert detect_collection(items, store, pipe.detector, pipe.extractor).processed == 3
    return data_dir, items


def test_session_reuses_the_store_and_its_models(collection) -> None:
    data_dir, items = collection
    session = DetectionSession(data_dir, detector="proposals", device="cpu")
    pipe = session.pipeline()
    assert session.pipeline() is pipe  # loaded once per session
    assert pipe.detector.identity()["params"]["k"] == 4  # the store's models, not the defaults

    stored = session.detect_artwork(*items[0])
    assert stored.report is None and len(stored.regions) == 4  # nothing recomputed
    assert stored.models == pipe.describe() and stored.models["device"] == "cpu"

    seen: list[tuple[int, int, str]] = []
    again = session.detect_collection(items, progress=lambda *a: seen.append(a))
    assert (again.report.processed, again.report.skipped, again.regions) == (0, 3, None)
    assert [s[:2] for s in seen] == [(1, 3), (2, 3), (3, 3)] * 2  # regions, then whole images
    assert again.wholes is not None and again.wholes.processed == 3
    assert "0 processed, 3 unchanged, 0 failed" in again.collection_message()
    assert "whole-image vectors: 3 computed, 0 unchanged" in again.collection_message()
    assert session.global_encoder() is session.global_encoder()  # loaded once per session
    once_more = session.detect_collection(items)
    assert (once_more.wholes.processed, once_more.wholes.skipped) == (0, 3)


def test_a_changed_image_is_detected_again(collection) -> None:
    data_dir, items = collection
    artwork_id, path = items[1]
    Image.open(path).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(path, quality=80)
    session = DetectionSession(data_dir, detector="proposals", device="cpu")
    result = session.detect_artwork(artwork_id, path)
    assert result.report is not None and result.report.processed == 1
    assert len(result.regions) == 4
    assert result.regions.features.flags.writeable  # a copy: the store's read-only maps are closed
    assert "detected in" in result.single_message(4)
    with FeatureStore(session.pipeline().store_dir(data_dir), readonly=True) as store:
        assert len(list((data_dir / "features").glob("*/index.sqlite"))) == 1  # the same store
        assert store.get(artwork_id).fingerprint == result.regions.fingerprint


def test_collection_of_one_stored_artwork_reports_a_run(collection) -> None:
    """A collection run never takes the single-artwork shortcut: it always has a report (a
    one-artwork collection used to come back without one, and the status line failed)."""
    data_dir, items = collection
    session = DetectionSession(data_dir, detector="proposals", device="cpu")
    result = session.detect_collection(items[:1])
    assert result.report is not None and result.report.skipped == 1
    assert result.collection_message().startswith("Detection: 0 processed, 1 unchanged")


def test_cancelled_run_keeps_what_finished(collection) -> None:
    data_dir, items = collection
    for _, path in items:  # all changed: all need detection again
        Image.open(path).rotate(180).save(path, quality=80)
    session = DetectionSession(data_dir, detector="proposals", device="cpu")
    done: list[str] = []
    result = session.detect_collection(items, progress=lambda d, t, aid: done.append(aid),
                                       should_stop=lambda: len(done) > 0)  # after one batch
    assert result.report.stopped and result.report.processed == 2  # batches of two
    todo = session.detect_collection(items)  # a second run resumes: only the third is left
    assert (todo.report.processed, todo.report.skipped) == (1, 2)
