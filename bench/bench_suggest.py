"""Suggestion latency (issue 8): time from selecting a region to suggestions shown.

    .venv/bin/python bench/bench_suggest.py                 # sample (GUI) + synthetic 10k
    .venv/bin/python bench/bench_suggest.py --n 2000        # smaller synthetic collection
    .venv/bin/python bench/bench_suggest.py --skip-sample   # synthetic only

1. **Sample collection, end to end in the real window** (offscreen Qt): open the bundled
   sample (needs ``artannot phrases`` + ``artannot detect`` + a model in
   ``<sample>/.artannot/scan/``, see the README), select a box, wait until the panel lists the
   phrases. Measured for stored detector regions (proposals shown via "Detect regions") and
   for curator-drawn boxes (RoI feature computed, image feature map cached per artwork).
2. **Synthetic 10k collection, service level** (what the GUI worker runs): a feature store of
   N artworks x k regions, a randomly initialised SCAN model of the thesis' size (embed 1024)
   with a 20k-phrase vocabulary; phrases for a stored region, regions for a phrase, and the
   two-stage collection search (index build once, then per query).

Prints p50 / p95 over repeated selections (first, cold call reported separately).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _stats(ms: list[float]) -> str:
    ms = sorted(ms)
    p95 = ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]
    return f"p50 {statistics.median(ms):7.1f} ms  p95 {p95:7.1f} ms  (n={len(ms)})"


# -- 1. sample, real window ------------------------------------------------------------------
def bench_sample(root: Path, repeats: int) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from artannot.app.main_window import MainWindow, WindowSettings
    from artannot.core.geometry import Box
    from artannot.core.model import Region

    app = QApplication.instance() or QApplication([])
    w = MainWindow(WindowSettings(autosave_seconds=0, save_on_navigate=False))
    w.prompt = lambda title, text, choices: "Discard" if "Discard" in choices else choices[-1]
    w.show()

    def wait(cond, timeout=60.0) -> None:
        end = time.perf_counter() + timeout
        while not cond():
            app.processEvents()
            time.sleep(0.001)
            if time.perf_counter() > end:
                raise TimeoutError

    w.open_collection(root, wait=True)
    wait(lambda: len(w.browser.model.rows) > 0)
    svc = w.suggestions.service
    if svc is None or not svc.available:
        print(f"sample: skipped ({svc.why_unavailable() if svc else 'no service'})")
        return
    aid = "images/hokusai_great_wave.jpg"
    w.browser.select_id(aid)
    wait(lambda: w.current_id == aid)
    t = time.perf_counter()
    svc.warm_up()
    print(f"sample: model load + vocabulary embedding (warm-up, at collection open): "
          f"{(time.perf_counter() - t) * 1000:.0f} ms")
    shown: list[float] = []
    w.suggestions.suggestionsShown.connect(shown.append)

    def select(i: int) -> float:
        n = len(shown)
        w.editor.select_indices([])
        t0 = time.perf_counter()
        w.editor.select_indices([i])
        wait(lambda: len(shown) > n)
        return (time.perf_counter() - t0) * 1000

    rs = svc.regions(aid)
    stored = [Region(box=b, source="detector", score=float(s)) for b, s in zip(rs.box_list()[:repeats], rs.scores)]
    w.editor.add_proposals(stored)
    w.editor.set_proposal_limit(None)  # all of them selectable (the canvas shows the best few)
    base = len(w.editor.annotation().regions) - len(stored)
    ms = [select(base + i) for i in range(len(stored))]
    print(f"sample: stored region -> phrases shown (GUI):  first {ms[0]:7.1f} ms  {_stats(ms[1:])}")
    wd, ht = w.editor.canvas().image_size()
    rng = np.random.default_rng(0)
    drawn = []
    for _ in range(repeats):
        x0, y0 = rng.uniform(0, wd * 0.6), rng.uniform(0, ht * 0.6)
        drawn.append(Region(box=Box.from_edges(round(x0), round(y0), round(x0 + wd * 0.3), round(y0 + ht * 0.3)),
                            phrase="x"))
    w.editor.paste_regions(drawn)
    base = len(w.editor.annotation().regions) - len(drawn)
    ms = [select(base + i) for i in range(len(drawn))]
    print(f"sample: drawn box -> phrases shown (GUI):      first {ms[0]:7.1f} ms  {_stats(ms[1:])}"
          "   (first = backbone on this image; later boxes reuse its feature map)")
    w.editor.undo_stack().setClean()
    w.close()


# -- 2. synthetic 10k, service level -----------------------------------------------------------
def build_synthetic(d: Path, n: int, k: int, dim: int, n_phrases: int) -> tuple[Path, Path, list[str]]:
    from artannot.retrieval.checkpoint import attach_phrase_vectors, build_model, save_checkpoint
    from artannot.retrieval.config import ScanConfig
    from artannot.text.vocab import TextVocab
    from artannot.vision.feature_store import FeatureStore

    rng = np.random.default_rng(0)
    adjectives = [f"adj{i}" for i in range(int(np.sqrt(n_phrases)) + 1)]
    nouns = [f"noun{i}" for i in range(int(np.sqrt(n_phrases)) + 1)]
    phrases = [f"{a} {b}" for a in adjectives for b in nouns][:n_phrases]
    vocab = TextVocab.build([phrases], min_phrase_count=1)
    cfg = ScanConfig(embed_size=1024)  # the default: pretrained phrase encoder
    model = build_model(cfg, vocab, dim)
    attach_phrase_vectors(vocab, cfg, data_dir=d)
    t = time.perf_counter()
    vocab.vectors.ensure(phrases)  # what `artannot train` does once per collection
    vocab.vectors.save()
    print(f"synthetic: {len(phrases)} phrases embedded by the text model once: "
          f"{time.perf_counter() - t:.1f} s")
    ckpt = save_checkpoint(d / "scan" / "best.pt", model, vocab)
    store_dir = d / "features" / "synthetic"
    with FeatureStore(store_dir, dim=dim) as store:
        for i in range(n):
            x0 = rng.uniform(0, 800, k)
            y0 = rng.uniform(0, 600, k)
            boxes = np.stack([x0 + 1, y0 + 1, x0 + rng.uniform(20, 200, k), y0 + rng.uniform(20, 200, k)], 1)
            store.put(f"images/a{i:05d}.jpg", "fp", boxes.astype(np.float32), np.ones(k, np.float32),
                      ["region"] * k, rng.standard_normal((k, dim)).astype(np.float16),
                      rng.standard_normal(dim).astype(np.float16))
        store.set_meta({"detector": {"detector": "synthetic", "params": {"k": k}},
                        "backbone": {"backbone": "synthetic", "dim": dim}, "dim": dim})
    return ckpt, store_dir, phrases


def bench_synthetic(n: int, k: int, dim: int, n_phrases: int, repeats: int) -> None:
    from artannot.retrieval.service import SuggestionService

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        t = time.perf_counter()
        ckpt, store_dir, phrases = build_synthetic(d, n, k, dim, n_phrases)
        print(f"synthetic: {n} artworks x {k} regions ({dim}-d), {len(phrases)} phrases, embed 1024 "
              f"(built in {time.perf_counter() - t:.1f} s)")
        svc = SuggestionService(d, d, checkpoint=ckpt, store_dir=store_dir)
        t = time.perf_counter()
        svc.warm_up()
        print(f"synthetic: model load + vocabulary embedding (warm-up): {(time.perf_counter() - t) * 1000:.0f} ms")
        rng = np.random.default_rng(1)
        ids = svc.store().ids()
        ms = []
        for _ in range(repeats):
            aid = ids[int(rng.integers(len(ids)))]
            box = svc.regions(aid).box_list()[int(rng.integers(k))]
            own = [(p, p) for p in rng.choice(phrases, 25, replace=False)]  # this artwork's phrases
            t = time.perf_counter()
            svc.phrases_for_box(aid, box, own)
            ms.append((time.perf_counter() - t) * 1000)
        print(f"synthetic: stored region -> phrases (service): {_stats(ms)}")
        ms = []
        for _ in range(repeats):
            aid = ids[int(rng.integers(len(ids)))]
            t = time.perf_counter()
            svc.regions_for_phrase(aid, str(rng.choice(phrases)))
            ms.append((time.perf_counter() - t) * 1000)
        print(f"synthetic: phrase -> regions + attention:     {_stats(ms)}")
        sug = svc.suggester()
        ms = []
        for i in range(repeats):  # a phrase the curator types: embedded on demand
            t = time.perf_counter()
            sug.embed_phrases([f"unseen phrase number {i} of {rng.integers(1 << 30)}"])
            ms.append((time.perf_counter() - t) * 1000)
        print(f"synthetic: unseen phrase embedded + projected: {_stats(ms)}")
        t = time.perf_counter()
        svc.search_index()
        print(f"synthetic: fragment index build ({n * k} fragments): {time.perf_counter() - t:.1f} s")
        ms = []
        for _ in range(repeats):
            t = time.perf_counter()
            svc.search(str(rng.choice(phrases)), top_k=240)
            ms.append((time.perf_counter() - t) * 1000)
        print(f"synthetic: collection search (top 240):       {_stats(ms)}")
        svc.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--k", type=int, default=36)
    ap.add_argument("--dim", type=int, default=256, help="feature dim of the synthetic store (disk: n*k*dim*2 bytes)")
    ap.add_argument("--phrases", type=int, default=20_000)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--sample", type=Path, default=ROOT / "resources" / "sample_collection")
    ap.add_argument("--skip-sample", action="store_true")
    args = ap.parse_args()
    import torch

    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    if not args.skip_sample:
        bench_sample(args.sample, min(args.repeats, 12))
    bench_synthetic(args.n, args.k, args.dim, args.phrases, args.repeats)


if __name__ == "__main__":
    main()
