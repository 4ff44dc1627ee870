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
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock

from artannot.core.errors import ModelError
from artannot.core.geometry import Box
from artannot.core.safe_io import atomic_writer, fsync_dir

SCHEMA_VERSION = 1
_MAX_OPEN_SHARDS = 32
WRITER_LOCK = "writer.lock"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS shards (name TEXT PRIMARY KEY, rows INTEGER NOT NULL,
                                   wholes INTEGER NOT NULL, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    artwork_id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, shard TEXT NOT NULL,
    row0 INTEGER NOT NULL, n INTEGER NOT NULL, whole_row INTEGER NOT NULL,
    boxes BLOB NOT NULL, scores BLOB NOT NULL, labels TEXT NOT NULL,
    model TEXT NOT NULL, updated TEXT NOT NULL);
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
        else:
            (self.path / "shards").mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path / "index.sqlite", check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            self._db.commit()
        self._pending: dict[str, _Pending] = {}
        self._ok_shards: set[str] = set()
        self._maps: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
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
        if key in self._maps:
            self._maps.move_to_end(key)
            return self._maps[key]
        arr = np.load(self.path / "shards" / f"{shard}.{kind}.npy", mmap_mode="r")
        self._maps[key] = arr
        while len(self._maps) > _MAX_OPEN_SHARDS:  # each map holds a file descriptor
            self._maps.popitem(last=False)
        return arr

    def get(self, artwork_id: str) -> RegionSet:
        p = self._pending.get(artwork_id)
        if p is not None:
            return RegionSet(artwork_id, p.boxes, p.scores, list(p.labels), p.features,
                             p.whole, p.fingerprint, p.model)
        row = self._db.execute(
            "SELECT fingerprint, shard, row0, n, whole_row, boxes, scores, labels, model "
            "FROM items WHERE artwork_id = ?", (artwork_id,)).fetchone()
        if row is None:
            raise KeyError(artwork_id)
        fp, shard, row0, n, whole_row, boxes, scores, labels, model = row
        return RegionSet(
            artwork_id,
            np.frombuffer(boxes, np.float32).reshape(n, 4),
            np.frombuffer(scores, np.float32).reshape(n),
            json.loads(labels),
            self._map(shard, "regions")[row0: row0 + n],
            self._map(shard, "whole")[whole_row],
            fp,
            json.loads(model),
        )

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

    def close(self) -> None:
        if not self.readonly:
            self.flush()
        self._maps.clear()
        self._db.close()

    def __enter__(self) -> FeatureStore:  # noqa: PYI034
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
