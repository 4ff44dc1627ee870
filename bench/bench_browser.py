"""Collection browser on a 10,000-artwork collection: time to first paint and search latency.

Run by hand (not a test):

    .venv/bin/python bench/bench_browser.py [--n 10000]

Builds the synthetic collection of ``bench_catalog.py`` in a temp folder, indexes it once, then
opens the real main window offscreen and measures (1) from ``open_collection`` to the browser's
first painted page of rows, (2) search as you type: from a keystroke in the search box to the
list showing the new rows (debounce excluded, reported separately), over 40 queries.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_catalog import build

WORDS = ["wave", "temple", "lotus", "horse", "dragon", "vase", "mountain", "scroll", "bird", "figure",
         "gold", "blue", "cat", "river", "tree", "bronze", "silk", "dancer", "boat", "moon"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=10_000)
    args = ap.parse_args()
    from PySide6.QtWidgets import QApplication

    from artannot.app.main_window import MainWindow, WindowSettings
    from artannot.core.catalog import Catalog

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "collection"
        t0 = time.perf_counter()
        build(root, args.n)
        with Catalog.open(root):
            pass
        print(f"{args.n} artworks built and indexed in {time.perf_counter() - t0:.1f} s")

        window = MainWindow(WindowSettings(autosave_seconds=0))
        window.prompt = lambda title, text, choices: choices[-1]
        window.resize(1400, 900)
        window.show()
        app.processEvents()
        t0 = time.perf_counter()
        window.open_collection(root)
        window.browser.table.viewport().repaint()  # the first page of rows, painted
        first_paint = time.perf_counter() - t0
        print(f"open_collection -> first painted page of {len(window.browser.model.rows)} rows: "
              f"{first_paint * 1000:.0f} ms (indexing continues in a worker)")
        for job in list(window._jobs):
            job.done.wait(120)
        app.processEvents()

        rng = random.Random(0)
        lat = []
        for _ in range(40):
            word = rng.choice(WORDS)
            text = word[: rng.randint(2, len(word))]
            t = time.perf_counter()
            window.browser.search.setText(text)
            window.browser.reload()  # what the 120 ms debounce timer triggers
            window.browser.table.viewport().repaint()
            lat.append((time.perf_counter() - t) * 1000)
        lat.sort()
        print(f"search as you type (query -> rows shown), 40 queries: p50 {statistics.median(lat):.0f} ms, "
              f"p95 {lat[int(0.95 * len(lat)) - 1]:.0f} ms, max {lat[-1]:.0f} ms (+120 ms debounce while typing)")
        window._restored = False
        window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
