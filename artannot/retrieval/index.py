"""faiss index over region embeddings in the joint space: the shortlist stage of a search.

Small collections use an exact ``IndexFlatIP``; large ones IVF-PQ (compressed codes, 128 bytes
per fragment at 1024-d) or HNSW. The full-precision vectors are kept beside the index as a float16
``.npy`` (memory-mapped on load) so that the shortlist can be re-scored exactly.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path

import faiss
import numpy as np
import torch

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
        # Sub-quantizers of 4-8 dimensions (128 bytes a fragment at 1024-d): with 16-d ones
        # (PQ64) a shortlist of 2,048 missed 1 in 10 of the exact top 10 among 3.6M fragments
        # in 512 dense clusters; with 8-d ones a shortlist of 1,024 held all of them at 900k.
        m = next((m for m in (128, 96, 64, 48, 32, 16, 8) if dim % m == 0 and dim // m >= 4),
                 next(m for m in (8, 4, 2, 1) if dim % m == 0))
        return f"IVF{nlist},PQ{m}np"  # np: skip polysemous training (slow, unused)
    if kind == "ivfflat":
        return f"IVF{nlist},Flat"
    if kind == "hnsw":
        return "HNSW32"
    return kind


def dot_f16(rows: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Exact float32 scores of float16 rows [N, D] against queries [Q, D] -> [Q, N].

    numpy widens float16 without SIMD (about 20 ms for a 2,048-row shortlist at 1024-d, most
    of a search); torch's conversion is several times faster, the product stays float32.
    """
    r = torch.from_numpy(np.ascontiguousarray(rows, dtype=np.float16)).float()
    q = torch.from_numpy(np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32))
    return (q @ r.T).numpy()


class _Rows:
    """Float16 vectors in append-only chunks (memory-mapped base + small deltas), addressed
    by global row id, so adding an artwork's fragments never rewrites the base file."""

    def __init__(self, chunks: list[np.ndarray]) -> None:
        self.chunks = [c for c in chunks if len(c)] or [np.zeros((0, chunks[0].shape[1]), np.float16)]
        self._starts = np.cumsum([0] + [len(c) for c in self.chunks])

    @property
    def shape(self) -> tuple[int, int]:
        return int(self._starts[-1]), int(self.chunks[0].shape[1])

    def __len__(self) -> int:
        return int(self._starts[-1])

    def append(self, rows: np.ndarray) -> None:
        self.chunks.append(np.asarray(rows, np.float16))
        self._starts = np.append(self._starts, self._starts[-1] + len(rows))

    def __getitem__(self, key: slice | np.ndarray) -> np.ndarray:
        if isinstance(key, slice):
            ids = np.arange(*key.indices(len(self)))
        else:
            ids = np.asarray(key, dtype=np.int64)
        if len(self.chunks) == 1:
            return self.chunks[0][ids if not isinstance(key, slice) else key]
        which = np.searchsorted(self._starts, ids, side="right") - 1
        out = np.empty((len(ids), self.shape[1]), np.float16)
        for c in np.unique(which):
            sel = which == c
            out[sel] = self.chunks[c][ids[sel] - self._starts[c]]
        return out


class FragmentIndex:
    """Inner-product (= cosine on unit vectors) search with exact re-ranking of a shortlist.

    Updated in place: :meth:`add` appends fragments (new ids at the end), :meth:`remove` marks
    ids dead (filtered from results); a full :meth:`build` is needed only when the layout must
    change (Flat grown past ``FLAT_MAX``, too many dead rows). :meth:`save_delta` persists an
    update by writing only what was added since the last full :meth:`save`.
    """

    def __init__(self, index: faiss.Index, vectors: np.ndarray | _Rows, kind: str,
                 dead: np.ndarray | None = None) -> None:
        if index.ntotal != len(vectors):
            raise IndexError_(f"index holds {index.ntotal} vectors, store {len(vectors)}")
        self.index = index
        self.vectors = vectors if isinstance(vectors, _Rows) else _Rows([vectors])
        self.kind = kind
        self.dead = np.zeros(len(vectors), bool) if dead is None else np.asarray(dead, bool).copy()
        self._saved_rows = len(self.vectors)  # rows already in files (base + deltas on disk)
        self._base_rows = len(self.vectors)
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
        for s in range(0, n, 50_000):  # float32 copies of 50k rows at a time (200 MB at 1024-d)
            index.add(np.ascontiguousarray(vectors[s:s + 50_000], dtype=np.float32))
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

    @property
    def live(self) -> int:
        return len(self) - int(self.dead.sum())

    def needs_rebuild(self) -> bool:
        """The layout no longer fits: many dead rows, or an exact index grown large."""
        return self.dead.sum() > max(1000, 0.25 * len(self)) or (
            self.kind == "Flat" and self.live > 2 * FLAT_MAX)

    # -- updates ---------------------------------------------------------------
    def add(self, vectors: np.ndarray) -> np.ndarray:
        """Append unit vectors [m, D]; returns their ids."""
        start = len(self)
        v = np.ascontiguousarray(vectors, dtype=np.float32)
        if len(v):
            self.index.add(v)
            self.vectors.append(v.astype(np.float16))
            self.dead = np.concatenate([self.dead, np.zeros(len(v), bool)])
        return np.arange(start, start + len(v))

    def remove(self, ids: np.ndarray | list[int]) -> None:
        self.dead[np.asarray(ids, dtype=np.int64)] = True

    # -- search ----------------------------------------------------------------
    def shortlist(self, queries: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Approximate top-n: (scores, ids) [Q, n]; ids -1 where fewer exist."""
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        return self.index.search(q, min(n, len(self)))

    def search(self, queries: np.ndarray, k: int = 10, *, shortlist: int = 256,
               rerank: Rerank | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Two-stage top-k: faiss shortlist, then exact scores (or ``rerank``) on it."""
        q = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        n_dead = int(self.dead.sum())
        _, cand = self.shortlist(q, max(k, shortlist) + min(n_dead, max(k, shortlist)))
        out_s = np.full((len(q), k), -np.inf, dtype=np.float32)
        out_i = np.full((len(q), k), -1, dtype=np.int64)
        for r, (query, ids) in enumerate(zip(q, cand)):
            ids = np.sort(ids[ids >= 0])  # sorted reads are kinder to a memory-mapped store
            if n_dead:
                ids = ids[~self.dead[ids]]
            if rerank is None:
                scores = dot_f16(self.vectors[ids], query)[0]
            else:
                scores = rerank(query, ids)
            top = np.argsort(-scores, kind="stable")[:k]
            out_s[r, :len(top)] = scores[top]
            out_i[r, :len(top)] = ids[top]
        return out_s, out_i

    def exhaustive(self, queries: np.ndarray, k: int = 10, chunk: int = 200_000
                   ) -> tuple[np.ndarray, np.ndarray]:
        """Exact top-k over all live vectors (reference for agreement measurements)."""
        q = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        best_s = np.full((len(q), 0), -np.inf, dtype=np.float32)
        best_i = np.zeros((len(q), 0), dtype=np.int64)
        for s in range(0, len(self.vectors), chunk):
            sc = dot_f16(self.vectors[s:s + chunk], q)
            sc[:, self.dead[s:s + sc.shape[1]]] = -np.inf
            ids = np.broadcast_to(np.arange(s, s + sc.shape[1]), sc.shape)
            allc = np.concatenate([best_s, sc], 1)
            alli = np.concatenate([best_i, ids], 1)
            top = np.argsort(-allc, axis=1, kind="stable")[:, :k]
            best_s = np.take_along_axis(allc, top, 1)
            best_i = np.take_along_axis(alli, top, 1)
        return best_s, best_i

    # -- files ---------------------------------------------------------------
    def save(self, directory: Path | str) -> Path:
        """Everything, as one base (deltas folded in)."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        index = self.index
        if hasattr(faiss, "index_gpu_to_cpu") and gpu_available():
            try:
                index = faiss.index_gpu_to_cpu(index)
            except Exception:  # noqa: BLE001 - already a CPU index
                pass
        # temporary names, then renames: the old vectors file may be the one memory-mapped now
        faiss.write_index(index, str(d / "index.faiss.tmp"))
        chunks = self.vectors.chunks
        written_there = (len(chunks) == 1 and isinstance(chunks[0], np.memmap) and chunks[0].filename
                         and Path(chunks[0].filename).resolve() == (d / "vectors.npy").resolve())
        if not written_there:  # (a streamed build wrote them in place already)
            with open(d / "vectors.npy.tmp", "wb") as f:
                np.save(f, np.asarray(self.vectors[0:len(self.vectors)], dtype=np.float16))
            os.replace(d / "vectors.npy.tmp", d / "vectors.npy")
        os.replace(d / "index.faiss.tmp", d / "index.faiss")
        for old in d.glob("delta-*.npy"):
            old.unlink()
        np.save(d / "dead.npy", self.dead)
        (d / "meta.json").write_text(json.dumps({"kind": self.kind, "n": len(self),
                                                 "dim": int(self.vectors.shape[1]), "deltas": 0}))
        self._saved_rows = self._base_rows = len(self)
        return d

    def save_delta(self, directory: Path | str) -> Path:
        """Only what changed since the files were written: new rows as one more delta file,
        and the dead mask. The faiss index is not rewritten (load re-adds the deltas)."""
        d = Path(directory)
        meta = json.loads((d / "meta.json").read_text())
        if len(self) > self._saved_rows:
            k = int(meta.get("deltas", 0))
            np.save(d / f"delta-{k:05d}.npy", np.asarray(self.vectors[self._saved_rows:len(self)], np.float16))
            meta["deltas"] = k + 1
            self._saved_rows = len(self)
        np.save(d / "dead.npy", self.dead)
        meta["n"] = len(self)
        (d / "meta.json").write_text(json.dumps(meta))
        return d

    @classmethod
    def load(cls, directory: Path | str, *, mmap: bool = True) -> FragmentIndex:
        d = Path(directory)
        try:
            meta = json.loads((d / "meta.json").read_text())
            index = faiss.read_index(str(d / "index.faiss"))
            base = np.load(d / "vectors.npy", mmap_mode="r" if mmap else None)
            deltas = [np.load(d / f"delta-{k:05d}.npy") for k in range(int(meta.get("deltas", 0)))]
            dead = np.load(d / "dead.npy") if (d / "dead.npy").is_file() else None
        except (OSError, ValueError, RuntimeError) as exc:
            raise IndexError_(f"cannot load fragment index: {exc}", d) from exc
        out = cls(index, base, meta["kind"])
        for delta in deltas:
            out.add(delta)
        if dead is not None:
            if len(dead) != len(out):
                raise IndexError_(f"dead mask of {len(dead)} rows for {len(out)} fragments", d)
            out.dead = dead.astype(bool)
        out._saved_rows = len(out)
        return out


def _ivf(index: faiss.Index) -> faiss.IndexIVF | None:
    try:
        return faiss.extract_index_ivf(index)
    except RuntimeError:
        return None


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Mean overlap |top_a & top_b| / k of two id matrices [Q, k]."""
    return float(np.mean([len(set(x) & set(y)) / len(y) for x, y in zip(a, b)]))

