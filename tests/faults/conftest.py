"""Fixtures of the fault-injection tests: a small synthetic collection, copied per test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.faults.harness import Job
from tests.faults.trials import make_collection

N_ARTWORKS = 8


@pytest.fixture(scope="session")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Images, JSON records with descriptions and VOC files of a few synthetic scenes."""
    return make_collection(tmp_path_factory.mktemp("fault_collection") / "collection", N_ARTWORKS)


@pytest.fixture
def job(tmp_path: Path, prepared: Path, monkeypatch: pytest.MonkeyPatch) -> Job:
    """A private copy of the prepared collection with its own data folder (here and in children)."""
    root = tmp_path / "collection"
    shutil.copytree(prepared, root)
    job = Job(root, tmp_path / "data", tmp_path / "logs")
    for key, value in job.env.items():
        monkeypatch.setenv(key, value)
    return job
