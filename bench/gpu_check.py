"""One short run that verifies the GPU path on a machine with CUDA (issue 16).

    .venv/bin/python bench/gpu_check.py            # about 5 minutes on one modern GPU
    .venv/bin/python bench/gpu_check.py --quick    # fewer images / artworks / vectors

1. Runs every test marked ``gpu`` (``pytest -m gpu``): they are skipped on a CPU-only machine,
   so here they must *pass*, not skip.
2. Detection + region features (the default: weight-free proposals + EfficientNet-Lite0, at
   the default size) in images/s, on the CPU and on CUDA. Goal on one modern GPU: >= 20 images/s.
3. One SCAN training epoch (synthetic 1280-d regions, k = 36, the default model) in s/epoch.
4. Collection search: phrase -> top-10 fragments over 1M fragments (IVF-PQ shortlist + exact
   re-rank), p95 latency, faiss on the CPU and (with ``faiss-gpu``) on the GPU.

Every figure is printed next to its CPU counterpart. Exit status 1 when a GPU test failed or
was skipped although CUDA is present, or when the detection goal is missed; 2 without CUDA
(the CPU figures are still printed, so the script itself is checked on any machine).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
IMAGES = ROOT / "resources" / "sample_collection" / "images"
DETECTION_GOAL = 20.0  # images/s on one modern GPU


def gpu_tests() -> tuple[bool, str]:
    """``pytest -m gpu``: (all passed and none skipped, pytest's summary line)."""
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "gpu", "-rs",
                           str(ROOT / "tests")], cwd=ROOT, capture_output=True, text=True,
                          env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    summary = lines[-1] if lines else proc.stderr.strip()[-200:]
    return proc.returncode == 0 and "skipped" not in summary, summary


def detection_rate(device: str, n: int) -> float:
    from artannot.models import ModelManager
    from artannot.vision.loader import load_detector, load_extractor
    from artannot.vision.runner import load_rgb

    manager = ModelManager()
    paths = sorted(p for p in IMAGES.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    images = [load_rgb(p) for p in paths]
    det = load_detector("proposals", manager=manager, device=device)
    ext = load_extractor("efficientnet_lite0", manager=manager, device=device)

    def one(img) -> None:
        [d] = det.detect([img])
        ext.extract([img], [d.boxes])

    one(images[0])  # warm-up (kernels, cudnn autotune)
    if device == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    for i in range(n):
        one(images[i % len(images)])
    if device == "cuda":
        torch.cuda.synchronize()
    return n / (time.perf_counter() - t)


def training_epoch(device: str, n: int, work: Path) -> float:
    from artannot.retrieval.config import ScanConfig
    from artannot.retrieval.data import ArtworkItem, ScanDataset
    from artannot.retrieval.train import train

    rng = np.random.default_rng(0)
    words = ["blue", "red", "gilded", "carved", "wave", "vase", "dragon", "lotus", "bird", "horse", "boat", "tree"]
    items = []
    for i in range(n):
        phrases = [f"{rng.choice(words)} {rng.choice(words)}" for _ in range(6)]
        items.append(ArtworkItem(f"a{i}", rng.standard_normal((36, 1280)).astype(np.float16), phrases,
                                 "val" if i % 10 == 0 else "train"))
    ds = ScanDataset(items, min_phrase_count=1)
    cfg = ScanConfig(num_epochs=1, batch_size=128)
    train(ds, cfg, out_dir=work / f"train-{device}", resume=False, device=device, data_dir=work, init=None)
    t = time.perf_counter()  # second run: the phrase vectors are cached, this is the epoch itself
    train(ds, cfg, out_dir=work / f"train2-{device}", resume=False, device=device, data_dir=work, init=None)
    return time.perf_counter() - t


def search_p95(use_gpu: bool, n: int) -> float:
    from artannot.retrieval.index import FragmentIndex

    rng = np.random.default_rng(1)
    vecs = rng.standard_normal((n, 1024)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    idx = FragmentIndex.build(vecs.astype(np.float16), kind="ivfpq", train_size=50_000, use_gpu=use_gpu)
    lat = []
    for q in vecs[rng.choice(n, 100)]:
        t = time.perf_counter()
        idx.search(q, 10, shortlist=2048)
        lat.append((time.perf_counter() - t) * 1000)
    lat.sort()
    return lat[int(round(0.95 * (len(lat) - 1)))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--skip-tests", action="store_true")
    args = ap.parse_args()
    n_img, n_art, n_vec = (24, 512, 200_000) if args.quick else (120, 4096, 1_000_000)
    from artannot.retrieval.index import gpu_available

    cuda = torch.cuda.is_available()
    print(f"torch {torch.__version__}, CUDA {'yes: ' + torch.cuda.get_device_name(0) if cuda else 'no'}, "
          f"faiss GPU {'yes' if gpu_available() else 'no'}", flush=True)
    ok = True
    if not args.skip_tests:
        passed, summary = gpu_tests()
        print(f"pytest -m gpu: {summary}", flush=True)
        ok &= passed or not cuda
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for label, fn in (("detection + features, images/s", lambda d: detection_rate(d, n_img)),
                          (f"SCAN training, s/epoch ({n_art} artworks)", lambda d: training_epoch(d, n_art, work))):
            cpu = fn("cpu")
            gpu = fn("cuda") if cuda else None
            rows.append((label, cpu, gpu))
            print(f"{label}: CPU {cpu:.2f}" + (f", GPU {gpu:.2f}" if gpu is not None else ""), flush=True)
        cpu = search_p95(False, n_vec)
        gpu = search_p95(True, n_vec) if gpu_available() else None
        rows.append((f"search p95 ms ({n_vec:,} fragments)", cpu, gpu))
    print("\n| measure | CPU | GPU |\n|---|---|---|")
    for label, cpu, gpu in rows:
        print(f"| {label} | {cpu:.2f} | {'—' if gpu is None else f'{gpu:.2f}'} |")
    if not cuda:
        print("no CUDA device: only the CPU figures were measured")
        return 2
    det_gpu = rows[0][2]
    if det_gpu is not None and det_gpu < DETECTION_GOAL:
        print(f"detection goal missed: {det_gpu:.1f} < {DETECTION_GOAL} images/s")
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
