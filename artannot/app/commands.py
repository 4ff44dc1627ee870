"""The editable region list of one artwork and the undoable commands that change it.

Every edit of the editor goes through a QUndoCommand pushed on the editor's QUndoStack, so
undo/redo and the dirty flag (``QUndoStack.isClean``) cover all of them.  Commands address
regions by index: the stack replays them in order, so indices are always valid.

``RegionDocument`` is the single source of truth; the canvas and the objects panel listen to
its signals and never change regions themselves.  Regions are replaced, not mutated, with
``dataclasses.replace`` so the opaque ``element`` handle (lossless saving) is carried along.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand

from artannot.core.model import Region

NUDGE_MERGE_ID = 4242


class RegionDocument(QObject):
    """Ordered regions of the artwork being edited; emits what changed."""

    reset = Signal()  # whole list replaced (new artwork)
    structureChanged = Signal(list)  # regions inserted/removed; arg: indices to select after
    regionsChanged = Signal(list)  # indices whose box or attributes changed

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._regions: list[Region] = []

    def regions(self) -> list[Region]:
        return list(self._regions)

    def region(self, index: int) -> Region:
        return self._regions[index]

    def __len__(self) -> int:
        return len(self._regions)

    def set_regions(self, regions: Sequence[Region]) -> None:
        self._regions = list(regions)
        self.reset.emit()

    # -- primitive mutations, only called by commands -----------------------------------
    def _replace(self, items: dict[int, Region]) -> None:
        for i, region in items.items():
            self._regions[i] = region
        self.regionsChanged.emit(sorted(items))

    def _insert(self, items: list[tuple[int, Region]]) -> None:
        for i, region in sorted(items, key=lambda t: t[0]):
            self._regions.insert(i, region)
        self.structureChanged.emit(sorted(i for i, _ in items))

    def _remove(self, indices: Sequence[int]) -> list[tuple[int, Region]]:
        removed = [(i, self._regions[i]) for i in sorted(indices)]
        for i in sorted(indices, reverse=True):
            del self._regions[i]
        self.structureChanged.emit([])
        return removed


class ReplaceRegionsCommand(QUndoCommand):
    """Change boxes and/or attributes of one or more regions as one undo step."""

    def __init__(self, doc: RegionDocument, new: dict[int, Region], text: str,
                 merge_id: int = -1) -> None:
        super().__init__(text)
        self._doc = doc
        self._old = {i: doc.region(i) for i in new}
        self._new = dict(new)
        self._merge_id = merge_id

    def id(self) -> int:
        return self._merge_id

    def mergeWith(self, other: QUndoCommand) -> bool:
        """Consecutive arrow-key nudges of the same selection become one undo step."""
        if not isinstance(other, ReplaceRegionsCommand) or other.id() != self.id():
            return False
        if set(other._new) != set(self._new):
            return False
        self._new = dict(other._new)
        return True

    def redo(self) -> None:
        self._doc._replace(self._new)

    def undo(self) -> None:
        self._doc._replace(self._old)


class InsertRegionsCommand(QUndoCommand):
    """Add regions (create, duplicate, paste); they are appended at the end."""

    def __init__(self, doc: RegionDocument, regions: Sequence[Region], text: str) -> None:
        super().__init__(text)
        self._doc = doc
        start = len(doc)
        self._items = [(start + k, r) for k, r in enumerate(regions)]
        self.discard_on_undo = False

    def indices(self) -> list[int]:
        return [i for i, _ in self._items]

    def amend(self, index: int, region: Region) -> None:
        """Change an inserted region while this command is on top of the stack.

        Used when a drawn box is labelled in the dialog that follows the drag: box and
        label stay one undo step.
        """
        self._items = [(i, region if i == index else r) for i, r in self._items]
        self._doc._replace({index: region})

    def redo(self) -> None:
        self._doc._insert(self._items)

    def undo(self) -> None:
        self._doc._remove([i for i, _ in self._items])
        if self.discard_on_undo:
            # QUndoStack deletes a command that becomes obsolete during undo(): no redo
            self.setObsolete(True)


class RemoveRegionsCommand(QUndoCommand):
    """Delete (or reject) several regions as one undo step; undo puts them back in place."""

    def __init__(self, doc: RegionDocument, indices: Sequence[int], text: str) -> None:
        super().__init__(text)
        self._doc = doc
        self._indices = sorted(set(indices))
        self._removed: list[tuple[int, Region]] = []

    def redo(self) -> None:
        self._removed = self._doc._remove(self._indices)

    def undo(self) -> None:
        self._doc._insert(self._removed)


class SetFlagCommand(QUndoCommand):
    """Toggle an annotation-level boolean (``verified``) through the undo stack."""

    def __init__(self, getter, setter, value: bool, text: str) -> None:
        super().__init__(text)
        self._get, self._set, self._value = getter, setter, value
        self._old = getter()

    def redo(self) -> None:
        self._set(self._value)

    def undo(self) -> None:
        self._set(self._old)


def with_attrs(region: Region, **attrs: object) -> Region:
    """A copy of ``region`` with some fields changed; keeps ``element``."""
    return replace(region, **attrs)
