"""SCAN checkpoint files: everything needed to serve suggestions, plus training state to resume.

A checkpoint holds only tensors and plain Python values, so it loads with
``torch.load(weights_only=True)``: opening a checkpoint someone sent never runs code.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from artannot.core.errors import ArtannotError
from artannot.core.safe_io import atomic_write
from artannot.retrieval.config import ScanConfig
from artannot.retrieval.scan import ScanModel
from artannot.retrieval.vocab import ScanVocab

FORMAT = "artannot-scan/1"


class CheckpointError(ArtannotError):
    """A SCAN checkpoint is missing, of another format, or does not fit its model."""

    code = "E602"


@dataclass
class Checkpoint:
    """A loaded checkpoint: the ready model and what training needs to continue."""

    model: ScanModel
    vocab: ScanVocab
    config: ScanConfig
    epoch: int = 0  # epochs completed
    best_rsum: float = float("-inf")
    history: list[dict[str, Any]] = field(default_factory=list)
    optimizer_state: dict[str, Any] | None = None
    rng_state: torch.Tensor | None = None


def build_model(config: ScanConfig, vocab: ScanVocab, feature_dim: int) -> ScanModel:
    """A fresh model sized for ``vocab`` and ``feature_dim`` (seeded by ``config.seed``)."""
    torch.manual_seed(config.seed)
    return ScanModel(config, feature_dim=feature_dim, num_phrases=len(vocab.phrases),
                     num_words=len(vocab.words))


def save_checkpoint(path: Path | str, model: ScanModel, vocab: ScanVocab, *, epoch: int = 0,
                    best_rsum: float = float("-inf"), history: list[dict[str, Any]] | None = None,
                    optimizer: torch.optim.Optimizer | None = None) -> Path:
    """Write atomically (a crash never leaves half a checkpoint)."""
    state = {
        "format": FORMAT,
        "config": model.config.to_dict(),
        "vocab": vocab.to_json(),
        "feature_dim": model.feature_dim,
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "epoch": epoch,
        "best_rsum": best_rsum,
        "history": history or [],
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "rng_state": torch.get_rng_state(),
    }
    buf = io.BytesIO()
    torch.save(state, buf)
    path = Path(path)
    atomic_write(path, buf.getvalue(), backup=False)
    return path


def load_checkpoint(path: Path | str, *, map_location: str | torch.device = "cpu") -> Checkpoint:
    """Read a checkpoint and rebuild its model (in eval mode)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError("checkpoint not found", path)
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"cannot read checkpoint: {exc}", path) from exc
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"not an {FORMAT} checkpoint", path)
    config = ScanConfig.from_dict(state["config"])
    vocab = ScanVocab.from_json(state["vocab"])
    model = build_model(config, vocab, int(state["feature_dim"]))
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as exc:
        raise CheckpointError(f"weights do not fit the model: {exc}", path) from exc
    model.eval()
    return Checkpoint(model, vocab, config, int(state["epoch"]), float(state["best_rsum"]),
                      list(state["history"]), state.get("optimizer"), state.get("rng_state"))
