"""The annotation queue: which artwork to annotate next, and how far the collection is.

Plain functions over catalog rows, so the GUI, the CLI and tests share one ordering.
Verified artworks never enter the queue: someone already checked them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

STRATEGIES: dict[str, str] = {
    "unannotated": "Unannotated first",
    "fewest_boxes": "Fewest boxes first",
    "low_confidence": "Lowest suggestion confidence first",
}


def order(rows: Sequence[Any], strategy: str = "unannotated",
          confidence: Mapping[str, float] | None = None) -> list[str]:
    """Artwork ids (rows need ``id``, ``n_regions``, ``verified``) in queue order.

    ``low_confidence`` puts artworks whose regions the model is least sure about first
    (``confidence``: artwork id -> score); artworks without a score come last.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown queue strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")
    todo = [(i, r) for i, r in enumerate(rows) if not getattr(r, "verified", False)]
    if strategy == "unannotated":
        key: Callable = lambda ir: (ir[1].n_regions > 0, ir[0])
    elif strategy == "fewest_boxes":
        key = lambda ir: (ir[1].n_regions, ir[0])
    else:
        conf = confidence or {}
        key = lambda ir: (ir[1].id not in conf, conf.get(ir[1].id, 0.0), ir[1].n_regions, ir[0])
    return [r.id for _, r in sorted(todo, key=key)]


def next_in(queue: Sequence[str], current: str | None) -> str | None:
    """The artwork after ``current`` in ``queue`` (wrapping), or the first one."""
    if not queue:
        return None
    if current not in queue:
        return queue[0]
    i = list(queue).index(current)
    return queue[(i + 1) % len(queue)] if len(queue) > 1 else None


@dataclass(frozen=True)
class Progress:
    artworks: int
    annotated: int
    verified: int
    phrases: int  # distinct (artwork, phrase) pairs in the metadata
    phrases_covered: int  # ... that label a box of that artwork

    def text(self) -> str:
        share = f" ({100 * self.phrases_covered / self.phrases:.0f}%)" if self.phrases else ""
        return (f"{self.annotated}/{self.artworks} annotated · {self.verified} verified · "
                f"phrases covered {self.phrases_covered}/{self.phrases}{share}")


def collection_progress(catalog: Any, should_stop: Callable[[], bool] | None = None) -> Progress:
    """Annotated/total and metadata phrases that already label a box (reads the VOC files)."""
    from artannot.core.errors import ArtannotError
    from artannot.core.model import normalise_phrase
    from artannot.core.voc import read_voc

    stats = catalog.stats()
    phrases = covered = 0
    for row in catalog.rows(order="id"):
        if should_stop is not None and should_stop():
            break
        norms = {p.norm for p in catalog.phrases(row.id) if p.norm}
        phrases += len(norms)
        if not norms or not row.n_regions:
            continue
        try:
            labels = {normalise_phrase(r.phrase) for r in read_voc(catalog.annotation_path(row.id)).regions}
        except (ArtannotError, OSError):
            continue
        covered += len(norms & labels)
    return Progress(stats.artworks, stats.annotated, stats.verified, phrases, covered)
