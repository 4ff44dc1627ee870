"""Display pyramid: cheap downscaled decodes for viewing, full resolution only on demand.

A 40-megapixel artwork photo is 160 MB as a pixmap and painting it scaled down on every
frame is slow.  The canvas therefore shows a *level*: the image decoded at 1/2, 1/4 or 1/8
of its size (JPEG decodes at those scales almost for free through ``Image.draft``), and asks
for the full-resolution level only when the user zooms in past it.  All decoding runs on a
QThreadPool; results come back as ``QImage`` (safe to build off the GUI thread) through a
queued signal, tagged with a token so a late result for a previous image is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QImage

from artannot.core.errors import ImageError

# Longest side of the preview level: about a 2K screen; past this the full image is loaded.
PREVIEW_TARGET = 2048
MAX_PIXELS = 400_000_000  # refuse decompression bombs, but allow very large museum scans

Image.MAX_IMAGE_PIXELS = MAX_PIXELS


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
    """Decode ``path`` reduced by ``factor`` (1 = full resolution), as an RGB image.

    JPEG uses the DCT-domain scaling of ``draft`` (1/2, 1/4, 1/8), which is several times
    faster than a full decode; anything left over is done with ``reduce``.
    """
    try:
        with Image.open(path) as im:
            width, height = im.size
            if factor > 1 and im.format == "JPEG":
                mode = "RGB" if im.mode not in ("L", "RGB") else im.mode
                im.draft(mode, (max(1, width // factor), max(1, height // factor)))
            im.load()
            out = im if im.mode in ("RGB", "RGBA", "L") else im.convert("RGB")
            if out.mode != "RGB":
                out = out.convert("RGB")
            achieved = max(1, round(width / out.width))
            rest = factor // achieved
            if rest > 1:
                out = out.reduce(rest)
            return out
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageError(str(exc), path) from exc


def to_qimage(im: Image.Image) -> QImage:
    """RGB PIL image -> QImage in the native 32-bit format (no conversion when painted)."""
    data = im.tobytes("raw", "BGRX")  # little-endian 0xffRRGGBB == Format_RGB32
    qimg = QImage(data, im.width, im.height, im.width * 4, QImage.Format.Format_RGB32)
    return qimg.copy()  # detach from the Python buffer before it goes away


class _Signals(QObject):
    done = Signal(int, int, QImage)  # token, factor, image
    failed = Signal(int, str)


class _DecodeTask(QRunnable):
    def __init__(self, signals: _Signals, token: int, path: Path, factor: int) -> None:
        super().__init__()
        self._signals, self._token, self._path, self._factor = signals, token, path, factor

    def run(self) -> None:  # worker thread: no widgets here
        try:
            qimg = to_qimage(decode_level(self._path, self._factor))
        except Exception as exc:  # noqa: BLE001 - reported to the GUI, never lost
            self._signals.failed.emit(self._token, str(exc))
            return
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
        self._pool.start(_DecodeTask(self._signals, self._token, self._path, factor))

    def is_requested(self, factor: int) -> bool:
        return factor in self._requested

    def wait_idle(self, msecs: int = 30_000) -> bool:
        """For tests and shutdown: block until queued decodes finished."""
        return self._pool.waitForDone(msecs)

    def _on_done(self, token: int, factor: int, image: QImage) -> None:
        if token == self._token:
            self.levelReady.emit(factor, image)

    def _on_failed(self, token: int, message: str) -> None:
        if token == self._token:
            self.loadFailed.emit(message)
