"""A small real collection with everything suggestions need, built once per test session:
the bundled sample's catalog and noun phrases, regions + features from the real (weight-free
proposals + bundled backbone) pipeline at a small image size, and a tiny SCAN model trained
for two epochs on them. Tests copy it (``suggest_copy``) before changing anything."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import copy_sample

WAVE = "images/hokusai_great_wave.jpg"
VENUS = "images/botticelli_birth_of_venus.jpg"


def tiny_config():
    from artannot.retrieval.config import ScanConfig

    return ScanConfig(embed_size=64, word_dim=32, num_epochs=2, batch_size=6, text_encoder="word",
                      min_phrase_count=1, lr=2e-3, seed=0)


@pytest.fixture(scope="session")
def suggest_collection(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    from artannot.cli.detect_cmd import run_detect
    from artannot.core.catalog import Catalog
    from artannot.retrieval.collection_training import train_collection
    from artannot.text.collection import extract_collection

    torch.set_num_threads(2)
    root = tmp_path_factory.mktemp("suggest") / "sample"
    copy_sample(root)
    with Catalog.open(root, refresh=True) as cat:
        extract_collection(cat)
        data_dir = cat.data_dir
    run_detect(root, k=12, min_size=224, max_size=384, device="cpu")
    train_collection(root, data_dir, config=tiny_config())
    return root


@pytest.fixture
def suggest_copy(suggest_collection: Path, tmp_path: Path) -> Path:
    """A private copy (catalog, features, model included) a test may modify."""
    dest = tmp_path / "sample"
    shutil.copytree(suggest_collection, dest)
    return dest


@pytest.fixture
def service(suggest_copy):
    """The suggestion service of a private copy of the suggestion fixture's collection."""
    from artannot.core.catalog import Catalog
    from artannot.retrieval.service import SuggestionService

    cat = Catalog.open(suggest_copy)
    svc = SuggestionService(suggest_copy, cat.data_dir)
    yield svc, cat
    svc.close()
    cat.close()


def click_phrase(panel, ranked) -> None:
    """Click the row of ``ranked`` (a RankedPhrase) in the suggestions panel's phrase list."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    row = next(i for i in range(panel.phrase_list.count())
               if panel.phrase_list.item(i).data(Qt.ItemDataRole.UserRole) == ranked)
    rect = panel.phrase_list.visualItemRect(panel.phrase_list.item(row))
    QTest.mouseClick(panel.phrase_list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
