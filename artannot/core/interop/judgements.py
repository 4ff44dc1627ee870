"""Judgements in and out of a collection: ``judgements.jsonl``, one JSON object per line.

Every export writes the selected artworks' judgements next to the exported annotations (the
curators' relevance data travels with their boxes); ``artannot import --format judgements``
merges such a file back, skipping judgements already present (same artwork, region, phrase,
model and time). The format is described in ``docs/formats.md``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from artannot.core.interop.base import (
    ArtworkIndex,
    ExportReport,
    InteropError,
    check_target,
    number,
    require,
    select_ids,
)
from artannot.core.judgements_store import Judgement
from artannot.core.safe_io import atomic_write
from artannot.core.safe_json import parse_untrusted_json
from artannot.core.safe_xml import xml_text_problem

if TYPE_CHECKING:
    from artannot.core.catalog import Catalog

FILE_NAME = "judgements.jsonl"
MAX_RANK = 1 << 31


def judgements_target(out: Path | str) -> Path:
    """Where an export to ``out`` (a folder, or a file such as ``coco.json``) puts its judgements."""
    out = Path(out)
    folder = out if out.is_dir() or not out.suffix else out.parent
    return folder / FILE_NAME


def to_line(j: Judgement) -> str:
    score = j.score if j.score is not None and math.isfinite(j.score) else None
    return json.dumps({"artwork": j.artwork_id, "region": j.region, "phrase": j.phrase, "rank": j.rank,
                       "score": score, "accepted": bool(j.accepted), "model": j.model, "time": j.time},
                      ensure_ascii=False, allow_nan=False)


@dataclass(slots=True)
class PendingJudgements:
    """Judgements chosen for an export, with their target checked before anything is written."""

    path: Path
    rows: list[Judgement]

    def write(self, report: ExportReport) -> None:
        if not self.rows:
            report.skipped.append((FILE_NAME, "no judgements recorded for the selected artworks"))
            return
        data = "".join(to_line(j) + "\n" for j in self.rows).encode("utf-8")
        atomic_write(self.path, data, backup=False)
        report.written.append(self.path)


def prepare_judgements_export(
    root: Path | str, out: Path | str, *, ids: Sequence[str] | None = None, query: str | None = None,
    overwrite: bool = False,
) -> PendingJudgements:
    """The selected artworks' judgements and where they go; refuses an existing file (unless
    ``overwrite``) now, so an export that cannot write them writes nothing at all."""
    from artannot.core.catalog import Catalog

    with Catalog.open(root) as cat:
        chosen = set(select_ids(cat, ids, query))
        rows = [j for j in cat.judgements.all() if j.artwork_id in chosen]
    path = judgements_target(out)
    if rows:
        check_target(path, overwrite)
    return PendingJudgements(path, rows)


@dataclass(slots=True)
class JudgementsImportReport:
    read: int = 0
    added: int = 0
    unknown: list[str] = field(default_factory=list)  # artworks not in this collection

    def lines(self) -> list[str]:
        kept = self.read - len(self.unknown)
        out = [f"merged {self.added} new judgement(s) of {self.read} read"
               f" ({kept - self.added} already present)"]
        if self.unknown:
            names = sorted(set(self.unknown))
            out.append(f"  skipped {len(self.unknown)} judgement(s) of artworks not in this collection: "
                       + ", ".join(names[:5]) + (" …" if len(names) > 5 else ""))
        return out


def _text(obj: dict, key: str, what: str, path: Path) -> str:
    value = require(obj, key, str, what, path)
    problem = xml_text_problem(value)
    if problem:
        raise InteropError(f"{what}: {key} {value.encode('ascii', 'backslashreplace').decode()!r} {problem}", path)
    return value


def parse_line(text: str, path: Path, line_no: int) -> Judgement:
    """One line of ``judgements.jsonl``; any problem is an :class:`InteropError` naming the line."""
    what = f"line {line_no}"
    obj: Any = parse_untrusted_json(text.encode("utf-8"), f"{path}, {what}", error=InteropError)
    if not isinstance(obj, dict):
        raise InteropError(f"{what} must be a JSON object", path)
    rank = require(obj, "rank", int, what, path)
    if not 0 <= rank < MAX_RANK:
        raise InteropError(f"{what}: rank must be between 0 and {MAX_RANK - 1}, got {rank}", path)
    score = obj.get("score")
    accepted = require(obj, "accepted", bool, what, path)
    return Judgement(
        artwork_id=_text(obj, "artwork", what, path), region=_text(obj, "region", what, path),
        phrase=_text(obj, "phrase", what, path), rank=rank,
        score=None if score is None else number(score, f"{what}: score", path), accepted=accepted,
        model=_text(obj, "model", what, path), time=number(require(obj, "time", (int, float), what, path),
                                                           f"{what}: time", path),
    )


def read_judgements(path: Path) -> list[Judgement]:
    """Every judgement in a ``judgements.jsonl`` (blank lines ignored); one bad line refuses the file."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise InteropError(f"cannot read: {exc.strerror or exc}", path) from exc
    except UnicodeDecodeError as exc:
        raise InteropError(f"not UTF-8 text: {exc}", path) from exc
    return [parse_line(line, path, n) for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def import_judgements(catalog: Catalog, source: Path) -> JudgementsImportReport:
    """Merge a ``judgements.jsonl`` (or a folder holding one) into the collection's store.

    Every line is checked first and all are added in one transaction: a bad file adds nothing.
    Artwork ids are matched like other imports (id, path ending in it, unique file name).
    """
    source = Path(source)
    path = source / FILE_NAME if source.is_dir() else source
    if not path.exists():
        raise InteropError(f"no {FILE_NAME} here", source)
    rows = read_judgements(path)
    index = ArtworkIndex(catalog.artwork_ids())
    report = JudgementsImportReport(read=len(rows))
    keep = []
    for j in rows:
        aid = index.find(j.artwork_id)
        if aid is None:
            report.unknown.append(j.artwork_id)
        else:
            keep.append(j._replace(artwork_id=aid))
    report.added = catalog.judgements.add_many(keep)
    return report
