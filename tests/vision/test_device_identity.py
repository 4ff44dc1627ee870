"""The device that computed features is part of a feature store's identity: features of another
device are refused with a clear message, and stores written before the field are CPU stores."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from artannot.core.errors import ModelError
from artannot.models import ModelManager
from artannot.vision.feature_store import FeatureStore
from artannot.vision.pipeline import device_for_store, load_pipeline
from artannot.vision.runner import detect_collection, run_identity

from .conftest import TEST_SIZES


@pytest.fixture
def pipe(manager: ModelManager):
    return load_pipeline(k=4, manager=manager, device="cpu", **TEST_SIZES)


@pytest.fixture
def items(tmp_path: Path, small_images: list[Path]) -> list[tuple[str, Path]]:
    folder = tmp_path / "col"
    folder.mkdir()
    for p in small_images[:2]:
        shutil.copy2(p, folder / p.name)
    return [(p.name, folder / p.name) for p in small_images[:2]]


def test_identity_records_the_device(pipe) -> None:
    assert run_identity(pipe.detector, pipe.extractor)["device"] == "cpu"


def test_store_of_another_device_is_refused(tmp_path: Path, pipe, items) -> None:
    with FeatureStore(tmp_path / "fs") as store:
        detect_collection(items[:1], store, pipe.detector, pipe.extractor)
        store.set_meta({**store.meta, "device": "cuda"})  # as a GPU run would have written it
        with pytest.raises(ModelError, match=r"computed on cuda.*--device cuda") as err:
            detect_collection(items, store, pipe.detector, pipe.extractor)
        assert "fs" in str(err.value)  # names the store folder
        assert store.ids() == [items[0][0]]  # nothing of the refused run was added
        assert store.meta["device"] == "cuda"


def test_store_without_device_is_a_cpu_store(tmp_path: Path, pipe, items) -> None:
    with FeatureStore(tmp_path / "fs") as store:
        detect_collection(items[:1], store, pipe.detector, pipe.extractor)
        old = {k: v for k, v in store.meta.items() if k != "device"}
        store.set_meta(old)  # written before the device was recorded
        first = np.array(store.get(items[0][0]).features)
        report = detect_collection(items, store, pipe.detector, pipe.extractor)
        assert report.skipped == 1 and report.processed == 1 and not report.failed
        assert store.meta["device"] == "cpu"
        np.testing.assert_array_equal(store.get(items[0][0]).features, first)


def test_other_models_still_refused_with_their_own_message(tmp_path: Path, pipe, items,
                                                           manager: ModelManager) -> None:
    other = load_pipeline(k=5, manager=manager, device="cpu", **TEST_SIZES)
    with FeatureStore(tmp_path / "fs") as store:
        detect_collection(items[:1], store, pipe.detector, pipe.extractor)
        with pytest.raises(ModelError, match="other models or settings"):
            detect_collection(items, store, other.detector, other.extractor)


def test_device_for_store_prefers_the_stores_device_when_left_open() -> None:
    meta = {"backbone": {"backbone": "efficientnet_lite0"}}
    assert device_for_store(meta, "cpu") == "cpu"  # an explicit choice wins
    assert device_for_store({}, None) is None  # no store yet: select_device decides
    assert device_for_store(meta, None) == "cpu"  # no field: made on the CPU
    assert device_for_store(meta, "auto") == "cpu"
    # a GPU store where there is no GPU: left to select_device (the runner refuses to mix)
    expected = "cuda" if torch.cuda.is_available() else None
    assert device_for_store({**meta, "device": "cuda"}, None) == expected
