"""The main window end to end: open the sample, annotate, undo, save, reopen; never lose work."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from artannot.app.main_window import MainWindow, WindowSettings
from artannot.core import recovery
from artannot.core.geometry import Box
from artannot.core.model import Region
from artannot.core.voc import read_voc
from tests.app.editor_helpers import drag

VENUS = "images/botticelli_birth_of_venus.jpg"
WAVE = "images/hokusai_great_wave.jpg"


class Prompts:
    """Scripted answers to the window's dialogs; records every question asked."""

    def __init__(self) -> None:
        self.answers: list[str] = []
        self.asked: list[tuple[str, tuple[str, ...]]] = []

    def __call__(self, title: str, text: str, choices: tuple[str, ...]) -> str:
        self.asked.append((title, choices))
        answer = self.answers.pop(0) if self.answers else choices[-1]
        assert answer in choices, (answer, choices)
        return answer


def make_window(qtbot, root: Path, **settings) -> tuple[MainWindow, Prompts]:
    settings.setdefault("extract_phrases", False)  # spaCy only in the test that needs it
    window = MainWindow(WindowSettings(autosave_seconds=0, **settings))
    prompts = Prompts()
    window.prompt = prompts
    qtbot.addWidget(window)
    window.show()
    window.open_collection(root, wait=True)
    qtbot.waitUntil(lambda: len(window.browser.model.rows) == 12 and not window.browser.loading(), timeout=60_000)
    window.editor.ask_label_on_create = False
    return window, prompts


def show(qtbot, window: MainWindow, artwork_id: str) -> None:
    window.browser.select_id(artwork_id)
    qtbot.waitUntil(lambda: window.current_id == artwork_id, timeout=5_000)
    canvas = window.editor.canvas()
    qtbot.waitUntil(lambda: canvas.shown_factor() > 0, timeout=10_000)
    canvas.zoom_100()  # a chosen zoom: later relayouts (status text, docks) must not refit
    canvas.set_scale(0.5)


def discard_on_close(window: MainWindow, prompts: Prompts) -> None:
    prompts.answers = ["Discard"] * 3


def test_opens_sample_and_shows_annotated_artwork(qtbot, sample_copy: Path) -> None:
    window, _ = make_window(qtbot, sample_copy)
    show(qtbot, window, WAVE)
    regions = window.editor.annotation().regions
    assert [r.phrase for r in regions][:2] == ["towering blue wave", "curling white crest"]
    assert window.editor.objects_panel().isVisible()
    assert "3/12 annotated" in window.browser.progress_label.text()
    assert "Mount Fuji" in window.metadata.text.toPlainText()


def test_draw_three_label_undo_one_save_reopen_finds_two(qtbot, sample_copy: Path) -> None:
    window, prompts = make_window(qtbot, sample_copy)
    show(qtbot, window, VENUS)
    canvas = window.editor.canvas()
    boxes = [((10, 10), (200, 150)), ((300, 100), (500, 400)), ((600, 50), (900, 300))]
    for phrase, (start, end) in zip(["scallop shell", "wind gods", "flowering cloak"], boxes):
        window.editor.start_box_with_label(phrase)
        drag(canvas, start, end)
    assert len(window.editor.annotation().regions) == 3
    window.editor.undo_stack().undo()
    assert [r.phrase for r in window.editor.annotation().regions] == ["scallop shell", "wind gods"]
    assert window.is_dirty()
    QTest.keyClick(window, Qt.Key_S, Qt.ControlModifier)
    qtbot.waitUntil(lambda: not window.is_dirty(), timeout=5_000)

    path = sample_copy / "annotations" / "botticelli_birth_of_venus.xml"
    saved = read_voc(path)
    assert [r.phrase for r in saved.regions] == ["scallop shell", "wind gods"]
    # Scene edges (10,10)-(200,150) are VOC pixels 11..200 x 11..150.
    assert (saved.regions[0].box.xmin, saved.regions[0].box.ymax) == (11, 150)
    window.close()

    again, _ = make_window(qtbot, sample_copy)
    show(qtbot, again, VENUS)
    assert [r.phrase for r in again.editor.annotation().regions] == ["scallop shell", "wind gods"]
    assert again.browser.model.rows[again.browser.model.row_of(VENUS)].n_regions == 2


def test_save_updates_the_row_and_totals_without_a_recount(qtbot, sample_copy: Path) -> None:
    from artannot.core.queue import collection_progress

    window, _ = make_window(qtbot, sample_copy)
    qtbot.waitUntil(lambda: "annotated" in window.queue.progress.text(), timeout=60_000)
    show(qtbot, window, VENUS)
    window.editor.start_box_with_label("goddess")
    drag(window.editor.canvas(), (20, 20), (120, 220))
    window.catalog.stats = None  # a save must not rescan the collection for its totals
    assert window.save()
    del window.catalog.stats
    assert window.browser.model.rows[window.browser.model.row_of(VENUS)].n_regions == 1
    assert "4/12 annotated" in window.browser.progress_label.text()
    assert window.queue.progress.text() == collection_progress(window.catalog).text()
    assert window.queue.progress.text().startswith("4/12 annotated")
    discard_on_close(window, _)


def test_navigation_keys_save_dirty_artwork(qtbot, sample_copy: Path) -> None:
    window, _ = make_window(qtbot, sample_copy)
    show(qtbot, window, VENUS)
    window.editor.start_box_with_label("goddess")
    drag(window.editor.canvas(), (20, 20), (120, 220))
    row = window.browser.model.row_of(VENUS)
    QTest.keyClick(window, Qt.Key_D)
    qtbot.waitUntil(lambda: window.current_id == window.browser.model.rows[row + 1].id, timeout=5_000)
    assert [r.phrase for r in read_voc(sample_copy / "annotations" / "botticelli_birth_of_venus.xml").regions] == ["goddess"]
    QTest.keyClick(window, Qt.Key_A)
    qtbot.waitUntil(lambda: window.current_id == VENUS, timeout=5_000)


def test_recovery_after_crash(qtbot, sample_copy: Path) -> None:
    window, prompts = make_window(qtbot, sample_copy)
    show(qtbot, window, VENUS)
    window.editor.start_box_with_label("pink roses")
    drag(window.editor.canvas(), (50, 50), (150, 120))
    # An unreviewed detector proposal is on the canvas too: it must not come back as a box.
    window.editor.add_proposals([Region(box=Box(300, 40, 420, 160), source="detector",
                                        score=0.9)])
    assert len(window.editor.annotation().regions) == 2
    window.write_recovery()  # what the autosave timer does
    data_dir = window.catalog.data_dir
    assert recovery.list_recovery(data_dir) == [VENUS]
    assert not (sample_copy / "annotations" / "botticelli_birth_of_venus.xml").exists()

    # "Crash": a second session starts while the first never saved.
    second, prompts2 = make_window(qtbot, sample_copy)
    prompts2.answers = ["Restore"]
    show(qtbot, second, VENUS)
    assert prompts2.asked[0][0] == "Recover unsaved work"
    assert [r.phrase for r in second.editor.annotation().regions] == ["pink roses"]
    assert second.is_dirty()
    assert second.save()
    assert [r.phrase for r in read_voc(sample_copy / "annotations" / "botticelli_birth_of_venus.xml").regions] == ["pink roses"]
    assert recovery.list_recovery(data_dir) == []
    discard_on_close(window, prompts)


def test_conflict_when_file_changed_on_disk(qtbot, sample_copy: Path) -> None:
    window, prompts = make_window(qtbot, sample_copy)
    show(qtbot, window, WAVE)
    window.editor.select_indices([0])
    window.editor.delete_selected()
    path = sample_copy / "annotations" / "hokusai_great_wave.xml"
    colleague = path.read_bytes().replace(b"curling white crest", b"white crest of foam")
    path.write_bytes(colleague)

    prompts.answers = ["Cancel"]
    assert window.save() is False
    assert path.read_bytes() == colleague  # never overwritten silently

    prompts.answers = ["Keep both"]
    assert window.save() is False
    mine = read_voc(path.with_name("hokusai_great_wave.mine.xml"))
    assert len(mine.regions) == 5
    assert path.read_bytes() == colleague

    prompts.answers = ["Overwrite"]
    assert window.save() is True
    assert len(read_voc(path).regions) == 5
    assert path.with_name(path.name + ".bak").read_bytes() == colleague


def test_broken_annotation_is_shown_not_overwritten(qtbot, sample_copy: Path) -> None:
    path = sample_copy / "annotations" / "vangogh_starry_night.xml"
    broken = path.read_bytes()[:300]
    path.write_bytes(broken)
    window, prompts = make_window(qtbot, sample_copy)
    show(qtbot, window, "images/vangogh_starry_night.jpg")
    assert "malformed XML" in window.status.text()
    window.editor.start_box_with_label("moon")
    drag(window.editor.canvas(), (10, 10), (60, 60))
    prompts.answers = ["Cancel"]
    assert window.save() is False
    assert path.read_bytes() == broken
    discard_on_close(window, prompts)


def test_close_with_unsaved_changes_asks(qtbot, sample_copy: Path) -> None:
    window, prompts = make_window(qtbot, sample_copy)
    show(qtbot, window, VENUS)
    window.editor.start_box_with_label("sea")
    drag(window.editor.canvas(), (10, 300), (400, 500))
    prompts.answers = ["Cancel"]
    assert window.close() is False
    prompts.answers = ["Save"]
    assert window.close() is True
    assert len(read_voc(sample_copy / "annotations" / "botticelli_birth_of_venus.xml").regions) == 1


def test_phrases_highlighted_and_clicking_labels_selected_box(qtbot, sample_copy: Path) -> None:
    from artannot.core.catalog import Catalog
    from artannot.text.collection import extract_collection

    with Catalog.open(sample_copy) as cat:
        extract_collection(cat)
    window, _ = make_window(qtbot, sample_copy)
    show(qtbot, window, WAVE)
    html = window.metadata.text.toHtml()
    assert 'href="phrase:towering blue wave' in html
    norms = [window.metadata.phrase_list.item(i).data(Qt.UserRole) for i in range(window.metadata.phrase_list.count())]
    assert "curling white crest" in norms
    covered = [window.metadata.phrase_list.item(i).text() for i in range(window.metadata.phrase_list.count())
               if window.metadata.phrase_list.item(i).text().startswith("✓")]
    assert any("towering blue wave" in t for t in covered)  # a box already carries this phrase

    window.editor.select_indices([5])
    window.metadata.phraseActivated.emit("signature inscription")
    assert window.editor.annotation().regions[5].phrase == "signature inscription"
    # With nothing selected, clicking a phrase starts drawing a box that gets the phrase.
    window.editor.select_indices([])
    window.metadata.phraseActivated.emit("small snow-capped mount fuji")
    drag(window.editor.canvas(), (560, 320), (650, 370))
    assert window.editor.annotation().regions[-1].phrase.lower() == "small snow-capped mount fuji"
    discard_on_close(window, _)


def test_phrases_are_extracted_in_the_background_when_missing(qtbot, sample_copy: Path, monkeypatch) -> None:
    """The artwork open while the job runs shows its phrases when the job ends."""
    import threading

    from artannot.text import collection

    gate = threading.Event()  # the job extracts once the artwork is open: a fixed order
    extract = collection.extract_collection

    def gated(*args, **kwargs):
        gate.wait(120)
        return extract(*args, **kwargs)

    monkeypatch.setattr(collection, "extract_collection", gated)
    events: list[str] = []  # what the phrase jobs did, for the message of a failure
    start = MainWindow._start_phrases

    def recorded(self, root):
        events.append(f"start (open: {self.current_id})")
        start(self, root)
        job = self._jobs[-1]
        job.signals.result.connect(lambda r: events.append(f"extracted {r.extracted} (open: {self.current_id})"))
        job.signals.error.connect(lambda e: events.append(f"error {e[1]}"))
        job.signals.finished.connect(lambda: events.append("finished"))

    monkeypatch.setattr(MainWindow, "_start_phrases", recorded)
    window, prompts = make_window(qtbot, sample_copy, extract_phrases=True)
    show(qtbot, window, WAVE)
    assert window.metadata.phrase_list.count() == 0 and not window.catalog.phrases(WAVE)
    gate.set()
    qtbot.waitUntil(lambda: "finished" in events and not window._jobs, timeout=60_000)
    assert events[0].startswith("start") and events[1] == f"extracted 12 (open: {WAVE})", events
    assert window.metadata.phrase_list.count() > 0, (events, window.status.text())
    assert "Noun phrases extracted for 12 artworks" in window.status.text()
    assert 'href="phrase:towering blue wave' in window.metadata.text.toHtml()
    assert window.catalog.phrases(VENUS)  # every artwork, not only the open one
    assert (window.catalog.data_dir / "vocab.json").exists()


def test_first_listed_artwork_opens_once_indexed_and_next_unannotated(qtbot, sample_copy: Path) -> None:
    window, _ = make_window(qtbot, sample_copy)
    rows = window.browser.model.rows
    qtbot.waitUntil(lambda: window.current_id == rows.id_at(0), timeout=10_000)  # rows came from a worker
    window.next_unannotated()
    expected = next(r.id for r in list(rows)[1:] if r.n_regions == 0)
    qtbot.waitUntil(lambda: window.current_id == expected, timeout=10_000)


def test_browser_sorts_by_clicked_column_and_filters(qtbot, sample_copy: Path) -> None:
    window, _ = make_window(qtbot, sample_copy)
    browser = window.browser
    # The catalog is queried in a worker: each change shows its rows when the answer arrives.
    with qtbot.waitSignal(browser.rowsLoaded, timeout=10_000):
        browser.sort_by_column(5)  # Regions: most boxes first
    counts = [r.n_regions for r in browser.model.rows]
    assert counts == sorted(counts, reverse=True) and counts[0] == 7
    with qtbot.waitSignal(browser.rowsLoaded, timeout=10_000):
        browser.sort_by_column(3)  # Date
    dates = [r.date.lower() for r in browser.model.rows]
    assert dates == sorted(dates)
    with qtbot.waitSignal(browser.rowsLoaded, timeout=10_000):
        browser.status_filter.setCurrentText("Annotated")
    assert len(browser.model.rows) == 3
    with qtbot.waitSignal(browser.rowsLoaded, timeout=10_000):
        browser.search.setText("kanagawa")  # search as you type: debounced, then queried
    assert [r.id for r in browser.model.rows] == [WAVE]


def test_results_arriving_after_close_are_dropped(qtbot, sample_copy: Path) -> None:
    """A background job (indexing, phrases) that ends while the window closes must not touch
    the closed catalog ("Cannot operate on a closed database")."""
    from PySide6.QtWidgets import QApplication

    window, prompts = make_window(qtbot, sample_copy, extract_phrases=True)
    qtbot.waitUntil(lambda: bool(window._jobs), timeout=60_000)  # phrase extraction running
    job = window._jobs[0]
    discard_on_close(window, prompts)
    window.close()
    assert job.done.is_set() and window.catalog is None
    window._phrases_done(SimpleReport())  # what a result queued before the close would do
    window._indexing_done(SimpleReport())
    QApplication.processEvents()


class SimpleReport:
    extracted = 3
    added = updated = removed = errors = 0
    seconds = 0.0
