"""Curators' judgements of suggestions: how they are written, reported and turned into
training pairs (the only human relevance data the tool collects)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from artannot.core.errors import ArtannotError
from artannot.core.geometry import Box
from artannot.retrieval.data import ArtworkItem

# Judgement kinds, stored as the prefix of the judgement's ``model`` column ("kind:model").
PHRASE, REGION, PROPOSAL, FRAGMENT = "phrase", "region", "proposal", "fragment"
SAME_BOX_PX = 1.0  # a box within a pixel of a stored region uses the stored feature


def box_key(box: Box) -> str:
    """How a region is written in a judgement: its VOC box."""
    return ",".join(repr(float(v)).removesuffix(".0") for v in (box.xmin, box.ymin, box.xmax, box.ymax))


def parse_box_key(text: str) -> Box | None:
    try:
        values = [float(v) for v in text.split(",")]
        return Box(*values) if len(values) == 4 else None
    except (TypeError, ValueError):
        return None


@dataclass
class JudgementReport:
    kind: str
    lists: int  # suggestion lists in which the curator accepted something
    accepted: int
    rejected: int
    top1: float  # share of those lists whose accepted suggestion was ranked 1
    top5: float

    def line(self) -> str:
        return (f"{self.kind:<9} {self.lists:>6} lists  {self.accepted:>6} accepted  "
                f"{self.rejected:>6} rejected  top-1 {100 * self.top1:5.1f}%  "
                f"top-5 {100 * self.top5:5.1f}%")


def judgement_report(rows: Iterable[Sequence[Any]]) -> list[JudgementReport]:
    """:class:`~artannot.core.judgements_store.Judgement` rows (artwork, region, phrase, rank,
    score, accepted, model, time), as ``catalog.judgements.all()`` gives them; one report per
    kind plus ``all``."""
    by_kind: dict[str, list[Sequence[Any]]] = {}
    for r in rows:
        kind = str(r[6]).split(":", 1)[0] if ":" in str(r[6]) else "other"
        by_kind.setdefault(kind, []).append(r)
        by_kind.setdefault("all", []).append(r)
    out = []
    for kind in sorted(by_kind, key=lambda k: (k == "all", k)):
        rs = by_kind[kind]
        acc = [r for r in rs if r[5]]
        ranks = [int(r[3]) for r in acc if r[3] is not None and int(r[3]) > 0]
        n = len(ranks)
        out.append(JudgementReport(kind, n, len(acc), len(rs) - len(acc),
                                   sum(k <= 1 for k in ranks) / n if n else 0.0,
                                   sum(k <= 5 for k in ranks) / n if n else 0.0))
    return out


def stored_index(regions: Any, box: Box) -> int | None:
    """Index of the stored region that is ``box`` (within SAME_BOX_PX), if any."""
    if not len(regions):
        return None
    want = np.array([box.xmin, box.ymin, box.xmax, box.ymax], np.float32)
    diff = np.abs(np.asarray(regions.boxes) - want).max(axis=1)
    j = int(diff.argmin())
    return j if diff[j] <= SAME_BOX_PX else None


def judgement_items(catalog: Any, store: Any, *, pool: bool = True,
                    device: str | None = None) -> list[ArtworkItem]:
    """Accepted (box, phrase) judgements as one-region training items, with the feature the
    suggestion was made from (:meth:`SuggestionService.region_feature`): the stored one when the
    box is a stored region, else pooled by the store's own detector/backbone pipeline (a box
    the curator drew). ``pool=False`` skips drawn boxes (no image decoding, no model).
    """
    from artannot.text.phrases import normalise_label

    items = []
    unmatched: dict[str, list[tuple[int, Box, str]]] = {}
    for n, (aid, region, phrase, _rank, _score, accepted, _model, _t) in enumerate(catalog.judgements.all()):
        box = parse_box_key(region or "")
        if not accepted or not phrase or box is None:
            continue
        norm = normalise_label(phrase)
        try:
            rs = store.get(aid)
        except (KeyError, ArtannotError):
            continue
        j = stored_index(rs, box)
        if j is None:
            unmatched.setdefault(aid, []).append((n, box, norm))
            continue
        items.append(ArtworkItem(f"{aid}#judgement{n}", np.asarray(rs.features[j:j + 1]), [norm], "train"))
    if pool and unmatched:
        items += _pooled_judgement_items(catalog, store.meta, unmatched, device)
    return items


def _pooled_judgement_items(catalog: Any, meta: dict[str, Any],
                            judged: dict[str, list[tuple[int, Box, str]]],
                            device: str | None) -> list[ArtworkItem]:
    from artannot.vision.pipeline import pipeline_for_store
    from artannot.vision.runner import load_model_image

    extractor = pipeline_for_store(meta, device=device).extractor
    items = []
    for aid, boxes in judged.items():
        try:
            image = load_model_image(catalog.artwork(aid).image_path)
        except (KeyError, OSError, ArtannotError):
            continue  # a missing or broken image is listed by `artannot info`
        feats = image.pool(extractor, np.array([box.to_edges() for _, box, _ in boxes]))
        for (n, _, norm), row in zip(boxes, np.asarray(feats)):
            items.append(ArtworkItem(f"{aid}#judgement{n}", row[None].copy(), [norm], "train"))
    return items
