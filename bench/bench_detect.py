"""Throughput of the detection backends (run by hand; not a test).

    .venv/bin/python bench/bench_detect.py [IMAGES_DIR] [--threads 2] [--repeat 1]

Measures images/s for detection + region features at the default size (shorter side 600,
longer at most 1000), one image at a time as on a CPU, after one warm-up image.  The
Faster R-CNN backends use random weights (same speed as trained ones) and ResNet backbones
too, so nothing needs to be imported.  Reports wall time and process CPU time: on a shared
machine the CPU time per image is the steadier number.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

DEFAULT_IMAGES = Path(__file__).resolve().parents[1] / "resources" / "sample_collection" / "images"

CONFIGS = [
    # (label, detector, backbone)
    ("proposals only", "proposals", None),
    ("proposals + efficientnet_lite0 (default)", "proposals", "efficientnet_lite0"),
    ("proposals + resnet50", "proposals", "resnet50"),
    ("proposals + resnet101", "proposals", "resnet101"),
    ("fasterrcnn_mobilenet_v3_large_320_fpn + efficientnet_lite0", "fasterrcnn_mobilenet_v3_large_320_fpn",
     "efficientnet_lite0"),
    ("fasterrcnn_resnet50_fpn + efficientnet_lite0", "fasterrcnn_resnet50_fpn", "efficientnet_lite0"),
    ("fasterrcnn_resnet50_fpn + resnet101 (thesis-like)", "fasterrcnn_resnet50_fpn", "resnet101"),
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("images", nargs="?", type=Path, default=DEFAULT_IMAGES)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=12)
    ap.add_argument("--only", default="", help="substring of the configurations to run")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--min-size", type=int, default=600)
    ap.add_argument("--max-size", type=int, default=1000)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    import cv2

    cv2.setNumThreads(args.threads)
    os.environ.setdefault("ARTANNOT_MODELS_DIR", tempfile.mkdtemp(prefix="artannot-bench-"))
    from artannot.models import ModelManager
    from artannot.vision.device import select_device
    from artannot.vision.loader import load_detector, load_extractor
    from artannot.vision.runner import load_rgb

    device = select_device(args.device)
    manager = ModelManager()
    paths = sorted(p for p in args.images.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    images = [load_rgb(p) for p in paths[: args.limit]]
    print(f"{len(images)} images from {args.images}, {args.threads} threads, device {device}, "
          f"torch {torch.__version__}, size {args.min_size}/{args.max_size}")
    for label, det_name, bb_name in CONFIGS:
        if args.only and args.only not in label:
            continue
        sizes = {"min_size": args.min_size, "max_size": args.max_size}
        det = load_detector(det_name, manager=manager, device=device, allow_random=True,
                            score_floor=0.0, **sizes)
        ext = (load_extractor(bb_name, manager=manager, device=device, allow_random=True, **sizes)
               if bb_name else None)

        def one(img, det=det, ext=ext):
            [d] = det.detect([img])
            if ext is not None:
                ext.extract([img], [d.boxes])

        one(images[0])  # warm-up
        w0, c0 = time.perf_counter(), time.process_time()
        for img in images:
            one(img)
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        n = len(images)
        print(f"{label:62} {n / wall:6.2f} img/s wall  ({1000 * wall / n:7.0f} ms/img wall, "
              f"{1000 * cpu / n:7.0f} ms/img CPU)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
