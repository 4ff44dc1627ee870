"""The whole-image term of fragment search: how well each artwork as a whole matches a phrase.

A fragment's own score says whether the box shows "a lotus flower"; the model's whole-image
term says whether the artwork is about one. Added to every fragment of an artwork, it never
changes which box of that artwork comes first, only which artworks come first, and there it
is the stronger signal: on Flickr8k it lifts fragment search's artwork-level R@1 for caption
phrases from 11.5 to 14.6 (``bench/bench_fragment_prior.py``).

Each artwork's whole-image vector goes through the model's image tower once, when the search
index is built or updated, and is kept beside the index (one row per artwork number of
:class:`~artannot.retrieval.fragment_keys.FragmentKeys`; later changes as delta files), so a
query only embeds its phrase through the text tower and reads a row per candidate.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from artannot.core.safe_io import atomic_write, atomic_writer
from artannot.retrieval.fragment_keys import FragmentKeys
from artannot.retrieval.index import dot_f16

BATCH = 512  # artworks through the image tower at a time


class WholeStore(Protocol):
    """The part of a whole-image ``FeatureStore`` read here."""

    def versions(self) -> dict[str, str]: ...
    def get(self, artwork_id: str) -> Any: ...  # .whole_image_feature [global_dim]


class ArtworkPrior:
    """Unit vectors [n, D] of the artworks (by artwork number), which of them exist, and the
    whole-image store version each was computed from."""

    def __init__(self, vectors: np.ndarray, have: np.ndarray, state: dict[str, str],
                 store: str) -> None:
        self.vectors = vectors
        self.have = have
        self.state = state
        self.store = store  # the whole-image store's folder name (encoder and weights)
        self._delta: dict[int, tuple[np.ndarray, bool]] = {}

    @classmethod
    def empty(cls, dim: int, store: str) -> ArtworkPrior:
        return cls(np.zeros((0, dim), np.float16), np.zeros(0, bool), {}, store)

    def __len__(self) -> int:
        return int(self.have.sum())

    # -- keeping up with the store ---------------------------------------------------------
    def update(self, keys: FragmentKeys, store: WholeStore,
               project: Callable[[np.ndarray], np.ndarray],
               should_stop: Callable[[], bool] | None = None,
               progress: Callable[[int, int], None] | None = None) -> bool:
        """Project the artworks of ``keys`` whose whole-image vector is new or changed
        (``project``: [B, global_dim] -> unit [B, D]); forget those whose vector is gone.
        True when anything changed."""
        versions = store.versions()
        ids = keys.artwork_ids()
        self._grow(len(ids))
        todo = [(n, a) for n, a in enumerate(ids) if a in versions and self.state.get(a) != versions[a]]
        gone = [(n, a) for n, a in enumerate(ids) if a not in versions and a in self.state]
        for n, a in gone:
            self._set(n, None)
            del self.state[a]
        for s in range(0, len(todo), BATCH):
            if should_stop is not None and should_stop():
                break
            chunk = todo[s:s + BATCH]
            x = np.stack([np.asarray(store.get(a).whole_image_feature, np.float32) for _, a in chunk])
            for (n, a), v in zip(chunk, project(x)):
                self._set(n, v)
                self.state[a] = versions[a]
            if progress is not None:
                progress(s + len(chunk), len(todo))
        return bool(todo or gone)

    def _grow(self, n: int) -> None:
        if n > len(self.have):
            vectors = np.zeros((n, self.vectors.shape[1]), np.float16)
            vectors[:len(self.vectors)] = self.vectors
            have = np.zeros(n, bool)
            have[:len(self.have)] = self.have
            self.vectors, self.have = vectors, have

    def _set(self, number: int, vector: np.ndarray | None) -> None:
        if vector is None:
            self.vectors[number] = 0
        else:
            self.vectors[number] = vector
        self.have[number] = vector is not None
        self._delta[number] = (self.vectors[number], vector is not None)

    # -- queries ---------------------------------------------------------------------------
    def term(self, numbers: np.ndarray, text: np.ndarray) -> np.ndarray:
        """Cosine of each candidate's artwork with the phrase's text vector [D]. An artwork
        without a whole-image vector gets the candidates' mean: neither pushed nor held back."""
        # a shortlist holds many boxes of few artworks: one product per artwork
        artworks, back = np.unique(np.asarray(numbers, np.int64), return_inverse=True)
        inside = artworks < len(self.have)
        have = np.zeros(len(artworks), bool)
        have[inside] = self.have[artworks[inside]]
        per = np.zeros(len(artworks), np.float32)
        if have.any():
            per[have] = dot_f16(self.vectors[artworks[have]], text)[0]
            per[~have] = per[back[have[back]]].mean()  # over candidates, not artworks
        return per[back]

    # -- files -----------------------------------------------------------------------------
    def save(self, directory: Path | str) -> None:
        """The whole table (deltas folded in)."""
        d = Path(directory)
        for old in d.glob("prior-*.npz"):
            old.unlink()
        for name, array in (("prior.npy", self.vectors), ("prior_have.npy", self.have)):
            with atomic_writer(d / name) as f:  # replaced, never rewritten: a loaded table maps it
                np.save(f, array)
        self._delta.clear()
        self._save_state(d)

    def save_delta(self, directory: Path | str) -> None:
        """Only the rows changed since the last save, as one more file (the whole table
        when there is none yet: an index built before its artworks had whole-image vectors)."""
        d = Path(directory)
        if not (d / "prior.npy").is_file():
            self.save(d)
            return
        if self._delta:
            numbers = np.fromiter(self._delta, np.int64)
            seq = len(list(d.glob("prior-*.npz")))
            with atomic_writer(d / f"prior-{seq:06d}.npz") as f:
                np.savez(f, numbers=numbers, vectors=np.stack([v for v, _ in self._delta.values()]),
                         have=np.array([h for _, h in self._delta.values()]))
            self._delta.clear()
        self._save_state(d)

    def _save_state(self, d: Path) -> None:
        # written last: a kill before it leaves rows the next update recomputes, never stale ones
        atomic_write(d / "prior_state.json",
                     json.dumps({"store": self.store, "versions": self.state}).encode(), backup=False)

    @classmethod
    def load(cls, directory: Path | str, dim: int) -> ArtworkPrior | None:
        """The saved table, or None when there is none (or it cannot be read: recomputed)."""
        d = Path(directory)
        try:
            meta = json.loads((d / "prior_state.json").read_text())
            vectors = np.load(d / "prior.npy", mmap_mode="c")  # 1 GB at 500k artworks: paged in
            have = np.load(d / "prior_have.npy")
            prior = cls(vectors, have, dict(meta["versions"]), str(meta["store"]))
            if vectors.ndim != 2 or vectors.shape[1] != dim or len(have) != len(vectors):
                return None
            for f in sorted(d.glob("prior-*.npz")):
                with np.load(f) as z:
                    prior._grow(int(z["numbers"].max()) + 1 if len(z["numbers"]) else 0)
                    prior.vectors[z["numbers"]] = z["vectors"]
                    prior.have[z["numbers"]] = z["have"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return prior
