"""CLIP, when the archive has one: region crops and texts as unit vectors of one joint space.

A CLIP model comes in as a Hugging Face folder (``artannot models import-dir``; every file's
sha256 recorded). Three layers, as for the other models:

- :class:`ClipModel` embeds crops and texts; it is built from objects (a ``CLIPModel``, its
  tokenizer and image processor) and knows nothing of files;
- :func:`load_clip_folder` builds one from a folder (``local_files_only``, safetensors only,
  never a download) and :func:`load_clip` from a model manager name, which re-checks the hash
  of every file on each load (cached by size + mtime);
- :class:`ClipRegionExtractor` is the ``clip`` region backbone: the feature of a region is the
  CLIP image embedding of its crop, so ``artannot detect --backbone <clip model>`` fills a
  feature store with ``projection_dim``-d features SCAN can train on, and
  :mod:`artannot.retrieval.clip_suggest` can score them zero-shot against phrases.

A crop is padded to a square with the processor's mean colour before the processor's own
resize and centre crop, so the whole box is seen: CLIP's centre crop would otherwise cut the
ends off a tall figure or a long frieze (the padding is zero after normalisation).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from artannot.core.errors import ModelError
from artannot.vision.backbones import CLIP_BACKBONE, get_backbone_spec
from artannot.vision.device import use_half

BATCH = 32  # crops per forward pass


def crop_edges(pixels: np.ndarray, edges: np.ndarray) -> list[np.ndarray]:
    """Crops [h, w, 3] of 0-based edge boxes (``x0, y0, x1, y1``), clipped to the image and
    widened to whole pixels (at least one)."""
    h, w = pixels.shape[:2]
    out = []
    for x0, y0, x1, y1 in np.asarray(edges, np.float64).reshape(-1, 4):
        xs = min(max(int(np.floor(x0)), 0), w - 1)
        ys = min(max(int(np.floor(y0)), 0), h - 1)
        xe = max(min(int(np.ceil(x1)), w), xs + 1)
        ye = max(min(int(np.ceil(y1)), h), ys + 1)
        out.append(pixels[ys:ye, xs:xe])
    return out


def pad_square(crop: np.ndarray, fill: tuple[int, int, int]) -> np.ndarray:
    """``crop`` centred on a square canvas of ``fill`` (no resampling here)."""
    h, w = crop.shape[:2]
    if h == w:
        return np.ascontiguousarray(crop)
    side = max(h, w)
    canvas = np.empty((side, side, 3), np.uint8)
    canvas[:] = fill
    y, x = (side - h) // 2, (side - w) // 2
    canvas[y:y + h, x:x + w] = crop
    return canvas


def _pooled(out: Any) -> torch.Tensor:
    """``get_*_features`` returns a tensor (transformers 4) or an output whose
    ``pooler_output`` is the projected embedding (transformers 5)."""
    return out if isinstance(out, torch.Tensor) else out.pooler_output


class ClipImageEncoder(nn.Module):
    """``pixel_values`` [B, 3, S, S] -> unit image embeddings [B, projection_dim]."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        emb = _pooled(self.model.get_image_features(pixel_values=pixel_values)).float()
        return torch.nn.functional.normalize(emb, dim=-1)


class ClipModel:
    """Crops and texts -> unit vectors [N, projection_dim] (float32). Thread-safe."""

    def __init__(self, model: nn.Module, tokenizer: Any, processor: Any, *, name: str = "",
                 sha256: str | None = None, device: torch.device | str = "cpu",
                 batch_size: int = BATCH) -> None:
        self.device = torch.device(device)
        self.half = use_half(self.device)
        model = model.eval().to(self.device)
        self.model = model.half() if self.half else model
        self.tokenizer = tokenizer
        self.processor = processor
        self.name, self.sha256 = name, sha256
        self.batch_size = max(1, int(batch_size))
        cfg = model.config
        self.dim = int(cfg.projection_dim)
        self.max_length = int(cfg.text_config.max_position_embeddings)
        self.logit_scale = float(model.logit_scale.detach().float().exp().cpu())
        mean = getattr(processor, "image_mean", None) or (0.0, 0.0, 0.0)
        self.fill = tuple(int(round(255 * float(m))) for m in mean)
        self.image_encoder = ClipImageEncoder(self.model)
        self._lock = threading.Lock()

    # -- images ---------------------------------------------------------------------------
    def pixel_values(self, crops: Sequence[np.ndarray]) -> torch.Tensor:
        """The processor's input tensor for RGB uint8 crops, each padded to a square."""
        from PIL import Image

        ims = [Image.fromarray(pad_square(np.asarray(c, np.uint8), self.fill)) for c in crops]
        pv = self.processor(images=ims, return_tensors="pt")["pixel_values"]
        return pv.to(self.device, torch.float16 if self.half else torch.float32)

    def embed_crops(self, crops: Sequence[np.ndarray], encoder: nn.Module | None = None
                    ) -> np.ndarray:
        """Unit image embeddings of RGB uint8 crops, ``batch_size`` at a time. ``encoder``:
        the module mapping pixel values to embeddings (default :attr:`image_encoder`)."""
        out = np.zeros((len(crops), self.dim), np.float32)
        enc = encoder if encoder is not None else self.image_encoder
        with self._lock, torch.inference_mode():
            for s in range(0, len(crops), self.batch_size):
                pv = self.pixel_values(crops[s:s + self.batch_size])
                out[s:s + len(pv)] = enc(pv).float().cpu().numpy()
        return out

    def embed_boxes(self, pixels: np.ndarray, edges: np.ndarray) -> np.ndarray:
        """Unit image embeddings [n, D] of 0-based edge boxes on ``pixels`` [H, W, 3]."""
        return self.embed_crops(crop_edges(pixels, edges))

    # -- texts ----------------------------------------------------------------------------
    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Unit text embeddings; batches of similar length (padding is masked: a text's vector
        does not depend on its batch)."""
        out = np.zeros((len(texts), self.dim), np.float32)
        if not texts:
            return out
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with self._lock, torch.inference_mode():
            for s in range(0, len(order), 4 * self.batch_size):
                idx = order[s:s + 4 * self.batch_size]
                enc = self.tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                                     max_length=self.max_length, return_tensors="pt")
                emb = _pooled(self.model.get_text_features(
                    input_ids=enc["input_ids"].to(self.device),
                    attention_mask=enc["attention_mask"].to(self.device))).float()
                out[idx] = torch.nn.functional.normalize(emb, dim=-1).cpu().numpy()
        return out


def load_clip_folder(folder: Path | str, *, name: str = "", sha256: str | None = None,
                     device: torch.device | str = "cpu") -> ClipModel:
    """A :class:`ClipModel` from a Hugging Face CLIP folder: offline, safetensors only."""
    from artannot.models import offline_transformers

    transformers = offline_transformers()
    CLIPImageProcessor, CLIPModel, CLIPTokenizerFast = (  # noqa: N806
        transformers.CLIPImageProcessor, transformers.CLIPModel, transformers.CLIPTokenizerFast)

    folder = Path(folder)
    try:
        model = CLIPModel.from_pretrained(folder, local_files_only=True, use_safetensors=True)
        tokenizer = CLIPTokenizerFast.from_pretrained(folder, local_files_only=True)
        processor = CLIPImageProcessor.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"cannot load the CLIP model in {folder}: {exc}; check it with "
                         "`artannot models verify`", folder) from exc
    return ClipModel(model, tokenizer, processor, name=name or folder.name, sha256=sha256,
                     device=device)


_LOADED: dict[tuple[str, str, str], ClipModel] = {}
_LOAD_LOCK = threading.Lock()


def installed_clip_models(manager: Any) -> list[str]:
    """Names of the installed role "clip" models, in the manager's order."""
    return [s.name for s in manager.installed("clip")]


def load_clip(name: str | None = None, *, manager: Any = None,
              device: torch.device | str = "cpu") -> ClipModel:
    """The named CLIP model (default: the first installed one) from the model manager. Every
    file is hash-checked on each call; the weights are loaded once per process."""
    from artannot.models import ModelManager

    mgr = manager if manager is not None else ModelManager()
    if name is None:
        names = installed_clip_models(mgr)
        if not names:
            raise ModelError("no CLIP model is installed; import a Hugging Face CLIP folder with "
                             "`artannot models import-dir FOLDER`")
        name = names[0]
    role, _ = mgr.describe(name)
    if role != "clip":
        raise ModelError(f"model {name!r} is a {role}, not a CLIP model")
    folder = mgr.path_for(name)  # raises on a missing or changed file
    sha = mgr.sha256_for(name)
    key = (str(folder), sha, str(torch.device(device)))
    with _LOAD_LOCK:
        model = _LOADED.get(key)
        if model is None:
            model = load_clip_folder(folder, name=name, sha256=sha, device=device)
            _LOADED[key] = model
        return model


class ClipRegionExtractor:
    """The ``clip`` backbone: region feature = unit CLIP image embedding of the region's crop;
    the whole-image feature is that of the whole image. Same interface as
    :class:`~artannot.vision.features.RegionFeatureExtractor`.

    ``min_size``/``max_size`` do not change CLIP features (crops are taken at the decoded
    resolution and resized by the processor); they are kept in :meth:`identity` because the
    feature store's key and :func:`~artannot.vision.pipeline.pipeline_for_store` read them.
    """

    def __init__(self, clip: ClipModel, *, min_size: int = 600, max_size: int = 1000) -> None:
        self.clip = clip
        self.spec = get_backbone_spec(CLIP_BACKBONE)
        self.weights, self.sha256 = clip.name, clip.sha256
        self.device = clip.device
        self.min_size, self.max_size = min_size, max_size
        self.backbone: nn.Module = clip.image_encoder  # pixel values -> embeddings

    @property
    def dim(self) -> int:
        return self.clip.dim

    @property
    def name(self) -> str:
        return CLIP_BACKBONE

    def extract(self, images: Sequence[np.ndarray], boxes: Sequence[np.ndarray]
                ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per image ``(region_features [n, dim], whole_image_feature [dim])``, float32 unit
        vectors. All crops of the call go through the model together, ``batch_size`` at a
        time; a crop's feature does not depend on its batch (no padding across crops)."""
        crops: list[np.ndarray] = []
        spans = []
        for im, b in zip(images, boxes):
            edges = np.asarray(b, np.float32).reshape(-1, 4)
            start = len(crops)
            crops += crop_edges(im, edges)
            crops.append(im)  # the whole image
            spans.append((start, len(edges)))
        feats = self.clip.embed_crops(crops, self.backbone)
        return [(feats[s:s + n], feats[s + n]) for s, n in spans]

    def identity(self) -> dict[str, Any]:
        return {"backbone": CLIP_BACKBONE, "weights": self.weights, "sha256": self.sha256,
                "dim": self.dim, "params": {"min_size": self.min_size, "max_size": self.max_size,
                                            "pool": "clip_crop_pad_square"}}


def load_clip_extractor(name: str | None, *, manager: Any, device: torch.device | str = "cpu",
                        min_size: int = 600, max_size: int = 1000) -> ClipRegionExtractor:
    return ClipRegionExtractor(load_clip(name, manager=manager, device=device),
                               min_size=min_size, max_size=max_size)
