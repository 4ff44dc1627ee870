"""Collection browser on a large collection: first paint, search as you type, GUI-thread stalls.

Run by hand (not a test):

    .venv/bin/python bench/bench_browser.py [--n 10000] [--keep DIR] [--replicate K]

Builds the synthetic collection of ``bench_catalog.py`` in a temp folder (or in ``--keep DIR``,
reused when it is already there), indexes it once, then opens the real main window offscreen and
measures (1) from ``open_collection`` to the browser's first painted page of rows, (2) search as
you type: from the debounced query (what the 120 ms timer after a keystroke fires) to the list
showing the new rows, over 40 queries, (3) the longest the GUI thread went without serving its
event loop during all of it: a 1 ms timer on the GUI thread records the widest gap between its
ticks (what a curator feels as a frozen window) and the most CPU the GUI thread spent between
two ticks (its longest step of work: on a busy machine the wall-clock gap also counts time the
thread waited for a core or for the GIL held by a worker).

``--replicate K`` measures the browser alone on K copies of the indexed catalog's rows (ids
prefixed ``copyK/``, full-text rows copied too): 500,000 artworks from a 100k collection without
writing 400,000 more files. No main window there (its indexing would drop artworks whose files
are missing); open = ``set_catalog`` to the first painted page.
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


class StallProbe:
    """The widest gap between ticks of a 1 ms GUI-thread timer since the last ``reset``, in wall
    time and in GUI-thread CPU time."""

    def __init__(self) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.timer = QTimer(interval=1, timerType=Qt.PreciseTimer)
        self.timer.timeout.connect(self._tick)
        self.reset()
        self.timer.start()

    def _tick(self) -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        self.worst = max(self.worst, now - self.last)
        self.worst_cpu = max(self.worst_cpu, cpu - self.last_cpu)
        self.last, self.last_cpu = now, cpu

    def reset(self) -> None:
        self.last, self.worst = time.perf_counter(), 0.0
        self.last_cpu, self.worst_cpu = time.thread_time(), 0.0

    def read_ms(self) -> float:
        self._tick()  # a stall still going on counts too
        return self.worst * 1000

    def read_cpu_ms(self) -> float:
        self._tick()
        return self.worst_cpu * 1000


def wait_until(cond, timeout: float = 600.0) -> None:
    """Serve the event loop (blocking between events, so workers get the CPU) until ``cond()``."""
    from PySide6.QtCore import QEventLoop

    loop = QEventLoop()
    end = time.perf_counter() + timeout
    while not cond():
        loop.processEvents(QEventLoop.WaitForMoreEvents)  # the 1 ms probe wakes it up
        if time.perf_counter() > end:
            raise TimeoutError("the browser did not show its rows")


def loaded(browser) -> bool:
    return not getattr(browser, "loading", lambda: False)()


def replicate(root: Path, k: int, dest: Path) -> Path:
    """A catalog-only collection with the rows of ``root``'s catalog ``k`` times over."""
    import shutil
    import sqlite3

    from artannot.core.catalog import data_dir_for

    if (dest / "images").is_dir():
        return dest
    (dest / "images").mkdir(parents=True)
    src = data_dir_for(root.resolve()) / "catalog.sqlite"
    db_path = data_dir_for(dest.resolve()) / "catalog.sqlite"
    db_path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, db_path)
    db = sqlite3.connect(db_path)
    cols = [r[1] for r in db.execute("PRAGMA table_info(artworks)") if r[1] not in ("id", "rowid")]
    with db:
        for c in range(1, k):
            db.execute(f"INSERT INTO artworks(id, {', '.join(cols)}) SELECT 'copy{c}/' || id, {', '.join(cols)}"
                       " FROM artworks WHERE id NOT LIKE 'copy%'")
            db.execute("INSERT INTO search(rowid, title, body, phrases) SELECT n.rowid, s.title, s.body, s.phrases"
                       f" FROM artworks n JOIN artworks o ON n.id = 'copy{c}/' || o.id JOIN search s ON s.rowid = o.rowid")
    db.close()
    return dest


def browser_only(root: Path) -> None:
    """Open, search and select in a bare ``CollectionBrowser`` over ``root``'s catalog."""
    from PySide6.QtWidgets import QApplication

    from artannot.app.browser import CollectionBrowser
    from artannot.core.catalog import Catalog

    app = QApplication.instance()
    cat = Catalog.open(root, refresh=False)
    browser = CollectionBrowser()
    browser.resize(1000, 900)
    browser.show()
    app.processEvents()
    probe = StallProbe()
    t0 = time.perf_counter()
    browser.set_catalog(cat)
    wait_until(lambda: browser.model.rowCount() > 0)
    browser.table.viewport().repaint()
    print(f"set_catalog -> first painted page of {browser.model.rowCount()} rows: "
          f"{(time.perf_counter() - t0) * 1000:.0f} ms; longest GUI stall {probe.read_ms():.0f} ms wall, "
          f"{probe.read_cpu_ms():.0f} ms GUI-thread CPU")
    wait_until(lambda: loaded(browser))
    search_as_you_type(browser, probe)
    browser.shutdown()
    cat.close()


def search_as_you_type(browser, probe: StallProbe) -> None:
    rng = random.Random(0)
    lat, first, stalls, cpus = [], [], [], []
    resets: list[float] = []
    browser.model.modelReset.connect(lambda: resets.append(time.perf_counter()))
    for _ in range(40):
        word = rng.choice(WORDS)
        text = word[: rng.randint(2, len(word))]
        probe.reset()
        t = time.perf_counter()
        browser.search.setText(text)
        browser._debounce.stop()
        browser._debounce.timeout.emit()  # what the 120 ms debounce timer triggers
        wait_until(lambda: loaded(browser))
        browser.table.viewport().repaint()
        lat.append((time.perf_counter() - t) * 1000)
        first.append((min((r for r in resets if r > t), default=time.perf_counter()) - t) * 1000)
        stalls.append(probe.read_ms())
        cpus.append(probe.read_cpu_ms())
    lat.sort()
    first.sort()
    print(f"search as you type, 40 queries (+120 ms debounce while typing): query -> first rows in the list "
          f"p50 {statistics.median(first):.0f} ms, p95 {first[int(0.95 * len(first)) - 1]:.0f} ms; "
          f"-> every row listed and painted p50 {statistics.median(lat):.0f} ms, "
          f"p95 {lat[int(0.95 * len(lat)) - 1]:.0f} ms, max {lat[-1]:.0f} ms")
    print(f"longest GUI-thread stall while searching: {max(stalls):.0f} ms wall "
          f"(p95 {sorted(stalls)[int(0.95 * len(stalls)) - 1]:.0f} ms), {max(cpus):.0f} ms GUI-thread CPU "
          f"(p95 {sorted(cpus)[int(0.95 * len(cpus)) - 1]:.0f} ms)")
    probe.reset()
    browser.search.setText("")
    browser._debounce.stop()
    browser._debounce.timeout.emit()
    wait_until(lambda: loaded(browser))
    t = time.perf_counter()
    browser.select_id(browser.model.rows.id_at(browser.model.rowCount() - 1))
    browser.table.viewport().repaint()
    print(f"select the last artwork (and open it, in the window): {(time.perf_counter() - t) * 1000:.1f} ms; "
          f"longest GUI stall clearing the search and selecting: {probe.read_ms():.0f} ms wall, "
          f"{probe.read_cpu_ms():.0f} ms GUI-thread CPU")


def machine() -> str:
    return f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--keep", type=Path, help="build the collection here (reused when present)")
    ap.add_argument("--replicate", type=int, default=0, metavar="K",
                    help="measure the browser alone on K copies of the catalog's rows")
    args = ap.parse_args()
    from PySide6.QtWidgets import QApplication

    from artannot.app.main_window import MainWindow, WindowSettings
    from artannot.core.catalog import Catalog

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp) / "collection"
        t0 = time.perf_counter()
        if not (root / "images").is_dir():
            build(root, args.n)
        with Catalog.open(root) as cat:
            n = cat.count()
        print(f"{n} artworks built and indexed in {time.perf_counter() - t0:.1f} s ({machine()})")
        if args.replicate > 1:
            copies = replicate(root, args.replicate, root.with_name(f"{root.name}-x{args.replicate}"))
            print(f"{n * args.replicate} artworks in the replicated catalog {copies}")
            browser_only(copies)
            return 0

        window = MainWindow(WindowSettings(autosave_seconds=0, extract_phrases=False))
        window.prompt = lambda title, text, choices: choices[-1]
        window.resize(1400, 900)
        window.show()
        app.processEvents()
        browser = window.browser
        probe = StallProbe()
        t0 = time.perf_counter()
        window.open_collection(root)
        wait_until(lambda: browser.model.rowCount() > 0)
        browser.table.viewport().repaint()  # the first page of rows, painted
        first_paint = time.perf_counter() - t0
        open_stall, open_cpu = probe.read_ms(), probe.read_cpu_ms()
        print(f"open_collection -> first painted page of {browser.model.rowCount()} rows: "
              f"{first_paint * 1000:.0f} ms (indexing continues in a worker); "
              f"longest GUI stall {open_stall:.0f} ms wall, {open_cpu:.0f} ms GUI-thread CPU")
        wait_until(lambda: not window._jobs and loaded(browser))
        app.processEvents()

        search_as_you_type(browser, probe)
        window._restored = False
        window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
