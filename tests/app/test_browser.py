"""The collection browser queries the catalog in a worker: the GUI thread only swaps answers in."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from artannot.app.browser import CollectionBrowser
from artannot.core.catalog import Catalog

WAVE = "images/hokusai_great_wave.jpg"


@pytest.fixture
def catalog(sample_copy: Path):
    with Catalog.open(sample_copy) as cat:
        yield cat


@pytest.fixture
def browser(qtbot, catalog: Catalog):
    widget = CollectionBrowser()
    qtbot.addWidget(widget)
    yield widget
    widget.shutdown()


def test_queries_run_off_the_gui_thread(qtbot, browser: CollectionBrowser, catalog: Catalog, monkeypatch) -> None:
    threads = []
    listing = Catalog.listing

    def spy(self, *args, **kwargs):
        threads.append(threading.current_thread())
        return listing(self, *args, **kwargs)

    monkeypatch.setattr(Catalog, "listing", spy)
    # The GUI's own connection must not scan the collection for a listing or its totals.
    for name in ("rows", "listing", "stats", "count"):
        monkeypatch.setattr(catalog, name, None, raising=False)
    browser.set_catalog(catalog)
    qtbot.waitUntil(lambda: not browser.loading(), timeout=10_000)  # rows and totals
    assert browser.model.rowCount() == 12
    assert "12 shown" in browser.progress_label.text() and "/12 annotated" in browser.progress_label.text()
    assert threads and threading.main_thread() not in threads


def test_latest_query_wins(qtbot, browser: CollectionBrowser, catalog: Catalog) -> None:
    with qtbot.waitSignal(browser.rowsLoaded, timeout=10_000):
        browser.set_catalog(catalog)
    shown = []
    browser.rowsLoaded.connect(lambda: shown.append([r.id for r in browser.model.rows]))
    browser.search.setText("zzznomatch")
    browser.reload(stats=False)  # its answer is stale as soon as the next query starts
    browser.search.setText("kanagawa")
    browser.reload(stats=False)
    qtbot.waitUntil(lambda: bool(shown) and not browser.loading(), timeout=10_000)
    assert shown == [[WAVE]]


def test_selecting_an_artwork_before_its_listing_arrives(qtbot, browser: CollectionBrowser, catalog: Catalog) -> None:
    activated = []
    browser.artworkActivated.connect(activated.append)
    browser.set_catalog(catalog)
    assert browser.loading()
    assert not browser.select_id(WAVE)  # not listed yet: the window opens it by itself
    qtbot.waitUntil(lambda: not browser.loading(), timeout=10_000)
    assert browser.current_id() == WAVE
    assert set(activated) == {WAVE}  # re-selected after each reset: the window ignores the repeat


def test_current_artwork_stays_selected_across_queries(qtbot, browser: CollectionBrowser, catalog: Catalog) -> None:
    with qtbot.waitSignal(browser.rowsLoaded, timeout=10_000):
        browser.set_catalog(catalog)
    assert browser.select_id(WAVE)
    with qtbot.waitSignal(browser.rowsLoaded, timeout=10_000):
        browser.sort_by_column(5)
    assert browser.current_id() == WAVE
    assert browser.model.row_of(WAVE) == [r.id for r in catalog.rows(order="regions")].index(WAVE)


def test_next_unannotated_follows_the_listed_order(qtbot, browser: CollectionBrowser, catalog: Catalog) -> None:
    with qtbot.waitSignal(browser.rowsLoaded, timeout=10_000):
        browser.set_catalog(catalog)
    rows = catalog.rows(order="title")
    for start in [None] + [r.id for r in rows]:
        i = -1 if start is None else [r.id for r in rows].index(start)
        after = rows[i + 1:] + rows[:i + 1]
        expected = next((r.id for r in after if r.n_regions == 0), None)
        assert browser.next_unannotated(start) == expected


def test_a_save_during_a_query_is_not_undone_by_its_answer(qtbot, browser: CollectionBrowser,
                                                            catalog: Catalog, monkeypatch) -> None:
    from artannot.app import browser as browser_mod
    from artannot.core.geometry import Box
    from artannot.core.model import Region
    from artannot.core.voc import new_annotation, save_voc

    browser.set_catalog(catalog)
    qtbot.waitUntil(lambda: not browser.loading(), timeout=10_000)
    target = next(r.id for r in browser.model.rows if r.n_regions == 0)
    before = browser._stats.annotated
    read, release = threading.Event(), threading.Event()
    real = browser_mod.list_artworks

    def read_then_wait(*args, **kwargs):
        answer = real(*args, **kwargs)
        if not read.is_set():  # the first query read the catalog before the save
            read.set()
            release.wait(10)
        return answer

    monkeypatch.setattr(browser_mod, "list_artworks", read_then_wait)
    browser.reload()  # e.g. indexing finished
    assert read.wait(10)
    ann = new_annotation(catalog.root / target, *catalog.image_size(target))
    ann.regions = [Region(Box(1, 1, 10, 10), "small bird")]
    change = catalog.record_annotation(target, ann, save_voc(ann, catalog.annotation_path(target), force=True))
    browser.refresh_row(target, change)
    release.set()
    qtbot.waitUntil(lambda: not browser.loading(), timeout=10_000)
    assert browser.model.rows[browser.model.row_of(target)].n_regions == 1
    assert browser._stats.annotated == before + 1
    assert browser.next_unannotated(None) != target


def test_thumbnails_kept_are_bounded(qtbot, monkeypatch) -> None:
    import io

    from PIL import Image

    from artannot.app import browser as browser_mod

    monkeypatch.setattr(browser_mod, "KEEP_ICONS", 3)
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buf, "JPEG")
    model = browser_mod.ArtworkTableModel()
    for i in range(10):
        model.set_thumbnail(f"a{i}", buf.getvalue())
    assert list(model._icons) == ["a7", "a8", "a9"]


def test_first_page_comes_before_the_whole_listing(qtbot, browser: CollectionBrowser, catalog: Catalog,
                                                    monkeypatch) -> None:
    from artannot.core import listing as listing_mod

    monkeypatch.setattr(listing_mod, "PAGE", 5)
    with qtbot.waitSignal(browser.rowsLoaded, timeout=10_000):
        browser.set_catalog(catalog)
    last = browser.model.rows.id_at(11)
    assert browser.select_id(last)
    sizes = []
    browser.model.modelReset.connect(lambda: sizes.append(browser.model.rowCount()))
    with qtbot.waitSignal(browser.rowsLoaded, timeout=10_000):
        browser.sort_by_column(0)
    assert sizes == [5, 12]  # a screenful first, then every row
    assert browser.current_id() == last  # not on the first page, selected again with the rest


def test_a_failed_query_says_so_and_keeps_the_rows(qtbot, browser: CollectionBrowser, catalog: Catalog,
                                                   monkeypatch) -> None:
    import sqlite3

    from artannot.app import browser as browser_mod

    browser.set_catalog(catalog)
    qtbot.waitUntil(lambda: not browser.loading(), timeout=10_000)

    def broken(*_args, **_kwargs):
        raise sqlite3.DatabaseError("database disk image is malformed")

    monkeypatch.setattr(browser_mod, "list_artworks", broken)
    browser.search.setText("wave")
    browser.reload(stats=False)
    qtbot.waitUntil(lambda: not browser.loading(), timeout=10_000)
    assert browser.progress_label.text() == "Listing the collection failed: database disk image is malformed"
    assert browser.model.rowCount() == 12  # the last answer stays listed
