"""Training loop: per-epoch checkpoints (resumable), validation rsum, best checkpoint kept.

Deterministic given the config seed: the shuffle order of epoch e depends only on (seed, e),
so a run interrupted after epoch e and resumed matches an uninterrupted run on the CPU.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from artannot.retrieval.checkpoint import (
    CheckpointError,
    attach_phrase_vectors,
    build_model,
    load_checkpoint,
    read_weights,
    save_checkpoint,
)
from artannot.retrieval.config import ScanConfig
from artannot.retrieval.data import ArtworkItem, ScanDataError, ScanDataset
from artannot.retrieval.encoders import TextBatch, uses_phrase_vectors
from artannot.retrieval.evaluate import (
    RetrievalMetrics,
    add_global_term,
    evaluate_items,
    metrics_from_scores,
    scan_scores,
)
from artannot.retrieval.loss import contrastive_loss, phrase_region_loss
from artannot.retrieval.scan import ScanModel
from artannot.vision.device import select_device

LAST = "last.pt"
BEST = "best.pt"


@dataclass
class TrainProgress:
    """What a progress callback receives: after every batch, and at the end of each epoch."""

    epoch: int  # 1-based
    num_epochs: int
    batch: int
    num_batches: int
    loss: float
    lr: float
    val: RetrievalMetrics | None = None  # set at the end of an epoch
    epoch_seconds: float | None = None


@dataclass
class TrainResult:
    model: ScanModel
    epochs_done: int
    best_rsum: float
    best_path: Path | None
    last_path: Path | None
    interrupted: bool
    history: list[dict[str, Any]] = field(default_factory=list)


def lr_at(config: ScanConfig, epoch: int) -> float:
    """Step decay x0.1 every ``lr_update`` epochs (epoch is 0-based)."""
    return config.lr * (0.1 ** (epoch // config.lr_update)) if config.lr_update > 0 else config.lr


def _epoch_order(n: int, seed: int, epoch: int) -> list[int]:
    g = torch.Generator().manual_seed(seed * 100_003 + epoch)
    return torch.randperm(n, generator=g).tolist()


# Options that shape the network or how it scores: a fine-tuned model takes them from its
# initial checkpoint (its weights were learned for exactly that score).
ARCHITECTURE_FIELDS = ("embed_size", "word_dim", "text_encoder", "text_model", "phrase_dim",
                       "mlp_hidden", "num_layers", "bidirectional", "cross_attn", "agg",
                       "lambda_softmax", "lambda_lse", "raw_feature_norm", "global_encoder",
                       "global_dim", "global_weight", "global_text")


def init_from(config: ScanConfig, init: Path | str, feature_dim: int) -> tuple[ScanConfig, dict]:
    """The config and weights to fine-tune from ``init`` (e.g. the bundled general model).

    Only the pretrained text encoder is vocabulary-free, so only it can move to a new
    collection's phrases; the region features must come from the same backbone (dimension).
    """
    ck = load_checkpoint(init)
    if not ck.model.uses_phrase_vectors:
        raise CheckpointError("only models with the pretrained text encoder can be fine-tuned "
                              "on another collection (their phrases need no vocabulary ids)",
                              Path(init))
    if ck.model.feature_dim != feature_dim:
        raise CheckpointError(
            f"the initial model was trained on {ck.model.feature_dim}-d region features, this "
            f"collection's store has {feature_dim}-d ones: detect with the same backbone",
            Path(init))
    arch = {k: getattr(ck.config, k) for k in ARCHITECTURE_FIELDS}
    return config.replace(**arch), ck.model.state_dict()


def with_global_term(config: ScanConfig, dataset: ScanDataset) -> ScanConfig:
    """A new model gets the whole-image term when its data has the vectors (and its text
    side the frozen phrase vectors the term reads); otherwise SCAN alone."""
    if (config.global_dim or not config.global_encoder or not dataset.global_dim
            or not uses_phrase_vectors(config.text_encoder)):
        return config
    return config.replace(global_dim=dataset.global_dim)


def whole_sample(items: Sequence[ArtworkItem], seed: int, limit: int = 20_000) -> np.ndarray:
    """Whole-image vectors [n, global_dim] of at most ``limit`` distinct training images: enough
    for their mean and spread, and bounded memory at 500k artworks (7.7 GB as float32)."""
    first: dict[str, ArtworkItem] = {}
    for it in items:
        if it.whole is not None:
            first.setdefault(it.id, it)
    chosen = list(first.values())
    if len(chosen) > limit:
        pick = np.random.default_rng(seed).choice(len(chosen), limit, replace=False)
        chosen = [chosen[i] for i in sorted(pick)]
    return np.stack([np.asarray(it.whole, np.float32) for it in chosen])


def global_loss(model: ScanModel, wholes: tuple[torch.Tensor, torch.Tensor], text: TextBatch,
                same: torch.Tensor, *, margin: float, max_violation: bool,
                device: torch.device) -> torch.Tensor:
    """The hinge loss of the whole-image two-tower score, over the items that have a vector
    (one-region items made from a curator's judgements have none)."""
    vectors, have = wholes
    have = have.to(device)
    img = model.encode_global_images(vectors.to(device)[have])
    txt = model.encode_global_texts(text)[have]
    return contrastive_loss(img @ txt.T, margin=margin, max_violation=max_violation,
                            same=same.to(device)[have][:, have])


def _num_batches(n: int, batch_size: int) -> int:
    return (n + batch_size - 1) // batch_size


def _step(model: ScanModel, optimizer: torch.optim.Optimizer, loss: torch.Tensor,
          config: ScanConfig) -> None:
    optimizer.zero_grad()  # grads of parameters the loss does not reach stay None: not updated
    loss.backward()
    if config.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
    optimizer.step()


def _restart_towers(model: ScanModel, optimizer: torch.optim.Optimizer, best: Path) -> None:
    """Before the towers-only epochs: SCAN back to its best epoch, the towers afresh (fitted
    beside SCAN they overfit before SCAN's best epoch; alone, with their own warm-up of summed
    negatives, they reach more), their optimiser state dropped."""
    if best.is_file():
        model.load_state_dict(read_weights(best))
    model.reset_global_towers()
    for module in (model.global_img, model.global_txt):
        for p in module.parameters():  # type: ignore[union-attr]
            optimizer.state.pop(p, None)


def _scan_epoch(model: ScanModel, data: ScanDataset, items: Sequence[ArtworkItem],
                optimizer: torch.optim.Optimizer, config: ScanConfig, epoch: int, total: int,
                lr: float, dev: torch.device,
                progress: Callable[[TrainProgress], None] | None,
                should_stop: Callable[[], bool] | None) -> bool:
    """One epoch of SCAN (and the whole-image term beside it); True when stopped."""
    hardest = config.max_violation and epoch >= config.hardest_after
    nb = _num_batches(len(items), config.batch_size)
    order = _epoch_order(len(items), config.seed, epoch)
    for b, (feats, mask, text, same, keys, wholes) in enumerate(
            data.batches(items, config.batch_size, order)):
        if should_stop is not None and should_stop():
            return True
        if feats.shape[0] < 2:
            continue  # a triplet loss needs a negative
        feats, mask, text = feats.to(dev), mask.to(dev), text.to(dev)
        img, txt = model.encode_images(feats, mask), model.encode_texts(text)
        scores = model.similarity(img, mask, txt, text.mask)
        loss = contrastive_loss(scores, margin=config.margin, max_violation=hardest,
                                same=same.to(dev))
        if config.phrase_loss > 0:
            both = config.fragment_loss == "both"
            loss = loss + config.phrase_loss * phrase_region_loss(
                img, mask, txt, text.mask, keys.keys, margin=config.margin,
                compatible=keys.compatible if both else None, both_ways=both)
        if model.has_global and wholes is not None and int(wholes[1].sum()) >= 2:
            loss = loss + global_loss(model, wholes, text, same, margin=config.margin,
                                      max_violation=hardest, device=dev)
        _step(model, optimizer, loss, config)
        if progress is not None:
            progress(TrainProgress(epoch + 1, total, b + 1, nb, loss.item(), lr))
    return False


def _towers_epoch(model: ScanModel, data: ScanDataset, items: Sequence[ArtworkItem],
                  optimizer: torch.optim.Optimizer, config: ScanConfig, epoch: int, total: int,
                  lr: float, dev: torch.device,
                  progress: Callable[[TrainProgress], None] | None,
                  should_stop: Callable[[], bool] | None) -> bool:
    """One epoch of the whole-image term alone (no region is read); True when stopped."""
    hardest = config.max_violation and epoch - config.num_epochs >= config.hardest_after
    nb = _num_batches(len(items), config.batch_size)
    order = _epoch_order(len(items), config.seed, epoch)
    for b, (text, same, wholes) in enumerate(data.text_batches(items, config.batch_size, order)):
        if should_stop is not None and should_stop():
            return True
        if wholes is None or int(wholes[1].sum()) < 2:
            continue
        loss = global_loss(model, wholes, text.to(dev), same, margin=config.margin,
                           max_violation=hardest, device=dev)
        _step(model, optimizer, loss, config)
        if progress is not None:
            progress(TrainProgress(epoch + 1, total, b + 1, nb, loss.item(), lr))
    return False


def train(dataset: ScanDataset, config: ScanConfig, *, out_dir: Path | str,
          progress: Callable[[TrainProgress], None] | None = None,
          should_stop: Callable[[], bool] | None = None, resume: bool = True,
          device: torch.device | str | None = None, val_split: str = "val",
          data_dir: Path | None = None, init: Path | str | None = None,
          phrase_progress: Callable[[int, int], None] | None = None) -> TrainResult:
    """Train SCAN on ``dataset``'s train split, validating on ``val_split`` every epoch.

    ``should_stop`` is polled between batches; an interrupted epoch is discarded and the run
    resumes from the last completed epoch (``out_dir/last.pt``) when called again.
    ``init`` fine-tunes from a checkpoint (see :func:`init_from`) instead of from scratch;
    ``data_dir`` is where the collection keeps its cache of frozen phrase vectors.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dev = device if isinstance(device, torch.device) else select_device(device)
    train_items = dataset.split("train")
    val_items = dataset.split(val_split)
    if len(train_items) < 2:
        raise ScanDataError("need at least two training artworks")

    start_epoch, best_rsum, history, opt_state = 0, float("-inf"), [], None
    last_path, best_path = out / LAST, out / BEST
    if resume and last_path.is_file():
        ck = load_checkpoint(last_path, data_dir=data_dir)
        if ck.config.to_dict() != config.to_dict():
            # Resume trusts the stored config; a changed number of epochs is allowed.
            config = ck.config.replace(num_epochs=config.num_epochs)
        model = ck.model
        start_epoch, best_rsum, history, opt_state = (ck.epoch, ck.best_rsum, ck.history,
                                                      ck.optimizer_state)
        model.config = config
        vocab = ck.vocab
        if ck.rng_state is not None:
            torch.set_rng_state(ck.rng_state)
    else:
        vocab = dataset.vocab
        init_state = None
        if init is not None:
            config, init_state = init_from(config, init, dataset.feature_dim)
            # The initial model's towers learned from thousands of images: a fine-tune keeps
            # them rather than refitting them afresh on what may be a few dozen artworks.
            config = config.replace(global_epochs=0)
        else:
            config = with_global_term(config, dataset)
        model = build_model(config, vocab, dataset.feature_dim)
        if init_state is not None:
            model.load_state_dict(init_state)
        elif model.has_global:
            model.set_global_stats(torch.from_numpy(whole_sample(train_items, config.seed)))
    if model.uses_phrase_vectors:
        if vocab.vectors is None:
            attach_phrase_vectors(vocab, config, data_dir=data_dir)
        # Every phrase of the data is embedded once, up front (and cached with the collection),
        # so the epochs never run the transformer.
        vocab.vectors.ensure((p for it in dataset.items for p in it.phrases),
                             progress=phrase_progress)
        vocab.vectors.ensure(vocab.phrase_list())
        vocab.vectors.save()
    model.to(dev)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    if opt_state is not None:
        optimizer.load_state_dict(opt_state)

    # The vocabulary of the model wins (resumed runs keep their ids).
    data = dataset if vocab is dataset.vocab else ScanDataset(dataset.items, vocab)
    total = config.num_epochs + (config.global_epochs if model.has_global else 0)
    interrupted = False
    scan_val: tuple[np.ndarray, list[list[int]]] | None = None
    for epoch in range(start_epoch, total):
        towers_only = epoch >= config.num_epochs
        lr = config.lr if towers_only else lr_at(config, epoch)
        for group in optimizer.param_groups:
            group["lr"] = lr
        if towers_only and epoch == config.num_epochs:
            _restart_towers(model, optimizer, best_path)
        model.train()
        t0 = time.perf_counter()
        run_epoch = _towers_epoch if towers_only else _scan_epoch
        interrupted = run_epoch(model, data, train_items, optimizer, config, epoch, total, lr,
                                dev, progress, should_stop)
        if interrupted:
            break
        secs = time.perf_counter() - t0
        val = None
        if len(val_items) >= 2 and towers_only:
            # SCAN's part is frozen now: its validation scores are computed once.
            scan_val = scan_val or scan_scores(model, vocab, val_items, device=dev)
            val = metrics_from_scores(
                add_global_term(scan_val[0], model, vocab, val_items, device=dev),
                scan_val[1], "val")
        elif len(val_items) >= 2:
            val = evaluate_items(model, vocab, val_items, device=dev, label="val")
        rsum = val.rsum if val is not None else -float(epoch)
        history.append({"epoch": epoch + 1, "seconds": secs, "lr": lr,
                        "stage": "whole-image towers" if towers_only else "scan",
                        "val": val.to_dict() if val is not None else None})
        improved = rsum > best_rsum
        if improved:
            best_rsum = rsum
            save_checkpoint(best_path, model, vocab, epoch=epoch + 1, best_rsum=best_rsum,
                            history=history)
        save_checkpoint(last_path, model, vocab, epoch=epoch + 1, best_rsum=best_rsum,
                        history=history, optimizer=optimizer)
        if progress is not None:
            nb = _num_batches(len(train_items), config.batch_size)
            progress(TrainProgress(epoch + 1, total, nb, nb, float("nan"), lr, val, secs))
        if should_stop is not None and should_stop():
            interrupted = epoch + 1 < total
            break
    done = len(history)
    return TrainResult(model, done, best_rsum, best_path if best_path.is_file() else None,
                       last_path if last_path.is_file() else None, interrupted, history)
