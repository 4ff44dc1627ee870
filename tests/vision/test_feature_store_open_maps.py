"""The feature store keeps a bounded number of shard memory maps open (each holds a file
descriptor): reading many shards lets the least recently used ones go."""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from artannot.core.geometry import Box
from artannot.vision import feature_store
from artannot.vision.feature_store import FeatureStore


def open_shard_files(store_dir: Path) -> int:
    shards = str(store_dir / "shards")
    fds = Path("/proc/self/fd").iterdir()
    return sum(1 for fd in fds if os.path.realpath(fd).startswith(shards))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts descriptors in /proc")
def test_open_shards_are_bounded(tmp_path: Path) -> None:
    n = feature_store._MAX_OPEN_SHARDS + 8
    features = {}
    store = FeatureStore(tmp_path / "fs", dim=4)
    try:
        for i in range(n):  # one shard per artwork: every flush writes one (until compaction)
            feats = np.full((2, 4), i, np.float32)
            store.put(f"a{i}.jpg", "1:1", [Box(1, 1, 9, 9), Box(2, 2, 5, 5)], np.ones(2, np.float32),
                      ["region"] * 2, feats, feats[0])
            store.flush()
            features[f"a{i}.jpg"] = feats
        assert len(store.small_shards()) == n
        for artwork_id, feats in features.items():  # two maps per shard: regions and whole
            np.testing.assert_array_equal(store.get(artwork_id).features, feats)
        gc.collect()  # the RegionSets read above are gone; only the store's maps remain
        assert open_shard_files(store.path) == feature_store._MAX_OPEN_SHARDS
        np.testing.assert_array_equal(store.get("a0.jpg").features, features["a0.jpg"])  # reopened
        gc.collect()
        assert open_shard_files(store.path) == feature_store._MAX_OPEN_SHARDS
    finally:
        store.close()
    gc.collect()
    assert open_shard_files(tmp_path / "fs") == 0
