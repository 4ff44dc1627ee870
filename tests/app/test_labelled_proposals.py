"""Proposals that explain themselves: Ctrl+R boxes named by the model on a worker, the best few
shown with a slider for more, Enter gives the box its phrase, and no model means no names
(and no crash)."""

# ruff: noqa: F811  (session fixtures imported from tests.app.suggestions_fixtures)
from __future__ import annotations

import threading

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from artannot.app.box_item import NO_LABEL
from artannot.core.voc import read_voc
from artannot.retrieval import service as service_module
from tests.app.suggestions_fixtures import VENUS, WAVE, suggest_collection, suggest_copy  # noqa: F401
from tests.app.test_main_window import discard_on_close, make_window, show

K = 12  # proposals per artwork in the fixture's stored run


def _detect_and_name(qtbot, window) -> int:
    """Ctrl+R on the open artwork; returns how many proposals the worker named."""
    with qtbot.waitSignal(window.suggestions.proposalsLabelled, timeout=30_000) as named:
        window.suggest_actions["detect_artwork"].trigger()
    return named.args[0]


def _shown(window) -> list:
    return [it for it in window.editor.canvas().items_list() if it.isVisible()]


def test_proposals_are_named_with_the_best_metadata_phrase(qtbot, suggest_copy) -> None:
    window, prompts = make_window(qtbot, suggest_copy)
    show(qtbot, window, VENUS)
    assert _detect_and_name(qtbot, window) == K
    items = window.editor.canvas().items_list()
    assert len(items) == K and all(it.is_proposal() for it in items)
    surfaces = {p.text for p in window.catalog.phrases(VENUS)}
    service = window.suggestions.service
    phrases = [(p.norm, p.text) for p in window.catalog.phrases(VENUS)]
    for it in items:
        best = service.phrases_for_box(VENUS, it.region.box, phrases, top_k=1)[0]
        assert best.label in surfaces
        assert it.label_text() == f"{best.label}  {best.score:.2f}"  # phrase score, not detector's
        assert not it.label_text().startswith(NO_LABEL)
    assert window.editor.undo_stack().count() == 1  # naming is no edit: only “Add proposals”
    discard_on_close(window, prompts)


def test_best_five_shown_and_the_slider_reveals_the_rest(qtbot, suggest_copy) -> None:
    window, prompts = make_window(qtbot, suggest_copy)
    show(qtbot, window, VENUS)
    _detect_and_name(qtbot, window)
    regions = window.editor.annotation().regions
    by_score = sorted(range(K), key=lambda i: -regions[i].score)
    assert sorted(it.index for it in _shown(window)) == sorted(by_score[:5])
    panel = window.suggestions_panel
    assert panel.proposal_slider.maximum() == K and panel.proposal_count.text() == f"5 of {K}"
    assert window.editor.selected_indices() == sorted(by_score[:5])  # only what is drawn

    panel.proposal_slider.setValue(8)
    assert sorted(it.index for it in _shown(window)) == sorted(by_score[:8])
    assert panel.proposal_count.text() == f"8 of {K}"
    canvas = window.editor.canvas()
    canvas.setFocus()
    QTest.keyClick(canvas, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert window.editor.selected_indices() == sorted(by_score[:8])

    panel.proposal_slider.setValue(2)  # fewer: the others are held back, not deleted
    assert len(window.editor.annotation().regions) == K
    assert window.editor.selected_indices() == sorted(by_score[:2])
    QTest.keyClick(canvas, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClick(canvas, Qt.Key.Key_Return)  # accepts the two drawn ones only
    regions = window.editor.annotation().regions
    assert sorted(i for i, r in enumerate(regions) if r.source == "manual") == sorted(by_score[:2])
    # the next two proposals take their place; the slider now spans what is left
    assert {it.index for it in _shown(window) if it.is_proposal()} == set(by_score[2:4])
    assert panel.proposal_slider.maximum() == K - 2 and panel.proposal_count.text() == f"2 of {K - 2}"
    panel.proposal_slider.setValue(K - 2)
    assert len(_shown(window)) == K
    discard_on_close(window, prompts)


def test_accepting_a_named_proposal_saves_its_phrase(qtbot, suggest_copy) -> None:
    window, prompts = make_window(qtbot, suggest_copy)
    show(qtbot, window, VENUS)
    _detect_and_name(qtbot, window)
    canvas = window.editor.canvas()
    label = canvas.proposal_label(window.editor.annotation().regions[0].box).label
    window.editor.select_indices([0])
    canvas.setFocus()
    QTest.keyClick(canvas, Qt.Key.Key_Return)
    accepted = window.editor.annotation().regions[0]
    assert accepted.source == "manual" and accepted.phrase == label
    assert canvas.items_list()[0].label_text() == label
    judgement = window.catalog.judgements.all()[-1]
    assert (judgement[2], judgement[5]) == (label, 1)  # the accepted pair, for training
    assert window.save()
    saved = read_voc(suggest_copy / "annotations" / "botticelli_birth_of_venus.xml")
    assert [r.phrase for r in saved.regions] == [label]
    discard_on_close(window, prompts)


def test_without_a_model_proposals_stay_unnamed(qtbot, suggest_copy, monkeypatch) -> None:
    import shutil

    shutil.rmtree(suggest_copy / ".artannot" / "scan")
    monkeypatch.setattr(service_module, "general_checkpoint", lambda: (None, "no general model here"))
    window, prompts = make_window(qtbot, suggest_copy)
    assert not window.suggestions.service.available
    show(qtbot, window, VENUS)
    assert _detect_and_name(qtbot, window) == 0
    items = window.editor.canvas().items_list()
    assert len(items) == K  # as before: unnamed, with the detector's score
    assert [it.label_text() for it in items] == [f"{NO_LABEL}  {it.region.score:.2f}" for it in items]
    window.editor.select_indices([0])
    window.editor.accept_selected()
    assert window.editor.annotation().regions[0].phrase == ""  # accepted, still unnamed
    discard_on_close(window, prompts)


def test_names_for_an_artwork_left_meanwhile_are_dropped(qtbot, suggest_copy, monkeypatch) -> None:
    window, prompts = make_window(qtbot, suggest_copy)
    show(qtbot, window, VENUS)
    service = window.suggestions.service
    real = service.best_phrases_for_regions
    entered, release = threading.Event(), threading.Event()

    def slow(*args, **kwargs):
        entered.set()
        release.wait(20)
        return real(*args, **kwargs)

    monkeypatch.setattr(service, "best_phrases_for_regions", slow)
    named = []
    window.suggestions.proposalsLabelled.connect(named.append)
    window.suggest_actions["detect_artwork"].trigger()
    qtbot.waitUntil(entered.is_set, timeout=20_000)
    job = window.suggestions._label_requests.current
    show(qtbot, window, WAVE)  # saves VENUS (no proposals written) and opens the wave
    with qtbot.waitSignal(job.signals.finished, timeout=20_000):
        release.set()
    assert named == [] and job.cancelled
    assert all(window.editor.canvas().proposal_label(r.box) is None
               for r in window.editor.annotation().regions)
    discard_on_close(window, prompts)
