"""Screenshots of the real window for the docs: suggestions panel, phrase -> regions heat map,
fragment search grid.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/make_screenshots.py

Needs the sample collection prepared (``artannot phrases``, ``artannot detect`` and a model in
``resources/sample_collection/.artannot/scan/``, see the README). Works on a temporary copy,
so the sample and its catalog stay untouched. Writes ``docs/screenshots/*.png`` (< 300 KB
each: 256-colour PNGs).
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # widget.grab() renders without a display

import io
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "docs" / "screenshots"
WAVE = "images/hokusai_great_wave.jpg"
MAX_BYTES = 300_000


def save(widget, name: str) -> Path:
    from PIL import Image
    from PySide6.QtCore import QBuffer, QIODevice

    pix = widget.grab()
    buf = QBuffer()
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    pix.save(buf, "PNG")
    im = Image.open(io.BytesIO(bytes(buf.data()))).convert("RGB")
    path = OUT / f"{name}.png"
    for width in (im.width, 1400, 1200, 1000):
        small = im if width == im.width else im.resize((width, round(im.height * width / im.width)), Image.LANCZOS)
        small.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(path, optimize=True)
        if path.stat().st_size < MAX_BYTES:
            break
    print(f"{path.relative_to(ROOT)}  {path.stat().st_size // 1024} KB")
    return path


def main() -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from artannot.app.main_window import MainWindow, WindowSettings

    app = QApplication.instance() or QApplication(sys.argv)

    def wait(cond, timeout: float = 60.0) -> None:
        end = time.perf_counter() + timeout
        while not cond():
            app.processEvents()
            time.sleep(0.01)
            if time.perf_counter() > end:
                raise TimeoutError

    def settle(seconds: float = 0.5) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            app.processEvents()
            time.sleep(0.01)

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "sample_collection"
        shutil.copytree(ROOT / "resources" / "sample_collection", root,
                        ignore=shutil.ignore_patterns("search"))
        w = MainWindow(WindowSettings(autosave_seconds=0, save_on_navigate=False))
        w.prompt = lambda title, text, choices: "Discard" if "Discard" in choices else choices[-1]
        w.resize(1600, 1000)
        w.show()
        w.open_collection(root, wait=True)
        wait(lambda: len(w.browser.model.rows) == 12)
        if not (w.suggestions.service and w.suggestions.service.available):
            raise SystemExit("the sample has no model: see the module docstring")
        w.browser.select_id(WAVE)
        wait(lambda: w.current_id == WAVE and w.editor.canvas().shown_factor() > 0)
        w.editor.canvas().fit_window()
        w.suggestions.service.warm_up()  # what the window does in the background at opening

        # 1. Region -> phrases: a curator's box selected, the ranked phrases beside it.
        w.suggestions_dock.raise_()
        meta = w.findChild(type(w.suggestions_dock), "dock_metadata")
        w.resizeDocks([meta, w.suggestions_dock], [380, 560], Qt.Orientation.Vertical)
        w.editor.select_indices([0])
        wait(lambda: len(w.suggestions_panel.phrase_items()) > 0)
        settle()
        save(w, "suggestions_panel")

        # 2. Phrase -> regions with the attention heat map.
        w.editor.select_indices([])
        norm = next(p.norm for p in w.metadata.phrases() if "wave" in p.norm)
        w.metadata.phraseActivated.emit(norm)
        wait(lambda: len(w.suggestions.overlay.highlights) > 0)
        w.suggestions_panel.opacity.setValue(60)
        settle()
        save(w, "phrase_heatmap")

        # 3. Search mode: fragments of the whole collection for a phrase.
        w.suggestions.clear_highlight()
        w.show_search()
        w.search_view.run_query("stormy sky")
        wait(lambda: w.search_view.grid.count() > 0)
        wait(lambda: all(not w.search_view.grid.item(i).icon().isNull()
                         for i in range(w.search_view.grid.count())), 30)
        settle()
        save(w, "search_grid")
        w.editor.undo_stack().setClean()
        w.close()


if __name__ == "__main__":
    main()
