"""Feature store: round trip, memory maps, fingerprints, crash safety."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from artannot.core.errors import ModelError
from artannot.core.geometry import Box
from artannot.vision.feature_store import FeatureStore


def _put(store: FeatureStore, artwork_id: str, n: int = 3, dim: int = 8, fp: str = "1:1", seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    feats = rng.random((n, dim), dtype=np.float32)
    boxes = [Box(1, 1, 100, 50)] + [Box(10 + i, 5, 40 + i, 30) for i in range(n - 1)]
    store.put(artwork_id, fp, boxes, np.linspace(1, 0.5, n, dtype=np.float32),
              ["region"] * n, feats, feats.mean(0), model={"k": n})
    return feats


def test_round_trip_and_memory_map(tmp_path: Path) -> None:
    store = FeatureStore(tmp_path / "fs", meta={"detector": "proposals"})
    feats = _put(store, "a.jpg")
    _put(store, "b.jpg", n=5, seed=1)
    assert store.has("a.jpg", "1:1") and not store.has("a.jpg", "2:2") and store.pending == 2
    store.flush()
    store.close()

    again = FeatureStore(tmp_path / "fs", readonly=True)
    assert again.dim == 8 and again.ids() == ["a.jpg", "b.jpg"] and len(again) == 2
    assert again.meta == {"detector": "proposals"}
    rs = again.get("a.jpg")
    assert isinstance(rs.features, np.memmap) and rs.features.dtype == np.float16
    np.testing.assert_allclose(rs.features, feats, atol=1e-3)
    assert rs.whole_image_feature.shape == (8,)
    assert rs.box_list()[0] == Box.whole_image(100, 50) and rs.edges()[0].tolist() == [0, 0, 100, 50]
    assert rs.labels == ["region"] * 3 and rs.model == {"k": 3}
    assert len(again.get("b.jpg")) == 5
    with pytest.raises(KeyError):
        again.get("c.jpg")
    again.close()


def test_replace_and_dimension_check(tmp_path: Path) -> None:
    with FeatureStore(tmp_path / "fs", dim=8) as store:
        _put(store, "a.jpg", fp="1:1")
        store.flush()
        new = _put(store, "a.jpg", fp="2:2", seed=5)
        store.flush()
        assert store.ids() == ["a.jpg"] and store.has("a.jpg", "2:2")
        np.testing.assert_allclose(store.get("a.jpg").features, new, atol=1e-3)
        with pytest.raises(ModelError):
            _put(store, "c.jpg", dim=4)
    with pytest.raises(ModelError):
        FeatureStore(tmp_path / "fs", dim=16)


def test_killed_between_shard_and_index_leaves_store_consistent(tmp_path: Path, monkeypatch) -> None:
    store = FeatureStore(tmp_path / "fs")
    _put(store, "a.jpg")
    store.flush()
    _put(store, "b.jpg", seed=2)

    class Boom(Exception):
        pass

    def die(*args, **kwargs):  # the process "dies" after the shard files were written
        raise Boom()

    monkeypatch.setattr(store, "_db", _Proxy(store._db, executemany=die))
    with pytest.raises(Boom):
        store.flush()
    shards = sorted((tmp_path / "fs" / "shards").glob("*.npy"))
    assert len(shards) == 4  # a.jpg's shard plus the orphaned one

    reopened = FeatureStore(tmp_path / "fs")
    assert reopened.ids() == ["a.jpg"] and len(reopened.get("a.jpg")) == 3
    assert len(list((tmp_path / "fs" / "shards").glob("*.npy"))) == 2  # orphan removed
    # a half-written temporary file is removed as well and never read
    (tmp_path / "fs" / "shards" / ".x.regions.npy.abc.tmp").write_bytes(b"\x93NUMPY garbage")
    reopened.close()
    FeatureStore(tmp_path / "fs").close()
    assert not list((tmp_path / "fs" / "shards").glob(".*.tmp"))


class _Proxy:
    """An sqlite connection whose ``executemany`` fails, everything else passes through."""

    def __init__(self, conn: sqlite3.Connection, **overrides) -> None:
        self._conn, self._overrides = conn, overrides

    def __getattr__(self, name):
        return self._overrides.get(name) or getattr(self._conn, name)

    def __enter__(self):
        return self._conn.__enter__()

    def __exit__(self, *exc):
        return self._conn.__exit__(*exc)


def test_many_artworks_read_lazily(tmp_path: Path) -> None:
    with FeatureStore(tmp_path / "fs") as store:
        for i in range(300):
            _put(store, f"img{i:04}.jpg", n=2, dim=4, seed=i)
            if i % 20 == 19:
                store.flush()
    store = FeatureStore(tmp_path / "fs", readonly=True)
    assert len(store) == 300
    for i in range(0, 300, 7):
        assert store.get(f"img{i:04}.jpg").features.shape == (2, 4)
    assert len(store._maps) <= 32  # bounded number of open memory maps
    store.close()


def _writer(path: str, prefix: str, n: int) -> None:
    """A second process writing one artwork per flush (the CLI's detect, the GUI's Ctrl+R)."""
    store = FeatureStore(path, dim=8)
    for i in range(n):
        _put(store, f"{prefix}{i}.jpg", seed=i)
        store.flush()
    store.close()


def test_concurrent_writers_never_lose_a_shard(tmp_path: Path) -> None:
    """Two writer processes flush while a third keeps opening the store for writing (which
    cleans orphan shards): every indexed artwork must stay readable. Before the inter-process
    writer lock, opening a writer deleted shards another writer had written but not yet
    indexed, and those artworks became unreadable for good."""
    import multiprocessing as mp

    path = str(tmp_path / "fs")
    FeatureStore(path, dim=8).close()
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, p, 25)) for p in ("a", "b")]
    for p in procs:
        p.start()
    opened = 0
    while any(p.is_alive() for p in procs) and opened < 500:
        FeatureStore(path).close()  # a writer opens: orphan clean-up runs under the lock
        opened += 1
    for p in procs:
        p.join()
        assert p.exitcode == 0
    store = FeatureStore(path, readonly=True)
    assert len(store) == 50
    for aid in store.ids():
        assert store.has(aid) and store.get(aid).features.shape == (3, 8)


def test_an_artwork_whose_shard_is_missing_is_recomputed(tmp_path: Path) -> None:
    """A row pointing at a vanished shard is not "stored": `detect` computes it again instead
    of reporting it unchanged."""
    store = FeatureStore(tmp_path / "fs", dim=8)
    _put(store, "a.jpg")
    store.flush()
    _put(store, "b.jpg", seed=1)
    store.flush()
    store.close()
    shard = next((tmp_path / "fs" / "shards").glob("*.regions.npy"))
    again = FeatureStore(tmp_path / "fs", readonly=True)
    gone = next(a for a in ("a.jpg", "b.jpg")
                if again._db.execute("SELECT shard FROM items WHERE artwork_id=?", (a,)).fetchone()[0]
                == shard.name.split(".")[0])
    again.close()
    shard.unlink()
    again = FeatureStore(tmp_path / "fs", readonly=True)
    assert not again.has(gone, "1:1") and again.has({"a.jpg": "b.jpg", "b.jpg": "a.jpg"}[gone], "1:1")


def _shard_files(path: Path) -> set[str]:
    return {f.name.split(".")[0] for f in (path / "shards").glob("*.npy")}


def test_compaction_merges_small_shards_and_frees_replaced_rows(tmp_path: Path) -> None:
    """One flush per Ctrl+R leaves one tiny shard per artwork, and a re-detected artwork's old
    rows are never freed: compaction merges them and everything reads back the same."""
    path = tmp_path / "fs"
    expected = {}
    with FeatureStore(path, dim=8) as store:
        for i in range(40):
            expected[f"a{i}.jpg"] = _put(store, f"a{i}.jpg", n=1 + i % 4, seed=i)
            store.flush()
        for i in range(0, 40, 3):  # detected again: the first version's rows are dead
            expected[f"a{i}.jpg"] = _put(store, f"a{i}.jpg", n=2, seed=100 + i, fp="2:2")
            store.flush()
        assert len(_shard_files(path)) == 54 and len(store.small_shards()) == 54
        merged = store.compact(max_rows=40)
        assert merged == 54
        assert len(_shard_files(path)) == len(store._db.execute("SELECT name FROM shards").fetchall()) == 3
        for aid, feats in expected.items():
            np.testing.assert_allclose(store.get(aid).features, feats, atol=1e-3)
            np.testing.assert_allclose(store.get(aid).whole_image_feature, feats.mean(0), atol=1e-3)
            assert store.has(aid)
        assert store.has("a3.jpg", "2:2") and not store.has("a3.jpg", "1:1")
    again = FeatureStore(path, readonly=True)
    assert len(again) == 40
    for aid, feats in expected.items():
        np.testing.assert_allclose(again.get(aid).features, feats, atol=1e-3)


def test_writer_compacts_on_close_once_small_shards_pile_up(tmp_path: Path) -> None:
    path = tmp_path / "fs"
    with FeatureStore(path, dim=8) as store:
        for i in range(15):
            _put(store, f"a{i}.jpg", seed=i)
            store.flush()
    assert len(_shard_files(path)) == 15  # below the threshold: left alone
    with FeatureStore(path, dim=8) as store:
        _put(store, "a15.jpg", seed=15)
    assert len(_shard_files(path)) == 1
    with FeatureStore(path, readonly=True) as store:
        assert len(store) == 16 and all(store.get(a).features.shape == (3, 8) for a in store.ids())


def test_killed_during_compaction_loses_nothing(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "fs"
    store = FeatureStore(path, dim=8)
    expected = {f"a{i}.jpg": _put(store, f"a{i}.jpg", seed=i) for i in range(5)}
    for aid in list(expected):
        store.flush()
        _put(store, aid, seed=int(aid[1]))  # re-put the same data after each flush: more shards
    store.flush()
    before = _shard_files(path)

    class Boom(Exception):
        pass

    def die(*args, **kwargs):  # killed after the merged shard was written, before the move
        raise Boom()

    monkeypatch.setattr(store, "_db", _Proxy(store._db, executemany=die))
    with pytest.raises(Boom):
        store.compact()
    monkeypatch.undo()
    store._db.close()
    assert _shard_files(path) > before  # the merged shard is an orphan; old shards are intact
    with FeatureStore(path, dim=8) as again:  # a writer opens: the orphan goes
        assert _shard_files(path) == before
        for aid, feats in expected.items():
            np.testing.assert_allclose(again.get(aid).features, feats, atol=1e-3)


def test_reader_follows_rows_moved_by_another_process(tmp_path: Path) -> None:
    path = tmp_path / "fs"
    with FeatureStore(path, dim=8) as store:
        feats = _put(store, "a.jpg")
        store.flush()
        _put(store, "b.jpg", seed=1)
        store.flush()
    reader = FeatureStore(path, readonly=True)
    assert reader.has("a.jpg")
    with FeatureStore(path, dim=8) as writer:
        assert writer.compact() == 2
    np.testing.assert_allclose(reader.get("a.jpg").features, feats, atol=1e-3)  # new shard
    reader.close()


def test_training_reads_regions_by_reference(tmp_path: Path) -> None:
    """SCAN's dataset holds references, not copies (9 GB at 100k artworks): each batch reads
    its rows from the shards, also after a writer compacted them away."""
    from types import SimpleNamespace

    from artannot.retrieval.data import dataset_from_stores, pad_features
    from artannot.vision.feature_store import RegionRef

    path = tmp_path / "fs"
    with FeatureStore(path, dim=8) as store:
        expected = {}
        for i in range(6):
            expected[f"a{i}.jpg"] = _put(store, f"a{i}.jpg", n=2 + i % 3, seed=i)
            store.flush()
    catalog = SimpleNamespace(
        artworks=lambda: [SimpleNamespace(id=a, split="train", fields={}) for a in [*expected, "missing.jpg"]],
        phrases=lambda aid: [SimpleNamespace(norm="blue wave", field="d"), SimpleNamespace(norm="boat", field="d")])
    with FeatureStore(path, readonly=True) as store:
        ds = dataset_from_stores(catalog, store, min_phrase_count=1)
    assert ds.without_features == ["missing.jpg"] and ds.feature_dim == 8
    assert all(isinstance(it.features, RegionRef) for it in ds.items)
    feats, mask = pad_features([it.features for it in ds.items])
    for b, it in enumerate(ds.items):
        np.testing.assert_allclose(feats[b, :len(it.features)].numpy(), expected[it.id], atol=1e-3)
        assert int(mask[b].sum()) == len(expected[it.id])
    with FeatureStore(path, dim=8) as writer:
        assert writer.compact() == 6  # the referenced shard files are gone now
    from artannot.vision import feature_store

    feature_store._shard_map.cache_clear()
    np.testing.assert_allclose(np.asarray(ds.items[0].features), expected[ds.items[0].id], atol=1e-3)


def test_store_a_writer_left_before_its_schema_reads_as_empty(tmp_path: Path) -> None:
    # a detect killed between creating index.sqlite and writing its tables
    sqlite3.connect(tmp_path / "index.sqlite").close()
    assert (tmp_path / "index.sqlite").stat().st_size == 0
    with FeatureStore(tmp_path, readonly=True) as store:
        assert store.ids() == [] and len(store) == 0 and "x" not in store
    with FeatureStore(tmp_path, dim=8) as writer:  # a rerun writes the schema and stores
        _put(writer, "x")
    with FeatureStore(tmp_path, readonly=True) as store:
        assert store.ids() == ["x"]
