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
