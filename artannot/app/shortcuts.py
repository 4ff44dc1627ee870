"""The one table of actions and keyboard shortcuts (LabelImg's keys where it has one).

QActions, the help dialog and the README's shortcut table are all generated from
``ACTIONS``, so they cannot drift apart.  ``owner`` says who creates the QAction: the
annotation editor, or the main window (navigation, saving, help).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

Scope = Literal["window", "editor", "canvas"]


@dataclass(frozen=True, slots=True)
class ActionSpec:
    id: str
    label: str
    shortcuts: tuple[str, ...]
    help: str
    owner: Literal["editor", "main"] = "editor"
    # window: anywhere in the window; editor: focus inside the editor; canvas: canvas focused
    # (arrows and Enter must keep working in tables and lists elsewhere).
    scope: Scope = "editor"
    checkable: bool = False


ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("next_artwork", "Next artwork", ("D",), "Go to the next artwork (saves this one first; see settings).", "main", "window"),
    ActionSpec("prev_artwork", "Previous artwork", ("A",), "Go to the previous artwork.", "main", "window"),
    ActionSpec("next_unannotated", "Next artwork without annotation", ("Shift+N",), "Go to the next listed artwork that has no box yet.", "main", "window"),
    ActionSpec("save", "Save", ("Ctrl+S",), "Write the Pascal VOC file of this artwork.", "main", "window"),
    ActionSpec("show_shortcuts", "Keyboard shortcuts", ("F1",), "Show this table.", "main", "window"),
    ActionSpec("draw_mode", "Draw boxes", ("W",), "Toggle draw mode: drag on the image to create a box.", scope="window", checkable=True),
    ActionSpec("edit_label", "Edit label…", ("Ctrl+E",), "Edit phrase, pose, truncated and difficult of the selected box (or double-click it)."),
    ActionSpec("delete", "Delete box", ("Delete",), "Delete the selected boxes, or reject selected proposals."),
    ActionSpec("duplicate", "Duplicate box", ("Ctrl+D",), "Duplicate the selected boxes (offset by 10 px)."),
    ActionSpec("paste_previous", "Copy boxes of previous artwork", ("Ctrl+V",), "Add the boxes of the previously viewed artwork to this one.", scope="window"),
    ActionSpec("accept_proposal", "Accept proposal", ("Return", "Enter"), "Turn the selected dashed proposals into manual boxes.", scope="canvas"),
    ActionSpec("select_all", "Select all boxes", ("Ctrl+A",), "Select every box drawn on this artwork (proposals hidden by the “proposals shown” slider are left out).", scope="canvas"),
    ActionSpec("verify", "Verified", ("Space",), "Mark this artwork's annotation as verified (or not).", scope="window", checkable=True),
    ActionSpec("undo", "Undo", ("Ctrl+Z",), "Undo the last edit of this artwork.", scope="window"),
    ActionSpec("redo", "Redo", ("Ctrl+Shift+Z", "Ctrl+Y"), "Redo the last undone edit.", scope="window"),
    ActionSpec("toggle_boxes", "Hide boxes", ("Ctrl+H",), "Hide or show all boxes to see the artwork.", scope="window", checkable=True),
    ActionSpec("zoom_in", "Zoom in", ("Ctrl++", "Ctrl+="), "Zoom in (the mouse wheel zooms under the cursor).", scope="window"),
    ActionSpec("zoom_out", "Zoom out", ("Ctrl+-",), "Zoom out.", scope="window"),
    ActionSpec("fit_window", "Fit window", ("Ctrl+F",), "Show the whole image.", scope="window"),
    ActionSpec("fit_width", "Fit width", ("Ctrl+Shift+F",), "Fit the image width to the window.", scope="window"),
    ActionSpec("zoom_100", "Actual size", ("Ctrl+0",), "One image pixel per screen pixel.", scope="window"),
    ActionSpec("nudge_left", "Nudge left", ("Left",), "Move the selected boxes 1 px left.", scope="canvas"),
    ActionSpec("nudge_right", "Nudge right", ("Right",), "Move the selected boxes 1 px right.", scope="canvas"),
    ActionSpec("nudge_up", "Nudge up", ("Up",), "Move the selected boxes 1 px up.", scope="canvas"),
    ActionSpec("nudge_down", "Nudge down", ("Down",), "Move the selected boxes 1 px down.", scope="canvas"),
    ActionSpec("nudge_left_10", "Nudge left 10 px", ("Shift+Left",), "Move the selected boxes 10 px left.", scope="canvas"),
    ActionSpec("nudge_right_10", "Nudge right 10 px", ("Shift+Right",), "Move the selected boxes 10 px right.", scope="canvas"),
    ActionSpec("nudge_up_10", "Nudge up 10 px", ("Shift+Up",), "Move the selected boxes 10 px up.", scope="canvas"),
    ActionSpec("nudge_down_10", "Nudge down 10 px", ("Shift+Down",), "Move the selected boxes 10 px down.", scope="canvas"),
    ActionSpec("cancel", "Cancel", ("Esc",), "Cancel a drag, leave draw mode, or clear the selection.", scope="canvas"),
    # suggestions (issue 8) and detection (issue 6): owned by the main window's controllers
    ActionSpec("detect_artwork", "Detect regions", ("Ctrl+R",), "Detect regions of this artwork (stored ones are shown at once); proposals appear dashed with their score.", "main", "window"),
    ActionSpec("detect_collection", "Detect regions in the whole collection", ("Ctrl+Shift+R",), "Detect and store regions of every artwork in the background (resumable, cancellable).", "main", "window"),
    ActionSpec("phrase_regions", "Find regions for phrases", ("Ctrl+L",), "While on, clicking a phrase highlights the best-matching regions instead of labelling the selected box.", "main", "window", checkable=True),
    ActionSpec("toggle_heatmap", "Attention heat map", ("Ctrl+Shift+H",), "Show or hide the phrase's attention heat map over the image.", "main", "window", checkable=True),
    ActionSpec("search_collection", "Search fragments", ("Ctrl+K",), "Search the whole collection for fragments matching a phrase.", "main", "window"),
    ActionSpec("next_in_queue", "Next artwork to annotate", ("N",), "Open the next artwork of the annotation queue (strategy chosen in the queue panel).", "main", "window"),
    ActionSpec("about_models", "About models", (), "Which detector, backbone and SCAN model are in use, and where they came from.", "main", "window"),
)

SPECS: dict[str, ActionSpec] = {spec.id: spec for spec in ACTIONS}

_CONTEXT = {
    "window": Qt.ShortcutContext.WindowShortcut,
    "editor": Qt.ShortcutContext.WidgetWithChildrenShortcut,
    "canvas": Qt.ShortcutContext.WidgetShortcut,
}


def create_action(spec_id: str, parent: QObject, slot: Callable[..., object] | None = None) -> QAction:
    """A QAction for ``spec_id`` with text, shortcuts, context and tips from the table.

    The caller must add it to the widget whose focus scope matches ``spec.scope``
    (``widget.addAction``); adding it to a menu as well is fine.
    """
    spec = SPECS[spec_id]
    action = QAction(spec.label, parent)
    action.setObjectName(f"action_{spec.id}")
    action.setShortcuts([QKeySequence(s) for s in spec.shortcuts])
    action.setShortcutContext(_CONTEXT[spec.scope])
    action.setCheckable(spec.checkable)
    action.setStatusTip(spec.help)
    keys = ", ".join(spec.shortcuts)
    action.setToolTip(f"{spec.label} ({keys})" if keys else spec.label)
    if slot is not None:
        action.triggered.connect(slot)
    return action


def _display_keys(spec: ActionSpec) -> str:
    return " / ".join(QKeySequence(s).toString(QKeySequence.SequenceFormat.NativeText) or s
                      for s in spec.shortcuts)


def shortcuts_markdown() -> str:
    """The table as GitHub markdown, for the README and the docs."""
    lines = ["| Action | Shortcut | What it does |", "|---|---|---|"]
    for spec in ACTIONS:
        keys = " / ".join(f"`{s}`" for s in spec.shortcuts)
        lines.append(f"| {spec.label} | {keys} | {spec.help} |")
    return "\n".join(lines) + "\n"


class ShortcutsDialog(QDialog):
    """Help dialog listing every shortcut (F1)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.table = QTableWidget(len(ACTIONS), 3)
        self.table.setHorizontalHeaderLabels(["Action", "Shortcut", "What it does"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for row, spec in enumerate(ACTIONS):
            for col, text in enumerate((spec.label, _display_keys(spec), spec.help)):
                self.table.setItem(row, col, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setStretchLastSection(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(760, 560)
