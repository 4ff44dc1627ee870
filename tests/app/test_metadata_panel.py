"""Metadata panel: the fields it shows as descriptions and the phrase coverage it counts."""

from __future__ import annotations

from pathlib import Path

from artannot.app.metadata_panel import MetadataPanel
from artannot.core.metadata import text_fields
from artannot.core.model import Artwork, PhraseRecord

FIELDS = {
    "title": "Rough Waves",
    "record.label_text": "A towering blue wave.",  # text-like for extraction: shown as prose
    "notes": "https://example.org/n/17",  # a url under a text key: not prose
    "artist": "Ogata Kōrin",
}


def _panel(qtbot) -> MetadataPanel:
    panel = MetadataPanel()
    qtbot.addWidget(panel)
    return panel


def test_descriptions_are_the_fields_extraction_reads(qtbot) -> None:
    panel = _panel(qtbot)
    panel.set_artwork(Artwork("a.jpg", Path("a.jpg"), dict(FIELDS)))
    shown = panel.text.toPlainText()
    # a description is a paragraph without its key; the other fields are "key value" rows
    assert [k for k, _ in text_fields(FIELDS)] == ["title", "record.label_text"]
    assert "A towering blue wave." in shown and "record.label_text" not in shown
    assert "notes" in shown and "artist" in shown
    # the user's choice of fields is the same one extraction gets
    panel.text_fields = ("artist",)
    panel.refresh()
    shown = panel.text.toPlainText()
    assert "artist" not in shown and "record.label_text" in shown


def test_coverage_compares_labels_by_the_phrase_norm(qtbot) -> None:
    panel = _panel(qtbot)
    text = FIELDS["record.label_text"]
    phrases = [PhraseRecord("record.label_text", 2, 20, "towering blue wave", "towering blue wave"),
               PhraseRecord("record.label_text", 11, 20, "blue wave", "blue wave"),
               PhraseRecord("title", 0, 11, "Rough Waves", "rough waves")]
    assert text[2:20] == "towering blue wave"
    # a label typed with doubled/odd whitespace, or decomposed accents, still covers its phrase
    panel.set_artwork(Artwork("a.jpg", Path("a.jpg"), dict(FIELDS)), phrases,
                      used_labels=["  Towering  blue\twave ", "Rough Waves"])
    assert panel.coverage.text() == "Phrases with a box: 2/3"
    cafe = [PhraseRecord("title", 0, 4, "Café", "café")]
    panel.set_artwork(Artwork("b.jpg", Path("b.jpg"), {"title": "Café"}), cafe,
                      used_labels=["Cafe\u0301"])
    assert panel.coverage.text() == "Phrases with a box: 1/1"


def test_main_window_gives_the_panel_the_extraction_fields(qtbot) -> None:
    from artannot.app.main_window import MainWindow, WindowSettings

    window = MainWindow(WindowSettings(autosave_seconds=0, extract_phrases=False,
                                       text_fields=("artist",)))
    qtbot.addWidget(window)
    assert tuple(window.metadata.text_fields) == ("artist",)
    window.metadata.set_artwork(Artwork("a.jpg", Path("a.jpg"), dict(FIELDS)))
    shown = window.metadata.text.toPlainText()
    assert "artist" not in shown and "Ogata Kōrin" in shown  # a description, not a row
    assert "record.label_text" in shown
