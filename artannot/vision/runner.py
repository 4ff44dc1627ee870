"""Batch detection over a collection: resumable, incremental, tolerant of bad images.

Plain Python, no Qt: the CLI calls it with a tqdm callback, the GUI worker with signals.
Results are flushed to the store every few seconds and on stop, so an interrupted run
(Ctrl+C, ``should_stop``, even a kill) resumes where it stopped; artworks whose image did
not change (size + mtime_ns) since they were stored are skipped.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from artannot.core.collection import MAX_IMAGE_PIXELS, decode_reduced, reduction_for
from artannot.core.errors import ImageError, ModelError
from artannot.vision.detect import Detector
from artannot.vision.feature_store import FeatureStore, edges_to_voc
from artannot.vision.features import RegionFeatureExtractor

MAX_PIXELS = 200_000_000  # a full-resolution decode beyond this would exhaust memory
# Model inputs: images over REDUCE_ABOVE pixels are decoded at a power-of-two reduction that keeps
# the longer side >= MODEL_SIDE (the models work at <= 1000 px), up to the app's bomb limit.
REDUCE_ABOVE = 50_000_000
MODEL_SIDE = 3000


@dataclass(frozen=True, slots=True)
class ModelImage:
    """Pixels for the detector/backbone and their scale against the stored pixel grid, in which
    every box of the store and the VOC files is written."""

    pixels: np.ndarray
    sx: float = 1.0
    sy: float = 1.0

    def to_model(self, edges: np.ndarray) -> np.ndarray:
        """0-based edges on the stored grid -> on :attr:`pixels`."""
        return np.asarray(edges, np.float32) * self._scale()

    def to_stored(self, edges: np.ndarray) -> np.ndarray:
        return np.asarray(edges, np.float32) / self._scale()

    def pool(self, extractor: RegionFeatureExtractor, edges: np.ndarray) -> np.ndarray:
        """Features [n, d] of boxes given as 0-based edges on the stored grid."""
        feats, _ = extractor.extract([self.pixels], [self.to_model(edges)])[0]
        return feats

    def _scale(self) -> np.ndarray:
        return np.array([self.sx, self.sy, self.sx, self.sy], np.float32)


@dataclass(slots=True)
class RunReport:
    total: int = 0
    processed: int = 0
    skipped: int = 0  # unchanged since stored
    failed: dict[str, str] = field(default_factory=dict)  # artwork id -> message
    stopped: bool = False
    seconds: float = 0.0

    @property
    def images_per_second(self) -> float:
        return self.processed / self.seconds if self.seconds > 0 else 0.0


def image_fingerprint(path: Path) -> str:
    """Cheap change detector: size and mtime in ns (hashing 100k JPEGs would take minutes)."""
    st = Path(path).stat()
    return f"{st.st_size}:{st.st_mtime_ns}"


def load_rgb(path: Path) -> np.ndarray:
    """Decode fully (a truncated JPEG raises here, not later) into an RGB uint8 array.

    EXIF orientation is *not* applied: box coordinates refer to the stored pixel grid, as
    LabelImg and the VOC files do.
    """
    return _decode(Path(path), reduce=False).pixels


def load_model_image(path: Path) -> ModelImage:
    """Like :func:`load_rgb`, but a huge scan (a 300 MP museum TIFF) is decoded reduced, with
    JPEG's DCT scaling where it can: a 20000x12000 image then takes ~45 MB instead of 720 MB
    (and 2.9 GB as the models' float tensor). Images up to 50 MP come back untouched."""
    return _decode(Path(path), reduce=True)


def load_model_image_bytes(data: bytes, path: Path | str) -> ModelImage:
    """:func:`load_model_image` of an image file's bytes (sent to a cluster worker that cannot
    read the collection); ``path`` only names the image in errors."""
    return _decode(Path(path), reduce=True, source=io.BytesIO(data))


def _decode(path: Path, *, reduce: bool, source: BinaryIO | None = None) -> ModelImage:
    try:
        with Image.open(source if source is not None else path) as im:
            width, height = im.size
            limit = MAX_IMAGE_PIXELS if reduce else MAX_PIXELS
            if width * height > limit:
                raise ImageError(f"image too large ({width}x{height})", path)
            big = reduce and width * height > REDUCE_ABOVE
            factor = reduction_for(width, height, MODEL_SIDE) if big else 1
            arr = np.array(decode_reduced(im, factor))  # writable: torch.from_numpy needs that
    except FileNotFoundError as exc:
        raise ImageError("image file is missing", path) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageError(f"image is unreadable or truncated: {exc}", path) from exc
    if arr.shape[0] < 2 or arr.shape[1] < 2:
        raise ImageError(f"image is too small ({arr.shape[1]}x{arr.shape[0]})", path)
    return ModelImage(arr, arr.shape[1] / width, arr.shape[0] / height)


def run_identity(detector: Detector, extractor: RegionFeatureExtractor) -> dict[str, Any]:
    """What produced these features; stored as the store's meta and with every artwork.

    The device type is part of it: CUDA runs the backbone in half precision, so GPU and CPU
    features of one image differ slightly and must never share a store unnoticed."""
    return {"detector": detector.identity(), "backbone": extractor.identity(), "dim": extractor.dim,
            "device": torch.device(extractor.device).type}


def stored_identity(meta: dict[str, Any]) -> dict[str, Any]:
    """A store's recorded identity; stores written before the device was recorded are CPU ones
    (artannot ran detection on the CPU only then)."""
    return {**meta, "device": meta.get("device", "cpu")} if meta else {}


def check_store_identity(store: FeatureStore, identity: dict[str, Any]) -> None:
    """Refuse to add features made by other models, settings or another device to ``store``:
    mixing them would make every comparison across artworks silently wrong."""
    existing = stored_identity(store.meta)
    if not existing or not len(store) or existing == identity:
        return
    if {**existing, "device": identity["device"]} == identity:
        old, new = existing["device"], identity["device"]
        raise ModelError(f"this feature store holds features computed on {old}, and this run "
                         f"would compute them on {new} ({old} and {new} features differ slightly "
                         f"and are never mixed): run with --device {old}, or delete this folder "
                         f"to recompute every artwork on {new}", store.path)
    raise ModelError("this feature store was made by other models or settings "
                     f"({existing.get('detector', {}).get('detector')} / "
                     f"{existing.get('backbone', {}).get('backbone')}, "
                     f"{existing.get('detector', {}).get('params')}); use another folder",
                     store.path)


def plan_detection(items: Iterable[tuple[str, Path]], store: FeatureStore, *,
                   force: bool = False) -> tuple[list[tuple[str, Path, str]], list[str]]:
    """``(todo, unchanged)``: the ``(artwork_id, path, fingerprint)`` whose features are missing
    or stale (image changed since stored), and the ids already stored for this exact image.
    The one definition of "what needs detection", for local runs and cluster jobs alike."""
    todo: list[tuple[str, Path, str]] = []
    unchanged: list[str] = []
    for artwork_id, path in items:
        try:
            fp = image_fingerprint(Path(path))
        except OSError:
            fp = ""  # missing: reported when loaded
        if fp and not force and store.has(artwork_id, fp):
            unchanged.append(artwork_id)
        else:
            todo.append((artwork_id, Path(path), fp))
    return todo, unchanged


Compute = Callable[[Sequence[tuple[str, str, "ModelImage"]]], list["ArtworkRegions"]]


def detect_collection(items: Iterable[tuple[str, Path]], store: FeatureStore, detector: Detector,
                      extractor: RegionFeatureExtractor, **options: Any) -> RunReport:
    """Detect regions and pool features for every ``(artwork_id, image_path)``; ``options``
    as :func:`run_collection` (batch size, progress, should_stop, flush interval, force)."""
    return run_collection(items, store, run_identity(detector, extractor),
                          lambda loaded: compute_regions(loaded, detector, extractor), **options)


def encode_collection(items: Iterable[tuple[str, Path]], store: FeatureStore, encoder: Any,
                      **options: Any) -> RunReport:
    """Whole-image vectors of a :class:`~artannot.vision.global_features.GlobalImageEncoder`
    for every artwork, into a store of their own (no regions); resumable like detection."""
    return run_collection(items, store, encoder.identity(),
                          lambda loaded: compute_wholes(loaded, encoder), **options)


def encode_into_collection(items: Iterable[tuple[str, Path]], data_dir: Path, encoder: Any,
                           **options: Any) -> tuple[Path, RunReport]:
    """:func:`encode_collection` into the collection's own whole-image store (created on first
    use); returns ``(store_dir, report)``."""
    store_dir = encoder.store_dir(data_dir)
    with FeatureStore(store_dir, dim=encoder.dim) as store:
        return store_dir, encode_collection(items, store, encoder, **options)


def run_collection(
    items: Iterable[tuple[str, Path]],
    store: FeatureStore,
    identity: dict[str, Any],
    compute: Compute,
    *,
    batch_size: int = 4,
    progress: Callable[[int, int, str], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    flush_seconds: float = 20.0,
    force: bool = False,
) -> RunReport:
    """The loop behind :func:`detect_collection` and :func:`encode_collection`: skip what is
    stored for the same image, load in batches, ``compute``, flush every few seconds.

    ``progress(done, total, artwork_id)`` is called once per artwork (skipped ones too).
    ``should_stop()`` is polled between batches; the run then flushes and returns with
    ``stopped=True``.  A store made by other models is refused (mixing features would be
    silently wrong); ``force`` recomputes artworks even if unchanged.
    """
    t0 = time.perf_counter()
    items = list(items)
    report = RunReport(total=len(items))
    check_store_identity(store, identity)
    store.set_meta(identity)
    todo, unchanged = plan_detection(items, store, force=force)
    report.skipped = done = len(unchanged)
    if progress:
        for i, artwork_id in enumerate(unchanged, 1):
            progress(i, report.total, artwork_id)

    last_flush = time.monotonic()
    try:
        for start in range(0, len(todo), max(1, batch_size)):
            if should_stop is not None and should_stop():
                report.stopped = True
                break
            batch = todo[start: start + batch_size]
            loaded: list[tuple[str, str, ModelImage]] = []
            for artwork_id, path, fp in batch:
                try:
                    loaded.append((artwork_id, fp, load_model_image(path)))
                except ImageError as exc:
                    report.failed[artwork_id] = exc.message
                    done += 1
                    if progress:
                        progress(done, report.total, artwork_id)
            for r in compute(loaded) if loaded else []:
                store.put(r.artwork_id, r.fingerprint, r.boxes, r.scores, r.labels, r.features,
                          r.whole, model=identity)
            for artwork_id, _, _ in loaded:
                report.processed += 1
                done += 1
                if progress:
                    progress(done, report.total, artwork_id)
            if time.monotonic() - last_flush >= flush_seconds:
                store.flush()
                last_flush = time.monotonic()
    except KeyboardInterrupt:
        report.stopped = True
    finally:
        store.flush()
        report.seconds = time.perf_counter() - t0
    return report


@dataclass(frozen=True, slots=True)
class ArtworkRegions:
    """One artwork's detection result, ready for :meth:`FeatureStore.put`."""

    artwork_id: str
    fingerprint: str
    boxes: np.ndarray  # [n, 4] VOC convention, on the stored pixel grid
    scores: np.ndarray
    labels: list[str]
    features: np.ndarray  # [n, dim]
    whole: np.ndarray  # [dim]


def compute_regions(loaded: Sequence[tuple[str, str, ModelImage]], detector: Detector,
                    extractor: RegionFeatureExtractor) -> list[ArtworkRegions]:
    """Detect and pool one batch of ``(artwork_id, fingerprint, image)``: the model work shared
    by local runs and cluster workers, so both store the same thing."""
    images = [im.pixels for _, _, im in loaded]
    detections = detector.detect(images)
    feats = extractor.extract(images, [d.boxes for d in detections])
    # torchvision/OpenCV give 0-based edges; the store speaks VOC (the one boundary).
    return [ArtworkRegions(artwork_id, fp, edges_to_voc(im.to_stored(det.boxes)),
                           np.asarray(det.scores, np.float32), [str(x) for x in det.labels],
                           np.asarray(regions), np.asarray(whole))
            for (artwork_id, fp, im), det, (regions, whole) in zip(loaded, detections, feats)]


def compute_wholes(loaded: Sequence[tuple[str, str, ModelImage]], encoder: Any) -> list[ArtworkRegions]:
    """Whole-image vectors of one batch, as region-less entries of a store."""
    vectors = encoder.encode([im.pixels for _, _, im in loaded])
    return [ArtworkRegions(artwork_id, fp, np.zeros((0, 4), np.float32), np.zeros(0, np.float32),
                           [], np.zeros((0, len(v)), np.float32), v)
            for (artwork_id, fp, _), v in zip(loaded, vectors)]
