"""The CUDA paths of training, suggestions and search (issue 16): run by ``bench/gpu_check.py``.

The CUDA cases are skipped on a machine without CUDA (CI, these laptops); the same test body
runs on the CPU everywhere, so the check itself is tested, and a GPU machine checks the
whole path in one ``pytest -m gpu``.
"""

# ruff: noqa: F811  (session fixtures imported from tests.app.suggestions_fixtures)
from __future__ import annotations

import numpy as np
import pytest
import torch

from artannot.retrieval.config import ScanConfig
from artannot.retrieval.data import ArtworkItem, ScanDataset
from artannot.retrieval.index import gpu_available
from tests.app.suggestions_fixtures import WAVE, suggest_collection, suggest_copy  # noqa: F401

CUDA = pytest.param("cuda", marks=[pytest.mark.gpu, pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA device")])


def _dataset(n: int = 64, dim: int = 32) -> ScanDataset:
    rng = np.random.default_rng(0)
    words = ["blue wave", "red vase", "gilded dragon", "white crest", "boat"]
    return ScanDataset([ArtworkItem(f"a{i}", rng.standard_normal((5, dim)).astype(np.float16),
                                    [str(w) for w in rng.choice(words, 3)], "val" if i % 8 == 0 else "train")
                        for i in range(n)], min_phrase_count=1)


@pytest.mark.parametrize("device", ["cpu", CUDA])
def test_training_runs_on_the_device_and_saves_a_cpu_loadable_checkpoint(tmp_path, device) -> None:
    from artannot.retrieval.checkpoint import load_checkpoint
    from artannot.retrieval.train import train

    cfg = ScanConfig(num_epochs=1, batch_size=16, embed_size=64, text_encoder="phrase")
    result = train(_dataset(), cfg, out_dir=tmp_path, resume=False, device=device, init=None)
    assert result.epochs_done == 1 and result.best_path is not None
    assert next(result.model.parameters()).device.type == device
    ck = load_checkpoint(result.best_path)  # on a CPU-only machine too
    assert next(ck.model.parameters()).device.type == "cpu"


@pytest.mark.parametrize("device", ["cpu", CUDA])
def test_suggestions_on_the_device_equal_the_cpu(suggest_copy, device) -> None:
    from artannot.core.catalog import Catalog
    from artannot.retrieval.service import SuggestionService

    with Catalog.open(suggest_copy) as cat:
        cpu = SuggestionService(suggest_copy, cat.data_dir, device="cpu")
        gpu = SuggestionService(suggest_copy, cat.data_dir, device=device)
        box = cpu.regions(WAVE).box_list()[1]
        own = [(p.norm, p.text) for p in cat.phrases(WAVE)]
        a = cpu.phrases_for_box(WAVE, box, own)
        b = gpu.phrases_for_box(WAVE, box, own)
        assert [p.phrase for p in a[:5]] == [p.phrase for p in b[:5]]
        assert np.allclose([p.score for p in a], [p.score for p in b], atol=2e-2)
        cpu.close()
        gpu.close()


@pytest.mark.gpu
@pytest.mark.skipif(not gpu_available(), reason="needs faiss-gpu and a GPU")
def test_faiss_gpu_index_agrees_with_the_cpu() -> None:
    from artannot.retrieval.index import FragmentIndex, agreement

    rng = np.random.default_rng(2)
    v = rng.standard_normal((20_000, 64)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    q = v[:50]
    cpu = FragmentIndex.build(v, kind="IVF64,Flat", use_gpu=False)
    gpu = FragmentIndex.build(v, kind="IVF64,Flat", use_gpu=True)
    assert agreement(gpu.search(q, 10, shortlist=512)[1], cpu.search(q, 10, shortlist=512)[1]) > 0.95
