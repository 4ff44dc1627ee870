"""Search mode: phrase -> fragment grid, refine, open at the fragment, more like this, basket."""

# ruff: noqa: F811  (session fixtures imported from tests.app.suggestions_fixtures)
from __future__ import annotations

import json

from PySide6.QtCore import Qt

from artannot.app.search_view import PAGE_SIZE
from tests.app.suggestions_fixtures import WAVE, suggest_collection, suggest_copy  # noqa: F401
from tests.app.test_main_window import discard_on_close, make_window, show


def test_search_opens_the_right_artwork_and_fills_the_basket(qtbot, suggest_copy, tmp_path) -> None:
    window, prompts = make_window(qtbot, suggest_copy)
    show(qtbot, window, WAVE)
    view = window.search_view
    window.suggest_actions["search_collection"].trigger()
    phrase = window.metadata.phrases()[0].norm
    view.run_query(phrase)
    qtbot.waitUntil(lambda: view.grid.count() > 0, timeout=20_000)
    assert len(view.results) > PAGE_SIZE and view.grid.count() == PAGE_SIZE
    assert view.page_label.text().startswith(f"page 1/{view.pages()}")
    scores = [f.score for f in view.results]
    assert scores == sorted(scores, reverse=True)
    qtbot.waitUntil(lambda: not view.grid.item(0).icon().isNull(), timeout=60_000)  # crops arrive
    view.show_page(1)
    assert view.grid.item(0).data(Qt.ItemDataRole.UserRole) == view.shown[PAGE_SIZE]

    # Refine within the results by metadata: only fragments of matching artworks stay.
    view.refine.setText("Hokusai")
    assert view.shown and {f.artwork_id for f in view.shown} == {WAVE}
    view.refine.setText("")

    # Open a fragment of another artwork: that artwork opens with the region selected + centred.
    frag = next(f for f in view.shown if f.artwork_id != WAVE)
    view.grid.clear()
    view.show_page(view.shown.index(frag) // PAGE_SIZE)
    item = next(view.grid.item(i) for i in range(view.grid.count())
                if view.grid.item(i).data(Qt.ItemDataRole.UserRole) == frag)
    view.grid.setCurrentItem(item)
    view.open_selected()
    qtbot.waitUntil(lambda: window.current_id == frag.artwork_id, timeout=5_000)
    sel = window.editor.selected_regions()
    assert len(sel) == 1 and sel[0].box.iou(frag.box) > 0.9

    # More like this: the fragment itself comes first.
    view.more_like_this()
    qtbot.waitUntil(lambda: view.query_text.startswith("like") and bool(view.results)
                    and view.results[0].region == frag.region, timeout=10_000)
    assert view.results[0].artwork_id == frag.artwork_id

    # Basket: add fragment + artwork, reorder, export list and a VOC subset.
    view.grid.setCurrentItem(view.grid.item(0))
    view.add_selected("fragment")
    view.add_selected("artwork")
    view.add_selected("fragment")  # duplicates are ignored
    basket = window.basket
    assert [e.kind for e in basket.basket.entries] == ["fragment", "artwork"]
    basket.list.setCurrentRow(1)
    basket._move(-1)
    assert [e.kind for e in basket.basket.entries] == ["artwork", "fragment"]
    basket.choose_path = lambda title, kind: tmp_path / "basket.json"
    basket.export_list()
    rows = json.loads((tmp_path / "basket.json").read_text())
    assert rows[1]["artwork_id"] == frag.artwork_id and rows[1]["box"]["xmin"] == frag.box.xmin
    basket.choose_path = lambda title, kind: tmp_path / "basket.csv"
    basket.export_list()
    assert (tmp_path / "basket.csv").read_text().splitlines()[0].startswith("order,kind,artwork_id")
    from artannot.core.basket import BasketEntry

    basket.add([BasketEntry("artwork", WAVE)])  # an annotated artwork: its VOC file is exported
    basket.choose_path = lambda title, kind: tmp_path / "voc"
    basket.export_subset("voc")
    assert (tmp_path / "voc" / "hokusai_great_wave.xml").is_file()
    basket.choose_path = lambda title, kind: tmp_path / "coco.json"
    basket.export_subset("coco")
    assert json.loads((tmp_path / "coco.json").read_text())["annotations"]
    discard_on_close(window, prompts)
