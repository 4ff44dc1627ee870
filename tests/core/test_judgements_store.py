"""The judgements store: durable, apart from the catalog cache, migrated (never dropped),
safe with several writers."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from artannot.core import judgements_store as js
from artannot.core.catalog import Catalog
from artannot.core.errors import JudgementsError
from artannot.core.judgements_store import Judgement, JudgementStore

WAVE = "images/hokusai_great_wave.jpg"

# The table older catalogs kept judgements in (catalog schema 1, before the store existed).
OLD_TABLE = """CREATE TABLE judgements (
    artwork_id TEXT, region TEXT, phrase TEXT, rank INTEGER, score REAL, accepted INTEGER,
    model TEXT, time REAL
)"""
OLD_ROWS = [
    (WAVE, "1,1,10,10", "towering wave", 1, 0.9, 1, "phrase:scan/best.pt", 1_700_000_000.25),
    (WAVE, "1,1,10,10", "mount fuji", 2, 0.5, 0, "phrase:scan/best.pt", 1_700_000_000.25),
    (WAVE, "5,5,20,20", None, 0, 0.8, 0, None, 1_700_000_001.5),  # nullable columns of old rows
]


def old_catalog(root: Path, version: int) -> Path:
    """A catalog as older artannot left it: judgements in a table of the catalog itself."""
    Catalog.open(root).close()
    db = root / ".artannot" / "catalog.sqlite"
    conn = sqlite3.connect(db)
    conn.execute(OLD_TABLE)
    conn.executemany("INSERT INTO judgements VALUES (?,?,?,?,?,?,?,?)", OLD_ROWS)
    conn.execute(f"PRAGMA user_version={version}")
    conn.commit()
    conn.close()
    return db


def table_names(db: Path) -> set[str]:
    conn = sqlite3.connect(db)
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        conn.close()


@pytest.mark.parametrize("version", [1, 999], ids=["same-schema", "schema-change-rebuild"])
def test_old_catalog_judgements_move_to_the_store(sample_copy, version):
    db = old_catalog(sample_copy, version)
    with Catalog.open(sample_copy) as cat:
        moved = cat.judgements.all()
        assert cat.stats().artworks > 0
    assert [(j.phrase, j.accepted, j.model, j.time) for j in moved] == [
        ("towering wave", True, "phrase:scan/best.pt", 1_700_000_000.25),
        ("mount fuji", False, "phrase:scan/best.pt", 1_700_000_000.25),
        ("", False, "", 1_700_000_001.5),
    ]
    assert "judgements" not in table_names(db)  # moved, not copied: one home
    store = sample_copy / "annotations" / "judgements.sqlite"
    assert store.exists()
    # deleting the whole cache loses nothing
    for p in (sample_copy / ".artannot").iterdir():
        p.unlink()
    with Catalog.open(sample_copy) as cat:
        assert cat.judgements.all() == moved


def test_interrupted_move_is_redone_without_duplicates(sample_copy):
    db = old_catalog(sample_copy, 1)
    # the store committed the rows but the process died before the catalog dropped its table
    with JudgementStore(sample_copy) as store:
        store.add_many(js._legacy(OLD_ROWS))
    assert "judgements" in table_names(db)
    with Catalog.open(sample_copy) as cat:
        assert len(cat.judgements.all()) == len(OLD_ROWS)
    assert "judgements" not in table_names(db)


def test_reading_creates_nothing(sample_copy):
    with Catalog.open(sample_copy) as cat:
        assert cat.judgements.all() == [] and len(cat.judgements) == 0
        assert cat.judgements.path is None
    assert not (sample_copy / "annotations" / "judgements.sqlite").exists()


def test_batch_is_one_transaction_and_merging_ignores_duplicates(tmp_path):
    with JudgementStore(tmp_path) as store:
        batch = [Judgement(WAVE, "1,1,9,9", f"phrase {i}", i, 0.1 * i, i == 3, "phrase:m") for i in range(1, 4)]
        assert store.add_many(batch) == 3
        rows = store.all()
        assert len({j.time for j in rows}) == 1  # stamped once: one click, one moment
        assert [j.phrase for j in rows] == ["phrase 1", "phrase 2", "phrase 3"]
        assert store.add_many(rows) == 0  # the same judgements again: nothing new
        assert store.add(rows[0]._replace(time=rows[0].time + 1)) == 1  # judged again later: new
        assert len(store) == 4


def test_read_only_collection_keeps_judgements_in_the_user_folder(sample_copy, isolated_dirs, monkeypatch):
    monkeypatch.setattr(js, "writable_dir", lambda folder: False)
    with JudgementStore(sample_copy) as store:
        store.add(Judgement(WAVE, "1,1,9,9", "wave", 1, 0.5, True, "m"))
        assert store.path == js.fallback_path(sample_copy)
        assert store.path.is_relative_to(isolated_dirs["data"])
    with JudgementStore(sample_copy) as again:
        assert [j.phrase for j in again.all()] == ["wave"]


def test_schema_migrates_forward_and_keeps_rows(tmp_path, monkeypatch):
    with JudgementStore(tmp_path) as store:
        store.add(Judgement(WAVE, "1,1,9,9", "wave", 1, 0.5, True, "m", 10.0))
        path = store.path
    step = ("ALTER TABLE judgements ADD COLUMN note TEXT DEFAULT ''",)
    monkeypatch.setattr(js, "MIGRATIONS", [*js.MIGRATIONS, step])
    with JudgementStore(tmp_path) as store:
        assert [j.phrase for j in store.all()] == ["wave"]
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    assert "note" in {r[1] for r in conn.execute("PRAGMA table_info(judgements)")}
    conn.close()


def test_store_from_a_newer_artannot_is_refused_untouched(tmp_path):
    with JudgementStore(tmp_path) as store:
        store.add(Judgement(WAVE, "1,1,9,9", "wave", 1, 0.5, True, "m", 10.0))
        path = store.path
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version=7")
    conn.commit()
    conn.close()
    with pytest.raises(JudgementsError) as info:
        JudgementStore(tmp_path).all()
    assert info.value.code == "E402" and "newer artannot" in str(info.value) and "judgements.sqlite" in str(info.value)
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM judgements").fetchone()[0] == 1
    conn.close()


WRITER = """
import sys
from artannot.core.judgements_store import Judgement, JudgementStore
root, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
store = JudgementStore(root)
print("ready", flush=True)
sys.stdin.readline()  # both writers start together
for i in range(n):  # one transaction each, as single clicks write them
    store.add(Judgement("a.jpg", "1,1,9,9", f"{name} {i}", i, 0.5, i % 2 == 0, "phrase:m"))
store.add_many([Judgement("a.jpg", "2,2,9,9", f"{name} batch {i}", i, 0.5, False, "phrase:m")
                for i in range(n)])
store.close()
print("done", flush=True)
"""


def test_two_processes_writing_lose_nothing(tmp_path):
    n = 150
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), name, str(n)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
             for name in ("first", "second")]
    try:
        for p in procs:
            assert p.stdout.readline().strip() == "ready"
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        for p in procs:
            assert p.stdout.readline().strip() == "done"
            assert p.wait(timeout=120) == 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    with JudgementStore(tmp_path) as store:
        phrases = [j.phrase for j in store.all()]
    expected = {f"{name} {i}" for name in ("first", "second") for i in range(n)}
    expected |= {f"{name} batch {i}" for name in ("first", "second") for i in range(n)}
    assert len(phrases) == len(expected) and set(phrases) == expected
