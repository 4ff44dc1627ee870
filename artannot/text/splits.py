"""Deterministic train/val/test assignment (thesis: 80/10/10).

Each id falls in a split by a hash of ``seed:id``, never by its position in a list: adding
artworks to a collection, or listing them in another order, leaves every earlier assignment
where it was, so a model's test set stays unseen. Ids already assigned keep their split.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from artannot.core.errors import ArtannotError

SPLITS: tuple[str, str, str] = ("train", "val", "test")
# Names other tools use for the same three splits (Karpathy files say "restval", "dev"...).
_ALIASES = {
    "train": "train", "training": "train", "restval": "train",
    "val": "val", "valid": "val", "validation": "val", "dev": "val",
    "test": "test", "testing": "test",
}


class SplitError(ArtannotError):
    """A split name or ratio cannot be understood."""

    code = "E602"


def normalise_split(name: str) -> str:
    """``"Validation"`` -> ``"val"``; unknown names raise :class:`SplitError`."""
    try:
        return _ALIASES[name.strip().lower()]
    except KeyError:
        raise SplitError(f"unknown split {name!r}; expected one of {', '.join(SPLITS)}") from None


def split_of(artwork_id: str, seed: int = 0, ratios: Sequence[float] = (0.8, 0.1, 0.1)) -> str:
    """The split an id gets from its hash alone."""
    digest = hashlib.sha256(f"{seed}:{artwork_id}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64  # uniform in [0, 1)
    total = sum(ratios)
    acc = 0.0
    for name, r in zip(SPLITS, ratios):
        acc += r / total
        if u < acc:
            return name
    return SPLITS[-1]  # float rounding at the very top


def assign_splits(
    ids: Sequence[str],
    existing: Mapping[str, str | None] | None = None,
    seed: int = 0,
    ratios: Sequence[float] = (0.8, 0.1, 0.1),
) -> dict[str, str]:
    """Split of every id: an existing (non-empty) split is kept, others come from the hash."""
    if len(ratios) != 3 or any(r < 0 for r in ratios) or sum(ratios) <= 0:
        raise SplitError(f"ratios must be three non-negative numbers, not all zero: {tuple(ratios)}")
    existing = existing or {}
    out: dict[str, str] = {}
    fresh = []
    for artwork_id in ids:
        old = existing.get(artwork_id)
        if old:
            out[artwork_id] = normalise_split(old)
        else:
            fresh.append(artwork_id)
    hashed = {artwork_id: split_of(artwork_id, seed, ratios) for artwork_id in fresh}
    wanted = {name for name, r in zip(("train", "val", "test"), ratios) if r > 0}
    if len(fresh) >= 3 * len(wanted) and not wanted <= set(hashed.values()):
        # A small batch (12 artworks) can hash to an empty val or test split; rank by the
        # same hash and cut at exact quotas instead, still deterministic.
        hashed = _quota_splits(fresh, seed, ratios)
    out.update(hashed)
    return out


def _quota_splits(ids: Sequence[str], seed: int, ratios: Sequence[float]) -> dict[str, str]:
    total = sum(ratios)
    n = len(ids)
    n_val = round(n * ratios[1] / total)
    n_test = round(n * ratios[2] / total)
    if n >= 3:  # every non-zero split gets at least one artwork
        n_val = max(n_val, 1 if ratios[1] > 0 else 0)
        n_test = max(n_test, 1 if ratios[2] > 0 else 0)
    ranked = sorted(ids, key=lambda a: hashlib.sha256(f"{seed}:{a}".encode()).hexdigest())
    out = {}
    for i, artwork_id in enumerate(ranked):
        out[artwork_id] = "test" if i < n_test else "val" if i < n_test + n_val else "train"
    return out


def split_counts(assignment: Mapping[str, str]) -> dict[str, int]:
    """How many ids are in each split (all three keys present)."""
    counts = dict.fromkeys(SPLITS, 0)
    for split in assignment.values():
        counts[split] = counts.get(split, 0) + 1
    return counts
