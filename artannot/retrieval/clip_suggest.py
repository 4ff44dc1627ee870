"""Zero-shot suggestions with CLIP: no training on the collection, any phrase scorable.

:class:`ClipSuggester` answers the questions :class:`~artannot.retrieval.suggest.Suggester`
answers with SCAN, from an image and VOC boxes instead of stored region features:

- ``phrases_for_boxes(image, boxes, candidates, top_k)``: the best candidate phrases per box,
- ``regions_for_phrase(image, boxes, phrase)``: the boxes ranked for one phrase,
- ``phrases_for_region(embedding, candidates=, top_k=)``: the same from a CLIP image
  embedding, e.g. a feature stored by ``artannot detect --backbone <clip model>``.

A score is the cosine of the crop's CLIP image embedding and the phrase's CLIP text
embedding (both unit vectors), in [-1, 1]; CLIP's cosines sit in a narrow band (roughly 0.1
to 0.4 for ViT-B/32), so compare them within a list, not across models. Crops of one call
are embedded in batches; text embeddings are cached per phrase for the suggester's life.

The model comes from the caller (:func:`artannot.vision.clip.load_clip` reads the folder the
model manager checked); this module never touches model files.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from artannot.core.geometry import Box
from artannot.retrieval.suggest import PhraseSuggestion, RegionSuggestion

# CLIP learnt from captions, not from bare noun phrases: "a photo of a dog." rather than "dog".
# Wrapping a phrase in a caption-like template is the CLIP paper's prompt engineering (+1.3
# points zero-shot ImageNet accuracy for this very template, more with ensembles), and it
# keeps one-word phrases from landing near unrelated short texts. "a photo of" still suits
# artworks: museum images *are* photographs of paintings, prints and objects. ``prompt=None``
# scores the bare phrase.
DEFAULT_PROMPT = "a photo of {}."
CACHE_LIMIT = 200_000  # phrases whose text embedding is kept (2 KB each at 512-d)

BoxLike = Box | Sequence[float]  # a Box, or VOC xmin, ymin, xmax, ymax
ImageLike = Any  # np.ndarray [H, W, 3] uint8 RGB, a PIL image, or an image path


class ClipEmbedder(Protocol):
    """What the suggester needs of a CLIP model (:class:`artannot.vision.clip.ClipModel`)."""

    name: str
    dim: int
    logit_scale: float

    def embed_boxes(self, pixels: np.ndarray, edges: np.ndarray) -> np.ndarray: ...

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray: ...


def as_pixels(image: ImageLike) -> np.ndarray:
    """RGB uint8 [H, W, 3] of an array, a PIL image or a path (not EXIF-rotated: boxes refer
    to the stored pixel grid, as the VOC files do)."""
    if isinstance(image, np.ndarray):
        arr = image
    elif isinstance(image, (str, Path)):
        from artannot.vision.runner import load_rgb

        arr = load_rgb(Path(image))
    else:  # a PIL image
        arr = np.asarray(image.convert("RGB"))
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"expected an RGB image [H, W, 3], got shape {arr.shape}")
    return np.ascontiguousarray(arr, dtype=np.uint8)


def voc_to_edges(boxes: Sequence[BoxLike]) -> np.ndarray:
    """[n, 4] 0-based edges of VOC boxes (``Box.to_edges``: the one conversion)."""
    rows = [(b if isinstance(b, Box) else Box(*map(float, b))).to_edges() for b in boxes]
    return np.asarray(rows, np.float32).reshape(-1, 4)


class ClipSuggester:
    """Zero-shot phrase <-> region scores from a CLIP model. Thread-safe."""

    def __init__(self, clip: ClipEmbedder, *, prompt: str | None = DEFAULT_PROMPT) -> None:
        if prompt is not None and "{}" not in prompt:
            raise ValueError("prompt needs a {} where the phrase goes")
        self.clip = clip
        self.prompt = prompt
        # Phrases offered when a call gives no candidates (CLIP has no vocabulary of its own).
        self.candidates: list[str] | None = None
        self._cache: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_manager(cls, name: str | None = None, *, manager: Any = None, device: str = "cpu",
                     prompt: str | None = DEFAULT_PROMPT) -> ClipSuggester:
        """The named installed CLIP model (default: the first one), every file hash-checked."""
        from artannot.vision.clip import load_clip

        return cls(load_clip(name, manager=manager, device=device), prompt=prompt)

    @property
    def name(self) -> str:
        return self.clip.name

    def scorable(self, phrase: str) -> bool:
        """CLIP's byte-level tokenizer reads any text: every non-empty phrase."""
        return bool(phrase.strip())

    def text_for(self, phrase: str) -> str:
        return self.prompt.format(phrase) if self.prompt is not None else phrase

    # -- embeddings ----------------------------------------------------------------------
    def embed_phrases(self, phrases: Sequence[str]) -> np.ndarray:
        """Unit text embeddings [n, D]; each phrase goes through the model once."""
        if not len(phrases):
            return np.zeros((0, self.clip.dim), np.float32)
        with self._lock:
            found = {p: self._cache[p] for p in dict.fromkeys(phrases) if p in self._cache}
        todo = [p for p in dict.fromkeys(phrases) if p not in found]
        if todo:
            vecs = self.clip.embed_texts([self.text_for(p) for p in todo])
            found.update(zip(todo, vecs))
            with self._lock:
                if len(self._cache) + len(todo) > CACHE_LIMIT:
                    self._cache.clear()
                self._cache.update(zip(todo, vecs))
        return np.stack([found[p] for p in phrases]).astype(np.float32)

    def embed_regions(self, image: ImageLike, boxes: Sequence[BoxLike]) -> np.ndarray:
        """Unit image embeddings [n, D] of the VOC ``boxes`` cropped from ``image``."""
        if not len(boxes):
            return np.zeros((0, self.clip.dim), np.float32)
        return self.clip.embed_boxes(as_pixels(image), voc_to_edges(boxes))

    def scores(self, region_embeddings: np.ndarray, phrases: Sequence[str]) -> np.ndarray:
        """Cosine scores [regions, phrases]."""
        return np.asarray(region_embeddings, np.float32) @ self.embed_phrases(phrases).T

    # -- suggestions ---------------------------------------------------------------------
    def _names(self, candidates: Sequence[str] | None) -> list[str]:
        pool = candidates if candidates is not None else (self.candidates or [])
        return [p for p in dict.fromkeys(pool) if self.scorable(p)]

    def _ranked(self, names: list[str], scores: np.ndarray, top_k: int) -> list[PhraseSuggestion]:
        top = np.argsort(-scores, kind="stable")[:top_k]
        return [PhraseSuggestion(names[i], float(scores[i]), True) for i in top]

    def phrases_for_region(self, embedding: np.ndarray, *, candidates: Sequence[str] | None = None,
                           top_k: int = 10) -> list[PhraseSuggestion]:
        """Top-k ``candidates`` (default :attr:`candidates`) for one CLIP image embedding [D]."""
        names = self._names(candidates)
        if not names:
            return []
        e = np.asarray(embedding, np.float32).reshape(-1)
        e = e / max(float(np.linalg.norm(e)), 1e-12)  # stored features are float16
        return self._ranked(names, self.scores(e[None, :], names)[0], top_k)

    def phrases_for_boxes(self, image: ImageLike, boxes: Sequence[BoxLike],
                          candidates: Sequence[str] | None = None, top_k: int = 10
                          ) -> list[list[PhraseSuggestion]]:
        """Per VOC box of ``image``, the top-k ``candidates``, best first (ties: input order)."""
        names = self._names(candidates)
        if not names or not len(boxes):
            return [[] for _ in boxes]
        s = self.scores(self.embed_regions(image, boxes), names)
        return [self._ranked(names, row, top_k) for row in s]

    def regions_for_phrase(self, image: ImageLike, boxes: Sequence[BoxLike], phrase: str, *,
                           top_k: int | None = None) -> list[RegionSuggestion]:
        """The VOC ``boxes`` of ``image`` ranked for ``phrase`` (``region`` indexes ``boxes``);
        ``attention`` is CLIP's softmax over the boxes (see :meth:`attention`)."""
        if not len(boxes) or not self.scorable(phrase):
            return []
        s = self.scores(self.embed_regions(image, boxes), [phrase])[:, 0]
        attn = self.attention_from_scores(s)
        top = np.argsort(-s, kind="stable")[:top_k]
        return [RegionSuggestion(int(i), float(s[i]), float(attn[i])) for i in top]

    def attention(self, phrase: str, region_embeddings: np.ndarray) -> np.ndarray:
        """Weights [k] over regions (sum to 1) for the heat map: softmax of the cosines scaled
        by the model's learnt temperature, i.e. CLIP's own "which of these crops" probability."""
        return self.attention_from_scores(self.scores(region_embeddings, [phrase])[:, 0])

    def attention_from_scores(self, scores: np.ndarray) -> np.ndarray:
        z = self.clip.logit_scale * np.asarray(scores, np.float64)
        if not z.size:
            return np.zeros(0, np.float32)
        e = np.exp(z - z.max())
        return (e / e.sum()).astype(np.float32)
