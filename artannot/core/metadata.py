"""Museum metadata sidecars (JSON, XML) and Karpathy ``caption_data.json``, flattened to text fields.

Museums disagree on field names, so every field is kept under its flattened key path
(``creator.name``, ``subjects[1]``) and stays searchable; only the choice of which fields
are *descriptions* uses a name heuristic, and the user can override it.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from lxml import etree

from artannot.core.errors import MetadataError
from artannot.core.safe_json import read_untrusted_json
from artannot.core.safe_xml import read_untrusted_xml

TITLE_KEYS = ("title", "objectname", "name", "label")

# Which fields are text (phrase extraction, the metadata panel, descriptions): museums name
# their fields differently (``description``, ``physicalDescription``, ``record.label_text``,
# ``sentences[0].raw``), so the default matches words of the key's last component, not exact
# keys; ids, dates, urls and numbers never make useful phrases and are refused both by key
# and by value.

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


def _last_component(key: str) -> str:
    last = key.rsplit(".", 1)[-1]
    return last.split("[", 1)[0].split("@", 1)[0].lower().replace("_", "").replace("-", "")


def key_components(key: str) -> list[str]:
    """``record.sentences[0].raw`` -> ``['record', 'sentences', 'raw']``."""
    return [c for c in _SPLIT_KEY_RE.split(_INDEX_RE.sub("", key)) if c]


def key_words(component: str) -> set[str]:
    """``physicalDescription`` / ``label_text`` -> lower-case words."""
    return {w.lower() for w in _WORD_RE.findall(component)}


@lru_cache(maxsize=1 << 12)  # a collection repeats a few dozen keys in every record
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


def text_fields(fields: dict[str, str], wanted: Sequence[str] | None = None) -> list[tuple[str, str]]:
    """The ``(key, text)`` pairs that feed phrase extraction and that the metadata panel
    highlights, without duplicate texts.

    ``wanted`` (the user's ``text_fields`` setting) lists keys or glob patterns
    (case-insensitive; matched against the full key and its last component): the result
    follows that order, and the user's choice is honoured even for date-like keys. Without it,
    text-like keys with prose values are picked in metadata order. A text already taken under
    another key is skipped, so it does not count twice in the vocabulary.
    """
    chosen: list[tuple[str, str]] = []
    if not wanted:
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


def title_of(fields: dict[str, str]) -> str:
    for wanted in TITLE_KEYS:
        for key, value in fields.items():
            if _last_component(key) != wanted or not value.strip():
                continue
            # ``creator.name`` / ``images[0].label`` name something else than the artwork:
            # only ``title``/``objectName`` count when nested.
            if wanted in ("name", "label") and ("." in key or "[" in key):
                continue
            return value.strip()
    return ""


def flatten(value: Any, prefix: str = "", out: dict[str, str] | None = None) -> dict[str, str]:
    """Nested JSON-like data to ``{key path: text}``; lists get ``[i]`` indices."""
    out = {} if out is None else out
    if isinstance(value, dict):
        for k, v in value.items():
            flatten(v, f"{prefix}.{k}" if prefix else str(k), out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            flatten(v, f"{prefix}[{i}]", out)
    elif value is not None:
        text = value if isinstance(value, str) else json.dumps(value)
        if prefix:
            out[prefix] = text
    return out


def _local(tag: Any) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def flatten_xml(root: etree._Element) -> dict[str, str]:
    """Element paths below the root (namespaces dropped, repeats indexed, attributes as ``@name``)."""
    out: dict[str, str] = {}

    def walk(el: etree._Element, prefix: str) -> None:
        for name, value in el.attrib.items():
            out[f"{prefix}@{_local(name)}" if prefix else f"@{_local(name)}"] = value
        kids = [c for c in el if isinstance(c.tag, str)]
        text = (el.text or "").strip()
        if text and prefix:
            out[prefix] = text
        counts: dict[str, int] = {}
        for c in kids:
            counts[_local(c.tag)] = counts.get(_local(c.tag), 0) + 1
        seen: dict[str, int] = {}
        for c in kids:
            tag = _local(c.tag)
            i = seen.get(tag, 0)
            seen[tag] = i + 1
            key = tag if counts[tag] == 1 else f"{tag}[{i}]"
            walk(c, f"{prefix}.{key}" if prefix else key)

    walk(root, "")
    return out


def read_json_fields(path: Path) -> dict[str, str]:
    data = read_untrusted_json(path)
    if not isinstance(data, (dict, list)):
        raise MetadataError("JSON metadata must be an object", path)
    return flatten(data)


def read_xml_fields(path: Path) -> dict[str, str]:
    root = read_untrusted_xml(path)
    from artannot.core import lido  # LIDO records get friendly keys (title, creator, date, ...)

    return lido.lido_fields(root, path) if lido.is_lido(root) else flatten_xml(root)


def read_sidecar(path: Path) -> dict[str, str]:
    """Fields of one sidecar file, by extension."""
    if path.suffix.lower() == ".json":
        return read_json_fields(path)
    if path.suffix.lower() == ".xml":
        return read_xml_fields(path)
    raise MetadataError(f"unsupported metadata file type {path.suffix!r}", path)


# -- Karpathy caption_data.json ------------------------------------------------

SPLITS = ("train", "val", "test")


@dataclass(slots=True)
class KarpathyEntry:
    filename: str
    split: str | None
    sentences: list[str] = field(default_factory=list)
    extra: dict[str, str] = field(default_factory=dict)


def _split_of(entry: dict[str, Any]) -> str | None:
    for key in ("split", "filepath"):
        value = str(entry.get(key, "")).lower()
        if value == "restval":
            return "train"
        if value in SPLITS:
            return value
    return None


def read_karpathy(path: Path) -> list[KarpathyEntry]:
    """Entries of a Karpathy-style file (ours, see :mod:`artannot.text.karpathy`, or another
    tool's); ``split`` (or ``filepath``) gives the split. Sentences are ``{"raw": ...}`` objects
    or bare strings. The one reader of these files: a problem raises :class:`MetadataError`."""
    data = read_untrusted_json(path)
    images = data.get("images") if isinstance(data, dict) else None
    if not isinstance(images, list):
        raise MetadataError('caption file needs a top-level "images" list', path)
    entries = []
    for i, img in enumerate(images):
        if not isinstance(img, dict) or not img.get("filename"):
            raise MetadataError(f"images[{i}] has no filename", path)
        sents = []
        given = img.get("sentences")
        for s in given if isinstance(given, list) else []:  # another tool's odd value: no sentences
            raw = s.get("raw") if isinstance(s, dict) else s
            if isinstance(raw, str) and raw.strip():
                sents.append(raw.strip())
        extra = {k: v for k, v in flatten({k: v for k, v in img.items() if k != "sentences"}).items()}
        entries.append(KarpathyEntry(str(img["filename"]), _split_of(img), sents, extra))
    return entries


def looks_like_karpathy(path: Path) -> bool:
    if path.name == "caption_data.json":
        return True
    try:
        with open(path, "rb") as fh:
            head = fh.read(256).lstrip(b"\xef\xbb\xbf").lstrip()
    except OSError:
        return False
    # Karpathy files open with the "images" list; a museum record may merely *have* an
    # "images" field (image URLs), so the key must be the first one.
    return head.startswith(b"{") and head[1:].lstrip().startswith(b'"images"')


def descriptions_of(fields: dict[str, str], sentences: Iterable[str] = ()) -> list[str]:
    """Description texts (without the title) in a stable order: sentences first, then fields."""
    out = [s for s in sentences if s.strip()]
    for key, text in text_fields(fields):
        if _last_component(key) not in TITLE_KEYS and text not in out and _last_component(key) != "raw":
            out.append(text)
    return out
