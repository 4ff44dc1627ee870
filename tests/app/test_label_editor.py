"""Label dialog: completion from both sources; labelling by double-click and after drawing."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDialog

from artannot.app.canvas import Mode
from artannot.app.label_editor import LabelDialog, LabelValues, PhraseCompleter, merge_phrases
from artannot.core.geometry import Box
from artannot.core.model import Region

from .editor_helpers import drag, vp

ARTWORK = ["head of a cat statuette", "brown limestone"]
COLLECTION = ["Cat mummy case", "seated scribe", "brown limestone"]


def test_merge_phrases_keeps_order_and_dedups():
    assert merge_phrases(ARTWORK, COLLECTION) == [
        "head of a cat statuette", "brown limestone", "Cat mummy case", "seated scribe"]


def test_completion_is_case_insensitive_contains_from_both_sources(qtbot):
    completer = PhraseCompleter()
    completer.set_phrases(merge_phrases(ARTWORK, COLLECTION))
    assert completer.candidates("CAT") == ["head of a cat statuette", "Cat mummy case"]
    assert completer.candidates("scri") == ["seated scribe"]


def test_dialog_offers_editor_suggestions_and_validates(qtbot):
    dialog = LabelDialog(merge_phrases(ARTWORK, COLLECTION), LabelValues("", "Unspecified", False, False))
    qtbot.addWidget(dialog)
    assert dialog.completer.candidates("stone") == ["brown limestone"]
    assert not dialog._ok.isEnabled()
    QTest.keyClicks(dialog.phrase_edit, "  seated   scribe ")
    assert dialog._ok.isEnabled()
    assert dialog.values().phrase == "seated scribe"


def test_double_click_opens_dialog_and_labels_one_step(editor_factory, qtbot):
    editor = editor_factory(regions=[Region(Box(11, 11, 30, 40), "head")])
    editor.set_phrase_suggestions(ARTWORK, COLLECTION)
    canvas = editor.canvas()
    QTest.mouseDClick(canvas.viewport(), Qt.MouseButton.LeftButton, pos=vp(canvas, 20, 20))
    qtbot.waitUntil(lambda: editor.label_dialog() is not None)
    dialog = editor.label_dialog()
    assert dialog.completer.candidates("cat") == ["head of a cat statuette", "Cat mummy case"]
    dialog.phrase_edit.setText("Cat mummy case")
    dialog.truncated_box.setChecked(True)
    dialog.accept()
    r = editor.annotation().regions[0]
    assert (r.phrase, r.truncated, r.box) == ("Cat mummy case", True, Box(11, 11, 30, 40))
    assert editor.undo_stack().count() == 1


def test_draw_then_label_is_one_step_and_cancel_discards(editor_factory, qtbot):
    editor = editor_factory()
    editor.ask_label_on_create = True
    canvas = editor.canvas()
    canvas.set_mode(Mode.DRAW)
    drag(canvas, (10, 10), (40, 30))
    qtbot.waitUntil(lambda: editor.label_dialog() is not None)
    editor.label_dialog().phrase_edit.setText("seated scribe")
    editor.label_dialog().accept()
    assert [(r.phrase, r.box) for r in editor.annotation().regions] == [("seated scribe", Box(11, 11, 40, 30))]
    assert editor.undo_stack().count() == 1
    drag(canvas, (50, 50), (60, 60))
    qtbot.waitUntil(lambda: editor.label_dialog() is not None)
    editor.label_dialog().done(QDialog.DialogCode.Rejected)
    assert len(editor.annotation().regions) == 1
    assert editor.undo_stack().count() == 1 and not editor.undo_stack().canRedo()
    editor.undo_stack().undo()
    assert editor.annotation().regions == [] and not editor.is_dirty()


def test_start_box_with_label_and_label_selected(editor_factory):
    editor = editor_factory()
    canvas = editor.canvas()
    editor.start_box_with_label("brown limestone")
    assert canvas.mode() is Mode.DRAW
    drag(canvas, (10, 10), (40, 30))
    assert canvas.mode() is Mode.SELECT
    assert editor.annotation().regions[0].phrase == "brown limestone"
    assert editor.selected_indices() == [0]
    assert editor.label_selected("head of a cat statuette")
    assert editor.selected_regions()[0].phrase == "head of a cat statuette"
    editor.select_indices([])
    assert not editor.label_selected("nothing selected")
