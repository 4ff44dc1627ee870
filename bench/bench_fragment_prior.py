"""Does fragment search find the right artworks? Phrase -> fragments across a collection,
scored by the region alone or with the artwork's whole-image term added, on Flickr8k.

Flickr8k has no boxes, so this measures the *artwork* level of fragment search: a phrase of
an image's captions ("a black dog") should bring up fragments of that image (or of any image
whose captions use the phrase) near the top. The whole-image term adds the same amount to
every fragment of one artwork, so it never changes which box of an artwork comes first; it
only reorders artworks. The product's own ``CollectionSearch`` (faiss shortlist, exact
re-scoring) over the images of one split, never trained on; val shows how the weight
matters, test reports the model's own weight (``global_weight``). Needs the collection of ``bench/train_general.py``:

    .venv/bin/python bench/bench_fragment_prior.py /tmp/f8k
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from artannot.core.catalog import data_dir_for
from artannot.retrieval.checkpoint import load_checkpoint
from artannot.retrieval.collection_training import collection_dataset
from artannot.retrieval.evaluate import group_texts
from artannot.retrieval.suggest import CollectionSearch, Suggester

WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)


class ItemWholes:
    """The whole-image vectors of dataset items, as the store ``CollectionSearch`` reads."""

    def __init__(self, images) -> None:
        self.by_id = {im.id: im for im in images if im.whole is not None}

    def versions(self) -> dict[str, str]:
        return dict.fromkeys(self.by_id, "1")

    def get(self, artwork_id: str):
        return SimpleNamespace(whole_image_feature=self.by_id[artwork_id].whole)


def split_search(ck, root: Path, split: str) -> tuple[CollectionSearch, list[str], list[set[str]]]:
    """The product's fragment search over the images of ``split`` (with the whole-image term
    computed), its distinct caption phrases, and for each the images whose captions use it."""
    ds = collection_dataset(root, text_unit="field", vocab=ck.vocab, maximal=True)
    items = ds.split(split)
    images, _ = group_texts(items)
    truth: dict[str, set[str]] = {}
    for it in items:
        for p in it.phrases:
            truth.setdefault(p, set()).add(it.id)
    cs = CollectionSearch.build(Suggester(ck.model, ck.vocab, "cpu"), images)
    cs.update_prior(ItemWholes(images), "items")
    phrases = sorted(truth)
    return cs, phrases, [truth[p] for p in phrases]


def recalls(cs: CollectionSearch, phrases: list[str], truth: list[set[str]], weight: float,
            ks=(1, 5, 10)) -> dict[int, float]:
    """Artwork-level R@K of fragment search: an artwork's rank is that of its first fragment."""
    cs.prior_weight = weight
    hits = {k: 0 for k in ks}
    for phrase, correct in zip(phrases, truth):
        ranked = list(dict.fromkeys(h.artwork_id for h in cs.search(phrase, 400)))
        for k in ks:
            hits[k] += bool(correct & set(ranked[:k]))
    return {k: 100.0 * v / len(phrases) for k, v in hits.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("collection", type=Path)
    ap.add_argument("--model", type=Path, default=Path("models/scan_general_flickr8k.pt"))
    args = ap.parse_args()
    root = args.collection.resolve()
    ck = load_checkpoint(args.model, data_dir=data_dir_for(root))
    if not ck.model.has_global:
        print("the model has no whole-image term", file=sys.stderr)
        return 1
    shipped = float(ck.model.config.global_weight)
    t0 = time.perf_counter()
    val = split_search(ck, root, "val")
    by_w = {w: recalls(*val, w) for w in WEIGHTS}
    print("val R@1/5/10 by weight:", {w: tuple(round(v, 1) for v in r.values()) for w, r in by_w.items()})
    cs, phrases, truth = split_search(ck, root, "test")
    n = len(cs.artworks())
    print(f"test: {len(phrases)} distinct caption phrases, {n} images, {len(cs.keys)} fragments "
          f"(chance R@1 {100 * np.mean([len(t) for t in truth]) / n:.2f} %)")
    searches = time.perf_counter()
    for label, w in (("fragments alone", 0.0), (f"with the whole-image term (w={shipped:g}, shipped)", shipped),
                     ("whole-image term dominating (w=100)", 100.0)):
        r = recalls(cs, phrases, truth, w)
        print(f"  {label}: R@1/5/10 {r[1]:.1f} / {r[5]:.1f} / {r[10]:.1f}")
    per_query = (time.perf_counter() - searches) / (3 * len(phrases))
    print(f"({time.perf_counter() - t0:.0f} s; {1000 * per_query:.1f} ms a search, top 400)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
