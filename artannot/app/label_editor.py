"""The label dialog: phrase with completion, plus pose / truncated / difficult.

Completion draws from two sources, artwork phrases first (the metadata of *this* artwork
is what the curator most likely means), then phrases already used in the collection; the
match is case-insensitive and "contains", so typing "cat" finds "head of a cat statuette".
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QStringListModel, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QCompleter,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QWidget,
)

POSES = ("Unspecified", "Frontal", "Left", "Right", "Rear")


def merge_phrases(artwork_phrases: list[str], collection_phrases: list[str]) -> list[str]:
    """Artwork phrases then collection phrases, without duplicates (case-insensitive)."""
    seen: set[str] = set()
    out: list[str] = []
    for phrase in [*artwork_phrases, *collection_phrases]:
        p = phrase.strip()
        if p and p.casefold() not in seen:
            seen.add(p.casefold())
            out.append(p)
    return out


class PhraseCompleter(QCompleter):
    """Case-insensitive contains-match completer over a list that can be replaced."""

    def __init__(self, parent: QWidget | None = None) -> None:
        self._model = QStringListModel()
        super().__init__(self._model, parent)
        self.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setFilterMode(Qt.MatchFlag.MatchContains)
        self.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.setMaxVisibleItems(12)

    def set_phrases(self, phrases: list[str]) -> None:
        self._model.setStringList(phrases)

    def phrases(self) -> list[str]:
        return self._model.stringList()

    def candidates(self, text: str) -> list[str]:
        """What the popup offers for ``text`` (used by tests and by the objects panel)."""
        self.setCompletionPrefix(text)
        model = self.completionModel()
        return [model.index(i, 0).data() for i in range(model.rowCount())]


@dataclass(slots=True)
class LabelValues:
    phrase: str
    pose: str
    truncated: bool
    difficult: bool


class LabelDialog(QDialog):
    """Edit one region's label; ``values()`` after ``exec()`` returned Accepted."""

    def __init__(self, completer_phrases: list[str], initial: LabelValues,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Label region")
        self.phrase_edit = QLineEdit(initial.phrase)
        self.phrase_edit.setPlaceholderText("noun phrase, e.g. head of a cat statuette")
        self.completer = PhraseCompleter(self)
        self.completer.set_phrases(completer_phrases)
        self.phrase_edit.setCompleter(self.completer)
        self.pose_combo = QComboBox()
        self.pose_combo.setEditable(True)  # other tools write free-form poses; keep them
        self.pose_combo.addItems(list(POSES))
        self.pose_combo.setCurrentText(initial.pose)
        self.truncated_box = QCheckBox("truncated")
        self.truncated_box.setChecked(initial.truncated)
        self.difficult_box = QCheckBox("difficult")
        self.difficult_box.setChecked(initial.difficult)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self._ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.phrase_edit.textChanged.connect(self._validate)
        form = QFormLayout(self)
        form.addRow("Phrase", self.phrase_edit)
        form.addRow("Pose", self.pose_combo)
        form.addRow("", self.truncated_box)
        form.addRow("", self.difficult_box)
        form.addRow(buttons)
        self.resize(460, self.sizeHint().height())
        self._validate()
        self.phrase_edit.selectAll()
        self.phrase_edit.setFocus()

    def _validate(self) -> None:
        self._ok.setEnabled(bool(self.phrase_edit.text().strip()))

    def values(self) -> LabelValues:
        return LabelValues(
            phrase=" ".join(self.phrase_edit.text().split()),
            pose=self.pose_combo.currentText().strip() or "Unspecified",
            truncated=self.truncated_box.isChecked(),
            difficult=self.difficult_box.isChecked(),
        )
