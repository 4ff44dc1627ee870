"""The fragment index's row -> (artwork, region) table: compact, appendable, saved in deltas."""

import json

import numpy as np
import pytest

from artannot.retrieval.fragment_keys import FragmentKeys


def test_rows_name_artwork_and_region_in_order() -> None:
    keys = FragmentKeys()
    keys.extend("images/ä.jpg", 3)
    keys.extend("images/b.jpg", 2)
    keys.extend("images/ä.jpg", 2)  # re-detected later: new rows at the end
    assert len(keys) == 7
    assert [keys[i] for i in range(7)] == [("images/ä.jpg", 0), ("images/ä.jpg", 1), ("images/ä.jpg", 2),
                                           ("images/b.jpg", 0), ("images/b.jpg", 1),
                                           ("images/ä.jpg", 0), ("images/ä.jpg", 1)]
    assert keys[-1] == ("images/ä.jpg", 1)
    with pytest.raises(IndexError):
        keys[7]
    assert keys.rows_of("images/ä.jpg").tolist() == [0, 1, 2, 5, 6]
    assert keys.rows_of("images/b.jpg").tolist() == [3, 4]
    assert keys.rows_of("images/none.jpg").tolist() == []
    live = np.array([False, False, False, True, True, True, True])
    assert keys.artworks() == {"images/ä.jpg", "images/b.jpg"}
    assert keys.artworks(~live) == {"images/ä.jpg"}


def test_of_pairs_equals_extend() -> None:
    pairs = [("a", 0), ("a", 1), ("b", 0)]
    keys = FragmentKeys.of(pairs)
    assert [keys[i] for i in range(len(keys))] == pairs


def test_save_then_deltas_load_to_the_same_table(tmp_path) -> None:
    rng = np.random.default_rng(0)
    keys = FragmentKeys()
    for i in range(50):
        keys.extend(f"images/{i}.jpg", int(rng.integers(1, 5)))
    keys.save(tmp_path)
    keys.extend("images/new.jpg", 3)
    keys.save_delta(tmp_path)
    keys.extend("images/3.jpg", 2)  # a known artwork again: only rows in the second delta
    keys.extend("images/newer.jpg", 1)
    keys.save_delta(tmp_path)
    keys.save_delta(tmp_path)  # nothing new: no empty file
    assert len(list(tmp_path.glob("keys-*.npy"))) == 2
    back = FragmentKeys.load(tmp_path)
    assert [back[i] for i in range(len(back))] == [keys[i] for i in range(len(keys))]
    assert back.rows_of("images/3.jpg").tolist() == keys.rows_of("images/3.jpg").tolist()
    back.extend("images/last.jpg", 1)  # a loaded table keeps taking deltas
    back.save_delta(tmp_path)
    again = FragmentKeys.load(tmp_path)
    assert again[len(again) - 1] == ("images/last.jpg", 0)
    again.save(tmp_path)  # a full save folds the deltas in
    assert not list(tmp_path.glob("keys-*.npy")) and not list(tmp_path.glob("artworks-*.json"))
    assert len(FragmentKeys.load(tmp_path)) == len(again)


def test_a_table_naming_unknown_artworks_is_refused(tmp_path) -> None:
    keys = FragmentKeys.of([("a", 0), ("b", 0)])
    keys.save(tmp_path)
    (tmp_path / "artworks.json").write_text(json.dumps(["a"]))
    with pytest.raises(ValueError, match="not listed"):
        FragmentKeys.load(tmp_path)
