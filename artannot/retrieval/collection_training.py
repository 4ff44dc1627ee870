"""SCAN training and evaluation data of a collection folder (catalog + feature store +
ground-truth VOC boxes), and training on it for the GUI's "train on this collection"."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np

from artannot.core.errors import ArtannotError
from artannot.retrieval.data import ArtworkItem, ScanDataset, dataset_from_stores
from artannot.retrieval.judgements import judgement_items
from artannot.retrieval.model_files import SCAN_DIR, resolve_init, single_store

ShouldStop = Callable[[], bool]


def collection_dataset(root: Path, *, features: Path | None = None, coarse: bool = False,
                       min_phrase_count: int = 4, vocab: Any = None,
                       use_judgements: bool = False, text_unit: str = "artwork",
                       sentences: bool = False, maximal: bool = False) -> ScanDataset:
    """SCAN dataset of a collection folder (catalog + feature store), optionally with the
    curators' accepted suggestions as extra one-region training items."""
    from artannot.core.catalog import Catalog
    from artannot.vision.feature_store import FeatureStore
    from artannot.vision.global_features import global_stores

    with Catalog.open(Path(root)) as cat:
        store_dir = features or single_store(cat.data_dir)
        if vocab is None:  # the vocabulary `artannot phrases` wrote, at this threshold
            from artannot.text.vocab import TextVocab

            vocab = TextVocab.from_collection(cat.data_dir, min_phrase_count=min_phrase_count)
        whole_dirs = global_stores(cat.data_dir)
        with (FeatureStore(store_dir, readonly=True) as store,
              FeatureStore(whole_dirs[0], readonly=True) if whole_dirs else nullcontext() as wholes):
            ds = dataset_from_stores(cat, store, coarse=coarse, vocab=vocab,
                                     min_phrase_count=min_phrase_count, text_unit=text_unit,
                                     sentences=sentences, maximal=maximal, wholes=wholes)
            # region features stay in the store's shards (RegionRef), read batch by batch
            if use_judgements and not coarse:
                extra = [ArtworkItem(it.id, np.array(it.features), it.phrases, it.split, it.whole)
                         for it in judgement_items(cat, store)]  # a few rows: copied
                if extra:
                    without = ds.without_features
                    ds = ScanDataset(ds.items + extra, vocab, min_phrase_count=min_phrase_count)
                    ds.without_features = without
            return ds


def collection_fragments(root: Path, *, split: str = "test", features: Path | None = None,
                         device: str | None = None,
                         progress: Callable[[int, int], None] | None = None) -> list[Any]:
    """Ground-truth boxes of ``split`` as fragment samples (thesis 4.4).

    Features of each annotated box are pooled by the very detector/backbone pipeline that
    made the collection's feature store (so they are comparable with what SCAN was trained
    on); the texts are the boxes' VOC phrases, normalised like extracted phrases.
    """
    from artannot.core.catalog import Catalog
    from artannot.core.voc import read_voc
    from artannot.retrieval.evaluate import FragmentSample
    from artannot.text.phrases import normalise_label
    from artannot.vision.feature_store import FeatureStore
    from artannot.vision.pipeline import pipeline_for_store
    from artannot.vision.runner import load_model_image

    samples: list[FragmentSample] = []
    with Catalog.open(Path(root)) as cat:
        store_dir = features or single_store(cat.data_dir)
        with FeatureStore(store_dir, readonly=True) as store:
            meta = store.meta
        splits = cat.splits()
        todo = [a for a in cat.artworks() if splits.get(a.id) == split and a.annotation_path is not None]
        if not todo:
            return samples
        extractor = pipeline_for_store(meta, device=device).extractor
        for i, artwork in enumerate(todo):
            try:
                ann = read_voc(artwork.annotation_path)
            except ArtannotError:
                continue  # listed by `artannot info`; nothing to evaluate here
            regions = [r for r in ann.regions if r.phrase.strip()]
            if regions:
                feats = load_model_image(artwork.image_path).pool(
                    extractor, np.array([r.box.to_edges() for r in regions]))
                samples.append(FragmentSample(artwork.id, feats, [normalise_label(r.phrase) for r in regions]))
            if progress is not None:
                progress(i + 1, len(todo))
    return samples


def train_collection(root: Path, data_dir: Path, *, config: Any = None,
                     progress: Callable[[Any], None] | None = None,
                     should_stop: ShouldStop | None = None, use_judgements: bool = False,
                     register_as: str | None = None, init: Path | str | None = "general") -> Any:
    """Train SCAN on a collection into ``<data_dir>/scan/`` and register ``best.pt``.

    Defaults suit the GUI's “train on this collection”: fine-tune the bundled general model
    (``init="general"``; from scratch with the pretrained phrase encoder when it is missing
    or the collection's regions come from another backbone), every phrase counts. Returns the
    :class:`~artannot.retrieval.train.TrainResult`.
    """
    from artannot.retrieval.config import ScanConfig
    from artannot.retrieval.train import train

    cfg = config or ScanConfig(min_phrase_count=1, num_epochs=10, batch_size=64)
    ds = collection_dataset(root, min_phrase_count=cfg.min_phrase_count,
                            use_judgements=use_judgements)
    # Only the pretrained text encoder can start from another collection's model.
    init_path = (resolve_init(init, ds.feature_dim, strict=False)
                 if cfg.text_encoder == "pretrained" else None)
    out = Path(data_dir) / SCAN_DIR
    res = train(ds, cfg, out_dir=out, progress=progress, should_stop=should_stop, resume=True,
                data_dir=Path(data_dir), init=init_path)
    if register_as and res.best_path is not None:
        from artannot.models import ModelManager

        ModelManager().register(res.best_path, register_as, role="scan",
                                architecture=f"scan-{cfg.cross_attn}-{cfg.agg}-{cfg.text_encoder}",
                                provenance=f"trained in artannot on {Path(root).resolve()}")
    return res
