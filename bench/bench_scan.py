"""SCAN on the synthetic collection with known answers: R@1/5/10 both ways, seconds per epoch.

Run by hand:  .venv/bin/python bench/bench_scan.py --scenes 1000 --epochs 15
Compares the text encoders (pretrained: frozen all-MiniLM-L6-v2 + projection | phrase | word)
and the two formulations (i2t | t2i), plus the
coarse k=1 model, and fragment-level recall on the ground-truth boxes. Features are the
pixel-derived synthetic features of artannot.retrieval.synthetic (not a CNN: a backbone with
random weights would carry less information than these).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import torch

from artannot.retrieval.config import ScanConfig
from artannot.retrieval.data import ScanDataset
from artannot.retrieval.evaluate import artwork_scores, format_table, fragment_scores, metrics_rows
from artannot.retrieval.synthetic import make_collection
from artannot.retrieval.train import train


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenes", type=int, default=1000)
    ap.add_argument("--k", type=int, default=12)
    ap.add_argument("--dim", type=int, default=2048)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--embed-size", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--hardest-after", type=int, default=ScanConfig().hardest_after,
                    help="epochs with summed negatives before hardest negatives")
    ap.add_argument("--only", default=None,
                    help="comma-separated encoder:attention pairs, e.g. word:i2t,word:t2i (no coarse run)")
    ap.add_argument("--rerank", action="store_true", help="also rows with asymmetric re-ranking")
    ap.add_argument("--lambda-softmax", type=float, default=ScanConfig().lambda_softmax)
    ap.add_argument("--phrase-loss", type=float, default=ScanConfig().phrase_loss)
    ap.add_argument("--mlp-hidden", type=int, default=ScanConfig().mlp_hidden,
                    help="residual MLP width of the pretrained projection (0: linear only)")
    ap.add_argument("--margin", type=float, default=ScanConfig().margin)
    ap.add_argument("--seed", type=int, default=ScanConfig().seed, help="training seed")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    rows, frag_rows, out = [], [], []
    only = [tuple(p.split(":")) for p in a.only.split(",")] if a.only else None
    for coarse in ((False,) if only else (False, True)):
        items, frags, scenes = make_collection(a.scenes, k=a.k, dim=a.dim, coarse=coarse,
                                               splits=(0.8, 0.1, 0.1))
        ds = ScanDataset(items, min_phrase_count=1)
        test_frags = [f for f, s in zip(frags, scenes) if s.split == "test"]
        combos = only or [("pretrained", "i2t"), ("pretrained", "t2i"), ("phrase", "i2t"),
                          ("phrase", "t2i"), ("word", "i2t"), ("word", "t2i")]
        for enc, ca in (combos if not coarse else combos[:1]):
            cfg = ScanConfig(embed_size=a.embed_size, word_dim=300, text_encoder=enc,
                             cross_attn=ca, num_epochs=a.epochs, batch_size=a.batch_size,
                             lr=a.lr, lr_update=max(1, a.epochs * 2 // 3),
                             hardest_after=a.hardest_after, lambda_softmax=a.lambda_softmax,
                             phrase_loss=a.phrase_loss, mlp_hidden=a.mlp_hidden,
                             margin=a.margin, seed=a.seed)
            with tempfile.TemporaryDirectory() as d:
                t0 = time.perf_counter()
                res = train(ds, cfg, out_dir=d, device="cpu")
                wall = time.perf_counter() - t0
            label = f"{'coarse k=1' if coarse else f'k={a.k}'} {ca} {cfg.agg} {enc}"
            if a.hardest_after:
                label += f" warm-up {a.hardest_after}"
            if a.phrase_loss:
                label += f" +phrase loss {a.phrase_loss:g}"
            if a.lambda_softmax != ScanConfig().lambda_softmax:
                label += f" λ={a.lambda_softmax:g}"
            m, *reranked = metrics_rows(*artwork_scores(res.model, ds.vocab, ds.split("test")),
                                        label, a.rerank)
            m.extra = {"s_per_epoch": sum(h["seconds"] for h in res.history) / len(res.history),
                       "train_wall_s": wall}
            rows += [m, *reranked]
            if not coarse:
                f, *f_reranked = metrics_rows(*fragment_scores(res.model, ds.vocab, test_frags),
                                              label, a.rerank)
                frag_rows += [f, *f_reranked]
                out.append({"artwork": m.to_dict(), "fragment": f.to_dict()})
            else:
                out.append({"artwork": m.to_dict()})
            print(label, f"{m.extra['s_per_epoch']:.2f} s/epoch", flush=True)
    n_test = rows[0].n_images
    print(f"\nchance R@1 (artwork level) = {100 / n_test:.1f}% (1/{n_test})")
    print(format_table(rows, "Artwork level (test split)"))
    print()
    print(format_table(frag_rows, "Fragment level, ground-truth boxes vs distinct phrases"))
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(out, fh, indent=2)


if __name__ == "__main__":
    main()
