"""A full disk in the GUI (issue 15, defect 7): the save fails with a dialog saying why, the edits
stay open and dirty, a recovery copy goes where there is room, the browser keeps showing the
artwork the editor shows, and closing needs an explicit "Discard" to lose anything."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from artannot.core import recovery, voc
from artannot.core.voc import read_voc
from tests.app.editor_helpers import drag
from tests.app.test_main_window import VENUS, WAVE, make_window, show
from tests.disk_full import enospc

VENUS_XML = "annotations/botticelli_birth_of_venus.xml"
BOXES = [("shell", (20, 300), (200, 420)), ("wind god", (30, 20), (180, 150)), ("cloak", (600, 80), (800, 300))]


class Dialogs:
    """Records every dialog (title, text) and answers from a script, then with the last choice."""

    def __init__(self) -> None:
        self.answers: list[str] = []
        self.seen: list[tuple[str, str]] = []

    def __call__(self, title: str, text: str, choices: tuple[str, ...]) -> str:
        self.seen.append((title, text))
        answer = self.answers.pop(0) if self.answers else choices[-1]
        assert answer in choices, (answer, choices)
        return answer


@pytest.fixture
def full_collection_disk(sample_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The disk holding the collection (and its .artannot folder) is full; the rest has room."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    real_recovery_write = recovery.atomic_write

    def collection_write(path, *args, **kwargs):
        raise enospc(path)

    def recovery_write(path, *args, **kwargs):
        if Path(path).is_relative_to(sample_copy):
            raise enospc(path)
        return real_recovery_write(path, *args, **kwargs)

    def fill() -> None:
        monkeypatch.setattr(voc, "atomic_write", collection_write)
        monkeypatch.setattr(recovery, "atomic_write", recovery_write)

    def free() -> None:
        monkeypatch.setattr(voc, "atomic_write", real_voc_write)
        monkeypatch.setattr(recovery, "atomic_write", real_recovery_write)

    real_voc_write = voc.atomic_write
    return fill, free


def _draw(qtbot, window) -> None:
    show(qtbot, window, VENUS)
    for phrase, start, end in BOXES:
        window.editor.start_box_with_label(phrase)
        drag(window.editor.canvas(), start, end)
    assert [r.phrase for r in window.editor.annotation().regions] == [b[0] for b in BOXES]


def test_full_disk_save_keeps_edits_and_close_refuses(qtbot, sample_copy: Path, full_collection_disk) -> None:
    fill, free = full_collection_disk
    window, _ = make_window(qtbot, sample_copy)
    dialogs = Dialogs()
    window.prompt = dialogs
    _draw(qtbot, window)
    fill()

    # Ctrl+S: a dialog says why, the edits stay, a recovery copy lies outside the full disk.
    assert window.save() is False
    title, text = dialogs.seen[-1]
    assert title == "Cannot save" and "No space left on device" in text and "still open" in text
    assert window.is_dirty() and window.windowTitle().endswith("*")
    assert [r.phrase for r in window.editor.annotation().regions] == [b[0] for b in BOXES]
    assert not (sample_copy / VENUS_XML).exists()
    data = recovery.read_recovery(window.catalog.data_dir, VENUS)
    assert data is not None and all(b[0].encode() in data for b in BOXES)
    spare = [d for d in recovery.spare_dirs(window.catalog.data_dir)
             if recovery.recovery_path(d, VENUS).exists()]
    assert spare and not spare[0].is_relative_to(sample_copy) and str(spare[0]) in text

    # Moving on: the save on navigation fails too, so the window stays on Venus -- editor and
    # browser alike.
    asked = len(dialogs.seen)
    window.browser.select_id(WAVE)
    qtbot.waitUntil(lambda: len(dialogs.seen) > asked, timeout=5_000)
    assert dialogs.seen[-1][0] == "Cannot save"
    qtbot.waitUntil(lambda: window.browser.current_id() == VENUS, timeout=5_000)
    assert window.current_id == VENUS and window.is_dirty()

    # Closing and answering "Save": the save fails, so the window must stay open.
    dialogs.answers = ["Save", "OK"]
    assert window.close() is False
    assert window.isVisible() and window.is_dirty()
    assert dialogs.seen[-1][0] == "Cannot save"

    # Room again: the same close saves everything and the recovery copy is gone.
    free()
    dialogs.answers = ["Save"]
    data_dir = window.catalog.data_dir  # a closed window lets go of its catalog
    assert window.close() is True
    assert [r.phrase for r in read_voc(sample_copy / VENUS_XML).regions] == [b[0] for b in BOXES]
    assert recovery.read_recovery(data_dir, VENUS) is None


def test_only_an_explicit_discard_closes_after_a_failed_save(qtbot, sample_copy: Path, full_collection_disk) -> None:
    fill, _ = full_collection_disk
    window, _ = make_window(qtbot, sample_copy)
    dialogs = Dialogs()
    window.prompt = dialogs
    _draw(qtbot, window)
    fill()
    dialogs.answers = []  # the dialog closed with Esc answers its last choice: Cancel
    assert window.close() is False
    dialogs.answers = ["Discard"]
    assert window.close() is True
    assert not (sample_copy / VENUS_XML).exists()


def test_autosave_on_a_full_disk_goes_to_a_spare_folder(qtbot, sample_copy: Path, full_collection_disk) -> None:
    fill, _ = full_collection_disk
    window, _ = make_window(qtbot, sample_copy)
    dialogs = Dialogs()
    window.prompt = dialogs
    _draw(qtbot, window)
    fill()
    window.write_recovery()  # what the autosave timer does
    assert recovery.list_recovery(window.catalog.data_dir) == [VENUS]
    assert not recovery.recovery_path(window.catalog.data_dir, VENUS).exists()
    dialogs.answers = ["Discard"]
    data_dir = window.catalog.data_dir
    assert window.close() is True
    assert recovery.list_recovery(data_dir) == []
