"""Time to first displayed frame when opening a 20-megapixel JPEG in the annotation editor.

    QT_QPA_PLATFORM=offscreen python bench/bench_open_image.py [--width 5472 --height 3648]

Generates a noise + gradient JPEG (noise defeats JPEG's cheap paths, like a real photo),
then measures, in a fresh editor: ``set_annotation`` -> preview level decoded -> painted.
Also reports the full-resolution decode that zooming past the preview triggers.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def make_jpeg(path: Path, width: int, height: int) -> None:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    gx = np.linspace(0, 200, width, dtype=np.float32)[None, :, None]
    gy = np.linspace(0, 55, height, dtype=np.float32)[:, None, None]
    noise = rng.integers(0, 40, size=(height, width, 3), dtype=np.uint8)
    arr = (gx + gy + noise).clip(0, 255).astype(np.uint8)
    Image.fromarray(arr, "RGB").save(path, quality=90)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, default=5472)
    ap.add_argument("--height", type=int, default=3648)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)

    from PySide6.QtCore import QEvent, QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from artannot.app.editor import AnnotationEditor
    from artannot.app.pyramid import PREVIEW_CACHE
    from artannot.core.model import Annotation

    app = QApplication.instance() or QApplication(sys.argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench_20mp.jpg"
        t = time.perf_counter()
        make_jpeg(path, args.width, args.height)
        mp = args.width * args.height / 1e6
        print(f"generated {args.width}x{args.height} ({mp:.1f} MP, "
              f"{path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - t:.2f} s")

        firsts, fulls, warms = [], [], []
        for _ in range(args.repeat):
            PREVIEW_CACHE.clear()  # cold open: nothing decoded before
            editor = AnnotationEditor()
            editor.resize(1400, 900)
            editor.show()
            app.processEvents()
            canvas = editor.canvas()
            loop = QEventLoop()
            canvas.imageLoaded.connect(loop.quit)
            QTimer.singleShot(20_000, loop.quit)
            t0 = time.perf_counter()
            editor.set_annotation(path, Annotation(filename=path.name))
            loop.exec()
            canvas.viewport().repaint()  # force the paint of the first frame now
            firsts.append(time.perf_counter() - t0)
            shown = canvas.shown_factor()

            t1 = time.perf_counter()
            canvas.zoom_100()  # past the preview: full resolution decodes in the background
            loop.exec()
            canvas.viewport().repaint()
            fulls.append(time.perf_counter() - t1)
            assert canvas.shown_factor() == 1, "full resolution level was not shown"

            t2 = time.perf_counter()  # revisit (A/D back) or prefetched next artwork
            editor.set_annotation(path, Annotation(filename=path.name))
            canvas.viewport().repaint()
            warms.append(time.perf_counter() - t2)
            editor.close()
            editor.canvas().loader().wait_idle()
            editor.deleteLater()
            app.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)

        print(f"first frame (preview level 1/{shown}): median {statistics.median(firsts) * 1000:.0f} ms, "
              f"min {min(firsts) * 1000:.0f} ms, max {max(firsts) * 1000:.0f} ms over {args.repeat}")
        print(f"full resolution after zoom to 100%: median {statistics.median(fulls) * 1000:.0f} ms "
              "(GUI stays responsive meanwhile)")
        print(f"revisit / prefetched open: median {statistics.median(warms) * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
