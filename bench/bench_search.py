"""Phrase -> top-10 fragments: latency, memory and agreement with exhaustive scoring.

Run by hand:  .venv/bin/python bench/bench_search.py --sizes 10000 100000 1000000
Embeddings are synthetic but clustered (unit vectors around 2,000 random centres, like region
embeddings of recurring motifs); queries are drawn around the same centres. Stage 1 is faiss
(Flat below 50k, else IVF-PQ with 64-byte codes), stage 2 re-scores the shortlist exactly
from the float16 vector store (the SCAN fragment score = cosine in the joint space).
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import faiss
import numpy as np

from artannot.retrieval.index import FragmentIndex, agreement


def clustered(n: int, dim: int, centres: np.ndarray, rng: np.random.Generator,
              spread: float = 1.0, chunk: int = 100_000) -> np.ndarray:
    out = np.empty((n, dim), dtype=np.float16)
    for s in range(0, n, chunk):
        m = min(chunk, n - s)
        c = centres[rng.integers(len(centres), size=m)]
        x = c + rng.standard_normal((m, dim), dtype=np.float32) * (spread / np.sqrt(dim))
        out[s:s + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def run(n: int, dim: int, queries: int, shortlists: list[int], nprobes: list[int], kind: str,
        threads: int) -> list[dict[str, object]]:
    """Build once, then measure every (nprobe, shortlist) operating point on the same index."""
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((2000, dim), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    t0 = time.perf_counter()
    vecs = clustered(n, dim, centres, rng)
    q = clustered(queries, dim, centres, rng, spread=1.5).astype(np.float32)
    t_gen = time.perf_counter() - t0
    if kind == "auto" and n > 50_000:
        kind = f"IVF{int(min(4096, max(256, 1 * np.sqrt(n))))},PQ64np"
    t0 = time.perf_counter()
    idx = FragmentIndex.build(vecs, kind=kind, train_size=min(n, 50_000))
    t_build = time.perf_counter() - t0
    faiss.omp_set_num_threads(threads)
    _, exact = idx.exhaustive(q, 10)
    results = []
    for nprobe in nprobes:
        idx.set_nprobe(nprobe)
        for shortlist in shortlists:
            lat = []
            ids = []
            for row in q:
                t = time.perf_counter()
                _, i = idx.search(row, 10, shortlist=shortlist)
                lat.append((time.perf_counter() - t) * 1000)
                ids.append(i[0])
            res = {"n": n, "dim": dim, "index": idx.kind, "nprobe": nprobe, "shortlist": shortlist,
                   "p50_ms": float(np.percentile(lat, 50)), "p95_ms": float(np.percentile(lat, 95)),
                   "top10_agreement": agreement(np.array(ids), exact),
                   "index_bytes": int(faiss.serialize_index(idx.index).nbytes),
                   "vector_store_bytes": int(vecs.nbytes), "peak_rss_gb": rss_gb(),
                   "build_s": t_build, "generate_s": t_gen}
            print(json.dumps(res), flush=True)
            results.append(res)
    return results


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--dim", type=int, default=1024)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--shortlist", type=int, nargs="+", default=[512])
    ap.add_argument("--nprobe", type=int, nargs="+", default=[32])
    ap.add_argument("--kind", default="auto")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    faiss.omp_set_num_threads(a.threads)
    for n in a.sizes:
        run(n, a.dim, a.queries, a.shortlist, a.nprobe, a.kind, a.threads)


if __name__ == "__main__":
    main()
