"""``artannot detect --ray``: Ray Data in local mode on 2 CPUs builds the store a plain run
builds, resumes (a rerun sends nothing), re-sends changed images and reports bad ones."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

from artannot.core.errors import ClusterError, ModelError
from artannot.vision import ray_detect
from artannot.vision.feature_store import FeatureStore
from artannot.vision.ray_detect import ClusterPlan, detect_on_ray, plan_cluster
from artannot.vision.runner import image_fingerprint

from .conftest import TEST_SIZES

SETTINGS = {"k": 4, **TEST_SIZES}


def _collection(root: Path, images: list[Path]) -> Path:
    root.mkdir()
    for p in images:
        shutil.copy2(p, root / p.name)
    return root


@pytest.fixture
def local_ray(isolated_dirs):
    """Ray's local mode on 2 CPUs, started after the folders are isolated (workers inherit the
    environment of the process that starts Ray)."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    yield ray
    ray.shutdown()


def _assert_same_stores(a: Path, b: Path, regions: bool = True) -> None:
    with FeatureStore(a, readonly=True) as sa, FeatureStore(b, readonly=True) as sb:
        assert sa.ids() == sb.ids() and len(sa) > 0
        assert sa.meta == sb.meta and sb.meta["device"] == "cpu"
        for artwork_id in sa.ids():
            ra, rb = sa.get(artwork_id), sb.get(artwork_id)
            assert (len(ra.boxes) > 0) == regions
            np.testing.assert_array_equal(ra.boxes, rb.boxes)
            np.testing.assert_array_equal(ra.scores, rb.scores)
            assert ra.labels == rb.labels and ra.fingerprint == rb.fingerprint
            np.testing.assert_allclose(ra.features.astype(np.float32), rb.features.astype(np.float32),
                                       rtol=1e-2, atol=1e-3)
            np.testing.assert_allclose(ra.whole_image_feature.astype(np.float32),
                                       rb.whole_image_feature.astype(np.float32), rtol=1e-2, atol=1e-3)


def test_ray_job_equals_plain_detect_and_resumes(local_ray, tmp_path: Path, small_images,
                                                 monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from artannot.cli.detect_cmd import run_detect
    from artannot.core.catalog import Catalog

    plain = _collection(tmp_path / "plain", small_images)
    on_ray = _collection(tmp_path / "on_ray", small_images)
    plain_dir, plain_report = run_detect(plain, device="cpu", **SETTINGS)
    assert plain_report.processed == len(small_images)

    sent: list[list[str]] = []
    real_dataset = ray_detect._dataset

    def spy(ray, todo, *args, **kwargs):
        sent.append(sorted(a for a, _, _ in todo))
        return real_dataset(ray, todo, *args, **kwargs)

    monkeypatch.setattr(ray_detect, "_dataset", spy)
    seen: list[tuple[int, int]] = []
    plans: list[ClusterPlan] = []
    ray_dir, report = run_detect(on_ray, ray="auto", progress=lambda d, t, _a: seen.append((d, t)),
                                 on_plan=plans.append, **SETTINGS)
    assert plans[0].device == "cpu" and plans[0].workers == 1  # 2 CPUs: one reads, one detects
    assert report.processed == len(small_images) and not report.failed and not report.stopped
    assert seen[-1] == (len(small_images), len(small_images))
    assert ray_dir.name == plain_dir.name
    _assert_same_stores(plain_dir, ray_dir)

    # a rerun sends nothing to the cluster
    _, again = run_detect(on_ray, ray="auto", **SETTINGS)
    assert again.skipped == len(small_images) and again.processed == 0 and len(sent) == 1

    # a changed image is re-sent (alone); a missing and an unreadable one are reported
    with Catalog.open(on_ray) as cat:
        items = [(a.id, Path(a.image_path)) for a in cat.artworks()]
    changed_id, changed_path = items[0]
    with FeatureStore(ray_dir, readonly=True) as store:
        before = np.array(store.get(changed_id).features, np.float32)
        identity = store.meta
    Image.open(changed_path).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(changed_path, quality=90)
    garbage = on_ray / "garbage.jpg"
    garbage.write_bytes(b"not an image at all")
    extra = [("ghost", on_ray / "ghost.jpg"), ("garbage", garbage)]
    with FeatureStore(ray_dir) as store:
        report = detect_on_ray(items + extra, store, identity, address="auto")
        assert sent[-1] == sorted([changed_id, "ghost", "garbage"])
        assert report.processed == 1 and report.skipped == len(items) - 1
        assert set(report.failed) == {"ghost", "garbage"} and "missing" in report.failed["ghost"]
        stored = store.get(changed_id)
        assert stored.fingerprint == image_fingerprint(changed_path)
        assert not np.allclose(np.asarray(stored.features, np.float32), before, atol=1e-3)
        assert "ghost" not in store and "garbage" not in store

    # a store computed on another device is refused before anything is sent
    with FeatureStore(tmp_path / "claims_cuda") as other:
        other.put("x", "1:1", np.array([[1, 1, 2, 2]], np.float32), np.ones(1), ["region"],
                  np.zeros((1, identity["dim"])), np.zeros(identity["dim"]))
        other.set_meta({**identity, "device": "cuda"})
        other.flush()
        calls = len(sent)
        with pytest.raises(ModelError, match="computed on cuda"):
            detect_on_ray(items, other, identity, address="auto")
        assert len(sent) == calls

    # a node without the models fails the job with the worker's own error; nothing is stored
    bad = {**identity, "backbone": {**identity["backbone"], "weights": "not_installed_here"}}
    with FeatureStore(tmp_path / "fails") as fails:
        with pytest.raises(ClusterError, match=r"job failed: \[E501\] unknown backbone 'not_inst"):
            detect_on_ray(items, fails, bad, address="auto")
        assert len(fails) == 0

    # images are read on this node by their own stage, not fused into the workers (which would
    # inherit the pin to this node)
    capsys.readouterr()
    real_dataset(local_ray, [("a", changed_path, "1")], identity, plans[0], 2).explain()
    out = capsys.readouterr().out
    assert "TaskPoolMapOperator[MapBatches(_read_images)]" in out
    assert "ActorPoolMapOperator[MapBatches(DetectWorker)]" in out


def test_ray_job_computes_whole_image_vectors_like_a_plain_run(local_ray, tmp_path: Path,
                                                               small_images) -> None:
    """`artannot detect --ray` also fills the whole-image store, through the same workers."""
    from artannot.cli.detect_cmd import run_whole_images

    plain = _collection(tmp_path / "plain", small_images)
    on_ray = _collection(tmp_path / "on_ray", small_images)
    plain_dir, plain_report = run_whole_images(plain, device="cpu")
    plans: list[ClusterPlan] = []
    ray_dir, report = run_whole_images(on_ray, ray="auto", on_plan=plans.append)
    assert plans and plans[0].device == "cpu"
    assert report.processed == plain_report.processed == len(small_images) and not report.failed
    assert ray_dir.name == plain_dir.name  # the same encoder, so the same store key
    _assert_same_stores(plain_dir, ray_dir, regions=False)
    _, again = run_whole_images(on_ray, ray="auto")
    assert again.skipped == len(small_images) and again.processed == 0


def test_cluster_plan_sizes_the_pool_by_gpus_then_cpus() -> None:
    gpu = plan_cluster({"CPU": 32, "GPU": 4}, 2, None)
    assert (gpu.device, gpu.workers, gpu.gpus_per_worker) == ("cuda", 4, 1)
    assert plan_cluster({"CPU": 32, "GPU": 4}, 2, "cuda:1").device == "cuda"
    cpu = plan_cluster({"CPU": 32, "GPU": 4}, 2, "cpu")
    assert (cpu.device, cpu.workers, cpu.gpus_per_worker) == ("cpu", 31, 0)
    assert plan_cluster({"CPU": 8}, 1, "auto").device == "cpu"
    with pytest.raises(ClusterError, match="no GPUs"):
        plan_cluster({"CPU": 8}, 1, "cuda")
    with pytest.raises(ClusterError, match="at least 2 CPUs"):
        plan_cluster({"CPU": 1}, 1, None)
    with pytest.raises(ClusterError, match="not available on a Ray cluster"):
        plan_cluster({"CPU": 8}, 1, "mps")


def test_missing_ray_is_a_clear_error(isolated_dirs, tmp_path: Path, small_images,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from artannot.cli.detect_cmd import register

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(ClusterError, match=r"artannot\[cluster\]"):
        ray_detect.import_ray()
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:
        pass

    folder = _collection(tmp_path / "col", small_images[:1])
    res = CliRunner().invoke(app, ["detect", str(folder), "--ray", "auto"])
    assert res.exit_code == 1 and "artannot[cluster]" in res.output
    assert not list(isolated_dirs["data"].rglob("index.sqlite"))  # nothing started, nothing written


class _Results:
    """Stands in for the Ray dataset: the batches workers would stream back."""

    def __init__(self, batches: list[dict[str, np.ndarray]]) -> None:
        self.batches = batches

    def iter_batches(self, **_kwargs):
        return iter(self.batches)


def _worker_batch(artwork_id: str, identity: dict, dim: int) -> dict[str, np.ndarray]:
    import json

    from artannot.vision.runner import ArtworkRegions

    r = ArtworkRegions(artwork_id, "1:1", np.array([[1, 1, 5, 5]], np.float32), np.ones(1, np.float32),
                       ["region"], np.full((1, dim), 0.5, np.float32), np.full(dim, 0.25, np.float32))
    row = ray_detect._encode(r)
    cols = {"artwork_id": artwork_id, "fingerprint": "1:1", "error": "",
            "identity": json.dumps(identity, sort_keys=True), **row}
    return {k: np.array([v], dtype=np.int64 if k == "n" else object) for k, v in cols.items()}


def test_results_of_a_worker_with_other_models_are_refused(tmp_path: Path) -> None:
    from artannot.vision.runner import RunReport

    dim = 8
    expected = {"detector": {"detector": "proposals"}, "backbone": {"sha256": "aaaa"}, "dim": dim,
                "device": "cpu"}
    elsewhere = {**expected, "backbone": {"sha256": "bbbb"}}
    results = _Results([_worker_batch("good", expected, dim), _worker_batch("bad", elsewhere, dim)])
    report = RunReport(total=2)
    with FeatureStore(tmp_path / "fs") as store:
        with pytest.raises(ClusterError, match="other models.*backbone.*aaaa.*bbbb"):
            ray_detect._collect(results, store, expected, report, None, None, 20.0)
        assert store.ids() == ["good"] and "bad" not in store  # only the matching worker's row
        got = store.get("good")
        np.testing.assert_array_equal(got.boxes, [[1, 1, 5, 5]])
        assert got.features.shape == (1, dim) and float(got.features[0, 0]) == 0.5
        assert got.model == expected
