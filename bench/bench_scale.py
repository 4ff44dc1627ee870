"""A whole museum on one desktop (issue 16): every collection-level operation at growing N.

    .venv/bin/python bench/bench_scale.py --sizes 10000 25000 50000 100000
    .venv/bin/python bench/bench_scale.py --sizes 2000 --stages catalog save     # quick look
    .venv/bin/python bench/bench_scale.py --sizes 25000 50000 100000 --stages search

For each N a synthetic collection is built (``bench_catalog.build``: 64x48 JPEGs, one JSON
sidecar with a 2-4 sentence museum description each, a VOC file for every 20th artwork) and
each stage runs in a fresh process, so its peak RSS is its own:

- ``catalog``: index from scratch, re-open unchanged, full-text search p95 (first page +
  count), the browser's full row list.
- ``phrases``: noun-phrase extraction of every description (spaCy tagger + grammar),
  vocabulary and ``caption_data.json``.
- ``interop``: export COCO and VOC of every artwork, import the COCO file back (``--overwrite``).
- ``save``: what the GUI does after Ctrl+S, through the real main window offscreen (VOC
  written, catalog row updated, the browser's row and totals and the queue's progress
  adjusted), p95 over 40 saves; and Ctrl+N (next in queue) p95.
- ``suggest``: stored region -> ranked phrases p95 with the bundled general model over the
  collection's own vocabulary (regions of 20 artworks with random 1280-d features).
- ``train``: the SCAN dataset over N artworks (synthetic 256-d region features, k = 36, the
  collection's phrases: regions by reference, so its RSS must not grow with N x 36 x d) and,
  up to ``--train-max`` artworks, one epoch (linear in N by construction).
- ``search``: the fragment index through the app's own code path (``SuggestionService``:
  feature store of N x 36 synthetic 256-d regions, random SCAN model, index build, phrase ->
  fragments p95 and top-10 agreement with exact scoring of every fragment).

Results are printed as a table and written to ``--out`` (JSON) so runs can be compared; the
growth ratio between sizes is printed for each measure (goal: nothing grows faster than
N log N; saves under 50 ms).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

STAGES = ("catalog", "phrases", "interop", "save", "suggest", "train", "search")


def _p95(ms: list[float]) -> float:
    ms = sorted(ms)
    return ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]


def _timed(fn):
    t = time.perf_counter()
    value = fn()
    return time.perf_counter() - t, value


def _rss_mb() -> float:
    """This process's peak resident memory. VmHWM belongs to the address space, which exec
    renews; ru_maxrss would carry the parent's peak over (Linux keeps it across fork + exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- stages (each runs in its own process) -------------------------------------------------

def stage_catalog(root: Path, n: int, work: Path) -> dict:
    from bench_catalog import QUERIES

    from artannot.core.catalog import Catalog

    out: dict = {}
    data = root / ".artannot"
    kept = data.with_name(".artannot-kept")
    if data.exists():  # index from scratch, then put back what earlier stages made (phrases)
        data.rename(kept)
    out["index_s"], _ = _timed(lambda: Catalog.open(root).close())
    out["index_rss_mb"] = _rss_mb()
    if kept.exists():
        shutil.rmtree(data)
        kept.rename(data)
    out["reopen_s"], _ = _timed(lambda: Catalog.open(root).close())
    with Catalog.open(root, refresh=False) as cat:
        lat = [_timed(lambda q=q: (cat.rows(query=q, limit=200), cat.count(query=q)))[0] * 1000
               for q in QUERIES]
        out["search_p95_ms"] = _p95(lat)
        out["rows_all_ms"] = _timed(lambda: cat.rows())[0] * 1000
        out["stats_ms"] = _timed(cat.stats)[0] * 1000
    out["rss_mb"] = _rss_mb()
    return out


def stage_phrases(root: Path, n: int, work: Path) -> dict:
    from artannot.core.catalog import Catalog
    from artannot.text.collection import extract_collection

    with Catalog.open(root, refresh=False) as cat:
        t, rep = _timed(lambda: extract_collection(cat))
    return {"phrases_s": t, "phrases_per_s": rep.extracted / t if t else 0.0,
            "phrase_types": rep.phrase_types, "rss_mb": _rss_mb()}


def stage_interop(root: Path, n: int, work: Path) -> dict:
    from artannot.core.interop import export_annotations, import_annotations

    out: dict = {}
    dest = work / f"export-{n}"
    out["export_coco_s"], _ = _timed(lambda: export_annotations(root, "coco", dest / "coco.json", overwrite=True))
    out["export_voc_s"], _ = _timed(lambda: export_annotations(root, "voc", dest / "voc", overwrite=True))
    out["import_coco_s"], rep = _timed(lambda: import_annotations(root, "coco", dest / "coco.json", overwrite=True))
    out["imported_files"] = len(rep.written)
    out["rss_mb"] = _rss_mb()
    return out


def stage_save(root: Path, n: int, work: Path) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from artannot.app.main_window import MainWindow, WindowSettings
    from artannot.core.geometry import Box
    from artannot.core.model import Region
    from artannot.core.queue import next_artwork
    from artannot.core.voc import new_annotation, save_voc

    app = QApplication.instance() or QApplication([])
    w = MainWindow(WindowSettings(autosave_seconds=0, extract_phrases=False))
    w.show()

    def wait(cond, timeout: float = 600.0) -> None:
        end = time.perf_counter() + timeout
        while not cond():
            app.processEvents()
            if time.perf_counter() > end:
                raise TimeoutError("the window did not get there")
            time.sleep(0.002)

    out: dict = {}
    out["open_to_rows_s"], _ = _timed(lambda: (w.open_collection(root), wait(lambda: len(w.browser.model.rows) == n)))
    wait(lambda: "annotated" in w.queue.progress.text())
    cat = w.catalog
    rng = random.Random(0)
    ids = list(w.browser.model.rows.listing.ids)  # ids only: the rows are paged
    lat, write, update = [], [], []
    for i in range(40):
        aid = rng.choice(ids)
        path = cat.annotation_path(aid)
        ann = new_annotation(root / aid, *cat.image_size(aid))
        ann.regions = [Region(Box(1, 1, 10 + j, 10 + j), f"gilded vase {i}") for j in range(rng.randint(1, 4))]
        t = time.perf_counter()
        saved = save_voc(ann, path, force=True)  # what MainWindow.save does after its checks
        t1 = time.perf_counter()
        change = cat.record_annotation(aid, ann, saved)
        w.browser.refresh_row(aid, change)
        w.queue.saved(change)
        app.processEvents()
        t2 = time.perf_counter()
        lat.append((t2 - t) * 1000)
        write.append((t1 - t) * 1000)
        update.append((t2 - t1) * 1000)
    out["save_p95_ms"], out["save_p50_ms"] = _p95(lat), statistics.median(lat)
    # the file write (temp + fsync + rename + .bak) does not grow with N; the rest must not either
    out["save_write_p95_ms"], out["save_update_p95_ms"] = _p95(write), _p95(update)
    nxt = []
    current = ids[0]
    for _ in range(40):
        t = time.perf_counter()
        current = next_artwork(cat, "unannotated", current) or current
        nxt.append((time.perf_counter() - t) * 1000)
    out["next_in_queue_p95_ms"] = _p95(nxt)
    w.prompt = lambda title, text, choices: "Discard" if "Discard" in choices else choices[-1]
    w.close()
    out["rss_mb"] = _rss_mb()
    return out


def _synthetic_store(path: Path, ids: list[str], k: int, dim: int, seed: int = 0) -> None:
    """Region features around 512 "kinds of thing" (cluster centres + noise): real regions are
    not uniform noise, and an approximate index is only meaningful on structured data."""
    from artannot.vision.feature_store import FeatureStore

    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((512, dim)).astype(np.float32)
    with FeatureStore(path, dim=dim) as store:
        for i, aid in enumerate(ids):
            x0, y0 = rng.uniform(0, 40, k), rng.uniform(0, 30, k)
            boxes = np.stack([x0 + 1, y0 + 1, x0 + rng.uniform(5, 24, k), y0 + rng.uniform(5, 18, k)], 1)
            feats = centres[rng.integers(0, len(centres), k)] + 0.5 * rng.standard_normal((k, dim))
            store.put(aid, "fp", boxes.astype(np.float32), np.ones(k, np.float32), ["region"] * k,
                      feats.astype(np.float16), feats.mean(0).astype(np.float16))
            if (i + 1) % 4096 == 0:
                store.flush()
        store.set_meta({"detector": {"detector": "synthetic", "params": {"k": k}},
                        "backbone": {"backbone": "synthetic", "dim": dim}, "dim": dim})


def stage_suggest(root: Path, n: int, work: Path) -> dict:
    from artannot.core.catalog import Catalog
    from artannot.retrieval.model_files import general_checkpoint
    from artannot.retrieval.service import SuggestionService
    from artannot.vision.feature_store import FeatureStore

    with Catalog.open(root, refresh=False) as cat:
        ids = cat.artwork_ids()[:20]
        own = {a: [(p.norm, p.text) for p in cat.phrases(a)] for a in ids}
        data_dir = cat.data_dir
    store_dir = work / f"suggest-store-{n}"
    _synthetic_store(store_dir, ids, 36, 1280)
    FeatureStore(store_dir).close()
    ckpt, why = general_checkpoint()
    if ckpt is None:
        raise RuntimeError(why)
    svc = SuggestionService(root, data_dir, checkpoint=ckpt, store_dir=store_dir)
    t, _ = _timed(svc.warm_up)
    out = {"suggest_warm_up_s": t}
    rng = random.Random(1)
    lat = []
    for _ in range(40):
        aid = rng.choice(ids)
        box = svc.regions(aid).box_list()[rng.randrange(36)]
        t0 = time.perf_counter()
        svc.phrases_for_box(aid, box, own[aid])
        lat.append((time.perf_counter() - t0) * 1000)
    out["region_to_phrases_p95_ms"] = _p95(lat)
    out["candidates"] = len(svc.suggester().vocab.phrase_list())
    svc.close()
    out["rss_mb"] = _rss_mb()
    return out


def _synthetic_model(work: Path, phrases: list[str], dim: int) -> Path:
    from artannot.retrieval.checkpoint import attach_phrase_vectors, build_model, save_checkpoint
    from artannot.retrieval.config import ScanConfig
    from artannot.text.vocab import TextVocab

    vocab = TextVocab.build([phrases], min_phrase_count=1)
    cfg = ScanConfig(embed_size=1024)
    model = build_model(cfg, vocab, dim)
    attach_phrase_vectors(vocab, cfg, data_dir=work)
    vocab.vectors.ensure(phrases)
    vocab.vectors.save()
    return save_checkpoint(work / "scan" / "best.pt", model, vocab)


def stage_train(root: Path, n: int, work: Path) -> dict:
    import torch

    from artannot.core.catalog import Catalog
    from artannot.retrieval.collection_training import collection_dataset
    from artannot.retrieval.config import ScanConfig
    from artannot.retrieval.train import train

    torch.set_num_threads(2)
    with Catalog.open(root, refresh=False) as cat:
        ids = cat.artwork_ids()
        if not cat.phrases(ids[0]):  # no `phrases` stage ran: synthetic phrases will do here
            from bench_catalog import ADJ, NOUN

            from artannot.core.model import PhraseRecord

            rng = random.Random(4)
            cat.store_phrases([(a, "synthetic", [PhraseRecord("description", 0, 1, p, p) for p in
                                                 (f"{rng.choice(ADJ)} {rng.choice(NOUN)}" for _ in range(12))])
                               for a in ids])
    store_dir = work / f"train-store-{n}"
    t, _ = _timed(lambda: _synthetic_store(store_dir, ids, 36, 256))
    out = {"train_store_build_s": t}
    rss0 = _rss_mb()
    t, ds = _timed(lambda: collection_dataset(root, features=store_dir, min_phrase_count=4))
    out["dataset_s"], out["dataset_rss_mb"] = t, _rss_mb() - rss0
    cfg = ScanConfig(num_epochs=1, batch_size=128, embed_size=1024)
    from artannot.retrieval.checkpoint import attach_phrase_vectors

    def embed_once() -> None:  # done once per collection (cached), not per epoch
        attach_phrase_vectors(ds.vocab, cfg, data_dir=work)
        ds.vocab.vectors.ensure(p for it in ds.items for p in it.phrases)

    out["phrase_vectors_s"], _ = _timed(embed_once)
    out["dataset_items"] = len(ds.items)
    if n <= int(os.environ.get("BENCH_TRAIN_MAX", "5000")):  # an epoch is linear in N: measured small
        t, _ = _timed(lambda: train(ds, cfg, out_dir=work / f"train-out-{n}", resume=False, init=None))
        out["epoch_s"] = t
        out["epoch_ms_per_artwork"] = 1000 * t / n
    out["rss_mb"] = _rss_mb()
    return out


def stage_search(root: Path, n: int, work: Path) -> dict:
    import torch

    from artannot.retrieval.service import SuggestionService

    torch.set_num_threads(2)
    d = work / f"search-{n}"
    d.mkdir(parents=True, exist_ok=True)
    ids = [f"images/a{i:06d}.jpg" for i in range(n)]
    rng = random.Random(2)
    adjectives = [f"adj{i}" for i in range(60)]
    nouns = [f"noun{i}" for i in range(60)]
    phrases = [f"{a} {b}" for a in adjectives for b in nouns]
    ckpt = _synthetic_model(d, phrases, 256)
    t, _ = _timed(lambda: _synthetic_store(d / "features" / "synthetic", ids, 36, 256))
    out = {"fragments": n * 36, "store_build_s": t}
    svc = SuggestionService(d, d, checkpoint=ckpt, store_dir=d / "features" / "synthetic")
    rss0 = _rss_mb()
    out["index_build_s"], cs = _timed(svc.search_index)
    out["index_build_rss_mb"] = _rss_mb() - rss0
    queries = rng.sample(phrases, 40)
    lat, agree = [], []
    for q in queries:
        t0 = time.perf_counter()
        hits = svc.search(q, top_k=10)
        lat.append((time.perf_counter() - t0) * 1000)
        qv = cs.suggester.embed_phrases([q])[0]
        _, exact = cs.index.exhaustive(qv[None, :], 10)
        want = {cs.keys[i] for i in exact[0]}
        agree.append(len(want & {(h.artwork_id, h.region) for h in hits}) / 10)
    out["search_p95_ms"], out["top10_agreement"] = _p95(lat), float(np.mean(agree))
    size = sum(f.stat().st_size for f in (d / "search").rglob("*") if f.is_file()) if (d / "search").exists() else 0
    out["index_disk_mb"] = size / 1e6
    svc.close()
    out["rss_mb"] = _rss_mb()
    return out


STAGE_FNS = {name: globals()[f"stage_{name}"] for name in STAGES}


def _run_stage(name: str, root: str, n: int, work: str) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    return STAGE_FNS[name](Path(root), n, Path(work))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 25_000, 50_000, 100_000])
    ap.add_argument("--stages", nargs="+", default=list(STAGES), choices=STAGES)
    ap.add_argument("--work", type=Path, default=None, help="where collections are built (kept)")
    ap.add_argument("--out", type=Path, default=None, help="JSON results file")
    ap.add_argument("--train-max", type=int, default=5000,
                    help="largest N at which the train stage runs a whole epoch (dataset RSS at every N)")
    args = ap.parse_args()
    os.environ.pop("ARTANNOT_DATA_DIR", None)
    os.environ["BENCH_TRAIN_MAX"] = str(args.train_max)
    from bench_catalog import build

    work = args.work or Path(tempfile.mkdtemp(prefix="artannot-scale-"))
    results: dict[int, dict] = {}
    load = os.getloadavg()[0]
    print(f"platform: {platform.platform()}, python {platform.python_version()}, cpus {os.cpu_count()}, "
          f"load {load:.1f}, work {work}", flush=True)
    for n in args.sizes:
        root = work / f"collection-{n}"
        if not (root / "images").is_dir():
            t, _ = _timed(lambda: build(root, n))
            print(f"n={n}: built in {t:.0f} s", flush=True)
        results[n] = {}
        for stage in args.stages:
            if stage in ("phrases", "interop", "save", "suggest", "train") and "catalog" not in args.stages \
                    and not (root / ".artannot" / "catalog.sqlite").exists():
                _run(stage_name := "catalog", root, n, work, results)  # noqa: F841
            _run(stage, root, n, work, results)
        if args.out:
            args.out.write_text(json.dumps({str(k): v for k, v in results.items()}, indent=1))
    _table(results)
    return 0


def _run(stage: str, root: Path, n: int, work: Path, results: dict) -> None:
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as ex:
        try:
            res = ex.submit(_run_stage, stage, str(root), n, str(work)).result()
        except Exception as exc:  # a failed stage is reported, the others still run
            res = {"error": f"{type(exc).__name__}: {exc}"}
    res = {f"{stage}.{k}": v for k, v in res.items()}
    results[n].update(res)
    print(f"n={n} {stage}: " + ", ".join(f"{k.split('.', 1)[1]}={v:.4g}" if isinstance(v, float) else
                                          f"{k.split('.', 1)[1]}={v}" for k, v in res.items()), flush=True)


def _table(results: dict[int, dict]) -> None:
    sizes = sorted(results)
    keys = list(dict.fromkeys(k for n in sizes for k in results[n]))
    print("\n| measure | " + " | ".join(f"{n:,}" for n in sizes) + " | growth last/first (N ×"
          f"{sizes[-1] / sizes[0]:.0f}) |")
    print("|---|" + "---|" * (len(sizes) + 1))
    for k in keys:
        vals = [results[n].get(k) for n in sizes]
        cells = [f"{v:.3g}" if isinstance(v, float) else str(v if v is not None else "—") for v in vals]
        growth = ""
        if all(isinstance(v, (int, float)) for v in (vals[0], vals[-1])) and vals[0]:
            growth = f"×{vals[-1] / vals[0]:.1f}"
        print(f"| {k} | " + " | ".join(cells) + f" | {growth} |")


if __name__ == "__main__":
    raise SystemExit(main())
