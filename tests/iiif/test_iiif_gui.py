"""File → Open IIIF manifest in the main window: fetch, show artworks and phrases, draw, save,
export as IIIF and re-import the same box."""

from __future__ import annotations

import json
from pathlib import Path

from artannot.app.iiif_open import IiifRequest
from artannot.app.main_window import MainWindow, WindowSettings
from artannot.core.iiif import FetchOptions
from artannot.core.interop import export_annotations, import_annotations
from artannot.core.voc import read_voc
from tests.app.conftest import _isolated_home  # noqa: F401 -- autouse: QSettings and $HOME in tmp
from tests.app.editor_helpers import drag
from tests.iiif.conftest import WAVE_DESC, Site

FAST = FetchOptions(timeout=0.5, retries=1, backoff=0.0)


def file_action(window: MainWindow, text: str):
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&File")
    return next(a for a in menu.actions() if a.text() == text)


def test_open_manifest_from_the_file_menu(qtbot, site: Site, tmp_path: Path) -> None:
    window = MainWindow(WindowSettings(autosave_seconds=0, extract_phrases=True))
    asked: list[tuple] = []
    window.prompt = lambda title, text, choices: asked.append((title, text)) or choices[-1]
    qtbot.addWidget(window)
    window.show()
    dest = tmp_path / "coll"
    window.iiif.ask = lambda parent: IiifRequest(site.v3, dest, 400)
    window.iiif.options = FAST

    with qtbot.waitSignal(window.iiif.imported, timeout=60_000) as fetched:
        file_action(window, "Open IIIF manifest…").trigger()
    assert len(fetched.args[0].imported) == 3 and asked == []
    qtbot.waitUntil(lambda: len(window.browser.model.rows) == 3, timeout=60_000)
    titles = sorted(r.title for r in window.browser.model.rows)
    assert titles == ["Waves and stars — The Birth of Venus", "Waves and stars — The Great Wave",
                      "Waves and stars — The Starry Night"]
    wave = next(r.id for r in window.browser.model.rows if r.title.endswith("Great Wave"))
    window.browser.select_id(wave)
    qtbot.waitUntil(lambda: window.current_id == wave, timeout=10_000)
    canvas = window.editor.canvas()
    qtbot.waitUntil(lambda: canvas.shown_factor() > 0, timeout=10_000)
    assert WAVE_DESC.split(" with")[0] in window.metadata.text.toPlainText()
    # phrases extracted in the background from the manifest's English text
    # (the job's end, not its status line: a later message may replace that on a busy machine)
    qtbot.waitUntil(lambda: not window._jobs and "towering blue wave" in
                    {p.norm for p in window.catalog.phrases(wave)}, timeout=120_000)

    canvas.zoom_100()
    window.editor.ask_label_on_create = False
    window.editor.start_box_with_label("towering blue wave")
    drag(canvas, (10, 20), (110, 120))
    assert window.save()
    drawn = [(r.phrase, r.box) for r in read_voc(window.catalog.annotation_path(wave)).regions]
    assert drawn and drawn[0][0] == "towering blue wave"

    out = tmp_path / "out"
    export_annotations(dest, "iiif", out)
    [page_file] = out.glob("*/annotations/*.json")
    target = json.loads(page_file.read_text(encoding="utf-8"))["items"][0]["target"]
    assert target.startswith(site.server.url("c/wave#xywh="))
    window.catalog.annotation_path(wave).rename(tmp_path / "drawn.xml")
    import_annotations(dest, "iiif", out)
    assert [(r.phrase, r.box) for r in read_voc(window.catalog.annotation_path(wave)).regions] == drawn
    window.editor.undo_stack().clear()
    window.close()


def test_a_manifest_that_cannot_be_read_is_reported(qtbot, site: Site, tmp_path: Path) -> None:
    window = MainWindow(WindowSettings(autosave_seconds=0, extract_phrases=False))
    asked: list[tuple] = []
    window.prompt = lambda title, text, choices: asked.append((title, text)) or choices[-1]
    qtbot.addWidget(window)
    window.iiif.options = FAST
    job = window.iiif.open(IiifRequest(site.malformed, tmp_path / "coll", 400))
    qtbot.waitUntil(lambda: bool(asked), timeout=30_000)
    assert job is not None and asked[0][0] == "Cannot open IIIF manifest" and "malformed JSON" in asked[0][1]
    assert window.catalog is None  # nothing opened
    window.iiif.ask = lambda parent: None  # the curator cancelled the dialog
    assert window.iiif.open() is None
