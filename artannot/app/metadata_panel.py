"""Metadata panel: every field of the record, descriptions with their noun phrases highlighted,
and the artwork's phrase list with coverage (which phrases already label a box)."""

from __future__ import annotations

import html
from collections.abc import Sequence

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from artannot.core.metadata import text_fields
from artannot.core.model import Artwork, PhraseRecord, normalise_phrase

COVERED = QColor("#2e7d32")


def highlight(text: str, spans: Sequence[PhraseRecord], covered: set[str]) -> str:
    """HTML of ``text`` with each phrase span a link; nested/overlapping spans keep the outermost."""
    out, pos = [], 0
    for p in sorted(spans, key=lambda s: (s.start, -(s.end - s.start))):
        if p.start < pos or p.end > len(text):
            continue
        out.append(html.escape(text[pos:p.start]))
        style = "color:#2e7d32;" if p.norm in covered else "color:#1565c0;"
        out.append(
            f'<a href="phrase:{html.escape(p.norm, quote=True)}" style="{style}text-decoration:none;'
            f'background:#fff3c4">{html.escape(text[p.start:p.end])}</a>'
        )
        pos = p.end
    out.append(html.escape(text[pos:]))
    return "".join(out)


class MetadataPanel(QWidget):
    """Shows an artwork's record; clicking a phrase emits ``phraseActivated(norm)``."""

    phraseActivated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = QTextBrowser()
        self.text.setOpenLinks(False)
        self.text.anchorClicked.connect(self._anchor)
        self.phrase_list = QListWidget()
        self.phrase_list.itemActivated.connect(lambda item: self.phraseActivated.emit(item.data(Qt.UserRole)))
        self.phrase_list.itemClicked.connect(lambda item: self.phraseActivated.emit(item.data(Qt.UserRole)))
        self.coverage = QLabel()
        split = QSplitter(Qt.Vertical)
        split.addWidget(self.text)
        box = QWidget()
        lay = QVBoxLayout(box)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.coverage)
        lay.addWidget(self.phrase_list)
        split.addWidget(box)
        split.setSizes([400, 200])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(split)
        self._artwork: Artwork | None = None
        self._phrases: list[PhraseRecord] = []
        # The user's ``text_fields`` setting: the panel shows as descriptions exactly the fields
        # phrase extraction reads (empty: title/description-like ones, as extraction does).
        self.text_fields: Sequence[str] = ()

    def set_artwork(self, artwork: Artwork | None, phrases: Sequence[PhraseRecord] = (),
                    used_labels: Sequence[str] = (), error: str | None = None) -> None:
        self._artwork = artwork
        self._phrases = list(phrases)
        self.refresh(used_labels, error)

    def refresh(self, used_labels: Sequence[str] = (), error: str | None = None) -> None:
        covered = {normalise_phrase(label) for label in used_labels}
        a = self._artwork
        if a is None:
            self.text.setHtml("<p><i>No artwork selected.</i></p>")
            self.phrase_list.clear()
            self.coverage.setText("")
            return
        parts = [f"<h3>{html.escape(a.title)}</h3>"]
        if error:
            parts.append(f'<p style="color:#b71c1c"><b>Problem:</b> {html.escape(error)}</p>')
        by_field: dict[str, list[PhraseRecord]] = {}
        for p in self._phrases:
            by_field.setdefault(p.field, []).append(p)
        described = set()
        for key, value in text_fields(a.fields, self.text_fields):
            if key.rsplit(".", 1)[-1].lower() == "title":
                continue
            described.add(key)
            parts.append(f'<p style="font-size:11pt">{highlight(value, by_field.get(key, []), covered)}</p>')
        rows = "".join(
            f"<tr><td style='color:#555;padding-right:8px' valign='top'>{html.escape(k)}</td>"
            f"<td>{highlight(v, by_field.get(k, []), covered) if k in by_field else html.escape(v)}</td></tr>"
            for k, v in a.fields.items() if k not in described
        )
        parts.append(f"<table cellspacing='2'>{rows}</table>")
        parts.append(f"<p style='color:#777'>{html.escape(a.id)}</p>")
        self.text.setHtml("".join(parts))

        self.phrase_list.clear()
        seen: dict[str, str] = {}
        for p in self._phrases:
            seen.setdefault(p.norm, p.text)
        n_cov = 0
        for norm, surface in seen.items():
            item = QListWidgetItem(("✓ " if norm in covered else "   ") + surface)
            item.setData(Qt.UserRole, norm)
            if norm in covered:
                n_cov += 1
                item.setForeground(QBrush(COVERED))
            self.phrase_list.addItem(item)
        self.coverage.setText(
            f"Phrases with a box: {n_cov}/{len(seen)}" if seen else "No phrases extracted yet (run “artannot phrases”)."
        )

    def phrases(self) -> list[PhraseRecord]:
        return list(self._phrases)

    def _anchor(self, url: QUrl) -> None:
        s = url.toString()
        if s.startswith("phrase:"):
            self.phraseActivated.emit(QUrl.fromPercentEncoding(s[len("phrase:"):].encode()))
