"""Which (artwork, region) each row of the fragment index is, in numpy arrays.

A Python list of ``(artwork id, region)`` tuples costs about 150 bytes a fragment: 0.5 GB and
seconds of JSON parsing at 3.6M fragments, 2.7 GB at a 500k-artwork museum. Here a fragment is
8 bytes (artwork number, region) and each artwork id is stored once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np


class FragmentKeys:
    """Append-only row -> (artwork id, region) table, with the rows of one artwork on demand."""

    def __init__(self, artworks: list[str] | None = None, rows: np.ndarray | None = None) -> None:
        self._ids: list[str] = list(artworks or [])
        self._number = {a: i for i, a in enumerate(self._ids)}
        self._rows = np.zeros((0, 2), np.int32) if rows is None else np.asarray(rows, np.int32)
        self._n = len(self._rows)
        self._order: tuple[np.ndarray, np.ndarray] | None = None  # rows sorted by artwork
        self._saved = (0, 0)  # (rows, artwork ids) already in files

    @classmethod
    def of(cls, pairs: Iterable[tuple[str, int]]) -> FragmentKeys:
        keys = cls()
        for aid, j in pairs:
            keys._append(keys._artwork_number(aid), np.array([j]))
        return keys

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i: int) -> tuple[str, int]:
        if not -self._n <= i < self._n:
            raise IndexError(i)
        a, j = self._rows[i % self._n]  # (the array has spare rows past the end)
        return self._ids[int(a)], int(j)

    def _artwork_number(self, artwork_id: str) -> int:
        number = self._number.get(artwork_id)
        if number is None:
            number = self._number[artwork_id] = len(self._ids)
            self._ids.append(artwork_id)
        return number

    def _append(self, number: int, regions: np.ndarray) -> None:
        if self._n + len(regions) > len(self._rows):  # grow by doubling: appends stay O(1)
            grown = np.zeros((max(2 * len(self._rows), self._n + len(regions), 64), 2), np.int32)
            grown[:self._n] = self._rows[:self._n]
            self._rows = grown
        self._rows[self._n:self._n + len(regions), 0] = number
        self._rows[self._n:self._n + len(regions), 1] = regions
        self._n += len(regions)
        self._order = None

    def extend(self, artwork_id: str, n_regions: int) -> None:
        """Rows for regions 0..n-1 of ``artwork_id``, after the last row."""
        self._append(self._artwork_number(artwork_id), np.arange(n_regions))

    def artwork_ids(self) -> list[str]:
        """Every artwork id ever given rows, by artwork number."""
        return list(self._ids)

    def numbers(self, rows: np.ndarray) -> np.ndarray:
        """The artwork number of each of ``rows``."""
        return self._rows[:self._n, 0][np.asarray(rows, np.int64)]

    def rows_of(self, artwork_id: str) -> np.ndarray:
        """Every row ever given to ``artwork_id`` (dead ones included), ascending."""
        number = self._number.get(artwork_id)
        if number is None:
            return np.zeros(0, np.int64)
        if self._order is None:
            order = np.argsort(self._rows[:self._n, 0], kind="stable")
            self._order = (order, np.searchsorted(self._rows[:self._n, 0][order],
                                                  np.arange(len(self._ids) + 1)))
        order, starts = self._order
        return order[starts[number]:starts[number + 1]]

    def artworks(self, live: np.ndarray | None = None) -> set[str]:
        """Artworks with at least one row (one ``live`` row when a mask is given)."""
        numbers = self._rows[:self._n, 0] if live is None else self._rows[:self._n, 0][live[:self._n]]
        return {self._ids[int(a)] for a in np.unique(numbers)}

    # -- files ---------------------------------------------------------------
    def save(self, directory: Path) -> None:
        """The whole table (deltas folded in)."""
        for old in [*directory.glob("keys-*.npy"), *directory.glob("artworks-*.json")]:
            old.unlink()
        np.save(directory / "keys.npy", self._rows[:self._n])
        (directory / "artworks.json").write_text(json.dumps(self._ids))
        self._saved = (self._n, len(self._ids))

    def save_delta(self, directory: Path) -> None:
        """Only the rows and artwork ids added since the last save, as one more pair of files."""
        rows, ids = self._saved
        if self._n > rows:
            (directory / f"artworks-{rows:012d}.json").write_text(json.dumps(self._ids[ids:]))
            np.save(directory / f"keys-{rows:012d}.npy", self._rows[rows:self._n])
            self._saved = (self._n, len(self._ids))

    @classmethod
    def load(cls, directory: Path) -> FragmentKeys:
        ids = json.loads((directory / "artworks.json").read_text())
        parts = [np.load(directory / "keys.npy")]
        for f in sorted(directory.glob("keys-*.npy")):
            ids += json.loads((directory / f"artworks-{f.stem[5:]}.json").read_text())
            parts.append(np.load(f))
        rows = np.concatenate(parts).astype(np.int32, copy=False)
        if rows.ndim != 2 or rows.shape[1] != 2:
            raise ValueError("fragment keys: expected rows of (artwork, region)")
        if len(rows) and (rows[:, 0].max() >= len(ids) or rows[:, 0].min() < 0):
            raise ValueError("fragment keys name an artwork that is not listed")
        keys = cls(ids, rows)
        keys._saved = (len(keys), len(ids))
        return keys
