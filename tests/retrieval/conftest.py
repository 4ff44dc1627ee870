from __future__ import annotations

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def synthetic_small():
    """200 synthetic scenes (k = 8 proposals, 256-d pixel features), split 70/10/20."""
    from artannot.retrieval.synthetic import make_collection

    return make_collection(200, k=8, dim=256, seed=0, splits=(0.7, 0.1, 0.2))

try:  # faiss' OpenMP threads spin on a busy 2-core machine; one thread is faster here
    import faiss

    faiss.omp_set_num_threads(1)
except ImportError:  # pragma: no cover
    pass
