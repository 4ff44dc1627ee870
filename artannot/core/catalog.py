"""The collection catalog: an embedded SQLite database with an FTS5 index.

It lives in ``<collection>/.artannot/catalog.sqlite`` (or a per-user data folder when the
collection is read-only) and is a cache of what is on disk: it can always be rebuilt.
Re-opening is incremental: each artwork keeps a signature of the files it was built from,
and only artworks whose files changed are read again.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs
from PIL import Image

from artannot.core import collection as col
from artannot.core.errors import ArtannotError, CatalogError, ImageError
from artannot.core.metadata import (
    _last_component,
    descriptions_of,
    looks_like_karpathy,
    read_karpathy,
    read_sidecar,
    title_of,
)
from artannot.core.model import Annotation, Artwork, PhraseRecord
from artannot.core.voc import parse_voc_bytes, read_voc

SCHEMA_VERSION = 1
Progress = Callable[[int, int], None]
ShouldStop = Callable[[], bool]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    rel TEXT PRIMARY KEY, kind TEXT NOT NULL, mtime_ns INTEGER, size INTEGER,
    names TEXT  -- VOC: the <filename> it names; captions: JSON list of file names
);
CREATE TABLE IF NOT EXISTS artworks (
    rowid INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL, signature TEXT NOT NULL,
    width INTEGER, height INTEGER, title TEXT, museum TEXT, culture TEXT, date TEXT,
    split TEXT, fields TEXT NOT NULL, descriptions TEXT NOT NULL, metadata_paths TEXT NOT NULL,
    annotation_path TEXT, n_regions INTEGER DEFAULT 0, verified INTEGER DEFAULT 0,
    has_metadata INTEGER DEFAULT 0, error TEXT, phrase_hash TEXT
);
CREATE TABLE IF NOT EXISTS errors (artwork_id TEXT, path TEXT, code TEXT, message TEXT);
CREATE INDEX IF NOT EXISTS errors_artwork ON errors(artwork_id);
CREATE TABLE IF NOT EXISTS phrases (
    artwork_id TEXT NOT NULL, field TEXT, start INTEGER, end INTEGER, text TEXT, norm TEXT
);
CREATE INDEX IF NOT EXISTS phrases_artwork ON phrases(artwork_id);
-- an index on norm made storing phrases 4x slower and only sped up phrase_counts (0.06 s -> 0.19 s
-- for 180k phrases); catalogs made before keep their judgements, so drop it in place
DROP INDEX IF EXISTS phrases_norm;
CREATE TABLE IF NOT EXISTS thumbnails (artwork_id TEXT PRIMARY KEY, stamp TEXT, jpeg BLOB);
CREATE TABLE IF NOT EXISTS judgements (
    artwork_id TEXT, region TEXT, phrase TEXT, rank INTEGER, score REAL, accepted INTEGER,
    model TEXT, time REAL
);
CREATE VIRTUAL TABLE IF NOT EXISTS search USING fts5(
    title, body, phrases, tokenize = 'unicode61 remove_diacritics 2'
);
"""


@dataclass(slots=True)
class RefreshReport:
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    errors: int = 0
    seconds: float = 0.0
    stopped: bool = False


@dataclass(slots=True)
class ArtworkRow:
    """What the browser lists; cheap to load for thousands of artworks."""

    id: str
    title: str
    museum: str
    culture: str
    date: str
    split: str | None
    n_regions: int
    verified: bool
    has_metadata: bool
    error: str | None
    width: int
    height: int


@dataclass(slots=True)
class CollectionStats:
    artworks: int = 0
    with_metadata: int = 0
    annotated: int = 0
    verified: int = 0
    regions: int = 0
    errors: int = 0
    splits: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class Filters:
    annotated: bool | None = None
    verified: bool | None = None
    has_metadata: bool | None = None
    has_error: bool | None = None
    split: str | None = None


def data_dir_for(root: Path) -> Path:
    """``<root>/.artannot`` when writable, else a per-user folder keyed by the collection path."""
    override = os.environ.get("ARTANNOT_DATA_DIR")
    if override:
        return Path(override) / hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:16]
    local = root / col.DATA_DIR_NAME
    try:
        local.mkdir(exist_ok=True)
        probe = local / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
        return local
    except OSError:
        user = Path(platformdirs.user_data_dir("artannot")) / "collections"
        return user / hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:16]


def fts_query(text: str) -> str:
    """User text to a safe FTS5 query: every word must match, the last one as a prefix."""
    words = re.findall(r"\w+", text, flags=re.UNICODE)
    return " ".join(f'"{w}"*' for w in words)


def _field_value(fields: Mapping[str, str], *names: str) -> str:
    for name in names:
        for key, value in fields.items():
            if _last_component(key) == name and value.strip():
                return value.strip()
    return ""


class Catalog:
    """One open collection. Use :meth:`open`; close it (or use ``with``)."""

    def __init__(self, root: Path, data_dir: Path, conn: sqlite3.Connection) -> None:
        self.root = root
        self.data_dir = data_dir
        self._db = conn

    # -- lifecycle ----------------------------------------------------------
    @classmethod
    def open(
        cls,
        root: Path | str,
        *,
        refresh: bool = True,
        progress: Progress | None = None,
        should_stop: ShouldStop | None = None,
    ) -> Catalog:
        root = Path(root).expanduser()
        if not root.is_dir():
            raise CatalogError("collection folder does not exist", root)
        data_dir = data_dir_for(root.resolve())
        data_dir.mkdir(parents=True, exist_ok=True)
        db_path = data_dir / "catalog.sqlite"
        try:
            conn = _connect(db_path)
        except sqlite3.DatabaseError as exc:
            if getattr(exc, "sqlite_errorcode", None) not in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT):
                raise CatalogError(f"cannot open catalog database: {exc}", db_path) from exc
            # A damaged cache must not lock the user out of the collection: keep it aside
            # (it may hold judgements worth recovering) and rebuild from the files.
            aside = db_path.with_name(f"catalog.corrupt-{time.strftime('%Y%m%d-%H%M%S')}.sqlite")
            try:
                os.replace(db_path, aside)
                for suffix in ("-wal", "-shm"):
                    db_path.with_name(db_path.name + suffix).unlink(missing_ok=True)
                conn = _connect(db_path)
            except (OSError, sqlite3.DatabaseError) as exc2:
                raise CatalogError(f"cannot open catalog database: {exc} ({exc2})", db_path) from exc2
        cat = cls(root.resolve(), data_dir, conn)
        if refresh:
            cat.refresh(progress=progress, should_stop=should_stop)
        return cat

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- indexing -----------------------------------------------------------
    def refresh(self, progress: Progress | None = None, should_stop: ShouldStop | None = None) -> RefreshReport:
        """Bring the catalog in line with the files on disk, reading only what changed."""
        t0 = time.perf_counter()
        report = RefreshReport()
        files = col.walk_files(self.root)
        known = {r[0]: r for r in self._db.execute("SELECT rel, kind, mtime_ns, size, names FROM files")}
        kinds: dict[str, tuple[str, str | None]] = {}
        files_changed = len(known) != len(files)
        for rel, info in files.items():
            old = known.get(rel)
            if old is not None and old[2] == info.mtime_ns and old[3] == info.size:
                kinds[rel] = (old[1], old[4])
            else:
                kinds[rel] = self._classify(rel, info)
                files_changed = True
        voc_files = {rel: names or "" for rel, (kind, names) in kinds.items() if kind == "voc"}
        caption_files = {
            rel: set(json.loads(names or "[]")) for rel, (kind, names) in kinds.items() if kind == "captions"
        }
        links = col.link_files(files, voc_files, caption_files)

        existing = dict(self._db.execute("SELECT id, signature FROM artworks"))
        todo = []
        for image_rel, link in links.items():
            sig = self._signature(link, files)
            if existing.get(image_rel) == sig:
                report.unchanged += 1
            else:
                todo.append((image_rel, link, sig))
        removed = [aid for aid in existing if aid not in links]
        with self._db:
            for aid in removed:
                self._delete_artwork(aid)
            report.removed = len(removed)
            if files_changed:  # rewriting 20k rows costs a tenth of a second: only when needed
                self._db.execute("DELETE FROM files")
                self._db.executemany(
                    "INSERT INTO files(rel, kind, mtime_ns, size, names) VALUES (?,?,?,?,?)",
                    [(rel, kinds[rel][0], f.mtime_ns, f.size, kinds[rel][1]) for rel, f in files.items()],
                )
            self._db.execute("DELETE FROM errors WHERE artwork_id IS NULL")
            self._db.executemany(
                "INSERT INTO errors(artwork_id, path, code, message) VALUES (NULL,?,?,?)",
                self._collection_errors(links, voc_files, kinds),
            )
        captions_cache: dict[str, dict] = {}
        total = len(todo)
        for i, (image_rel, link, sig) in enumerate(todo):
            if should_stop is not None and should_stop():
                report.stopped = True
                break
            is_new = image_rel not in existing
            had_error = self._index_artwork(image_rel, link, sig, captions_cache)
            report.errors += had_error
            report.added += is_new
            report.updated += not is_new
            if i % 500 == 499:
                self._db.commit()
            if progress is not None:
                progress(i + 1, total)
        self._db.commit()
        if progress is not None and total == 0:
            progress(0, 0)
        report.seconds = time.perf_counter() - t0
        return report

    def _collection_errors(
        self, links: Mapping[str, col.Links], voc_files: Mapping[str, str], kinds: Mapping[str, tuple]
    ) -> list[tuple[str, str, str]]:
        """Problems with files that belong to no artwork: VOC files naming no image of the
        collection (or unreadable), unreadable caption files.  Listed, never fatal."""
        out: list[tuple[str, str, str]] = []
        linked = {link.annotation for link in links.values() if link.annotation}
        for rel in sorted(set(voc_files) - linked):
            named = voc_files[rel]
            if not named:
                try:
                    read_voc(self.root / rel)
                    named = "(empty <filename>)"
                except ArtannotError as exc:
                    out.append((rel, exc.code, exc.message))
                    continue
            out.append((rel, ImageError.code,
                        f"annotation of {named}, which is not an image of this collection; ignored"))
        for rel, (kind, names) in sorted(kinds.items()):
            if kind == "captions" and names == "[]":
                try:
                    read_karpathy(self.root / rel)
                except ArtannotError as exc:
                    out.append((rel, exc.code, exc.message))
        return out

    def _classify(self, rel: str, info: col.FileInfo) -> tuple[str, str | None]:
        path = self.root / rel
        if info.suffix in col.IMAGE_EXTS:
            return ("image", None)
        if info.suffix == ".xml":
            if not col.peek_is_voc(path):
                return ("meta", None)
            try:  # the <filename> it names; a broken file is matched by its own name only
                root = parse_voc_bytes(path.read_bytes(), path).getroot()
                return ("voc", (root.findtext("filename") or "").strip())
            except (ArtannotError, OSError):
                return ("voc", "")
        if looks_like_karpathy(path):
            try:
                names = sorted({e.filename.rsplit("/", 1)[-1] for e in read_karpathy(path)})
                return ("captions", json.dumps(names))
            except ArtannotError:
                # A broken caption_data.json is reported (see _collection_errors); any other
                # JSON that merely starts with an "images" key is a museum record.
                return ("captions", "[]") if path.name == "caption_data.json" else ("meta", None)
        return ("meta", None)

    @staticmethod
    def _signature(link: col.Links, files: Mapping[str, col.FileInfo]) -> str:
        # Plain string (NUL cannot occur in file names): json.dumps of 10k of these was a
        # fifth of an unchanged re-open.
        out = []
        for p in (link.image, *link.metadata, link.annotation or "", *link.captions):
            f = files.get(p)
            out.append(f"{p}\0{f.mtime_ns}\0{f.size}" if f is not None else p)
        return "\1".join(out)

    def _index_artwork(self, image_rel: str, link: col.Links, sig: str, captions_cache: dict) -> bool:
        errors: list[tuple[str, str, str]] = []
        fields: dict[str, str] = {}
        for rel in link.metadata:
            try:
                for key, value in read_sidecar(self.root / rel).items():
                    fields[key if key not in fields else f"{Path(rel).suffix[1:]}:{key}"] = value
            except ArtannotError as exc:
                errors.append((rel, exc.code, exc.message))
        sentences: list[str] = []
        split = None
        name = Path(image_rel).name
        for rel in link.captions:
            if rel not in captions_cache:
                try:
                    captions_cache[rel] = {e.filename.rsplit("/", 1)[-1]: e for e in read_karpathy(self.root / rel)}
                except ArtannotError as exc:
                    captions_cache[rel] = {}
                    errors.append((rel, exc.code, exc.message))
            entry = captions_cache[rel].get(name)
            if entry is not None:
                sentences.extend(entry.sentences)
                split = split or entry.split
        for i, s in enumerate(sentences):
            fields.setdefault(f"sentences[{i}].raw", s)
        width = height = 0
        try:
            width, height = col.image_size(self.root / image_rel)
            col.check_image(self.root / image_rel)
        except ArtannotError as exc:
            errors.append((image_rel, exc.code, exc.message))
        n_regions, verified = 0, False
        if link.annotation:
            try:
                ann = read_voc(self.root / link.annotation)
                n_regions, verified = len(ann.regions), ann.verified
            except ArtannotError as exc:
                errors.append((link.annotation, exc.code, exc.message))
        old_split = self._db.execute("SELECT split FROM artworks WHERE id=?", (image_rel,)).fetchone()
        split = split or (old_split[0] if old_split else None)
        title = title_of(fields) or Path(image_rel).stem
        descriptions = descriptions_of(fields, sentences)
        row = (
            image_rel, sig, width, height, title,
            _field_value(fields, "museum", "repository", "institution", "credit", "creditline"),
            _field_value(fields, "culture", "period", "dynasty", "school"),
            _field_value(fields, "date", "objectdate", "dated", "year"),
            split, json.dumps(fields, ensure_ascii=False), json.dumps(descriptions, ensure_ascii=False),
            json.dumps(link.metadata), link.annotation, n_regions, int(verified), int(bool(fields)),
            "; ".join(f"{p}: {m}" for p, _, m in errors) or None,
        )
        cur = self._db.execute("SELECT rowid FROM artworks WHERE id=?", (image_rel,)).fetchone()
        if cur is None:
            rowid = self._db.execute(
                "INSERT INTO artworks(id, signature, width, height, title, museum, culture, date, split,"
                " fields, descriptions, metadata_paths, annotation_path, n_regions, verified, has_metadata,"
                " error) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                row,
            ).lastrowid
        else:
            rowid = cur[0]
            self._db.execute(
                "UPDATE artworks SET id=?, signature=?, width=?, height=?, title=?, museum=?, culture=?,"
                " date=?, split=?, fields=?, descriptions=?, metadata_paths=?, annotation_path=?,"
                " n_regions=?, verified=?, has_metadata=?, error=? WHERE rowid=?",
                (*row, rowid),
            )
        self._db.execute("DELETE FROM errors WHERE artwork_id=?", (image_rel,))
        self._db.executemany(
            "INSERT INTO errors(artwork_id, path, code, message) VALUES (?,?,?,?)",
            [(image_rel, p, c, m) for p, c, m in errors],
        )
        phrases = " | ".join(r[0] for r in self._db.execute("SELECT norm FROM phrases WHERE artwork_id=?", (image_rel,)))
        self._db.execute("DELETE FROM search WHERE rowid=?", (rowid,))
        self._db.execute(
            "INSERT INTO search(rowid, title, body, phrases) VALUES (?,?,?,?)",
            (rowid, title, "\n".join(fields.values()) + "\n" + image_rel, phrases),
        )
        return bool(errors)

    def _delete_artwork(self, artwork_id: str) -> None:
        row = self._db.execute("SELECT rowid FROM artworks WHERE id=?", (artwork_id,)).fetchone()
        if row:
            self._db.execute("DELETE FROM search WHERE rowid=?", (row[0],))
        for table in ("artworks WHERE id", "errors WHERE artwork_id", "phrases WHERE artwork_id",
                      "thumbnails WHERE artwork_id"):
            self._db.execute(f"DELETE FROM {table}=?", (artwork_id,))

    # -- reading ------------------------------------------------------------
    def artwork_ids(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT id FROM artworks ORDER BY id")]

    def _artwork_from(self, r: Sequence) -> Artwork:
        aid, fields, descriptions, split, metadata_paths, annotation_path = r
        return Artwork(
            id=aid, image_path=self.root / aid, fields=json.loads(fields),
            descriptions=json.loads(descriptions), split=split,
            metadata_paths=[self.root / p for p in json.loads(metadata_paths)],
            annotation_path=self.root / annotation_path if annotation_path else None,
        )

    _ARTWORK_COLS = "id, fields, descriptions, split, metadata_paths, annotation_path"

    def artworks(self) -> list[Artwork]:
        return [self._artwork_from(r) for r in self._db.execute(f"SELECT {self._ARTWORK_COLS} FROM artworks ORDER BY id")]

    def artwork(self, artwork_id: str) -> Artwork:
        r = self._db.execute(f"SELECT {self._ARTWORK_COLS} FROM artworks WHERE id=?", (artwork_id,)).fetchone()
        if r is None:
            raise KeyError(artwork_id)
        return self._artwork_from(r)

    def image_size(self, artwork_id: str) -> tuple[int, int]:
        r = self._db.execute("SELECT width, height FROM artworks WHERE id=?", (artwork_id,)).fetchone()
        return (r[0], r[1]) if r else (0, 0)

    def annotation_path(self, artwork_id: str) -> Path:
        """The VOC file of an artwork: the one found on disk, or where a new one will be saved."""
        r = self._db.execute("SELECT annotation_path FROM artworks WHERE id=?", (artwork_id,)).fetchone()
        if r and r[0]:
            return self.root / r[0]
        stem = Path(artwork_id).stem
        same_stem = [a for a in self._db.execute("SELECT id FROM artworks WHERE id LIKE ?", (f"%{stem}.%",))
                     if Path(a[0]).stem == stem]
        return self.root / col.default_annotation_rel(artwork_id, unique_stem=len(same_stem) <= 1)

    _ROW_COLS = "id, title, museum, culture, date, split, n_regions, verified, has_metadata, error, width, height"

    def rows(
        self,
        query: str = "",
        filters: Filters | None = None,
        order: str = "title",
        limit: int | None = None,
        offset: int = 0,
    ) -> list[ArtworkRow]:
        """Artworks matching a full-text query and filters, for the browser."""
        sql, params = self._select(f"a.{self._ROW_COLS.replace(', ', ', a.')}", query, filters)
        orders = {
            "title": "a.title COLLATE NOCASE, a.id", "id": "a.id", "regions": "a.n_regions DESC, a.id",
            "museum": "a.museum COLLATE NOCASE, a.id", "rank": "bm25(search), a.id" if fts_query(query) else "a.id",
            "culture": "a.culture COLLATE NOCASE, a.id", "date": "a.date COLLATE NOCASE, a.id",
            "split": "a.split, a.id", "status": "a.error IS NULL, a.verified DESC, a.n_regions > 0 DESC, a.id",
        }
        sql += f" ORDER BY {orders.get(order, orders['title'])}"
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params += [limit, offset]
        return [
            ArtworkRow(r[0], r[1] or "", r[2] or "", r[3] or "", r[4] or "", r[5], r[6] or 0, bool(r[7]),
                       bool(r[8]), r[9], r[10] or 0, r[11] or 0)
            for r in self._db.execute(sql, params)
        ]

    def count(self, query: str = "", filters: Filters | None = None) -> int:
        sql, params = self._select("count(*)", query, filters)
        return self._db.execute(sql, params).fetchone()[0]

    def _select(self, cols: str, query: str, filters: Filters | None) -> tuple[str, list]:
        where, params = [], []
        q = fts_query(query)
        if q:
            sql = f"SELECT {cols} FROM search JOIN artworks a ON a.rowid = search.rowid"
            where.append("search MATCH ?")
            params.append(q)
        else:
            sql = f"SELECT {cols} FROM artworks a"
        f = filters or Filters()
        if f.annotated is not None:
            where.append("a.n_regions > 0" if f.annotated else "a.n_regions = 0")
        if f.verified is not None:
            where.append(f"a.verified = {int(f.verified)}")
        if f.has_metadata is not None:
            where.append(f"a.has_metadata = {int(f.has_metadata)}")
        if f.has_error is not None:
            where.append("a.error IS NOT NULL" if f.has_error else "a.error IS NULL")
        if f.split is not None:
            where.append("a.split = ?")
            params.append(f.split)
        if where:
            sql += " WHERE " + " AND ".join(where)
        return sql, params

    def stats(self) -> CollectionStats:
        r = self._db.execute(
            "SELECT count(*), sum(has_metadata), sum(n_regions > 0), sum(verified), sum(n_regions),"
            " sum(error IS NOT NULL) FROM artworks"
        ).fetchone()
        splits = dict(self._db.execute("SELECT coalesce(split, 'none'), count(*) FROM artworks GROUP BY 1"))
        return CollectionStats(r[0], r[1] or 0, r[2] or 0, r[3] or 0, r[4] or 0, r[5] or 0, splits)

    def errors(self) -> list[tuple[str, str, str]]:
        """Every problem found while indexing, as (file, code, message)."""
        return list(self._db.execute("SELECT path, code, message FROM errors ORDER BY path"))

    # -- annotation status ---------------------------------------------------
    def record_annotation(self, artwork_id: str, annotation: Annotation, path: Path) -> None:
        """Update the status columns after a save, so the browser shows it without a rescan."""
        rel = path.resolve().relative_to(self.root).as_posix()
        with self._db:
            self._db.execute(
                "UPDATE artworks SET n_regions=?, verified=?, annotation_path=? WHERE id=?",
                (len(annotation.regions), int(annotation.verified), rel, artwork_id),
            )

    # -- phrases ------------------------------------------------------------
    def phrase_text_hash(self, artwork_id: str) -> str | None:
        r = self._db.execute("SELECT phrase_hash FROM artworks WHERE id=?", (artwork_id,)).fetchone()
        return r[0] if r else None

    def set_phrases(self, artwork_id: str, text_hash: str, phrases: Sequence[PhraseRecord]) -> None:
        self.store_phrases([(artwork_id, text_hash, phrases)])

    def store_phrases(self, items: Sequence[tuple[str, str, Sequence[PhraseRecord]]]) -> None:
        """Replace the phrases of several artworks in one transaction.

        One commit (an fsync) per artwork cost more than extracting its phrases; callers batch.
        """
        with self._db:
            for artwork_id, text_hash, phrases in items:
                self._db.execute("DELETE FROM phrases WHERE artwork_id=?", (artwork_id,))
                self._db.executemany(
                    "INSERT INTO phrases(artwork_id, field, start, end, text, norm) VALUES (?,?,?,?,?,?)",
                    [(artwork_id, p.field, p.start, p.end, p.text, p.norm) for p in phrases],
                )
                self._db.execute("UPDATE artworks SET phrase_hash=? WHERE id=?", (text_hash, artwork_id))
                row = self._db.execute("SELECT rowid FROM artworks WHERE id=?", (artwork_id,)).fetchone()
                if row:
                    self._db.execute(
                        "UPDATE search SET phrases=? WHERE rowid=?", (" | ".join(p.norm for p in phrases), row[0])
                    )

    def phrases(self, artwork_id: str) -> list[PhraseRecord]:
        rows = self._db.execute(
            "SELECT field, start, end, text, norm FROM phrases WHERE artwork_id=? ORDER BY rowid", (artwork_id,)
        )
        return [tuple.__new__(PhraseRecord, r) for r in rows]

    def phrases_by_artwork(self) -> dict[str, list[PhraseRecord]]:
        """Every artwork's phrases in one query (3,000 single-artwork queries took a second)."""
        out: dict[str, list[PhraseRecord]] = {}
        rows = self._db.execute(
            "SELECT artwork_id, field, start, end, text, norm FROM phrases ORDER BY rowid"
        )
        for r in rows:
            out.setdefault(r[0], []).append(tuple.__new__(PhraseRecord, r[1:]))
        return out

    def phrase_counts(self) -> dict[str, int]:
        """How often each normalised phrase occurs in the collection's metadata."""
        return dict(self._db.execute("SELECT norm, count(*) FROM phrases GROUP BY norm ORDER BY 2 DESC"))

    # -- splits -------------------------------------------------------------
    def splits(self) -> dict[str, str | None]:
        return dict(self._db.execute("SELECT id, split FROM artworks"))

    def set_splits(self, mapping: Mapping[str, str | None]) -> None:
        with self._db:
            self._db.executemany("UPDATE artworks SET split=? WHERE id=?", [(s, a) for a, s in mapping.items()])

    # -- thumbnails ---------------------------------------------------------
    def thumbnail(self, artwork_id: str) -> bytes | None:
        """Cached JPEG thumbnail, if still valid for the current image file."""
        r = self._db.execute("SELECT stamp, jpeg FROM thumbnails WHERE artwork_id=?", (artwork_id,)).fetchone()
        if r is None or r[0] != _image_stamp(self.root / artwork_id):
            return None
        return r[1]

    def store_thumbnail(self, artwork_id: str, jpeg: bytes) -> None:
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO thumbnails(artwork_id, stamp, jpeg) VALUES (?,?,?)",
                (artwork_id, _image_stamp(self.root / artwork_id), jpeg),
            )

    # -- judgements ---------------------------------------------------------
    def add_judgement(
        self, artwork_id: str, region: str, phrase: str, rank: int, score: float, accepted: bool, model: str = ""
    ) -> None:
        """Record that the curator accepted or rejected a suggestion: relevance data for later."""
        with self._db:
            self._db.execute(
                "INSERT INTO judgements(artwork_id, region, phrase, rank, score, accepted, model, time)"
                " VALUES (?,?,?,?,?,?,?,?)",
                (artwork_id, region, phrase, rank, score, int(accepted), model, time.time()),
            )

    def judgements(self) -> list[tuple]:
        return list(self._db.execute(
            "SELECT artwork_id, region, phrase, rank, score, accepted, model, time FROM judgements ORDER BY time"
        ))


def _connect(db_path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db_path, check_same_thread=False, timeout=30)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, SCHEMA_VERSION):  # a cache: rebuild rather than migrate
            conn.close()
            db_path.unlink()
            conn = sqlite3.connect(db_path, check_same_thread=False, timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(_SCHEMA)
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    except BaseException:
        conn.close()
        raise
    return conn


def _image_stamp(path: Path) -> str:
    try:
        st = path.stat()
    except OSError:
        return ""
    return f"{st.st_mtime_ns}:{st.st_size}"


def make_thumbnail(path: Path, max_side: int = 256) -> bytes:
    """A small JPEG for the browser, from a reduced decode (fast on big scans)."""
    with Image.open(path) as im:
        im = col.decode_reduced(im, col.reduction_for(im.width, im.height, 2 * max_side))
        im.thumbnail((max_side, max_side))
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=85)
        return buf.getvalue()
