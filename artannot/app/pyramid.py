"""Display pyramid: cheap downscaled decodes for viewing, full resolution only on demand.

A 40-megapixel artwork photo is 160 MB as a pixmap and painting it scaled down on every
frame is slow.  The canvas therefore shows a *level*: the image decoded at 1/2, 1/4 or 1/8
of its size (JPEG decodes at those scales almost for free through ``Image.draft``), and asks
for the full-resolution level only when the user zooms in past it.  All decoding runs on a
QThreadPool; results come back as ``QImage`` (safe to build off the GUI thread) through a
queued signal, tagged with a token so a late result for a previous image is ignored.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

from cachetools import LRUCache
from PIL import Image
from PySide6.QtCore import QObject, QThreadPool, Signal
from PySide6.QtGui import QImage

from artannot.core.collection import decode_reduced  # also sets PIL's decompression-bomb limit
from artannot.core.errors import ImageError

# Longest side of the preview level: about a 2K screen; past this the full image is loaded.
PREVIEW_TARGET = 2048


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What the header says; read synchronously (milliseconds) so boxes can be shown at once."""

    path: Path
    width: int
    height: int
    format: str | None


def read_info(path: Path) -> ImageInfo:
    """Image size without decoding pixels."""
    try:
        with Image.open(path) as im:
            return ImageInfo(Path(path), im.width, im.height, im.format)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageError(str(exc), path) from exc


def preview_factor(width: int, height: int, target: int = PREVIEW_TARGET) -> int:
    """The power-of-two reduction that brings the longest side to at most ``target``."""
    factor = 1
    while max(width, height) / factor > target and factor < 64:
        factor *= 2
    return factor


def decode_level(path: Path, factor: int) -> Image.Image:
    """Decode ``path`` reduced by ``factor`` (1 = full resolution), as an RGB image, through
    the one reduced-image decoder (:func:`artannot.core.collection.decode_reduced`: JPEG's
    DCT-domain ``draft`` scaling, ``reduce`` for the rest)."""
    try:
        with Image.open(path) as im:
            return decode_reduced(im, factor)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageError(str(exc), path) from exc


def to_qimage(im: Image.Image) -> QImage:
    """RGB PIL image -> QImage in the native 32-bit format (no conversion when painted)."""
    data = im.tobytes("raw", "BGRX")  # little-endian 0xffRRGGBB == Format_RGB32
    qimg = QImage(data, im.width, im.height, im.width * 4, QImage.Format.Format_RGB32)
    return qimg.copy()  # detach from the Python buffer before it goes away


class PreviewCache:
    """Small LRU of decoded preview levels, shared by all loaders (thread-safe).

    Curators go back and forth between artworks (A/D): a revisit, or an artwork the main
    window prefetched, shows at once instead of paying the JPEG entropy decode again.
    Full-resolution levels are never cached (80+ MB each), nor is a level larger than the
    whole budget (it would push out everything else and still be over it).
    """

    def __init__(self, max_bytes: int = 160_000_000) -> None:
        self._items: LRUCache[tuple, QImage] = LRUCache(maxsize=max_bytes,
                                                        getsizeof=QImage.sizeInBytes)
        self._lock = threading.Lock()  # loaders on the thread pool share it

    @property
    def max_bytes(self) -> int:
        return int(self._items.maxsize)

    def size_in_bytes(self) -> int:
        """Bytes of the cached levels (never over :attr:`max_bytes`)."""
        with self._lock:
            return int(self._items.currsize)

    @staticmethod
    def key(path: Path, factor: int) -> tuple | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        return (str(path), st.st_mtime_ns, st.st_size, factor)

    def get(self, key: tuple | None) -> QImage | None:
        if key is None:
            return None
        with self._lock:
            return self._items.get(key)

    def put(self, key: tuple | None, image: QImage) -> None:
        if key is None:
            return
        if image.sizeInBytes() > self.max_bytes:
            return
        with self._lock:
            self._items[key] = image

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


PREVIEW_CACHE = PreviewCache()


def load_level(path: Path, factor: int) -> QImage:
    """Decoded level as a QImage, from the preview cache when possible (any thread)."""
    key = PreviewCache.key(path, factor) if factor > 1 else None
    cached = PREVIEW_CACHE.get(key)
    if cached is not None:
        return cached
    image = to_qimage(decode_level(path, factor))
    if key is not None:
        PREVIEW_CACHE.put(key, image)
    return image


class _Signals(QObject):
    done = Signal(int, int, QImage)  # token, factor, image
    failed = Signal(int, str)


class _DecodeTask:
    """One decode, run on the pool as a plain callable.

    Not a QRunnable subclass: with auto-deletion, Qt deletes the C++ runnable behind Python's
    back and the interpreter aborted at exit ("bool_dealloc", a refcount error).
    """

    def __init__(self, signals: _Signals | None, token: int, path: Path, factor: int) -> None:
        self._signals, self._token, self._path, self._factor = signals, token, path, factor

    def run(self) -> None:  # worker thread: no widgets here
        try:
            qimg = load_level(self._path, self._factor)
        except Exception as exc:  # noqa: BLE001 - reported to the GUI, never lost
            if self._signals is not None:
                self._signals.failed.emit(self._token, str(exc))
            return
        if self._signals is not None:  # None: a prefetch, only fills the cache
            self._signals.done.emit(self._token, self._factor, qimg)


class PyramidLoader(QObject):
    """Decodes pyramid levels of the current image in the background.

    ``levelReady(factor, image)`` is emitted on the GUI thread, only for the current image.
    """

    levelReady = Signal(int, QImage)
    loadFailed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(2)
        self._signals = _Signals(self)
        self._signals.done.connect(self._on_done)
        self._signals.failed.connect(self._on_failed)
        self._token = 0
        self._path: Path | None = None
        self._requested: set[int] = set()

    def open(self, path: Path, factor: int) -> None:
        """Forget the previous image and start decoding ``path`` at ``factor``."""
        self._token += 1
        self._path = Path(path)
        self._requested = set()
        self.request(factor)

    def clear(self) -> None:
        self._token += 1
        self._path = None
        self._requested = set()

    def request(self, factor: int) -> None:
        """Decode another level of the current image, once."""
        if self._path is None or factor in self._requested:
            return
        self._requested.add(factor)
        cached = PREVIEW_CACHE.get(PreviewCache.key(self._path, factor)) if factor > 1 else None
        if cached is not None:  # revisit or prefetched: show now, no thread round trip
            self.levelReady.emit(factor, cached)
            return
        self._pool.start(_DecodeTask(self._signals, self._token, self._path, factor).run)

    def prefetch(self, path: Path) -> None:
        """Decode the preview level of ``path`` into the cache (e.g. the next artwork)."""
        try:
            info = read_info(path)
        except ImageError:
            return
        factor = preview_factor(info.width, info.height)
        if factor > 1 and PREVIEW_CACHE.get(PreviewCache.key(info.path, factor)) is None:
            self._pool.start(_DecodeTask(None, -1, info.path, factor).run, -1)  # low priority

    def wait_idle(self, msecs: int = 30_000) -> bool:
        """For tests and shutdown: block until queued decodes finished."""
        return self._pool.waitForDone(msecs)

    def _on_done(self, token: int, factor: int, image: QImage) -> None:
        if token == self._token:
            self.levelReady.emit(factor, image)

    def _on_failed(self, token: int, message: str) -> None:
        if token == self._token:
            self.loadFailed.emit(message)
