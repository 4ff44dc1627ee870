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


@pytest.fixture
def sample_copy(tmp_path: Path) -> Path:
    """A private copy of the bundled sample collection (tests may modify it freely)."""
    dest = tmp_path / "sample_collection"
    shutil.copytree(SAMPLE_COLLECTION, dest, ignore=shutil.ignore_patterns(".artannot"))
    return dest


@pytest.fixture
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Point ``ARTANNOT_DATA_DIR`` and ``ARTANNOT_MODELS_DIR`` at fresh temporary folders."""
    dirs = {"data": tmp_path / "artannot-data", "models": tmp_path / "artannot-models"}
    for d in dirs.values():
        d.mkdir()
    monkeypatch.setenv("ARTANNOT_DATA_DIR", str(dirs["data"]))
    monkeypatch.setenv("ARTANNOT_MODELS_DIR", str(dirs["models"]))
    return dirs
