"""Which metadata fields feed phrase extraction.

Museums name their fields differently (``description``, ``physicalDescription``,
``record.label_text``, ``sentences[0].raw``), so the default matches words of the key's last
component, not exact keys; ids, dates, urls and numbers never make useful phrases and are
refused both by key and by value.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence

# Words in a key that mark descriptive prose (matched after splitting camelCase/snake_case).
TEXT_WORDS = frozenset(
    {
        "title", "titles", "description", "descriptions", "desc", "caption", "captions",
        "label", "labels", "inscription", "inscriptions", "inscribed", "notes", "note",
        "sentences", "sentence", "summary", "abstract", "remarks", "comments", "comment",
        "subject", "subjects", "iconography", "narrative",
    }
)
# Words that disqualify a key even when it also has a text word ("titleId", "label_date").
NON_TEXT_WORDS = frozenset(
    {
        "id", "ids", "uri", "url", "urls", "href", "link", "links", "src", "date", "dates",
        "year", "years", "number", "no", "num", "accession", "identifier", "lang", "language",
        "tokens", "token", "count", "width", "height", "size", "filename", "path", "sentid",
        "sentids", "imgid", "hash", "type",
    }
)
# Generic leaves whose meaning comes from their parent: ``sentences[0].raw``, ``label.#text``.
GENERIC_LEAVES = frozenset({"raw", "text", "value", "content", "#text", "_text", "$", "body"})

_INDEX_RE = re.compile(r"\[\d+\]")
_SPLIT_KEY_RE = re.compile(r"[./:]")
_WORD_RE = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_URL_RE = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*://|www\.|urn:|doi:)", re.IGNORECASE)
_LETTER_RE = re.compile(r"[^\W\d_]")
_NUMERIC_RE = re.compile(r"^[\W\d_]*(?:(?:ca|c|circa|ad|bc|bce|ce)\.?[\W\d_]*)*$", re.IGNORECASE)


def key_components(key: str) -> list[str]:
    """``record.sentences[0].raw`` -> ``['record', 'sentences', 'raw']``."""
    return [c for c in _SPLIT_KEY_RE.split(_INDEX_RE.sub("", key)) if c]


def key_words(component: str) -> set[str]:
    """``physicalDescription`` / ``label_text`` -> lower-case words."""
    return {w.lower() for w in _WORD_RE.findall(component)}


def is_text_key(key: str) -> bool:
    """Does the key look like a title/description-like field? (default selection)."""
    parts = key_components(key)
    while parts and parts[-1].lower() in GENERIC_LEAVES:
        parts.pop()
    if not parts:
        return False
    words = key_words(parts[-1])
    return bool(words & TEXT_WORDS) and not (words & NON_TEXT_WORDS)


def is_prose(value: str) -> bool:
    """Refuse values that are urls, dates or numbers even under a text-like key."""
    if not value or not value.strip():
        return False
    if _URL_RE.match(value) or not _LETTER_RE.search(value):
        return False
    return not _NUMERIC_RE.match(value)


def _matches(key: str, pattern: str) -> bool:
    key_l, pat_l = key.lower(), pattern.lower()
    if fnmatch.fnmatchcase(key_l, pat_l):
        return True
    parts = key_components(key_l)
    return bool(parts) and fnmatch.fnmatchcase(parts[-1], pat_l)


def select_text_fields(
    fields: dict[str, str], wanted: Sequence[str] | None = None
) -> list[tuple[str, str]]:
    """``(key, text)`` pairs to extract phrases from, without duplicate texts.

    ``wanted`` lists keys or glob patterns (case-insensitive; matched against the full key
    and its last component): the result follows that order, and the user's choice is honoured
    even for date-like keys. Without it, text-like keys are picked in metadata order. A text
    already taken under another key is skipped, so it does not count twice in the vocabulary.
    """
    chosen: list[tuple[str, str]] = []
    if wanted is None:
        chosen = [(k, v) for k, v in fields.items() if isinstance(v, str) and is_text_key(k) and is_prose(v)]
    else:
        taken: set[str] = set()
        for pattern in wanted:
            for k, v in fields.items():
                if k not in taken and isinstance(v, str) and v.strip() and _matches(k, pattern):
                    taken.add(k)
                    chosen.append((k, v))
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    for k, v in chosen:
        key = " ".join(v.split())
        if key not in seen:
            seen.add(key)
            out.append((k, v))
    return out
