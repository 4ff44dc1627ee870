"""``artannot detect --ray``: the same detection as :mod:`artannot.vision.runner`, on Ray Data.

For archives of millions of images one machine is too slow; Ray schedules the work (we write no
scheduler). The job is a Ray Data pipeline:

1. the driver plans with :func:`runner.plan_detection` (only missing or changed artworks are
   sent, so a rerun resumes) and refuses a store made by other models or on another device;
2. a read stage, pinned to the driver's node, reads each image's *bytes*: cluster nodes need no
   access to the collection folder (a curator's disk is rarely shared storage), and a JPEG
   crossing the network once costs far less than detecting it;
3. an actor pool (one model load per actor, one GPU per actor when the cluster has GPUs) decodes,
   detects and pools with :func:`runner.compute_regions`, the code a local run uses;
4. results stream back to the driver, which puts them into the collection's store; each flush
   writes one shard and indexes it under the store's inter-process writer lock, every
   ``flush_seconds`` and at the end, so Ctrl+C loses at most the last few seconds.

Every result carries the identity (models, weight hashes, settings, device) of the worker that
made it; one that differs from the driver's (a node with other weights installed) stops the job
before anything of it is stored. Ray is an optional extra (``pip install 'artannot[cluster]'``),
imported only here and only when used.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from artannot.core.errors import ClusterError, ImageError
from artannot.vision.feature_store import FeatureStore
from artannot.vision.runner import (
    Compute,
    ModelImage,
    RunReport,
    check_store_identity,
    compute_regions,
    compute_wholes,
    load_model_image_bytes,
    plan_detection,
    run_identity,
)

INSTALL_HINT = "pip install 'artannot[cluster]'"
READ_BLOCK = 16  # artworks per read task: bounds the bytes one task holds in memory
READ_CPUS = 0.25  # a read task mostly waits on the disk


def import_ray() -> Any:
    """The ``ray`` module, or a clear error saying how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401  (the extra is ray[data]; plain ray lacks it)
    except ImportError as exc:
        raise ClusterError(f"Ray is not installed ({exc.name or exc}); install it with "
                           f"{INSTALL_HINT}") from exc
    return ray


@contextmanager
def ray_session(address: str) -> Iterator[Any]:
    """Connected Ray: ``auto`` joins the cluster named by ``RAY_ADDRESS`` or one started on this
    machine with ``ray start``, else starts Ray here; anything else is a cluster address. A
    session the caller already opened (a notebook, the tests) is used and left open."""
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    try:
        ray.init(address=None if address == "auto" else address, logging_level=logging.WARNING)
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
        raise ClusterError(f"cannot connect to the Ray cluster at {address!r}: "
                           f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc
    try:
        yield ray
    finally:
        ray.shutdown()


@dataclass(frozen=True, slots=True)
class ClusterPlan:
    """How the job uses the cluster: the device its workers compute on and how many run."""

    device: str  # "cpu" or "cuda": what every worker's select_device is asked for
    workers: int
    gpus_per_worker: int
    summary: str


def plan_cluster(resources: dict[str, float], nodes: int, device: str | None) -> ClusterPlan:
    """One worker per GPU when the cluster has GPUs (and ``device`` allows them), else one per
    CPU less one for the read stage. Ray places the workers; we only size the pool."""
    cpus, gpus = int(resources.get("CPU", 0)), int(resources.get("GPU", 0))
    pref = (device or "auto").strip().lower()
    summary = f"Ray: {nodes} node(s), {cpus} CPU(s), {gpus} GPU(s)"
    if pref == "auto":
        pref = "cuda" if gpus else "cpu"
    kind = pref.split(":", 1)[0]
    if kind == "cuda":
        if not gpus:
            raise ClusterError(f"device {device!r} requested but the Ray cluster has no GPUs "
                               f"({summary})")
        return ClusterPlan("cuda", gpus, 1, summary)
    if kind != "cpu":
        raise ClusterError(f"device {device!r} is not available on a Ray cluster; use auto, cpu "
                           "or cuda")
    if cpus < 2:
        raise ClusterError(f"the Ray cluster needs at least 2 CPUs (one reads images, one "
                           f"detects); {summary}")
    return ClusterPlan("cpu", max(1, cpus - 1), 0, summary)


def _read_images(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Read stage (on the driver's node): attach each image's bytes; a missing or unreadable
    file is passed on as an error for that artwork, never a failed job."""
    data, errors = [], []
    for path in batch["path"]:
        try:
            data.append(Path(str(path)).read_bytes())
            errors.append("")
        except FileNotFoundError:
            data.append(b"")
            errors.append("image file is missing")
        except OSError as exc:
            data.append(b"")
            errors.append(f"image is unreadable: {exc.strerror or exc}")
    return {**batch, "data": np.array(data, dtype=object), "error": np.array(errors, dtype=object)}


def worker_models(identity: dict[str, Any], device: str) -> tuple[Compute, dict[str, Any]]:
    """The models a store's identity names, rebuilt on ``device``: what one batch computes
    (regions, or whole-image vectors for a whole-image store) and the identity they really
    have here."""
    if "global" in identity:  # vision.global_features.GlobalImageEncoder.identity()
        from artannot.vision.global_features import load_global_encoder

        encoder = load_global_encoder(identity["global"], device=device)
        return (lambda loaded: compute_wholes(loaded, encoder)), encoder.identity()
    from artannot.vision.pipeline import pipeline_for_store

    pipe = pipeline_for_store(identity, device=device)
    det, ext = pipe.detector, pipe.extractor
    return (lambda loaded: compute_regions(loaded, det, ext)), run_identity(det, ext)


class DetectWorker:
    """Ray actor: loads the models once (the driver's, rebuilt from its identity on this
    worker's device), then computes every batch it is given."""

    def __init__(self, identity: dict[str, Any], device: str) -> None:
        self.compute, real = worker_models(identity, device)
        self.identity = json.dumps(real, sort_keys=True)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        ids = [str(a) for a in batch["artwork_id"]]
        errors = [str(e) for e in batch["error"]]
        loaded: list[tuple[str, str, ModelImage]] = []
        for i, (artwork_id, fp, path, data) in enumerate(zip(ids, batch["fingerprint"],
                                                             batch["path"], batch["data"])):
            if errors[i]:
                continue
            try:
                loaded.append((artwork_id, str(fp), load_model_image_bytes(bytes(data), str(path))))
            except ImageError as exc:
                errors[i] = exc.message
        done = {r.artwork_id: r for r in self.compute(loaded)} if loaded else {}
        rows = [_encode(done.get(a)) for a in ids]
        return {"artwork_id": np.array(ids, dtype=object),
                "fingerprint": batch["fingerprint"],
                "error": np.array(errors, dtype=object),
                "identity": np.array([self.identity] * len(ids), dtype=object),
                "n": np.array([r["n"] for r in rows], np.int64),
                **{k: np.array([r[k] for r in rows], dtype=object) for k in _PAYLOAD}}


_PAYLOAD = ("boxes", "scores", "labels", "features", "whole")  # per-row bytes / JSON columns


def _encode(r: Any) -> dict[str, Any]:
    """One result as plain bytes columns (regions per artwork vary in number); float16 is what
    the store keeps, so nothing is lost by sending it."""
    if r is None:
        return {"n": 0, "boxes": b"", "scores": b"", "labels": "[]", "features": b"", "whole": b""}
    return {"n": len(r.boxes), "boxes": np.asarray(r.boxes, np.float32).tobytes(),
            "scores": np.asarray(r.scores, np.float32).tobytes(), "labels": json.dumps(r.labels),
            "features": np.asarray(r.features, np.float16).tobytes(),
            "whole": np.asarray(r.whole, np.float16).tobytes()}


def _put(store: FeatureStore, row: dict[str, Any], dim: int, identity: dict[str, Any]) -> None:
    n = int(row["n"])
    store.put(str(row["artwork_id"]), str(row["fingerprint"]),
              np.frombuffer(row["boxes"], np.float32).reshape(n, 4),
              np.frombuffer(row["scores"], np.float32), json.loads(row["labels"]),
              np.frombuffer(row["features"], np.float16).reshape(n, dim),
              np.frombuffer(row["whole"], np.float16), model=identity)


def detect_on_ray(
    items: Iterable[tuple[str, Path]],
    store: FeatureStore,
    identity: dict[str, Any],
    *,
    address: str = "auto",
    device: str | None = None,
    batch_size: int = 2,
    progress: Callable[[int, int, str], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_plan: Callable[[ClusterPlan], None] | None = None,
    flush_seconds: float = 20.0,
    force: bool = False,
) -> RunReport:
    """Detect the missing or changed artworks of ``items`` on Ray into ``store``.

    ``identity`` is :func:`runner.run_identity` of the models to use (loaded by the driver on
    any device), or a whole-image encoder's identity for its store; workers rebuild the
    models from it (:func:`worker_models`). Reports like :func:`runner.detect_collection`.
    """
    t0 = time.perf_counter()
    items = list(items)
    report = RunReport(total=len(items))
    todo, unchanged = plan_detection(items, store, force=force)
    report.skipped = len(unchanged)
    if progress:
        for i, artwork_id in enumerate(unchanged, 1):
            progress(i, report.total, artwork_id)
    if todo:  # nothing to do needs no cluster
        with ray_session(address) as ray:
            alive = [n for n in ray.nodes() if n.get("Alive")]
            plan = plan_cluster(ray.cluster_resources(), len(alive), device)
            if on_plan:
                on_plan(plan)
            expected = {**identity, "device": plan.device}
            check_store_identity(store, expected)
            store.set_meta(expected)
            results = _dataset(ray, todo, identity, plan, batch_size)
            _collect(results, store, expected, report, progress, should_stop, flush_seconds)
    report.seconds = time.perf_counter() - t0
    return report


def _dataset(ray: Any, todo: list[tuple[str, Path, str]], identity: dict[str, Any],
             plan: ClusterPlan, batch_size: int) -> Any:
    from ray.data import ActorPoolStrategy, DataContext

    ctx = DataContext.get_current()
    ctx.enable_progress_bars = False  # the caller shows progress (tqdm, the GUI)
    ctx.print_on_execution_start = False
    rows = [{"artwork_id": a, "path": str(p), "fingerprint": fp} for a, p, fp in todo]
    here = {"ray.io/node-id": ray.get_runtime_context().get_node_id()}
    ds = ray.data.from_items(rows, override_num_blocks=max(1, -(-len(rows) // READ_BLOCK)))
    # Reads run where the files are (this node's label). Reading is I/O, so a fraction of a CPU;
    # that also keeps Ray Data from fusing this stage into the workers' (fused, they would
    # inherit the pin to this node and the cluster would sit idle).
    ds = ds.map_batches(_read_images, batch_size=READ_BLOCK, batch_format="numpy",
                        label_selector=here, num_cpus=READ_CPUS)
    return ds.map_batches(
        DetectWorker, fn_constructor_kwargs={"identity": identity, "device": plan.device},
        batch_size=max(1, batch_size), batch_format="numpy", num_gpus=plan.gpus_per_worker,
        compute=ActorPoolStrategy(min_size=1, max_size=plan.workers))


def _collect(results: Any, store: FeatureStore, expected: dict[str, Any], report: RunReport,
             progress: Callable[[int, int, str], None] | None,
             should_stop: Callable[[], bool] | None, flush_seconds: float) -> None:
    """Driver side: store results as they stream in; stop cleanly on request or Ctrl+C."""
    from ray.exceptions import RayError

    want = json.dumps(expected, sort_keys=True)
    dim = int(expected["dim"])
    done = report.skipped
    last_flush = time.monotonic()
    try:
        for batch in results.iter_batches(batch_size=None, batch_format="numpy"):
            for i in range(len(batch["artwork_id"])):
                row = {k: v[i] for k, v in batch.items()}
                artwork_id = str(row["artwork_id"])
                if row["error"]:
                    report.failed[artwork_id] = str(row["error"])
                else:
                    if row["identity"] != want:
                        raise ClusterError(
                            "a Ray worker computed features with other models or on another "
                            f"device than expected ({_difference(want, row['identity'])}): "
                            "install the same artannot models on every node", store.path)
                    _put(store, row, dim, expected)
                    report.processed += 1
                done += 1
                if progress:
                    progress(done, report.total, artwork_id)
            if time.monotonic() - last_flush >= flush_seconds:
                store.flush()
                last_flush = time.monotonic()
            if should_stop is not None and should_stop():
                report.stopped = True
                break
    except KeyboardInterrupt:
        report.stopped = True
    except RayError as exc:
        raise ClusterError(f"the Ray job failed: {_first_line(exc)}") from exc
    finally:
        store.flush()


def _difference(want: str, got: str) -> str:
    a, b = json.loads(want), json.loads(got)
    keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    return "; ".join(f"{k}: {a.get(k)} here, {b.get(k)} there" for k in keys)


def _first_line(exc: BaseException) -> str:
    """The worker's own error out of Ray's wrapping (traceback, actor and task names): an
    artannot error as the user would see it locally, e.g. ``[E501] unknown backbone ...``."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    errs = [ln for ln in lines if "Error" in ln and ": " in ln]
    line = errs[-1] if errs else lines[0] if lines else type(exc).__name__
    name, _, rest = line.partition(": ")
    return rest if rest.startswith("[E") and name.startswith("artannot.") else line
