"""extract_collection against an in-test catalog with just the methods it uses (the SQLite
catalog has its own integration test)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from artannot.core.model import Artwork, PhraseRecord
from artannot.text.collection import artwork_text, extract_collection
from artannot.text.karpathy import CaptionImage, sentences_for, write_caption_data
from artannot.text.phrases import PhraseExtractor, PhraseOptions
from artannot.text.vocab import PhraseVocab, WordVocab


class FakeCatalog:
    def __init__(self, root: Path, artworks: list[Artwork]) -> None:
        self.data_dir = root / ".artannot"
        self._artworks = artworks
        self._phrases: dict[str, tuple[str, list[PhraseRecord]]] = {}
        self._splits: dict[str, str | None] = {a.id: a.split for a in artworks}
        self.set_phrases_calls: list[str] = []
        self.transactions = 0

    def artworks(self) -> list[Artwork]:
        return list(self._artworks)

    def count(self) -> int:
        return len(self._artworks)

    def artwork_pages(self, page: int = 2000) -> Iterator[list[Artwork]]:
        ordered = sorted(self._artworks, key=lambda a: a.id)
        for i in range(0, len(ordered), page):
            yield ordered[i:i + page]

    def phrase_hashes(self, artwork_ids: Sequence[str]) -> dict[str, str | None]:
        return {a: self._phrases[a][0] for a in artwork_ids if a in self._phrases}

    def phrases_of(self, artwork_ids: Sequence[str]) -> dict[str, list[PhraseRecord]]:
        return {a: list(self._phrases[a][1]) for a in artwork_ids if a in self._phrases}

    def store_phrases(self, items: Sequence[tuple[str, str, Sequence[PhraseRecord]]]) -> None:
        self.transactions += 1
        for artwork_id, text_hash, phrases in items:
            self.set_phrases_calls.append(artwork_id)
            self._phrases[artwork_id] = (text_hash, list(phrases))

    def phrases(self, artwork_id: str) -> list[PhraseRecord]:
        return list(self._phrases.get(artwork_id, ("", []))[1])

    def splits(self) -> dict[str, str | None]:
        return dict(self._splits)

    def set_splits(self, mapping: dict[str, str]) -> None:
        self._splits.update(mapping)


def _collection(sample: dict) -> list[Artwork]:
    arts = []
    for i in range(3):  # three copies so phrases reach min_count in train
        for stem, meta in sample.items():
            arts.append(Artwork(id=f"c{i}/{stem}.jpg", image_path=Path(f"/x/c{i}/{stem}.jpg"),
                                fields={k: str(v) for k, v in meta.items()}))
    arts.append(Artwork(id="plain.jpg", image_path=Path("/x/plain.jpg"), fields={"date": "1876"},
                        descriptions=["A small cat statuette."], split="test"))
    arts.append(Artwork(id="empty.jpg", image_path=Path("/x/empty.jpg"), fields={"id": "9"}))
    return arts


def test_extract_collection_end_to_end(tmp_path: Path, sample: dict, extractor: PhraseExtractor) -> None:
    cat = FakeCatalog(tmp_path, _collection(sample))
    seen: list[tuple[int, int]] = []
    report = extract_collection(cat, extractor, progress=lambda d, t: seen.append((d, t)), min_count=2)
    n = len(cat.artworks())
    assert report.artworks == n and report.extracted == n and report.unchanged == 0
    assert report.without_text == 1 and not report.stopped
    assert seen[0] == (0, n) and seen[-1] == (n, n)
    assert cat.splits()["plain.jpg"] == "test"  # an existing split is kept
    assert set(cat.splits().values()) <= {"train", "val", "test"}
    assert sum(report.splits.values()) == n

    # phrases are stored with offsets into the field they came from
    hok = cat.phrases("c0/hokusai_great_wave.jpg")
    desc = sample["hokusai_great_wave"]["description"]
    assert "three long narrow boats" in [p.norm for p in hok]
    assert all(desc[p.start:p.end] == p.text for p in hok if p.field == "description")
    assert [p.norm for p in cat.phrases("plain.jpg")] == [
        "small cat", "small cat statuette", "cat", "cat statuette", "statuette",
    ]
    assert {p.field for p in cat.phrases("plain.jpg")} == {"descriptions[0]"}

    vocab = PhraseVocab.load(report.vocab_path)
    words = WordVocab.load(report.word_vocab_path)
    assert len(vocab) == report.vocab_size > 4 and len(words) == report.word_vocab_size
    train_ids = [k for k, v in cat.splits().items() if v == "train"]
    expected = PhraseVocab.build([[p.norm for p in cat.phrases(a)] for a in train_ids], min_count=2)
    assert vocab == expected
    test_seqs = [[p.norm for p in cat.phrases(a)] for a, s in cat.splits().items() if s == "test"]
    assert report.coverage["test"]["occurrences"] == sum(len(s) for s in test_seqs)
    assert report.coverage["test"]["in_vocab"] == sum(p in vocab for s in test_seqs for p in s)

    data = json.loads(report.caption_path.read_text(encoding="utf-8"))
    by_id = {img["artwork_id"]: img for img in data["images"]}
    assert len(by_id) == n
    entry = by_id["c0/hokusai_great_wave.jpg"]
    assert entry["filename"] == "hokusai_great_wave.jpg" and entry["filepath"] == cat.splits()[entry["artwork_id"]]
    raws = [s["raw"] for s in entry["sentences"]]
    assert raws[0] == sample["hokusai_great_wave"]["title"] and len(raws) == 4
    assert "towering blue wave" in entry["sentences"][1]["phrases"]
    assert by_id["empty.jpg"]["sentences"] == []
    assert "vocabulary:" in "\n".join(report.lines())


def test_resume_and_reextract_only_changed(tmp_path: Path, sample: dict, extractor: PhraseExtractor) -> None:
    arts = _collection(dict(list(sample.items())[:3]))
    cat = FakeCatalog(tmp_path, arts)
    calls = iter(range(100))
    stopped = extract_collection(cat, extractor, should_stop=lambda: next(calls) >= 3)
    assert stopped.stopped and stopped.extracted == 4 and stopped.vocab_path is None
    assert not (cat.data_dir / "vocab.json").exists()

    assert cat.transactions == 1  # the stop stored the artworks done so far
    resumed = extract_collection(cat, extractor)
    assert resumed.unchanged == 4 and resumed.extracted == len(arts) - 4
    assert cat.transactions == 2  # a batch per transaction, not an artwork
    splits_before = cat.splits()

    cat.set_phrases_calls.clear()
    arts[0].fields["description"] = "A black cat."
    again = extract_collection(cat, extractor)
    assert again.extracted == 1 and cat.set_phrases_calls == [arts[0].id]
    assert [p.norm for p in cat.phrases(arts[0].id) if p.field == "description"] == ["black cat", "cat"]
    assert cat.splits() == splits_before

    # other options mean other phrases: everything is extracted again
    maximal = PhraseExtractor(PhraseOptions(spans="maximal"), nlp=extractor.nlp)
    assert extract_collection(cat, maximal).extracted == len(arts)
    # choosing fields explicitly changes the selected text too
    only_titles = extract_collection(cat, maximal, fields=["title"])
    assert only_titles.extracted == len(arts) - 1  # "empty.jpg" has no title either way
    assert all(p.field == "title" for a in arts for p in cat.phrases(a.id))


def _outputs(cat: FakeCatalog) -> dict[str, object]:
    files = {name: (cat.data_dir / name).read_bytes() for name in ("vocab.json", "word_vocab.json",
                                                                    "caption_data.json")}
    return {**files, "phrases": dict(cat._phrases), "splits": cat.splits()}


def _in_memory_reference(cat: FakeCatalog, tmp_path: Path, min_count: int) -> dict[str, object]:
    """What the pre-streaming implementation produced: every record and phrase list in memory."""
    splits = cat.splits()
    arts = sorted(cat.artworks(), key=lambda a: a.id)
    seqs = {a.id: [p.norm for p in cat.phrases(a.id)] for a in arts}
    train = [seqs[a.id] for a in arts if splits[a.id] == "train"]
    ref = tmp_path / "reference"
    PhraseVocab.build(train, min_count=min_count).save(ref / "vocab.json")
    WordVocab.build(train, min_count=2).save(ref / "word_vocab.json")
    write_caption_data(ref / "caption_data.json", [
        CaptionImage(a.image_path.name, splits[a.id], sentences_for(artwork_text(a), cat.phrases(a.id)), a.id,
                     {"relpath": a.id, "phrases": seqs[a.id]})
        for a in arts
    ])
    return {name: (ref / name).read_bytes() for name in ("vocab.json", "word_vocab.json", "caption_data.json")}


def test_page_size_changes_nothing(tmp_path: Path, sample: dict, extractor: PhraseExtractor) -> None:
    """Issue 16: the collection is streamed page by page; pages of 3 artworks (changed and
    unchanged ones mixed within and across pages) give the bytes of the default page size and of
    the in-memory implementation it replaced."""
    arts = {page: _collection(sample) for page in (3, 2000)}
    cats = {page: FakeCatalog(tmp_path / str(page), arts[page]) for page in arts}
    reports = {page: extract_collection(cats[page], extractor, min_count=2, page=page) for page in cats}
    assert _outputs(cats[3]) == _outputs(cats[2000])
    unpathed = {"vocab_path": None, "word_vocab_path": None, "caption_path": None}
    assert replace(reports[3], **unpathed) == replace(reports[2000], **unpathed)
    reference = _in_memory_reference(cats[3], tmp_path, min_count=2)
    assert {k: v for k, v in _outputs(cats[3]).items() if k in reference} == reference

    # a second run after edits: a few changed artworks among unchanged ones, on several pages
    edits = dict(zip((1, 5, 6, len(arts[3]) - 2), ("horse", "lotus", "dragon", "crane")))
    for page in cats:
        for i, noun in edits.items():
            arts[page][i].fields["description"] = f"A small bronze {noun}. A gilded {noun}."
    reports = {page: extract_collection(cats[page], extractor, min_count=2, page=page) for page in cats}
    assert reports[3].extracted == reports[2000].extracted == 4
    assert reports[3].unchanged == reports[2000].unchanged == len(arts[3]) - 4
    assert reports[3].coverage == reports[2000].coverage and reports[3].phrase_types == reports[2000].phrase_types
    assert _outputs(cats[3]) == _outputs(cats[2000])
    for i, a in enumerate(arts[3]):  # each artwork's phrases stored under it, not a neighbour's
        texts = dict(artwork_text(a))
        assert all(texts[p.field][p.start:p.end] == p.text for p in cats[3].phrases(a.id))
        if i in edits:
            assert f"gilded {edits[i]}" in [p.norm for p in cats[3].phrases(a.id)]
    reference = _in_memory_reference(cats[3], tmp_path, min_count=2)
    assert {k: v for k, v in _outputs(cats[3]).items() if k in reference} == reference
    # the report's statistics are those of whole lists
    splits = cats[3].splits()
    vocab = PhraseVocab.load(reports[3].vocab_path)
    test_seqs = [[p.norm for p in cats[3].phrases(a)] for a, s in splits.items() if s == "test"]
    assert {k: reports[3].coverage["test"][k] for k in vocab.coverage(test_seqs)} == vocab.coverage(test_seqs)
    every = [p.norm for a in splits for p in cats[3].phrases(a)]
    assert reports[3].phrase_occurrences == len(every) and reports[3].phrase_types == len(set(every))
