"""AnnotationEditor: canvas + objects table + undo stack for one artwork at a time.

This is the whole contract the main window uses (see ``set_annotation`` / ``annotation``).
Every change goes through ``self._stack``; ``is_dirty`` is simply "the stack is not at its
clean index", so undoing back to the saved state makes the artwork clean again.

Slightly over 400 lines: one widget whose undo commands must stay next to the stack they
belong to.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QRectF, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QUndoStack
from PySide6.QtWidgets import QDialog, QSplitter, QVBoxLayout, QWidget

from artannot.app.box_item import ProposalLabel, box_to_rect, clamp_offset, rect_to_box, snap_rect
from artannot.app.canvas import AnnotationCanvas, Mode
from artannot.app.commands import (
    NUDGE_MERGE_ID,
    InsertRegionsCommand,
    RegionDocument,
    RemoveRegionsCommand,
    ReplaceRegionsCommand,
    SetFlagCommand,
    with_attrs,
)
from artannot.app.label_editor import LabelDialog, LabelValues, merge_phrases
from artannot.app.objects_panel import ObjectsPanel
from artannot.app.shortcuts import ACTIONS, create_action
from artannot.core.geometry import Box
from artannot.core.model import Annotation, Region

DUPLICATE_OFFSET = 10


class AnnotationEditor(QWidget):
    """Edits the regions of one artwork; see the module docstring."""

    dirtyChanged = Signal(bool)
    selectionChanged = Signal(list)  # selected region indices
    regionsChanged = Signal()
    verifiedChanged = Signal(bool)
    pastePreviousRequested = Signal()  # Ctrl+V: the main window answers with paste_regions()
    proposalsAccepted = Signal(list)  # list[Region] as accepted: relevance judgements (later)
    proposalsRejected = Signal(list)  # list[Region] as they were before deletion

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._doc = RegionDocument(self)
        self._stack = QUndoStack(self)
        self._canvas = AnnotationCanvas(self)
        self._panel = ObjectsPanel(self)
        self._canvas.set_document(self._doc)
        self._panel.set_document(self._doc)
        self._annotation = Annotation(filename="")
        self._image_path: Path | None = None
        self._verified = False
        self._phrases: list[str] = []
        self._pending_label: str | None = None
        self._syncing_selection = False
        self._dialog: LabelDialog | None = None
        self.ask_label_on_create = True  # LabelImg behaviour: label dialog after each drag

        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(self._canvas)
        splitter.addWidget(self._panel)
        splitter.setStretchFactor(0, 4)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([720, 280])  # canvas first: the table's size hint would win otherwise
        self._splitter = splitter
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

        self._stack.cleanChanged.connect(self._on_clean_changed)
        self._doc.reset.connect(self._on_regions_changed)
        self._doc.structureChanged.connect(self._on_regions_changed)
        self._doc.regionsChanged.connect(self._on_regions_changed)
        self._canvas.selectionChanged.connect(self._on_canvas_selection)
        self._panel.selectionChanged.connect(self._on_panel_selection)
        self._canvas.boxDrawn.connect(self._on_box_drawn)
        self._canvas.boxesEdited.connect(self._on_boxes_edited)
        self._canvas.boxDoubleClicked.connect(self.edit_label)
        self._panel.rowActivated.connect(self.edit_label)
        self._panel.attributeEdited.connect(self._on_attribute_edited)
        self._actions = self._create_actions()

    # == the contract ===================================================================
    def set_annotation(self, image_path: Path, annotation: Annotation) -> None:
        """Show ``image_path`` with ``annotation``; clears undo history, starts clean."""
        self._close_dialog()
        self._pending_label = None
        self._canvas.set_mode(Mode.SELECT)
        self._canvas.clear_proposal_labels()  # they named the previous artwork's boxes
        self._stack.clear()
        self._image_path = Path(image_path) if image_path is not None else None
        self._canvas.set_image(self._image_path, annotation.width, annotation.height)
        w, h = self._canvas.image_size()
        self._annotation = replace(annotation, regions=[],
                                   width=annotation.width or w, height=annotation.height or h)
        self._set_verified(bool(annotation.verified))
        self._doc.set_regions([replace(r) for r in annotation.regions])
        self._stack.setClean()
        self.dirtyChanged.emit(False)

    def annotation(self) -> Annotation:
        """Current state; regions keep their ``element`` handle for lossless saving."""
        return replace(self._annotation, regions=self._doc.regions(), verified=self._verified)

    def prefetch_image(self, image_path: Path) -> None:
        """Decode the display preview of an artwork the user will likely open next."""
        self._canvas.loader().prefetch(Path(image_path))

    def shutdown(self, msecs: int = 5_000) -> None:
        """Call from the main window's closeEvent: lets background decodes finish first."""
        self._close_dialog()
        self._canvas.loader().clear()
        self._canvas.loader().wait_idle(msecs)

    def image_path(self) -> Path | None:
        return self._image_path

    def is_dirty(self) -> bool:
        return not self._stack.isClean()

    def mark_saved(self, saved: Annotation | None = None) -> None:
        """The current state is on disk; ``saved`` (optional) carries the new stamp/tree."""
        if saved is not None:
            self._annotation = replace(saved, regions=[], verified=self._verified)
        self._stack.setClean()

    def undo_stack(self) -> QUndoStack:
        return self._stack

    def canvas(self) -> AnnotationCanvas:
        return self._canvas

    def objects_panel(self) -> ObjectsPanel:
        return self._panel

    def actions(self) -> list[QAction]:  # type: ignore[override]
        """Editor-owned actions in shortcut-table order, ready for the main window's menus."""
        return list(self._actions.values())

    def action(self, action_id: str) -> QAction:
        return self._actions[action_id]

    def selected_regions(self) -> list[Region]:
        return [self._doc.region(i) for i in self.selected_indices()]

    def selected_indices(self) -> list[int]:
        return self._canvas.selected_indices()

    def select_indices(self, indices: Sequence[int]) -> None:
        self._canvas.select_indices(list(indices))

    def set_phrase_suggestions(self, artwork_phrases: list[str], collection_phrases: list[str]) -> None:
        """Completion sources of the label editor: this artwork's phrases first."""
        self._phrases = merge_phrases(list(artwork_phrases), list(collection_phrases))

    def paste_regions(self, regions: Sequence[Region]) -> None:
        """Add copies of ``regions`` (e.g. the previous artwork's boxes) as one undo step."""
        self._insert([self._fresh_copy(r) for r in regions], "Paste boxes")

    def add_proposals(self, regions: Sequence[Region]) -> None:
        """Add detector/suggestion boxes (drawn dashed until accepted) as one undo step."""
        self._insert([self._fresh_copy(r) for r in regions], "Add proposals")

    def add_proposal_labels(self, labels: Mapping[Box, ProposalLabel]) -> None:
        """Show the model's best phrase on proposals (by box); accepting one gives it that phrase.

        A view hint, not an edit: no undo step, nothing dirty, nothing saved until accepted.
        """
        self._canvas.add_proposal_labels(labels)

    def set_proposal_limit(self, limit: int | None) -> None:
        """Draw only the ``limit`` best detector proposals; the others are kept, not deleted."""
        self._canvas.set_proposal_limit(limit)
        self._panel.set_proposal_limit(limit)

    def pending_proposals(self) -> list[Region]:
        """Proposals not accepted yet, in document order (shown or held back by the limit)."""
        return [r for r in self._doc.regions() if r.source != "manual"]

    def label_selected(self, phrase: str) -> bool:
        """Give every selected box ``phrase`` (one undo step); False when none is selected."""
        phrase = " ".join(phrase.split())
        sel = self.selected_indices()
        if not sel or not phrase:
            return False
        self._replace({i: with_attrs(self._doc.region(i), phrase=phrase) for i in sel}, "Label box")
        return True

    def start_box_with_label(self, phrase: str) -> None:
        """Enter draw mode; the next box drawn gets ``phrase`` without asking."""
        self._pending_label = " ".join(phrase.split()) or None
        self._canvas.set_mode(Mode.DRAW)
        self._canvas.setFocus()

    # == edits ==========================================================================
    def _fresh_copy(self, region: Region) -> Region:
        """A new region: clamped into this image and detached from the old XML element."""
        w, h = self._canvas.image_size()
        return replace(region, box=region.box.clamped(w, h), element=None)

    def _insert(self, regions: list[Region], text: str) -> InsertRegionsCommand | None:
        if not regions:
            return None
        cmd = InsertRegionsCommand(self._doc, regions, text)
        self._stack.push(cmd)
        return cmd

    def _replace(self, new: dict[int, Region], text: str, merge_id: int = -1) -> None:
        new = {i: r for i, r in new.items() if r != self._doc.region(i)}
        if new:
            self._stack.push(ReplaceRegionsCommand(self._doc, new, text, merge_id))

    def _on_box_drawn(self, rect: QRectF) -> None:
        region = Region(box=rect_to_box(rect), phrase=self._pending_label or "")
        cmd = self._insert([region], "Create box")
        if self._pending_label is not None:
            self._pending_label = None
            self._canvas.set_mode(Mode.SELECT)
        elif self.ask_label_on_create and cmd is not None:
            # after the mouse handler returns: no nested event loop inside a mouse event
            QTimer.singleShot(0, lambda: self._open_dialog(cmd.indices()[0], created=cmd))

    def _on_boxes_edited(self, rects: dict) -> None:
        new = {i: with_attrs(self._doc.region(i), box=rect_to_box(r)) for i, r in rects.items()}
        self._replace(new, "Move box" if len(new) > 1 else "Edit box")

    def _on_attribute_edited(self, row: int, name: str, value: object) -> None:
        self._replace({row: with_attrs(self._doc.region(row), **{name: value})}, f"Set {name}")

    def nudge(self, dx: int, dy: int) -> None:
        """Move the selection by whole pixels, all boxes together, never out of the image."""
        sel = self.selected_indices()
        if not sel:
            return
        w, h = self._canvas.image_size()
        rects = {i: box_to_rect(self._doc.region(i).box) for i in sel}
        for r in rects.values():
            dx, dy = clamp_offset(r, dx, dy, w, h)
        if dx or dy:
            new = {i: with_attrs(self._doc.region(i), box=rect_to_box(r.translated(dx, dy)))
                   for i, r in rects.items()}
            self._replace(new, "Nudge box", NUDGE_MERGE_ID)

    def duplicate_selected(self) -> None:
        w, h = self._canvas.image_size()
        copies = []
        for region in self.selected_regions():
            r = box_to_rect(region.box)
            dx, dy = clamp_offset(r, DUPLICATE_OFFSET, DUPLICATE_OFFSET, w, h)
            r = r.translated(dx, dy)
            copies.append(replace(region, box=rect_to_box(r), element=None))
        self._insert(copies, "Duplicate box")

    def delete_selected(self) -> None:
        sel = self.selected_indices()
        if not sel:
            return
        rejected = [self._doc.region(i) for i in sel if self._doc.region(i).source != "manual"]
        self._stack.push(RemoveRegionsCommand(self._doc, sel, "Delete box"))
        if rejected:
            self.proposalsRejected.emit(rejected)

    def accept_selected(self) -> None:
        """Selected proposals become manual boxes (solid), snapped to whole pixels; an unnamed
        one takes the phrase shown on it (the model's best), so Enter is a labelled box."""
        w, h = self._canvas.image_size()
        new = {}
        for i in self.selected_indices():
            region = self._doc.region(i)
            if region.source != "manual":
                x0, y0, x1, y1 = region.box.to_edges()
                box = rect_to_box(snap_rect(x0, y0, x1, y1, w, h))
                hint = self._canvas.proposal_label(region.box)
                phrase = region.phrase or (" ".join(hint.label.split()) if hint is not None else "")
                new[i] = with_attrs(region, source="manual", box=box, phrase=phrase)
        if new:
            self._replace(new, "Accept proposal")
            self.proposalsAccepted.emit(list(new.values()))

    def toggle_verified(self) -> None:
        value = not self._verified
        self._stack.push(SetFlagCommand(lambda: self._verified, self._set_verified, value,
                                        "Verify" if value else "Unverify"))

    def _set_verified(self, value: bool) -> None:
        changed = value != self._verified
        self._verified = value
        if hasattr(self, "_actions"):
            self._actions["verify"].setChecked(value)
        if changed:
            self.verifiedChanged.emit(value)

    def set_boxes_visible(self, visible: bool) -> None:
        self._canvas.set_boxes_visible(visible)
        self._actions["toggle_boxes"].setChecked(not visible)

    # == label dialog ===================================================================
    def edit_label(self, index: int | None = None) -> None:
        if index is None or isinstance(index, bool):
            sel = self.selected_indices()
            if not sel:
                return
            index = sel[0]
        self._open_dialog(index, created=None)

    def label_dialog(self) -> LabelDialog | None:
        """The open label dialog, if any (tests and the main window's status use it)."""
        return self._dialog

    def _open_dialog(self, index: int, created: InsertRegionsCommand | None) -> None:
        self._close_dialog()
        region = self._doc.region(index)
        dialog = LabelDialog(self._phrases, LabelValues(region.phrase, region.pose,
                                                        region.truncated, region.difficult), self)
        self._dialog = dialog
        dialog.finished.connect(lambda result: self._dialog_done(dialog, index, created, result))
        dialog.open()

    def _dialog_done(self, dialog: LabelDialog, index: int, created: InsertRegionsCommand | None,
                     result: int) -> None:
        if self._dialog is dialog:
            self._dialog = None
        dialog.deleteLater()
        still_top = created is not None and self._stack.command(self._stack.index() - 1) is created
        if result != QDialog.DialogCode.Accepted:
            if still_top:  # cancelling the label of a just-drawn box discards it (LabelImg)
                created.discard_on_undo = True
                self._stack.undo()
            return
        v = dialog.values()
        region = with_attrs(self._doc.region(index), phrase=v.phrase, pose=v.pose,
                            truncated=v.truncated, difficult=v.difficult)
        if still_top:
            created.amend(index, region)  # box + label: one undo step
        elif index < len(self._doc):
            self._replace({index: region}, "Label box")

    def _close_dialog(self) -> None:
        if self._dialog is not None:
            dialog, self._dialog = self._dialog, None
            dialog.finished.disconnect()
            dialog.reject()
            dialog.deleteLater()

    # bound slots (not lambdas): Qt drops them when the editor is destroyed
    @Slot(bool)
    def _on_clean_changed(self, clean: bool) -> None:
        self.dirtyChanged.emit(not clean)

    @Slot()
    def _on_regions_changed(self, *_: object) -> None:
        self.regionsChanged.emit()

    # == selection sync (blocker against feedback loops) ================================
    def _on_canvas_selection(self, indices: list) -> None:
        if self._syncing_selection:
            return
        self._syncing_selection = True
        try:
            self._panel.select_indices(indices)
        finally:
            self._syncing_selection = False
        self.selectionChanged.emit(list(indices))

    def _on_panel_selection(self, indices: list) -> None:
        if self._syncing_selection:
            return
        self._syncing_selection = True
        try:
            self._canvas.select_indices(indices)
        finally:
            self._syncing_selection = False
        self.selectionChanged.emit(list(indices))

    # == actions ========================================================================
    def _create_actions(self) -> dict[str, QAction]:
        c = self._canvas
        slots = {
            "draw_mode": lambda: c.set_mode(Mode.DRAW if c.mode() is Mode.SELECT else Mode.SELECT),
            "edit_label": lambda: self.edit_label(None),
            "delete": self.delete_selected,
            "duplicate": self.duplicate_selected,
            "paste_previous": self.pastePreviousRequested.emit,
            "accept_proposal": self.accept_selected,
            "select_all": lambda: c.select_indices(c.shown_indices()),
            "verify": self.toggle_verified,
            "undo": self._stack.undo,
            "redo": self._stack.redo,
            "toggle_boxes": lambda: self.set_boxes_visible(not c.boxes_visible()),
            "zoom_in": c.zoom_in, "zoom_out": c.zoom_out, "fit_window": c.fit_window,
            "fit_width": c.fit_width, "zoom_100": c.zoom_100,
            "nudge_left": lambda: self.nudge(-1, 0), "nudge_right": lambda: self.nudge(1, 0),
            "nudge_up": lambda: self.nudge(0, -1), "nudge_down": lambda: self.nudge(0, 1),
            "nudge_left_10": lambda: self.nudge(-10, 0), "nudge_right_10": lambda: self.nudge(10, 0),
            "nudge_up_10": lambda: self.nudge(0, -10), "nudge_down_10": lambda: self.nudge(0, 10),
            "cancel": c.cancel,
        }
        actions: dict[str, QAction] = {}
        for spec in ACTIONS:
            if spec.owner != "editor":
                continue
            action = create_action(spec.id, self)
            action.triggered.connect(lambda _=False, f=slots[spec.id]: f())
            (c if spec.scope == "canvas" else self).addAction(action)
            actions[spec.id] = action
        c.modeChanged.connect(lambda mode: actions["draw_mode"].setChecked(mode == Mode.DRAW.value))
        self._stack.canUndoChanged.connect(actions["undo"].setEnabled)
        self._stack.canRedoChanged.connect(actions["redo"].setEnabled)
        actions["undo"].setEnabled(False)
        actions["redo"].setEnabled(False)
        return actions
