"""The collection catalog: an embedded SQLite database with an FTS5 index.

It lives in ``<collection>/.artannot/catalog.sqlite`` (or a per-user data folder when the
collection is read-only) and is a cache of what is on disk: it can always be rebuilt.
The curators' judgements are not in it: they are durable human data with a store of their own
(:mod:`artannot.core.judgements_store`), reached as ``catalog.judgements``; older catalogs'
judgements are moved there when the catalog is opened, before it may be rebuilt.
Re-opening is incremental: each artwork keeps a signature of the files it was built from,
and only artworks whose files changed are read again.

Why one long module (~900 lines): every query here reads or writes the one schema above
through one connection; its readers (browser rows, queue, phrases, thumbnails) share the
schema's indexes, and splitting them would scatter one table's SQL over several files.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs
from PIL import Image

from artannot.core import collection as col
from artannot.core.errors import ArtannotError, CatalogError, ImageError
from artannot.core.judgements_store import JudgementStore
from artannot.core.metadata import (
    _last_component,
    descriptions_of,
    looks_like_karpathy,
    read_karpathy,
    read_sidecar,
    title_of,
)
from artannot.core.model import Annotation, Artwork, PhraseRecord, normalise_phrase
from artannot.core.recovery import recovery_dir
from artannot.core.safe_io import remove_stale_temps, writable_dir
from artannot.core.voc import parse_voc_bytes, read_voc

SCHEMA_VERSION = 1
Progress = Callable[[int, int], None]
ShouldStop = Callable[[], bool]
STOP_CHECK_STEPS = 20_000  # SQLite virtual-machine steps between two asks whether to stop a long query

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
-- for 180k phrases); drop it in place rather than rebuild catalogs made before
DROP INDEX IF EXISTS phrases_norm;
CREATE TABLE IF NOT EXISTS thumbnails (artwork_id TEXT PRIMARY KEY, stamp TEXT, jpeg BLOB);
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


@dataclass(frozen=True, slots=True)
class StatusChange:
    """What one save changed in the collection's totals, so views adjust them instead of recounting."""

    annotated: int = 0
    verified: int = 0
    regions: int = 0
    covered: int = 0  # metadata phrases of the artwork that now label one of its boxes


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
    if writable_dir(local):
        return local
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

    def __init__(self, root: Path, data_dir: Path, conn: sqlite3.Connection,
                 judgements: JudgementStore | None = None) -> None:
        self.root = root
        self.data_dir = data_dir
        self._db = conn
        self.judgements = judgements or JudgementStore(root)  # durable, not part of the cache

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
        judgements = JudgementStore(root.resolve())
        try:
            conn = _connect(db_path, judgements)
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
                conn = _connect(db_path, judgements)
            except (OSError, sqlite3.DatabaseError) as exc2:
                raise CatalogError(f"cannot open catalog database: {exc} ({exc2})", db_path) from exc2
        _add_lookup_columns(conn)
        cat = cls(root.resolve(), data_dir, conn, judgements)
        # Leftovers of interrupted saves (ours only, by name and age) would pile up forever.
        for folder in (root / col.ANNOTATIONS_DIR_NAME, recovery_dir(data_dir)):
            remove_stale_temps(folder)
        if refresh:
            cat.refresh(progress=progress, should_stop=should_stop)
        return cat

    def close(self) -> None:
        self._db.close()
        self.judgements.close()

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
        if not self._db.in_transaction:
            # Take the write lock before looking the row up: another process indexing the same
            # collection (`index` beside `phrases`, the GUI) could otherwise insert it between
            # our look-up and our INSERT, which then fails on the UNIQUE id.
            self._db.execute("BEGIN IMMEDIATE")
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
        n_regions, verified, labels = 0, False, []
        if link.annotation:
            try:
                ann = read_voc(self.root / link.annotation)
                n_regions, verified, labels = len(ann.regions), ann.verified, _labels(ann)
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
                "INSERT INTO artworks(stem, id, signature, width, height, title, museum, culture, date, split,"
                " fields, descriptions, metadata_paths, annotation_path, n_regions, verified, has_metadata,"
                " error) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (_stem(image_rel), *row),
            ).lastrowid
        else:
            rowid = cur[0]
            self._db.execute(
                "UPDATE artworks SET stem=?, id=?, signature=?, width=?, height=?, title=?, museum=?, culture=?,"
                " date=?, split=?, fields=?, descriptions=?, metadata_paths=?, annotation_path=?,"
                " n_regions=?, verified=?, has_metadata=?, error=? WHERE rowid=?",
                (_stem(image_rel), *row, rowid),
            )
        self._set_coverage(image_rel, labels)
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

    def artwork_pages(self, page: int = 2000) -> Iterator[list[Artwork]]:
        """Every artwork in id order (as :meth:`artworks`), ``page`` at a time, for whole-collection
        passes that must not hold 500k records. Keyset paging on the unique id index: each page is
        one short query, so no cursor stays open while the caller writes between pages."""
        if page < 1:
            raise ValueError(f"page must be >= 1, got {page}")
        sql = f"SELECT {self._ARTWORK_COLS} FROM artworks WHERE id > ? ORDER BY id LIMIT ?"
        last = ""  # sorts before every id (ids are non-empty relative paths)
        while True:
            rows = self._db.execute(sql, (last, page)).fetchall()
            if not rows:
                return
            yield [self._artwork_from(r) for r in rows]
            last = rows[-1][0]

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
        same_stem = self._db.execute("SELECT count(*) FROM artworks WHERE stem=?",
                                     (_stem(artwork_id),)).fetchone()[0]
        return self.root / col.default_annotation_rel(artwork_id, unique_stem=same_stem <= 1)

    _ROW_COLS = "id, title, museum, culture, date, split, n_regions, verified, has_metadata, error, width, height"
    _A_ROW_COLS = ", ".join(f"a.{c}" for c in _ROW_COLS.split(", "))  # the same, for queries aliasing artworks a

    def rows(
        self,
        query: str = "",
        filters: Filters | None = None,
        order: str = "title",
        limit: int | None = None,
        offset: int = 0,
    ) -> list[ArtworkRow]:
        """Artworks matching a full-text query and filters, for the browser."""
        sql, params = self._select(self._A_ROW_COLS, query, filters)
        sql += _order_by(order, query)
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params += [limit, offset]
        return [_artwork_row(r) for r in self._db.execute(sql, params)]

    def listing(
        self,
        query: str = "",
        filters: Filters | None = None,
        order: str = "title",
        should_stop: ShouldStop | None = None,
        on_first: Callable[[list[str], bytearray], None] | None = None,
        first_rows: int = 256,
    ) -> tuple[list[str], bytearray]:
        """The ids ``rows()`` would list, in its order, and one annotated flag (0/1) each.

        What a browser of any size keeps in memory (ids, not rows). ``should_stop`` interrupts
        the query itself (a sort of the whole collection), so a stale search stops costing CPU.
        ``on_first`` gets the first ``first_rows`` as soon as SQLite yields them, before the
        rest is fetched: a screenful to show while the other 500k ids arrive.
        """
        sql, params = self._select("a.id, a.n_regions > 0", query, filters)
        if should_stop is not None:
            self._db.set_progress_handler(lambda: int(should_stop()), STOP_CHECK_STEPS)
        try:
            cur = self._db.execute(sql + _order_by(order, query), params)
            found = cur.fetchmany(first_rows) if on_first is not None else []
            if found and len(found) == first_rows:  # fewer: that was all, no need for two answers
                on_first([r[0] for r in found], bytearray(r[1] for r in found))
            found += cur.fetchall()
        except sqlite3.OperationalError:
            if should_stop is not None and should_stop():
                return [], bytearray()
            raise
        finally:
            if should_stop is not None:
                self._db.set_progress_handler(None, 0)
        return [r[0] for r in found], bytearray(r[1] for r in found)

    def rows_by_id(self, artwork_ids: Sequence[str]) -> dict[str, ArtworkRow]:
        """Browser rows of the given artworks by primary-key look-ups: one page, whatever N is."""
        out: dict[str, ArtworkRow] = {}
        for chunk in _chunks(artwork_ids):
            marks = ",".join("?" * len(chunk))
            for r in self._db.execute(f"SELECT {self._A_ROW_COLS} FROM artworks a WHERE a.id IN ({marks})", chunk):
                out[r[0]] = _artwork_row(r)
        return out

    def reader(self) -> Catalog:
        """A second, read-only connection to this catalog for a worker thread.

        Queries that scan the collection then never hold the GUI's connection (its saves
        would wait behind them), and opening it skips ``open``'s schema checks and clean-up.
        """
        db_path = self.data_dir / "catalog.sqlite"
        conn = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True,
                               check_same_thread=False, timeout=30)
        return Catalog(self.root, self.data_dir, conn, JudgementStore(self.root))

    def row(self, artwork_id: str, query: str = "", filters: Filters | None = None) -> ArtworkRow | None:
        """One artwork's browser row, or None when it does not match: a save updates one row."""
        sql, params = self._select(self._A_ROW_COLS, query, filters,
                                   artwork_id=artwork_id)
        r = self._db.execute(sql, params).fetchone()
        return _artwork_row(r) if r else None

    def count(self, query: str = "", filters: Filters | None = None) -> int:
        sql, params = self._select("count(*)", query, filters)
        return self._db.execute(sql, params).fetchone()[0]

    def _select(self, cols: str, query: str, filters: Filters | None,
                artwork_id: str | None = None) -> tuple[str, list]:
        where, params = [], []
        if artwork_id is not None:
            where.append("a.id = ?")
            params.append(artwork_id)
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
    def record_annotation(self, artwork_id: str, annotation: Annotation, path: Path) -> StatusChange:
        """Update the status columns after a save, so the browser shows it without a rescan."""
        rel = path.resolve().relative_to(self.root).as_posix()
        before = self._db.execute("SELECT n_regions, verified, covered FROM artworks WHERE id=?",
                                  (artwork_id,)).fetchone() or (0, 0, 0)
        n, verified = len(annotation.regions), int(annotation.verified)
        with self._db:
            self._db.execute(
                "UPDATE artworks SET n_regions=?, verified=?, annotation_path=? WHERE id=?",
                (n, verified, rel, artwork_id),
            )
            covered = self._set_coverage(artwork_id, _labels(annotation))
        b_n, b_verified, b_covered = (v or 0 for v in before)
        return StatusChange((n > 0) - (b_n > 0), verified - b_verified, n - b_n, covered - b_covered)

    def next_in_queue(self, strategy: str, current: str | None) -> str | None:
        """The unverified artwork after ``current`` in queue order (wrapping), by index range scans.

        Same order as ``core.queue.order`` over ``rows(order="title")``, in a few indexed look-ups
        instead of sorting the whole collection on each Ctrl+N.
        """
        key = _QUEUE_KEYS[strategy]
        base = "SELECT id FROM artworks WHERE verified = 0 AND "
        tail = " LIMIT 1"
        cur = None
        if current is not None:
            cur = self._db.execute(f"SELECT {key}, title, id, verified FROM artworks WHERE id=?",
                                   (current,)).fetchone()
        if cur is not None and not cur[3]:
            k, title, aid = cur[:3]
            for sql, params in (
                (f"{key} = ? AND title = ? COLLATE NOCASE AND id > ? ORDER BY id", (k, title, aid)),
                (f"{key} = ? AND title > ? COLLATE NOCASE ORDER BY title COLLATE NOCASE, id", (k, title)),
                (f"{key} > ? ORDER BY {key}, title COLLATE NOCASE, id", (k,)),
            ):
                r = self._db.execute(base + sql + tail, params).fetchone()
                if r:
                    return r[0]
        r = self._db.execute(base + f"1 ORDER BY {key}, title COLLATE NOCASE, id" + tail).fetchone()
        if r is None or (cur is not None and not cur[3] and r[0] == current):
            return None
        return r[0]

    def _set_coverage(self, artwork_id: str, labels: Sequence[str] | None = None) -> int:
        """Store how many of the artwork's metadata phrases label one of its boxes (``None``: labels kept)."""
        if labels is None:
            r = self._db.execute("SELECT labels FROM artworks WHERE id=?", (artwork_id,)).fetchone()
            labels = json.loads(r[0]) if r and r[0] else []
        norms = {r[0] for r in self._db.execute(
            "SELECT DISTINCT norm FROM phrases WHERE artwork_id=? AND norm != ''", (artwork_id,))}
        covered = len(norms & set(labels))
        self._db.execute("UPDATE artworks SET labels=?, n_phrases=?, covered=? WHERE id=?",
                         (json.dumps(sorted(set(labels)), ensure_ascii=False), len(norms), covered, artwork_id))
        return covered

    def coverage(self) -> tuple[int, int]:
        """(distinct metadata phrases per artwork, those that label a box of it), summed: one scan."""
        r = self._db.execute("SELECT sum(n_phrases), sum(covered) FROM artworks").fetchone()
        return r[0] or 0, r[1] or 0

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
                self._set_coverage(artwork_id)
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

    def phrase_hashes(self, artwork_ids: Sequence[str]) -> dict[str, str | None]:
        """Stored text hashes of several artworks (one query per 500 ids); unknown ids are left out."""
        out: dict[str, str | None] = {}
        for chunk in _chunks(artwork_ids):
            marks = ",".join("?" * len(chunk))
            out.update(self._db.execute(f"SELECT id, phrase_hash FROM artworks WHERE id IN ({marks})", chunk))
        return out

    def phrases_of(self, artwork_ids: Sequence[str]) -> dict[str, list[PhraseRecord]]:
        """Phrases of several artworks (a page of a whole-collection pass), each in stored order;
        artworks without phrases are left out."""
        out: dict[str, list[PhraseRecord]] = {}
        for chunk in _chunks(artwork_ids):
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT artwork_id, field, start, end, text, norm FROM phrases WHERE artwork_id IN ({marks})"
                " ORDER BY artwork_id, rowid", chunk,  # the index order: no sort
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


def _connect(db_path: Path, judgements: JudgementStore | None = None) -> sqlite3.Connection:
    conn = sqlite3.connect(db_path, check_same_thread=False, timeout=30)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        if judgements is not None:  # before any rebuild below: judgements are not cache
            judgements.take_from_catalog(conn)
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


def _chunks(ids: Sequence[str], size: int = 500) -> Iterator[list[str]]:
    """``ids`` in lists short enough for one SQL ``IN (...)`` (old SQLite builds allow 999 ``?``)."""
    for i in range(0, len(ids), size):
        yield list(ids[i:i + size])


_ROW_ORDERS = {
    "title": "a.title COLLATE NOCASE, a.id", "id": "a.id", "regions": "a.n_regions DESC, a.id",
    "museum": "a.museum COLLATE NOCASE, a.id", "culture": "a.culture COLLATE NOCASE, a.id",
    "date": "a.date COLLATE NOCASE, a.id", "split": "a.split, a.id",
    "status": "a.error IS NULL, a.verified DESC, a.n_regions > 0 DESC, a.id",
}


def _order_by(order: str, query: str) -> str:
    """The browser's sort orders; ``rank`` is relevance while searching, else id order."""
    if order == "rank":
        return " ORDER BY " + ("bm25(search), a.id" if fts_query(query) else "a.id")
    return " ORDER BY " + _ROW_ORDERS.get(order, _ROW_ORDERS["title"])


def _artwork_row(r: Sequence) -> ArtworkRow:
    return ArtworkRow(r[0], r[1] or "", r[2] or "", r[3] or "", r[4] or "", r[5], r[6] or 0, bool(r[7]),
                      bool(r[8]), r[9], r[10] or 0, r[11] or 0)


# Queue strategies the catalog can answer with an index: strategy -> sort key before (title, id).
_QUEUE_KEYS = {"unannotated": "n_regions > 0", "fewest_boxes": "n_regions"}


def _labels(annotation: Annotation) -> list[str]:
    return [n for n in (normalise_phrase(r.phrase) for r in annotation.regions) if n]


def _stem(artwork_id: str) -> str:
    return Path(artwork_id).stem


def _add_lookup_columns(conn: sqlite3.Connection) -> None:
    """Indexed look-up columns added in place, so older catalogs keep their rows (no rebuild).

    ``stem``: export/import ask for each artwork whether another one shares its file stem
    (to name its VOC file); a ``LIKE '%stem.%'`` scan took 12 ms per artwork at 100k rows.
    ``labels``, ``n_phrases``, ``covered``: the queue's "phrases covered" figure is a sum over
    these instead of re-reading every VOC file after each save. Older catalogs get them filled
    by re-indexing each artwork once (its signature is cleared).
    """
    # Read and alter under the write lock: two processes opening a new catalog at once both
    # saw the columns missing and the second ALTER failed ("duplicate column name: stem").
    conn.execute("BEGIN IMMEDIATE")
    with conn:
        cols = {r[1] for r in conn.execute("PRAGMA table_info(artworks)")}
        if "stem" not in cols:
            conn.execute("ALTER TABLE artworks ADD COLUMN stem TEXT")
            conn.executemany("UPDATE artworks SET stem=? WHERE rowid=?",
                             [(_stem(i), r) for r, i in conn.execute("SELECT rowid, id FROM artworks")])
        if "covered" not in cols:
            for col_def in ("labels TEXT", "n_phrases INTEGER DEFAULT 0", "covered INTEGER DEFAULT 0"):
                conn.execute(f"ALTER TABLE artworks ADD COLUMN {col_def}")
            conn.execute("UPDATE artworks SET signature=''")
    conn.execute("CREATE INDEX IF NOT EXISTS artworks_stem ON artworks(stem)")
    # The browser's default listing (title order, ids and annotated flags) read from this covering
    # index instead of sorting the wide rows: 80 ms instead of 230 ms at 100k artworks.
    conn.execute("CREATE INDEX IF NOT EXISTS artworks_title ON artworks(title COLLATE NOCASE, id, n_regions)")
    for name, key in _QUEUE_KEYS.items():
        conn.execute(f"CREATE INDEX IF NOT EXISTS artworks_queue_{name} ON artworks(verified, {key},"
                     " title COLLATE NOCASE, id)")


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
