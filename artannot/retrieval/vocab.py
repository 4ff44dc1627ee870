"""The phrase and word vocabularies a SCAN checkpoint carries, so a checkpoint alone serves.

The text package's ``PhraseVocab`` (artannot/text/vocab.py) is the collection-wide vocabulary;
SCAN only needs what the :class:`PhraseVocabLike` protocol lists, and keeps its own JSON-able
copy (:class:`ScanVocab`) inside the checkpoint. Ids follow the project convention:
``<pad>=0 <start>=1 <end>=2 <unk>=3``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

SPECIALS: tuple[str, ...] = ("<pad>", "<start>", "<end>", "<unk>")
PAD, START, END, UNK = 0, 1, 2, 3


@runtime_checkable
class PhraseVocabLike(Protocol):
    """What SCAN needs from a phrase vocabulary."""

    def encode(self, phrases: list[str]) -> list[int]: ...

    def __len__(self) -> int: ...


def default_phrase_tokens(norm: str) -> list[str]:
    """Word tokens of a normalised phrase; the text package's ``phrase_tokens`` when present."""
    try:
        from artannot.text.vocab import phrase_tokens  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - module written concurrently; fall back to whitespace
        return norm.split()
    return list(phrase_tokens(norm))


class _Index:
    """A token list with its inverse map."""

    def __init__(self, tokens: Sequence[str]) -> None:
        self.itos = list(SPECIALS) + [t for t in tokens if t not in SPECIALS]
        self.stoi = {t: i for i, t in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, items: Iterable[str]) -> list[int]:
        return [self.stoi.get(t, UNK) for t in items]


class ScanVocab:
    """Phrase ids (for the phrase encoder) and word ids (for the compositional word encoder)."""

    def __init__(self, phrases: Sequence[str], words: Sequence[str]) -> None:
        self.phrases = _Index(phrases)
        self.words = _Index(words)
        # Frozen pretrained phrase vectors (text.phrase_vectors.PhraseVectors) for models
        # with the pretrained text encoder; attached at run time, never stored in the vocab.
        self.vectors: Any = None

    # -- construction -------------------------------------------------------
    @classmethod
    def build(cls, sequences: Iterable[Sequence[str]], *, min_phrase_count: int = 4,
              min_word_count: int = 1) -> ScanVocab:
        """Count phrases and their words over training texts (thesis: phrases seen >= 4 times)."""
        pc: Counter[str] = Counter()
        wc: Counter[str] = Counter()
        for seq in sequences:
            for p in seq:
                pc[p] += 1
                wc.update(default_phrase_tokens(p))
        phrases = sorted(p for p, c in pc.items() if c >= min_phrase_count)
        words = sorted(w for w, c in wc.items() if c >= min_word_count)
        return cls(phrases, words)

    @classmethod
    def from_phrase_vocab(cls, vocab: Any) -> ScanVocab:
        """Copy the text package's vocabulary (anything with an ``itos``-like token list)."""
        for attr in ("itos", "tokens", "phrases"):
            toks = getattr(vocab, attr, None)
            if toks is not None:
                toks = list(toks)
                break
        else:
            raise TypeError("phrase vocabulary exposes no token list (itos/tokens/phrases)")
        words = sorted({w for p in toks if p not in SPECIALS for w in default_phrase_tokens(p)})
        return cls([p for p in toks if p not in SPECIALS], words)

    # -- use ----------------------------------------------------------------
    def encode_phrases(self, phrases: Sequence[str]) -> list[int]:
        return self.phrases.encode(phrases)

    def encode_words(self, phrase: str) -> list[int]:
        ids = self.words.encode(default_phrase_tokens(phrase))
        return ids or [UNK]

    def __contains__(self, phrase: str) -> bool:
        return phrase in self.phrases.stoi

    def phrase_list(self) -> list[str]:
        """Real phrases (no special tokens): the default candidate list for suggestions."""
        return self.phrases.itos[len(SPECIALS):]

    def to_json(self) -> dict[str, Any]:
        return {"phrases": self.phrase_list(), "words": self.words.itos[len(SPECIALS):]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ScanVocab:
        return cls(data["phrases"], data["words"])
