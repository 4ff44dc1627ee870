"""Collection progress: metadata phrases that already label a box, compared by the phrase norm."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from artannot.core.catalog import CollectionStats
from artannot.core.geometry import Box
from artannot.core.model import PhraseRecord, Region, normalise_phrase
from artannot.core.queue import collection_progress
from artannot.core.voc import new_annotation, save_voc


class FakeCatalog:
    def __init__(self, folder: Path, labels: list[str], norms: list[str]) -> None:
        self.voc = folder / "a.xml"
        ann = new_annotation(folder / "a.jpg", 100, 100)
        ann.regions = [Region(Box(1, 1, 10 + i, 10 + i), label) for i, label in enumerate(labels)]
        save_voc(ann, self.voc)
        self.norms = norms

    def stats(self) -> CollectionStats:
        return CollectionStats(artworks=1, annotated=1)

    def rows(self, order: str) -> list[SimpleNamespace]:
        return [SimpleNamespace(id="a.jpg", n_regions=1)]

    def phrases(self, artwork_id: str) -> list[PhraseRecord]:
        return [PhraseRecord("description", 0, len(n), n, n) for n in self.norms]

    def annotation_path(self, artwork_id: str) -> Path:
        return self.voc


def test_normalise_phrase() -> None:
    assert normalise_phrase("  Towering\tBlue \n Wave ") == "towering blue wave"
    assert normalise_phrase("Cafe\u0301") == "café"
    assert normalise_phrase("A  B", lowercase=False, collapse_whitespace=False) == "A  B"


def test_labels_count_as_covered_by_their_norm(tmp_path: Path) -> None:
    # a label typed with a decomposed accent (macOS input) or odd spacing covers the phrase
    cat = FakeCatalog(tmp_path, ["Caf\u0065\u0301 terrace", "Blue  Wave"], ["café terrace", "blue wave", "boat"])
    progress = collection_progress(cat)
    assert (progress.phrases, progress.phrases_covered) == (3, 2)
