from __future__ import annotations

import pytest

from artannot.text.splits import SplitError, assign_splits, normalise_split, split_counts, split_of


def test_deterministic_and_order_independent() -> None:
    ids = [f"egypt/{i:05d}.jpg" for i in range(4000)]
    a = assign_splits(ids)
    b = assign_splits(list(reversed(ids)))
    assert a == b
    counts = split_counts(a)
    assert abs(counts["train"] / 4000 - 0.8) < 0.03
    assert abs(counts["val"] / 4000 - 0.1) < 0.02 and abs(counts["test"] / 4000 - 0.1) < 0.02
    assert assign_splits(ids, seed=1) != a  # the seed matters


def test_adding_artworks_does_not_reshuffle() -> None:
    old = [f"a{i}" for i in range(500)]
    first = assign_splits(old)
    more = assign_splits(old + [f"b{i}" for i in range(500)])
    assert {k: more[k] for k in old} == first


def test_existing_split_is_kept() -> None:
    ids = ["x", "y", "z"]
    free = assign_splits(ids)
    forced = {"x": "test" if free["x"] != "test" else "val", "y": None, "z": "Validation"}
    got = assign_splits(ids, forced)
    assert got["x"] == forced["x"]
    assert got["y"] == free["y"]  # None means "not assigned yet"
    assert got["z"] == "val"


def test_ratios_and_names_are_checked() -> None:
    assert split_of("anything", ratios=(1.0, 0.0, 0.0)) == "train"
    assert set(assign_splits([str(i) for i in range(50)], ratios=(0, 0, 1)).values()) == {"test"}
    with pytest.raises(SplitError):
        assign_splits(["a"], ratios=(0.5, 0.5))
    with pytest.raises(SplitError):
        normalise_split("holdout")
    assert normalise_split(" restval ") == "train" and normalise_split("dev") == "val"


def test_small_collection_gets_every_split() -> None:
    ids = [f"sample/{i}.jpg" for i in range(12)]
    got = assign_splits(ids)
    counts = split_counts(got)
    assert counts["val"] >= 1 and counts["test"] >= 1 and counts["train"] >= 8
    assert assign_splits(list(reversed(ids))) == got  # still deterministic
