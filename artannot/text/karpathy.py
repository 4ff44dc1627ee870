"""Karpathy-style ``caption_data.json``, the input format of SCAN-like training code.

``{"images": [{"filename", "filepath": "train|val|test", "sentences": [{"raw", "tokens",
"phrases"}], "artwork_id"}]}``; ``split`` is written as well because the original files use it.
Reading is :func:`artannot.core.metadata.read_karpathy` (the catalog's reader), for ours and
other tools' files alike.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from artannot.core.model import PhraseRecord
from artannot.core.safe_io import atomic_writer
from artannot.text.vocab import phrase_tokens

# A sentence ends at . ! ? (maybe a closing quote) followed by space and a capital letter,
# maybe after an opening quote or bracket. Cheap and good enough for museum prose, and
# "ca. 1830" stays one sentence because a digit never starts a new one.
_SENT_END_RE = re.compile(r"(?<=[.!?])[\"'\u201d\u2019)]?\s+(?=[\"'\u201c\u2018(]?[A-Z\u00c0-\u024f])")


@dataclass(slots=True)
class Sentence:
    raw: str
    tokens: list[str] = field(default_factory=list)
    phrases: list[str] = field(default_factory=list)
    field: str = ""
    start: int = 0  # character offset of ``raw`` in its field


@dataclass(slots=True)
class CaptionImage:
    filename: str
    split: str | None
    sentences: list[Sentence] = field(default_factory=list)
    artwork_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of ``text`` (whitespace around them excluded)."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for m in _SENT_END_RE.finditer(text):
        spans.append((pos, m.start() + len(m.group(0).rstrip())))
        pos = m.end()
    spans.append((pos, len(text)))
    out = []
    for s, e in spans:
        raw = text[s:e]
        lead = len(raw) - len(raw.lstrip())
        s, e = s + lead, s + len(raw.rstrip())
        if e > s:
            out.append((s, e))
    return out


def sentences_for(fields: Sequence[tuple[str, str]], phrases: Sequence[PhraseRecord]) -> list[Sentence]:
    """Sentences of the selected fields, each with its word tokens and the phrases that start in it."""
    out: list[Sentence] = []
    for key, text in fields:
        for s, e in split_sentences(text):
            raw = text[s:e]
            inside = [p.norm for p in phrases if p.field == key and s <= p.start < e]
            out.append(Sentence(raw, phrase_tokens(raw), inside, key, s))
    return out


def write_caption_data(path: Path | str, images: Iterable[CaptionImage], dataset: str = "artannot") -> None:
    """Write ``caption_data.json`` atomically (temp file, fsync, rename), streaming.

    ``images`` may be a generator: each image is encoded and written as it comes, so a
    500k-artwork collection never holds its caption data in memory. The bytes are those of
    ``json.dumps({"dataset", "images"}, ensure_ascii=False, separators=(",", ":"))``.
    """
    with atomic_writer(Path(path)) as fh:
        fh.write(b'{"dataset":' + _dumps(dataset) + b',"images":[')
        sentid = 0
        for imgid, img in enumerate(images):
            sents = []
            for s in img.sentences:
                sents.append({"raw": s.raw, "tokens": s.tokens, "phrases": s.phrases, "field": s.field,
                              "imgid": imgid, "sentid": sentid})
                sentid += 1
            entry = dict(img.extra)
            entry.update({
                "filename": img.filename,
                "filepath": img.split or "",
                "split": img.split or "",
                "sentences": sents,
                "sentids": [d["sentid"] for d in sents],
                "imgid": imgid,
                "artwork_id": img.artwork_id,
            })
            fh.write((b"," if imgid else b"") + _dumps(entry))
        fh.write(b"]}")


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
