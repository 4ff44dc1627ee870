"""The settings the GUI reads: ``detector`` and ``device`` (detection, suggestions) and
``suggestion_top_k`` (phrases listed per region), from the settings file to the window."""

# ruff: noqa: F811  (session fixtures imported from tests.app.suggestions_fixtures)
from __future__ import annotations

from pathlib import Path

from artannot.app.main import window_settings
from artannot.core.config import load_config
from tests.app.suggestions_fixtures import VENUS, WAVE, suggest_collection, suggest_copy  # noqa: F401
from tests.app.test_main_window import discard_on_close, make_window, show


def test_settings_file_reaches_the_window_settings(tmp_path: Path, monkeypatch) -> None:
    p = tmp_path / "config.toml"
    p.write_text('detector = "my-detector"\ndevice = "cpu"\nsuggestion_top_k = 3\n', encoding="utf-8")
    monkeypatch.setenv("ARTANNOT_CONFIG", str(p))
    s = window_settings(load_config())
    assert (s.detector, s.device, s.suggestion_top_k) == ("my-detector", "cpu", 3)


def test_suggestion_top_k_limits_the_collection_phrases(qtbot, suggest_copy) -> None:
    window, prompts = make_window(qtbot, suggest_copy, suggestion_top_k=2)
    show(qtbot, window, WAVE)
    qtbot.waitUntil(lambda: window.suggestions.service is not None and window.suggestions.service.available,
                    timeout=5_000)
    window.editor.select_indices([1])
    panel = window.suggestions_panel
    qtbot.waitUntil(lambda: len(panel.phrase_items()) > 0, timeout=20_000)
    assert sum(r.origin == "collection" for r in panel.phrase_items()) == 2  # default: 10
    discard_on_close(window, prompts)


def test_detector_setting_is_what_ctrl_r_runs(qtbot, suggest_copy) -> None:
    window, prompts = make_window(qtbot, suggest_copy, detector="no-such-detector")
    show(qtbot, window, VENUS)
    window.suggest_actions["detect_artwork"].trigger()  # the stored run was "proposals"
    qtbot.waitUntil(lambda: not window.detection.busy(), timeout=20_000)
    assert "Detection failed" in window.status.text() and "no-such-detector" in window.status.text()
    assert window.editor.annotation().regions == [] or all(
        r.source != "detector" for r in window.editor.annotation().regions)
    discard_on_close(window, prompts)


def test_device_setting_is_where_detection_and_suggestions_run(qtbot, suggest_copy) -> None:
    window, prompts = make_window(qtbot, suggest_copy, device="cuda:99")
    assert window.suggestions.service.device == "cuda:99"
    show(qtbot, window, VENUS)
    window.suggest_actions["detect_artwork"].trigger()
    qtbot.waitUntil(lambda: not window.detection.busy(), timeout=20_000)
    assert "Detection failed" in window.status.text() and "cuda:99" in window.status.text()
    discard_on_close(window, prompts)
