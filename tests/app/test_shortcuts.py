"""The one shortcut table: unique keys, actions built from it, markdown, help dialog."""

from __future__ import annotations

from PySide6.QtGui import QKeySequence

from artannot.app.shortcuts import (
    ACTIONS,
    SPECS,
    ShortcutsDialog,
    create_action,
    shortcuts_markdown,
)


def test_table_has_labelimg_keys_and_no_duplicates():
    keys = [QKeySequence(s).toString() for spec in ACTIONS for s in spec.shortcuts]
    assert len(keys) == len(set(keys))
    expect = {"draw_mode": "W", "next_artwork": "D", "prev_artwork": "A", "save": "Ctrl+S",
              "delete": "Delete", "verify": "Space", "duplicate": "Ctrl+D",
              "paste_previous": "Ctrl+V", "undo": "Ctrl+Z", "redo": "Ctrl+Shift+Z",
              "fit_window": "Ctrl+F", "fit_width": "Ctrl+Shift+F", "zoom_100": "Ctrl+0",
              "toggle_boxes": "Ctrl+H"}
    for action_id, key in expect.items():
        assert key in SPECS[action_id].shortcuts


def test_markdown_and_dialog_cover_every_action(qtbot):
    md = shortcuts_markdown()
    assert md.startswith("| Action | Shortcut |")
    assert all(spec.label in md for spec in ACTIONS)
    dialog = ShortcutsDialog()
    qtbot.addWidget(dialog)
    assert dialog.table.rowCount() == len(ACTIONS)


def test_create_action_and_editor_actions(qtbot, editor_factory):
    action = create_action("save", None)
    assert action.shortcut().toString() == "Ctrl+S" and action.objectName() == "action_save"
    editor = editor_factory()
    ids = [a.objectName().removeprefix("action_") for a in editor.actions()]
    assert ids == [s.id for s in ACTIONS if s.owner == "editor"]
