"""The worker pattern: a result that arrives after its widget was deleted (window closed,
test torn down) is dropped instead of raising "Internal C++ object already deleted"."""

from __future__ import annotations

import threading
from pathlib import Path

import shiboken6
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from artannot.app import workers
from artannot.app.workers import JobControl, LatestOnly


def _settle(job, qtbot) -> None:
    """Wait until the GUI thread has handled the job's last signal: ``finished`` takes it off
    the live set, and its ``result`` was queued before it (an event, not a fixed pause)."""
    qtbot.waitUntil(lambda: job.done.is_set() and job not in workers._live, timeout=10_000)


def test_latest_only_drops_a_result_for_a_deleted_owner(qtbot) -> None:
    owner = QWidget()
    label = QLabel("before", owner)
    QVBoxLayout(owner).addWidget(label)
    requests = LatestOnly(owner)
    release = threading.Event()
    delivered, failed = [], []

    def run(ctl: JobControl) -> str:
        release.wait(10)
        return "after"

    def done(text: str) -> None:
        delivered.append(text)
        label.setText(text)  # raises if the label is gone

    job = requests.start(run, done, failed.append, "slow")
    shiboken6.delete(owner)  # the window closes while the job runs
    assert not shiboken6.isValid(requests) and not shiboken6.isValid(label)
    release.set()
    _settle(job, qtbot)
    assert delivered == [] and failed == []


def test_latest_only_still_delivers_to_a_live_owner(qtbot) -> None:
    owner = QWidget()
    qtbot.addWidget(owner)
    requests = LatestOnly(owner)
    delivered = []
    job = requests.start(lambda ctl: 42, delivered.append, None, "quick")
    qtbot.waitUntil(lambda: delivered == [42], timeout=5_000)
    assert job.done.is_set()


def test_queue_progress_after_the_panel_is_deleted(qtbot, sample_copy: Path) -> None:
    """What once failed a main-window test: the queue's progress answer reached its
    QLabel after the window (and the label) had been deleted."""
    from artannot.app.queue import QueuePanel
    from artannot.core.catalog import Catalog

    with Catalog.open(sample_copy, refresh=True) as catalog:
        panel = QueuePanel()
        panel.set_collection(catalog, None)
        panel.refresh_progress()
        job = panel._progress_job.current
        shiboken6.delete(panel)
        _settle(job, qtbot)


def test_queue_shutdown_cancels_its_jobs(qtbot, sample_copy: Path) -> None:
    from artannot.app.queue import QueuePanel
    from artannot.core.catalog import Catalog

    with Catalog.open(sample_copy, refresh=True) as catalog:
        panel = QueuePanel()
        qtbot.addWidget(panel)
        panel.set_collection(catalog, None)
        panel.refresh_progress()
        job = panel._progress_job.current
        panel.shutdown()
        assert job.cancelled and job.done.is_set()
        assert panel._progress_job.current is None
