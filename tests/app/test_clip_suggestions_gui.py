"""CLIP zero-shot suggestions in the window: a chooser above the phrase list when a CLIP model
is installed (hidden otherwise), CLIP's ranking on a worker with the model named in the
caption, the choice kept while the app runs, judgements naming ``clip/<name>``."""

# ruff: noqa: F811  (session fixtures imported from tests.app.suggestions_fixtures)
from __future__ import annotations

from pathlib import Path

import pytest

from tests.app.suggestions_fixtures import WAVE, click_phrase, suggest_collection, suggest_copy  # noqa: F401
from tests.app.test_main_window import discard_on_close, make_window, show

CLIP = "tiny_clip"
STARRY = "images/vangogh_starry_night.jpg"


@pytest.fixture(scope="session")
def tiny_clip_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.tiny_clip import build_tiny_clip

    return build_tiny_clip(tmp_path_factory.mktemp("hub") / "tiny-clip")


@pytest.fixture
def models_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty models folder of this test only (the bundled general model still resolves)."""
    folder = tmp_path / "models"
    folder.mkdir()
    monkeypatch.setenv("ARTANNOT_MODELS_DIR", str(folder))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return folder


@pytest.fixture
def clip_installed(models_dir: Path, tiny_clip_folder: Path) -> str:
    from artannot.models import ModelManager

    ModelManager().import_dir(tiny_clip_folder, name=CLIP)
    return CLIP


def _ready(qtbot, window) -> None:
    qtbot.waitUntil(lambda: window.suggestions.service is not None and window.suggestions.service.available,
                    timeout=5_000)


def _choices(panel) -> list[str]:
    return [panel.model_choice.itemText(i) for i in range(panel.model_choice.count())]


def _choose(panel, source: str) -> None:
    panel.model_choice.setCurrentIndex(panel.model_choice.findData(source))


def _wait_list(qtbot, window, model: str) -> None:
    ctl = window.suggestions
    qtbot.waitUntil(lambda: ctl._shown is not None and ctl._shown.model == model
                    and len(window.suggestions_panel.phrase_items()) > 0, timeout=30_000)


def test_choosing_clip_ranks_the_box_with_clip_and_judgements_name_it(qtbot, suggest_copy, clip_installed
                                                                      ) -> None:
    window, prompts = make_window(qtbot, suggest_copy)
    show(qtbot, window, WAVE)
    _ready(qtbot, window)
    panel, ctl = window.suggestions_panel, window.suggestions
    assert panel.model_choice.isVisibleTo(panel)
    assert _choices(panel) == ["SCAN: scan/best.pt", f"CLIP zero-shot: {CLIP}"]
    assert ctl.source() == "scan"

    window.editor.select_indices([1])  # SCAN first, as before
    _wait_list(qtbot, window, "scan/best.pt")
    _choose(panel, "clip")  # re-ranks the selected box with CLIP, on a worker
    _wait_list(qtbot, window, f"clip/{CLIP}")
    assert f"CLIP zero-shot model {CLIP}" in panel.status.text()
    ranked = panel.phrase_items()
    origins = [r.origin for r in ranked]
    assert set(origins) == {"artwork", "collection"}
    assert origins[0] == "artwork" and origins == sorted(origins, key=lambda o: o != "artwork")
    assert [r.rank for r in ranked] == list(range(1, len(ranked) + 1))
    for origin in set(origins):  # scores sorted within each origin
        scores = [r.score for r in ranked if r.origin == origin]
        assert scores == sorted(scores, reverse=True)
    # exactly what the service's CLIP hook answers for this box
    box = window.editor.annotation().regions[1].box
    expect = ctl.service.clip_phrases_for_box(WAVE, box, ctl._artwork_phrases, top_k=ctl.top_k)
    assert [(r.phrase, round(r.score, 5)) for r in ranked] == [
        (r.phrase, round(r.score, 5)) for r in expect]

    # Accept the second: it labels the box; judgements carry the CLIP model.
    second = ranked[1]
    click_phrase(panel, second)
    assert window.editor.annotation().regions[1].phrase == second.label
    judged = [(j[2], j[3], j[5], j[6]) for j in window.catalog.judgements.all()]
    assert judged == [(ranked[0].phrase, 1, 0, f"phrase:clip/{CLIP}"),
                      (second.phrase, 2, 1, f"phrase:clip/{CLIP}")]

    # The choice holds for the next artwork and when the collection is opened again.
    show(qtbot, window, STARRY)
    window.editor.select_indices([0])
    _wait_list(qtbot, window, f"clip/{CLIP}")
    window.open_collection(suggest_copy, wait=True)
    _ready(qtbot, window)
    assert panel.model_choice.currentData() == "clip" and ctl.source() == "clip"
    _choose(panel, "scan")
    assert ctl.source() == "scan"
    discard_on_close(window, prompts)


def test_clip_is_warmed_up_when_the_collection_opens(qtbot, suggest_copy, clip_installed,
                                                     monkeypatch) -> None:
    from artannot.retrieval.service import SuggestionService

    calls = []
    real = SuggestionService.clip_warm_up

    def spy(self, should_stop=None):
        calls.append(self.root)
        return real(self, should_stop)

    monkeypatch.setattr(SuggestionService, "clip_warm_up", spy)
    window, prompts = make_window(qtbot, suggest_copy)
    qtbot.waitUntil(lambda: calls == [window.catalog.root] and not window.suggestions._warm_jobs,
                    timeout=30_000)
    assert window.suggestions.service._clip is not None  # loaded before any click
    discard_on_close(window, prompts)


def test_without_a_clip_model_the_chooser_is_hidden(qtbot, suggest_copy, models_dir, monkeypatch) -> None:
    from artannot.retrieval.service import SuggestionService

    monkeypatch.setattr(SuggestionService, "clip_warm_up",
                        lambda self, should_stop=None: pytest.fail("no CLIP to warm up"))
    window, prompts = make_window(qtbot, suggest_copy)
    show(qtbot, window, WAVE)
    _ready(qtbot, window)
    panel = window.suggestions_panel
    assert window.suggestions.service.clip_model_name() is None
    assert not panel.model_choice.isVisibleTo(panel)
    assert _choices(panel) == ["SCAN: scan/best.pt"] and window.suggestions.source() == "scan"
    window.editor.select_indices([1])
    _wait_list(qtbot, window, "scan/best.pt")
    assert "CLIP" not in panel.status.text()
    discard_on_close(window, prompts)
