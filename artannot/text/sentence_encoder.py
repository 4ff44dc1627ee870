"""A frozen pretrained sentence encoder (all-MiniLM-L6-v2 by default) for phrases.

A curator's few thousand artworks cannot teach a model English; a sentence encoder trained
on a billion sentence pairs already knows that "lotus flower" and "water lily" are close.
SCAN only learns a projection from its vectors into the joint space (``retrieval/encoders``).

Loading goes through ``transformers`` from a local folder (``local_files_only``): the folder
comes from the model manager, which checks every file's sha256 first. Nothing is downloaded.
Pooling follows the sentence-transformers recipe of the model (mean over real tokens, then
unit length), so vectors equal what ``SentenceTransformer.encode`` gives.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from artannot.core.errors import ModelError

DEFAULT_TEXT_MODEL = "all_minilm_l6_v2"


class SentenceEncoder:
    """Texts -> unit vectors [N, dim] (float32). Thread-safe; CPU unless told otherwise."""

    def __init__(self, folder: Path | str, *, name: str = "", device: str = "cpu",
                 max_length: int = 64, batch_size: int = 128) -> None:
        import torch

        from artannot.models import offline_transformers

        transformers = offline_transformers()
        AutoModel, AutoTokenizer = transformers.AutoModel, transformers.AutoTokenizer  # noqa: N806

        folder = Path(folder)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
            self.model = AutoModel.from_pretrained(folder, local_files_only=True)
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"cannot load the text model in {folder}: {exc}; "
                             "check it with `artannot models verify`", folder) from exc
        self.model.eval().to(device)
        self.torch = torch
        self.name = name or folder.name
        self.device = device
        self.max_length = max_length
        self.batch_size = batch_size
        self.dim = int(self.model.config.hidden_size)
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of ``texts``; batches of similar length so padding costs little."""
        out = np.zeros((len(texts), self.dim), np.float32)
        if not texts:
            return out
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        torch = self.torch
        with self._lock, torch.inference_mode():
            for s in range(0, len(order), self.batch_size):
                idx = order[s:s + self.batch_size]
                enc = self.tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                                     max_length=self.max_length, return_tensors="pt")
                enc = {k: v.to(self.device) for k, v in enc.items()}
                hidden = self.model(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, dim=-1)
                out[idx] = pooled.float().cpu().numpy()
        return out


_LOADED: dict[tuple[str, str], SentenceEncoder] = {}
_LOAD_LOCK = threading.Lock()


def load_sentence_encoder(name: str = DEFAULT_TEXT_MODEL, *, manager: object | None = None,
                          device: str = "cpu") -> SentenceEncoder:
    """The named text model from the model manager (hash-checked), loaded once per process."""
    from artannot.models import ModelManager

    mgr = manager if manager is not None else ModelManager()
    folder = mgr.path_for(name)  # type: ignore[attr-defined]
    key = (str(folder), device)
    with _LOAD_LOCK:
        enc = _LOADED.get(key)
        if enc is None:
            enc = SentenceEncoder(folder, name=name, device=device)
            _LOADED[key] = enc
        return enc
