"""extract_collection against an in-test catalog with just the methods it uses (the SQLite
catalog has its own integration test)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from artannot.core.model import Artwork, PhraseRecord
from artannot.text.collection import extract_collection
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

    def phrase_text_hash(self, artwork_id: str) -> str | None:
        return self._phrases[artwork_id][0] if artwork_id in self._phrases else None

    def store_phrases(self, items: Sequence[tuple[str, str, Sequence[PhraseRecord]]]) -> None:
        self.transactions += 1
        for artwork_id, text_hash, phrases in items:
            self.set_phrases_calls.append(artwork_id)
            self._phrases[artwork_id] = (text_hash, list(phrases))

    def phrases(self, artwork_id: str) -> list[PhraseRecord]:
        return list(self._phrases.get(artwork_id, ("", []))[1])

    def phrases_by_artwork(self) -> dict[str, list[PhraseRecord]]:
        return {a: list(recs) for a, (_, recs) in self._phrases.items()}

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
