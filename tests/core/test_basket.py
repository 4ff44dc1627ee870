"""The basket's rules without Qt: identity of entries, order, lists, the VOC/COCO subset."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest

from artannot.core.basket import Basket, BasketEntry
from artannot.core.geometry import Box

WAVE, ARNOLFINI = "images/hokusai_great_wave.jpg", "images/vaneyck_arnolfini_portrait.jpg"
BOX = Box(10, 20, 110, 220)


def fragment(artwork_id: str = WAVE, box: Box = BOX, phrase: str = "wave", score: float | None = 0.5
             ) -> BasketEntry:
    return BasketEntry("fragment", artwork_id, box, phrase, score)


def test_core_basket_does_not_need_qt() -> None:
    code = "import sys, artannot.core.basket; sys.exit('PySide6' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_one_entry_per_box_and_artwork() -> None:
    basket = Basket()
    assert basket.add(fragment())
    assert not basket.add(fragment(phrase="sea", score=0.9))  # same box found by another query
    assert basket.add(fragment(box=Box(10, 20, 110, 221)))  # another box of the same artwork
    assert basket.add(BasketEntry("artwork", WAVE))  # the whole artwork is another entry
    assert basket.add_all([BasketEntry("artwork", WAVE), BasketEntry("artwork", ARNOLFINI)]) == 1
    assert len(basket) == 4
    assert basket.artwork_ids() == [WAVE, ARNOLFINI]  # each once, in basket order
    assert basket.summary() == "4 items from 2 artworks"
    assert Basket().summary() == "Basket is empty"


def test_move_is_clamped_and_remove_keeps_order() -> None:
    basket = Basket()
    a, b, c = (BasketEntry("artwork", name) for name in ("a", "b", "c"))
    basket.add_all([a, b, c])
    assert basket.move(2, -1) == 1 and basket.entries == [a, c, b]
    assert basket.move(0, -5) == 0 and basket.entries == [a, c, b]  # already first
    assert basket.move(0, 9) == 2 and basket.entries == [c, b, a]
    basket.remove(1)
    assert basket.entries == [c, a]


def test_entries_are_checked() -> None:
    with pytest.raises(ValueError, match="kind"):
        BasketEntry("region", WAVE)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no box"):
        BasketEntry("fragment", WAVE)


def test_lists_as_json_and_csv(tmp_path) -> None:
    basket = Basket()
    basket.add_all([fragment(phrase="“great” wave", score=0.123456789), BasketEntry("artwork", ARNOLFINI)])
    rows = json.loads(basket.export_list(tmp_path / "basket.json").read_text(encoding="utf-8"))
    assert rows[0] == {"kind": "fragment", "artwork_id": WAVE, "phrase": "“great” wave",
                       "score": 0.123456789,
                       "box": {"xmin": 10, "ymin": 20, "xmax": 110, "ymax": 220}}
    assert rows[1]["box"] is None and rows[1]["score"] is None
    text = basket.export_list(tmp_path / "basket.CSV").read_text(encoding="utf-8")
    table = list(csv.reader(io.StringIO(text)))
    assert table[0][:3] == ["order", "kind", "artwork_id"]
    assert table[1] == ["1", "fragment", WAVE, "10", "20", "110", "220", "“great” wave", "0.123457"]
    assert table[2] == ["2", "artwork", ARNOLFINI, "", "", "", "", "", ""]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["basket.CSV", "basket.json"]  # no temps


def test_text_names_the_fragment() -> None:
    assert fragment().text() == f"▣ {WAVE} [10,20–110,220] “wave” 0.500"
    assert BasketEntry("artwork", WAVE).text() == f"🖼 {WAVE}"


def test_subset_exports_only_the_basket_artworks(sample_copy, tmp_path) -> None:
    basket = Basket()
    basket.add_all([fragment(), BasketEntry("artwork", WAVE)])  # one artwork, twice
    basket.export_subset(sample_copy, "voc", tmp_path / "voc")
    assert sorted(p.name for p in (tmp_path / "voc").glob("*.xml")) == ["hokusai_great_wave.xml"]
    basket.export_subset(sample_copy, "coco", tmp_path / "coco.json")
    coco = json.loads((tmp_path / "coco.json").read_text(encoding="utf-8"))
    assert [im["file_name"] for im in coco["images"]] == [WAVE]
    assert coco["annotations"]
