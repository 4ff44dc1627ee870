"""Compact, crash-safe store of region features for a whole collection.

Layout of a store folder (the catalog passes ``<collection>/.artannot/features/<model_key>/``):

    index.sqlite                  one row per artwork: fingerprint, shard, rows, boxes,
                                  scores, labels, model identity; plus meta and shard lists
    shards/<id>.regions.npy       float16 [rows, dim]: region features of many artworks
    shards/<id>.whole.npy         float16 [artworks, dim]: whole-image features

Shards are opened with ``np.load(mmap_mode="r")`` (a small LRU of open maps), so a 100k
artwork collection is never read into memory.  ``put`` buffers; ``flush`` writes the shard
files (temporary name, fsync, rename) and *then* commits the index rows in one SQLite
transaction.  A process killed at any point leaves the index consistent: at worst a shard
file no row points to, deleted the next time the store is opened for writing.

Boxes are stored in VOC convention (1-based inclusive pixel indices, see
``artannot.core.geometry``), float32 [n, 4] as ``xmin, ymin, xmax, ymax``.

Why one long module (~480 lines): writes, compaction and reads share one crash-safety
protocol (shard files first, index rows in one transaction, old files last).
"""

from __future__ import annotations

import functools
import json
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from cachetools import LRUCache
from filelock import FileLock

from artannot.core.errors import ModelError
from artannot.core.geometry import Box
from artannot.core.safe_io import atomic_writer, fsync_dir

SCHEMA_VERSION = 1
_MAX_OPEN_SHARDS = 32
# Compaction: a shard with fewer live rows than this is "small" (36 regions x 1,024 artworks,
# ~94 MB of 1280-d float16); merged shards hold up to COMPACT_MAX_ROWS rows; a writer compacts
# on close once COMPACT_MIN_SHARDS small shards exist.
COMPACT_MIN_ROWS = 36 * 1024
COMPACT_MAX_ROWS = 36 * 4096
COMPACT_MIN_SHARDS = 16
WRITER_LOCK = "writer.lock"

_SCHEMA = """
BEGIN;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS shards (name TEXT PRIMARY KEY, rows INTEGER NOT NULL,
                                   wholes INTEGER NOT NULL, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    artwork_id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, shard TEXT NOT NULL,
    row0 INTEGER NOT NULL, n INTEGER NOT NULL, whole_row INTEGER NOT NULL,
    boxes BLOB NOT NULL, scores BLOB NOT NULL, labels TEXT NOT NULL,
    model TEXT NOT NULL, updated TEXT NOT NULL);
COMMIT;
"""


@dataclass(slots=True)
class RegionSet:
    """Regions of one artwork: boxes in VOC convention, features as stored (float16)."""

    artwork_id: str
    boxes: np.ndarray  # [n, 4] float32, VOC xmin, ymin, xmax, ymax (1-based inclusive)
    scores: np.ndarray  # [n] float32
    labels: list[str]
    features: np.ndarray  # [n, dim] float16 (a read-only memory map when from disk)
    whole_image_feature: np.ndarray  # [dim] float16
    fingerprint: str = ""
    model: dict[str, Any] = field(default_factory=dict)

    def box_list(self) -> list[Box]:
        return [Box(*map(float, b)) for b in self.boxes]

    def edges(self) -> np.ndarray:
        """0-based edges ``x0, y0, x1, y1`` (torchvision, Qt) via ``Box.to_edges``."""
        return np.asarray([b.to_edges() for b in self.box_list()], np.float32).reshape(-1, 4)

    def __len__(self) -> int:
        return len(self.boxes)


def edges_to_voc(edges: np.ndarray) -> np.ndarray:
    """[n, 4] 0-based edges -> [n, 4] VOC boxes, through ``Box.from_edges`` (one convention)."""
    rows = [Box.from_edges(*map(float, e)) for e in np.asarray(edges).reshape(-1, 4)]
    return np.asarray([(b.xmin, b.ymin, b.xmax, b.ymax) for b in rows], np.float32).reshape(-1, 4)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _write_npy_atomic(path: Path, array: np.ndarray) -> None:
    with atomic_writer(path) as f:
        np.save(f, array, allow_pickle=False)


@functools.lru_cache(maxsize=_MAX_OPEN_SHARDS)
def _shard_map(path: Path) -> np.ndarray:
    return np.load(path, mmap_mode="r")


@dataclass(frozen=True, slots=True)
class RegionRef:
    """An artwork's region features by reference: where they lie in a shard, read when used.

    Training holds one of these per artwork instead of a copy (36 x 1280 float16 is 92 KB an
    artwork, 9 GB at 100k); a batch maps the rows it needs through a small LRU of open shards,
    so memory and file descriptors stay bounded whatever the collection's size.
    """

    store_path: Path
    artwork_id: str
    shard_file: Path
    row0: int
    shape: tuple[int, int]

    def __len__(self) -> int:
        return self.shape[0]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        try:
            rows = _shard_map(self.shard_file)[self.row0: self.row0 + self.shape[0]]
        except FileNotFoundError:  # compacted by a writer since: look the rows up again
            with FeatureStore(self.store_path, readonly=True) as store:
                rows = np.array(store.get(self.artwork_id).features)
        return np.asarray(rows, dtype=dtype)


@dataclass(slots=True)
class _Pending:
    fingerprint: str
    boxes: np.ndarray
    scores: np.ndarray
    labels: list[str]
    features: np.ndarray
    whole: np.ndarray
    model: dict[str, Any]


class FeatureStore:
    """Region features per artwork id, appended in shards, indexed in SQLite."""

    def __init__(self, path: Path | str, *, dim: int | None = None,
                 meta: dict[str, Any] | None = None, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        if readonly:
            if not (self.path / "index.sqlite").is_file():
                raise ModelError("no feature store here", self.path)
            uri = f"file:{(self.path / 'index.sqlite').as_posix()}?mode=ro"
            self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
            if not self._db.execute("SELECT 1 FROM sqlite_master WHERE name = 'items'").fetchone():
                # a writer killed before its schema landed: nothing is stored yet
                self._db.close()
                self._db = sqlite3.connect(":memory:", check_same_thread=False)
                self._db.executescript(_SCHEMA)
        else:
            (self.path / "shards").mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path / "index.sqlite", check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            self._db.commit()
        self._pending: dict[str, _Pending] = {}
        self._ok_shards: set[str] = set()
        # each map holds a file descriptor: the least recently used ones are let go
        self._maps: LRUCache[tuple[str, str], np.ndarray] = LRUCache(maxsize=_MAX_OPEN_SHARDS)
        stored_dim = self._get_meta("dim")
        self._dim = int(stored_dim) if stored_dim is not None else None
        if dim is not None:
            if self._dim is not None and self._dim != dim:
                raise ModelError(f"feature store holds {self._dim}-d features, not {dim}-d", self.path)
            self._set_dim(dim)
        if meta is not None and not readonly:
            self._put_meta("meta", json.dumps(meta, sort_keys=True))
        if not readonly:
            self._remove_orphans()

    # -- meta ------------------------------------------------------------------------------
    def _get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _put_meta(self, key: str, value: str) -> None:
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def _set_dim(self, dim: int) -> None:
        if self._dim is None and not self.readonly:
            self._put_meta("dim", str(dim))
            self._put_meta("version", str(SCHEMA_VERSION))
            self._put_meta("box_convention", "voc")
        self._dim = dim

    @property
    def dim(self) -> int | None:
        """Feature dimension (None until the first artwork is stored)."""
        return self._dim

    @property
    def meta(self) -> dict[str, Any]:
        """What the caller recorded (e.g. which detector/backbone and weight hashes)."""
        raw = self._get_meta("meta")
        return json.loads(raw) if raw else {}

    def set_meta(self, meta: dict[str, Any]) -> None:
        self._put_meta("meta", json.dumps(meta, sort_keys=True))

    # -- queries ---------------------------------------------------------------------------
    def has(self, artwork_id: str, fingerprint: str | None = None) -> bool:
        """Stored (and, when a fingerprint is given, stored for that exact image)."""
        if artwork_id in self._pending:
            return fingerprint is None or self._pending[artwork_id].fingerprint == fingerprint
        row = self._db.execute("SELECT fingerprint, shard FROM items WHERE artwork_id = ?",
                               (artwork_id,)).fetchone()
        # A row whose shard file is gone is not "stored": a rerun recomputes it.
        return (row is not None and (fingerprint is None or row[0] == fingerprint)
                and self._shard_ok(row[1]))

    def _shard_ok(self, shard: str) -> bool:
        if shard in self._ok_shards:
            return True
        d = self.path / "shards"
        ok = (d / f"{shard}.regions.npy").is_file() and (d / f"{shard}.whole.npy").is_file()
        if ok:
            self._ok_shards.add(shard)
        return ok

    def ids(self) -> list[str]:
        stored = [r[0] for r in self._db.execute("SELECT artwork_id FROM items ORDER BY artwork_id")]
        return sorted(set(stored) | set(self._pending))

    def __len__(self) -> int:
        n = self._db.execute("SELECT COUNT(*) FROM items").fetchone()[0]
        return n + sum(1 for a in self._pending if not self._stored(a))

    def __contains__(self, artwork_id: object) -> bool:
        return isinstance(artwork_id, str) and self.has(artwork_id)

    def _stored(self, artwork_id: str) -> bool:
        return self._db.execute("SELECT 1 FROM items WHERE artwork_id = ?",
                                (artwork_id,)).fetchone() is not None

    def _map(self, shard: str, kind: str) -> np.ndarray:
        key = (shard, kind)
        arr = self._maps.get(key)
        if arr is None:
            arr = np.load(self.path / "shards" / f"{shard}.{kind}.npy", mmap_mode="r")
            self._maps[key] = arr
        return arr

    def get(self, artwork_id: str) -> RegionSet:
        p = self._pending.get(artwork_id)
        if p is not None:
            return RegionSet(artwork_id, p.boxes, p.scores, list(p.labels), p.features,
                             p.whole, p.fingerprint, p.model)
        for attempt in (1, 2):
            row = self._db.execute(
                "SELECT fingerprint, shard, row0, n, whole_row, boxes, scores, labels, model "
                "FROM items WHERE artwork_id = ?", (artwork_id,)).fetchone()
            if row is None:
                raise KeyError(artwork_id)
            fp, shard, row0, n, whole_row, boxes, scores, labels, model = row
            try:
                regions, whole = self._map(shard, "regions")[row0: row0 + n], self._map(shard, "whole")[whole_row]
            except FileNotFoundError:
                if attempt == 2:
                    raise
                continue  # another process compacted the store between the look-up and the map
            return RegionSet(
                artwork_id,
                np.frombuffer(boxes, np.float32).reshape(n, 4),
                np.frombuffer(scores, np.float32).reshape(n),
                json.loads(labels),
                regions,
                whole,
                fp,
                json.loads(model),
            )
        raise AssertionError("unreachable")

    def versions(self) -> dict[str, str]:
        """Artwork id -> a stamp that changes when its regions do (not when compaction moves
        them): what a derived index compares to update only what changed."""
        return dict(self._db.execute("SELECT artwork_id, fingerprint || '|' || updated FROM items"))

    def region_ref(self, artwork_id: str) -> RegionRef:
        """A reference to a stored artwork's region features (KeyError when not readable)."""
        row = self._db.execute("SELECT shard, row0, n FROM items WHERE artwork_id = ?",
                               (artwork_id,)).fetchone()
        if row is None or not self._shard_ok(row[0]):
            raise KeyError(artwork_id)
        return RegionRef(self.path, artwork_id, self.path / "shards" / f"{row[0]}.regions.npy", row[1],
                         (row[2], int(self.dim or 0)))

    def __iter__(self) -> Iterator[RegionSet]:
        for artwork_id in self.ids():
            yield self.get(artwork_id)

    # -- writes ----------------------------------------------------------------------------
    def put(
        self,
        artwork_id: str,
        fingerprint: str,
        boxes: np.ndarray | Sequence[Box],
        scores: np.ndarray,
        labels: Sequence[str],
        features: np.ndarray,
        whole_image_feature: np.ndarray,
        model: dict[str, Any] | None = None,
    ) -> None:
        """Buffer one artwork (replacing an older entry); durable after :meth:`flush`.

        ``boxes`` are VOC boxes: ``Box`` objects or an [n, 4] array in VOC convention.
        """
        if self.readonly:
            raise ModelError("feature store opened read-only", self.path)
        if len(boxes) and isinstance(boxes[0], Box):
            boxes = np.asarray([(b.xmin, b.ymin, b.xmax, b.ymax) for b in boxes], np.float32)
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        n = len(boxes)
        features = np.asarray(features)
        whole = np.asarray(whole_image_feature).reshape(-1)
        if features.ndim != 2 or features.shape[0] != n:
            raise ValueError(f"features must be [{n}, dim], got {features.shape}")
        if whole.shape[0] != features.shape[1]:
            raise ValueError("whole-image feature and region features differ in dimension")
        if len(scores) != n or len(labels) != n:
            raise ValueError("boxes, scores and labels differ in length")
        if self._dim is None:
            self._set_dim(int(features.shape[1]))
        elif features.shape[1] != self._dim:
            raise ModelError(f"feature store holds {self._dim}-d features, got {features.shape[1]}-d",
                             self.path)
        self._pending[artwork_id] = _Pending(
            fingerprint, boxes, np.asarray(scores, np.float32).reshape(n), [str(x) for x in labels],
            features.astype(np.float16), whole.astype(np.float16), dict(model or {}))

    @property
    def pending(self) -> int:
        return len(self._pending)

    def _writer_lock(self) -> FileLock:
        """Inter-process lock of the store's writers (the CLI's `detect`, the GUI's Ctrl+R):
        held while a shard is written and indexed, and while orphans are cleaned, so one
        writer never deletes another's shard before it is indexed."""
        return FileLock(str(self.path / WRITER_LOCK))

    def flush(self) -> None:
        """Write buffered artworks as one shard, then commit their index rows atomically."""
        if not self._pending or self.readonly:
            return
        with self._writer_lock():
            self._flush_locked()

    def _flush_locked(self) -> None:
        items = list(self._pending.items())
        shard = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        regions = np.concatenate([p.features for _, p in items]).astype(np.float16)
        wholes = np.stack([p.whole for _, p in items]).astype(np.float16)
        shard_dir = self.path / "shards"
        _write_npy_atomic(shard_dir / f"{shard}.regions.npy", regions)
        _write_npy_atomic(shard_dir / f"{shard}.whole.npy", wholes)
        fsync_dir(shard_dir)
        rows, row0, now = [], 0, _now()
        for i, (artwork_id, p) in enumerate(items):
            rows.append((artwork_id, p.fingerprint, shard, row0, len(p.boxes), i,
                         p.boxes.astype(np.float32).tobytes(), p.scores.astype(np.float32).tobytes(),
                         json.dumps(p.labels), json.dumps(p.model, sort_keys=True), now))
            row0 += len(p.boxes)
        with self._db:  # one transaction: all rows of this shard or none
            self._db.execute("INSERT INTO shards VALUES (?, ?, ?, ?)",
                             (shard, len(regions), len(wholes), now))
            self._db.executemany("INSERT OR REPLACE INTO items VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
        self._pending.clear()

    def _remove_orphans(self) -> None:
        """Delete shard files no index row knows (left by a process killed mid-flush); under
        the writer lock, so a shard another writer is flushing right now is never taken."""
        with self._writer_lock():
            self._remove_orphans_locked()

    def _remove_orphans_locked(self) -> None:
        known = {r[0] for r in self._db.execute("SELECT name FROM shards")}
        for f in (self.path / "shards").iterdir():
            name = f.name
            if name.startswith("."):
                if name.endswith(".tmp"):
                    f.unlink(missing_ok=True)
                continue
            shard = name.split(".", 1)[0]
            if shard not in known:
                f.unlink(missing_ok=True)

    # -- compaction ------------------------------------------------------------------------
    def small_shards(self, min_rows: int = COMPACT_MIN_ROWS) -> list[str]:
        """Shards worth merging: few live rows (a flush per Ctrl+R or per 20 s of detection),
        or mostly rows of artworks detected again since (their space is otherwise never freed)."""
        live = dict(self._db.execute("SELECT shard, sum(n) FROM items GROUP BY shard"))
        return [name for name, rows in self._db.execute("SELECT name, rows FROM shards")
                if live.get(name, 0) < min_rows or live.get(name, 0) * 2 < rows]

    def maybe_compact(self, *, min_shards: int = COMPACT_MIN_SHARDS) -> int:
        """Compact when at least ``min_shards`` small shards have piled up; returns shards merged."""
        if self.readonly:
            return 0
        # every writer's close asks: count the shards first (a few rows), and group the items
        # (a scan of every artwork) only when there are enough shards to be worth it
        if self._db.execute("SELECT count(*) FROM shards").fetchone()[0] < min_shards:
            return 0
        if len(self.small_shards()) < min_shards:
            return 0
        return self.compact()

    def compact(self, *, min_rows: int = COMPACT_MIN_ROWS, max_rows: int = COMPACT_MAX_ROWS) -> int:
        """Merge small shards into shards of up to ``max_rows`` rows; returns shards merged.

        Crash-safe like a flush: new shard files are written (fsync, rename) first, then one
        transaction moves every row to them, then the old files are deleted; a kill in between
        leaves unreferenced files that orphan clean-up removes. Under the writer lock, so no
        other writer's flush interleaves. Readers holding an old map keep reading it (an
        unlinked file stays mapped); a reader that looks a row up after the move gets the new one.
        """
        if self.readonly:
            raise ModelError("feature store opened read-only", self.path)
        with self._writer_lock():
            if self._pending:
                self._flush_locked()
            old = self.small_shards(min_rows)
            if len(old) < 2 and not any(self._shard_is_dead(s) for s in old):
                return 0
            rows = self._db.execute(
                f"SELECT artwork_id, shard, row0, n, whole_row FROM items WHERE shard IN "
                f"({','.join('?' * len(old))}) ORDER BY shard, row0", old).fetchall()
            moves, chunk, chunk_rows = [], [], 0
            for r in rows:
                chunk.append(r)
                chunk_rows += r[3]
                if chunk_rows >= max_rows:
                    moves.append(self._write_merged(chunk))
                    chunk, chunk_rows = [], 0
            if chunk:
                moves.append(self._write_merged(chunk))
            fsync_dir(self.path / "shards")
            now = _now()
            with self._db:
                for shard, n_rows, n_wholes, placed in moves:
                    self._db.execute("INSERT INTO shards VALUES (?, ?, ?, ?)", (shard, n_rows, n_wholes, now))
                    self._db.executemany("UPDATE items SET shard=?, row0=?, whole_row=? WHERE artwork_id=?",
                                         [(shard, r0, w, aid) for aid, r0, w in placed])
                self._db.executemany("DELETE FROM shards WHERE name=?", [(s,) for s in old])
            for s in old:
                self._maps.pop((s, "regions"), None)
                self._maps.pop((s, "whole"), None)
                for kind in ("regions", "whole"):
                    (self.path / "shards" / f"{s}.{kind}.npy").unlink(missing_ok=True)
            self._ok_shards.difference_update(old)
            return len(old)

    def _shard_is_dead(self, shard: str) -> bool:
        return self._db.execute("SELECT 1 FROM items WHERE shard=? LIMIT 1", (shard,)).fetchone() is None

    def _write_merged(self, chunk: Sequence[tuple]) -> tuple[str, int, int, list[tuple[str, int, int]]]:
        shard = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        regions = np.concatenate([self._map(s, "regions")[r0:r0 + n] for _, s, r0, n, _ in chunk]
                                 ).astype(np.float16)
        wholes = np.stack([self._map(s, "whole")[w] for _, s, _, _, w in chunk]).astype(np.float16)
        _write_npy_atomic(self.path / "shards" / f"{shard}.regions.npy", regions)
        _write_npy_atomic(self.path / "shards" / f"{shard}.whole.npy", wholes)
        placed, row0 = [], 0
        for i, (aid, _, _, n, _) in enumerate(chunk):
            placed.append((aid, row0, i))
            row0 += n
        return shard, len(regions), len(wholes), placed

    def close(self) -> None:
        if not self.readonly:
            self.flush()
            self.maybe_compact()
        self._maps.clear()
        self._db.close()

    def __enter__(self) -> FeatureStore:  # noqa: PYI034
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
