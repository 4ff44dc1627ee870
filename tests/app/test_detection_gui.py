"""Detect regions from the GUI: stored proposals shown at once, accept/reject -> judgements,
proposals never saved unaccepted, a collection run that can be cancelled."""

# ruff: noqa: F811  (session fixtures imported from tests.app.suggestions_fixtures)
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from artannot.core.voc import read_voc
from tests.app.suggestions_fixtures import VENUS, suggest_collection, suggest_copy  # noqa: F401
from tests.app.test_main_window import discard_on_close, make_window, show


def test_detect_artwork_shows_stored_proposals_and_records_judgements(qtbot, suggest_copy) -> None:
    window, prompts = make_window(qtbot, suggest_copy)
    show(qtbot, window, VENUS)
    window.suggest_actions["detect_artwork"].trigger()
    qtbot.waitUntil(lambda: len(window.editor.annotation().regions) > 0, timeout=20_000)
    regions = window.editor.annotation().regions
    assert all(r.source == "detector" and r.score is not None for r in regions)
    assert len(regions) == 12  # k of the stored run
    assert "stored earlier" in window.status.text()  # not recomputed
    assert "proposals" in window.models_label.text() and "cpu" in window.models_label.text()

    canvas = window.editor.canvas()
    window.editor.select_indices([0])
    canvas.setFocus()
    QTest.keyClick(canvas, Qt.Key.Key_Return)  # accept
    window.editor.select_indices([1])
    window.editor.delete_selected()  # reject (Del)
    kinds = [(j[5], j[6]) for j in window.catalog.judgements.all()]
    assert kinds == [(1, "proposal:proposals"), (0, "proposal:proposals")]

    window.editor.label_selected("ignored")  # nothing selected after delete
    window.editor.select_indices([0])
    window.editor.label_selected("scallop shell")
    assert window.save()
    saved = read_voc(suggest_copy / "annotations" / "botticelli_birth_of_venus.xml")
    assert [r.phrase for r in saved.regions] == ["scallop shell"]  # dashed proposals are not written
    discard_on_close(window, prompts)


def test_detect_collection_runs_in_background_and_cancels(qtbot, sample_copy) -> None:
    window, prompts = make_window(qtbot, sample_copy)
    progress = []
    window.detection.progress.connect(lambda d, t: progress.append((d, t)))
    job = window.detection.detect_collection(window.catalog)
    assert window.detection.busy()
    qtbot.waitUntil(lambda: len(progress) >= 1, timeout=60_000)
    window.detection.cancel()
    qtbot.waitUntil(lambda: not window.detection.busy(), timeout=60_000)
    assert job.cancelled and "cancelled" in window.status.text()
    assert progress[0][1] == 12
    stores = list((window.catalog.data_dir / "features").glob("*/index.sqlite"))
    assert len(stores) == 1  # what finished is stored; a new run resumes from there
    discard_on_close(window, prompts)


def test_detect_artwork_adds_its_whole_image_vector_once(qtbot, suggest_copy) -> None:
    """Ctrl+R also computes the artwork's whole-image vector (fragment search weighs artworks
    by it), after the proposals are shown, and only once per image."""
    from artannot.vision.feature_store import FeatureStore
    from artannot.vision.global_features import global_stores
    from artannot.vision.runner import image_fingerprint

    window, prompts = make_window(qtbot, suggest_copy)
    show(qtbot, window, VENUS)
    assert not global_stores(window.catalog.data_dir)  # the fixture detected regions only
    with qtbot.waitSignal(window.detection.wholesChanged, timeout=120_000):
        window.suggest_actions["detect_artwork"].trigger()
    assert window.editor.annotation().regions  # the proposals came first
    (folder,) = global_stores(window.catalog.data_dir)
    with FeatureStore(folder, readonly=True) as wholes:
        assert wholes.ids() == [VENUS]
        assert wholes.has(VENUS, image_fingerprint(suggest_copy / VENUS))
        stamp = wholes.versions()[VENUS]

    qtbot.waitUntil(lambda: window.detection.whole_job is None, timeout=60_000)
    changed = []
    window.detection.wholesChanged.connect(lambda: changed.append(True))
    window.suggest_actions["detect_artwork"].trigger()  # again: nothing to compute
    assert window.detection.busy()
    # the vector's job starts when the detection's result arrives, before its "finished"
    qtbot.waitUntil(lambda: not window.detection.busy() and window.detection.whole_job is None,
                    timeout=60_000)
    with FeatureStore(folder, readonly=True) as wholes:
        assert wholes.versions()[VENUS] == stamp
    assert not changed
    discard_on_close(window, prompts)
