"""Frozen phrase vectors, each distinct phrase embedded once and kept (float16).

Training, evaluation and suggestions look phrases up here instead of re-running the
transformer: a collection's phrases are embedded the first time they are needed and stored
with the collection (``<data_dir>/phrase_vectors/<model>/``); a phrase a curator types is
embedded on demand (one forward pass, a few ms) and joins the table. The encoder itself is
loaded only when a phrase is missing, so a known vocabulary never pays its start-up.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from artannot.core.safe_io import atomic_write

VECTORS_DIR = "phrase_vectors"
_MATRIX = "vectors.npy"
_PHRASES = "phrases.json"

Embed = Callable[[Sequence[str]], np.ndarray]


class PhraseVectors:
    """Phrase -> unit vector [dim]; a lookup table that grows through ``embed`` on a miss."""

    def __init__(self, model: str, dim: int, embed: Embed | None = None, *,
                 directory: Path | None = None) -> None:
        self.model = model
        self.dim = dim
        self._embed = embed
        self.directory = Path(directory) if directory is not None else None
        self._index: dict[str, int] = {}
        self._chunks: list[np.ndarray] = []
        self._matrix = np.zeros((0, dim), np.float16)
        self._dirty = False
        self._lock = threading.RLock()
        if self.directory is not None:
            self._load_dir(self.directory)

    # -- persistence --------------------------------------------------------------------
    def _load_dir(self, d: Path) -> None:
        try:
            phrases = json.loads((d / _PHRASES).read_text(encoding="utf-8"))
            mat = np.load(d / _MATRIX, allow_pickle=False)
        except (OSError, ValueError):
            return  # a cache: missing or damaged means "embed again"
        if mat.ndim == 2 and mat.shape == (len(phrases), self.dim):
            self.add(phrases, mat, dirty=False)

    def save(self) -> None:
        """Write the table next to the collection (atomically) if it grew."""
        with self._lock:
            if self.directory is None or not self._dirty:
                return
            buf = io.BytesIO()
            np.save(buf, self.matrix(), allow_pickle=False)
            self.directory.mkdir(parents=True, exist_ok=True)
            atomic_write(self.directory / _MATRIX, buf.getvalue(), backup=False)
            atomic_write(self.directory / _PHRASES,
                         json.dumps(self.phrases(), ensure_ascii=False).encode("utf-8"),
                         backup=False)
            self._dirty = False

    # -- table --------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, phrase: object) -> bool:
        return phrase in self._index

    @property
    def can_embed(self) -> bool:
        """Whether phrases outside the table can be embedded (the text model is available)."""
        return self._embed is not None

    def phrases(self) -> list[str]:
        with self._lock:
            return list(self._index)

    def matrix(self) -> np.ndarray:
        """All vectors [N, dim] float16, in ``phrases()`` order."""
        with self._lock:
            if self._chunks:
                self._matrix = np.concatenate([self._matrix, *self._chunks])
                self._chunks = []
            return self._matrix

    def add(self, phrases: Sequence[str], vectors: np.ndarray, *, dirty: bool = True) -> None:
        """Add known vectors (e.g. those a checkpoint carries); existing phrases are kept."""
        vectors = np.asarray(vectors)
        if vectors.shape != (len(phrases), self.dim):
            raise ValueError(f"expected vectors of shape {(len(phrases), self.dim)}, "
                             f"got {vectors.shape}")
        with self._lock:
            keep = [i for i, p in enumerate(phrases) if p not in self._index]
            seen: set[str] = set()
            keep = [i for i in keep if not (phrases[i] in seen or seen.add(phrases[i]))]
            if not keep:
                return
            base = len(self._index)
            for j, i in enumerate(keep):
                self._index[phrases[i]] = base + j
            self._chunks.append(vectors[keep].astype(np.float16))
            self._dirty |= dirty

    def ensure(self, phrases: Iterable[str], batch: int = 4096,
               progress: Callable[[int, int], None] | None = None) -> int:
        """Embed every phrase not in the table yet; returns how many were embedded."""
        missing = [p for p in dict.fromkeys(phrases) if p not in self._index]
        if not missing:
            return 0
        if self._embed is None:
            from artannot.core.errors import ModelError

            raise ModelError(
                f"the text model {self.model!r} is unavailable, so {len(missing)} phrase(s) "
                f"such as {missing[0]!r} cannot be embedded; see `artannot models list` and "
                "`artannot models verify`")
        for s in range(0, len(missing), batch):
            part = missing[s:s + batch]
            self.add(part, self._embed(part))
            if progress is not None:
                progress(min(s + batch, len(missing)), len(missing))
        return len(missing)

    def lookup(self, phrases: Sequence[str]) -> np.ndarray:
        """Vectors [len(phrases), dim] float32, embedding the missing ones first."""
        self.ensure(phrases)
        with self._lock:
            rows = np.fromiter((self._index[p] for p in phrases), np.int64, len(phrases))
            if not len(rows):
                return np.zeros((0, self.dim), np.float32)
            # Vectors added since the last fold (phrases a curator typed) sit in small chunks:
            # read them from there, folding into the big matrix only once they add up to an
            # eighth of it, so an unseen phrase costs O(its chunk), not a copy of the table.
            n0 = len(self._matrix)
            tail_rows = sum(len(c) for c in self._chunks)
            if tail_rows > max(1024, n0 // 8):
                self.matrix()
                n0, tail_rows = len(self._matrix), 0
            out = np.empty((len(rows), self.dim), np.float32)
            head = rows < n0
            out[head] = self._matrix[rows[head]]
            if tail_rows and not head.all():
                tail = np.concatenate(self._chunks)
                out[~head] = tail[rows[~head] - n0]
            return out


_SHARED: dict[tuple[str, str], PhraseVectors] = {}
_SHARED_LOCK = threading.Lock()


def collection_phrase_vectors(data_dir: Path | None, model: str = "all_minilm_l6_v2", *,
                              manager: object | None = None) -> PhraseVectors:
    """The collection's phrase-vector table for ``model``; the encoder loads on first miss.

    One table per collection folder and model in a process: the GUI's background warm-up and
    the suggester then fill and read the same table.
    """
    from artannot.text.sentence_encoder import load_sentence_encoder

    key = (str(Path(data_dir).resolve()), model) if data_dir is not None else None
    if key is not None and manager is None:
        with _SHARED_LOCK:  # every checkpoint load asks: no model-manager I/O when known
            shared = _SHARED.get(key)
            if shared is not None:
                return shared
    dim = _model_dim(model, manager)

    def embed(texts: Sequence[str]) -> np.ndarray:
        return load_sentence_encoder(model, manager=manager).embed(texts)

    directory = Path(data_dir) / VECTORS_DIR / model if data_dir is not None else None
    table = PhraseVectors(model, dim, embed, directory=directory)
    if key is not None and manager is None:
        with _SHARED_LOCK:
            table = _SHARED.setdefault(key, table)
    return table


def _model_dim(model: str, manager: object | None) -> int:
    """Vector size from the model's config.json, without importing transformers."""
    from artannot.core.errors import ModelError
    from artannot.models import ModelManager

    mgr = manager if manager is not None else ModelManager()
    folder = mgr.path_for(model)  # type: ignore[attr-defined]
    try:
        cfg = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
        return int(cfg.get("hidden_size") or cfg["text_config"]["projection_dim"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"text model {model!r} has no usable config.json: {exc}", folder) from exc
