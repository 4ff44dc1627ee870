"""Phrase extraction for a whole collection: incremental, resumable, Qt-free.

Used by ``artannot phrases`` and by the GUI's worker. Each artwork's selected text is hashed
together with the extraction options; an artwork whose stored hash matches is skipped, so a
run stopped halfway (Ctrl+C, cancel) resumes where it was and a metadata edit re-extracts
only that artwork. Phrases are stored per artwork as soon as they are found.
The collection is streamed from the catalog a page at a time (records, stored hashes and
phrases), and ``caption_data.json`` is written image by image, so a 500k-artwork museum is
handled in bounded memory (issue 16).
"""

from __future__ import annotations

import hashlib
from collections import Counter, deque
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
PAGE = 2000  # artworks read from the catalog per query in whole-collection passes


class PhraseCatalog(Protocol):
    """The part of ``artannot.core.catalog.Catalog`` this module needs."""

    data_dir: Path

    def count(self) -> int: ...
    def artwork_pages(self, page: int = ...) -> Iterator[list[Artwork]]: ...
    def phrase_hashes(self, artwork_ids: Sequence[str]) -> dict[str, str | None]: ...
    def store_phrases(self, items: Sequence[tuple[str, str, Sequence[PhraseRecord]]]) -> None: ...
    def phrases_of(self, artwork_ids: Sequence[str]) -> dict[str, list[PhraseRecord]]: ...
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
    page: int = PAGE,
) -> ExtractionReport:
    """Extract changed artworks, assign splits, build vocabularies and ``caption_data.json``.

    ``progress(done, total)`` is called as artworks are handled; ``should_stop()`` is polled
    between extracted artworks, and a stop leaves the catalog consistent (finished artworks are
    stored; the report's counts then cover the artworks looked at so far).
    The collection is read ``page`` artworks at a time, twice (extraction, then splits'
    statistics and the caption file): memory does not grow with its records, only with its
    ids, splits and distinct phrases.
    """
    extractor = extractor or PhraseExtractor()
    total = catalog.count()
    report = ExtractionReport(artworks=total)
    ids: list[str] = []
    declared: dict[str, str] = {}  # splits the records themselves name (Karpathy files)
    if progress:
        progress(0, total)

    reported = 0
    in_flight: deque[tuple[str, str]] = deque()  # (id, hash) of texts handed to the extractor

    def changed() -> Iterator[Sequence[tuple[str, str]]]:
        for artworks in catalog.artwork_pages(page):
            stored = catalog.phrase_hashes([a.id for a in artworks])
            for a in artworks:
                ids.append(a.id)
                if a.split:
                    declared[a.id] = a.split
                selected = artwork_text(a, fields)
                if not selected:
                    report.without_text += 1
                digest = text_hash(selected, extractor)
                if stored.get(a.id) == digest:
                    report.unchanged += 1
                else:
                    in_flight.append((a.id, digest))
                    yield selected

    # stored one batch per transaction: a stop or crash loses at most the batch in flight
    batch: list[tuple[str, str, Sequence[PhraseRecord]]] = []
    for found in extractor.extract_batch(changed()):
        artwork_id, digest = in_flight.popleft()
        batch.append((artwork_id, digest, found))
        report.extracted += 1
        stop = bool(should_stop and should_stop())
        if stop or len(batch) >= _STORE_BATCH:
            catalog.store_phrases(batch)
            batch = []
        if progress:
            reported = report.unchanged + report.extracted
            progress(reported, total)
        if stop:
            report.stopped = True
            return report
    if batch:
        catalog.store_phrases(batch)
    if progress and reported != report.unchanged + report.extracted:
        progress(report.unchanged + report.extracted, total)  # unchanged ones after the last extracted

    existing = dict(catalog.splits())
    for artwork_id, split in declared.items():
        if not existing.get(artwork_id):
            existing[artwork_id] = split
    splits = assign_splits(ids, existing, seed=seed)
    if any(existing.get(k) != v for k, v in splits.items()):
        catalog.set_splits(splits)
    del existing
    ids.clear()  # the splits hold the ids from here on
    report.splits = split_counts(splits)

    data_dir = Path(catalog.data_dir)
    report.vocab_path = data_dir / VOCAB_FILE
    report.word_vocab_path = data_dir / WORD_VOCAB_FILE
    report.caption_path = data_dir / CAPTION_FILE
    counts: dict[str, Counter[str]] = {"train": Counter(), "val": Counter(), "test": Counter()}

    def images() -> Iterator[CaptionImage]:
        """Caption entries, counting each artwork's phrases under its split on the way."""
        for artworks in catalog.artwork_pages(page):
            phrases = catalog.phrases_of([a.id for a in artworks])
            for a in artworks:
                if a.id not in splits:  # added by a refresh since the first pass: next run
                    continue
                found = phrases.get(a.id, [])
                sequence = [p.norm for p in found]
                counts[splits[a.id]].update(sequence)
                yield CaptionImage(
                    filename=Path(a.image_path).name,
                    split=splits[a.id],
                    sentences=sentences_for(artwork_text(a, fields), found),
                    artwork_id=a.id,
                    extra={"relpath": a.id, "phrases": sequence},
                )

    write_caption_data(report.caption_path, images())
    vocab = PhraseVocab(counts["train"], min_count)
    words = WordVocab.from_phrase_counts(counts["train"], word_min_count)
    report.phrase_occurrences = sum(c.total() for c in counts.values())
    train, val, test = counts["train"], counts["val"], counts["test"]
    report.phrase_types = (len(train) + sum(p not in train for p in val)
                           + sum(p not in train and p not in val for p in test))  # no set of them all
    report.vocab_size, report.word_vocab_size = len(vocab), len(words)
    for split in ("val", "test"):
        report.coverage[split] = _coverage(vocab, words, counts[split])
    vocab.save(report.vocab_path)
    words.save(report.word_vocab_path)
    return report


def _coverage(vocab: PhraseVocab, words: WordVocab, occurrences: Counter[str]) -> dict[str, float | int]:
    """Phrase coverage plus the share of unknown phrase occurrences the word vocabulary covers."""
    cov = vocab.coverage_of_counts(occurrences)
    composable = sum(c for p, c in occurrences.items() if p not in vocab and words.composable(p))
    cov["oov_composable"] = composable
    cov["oov_composable_share"] = composable / cov["oov"] if cov["oov"] else 0.0
    return cov
