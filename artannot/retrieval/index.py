"""faiss index over region embeddings in the joint space: the shortlist stage of a search.

Small collections use an exact ``IndexFlatIP``; large ones IVF-PQ (compressed codes, ~64 bytes
per fragment) or HNSW. The full-precision vectors are kept beside the index as a float16
``.npy`` (memory-mapped on load) so that the shortlist can be re-scored exactly.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import faiss
import numpy as np

from artannot.core.errors import ArtannotError

FLAT_MAX = 50_000  # below this, exhaustive search is fast enough and exact
Rerank = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (query [D], candidate ids) -> scores


class IndexError_(ArtannotError):
    """The fragment index is missing, corrupt or does not match its vectors."""

    code = "E613"


def gpu_available() -> bool:
    """faiss GPU support compiled in and a device present."""
    return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0


def factory_string(n: int, dim: int, kind: str = "auto") -> str:
    """Pick the index for ``n`` vectors: Flat / IVF-PQ / HNSW, or a raw faiss factory string."""
    if kind == "auto":
        kind = "flat" if n <= FLAT_MAX else "ivfpq"
    if kind == "flat":
        return "Flat"
    nlist = max(16, int(4 * math.sqrt(n)))
    if kind == "ivfpq":
        m = next(m for m in (64, 48, 32, 16, 8, 4, 2, 1) if dim % m == 0 and m <= dim)
        return f"IVF{nlist},PQ{m}np"  # np: skip polysemous training (slow, unused)
    if kind == "ivfflat":
        return f"IVF{nlist},Flat"
    if kind == "hnsw":
        return "HNSW32"
    return kind


class FragmentIndex:
    """Inner-product (= cosine on unit vectors) search with exact re-ranking of a shortlist."""

    def __init__(self, index: faiss.Index, vectors: np.ndarray, kind: str) -> None:
        if index.ntotal != len(vectors):
            raise IndexError_(f"index holds {index.ntotal} vectors, store {len(vectors)}")
        self.index = index
        self.vectors = vectors
        self.kind = kind
        self.set_nprobe(None)

    @classmethod
    def build(cls, vectors: np.ndarray, *, kind: str = "auto", train_size: int = 100_000,
              use_gpu: bool | None = None, seed: int = 0) -> FragmentIndex:
        """Index unit vectors [N, D] (float16/32)."""
        n, dim = vectors.shape
        fs = factory_string(n, dim, kind)
        index = faiss.index_factory(dim, fs, faiss.METRIC_INNER_PRODUCT)
        if not index.is_trained:
            rng = np.random.default_rng(seed)
            sample = vectors[np.sort(rng.choice(n, size=min(n, train_size), replace=False))]
            index.train(np.ascontiguousarray(sample, dtype=np.float32))
        for s in range(0, n, 200_000):
            index.add(np.ascontiguousarray(vectors[s:s + 200_000], dtype=np.float32))
        if use_gpu is None:
            use_gpu = gpu_available()
        if use_gpu and gpu_available():
            index = faiss.index_cpu_to_gpu(faiss.StandardGpuResources(), 0, index)
        return cls(index, vectors, fs)

    def set_nprobe(self, nprobe: int | None) -> None:
        """Inverted lists visited per query (IVF only); default ~ nlist / 32, at least 16."""
        ivf = _ivf(self.index)
        if ivf is not None:
            ivf.nprobe = nprobe or max(16, ivf.nlist // 32)
        if isinstance(self.index, faiss.IndexHNSW):
            self.index.hnsw.efSearch = max(64, nprobe or 0)

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def shortlist(self, queries: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Approximate top-n: (scores, ids) [Q, n]; ids -1 where fewer exist."""
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        return self.index.search(q, min(n, len(self)))

    def search(self, queries: np.ndarray, k: int = 10, *, shortlist: int = 256,
               rerank: Rerank | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Two-stage top-k: faiss shortlist, then exact scores (or ``rerank``) on it."""
        q = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        _, cand = self.shortlist(q, max(k, shortlist))
        out_s = np.full((len(q), k), -np.inf, dtype=np.float32)
        out_i = np.full((len(q), k), -1, dtype=np.int64)
        for r, (query, ids) in enumerate(zip(q, cand)):
            ids = np.sort(ids[ids >= 0])  # sorted reads are kinder to a memory-mapped store
            if rerank is None:
                scores = np.asarray(self.vectors[ids], dtype=np.float32) @ query
            else:
                scores = rerank(query, ids)
            top = np.argsort(-scores, kind="stable")[:k]
            out_s[r, :len(top)] = scores[top]
            out_i[r, :len(top)] = ids[top]
        return out_s, out_i

    def exhaustive(self, queries: np.ndarray, k: int = 10, chunk: int = 200_000
                   ) -> tuple[np.ndarray, np.ndarray]:
        """Exact top-k over all stored vectors (reference for agreement measurements)."""
        q = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        best_s = np.full((len(q), 0), -np.inf, dtype=np.float32)
        best_i = np.zeros((len(q), 0), dtype=np.int64)
        for s in range(0, len(self.vectors), chunk):
            sc = q @ np.asarray(self.vectors[s:s + chunk], dtype=np.float32).T
            ids = np.broadcast_to(np.arange(s, s + sc.shape[1]), sc.shape)
            allc = np.concatenate([best_s, sc], 1)
            alli = np.concatenate([best_i, ids], 1)
            top = np.argsort(-allc, axis=1, kind="stable")[:, :k]
            best_s = np.take_along_axis(allc, top, 1)
            best_i = np.take_along_axis(alli, top, 1)
        return best_s, best_i

    # -- files ---------------------------------------------------------------
    def save(self, directory: Path | str) -> Path:
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        index = self.index
        if hasattr(faiss, "index_gpu_to_cpu") and gpu_available():
            try:
                index = faiss.index_gpu_to_cpu(index)
            except Exception:  # noqa: BLE001 - already a CPU index
                pass
        faiss.write_index(index, str(d / "index.faiss"))
        np.save(d / "vectors.npy", np.asarray(self.vectors, dtype=np.float16))
        (d / "meta.json").write_text(json.dumps({"kind": self.kind, "n": len(self),
                                                 "dim": int(self.vectors.shape[1])}))
        return d

    @classmethod
    def load(cls, directory: Path | str, *, mmap: bool = True) -> FragmentIndex:
        d = Path(directory)
        try:
            meta = json.loads((d / "meta.json").read_text())
            index = faiss.read_index(str(d / "index.faiss"))
            vectors = np.load(d / "vectors.npy", mmap_mode="r" if mmap else None)
        except (OSError, ValueError, RuntimeError) as exc:
            raise IndexError_(f"cannot load fragment index: {exc}", d) from exc
        return cls(index, vectors, meta["kind"])


def _ivf(index: faiss.Index) -> faiss.IndexIVF | None:
    try:
        return faiss.extract_index_ivf(index)
    except RuntimeError:
        return None


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Mean overlap |top_a & top_b| / k of two id matrices [Q, k]."""
    return float(np.mean([len(set(x) & set(y)) / len(y) for x, y in zip(a, b)]))

