"""Phrase and word vocabularies for the SCAN text side.

The thesis keeps phrases seen at least 4 times (plus ``<pad> <start> <end> <unk>``); most
phrases in val/test are then unknown. So that an unknown phrase can still be embedded (compose
it from its words, DESIGN section 3), a word vocabulary is built from the same phrases.
Counts of every phrase seen are kept in the file, so a threshold can be changed later without
re-reading the collection.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

from artannot.core.errors import ArtannotError
from artannot.core.safe_io import atomic_write

PAD, START, END, UNK = "<pad>", "<start>", "<end>", "<unk>"
SPECIALS: tuple[str, ...] = (PAD, START, END, UNK)
PAD_ID, START_ID, END_ID, UNK_ID = 0, 1, 2, 3

_TOKEN_RE = re.compile(r"[^\W_]+(?:['\u2019\-][^\W_]+)*")


class VocabError(ArtannotError):
    """A vocabulary file is missing, malformed or of the wrong kind."""

    code = "E603"


def phrase_tokens(norm: str) -> list[str]:
    """Word tokens of a phrase: "claw-like foam of the sea" -> claw-like, foam, of, the, sea.

    Hyphenated and apostrophe words stay whole, punctuation goes; the input is expected to be
    normalised already (lower-case) but the tokens are lower-cased again to be safe.
    """
    return list(_cached_tokens(norm))


@lru_cache(maxsize=1 << 16)
def _cached_tokens(norm: str) -> tuple[str, ...]:
    # a collection repeats its phrases (183k occurrences, ~20k distinct in the benchmark)
    return tuple(t.lower() for t in _TOKEN_RE.findall(norm))


def _word_counts(phrase_counts: Mapping[str, int]) -> Counter[str]:
    """Word counts of phrases weighted by phrase counts; each distinct phrase tokenised once."""
    words: Counter[str] = Counter()
    for phrase, count in phrase_counts.items():
        for w in _cached_tokens(phrase):
            words[w] += count
    return words


class Vocab:
    """Items with counts; ids ordered by count (descending) then text, after the specials."""

    kind: ClassVar[str] = "vocab"

    def __init__(self, counts: Counter[str] | dict[str, int], min_count: int) -> None:
        if min_count < 1:
            raise ValueError(f"min_count must be >= 1, got {min_count}")
        self.min_count = min_count
        self.counts: Counter[str] = Counter({k: int(v) for k, v in counts.items() if k not in SPECIALS})
        kept = sorted((k for k, c in self.counts.items() if c >= min_count), key=lambda k: (-self.counts[k], k))
        self.itos: list[str] = [*SPECIALS, *kept]
        self.stoi: dict[str, int] = {s: i for i, s in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, item: object) -> bool:
        return item in self.stoi

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and self.min_count == other.min_count  # type: ignore[attr-defined]
            and self.itos == other.itos  # type: ignore[attr-defined]
            and self.counts == other.counts  # type: ignore[attr-defined]
        )

    def id(self, item: str) -> int:
        return self.stoi.get(item, UNK_ID)

    def encode(self, items: Sequence[str], add_start_end: bool = False) -> list[int]:
        """Ids of ``items``; anything unknown becomes ``<unk>``."""
        ids = [self.stoi.get(x, UNK_ID) for x in items]
        return [START_ID, *ids, END_ID] if add_start_end else ids

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.itos[i] for i in ids]

    # ------------------------------------------------------------------ persistence

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "version": 1,
            "min_count": self.min_count,
            "specials": list(SPECIALS),
            "itos": self.itos,
            "counts": dict(sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))),
        }

    def save(self, path: Path | str) -> None:
        """Write atomically: a crash mid-write must not leave a truncated vocabulary."""
        atomic_write_json(Path(path), self.to_json())

    @classmethod
    def load(cls, path: Path | str) -> Vocab:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise VocabError(f"cannot read vocabulary: {exc}", path) from exc
        if not isinstance(data, dict) or data.get("kind") != cls.kind:
            raise VocabError(f"not a {cls.kind} vocabulary file", path)
        if list(data.get("specials", [])) != list(SPECIALS):
            raise VocabError("special tokens differ from <pad> <start> <end> <unk>", path)
        vocab = cls(Counter(data.get("counts", {})), int(data.get("min_count", 1)))
        if data.get("itos") and list(data["itos"]) != vocab.itos:
            # ids must stay what a trained model saw: trust the stored order
            vocab.itos = list(data["itos"])
            vocab.stoi = {s: i for i, s in enumerate(vocab.itos)}
        return vocab

    # ------------------------------------------------------------------ reporting

    def coverage(self, sequences: Iterable[Sequence[str]]) -> dict[str, float | int]:
        """How much of ``sequences`` (e.g. val/test) the vocabulary covers.

        Occurrence shares are 0.0 when there is nothing to cover.
        """
        return self.coverage_of_counts(Counter(x for seq in sequences for x in seq))

    def coverage_of_counts(self, occ: Mapping[str, int]) -> dict[str, float | int]:
        """:meth:`coverage` from occurrence counts, so a collection can be counted page by page."""
        total = sum(occ.values())
        known = sum(c for x, c in occ.items() if x in self.stoi)
        types_known = sum(1 for x in occ if x in self.stoi)
        return {
            "occurrences": total,
            "in_vocab": known,
            "oov": total - known,
            "in_vocab_share": known / total if total else 0.0,
            "oov_share": (total - known) / total if total else 0.0,
            "types": len(occ),
            "types_in_vocab": types_known,
            "types_oov": len(occ) - types_known,
        }


class PhraseVocab(Vocab):
    """Normalised phrases -> ids (thesis: min_count 4)."""

    kind = "phrase"

    @classmethod
    def build(cls, sequences: Iterable[Sequence[str]], min_count: int = 4) -> PhraseVocab:
        """Count phrase occurrences over the (train) sequences, one sequence per artwork."""
        return cls(Counter(p for seq in sequences for p in seq), min_count)

    def word_vocab(self, min_count: int = 2) -> WordVocab:
        """Words of every counted phrase, weighted by phrase counts (rare phrases included)."""
        return WordVocab(_word_counts(self.counts), min_count)


class WordVocab(Vocab):
    """Words of phrases -> ids, so an out-of-vocabulary phrase can be embedded from its words."""

    kind = "word"

    @classmethod
    def build(cls, sequences: Iterable[Sequence[str]], min_count: int = 2) -> WordVocab:
        """``sequences`` are phrase sequences; each phrase contributes its words."""
        return cls.from_phrase_counts(Counter(p for seq in sequences for p in seq), min_count)

    @classmethod
    def from_phrase_counts(cls, phrase_counts: Mapping[str, int], min_count: int = 2) -> WordVocab:
        """:meth:`build` from phrase occurrence counts (counted page by page over a collection)."""
        return cls(_word_counts(phrase_counts), min_count)

    def encode_phrase(self, norm: str) -> list[int]:
        """Word ids of one phrase (unknown words -> ``<unk>``)."""
        return self.encode(phrase_tokens(norm))

    def composable(self, norm: str) -> bool:
        """True if every word of the phrase is known: the phrase can be embedded from words."""
        toks = _cached_tokens(norm)
        return bool(toks) and all(t in self.stoi for t in toks)


def atomic_write_json(path: Path, data: Any, *, compact: bool = False) -> None:
    """JSON through core's crash-safe write: readers never see half a file; no ``.bak`` kept
    because these files are derived and can be rebuilt. ``compact`` for big files: Python's
    JSON encoder is 10x slower when it indents."""
    if compact:
        payload = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    else:
        payload = json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8")
    atomic_write(Path(path), payload, backup=False)


# How many of a collection's phrases are offered as "collection" suggestions at most: the
# most frequent ones. Bounded so that a 500k-artwork museum's long tail costs nothing.
MAX_CANDIDATES = 20_000


class TextVocab:
    """The one vocabulary of the text side: phrases (ids for the phrase encoder, the
    candidates of suggestions) and their words (ids for the word encoder).

    ``artannot phrases`` writes it (``vocab.json`` + ``word_vocab.json`` with counts);
    training reads it from there (:meth:`from_collection`) and a checkpoint carries a copy of
    the kept tokens (:meth:`to_json`), so a checkpoint alone serves. ``vectors`` holds the
    frozen pretrained phrase vectors of models that use them (attached at run time).
    """

    def __init__(self, phrases: PhraseVocab, words: WordVocab) -> None:
        self.phrases = phrases
        self.words = words
        self.vectors: Any = None  # text.phrase_vectors.PhraseVectors, for pretrained encoders

    # -- construction -------------------------------------------------------------------
    @classmethod
    def build(cls, sequences: Iterable[Sequence[str]], *, min_phrase_count: int = 4,
              min_word_count: int = 1) -> TextVocab:
        """Count phrases (and their words) over training texts; thesis: phrases seen >= 4."""
        phrases = PhraseVocab.build(sequences, min_count=min_phrase_count)
        return cls(phrases, phrases.word_vocab(min_count=min_word_count))

    @classmethod
    def from_collection(cls, data_dir: Path, *, min_phrase_count: int = 4,
                        min_word_count: int = 1) -> TextVocab | None:
        """The vocabulary ``artannot phrases`` wrote for a collection, at these thresholds
        (the files keep every count); None when phrases were never extracted."""
        phrase_file, word_file = Path(data_dir) / "vocab.json", Path(data_dir) / "word_vocab.json"
        if not phrase_file.is_file():
            return None
        counts = PhraseVocab.load(phrase_file).counts
        phrases = PhraseVocab(counts, min_phrase_count)
        words = (WordVocab(WordVocab.load(word_file).counts, min_word_count)
                 if word_file.is_file() else phrases.word_vocab(min_count=min_word_count))
        return cls(phrases, words)

    @classmethod
    def from_tokens(cls, phrases: Sequence[str], words: Sequence[str]) -> TextVocab:
        """Exactly these tokens, in this order, after the specials (ids a model was trained with)."""
        return cls(_fixed(PhraseVocab, phrases), _fixed(WordVocab, words))

    # -- use ----------------------------------------------------------------------------
    def encode_phrases(self, phrases: Sequence[str]) -> list[int]:
        return self.phrases.encode(phrases)

    def encode_words(self, phrase: str) -> list[int]:
        return self.words.encode_phrase(phrase) or [UNK_ID]

    def __contains__(self, phrase: object) -> bool:
        return phrase in self.phrases

    def phrase_list(self) -> list[str]:
        """Real phrases (no special tokens), most frequent first."""
        return self.phrases.itos[len(SPECIALS):]

    def candidates(self, limit: int = MAX_CANDIDATES) -> list[str]:
        """The phrases offered as suggestions: every counted phrase, most frequent first, at
        most ``limit`` (a pretrained encoder can score phrases below the training threshold)."""
        ranked = sorted(self.phrases.counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return [p for p, _ in ranked[:limit]] or self.phrase_list()[:limit]

    # -- persistence (inside checkpoints) ------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {"phrases": self.phrase_list(), "words": self.words.itos[len(SPECIALS):]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TextVocab:
        return cls.from_tokens(data["phrases"], data["words"])


def _fixed(kind: type[Vocab], tokens: Sequence[str]) -> Any:
    vocab = kind(Counter(), 1)
    vocab.itos = [*SPECIALS, *(t for t in dict.fromkeys(tokens) if t not in SPECIALS)]
    vocab.stoi = {s: i for i, s in enumerate(vocab.itos)}
    real = vocab.itos[len(SPECIALS):]
    vocab.counts = Counter({t: len(real) - i for i, t in enumerate(real)})  # keeps the order
    return vocab
