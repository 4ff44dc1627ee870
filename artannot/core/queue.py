"""The annotation queue: which artwork to annotate next, and how far the collection is.

Plain functions over catalog rows, so the GUI, the CLI and tests share one ordering.
Verified artworks never enter the queue: someone already checked them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
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


def next_artwork(catalog: Any, strategy: str, current: str | None,
                 confidence: Mapping[str, float] | None = None) -> str | None:
    """The artwork to open after ``current``.

    The catalog answers the size-independent strategies with indexed look-ups; only a scored
    ``low_confidence`` queue is ordered here (its scores exist only in memory). Without scores
    that strategy orders like ``fewest_boxes``.
    """
    if strategy == "low_confidence" and confidence:
        return next_in(order(catalog.rows(order="title"), strategy, confidence), current)
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown queue strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")
    return catalog.next_in_queue("fewest_boxes" if strategy == "low_confidence" else strategy, current)


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
    """Annotated/total and metadata phrases that already label a box (sums kept by the catalog)."""
    stats = catalog.stats()
    phrases, covered = catalog.coverage()
    return Progress(stats.artworks, stats.annotated, stats.verified, phrases, covered)


def after_save(progress: Progress, change: Any) -> Progress:
    """The progress after one save (``change``: a catalog ``StatusChange``), without a recount."""
    return replace(progress, annotated=progress.annotated + change.annotated,
                   verified=progress.verified + change.verified,
                   phrases_covered=progress.phrases_covered + change.covered)
