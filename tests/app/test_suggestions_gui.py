"""Suggestions in the window: region -> phrases, phrase -> regions, judgements, latest-wins,
and "no model yet" -> train one in the background."""

# ruff: noqa: F811  (session fixtures imported from tests.app.suggestions_fixtures)
from __future__ import annotations

import threading

from artannot.app import workers
from tests.app.suggestions_fixtures import (  # noqa: F401
    WAVE,
    click_phrase,
    suggest_collection,
    suggest_copy,
    tiny_config,
)
from tests.app.test_main_window import discard_on_close, make_window, show


def _ready(qtbot, window) -> None:
    qtbot.waitUntil(lambda: window.suggestions.service is not None and window.suggestions.service.available,
                    timeout=5_000)


def test_selecting_a_box_fills_panel_and_accepting_labels_it(qtbot, suggest_copy) -> None:
    window, prompts = make_window(qtbot, suggest_copy)
    show(qtbot, window, WAVE)
    _ready(qtbot, window)
    assert "SCAN: scan/best.pt" in window.models_label.text() and "efficientnet" in window.models_label.text()
    panel = window.suggestions_panel
    window.editor.select_indices([1])  # a curator-drawn box: RoI feature computed in the worker
    qtbot.waitUntil(lambda: len(panel.phrase_items()) > 0, timeout=20_000)
    ranked = panel.phrase_items()
    assert ranked[0].origin == "artwork" and ranked[-1].origin == "collection"
    assert window.suggestions.last_latency_ms is not None

    # Click the third suggestion: it labels the box; the two above it are recorded as skipped.
    third = ranked[2]
    click_phrase(panel, third)
    assert window.editor.annotation().regions[1].phrase == third.label
    judged = [(j[2], j[3], j[5], j[6].split(":")[0]) for j in window.catalog.judgements.all()]
    assert judged == [(ranked[0].phrase, 1, 0, "phrase"), (ranked[1].phrase, 2, 0, "phrase"),
                      (third.phrase, 3, 1, "phrase")]
    assert len({j.time for j in window.catalog.judgements.all()}) == 1  # one click, one transaction
    discard_on_close(window, prompts)


def test_phrase_highlights_regions_and_click_annotates(qtbot, suggest_copy) -> None:
    window, prompts = make_window(qtbot, suggest_copy)
    show(qtbot, window, WAVE)
    _ready(qtbot, window)
    n = len(window.editor.annotation().regions)
    norm = window.metadata.phrases()[0].norm
    window.editor.select_indices([])
    window.metadata.phraseActivated.emit(norm)  # nothing selected + a model: phrase -> regions
    overlay = window.suggestions.overlay
    qtbot.waitUntil(lambda: len(overlay.highlights) > 0, timeout=10_000)
    assert overlay.heat_item is not None and overlay.heat_item.isVisible()
    assert [h.hit.rank for h in overlay.highlights] == list(range(1, len(overlay.highlights) + 1))
    window.suggestions_panel.opacity.setValue(80)
    assert abs(overlay.heat_item.opacity() - 0.8) < 1e-6
    window.suggestions_panel.heat_check.setChecked(False)
    assert not overlay.heat_item.isVisible() and not window.suggest_actions["toggle_heatmap"].isChecked()

    first = window.suggestions_panel.region_items()[0]
    window.suggestions_panel.regionChosen.emit(first)  # what a click on the list or the box does
    regions = window.editor.annotation().regions
    assert len(regions) == n + 1 and regions[-1].source == "manual"
    assert regions[-1].phrase == window.metadata.phrases()[0].text
    assert regions[-1].box == first.box.rounded()
    assert window.catalog.judgements.all()[-1][6].startswith("region:")

    # A selected box keeps the old behaviour (label it) unless "find regions" mode is on.
    window.editor.select_indices([0])
    window.metadata.phraseActivated.emit("signature inscription")
    assert window.editor.annotation().regions[0].phrase == "signature inscription"
    window.suggest_actions["phrase_regions"].trigger()
    assert window.suggestions_panel.mode_button.isChecked() and window.suggestions.wants_phrase()
    discard_on_close(window, prompts)


def test_a_stale_answer_never_overwrites_a_newer_one(qtbot, suggest_copy, monkeypatch) -> None:
    window, prompts = make_window(qtbot, suggest_copy)
    show(qtbot, window, WAVE)
    _ready(qtbot, window)
    service = window.suggestions.service
    slow_box = window.editor.annotation().regions[0].box
    real = service.phrases_for_box
    asked, answer = threading.Event(), threading.Event()

    def slow_first(aid, box, phrases, **kw):
        if box == slow_box:  # the old question is answered only once the newer one has been
            asked.set()
            answer.wait(30)
        return real(aid, box, phrases, **kw)

    monkeypatch.setattr(service, "phrases_for_box", slow_first)
    shown = []
    window.suggestions.suggestionsShown.connect(lambda ms: shown.append(window.suggestions._shown.box))
    window.editor.select_indices([0])
    old_job = window.suggestions._phrase_requests.current
    qtbot.waitUntil(asked.is_set, timeout=30_000)
    window.editor.select_indices([2])
    newer = window.editor.annotation().regions[2].box
    qtbot.waitUntil(lambda: shown == [newer], timeout=30_000)
    answer.set()  # the cancelled request finishes now ...
    qtbot.waitUntil(lambda: old_job.done.is_set() and old_job not in workers._live, timeout=30_000)
    assert shown == [newer]  # ... and its answer was dropped
    assert window.suggestions._shown.box == newer
    discard_on_close(window, prompts)


def test_without_a_model_the_panel_offers_training(qtbot, suggest_copy, monkeypatch) -> None:
    """No model of the collection's own and no general model either (the general-model case:
    tests/app/test_general_model_gui.py)."""
    import shutil

    from artannot.retrieval import service as service_module

    monkeypatch.setattr(service_module, "general_checkpoint",
                        lambda: (None, "the bundled general model is unavailable"))
    shutil.rmtree(suggest_copy / ".artannot" / "scan")
    window, prompts = make_window(qtbot, suggest_copy)
    panel = window.suggestions_panel
    assert "unavailable" in panel.status.text() and panel.train_button.isVisibleTo(panel)
    assert "SCAN: none" in window.models_label.text()
    job = window.suggestions.train(config=tiny_config())
    qtbot.waitUntil(lambda: window.suggestions.training_job() is None, timeout=30_000)
    assert job.done.is_set() and window.suggestions.service.available
    assert (window.catalog.data_dir / "scan" / "best.pt").is_file()
    assert "SCAN: scan/best.pt" in window.models_label.text()
    assert not panel.train_button.isVisibleTo(panel)
    from artannot.models import ModelManager

    assert any(s.role == "scan" for s in ModelManager().installed())
    discard_on_close(window, prompts)
