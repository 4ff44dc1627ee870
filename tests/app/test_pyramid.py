"""Display pyramid: downscaled decodes for the first frame, full resolution when zoomed in."""

from __future__ import annotations

from PIL import Image

from artannot.app.pyramid import decode_level, preview_factor, read_info, to_qimage


def test_levels(tmp_path):
    path = tmp_path / "big.jpg"
    Image.new("RGB", (3000, 1000), (200, 100, 50)).save(path)
    assert read_info(path).width == 3000
    assert preview_factor(3000, 1000) == 2 and preview_factor(800, 600) == 1
    assert preview_factor(5472, 3648) == 4
    assert decode_level(path, 2).size == (1500, 500)
    png = tmp_path / "big.png"
    Image.new("L", (3000, 1000), 7).save(png)
    level = decode_level(png, 4)
    assert level.size == (750, 250) and level.mode == "RGB"
    q = to_qimage(decode_level(path, 8))
    assert (q.width(), q.height()) == (375, 125)
    assert q.pixelColor(10, 10).red() in range(195, 206)


def test_canvas_loads_full_resolution_when_zoomed_in(qtbot, tmp_path):
    from artannot.app.canvas import AnnotationCanvas

    path = tmp_path / "big.jpg"
    Image.new("RGB", (4200, 2800), (10, 20, 30)).save(path)
    canvas = AnnotationCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(600, 400)
    canvas.show()
    with qtbot.waitSignal(canvas.imageLoaded, timeout=10_000) as blocker:
        canvas.set_image(path)
    assert blocker.args == [4]  # preview level first
    assert canvas.sceneRect().width() == 4200
    with qtbot.waitSignal(canvas.imageLoaded, timeout=20_000) as blocker:
        canvas.zoom_100()
    assert blocker.args == [1] and canvas.shown_factor() == 1
    canvas.fit_window()  # back to the cheap level, full one stays cached
    assert canvas.shown_factor() == 4


def test_prefetch_fills_cache_and_open_is_immediate(qtbot, tmp_path):
    from artannot.app.canvas import AnnotationCanvas
    from artannot.app.pyramid import PREVIEW_CACHE, PreviewCache

    path = tmp_path / "next.jpg"
    Image.new("RGB", (4200, 2800), (10, 20, 30)).save(path)
    PREVIEW_CACHE.clear()
    canvas = AnnotationCanvas()
    qtbot.addWidget(canvas)
    canvas.loader().prefetch(path)
    qtbot.waitUntil(lambda: PREVIEW_CACHE.get(PreviewCache.key(path, 4)) is not None, timeout=10_000)
    shown: list[int] = []
    canvas.imageLoaded.connect(shown.append)
    canvas.set_image(path)
    assert shown == [4]  # from the cache, synchronously


def test_preview_cache_evicts_least_recently_used_by_bytes():
    from PySide6.QtGui import QImage

    from artannot.app.pyramid import PreviewCache

    def level(side: int) -> QImage:
        return QImage(side, side, QImage.Format.Format_RGB32)  # side * side * 4 bytes

    cache = PreviewCache(max_bytes=3 * 100 * 100 * 4)
    for name in "abc":
        cache.put((name,), level(100))
    assert cache.get(("a",)) is not None  # "a" is now the most recently used
    cache.put(("d",), level(100))
    assert cache.get(("b",)) is None  # the least recently used went
    assert all(cache.get((n,)) is not None for n in "acd")
    cache.put(("e",), level(141))  # about two levels' worth: two more go
    assert [n for n in "acde" if cache.get((n,)) is not None] == ["d", "e"]
    assert cache.size_in_bytes() <= cache.max_bytes
    cache.put(("huge",), level(200))  # larger than the whole budget: not cached, nothing lost
    assert cache.get(("huge",)) is None
    assert cache.get(("d",)) is not None and cache.get(("e",)) is not None
    cache.put(None, level(10))  # no key (unreadable file): ignored
    cache.clear()
    assert cache.size_in_bytes() == 0 and cache.get(("d",)) is None
