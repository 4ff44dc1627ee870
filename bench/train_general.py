"""Train (and evaluate) the bundled general SCAN model on Flickr8k; reproduces
``models/scan_general_flickr8k.pt``.

Run by hand on a collection made from ``../shared/data/flickr8k`` (never copy the images into
this repository; a folder of symlinks is enough):

    mkdir -p /tmp/f8k/images && ln -s $PWD/../shared/data/flickr8k/images/* /tmp/f8k/images/
    rm /tmp/f8k/images/caption_data.json && cp ../shared/data/flickr8k/images/caption_data.json /tmp/f8k/images/
    .venv/bin/artannot index /tmp/f8k && .venv/bin/artannot phrases /tmp/f8k && .venv/bin/artannot detect /tmp/f8k
    # (detect also writes the whole-image vectors: EfficientNet-Lite0/1/2, mirror-averaged)
    .venv/bin/python bench/train_general.py /tmp/f8k --export models/scan_general_flickr8k.pt

Everything goes through the app's own code: the catalog's phrases (one text per caption),
the feature store of ``artannot detect`` (default detector and backbone), the pretrained
phrase encoder, ``retrieval.train.train``. The test split (500 images) is never trained on;
the script prints the 5-captions protocol (each image has its 5 captions as correct texts)
and the one-text-per-image protocol (the union of its captions' phrases), with chance.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from artannot.core.catalog import data_dir_for
from artannot.retrieval.checkpoint import export_checkpoint, load_checkpoint
from artannot.retrieval.collection_training import collection_dataset
from artannot.retrieval.config import ScanConfig
from artannot.retrieval.evaluate import (
    format_table,
    global_scores,
    group_texts,
    metrics_from_scores,
    metrics_rows,
    scan_scores,
)
from artannot.retrieval.train import train

# Weights of the whole-image term tried on validation (inf: the whole-image term alone).
WEIGHTS = (0.0, 0.5, 1.0, 2.0, 4.0, float("inf"))


def score_parts(ck, root: Path, splits: tuple[str, ...], unit: str, sentences: bool,
                maximal: bool) -> tuple[np.ndarray, np.ndarray | None, list, float]:
    """SCAN's scores, the whole-image term's, each image's correct texts, and the seconds."""
    ds = collection_dataset(root, text_unit=unit, vocab=ck.vocab, sentences=sentences,
                            maximal=maximal)
    items = [it for s in splits for it in ds.split(s)]
    t0 = time.perf_counter()
    scan, truth = scan_scores(ck.model, ck.vocab, items)
    images, _ = group_texts(items)
    whole = global_scores(ck.model, ck.vocab, images, items)
    return scan, whole, truth, time.perf_counter() - t0


def combine(scan: np.ndarray, whole: np.ndarray | None, w: float) -> np.ndarray:
    if whole is None or w == 0:
        return scan
    return whole if math.isinf(w) else scan + w * whole


def pick_weight(ck, root: Path, sentences: bool, maximal: bool) -> float:
    """The whole-image weight with the best val rsum (5 captions per image)."""
    scan, whole, truth, _ = score_parts(ck, root, ("val",), "field", sentences, maximal)
    if whole is None:
        return 0.0
    rsums = {w: metrics_from_scores(combine(scan, whole, w), truth).rsum for w in WEIGHTS}
    print("val rsum by whole-image weight:", {str(k): round(v, 1) for k, v in rsums.items()})
    return max(rsums, key=rsums.get)


def evaluate_split(ckpt: Path, root: Path, data_dir: Path, splits: tuple[str, ...],
                   sentences: bool, maximal: bool, weight: float) -> list:
    """Rows for images of ``splits`` (never trained on; val only picked the epoch and the
    whole-image weight): the model as shipped, and its two parts alone."""
    ck = load_checkpoint(ckpt, data_dir=data_dir)
    rows = []
    for unit, name in (("field", "5 captions/image"), ("artwork", "1 text/image")):
        scan, whole, truth, secs = score_parts(ck, root, splits, unit, sentences, maximal)
        variants = [(f"w={weight:g}", weight)]
        if whole is not None:
            variants += [("SCAN alone", 0.0), ("whole-image alone", float("inf"))]
        for label, w in variants:
            scores = combine(scan, whole, w)
            for r in metrics_rows(scores, truth, f"{'+'.join(splits)} {name} {label}",
                                  rerank=True):
                r.extra.update(seconds=round(secs, 1), chance_r1=round(100 / scores.shape[1], 3))
                rows.append(r)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("collection", type=Path)
    ap.add_argument("--out", type=Path, default=Path("runs/general-flickr8k"))
    ap.add_argument("--epochs", type=int, default=16)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--embed-size", type=int, default=1024)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--lr-update", type=int, default=10)
    ap.add_argument("--hardest-after", type=int, default=2)
    ap.add_argument("--lambda-softmax", type=float, default=9.0)
    ap.add_argument("--agg", default="AVG")
    ap.add_argument("--cross-attn", default="t2i")
    ap.add_argument("--mlp-hidden", type=int, default=0)
    ap.add_argument("--phrase-loss", type=float, default=1.0)
    ap.add_argument("--fragment-loss", default="both", choices=("both", "phrase"))
    ap.add_argument("--global-epochs", type=int, default=10,
                    help="epochs that fit only the whole-image towers after SCAN's")
    ap.add_argument("--whole-weight", type=float, default=0.5,
                    help="weight of the whole-image term while training picks its best epoch "
                         "(the shipped weight is picked on val afterwards)")
    ap.add_argument("--global-text", default="sentences", choices=("sentences", "units"))
    ap.add_argument("--sentences", action=argparse.BooleanOptionalAction, default=True,
                    help="each caption's sentence is a text unit too, besides its phrases")
    ap.add_argument("--maximal", action=argparse.BooleanOptionalAction, default=True,
                    help="only maximal phrases (no sub-phrases) in the texts: ~3x fewer units")
    ap.add_argument("--fresh", action="store_true")
    ap.add_argument("--export", type=Path, help="write the shippable fp16 checkpoint here")
    args = ap.parse_args()

    root = args.collection.resolve()
    data_dir = data_dir_for(root)
    cfg = ScanConfig(text_encoder="pretrained", embed_size=args.embed_size, lr=args.lr,
                     lr_update=args.lr_update, num_epochs=args.epochs,
                     batch_size=args.batch_size, hardest_after=args.hardest_after,
                     lambda_softmax=args.lambda_softmax, agg=args.agg,
                     cross_attn=args.cross_attn, mlp_hidden=args.mlp_hidden, min_phrase_count=4,
                     phrase_loss=args.phrase_loss, global_epochs=args.global_epochs,
                     global_text=args.global_text, global_weight=args.whole_weight,
                     fragment_loss=args.fragment_loss)
    t0 = time.perf_counter()
    ds = collection_dataset(root, text_unit="field", min_phrase_count=cfg.min_phrase_count,
                            sentences=args.sentences, maximal=args.maximal)
    # Validation ranks all 5 captions of the 500 val images (~8 s an epoch): one caption per
    # image was 5x cheaper but too noisy to choose among the whole-image towers' epochs.
    print(f"dataset: {len(ds)} texts, train {len(ds.split('train'))}, val {len(ds.split('val'))}, "
          f"test {len(ds.split('test'))}, with sentences "
          f"{sum(1 for it in ds.items if it.sentences)}; vocabulary {len(ds.vocab.phrases)} phrases "
          f"({time.perf_counter() - t0:.1f}s)", flush=True)

    def progress(p) -> None:
        if p.val is None and p.batch % 25 == 0:
            print(f"  epoch {p.epoch} batch {p.batch}/{p.num_batches} loss {p.loss:.2f} "
                  f"({time.perf_counter() - t0:.0f}s)", flush=True)
        if p.val is not None:
            print(f"epoch {p.epoch}/{p.num_epochs} {p.epoch_seconds:.0f}s  val i2t R@1 "
                  f"{p.val.i2t.r1:.1f} t2i R@1 {p.val.t2i.r1:.1f} rsum {p.val.rsum:.1f}", flush=True)

    def phrase_progress(n: int, total: int) -> None:
        print(f"embedding phrases {n}/{total}", flush=True)

    t0 = time.perf_counter()
    res = train(ds, cfg, out_dir=args.out, progress=progress, resume=not args.fresh,
                data_dir=data_dir, phrase_progress=phrase_progress)
    train_s = time.perf_counter() - t0
    print(f"trained {res.epochs_done} epochs in {train_s:.0f}s; best val rsum {res.best_rsum:.1f}")
    weight = pick_weight(load_checkpoint(res.best_path, data_dir=data_dir), root,
                         args.sentences, args.maximal)
    print(f"whole-image weight picked on val: {weight:g}")
    rows = evaluate_split(res.best_path, root, data_dir, ("test",), args.sentences, args.maximal,
                          weight)
    rows += evaluate_split(res.best_path, root, data_dir, ("val", "test"), args.sentences,
                           args.maximal, weight)
    print(format_table(rows, "Flickr8k, images never trained on"))
    print(json.dumps({"train_seconds": round(train_s), "config": cfg.to_dict(),
                      "global_weight": weight,
                      "sentences": args.sentences, "maximal": args.maximal,
                      "test": [r.to_dict() for r in rows]}, indent=1))
    if args.export:
        prov = (f"SCAN heads (pretrained phrase encoder {cfg.text_model} + proposals/"
                f"EfficientNet-Lite0 regions) and a whole-image two-tower term "
                f"(EfficientNet-Lite0/1/2, weight {weight:g} picked on val) trained by "
                f"bench/train_general.py on Flickr8k (3,000 train images, 5 captions each; "
                f"Hodosh et al. 2013, research use; images belong to their Flickr owners); "
                f"best val rsum {res.best_rsum:.1f}")
        if math.isinf(weight):
            weight = 1000.0  # the term alone, as far as ranking goes
        export_checkpoint(res.best_path, args.export, provenance=prov,
                          config_changes={"global_weight": weight})
        print(f"exported {args.export} ({args.export.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
