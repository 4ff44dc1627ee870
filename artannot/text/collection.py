"""Phrase extraction for a whole collection: incremental, resumable, Qt-free.

Used by ``artannot phrases`` and by the GUI's worker. Each artwork's selected text is hashed
together with the extraction options; an artwork whose stored hash matches is skipped, so a
run stopped halfway (Ctrl+C, cancel) resumes where it was and a metadata edit re-extracts
only that artwork. Phrases are stored per artwork as soon as they are found.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from artannot.core.metadata import text_fields
from artannot.core.model import Artwork, PhraseRecord
from artannot.text.karpathy import CaptionImage, sentences_for, write_caption_data
from artannot.text.phrases import PhraseExtractor
from artannot.text.splits import assign_splits, split_counts
from artannot.text.vocab import PhraseVocab, WordVocab

VOCAB_FILE = "vocab.json"
WORD_VOCAB_FILE = "word_vocab.json"
CAPTION_FILE = "caption_data.json"
_STORE_BATCH = 64  # artworks per catalog transaction


class PhraseCatalog(Protocol):
    """The part of ``artannot.core.catalog.Catalog`` this module needs."""

    data_dir: Path

    def artworks(self) -> list[Artwork]: ...
    def phrase_text_hash(self, artwork_id: str) -> str | None: ...
    def store_phrases(self, items: Sequence[tuple[str, str, Sequence[PhraseRecord]]]) -> None: ...
    def phrases_by_artwork(self) -> dict[str, list[PhraseRecord]]: ...
    def splits(self) -> dict[str, str | None]: ...
    def set_splits(self, mapping: dict[str, str]) -> None: ...


@dataclass(slots=True)
class ExtractionReport:
    """What a run did; ``stopped`` runs wrote phrases but no vocabulary or caption file."""

    artworks: int = 0
    extracted: int = 0
    unchanged: int = 0
    without_text: int = 0
    phrase_occurrences: int = 0
    phrase_types: int = 0
    splits: dict[str, int] = field(default_factory=dict)
    vocab_size: int = 0
    word_vocab_size: int = 0
    coverage: dict[str, dict[str, float | int]] = field(default_factory=dict)
    vocab_path: Path | None = None
    word_vocab_path: Path | None = None
    caption_path: Path | None = None
    stopped: bool = False

    def lines(self) -> list[str]:
        """Human-readable summary for the CLI and the GUI's log."""
        out = [
            (
                f"artworks: {self.artworks} (extracted {self.extracted}, "
                f"unchanged {self.unchanged}, without text {self.without_text})"
            ),
        ]
        if self.stopped:
            out.append("stopped before the end: run again to resume")
            return out
        out.append(f"phrases: {self.phrase_occurrences} occurrences, {self.phrase_types} distinct")
        out.append("splits: " + ", ".join(f"{k} {v}" for k, v in self.splits.items()))
        out.append(f"vocabulary: {self.vocab_size} phrases, {self.word_vocab_size} words (incl. 4 specials)")
        for split, cov in self.coverage.items():
            out.append(
                f"{split} coverage: {cov['in_vocab_share']:.1%} of {cov['occurrences']} phrase occurrences "
                f"in vocabulary ({cov['types_in_vocab']}/{cov['types']} distinct); "
                f"{cov['oov_composable_share']:.1%} of unknown ones composable from known words"
            )
        out.extend(f"wrote {p}" for p in (self.vocab_path, self.word_vocab_path, self.caption_path) if p)
        return out


def artwork_text(artwork: Artwork, fields: Sequence[str] | None = None) -> list[tuple[str, str]]:
    """The ``(field, text)`` pairs that feed extraction; plain descriptions when no field fits."""
    chosen = text_fields(artwork.fields, fields)
    if not chosen and fields is None:
        chosen = [(f"descriptions[{i}]", d) for i, d in enumerate(artwork.descriptions) if d.strip()]
    return chosen


def text_hash(selected: Sequence[tuple[str, str]], extractor: PhraseExtractor) -> str:
    """Hash of the selected text and of everything that changes the phrases found in it."""
    h = hashlib.sha256(extractor.options.fingerprint().encode())
    for key, text in selected:
        h.update(b"\x00" + key.encode() + b"\x01" + text.encode())
    return h.hexdigest()


def extract_collection(
    catalog: PhraseCatalog,
    extractor: PhraseExtractor | None = None,
    fields: Sequence[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    *,
    min_count: int = 4,
    word_min_count: int = 2,
    seed: int = 0,
) -> ExtractionReport:
    """Extract changed artworks, assign splits, build vocabularies and ``caption_data.json``.

    ``progress(done, total)`` is called as artworks are handled; ``should_stop()`` is polled
    between artworks, and a stop leaves the catalog consistent (finished artworks are stored).
    """
    extractor = extractor or PhraseExtractor()
    artworks = catalog.artworks()
    report = ExtractionReport(artworks=len(artworks))
    total = len(artworks)
    selected = {a.id: artwork_text(a, fields) for a in artworks}
    hashes = {a.id: text_hash(selected[a.id], extractor) for a in artworks}
    phrases: dict[str, list[PhraseRecord]] = {}
    todo: list[Artwork] = []
    for a in artworks:
        if not selected[a.id]:
            report.without_text += 1
        if catalog.phrase_text_hash(a.id) == hashes[a.id]:
            report.unchanged += 1
        else:
            todo.append(a)
    done = report.unchanged
    if progress:
        progress(done, total)

    def pending() -> Iterator[Sequence[tuple[str, str]]]:
        for a in todo:
            yield selected[a.id]

    # stored one batch per transaction: a stop or crash loses at most the batch in flight
    batch: list[tuple[str, str, Sequence[PhraseRecord]]] = []
    for a, found in zip(todo, extractor.extract_batch(pending())):
        batch.append((a.id, hashes[a.id], found))
        phrases[a.id] = found
        report.extracted += 1
        done += 1
        stop = bool(should_stop and should_stop())
        if stop or len(batch) >= _STORE_BATCH:
            catalog.store_phrases(batch)
            batch = []
        if progress:
            progress(done, total)
        if stop:
            report.stopped = True
            return report
    if batch:
        catalog.store_phrases(batch)

    if len(phrases) < len(artworks):
        stored = catalog.phrases_by_artwork()
        for a in artworks:
            if a.id not in phrases:
                phrases[a.id] = stored.get(a.id, [])

    existing = dict(catalog.splits())
    for a in artworks:
        if not existing.get(a.id) and a.split:
            existing[a.id] = a.split
    splits = assign_splits([a.id for a in artworks], existing, seed=seed)
    if any(existing.get(k) != v for k, v in splits.items()):
        catalog.set_splits(splits)
    report.splits = split_counts(splits)

    sequences = {aid: [p.norm for p in recs] for aid, recs in phrases.items()}
    by_split: dict[str, list[list[str]]] = {"train": [], "val": [], "test": []}
    for aid, seq in sequences.items():
        by_split[splits[aid]].append(seq)
    vocab = PhraseVocab.build(by_split["train"], min_count=min_count)
    words = WordVocab.build(by_split["train"], min_count=word_min_count)
    all_norms = {n for seq in sequences.values() for n in seq}
    report.phrase_occurrences = sum(len(s) for s in sequences.values())
    report.phrase_types = len(all_norms)
    report.vocab_size, report.word_vocab_size = len(vocab), len(words)
    for split in ("val", "test"):
        report.coverage[split] = _coverage(vocab, words, by_split[split])

    data_dir = Path(catalog.data_dir)
    report.vocab_path = data_dir / VOCAB_FILE
    report.word_vocab_path = data_dir / WORD_VOCAB_FILE
    report.caption_path = data_dir / CAPTION_FILE
    vocab.save(report.vocab_path)
    words.save(report.word_vocab_path)
    images = [
        CaptionImage(
            filename=Path(a.image_path).name,
            split=splits[a.id],
            sentences=sentences_for(selected[a.id], phrases[a.id]),
            artwork_id=a.id,
            extra={"relpath": a.id, "phrases": sequences[a.id]},
        )
        for a in artworks
    ]
    write_caption_data(report.caption_path, images)
    return report


def _coverage(vocab: PhraseVocab, words: WordVocab, sequences: list[list[str]]) -> dict[str, float | int]:
    """Phrase coverage plus the share of unknown phrase occurrences the word vocabulary covers."""
    cov = vocab.coverage(sequences)
    oov = [p for seq in sequences for p in seq if p not in vocab]
    composable = sum(1 for p in oov if words.composable(p))
    cov["oov_composable"] = composable
    cov["oov_composable_share"] = composable / len(oov) if oov else 0.0
    return cov
