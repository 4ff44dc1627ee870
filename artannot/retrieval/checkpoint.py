"""SCAN checkpoint files: everything needed to serve suggestions, plus training state to resume.

A checkpoint holds only tensors and plain Python values, so it loads with
``torch.load(weights_only=True)``: opening a checkpoint someone sent never runs code.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from artannot.core.errors import ArtannotError
from artannot.core.safe_io import atomic_write
from artannot.retrieval.config import ScanConfig
from artannot.retrieval.encoders import uses_phrase_vectors
from artannot.retrieval.scan import ScanModel
from artannot.text.vocab import TextVocab

FORMAT = "artannot-scan/1"
log = logging.getLogger(__name__)


class CheckpointError(ArtannotError):
    """A SCAN checkpoint is missing, of another format, or does not fit its model."""

    code = "E612"


@dataclass
class Checkpoint:
    """A loaded checkpoint: the ready model and what training needs to continue."""

    model: ScanModel
    vocab: TextVocab
    config: ScanConfig
    epoch: int = 0  # epochs completed
    best_rsum: float = float("-inf")
    history: list[dict[str, Any]] = field(default_factory=list)
    optimizer_state: dict[str, Any] | None = None
    rng_state: torch.Tensor | None = None


def build_model(config: ScanConfig, vocab: TextVocab, feature_dim: int) -> ScanModel:
    """A fresh model sized for ``vocab`` and ``feature_dim`` (seeded by ``config.seed``)."""
    torch.manual_seed(config.seed)
    return ScanModel(config, feature_dim=feature_dim, num_phrases=len(vocab.phrases),
                     num_words=len(vocab.words))


def attach_phrase_vectors(vocab: TextVocab, config: ScanConfig, *, data_dir: Path | None = None,
                          stored: tuple[list[str], np.ndarray] | None = None) -> None:
    """Give a pretrained-encoder model's vocabulary its frozen phrase vectors.

    Vectors come from the collection's cache (``data_dir``), else are computed by the text
    model on demand; ``stored`` ones (what a checkpoint carries) are always usable, so known
    phrases still score when the text model is missing (unseen phrases then cannot).
    """
    from artannot.core.errors import ModelError
    from artannot.text.phrase_vectors import PhraseVectors, collection_phrase_vectors

    if not uses_phrase_vectors(config.text_encoder):
        vocab.vectors = None
        return
    try:
        pv = collection_phrase_vectors(data_dir, config.text_model)
    except ModelError as exc:
        log.warning("text model %s unavailable (%s); only stored phrase vectors are used",
                    config.text_model, exc)
        pv = PhraseVectors(config.text_model, config.phrase_dim, None)
    if pv.dim != config.phrase_dim:
        raise CheckpointError(f"text model {config.text_model!r} gives {pv.dim}-d vectors; "
                              f"the model expects {config.phrase_dim}")
    if stored is not None:
        pv.add(stored[0], stored[1], dirty=False)
    vocab.vectors = pv


def save_checkpoint(path: Path | str, model: ScanModel, vocab: TextVocab, *, epoch: int = 0,
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
    if vocab.vectors is not None:
        # The vocabulary's frozen vectors travel with the model: known phrases score without
        # loading the text model at all.
        names = vocab.phrase_list()
        state["phrase_vectors"] = torch.from_numpy(
            vocab.vectors.lookup(names).astype(np.float16))
    buf = io.BytesIO()
    torch.save(state, buf)
    path = Path(path)
    atomic_write(path, buf.getvalue(), backup=False)
    return path


def _read_state(path: Path | str, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """A checkpoint file's contents (tensors and plain values only), or a clear error."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError("checkpoint not found", path)
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"cannot read checkpoint: {exc}", path) from exc
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"not an {FORMAT} checkpoint", path)
    return state


def read_weights(path: Path | str) -> dict[str, torch.Tensor]:
    """A checkpoint's model weights alone (to restore an earlier epoch into a live model)."""
    return _read_state(path)["model"]


def read_config(path: Path | str) -> ScanConfig:
    """The configuration of a checkpoint, without building its model."""
    return ScanConfig.from_dict(_read_state(path)["config"])


def load_checkpoint(path: Path | str, *, map_location: str | torch.device = "cpu",
                    data_dir: Path | None = None) -> Checkpoint:
    """Read a checkpoint and rebuild its model (in eval mode); ``data_dir``: the collection
    whose phrase-vector cache a pretrained-encoder model should use."""
    path = Path(path)
    state = _read_state(path, map_location)
    config = ScanConfig.from_dict(state["config"])
    vocab = TextVocab.from_json(state["vocab"])
    model = build_model(config, vocab, int(state["feature_dim"]))
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as exc:
        raise CheckpointError(f"weights do not fit the model: {exc}", path) from exc
    model.eval()
    if model.uses_phrase_vectors:
        pv = state.get("phrase_vectors")
        stored = (vocab.phrase_list(), pv.float().numpy()) if pv is not None else None
        attach_phrase_vectors(vocab, config, data_dir=data_dir, stored=stored)
    return Checkpoint(model, vocab, config, int(state["epoch"]), float(state["best_rsum"]),
                      list(state["history"]), state.get("optimizer"), state.get("rng_state"))


def export_checkpoint(src: Path | str, dst: Path | str, *, provenance: str = "",
                      half: bool = True, config_changes: dict[str, Any] | None = None) -> Path:
    """A checkpoint to ship: weights (float16 with ``half``), config, vocabulary and its
    phrase vectors; no optimizer or RNG state. Loads like any checkpoint (weights are cast
    back to float32 on load). ``config_changes``: settings chosen after training (e.g. the
    whole-image term's weight, picked on validation)."""
    state = _read_state(src)
    if config_changes:
        state["config"] = ScanConfig.from_dict({**state["config"], **config_changes}).to_dict()
    weights = state["model"]
    if half:
        weights = {k: v.half() if v.is_floating_point() else v for k, v in weights.items()}
    out = {k: state[k] for k in ("format", "config", "vocab", "feature_dim", "epoch",
                                 "best_rsum", "history") if k in state}
    out.update(model=weights, optimizer=None, rng_state=None, provenance=provenance)
    if "phrase_vectors" in state:
        out["phrase_vectors"] = state["phrase_vectors"].half()
    buf = io.BytesIO()
    torch.save(out, buf)
    atomic_write(Path(dst), buf.getvalue(), backup=False)
    return Path(dst)
