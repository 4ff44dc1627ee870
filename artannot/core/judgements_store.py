"""The curators' accept/reject judgements of suggestions: durable human data, kept apart from
the rebuildable catalog.

They live in ``<collection>/annotations/judgements.sqlite``, next to the VOC files that hold
the rest of the curator's work, so deleting or rebuilding ``.artannot/`` never touches them.
When the collection is read-only they go to the per-user data folder instead
(``<user data>/judgements/<hash of the collection path>.sqlite``). The file is created on the
first judgement; until then reading gives an empty list.

The schema is versioned (``PRAGMA user_version``) and only ever migrated forward, step by
step, inside one transaction: nothing is dropped. A file written by a newer artannot is
refused, never rewritten. Older catalogs held judgements in a ``judgements`` table;
:meth:`JudgementStore.take_from_catalog` moves them here before the catalog may be rebuilt.

One row per judgement; (artwork, region, phrase, model, time) identifies it, so merging the
same rows twice (an import, a migration interrupted and redone) adds nothing.
"""

from __future__ import annotations

import hashlib
import math
import os
import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

import platformdirs
from filelock import FileLock, Timeout

from artannot.core.collection import ANNOTATIONS_DIR_NAME
from artannot.core.errors import JudgementsError
from artannot.core.safe_io import writable_dir

FILE_NAME = "judgements.sqlite"

# Migration i takes the file from version i to i + 1. Append steps; never edit or remove one.
MIGRATIONS: list[tuple[str, ...]] = [
    (
        "CREATE TABLE judgements ("
        " id INTEGER PRIMARY KEY, artwork_id TEXT NOT NULL, region TEXT NOT NULL,"
        " phrase TEXT NOT NULL, rank INTEGER, score REAL, accepted INTEGER NOT NULL,"
        " model TEXT NOT NULL, time REAL NOT NULL,"
        " UNIQUE (artwork_id, region, phrase, model, time))",
        "CREATE INDEX judgements_time ON judgements(time)",
    ),
]

_COLS = "artwork_id, region, phrase, rank, score, accepted, model, time"


class Judgement(NamedTuple):
    """One accepted or skipped suggestion. ``region`` is the box as ``box_key`` writes it;
    ``model`` is ``"<kind>:<model>"`` (kinds in :mod:`artannot.retrieval.judgements`)."""

    artwork_id: str
    region: str
    phrase: str
    rank: int
    score: float | None
    accepted: bool
    model: str = ""
    time: float | None = None  # unix seconds; None: when it is stored

    def key(self) -> tuple:
        """What identifies a judgement when merging."""
        return (self.artwork_id, self.region, self.phrase, self.model, self.time)


def _collection_hash(root: Path) -> str:
    return hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:16]


def fallback_path(root: Path) -> Path:
    """Where a read-only collection's judgements go (``ARTANNOT_DATA_DIR`` overrides the base)."""
    base = os.environ.get("ARTANNOT_DATA_DIR") or platformdirs.user_data_dir("artannot")
    return Path(base) / "judgements" / f"{_collection_hash(root)}.sqlite"


def store_path(root: Path, *, create: bool = False) -> Path | None:
    """The collection's judgements file: the one that exists (in the collection first), else,
    with ``create``, where a new one goes; ``None`` when there is none yet and none is wanted."""
    local = Path(root) / ANNOTATIONS_DIR_NAME / FILE_NAME
    if local.exists():
        return local
    fallback = fallback_path(Path(root))
    if fallback.exists():
        return fallback
    if not create:
        return None
    if writable_dir(local.parent):
        return local
    fallback.parent.mkdir(parents=True, exist_ok=True)
    return fallback


class JudgementStore:
    """The judgements of one collection. Opens its SQLite file on first use (WAL, one
    transaction per :meth:`add_many`); one store per thread or process, like the catalog."""

    def __init__(self, root: Path | str, path: Path | None = None) -> None:
        self.root = Path(root)
        self._path = path
        self._db: sqlite3.Connection | None = None

    @property
    def path(self) -> Path | None:
        """The file in use, or ``None`` while the collection has no judgements file."""
        return self._path or store_path(self.root)

    # -- lifecycle ------------------------------------------------------------
    def _conn(self, create: bool) -> sqlite3.Connection | None:
        if self._db is not None:
            return self._db
        path = self._path
        try:
            path = path or store_path(self.root, create=create)
            if path is None:
                return None
            self._db = _open(path)
        except (sqlite3.Error, Timeout, OSError) as exc:
            raise JudgementsError(f"cannot open the judgements store: {exc}", path or self.root) from exc
        self._path = path
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> JudgementStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing --------------------------------------------------------------
    def add(self, judgement: Judgement) -> int:
        return self.add_many([judgement])

    def add_many(self, judgements: Iterable[Judgement]) -> int:
        """Store several judgements in one transaction (one fsync); returns how many were new.

        Rows without a time get the same timestamp, the moment of the call.
        """
        now = time.time()
        rows = [_row(j, now) for j in judgements]
        if not rows:
            return 0
        db = self._conn(create=True)
        assert db is not None
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                before = db.total_changes
                db.executemany(f"INSERT OR IGNORE INTO judgements({_COLS}) VALUES (?,?,?,?,?,?,?,?)", rows)
                added = db.total_changes - before
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise JudgementsError(f"cannot store judgements: {exc}", self._path) from exc
        return added

    # -- reading --------------------------------------------------------------
    def all(self) -> list[Judgement]:
        """Every judgement, oldest first."""
        db = self._conn(create=False)
        if db is None:
            return []
        try:
            rows = db.execute(f"SELECT {_COLS} FROM judgements ORDER BY time, id").fetchall()
        except sqlite3.Error as exc:
            raise JudgementsError(f"cannot read judgements: {exc}", self._path) from exc
        return [Judgement(a, r, p, k, s, bool(acc), m, t) for a, r, p, k, s, acc, m, t in rows]

    def __len__(self) -> int:
        db = self._conn(create=False)
        return 0 if db is None else db.execute("SELECT count(*) FROM judgements").fetchone()[0]

    # -- moving judgements out of older catalogs ---------------------------------------
    def take_from_catalog(self, catalog: sqlite3.Connection) -> int:
        """Move an older catalog's ``judgements`` table here, then drop it from the catalog.

        The catalog is write-locked while rows are copied, so nothing slips in between; the
        table is dropped only after this store has committed them. A crash in between copies
        them again next time (merging ignores rows already here). Returns the rows moved.
        """
        if not _has_table(catalog, "judgements"):
            return 0
        catalog.execute("BEGIN IMMEDIATE")
        try:
            rows = catalog.execute(f"SELECT {_COLS} FROM judgements").fetchall()
            self.add_many(_legacy(rows))
            catalog.execute("DROP TABLE judgements")
            catalog.execute("COMMIT")
        except BaseException:
            catalog.execute("ROLLBACK")
            raise
        return len(rows)


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone() is not None


def _legacy(rows: Sequence[Sequence]) -> list[Judgement]:
    """Rows of the catalog's old table (nullable columns) as judgements."""
    return [Judgement(str(a or ""), str(r or ""), str(p or ""), int(k or 0), s, bool(acc), str(m or ""),
                      float(t) if t is not None else 0.0)
            for a, r, p, k, s, acc, m, t in rows]


def _row(j: Judgement, now: float) -> tuple:
    score = float(j.score) if j.score is not None and math.isfinite(float(j.score)) else None
    return (j.artwork_id, j.region, j.phrase, int(j.rank), score, int(bool(j.accepted)), j.model,
            now if j.time is None else float(j.time))


def _open(path: Path) -> sqlite3.Connection:
    """Connect, switch to WAL and bring the schema up to date (forward migrations only).

    Under an inter-process lock: SQLite answers "database is locked" at once, without waiting,
    to a second process switching a new file to WAL at the same moment.
    """
    with FileLock(path.with_name(f".{path.name}.lock"), timeout=60):
        conn = sqlite3.connect(path, check_same_thread=False, timeout=30, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")  # human work: a commit survives a power cut
            _migrate(conn, path)
        except BaseException:
            conn.close()
            raise
    return conn


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    target = len(MIGRATIONS)
    if conn.execute("PRAGMA user_version").fetchone()[0] == target:
        return
    conn.execute("BEGIN IMMEDIATE")  # another process may be migrating the same file
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > target:
            raise JudgementsError(
                f"written by a newer artannot (schema {version}, this one knows {target}); "
                "upgrade artannot to read it", path)
        for step in MIGRATIONS[version:]:
            for statement in step:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version={target}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
