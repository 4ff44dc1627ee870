"""Fixtures shared by every test package.

Qt is forced off-screen here (tests never open windows).  Catalog and model folders are
*not* redirected globally: ``ARTANNOT_DATA_DIR`` changes where catalogs go, so tests that
want it use the ``isolated_dirs`` fixture.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_COLLECTION = REPO_ROOT / "resources" / "sample_collection"


def copy_sample(dest: Path) -> Path:
    """Copy the bundled sample collection to ``dest``, without the data a developer's own runs
    left in it (catalog cache; judgements recorded while trying the app on it)."""
    shutil.copytree(SAMPLE_COLLECTION, dest,
                    ignore=shutil.ignore_patterns(".artannot", "judgements.sqlite*", ".judgements.sqlite.lock"))
    return dest


@pytest.fixture
def sample_copy(tmp_path: Path) -> Path:
    """A private copy of the bundled sample collection (tests may modify it freely)."""
    return copy_sample(tmp_path / "sample_collection")


@pytest.fixture
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Point ``ARTANNOT_DATA_DIR`` and ``ARTANNOT_MODELS_DIR`` at fresh temporary folders."""
    dirs = {"data": tmp_path / "artannot-data", "models": tmp_path / "artannot-models"}
    for d in dirs.values():
        d.mkdir()
    monkeypatch.setenv("ARTANNOT_DATA_DIR", str(dirs["data"]))
    monkeypatch.setenv("ARTANNOT_MODELS_DIR", str(dirs["models"]))
    return dirs


# Waits on Qt events are bounded so that a broken test fails instead of hanging. The bounds
# written beside each wait (5-10 s) were too tight for a machine busy with training (issue 15:
# a full run stopped after 32 tests, the next passed). A bound costs time only when the event
# never comes, so here none is shorter than this.
MIN_QT_WAIT_MS = 120_000
_QT_WAITS = ("waitUntil", "waitSignal", "waitSignals", "waitCallback", "waitActive", "waitExposed")


@pytest.fixture(autouse=True)
def _generous_qt_waits(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if "qtbot" not in request.fixturenames:
        return
    from pytestqt.qtbot import QtBot

    for name in _QT_WAITS:
        original = getattr(QtBot, name)

        def waiting(self, *args, _original=original, timeout: int | None = 5_000, **kwargs):  # noqa: ANN001, ANN202
            if timeout is not None and timeout > 0:
                timeout = max(timeout, MIN_QT_WAIT_MS)
            return _original(self, *args, timeout=timeout, **kwargs)

        monkeypatch.setattr(QtBot, name, waiting)


@pytest.fixture(autouse=True)
def _no_job_outlives_its_test(request: pytest.FixtureRequest):
    """A Qt test ends when the background jobs it started have ended.

    Closing a window cancels its jobs but waits only so long for them (a model load cannot
    stop halfway); one still running would take a thread and a core from the next test, whose
    own waits then measure the previous test's leftovers (CI, session 8: a phrase extraction
    timed out there and nowhere else). Set up before ``qtbot``, so this runs after its widgets
    are closed.
    """
    yield
    if "qtbot" not in request.fixturenames:
        return
    from PySide6.QtCore import QCoreApplication

    from artannot.app.workers import running_jobs

    for job in running_jobs():
        job.cancel()
    left = [job.name for job in running_jobs() if not job.done.wait(MIN_QT_WAIT_MS / 1000)]
    QCoreApplication.processEvents()  # deliver their last signals here, not in the next test
    assert not left, f"background jobs still running after the test: {left}"
