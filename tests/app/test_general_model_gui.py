"""The issue's "done when": a collection nobody trained a model on, Ctrl+R on The Great Wave,
select a region, and the panel lists phrases ranked by the bundled general model."""

# ruff: noqa: F811  (session fixtures imported from tests.app.suggestions_fixtures)
from __future__ import annotations

import shutil

from tests.app.suggestions_fixtures import WAVE, suggest_collection, suggest_copy  # noqa: F401
from tests.app.test_main_window import discard_on_close, make_window, show


def test_untrained_collection_suggests_with_the_general_model(qtbot, suggest_copy) -> None:
    shutil.rmtree(suggest_copy / ".artannot" / "scan")  # phrases and regions, no model
    window, prompts = make_window(qtbot, suggest_copy)
    panel = window.suggestions_panel
    qtbot.waitUntil(lambda: "general" in panel.status.text(), timeout=30_000)
    assert panel.train_button.isVisible() and "Fine-tune" in panel.train_button.text()

    show(qtbot, window, WAVE)
    with qtbot.waitSignal(window.suggestions.proposalsLabelled, timeout=60_000):
        window.suggest_actions["detect_artwork"].trigger()
    window.editor.select_indices([0])
    qtbot.waitUntil(lambda: len(panel.phrase_items()) > 0, timeout=60_000)
    ranked = panel.phrase_items()
    own = [r for r in ranked if r.origin == "artwork"]
    assert own and [r.score for r in own] == sorted((r.score for r in own), reverse=True)
    assert max(r.score for r in own) - min(r.score for r in own) > 0.05
    assert window.suggestions.service.model_name().startswith("general/")
    discard_on_close(window, prompts)
