"""The suggestion service: Qt-free glue between a collection and its models, for the GUI.

One :class:`SuggestionService` per open collection. It finds the collection's feature store
(``<data_dir>/features/<model_key>/``) and SCAN checkpoint (``<data_dir>/scan/best.pt``),
loads them lazily, and answers the questions the GUI asks:

- phrases for a box (stored region, or a curator-drawn box whose RoI feature is computed
  with the backbone that made the store; the image's feature map is kept per artwork),
- regions (with attention, for a heat map) for a phrase,
- fragments across the collection for a phrase or for a fragment (two-stage faiss + exact
  re-score, the index cached in ``<data_dir>/search/``),
- optionally, CLIP zero-shot phrases for a box when a CLIP model is installed
  (:meth:`SuggestionService.clip_phrases_for_box`, :mod:`artannot.retrieval.clip_suggest`).

Every method may run on a worker thread; one lock serialises model and store access.

Its neighbours have one job each: where models and caches are (:mod:`.model_files`),
judgements (:mod:`.judgements`), a collection's training data and training
(:mod:`.collection_training`). This module stays longer than the others (~600 lines) because
it is one object: the loaded models, their caches and the lock that guards them together.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from cachetools import LRUCache

from artannot.core.errors import ArtannotError, ModelError
from artannot.core.geometry import Box
from artannot.core.safe_io import atomic_write
from artannot.retrieval.data import ArtworkItem
from artannot.retrieval.judgements import stored_index
from artannot.retrieval.model_files import (
    GENERAL_MODEL,
    SCAN_DIR,
    SEARCH_DIR,
    feature_stores,
    find_checkpoint,
    general_checkpoint,
)
from artannot.retrieval.model_files import file_key as _file_key
from artannot.retrieval.suggest import SHORTLIST, CollectionSearch, Suggester, heatmap

# Collection phrases CLIP ranks (most frequent first): its text tower embeds each once per
# session, ~2000 phrases take seconds on a CPU (SCAN's candidate list may be 10x longer).
CLIP_CANDIDATES = 2000

Progress = Callable[[int, int], None]
ShouldStop = Callable[[], bool]


class ServiceError(ArtannotError):
    """Suggestions are unavailable (no features, no model) or a request cannot be answered."""

    code = "E610"


# -- small value objects -------------------------------------------------------------------
@dataclass(frozen=True)
class RankedPhrase:
    phrase: str  # normalised phrase (what the model scores)
    label: str  # what the box gets: the surface text of a metadata phrase, else the phrase
    score: float
    rank: int  # 1-based position in the list shown (artwork phrases first)
    origin: str  # "artwork" (this artwork's metadata) or "collection" (model vocabulary)
    in_vocab: bool


@dataclass(frozen=True)
class RegionHit:
    region: int  # index into the artwork's stored regions
    box: Box
    score: float
    attention: float
    rank: int


@dataclass
class PhraseRegions:
    """Regions of one artwork ranked for a phrase, with attention over all of them."""

    artwork_id: str
    phrase: str
    hits: list[RegionHit]
    boxes: list[Box]
    attention: np.ndarray  # [k], sums to 1

    def heat(self, width: int, height: int) -> np.ndarray:
        """Per-pixel max attention of the covering regions, scaled to [0, 1]."""
        if not self.boxes:
            return np.zeros((height, width), np.float32)
        w = self.attention / max(float(self.attention.max()), 1e-12)
        return heatmap([b.to_edges() for b in self.boxes], w, width, height)


@dataclass(frozen=True)
class Fragment:
    artwork_id: str
    region: int
    box: Box
    score: float
    rank: int


@dataclass(frozen=True)
class ModelInfo:
    detector: str
    backbone: str
    device: str
    scan: str | None  # checkpoint path, None when no model is trained yet
    store: str | None
    details: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        scan = Path(self.scan).parent.name + "/" + Path(self.scan).name if self.scan else "none"
        return f"Detector: {self.detector} · Backbone: {self.backbone} ({self.device}) · SCAN: {scan}"


class _MemoBackbone(torch.nn.Module):
    """Remembers the last feature map: boxes drawn one after another on the same artwork
    pay for the backbone once (the extractor has no feature-map API of its own)."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self._key: torch.Tensor | None = None
        self._out: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._key is not None and self._key.shape == x.shape and torch.equal(self._key, x):
            return self._out  # type: ignore[return-value]
        out = self.inner(x)
        self._key, self._out = x, out
        return out


def ranked_layout(surface: dict[str, str], own: Iterable[Any], others: Iterable[Any], top_k: int
                  ) -> list[RankedPhrase]:
    """The panel's list for a box, whatever model ranked it: this artwork's metadata phrases
    (``surface``: norm -> text as written) in ``own``'s order, then the best ``top_k`` of
    ``others`` that are not among them."""
    out = [RankedPhrase(p.phrase, surface.get(p.phrase, p.phrase), p.score, i + 1, "artwork",
                        getattr(p, "in_vocab", True)) for i, p in enumerate(own)]
    rest = [p for p in others if p.phrase not in surface][:top_k]
    out += [RankedPhrase(p.phrase, p.phrase, p.score, len(out) + i + 1, "collection", getattr(p, "in_vocab", True))
            for i, p in enumerate(rest)]
    return out


class SuggestionService:
    """See the module docstring. Cheap to create; models load on first use."""

    def __init__(self, root: Path, data_dir: Path, *, checkpoint: Path | None = None,
                 store_dir: Path | None = None, device: str | None = None,
                 clip: str | None = None) -> None:
        self.root = Path(root)
        self.data_dir = Path(data_dir)
        stores = feature_stores(self.data_dir)
        self.store_dir = Path(store_dir) if store_dir else (stores[0] if stores else None)
        self.note = ""  # why the model in use is not the first choice (shown in the GUI)
        self.checkpoint = self._pick_checkpoint(checkpoint)
        self.device = device
        self._lock = threading.RLock()
        self._suggester: Suggester | None = None
        self._store: Any = None
        self._pipeline: Any = None
        self._search: CollectionSearch | None = None
        # artwork id -> ModelImage: the artwork on screen and the one before it (A/D back and forth)
        self._images: LRUCache[str, Any] = LRUCache(maxsize=2)
        self._text_model: tuple[str, str | None] | None = None
        # CLIP zero-shot: None = the first installed role "clip" model, "" = off, else a name.
        self._clip_choice = clip
        self._clip: Any = None  # a retrieval.clip_suggest.ClipSuggester, loaded on first use
        self._clip_candidates: list[str] | None = None

    # -- state -------------------------------------------------------------------------
    def _pick_checkpoint(self, explicit: Path | None) -> Path | None:
        """An explicit checkpoint, else the collection's own model, else the bundled one."""
        if explicit:
            return Path(explicit)
        own = find_checkpoint(self.data_dir)
        if own is not None:
            self.note = ""
            return own
        path, self.note = general_checkpoint()
        return path

    @property
    def is_general(self) -> bool:
        """True when suggestions come from the bundled general model (no training here)."""
        return self.checkpoint is not None and self.checkpoint.parent != self.data_dir / SCAN_DIR

    @property
    def available(self) -> bool:
        return self.checkpoint is not None and self.checkpoint.is_file() and self.store_dir is not None

    def why_unavailable(self) -> str:
        if self.store_dir is None:
            return "No region features yet: run “Detect regions” on the collection first."
        if self.checkpoint is None or not self.checkpoint.is_file():
            why = "No SCAN model trained on this collection yet"
            return f"{why}, and {self.note}." if self.note else f"{why}."
        return ""

    def store_meta(self) -> dict[str, Any]:
        if self.store_dir is None:
            return {}
        with self._lock:
            return dict(self.store().meta)

    def info(self) -> ModelInfo:
        """Which models are in use (without loading any of them)."""
        meta = self.store_meta()
        det, ext = meta.get("detector") or {}, meta.get("backbone") or {}
        details: dict[str, Any] = {"store_meta": meta}
        if self.checkpoint is not None and self.checkpoint.is_file():
            details["checkpoint_sha256"] = hashlib.sha256(self.checkpoint.read_bytes()).hexdigest()
        from artannot.vision.device import select_device

        try:
            device = str(select_device(self.device))
        except ModelError as exc:  # a configured device that is not here: say so, don't fail
            device = f"{self.device} (unavailable)"
            details["device_error"] = str(exc)
        return ModelInfo(det.get("weights") or det.get("detector") or "none",
                         ext.get("weights") or ext.get("backbone") or "none", device,
                         str(self.checkpoint) if self.checkpoint and self.checkpoint.is_file() else None,
                         str(self.store_dir) if self.store_dir else None, details)

    def model_name(self) -> str:
        """Short model tag stored with judgements."""
        if self.checkpoint is None:
            return "none"
        if self.is_general and self.checkpoint.name.startswith(GENERAL_MODEL):
            return f"general/{self.checkpoint.name}"
        return f"{self.checkpoint.parent.name}/{self.checkpoint.name}"

    def reload(self, checkpoint: Path | None = None) -> None:
        """Pick up a newly trained model (and new features) on the next request."""
        with self._lock:
            self._save_vectors()
            self.checkpoint = self._pick_checkpoint(checkpoint)
            if self.store_dir is None:
                stores = feature_stores(self.data_dir)
                self.store_dir = stores[0] if stores else None
            self._suggester = None
            self._search = None
            self._clip = self._clip_candidates = None
            if self._store is not None:
                self._store.close()
                self._store = None

    def wholes_changed(self) -> None:
        """New whole-image vectors: the next search brings its artwork term up to date
        (the model and the regions stay loaded)."""
        with self._lock:
            self._search = None

    def close(self) -> None:
        with self._lock:
            if self._suggester is not None:
                self._save_vectors()
            if self._store is not None:
                self._store.close()
                self._store = None

    # -- lazy models -------------------------------------------------------------------
    def suggester(self) -> Suggester:
        with self._lock:
            if self._suggester is None:
                if not self.available:
                    raise ServiceError(self.why_unavailable())
                # CUDA when present (select_device), as for detection; --device overrides.
                sug = Suggester.from_checkpoint(self.checkpoint, device=self.device,
                                                data_dir=self.data_dir)
                if sug.model.uses_phrase_vectors:
                    from artannot.text.vocab import TextVocab

                    own = TextVocab.from_collection(self.data_dir, min_phrase_count=1)
                    if own is not None:
                        sug.candidates = own.candidates()
                dim = self.store().dim
                if dim and sug.model.feature_dim != dim:
                    raise ServiceError(
                        f"the model {self.model_name()} expects {sug.model.feature_dim}-d region "
                        f"features but this collection's regions have {dim}-d ones (another "
                        "backbone): detect regions with the default backbone or train a model "
                        "on this collection")
                self._suggester = sug
            return self._suggester

    def _save_vectors(self) -> None:
        """Phrases embedded on demand are kept with the collection (a cache: errors pass)."""
        try:
            if self._suggester is not None:
                self._suggester.save_phrase_vectors()
        except OSError:
            pass

    def store(self):  # -> FeatureStore
        from artannot.vision.feature_store import FeatureStore

        with self._lock:
            if self._store is None:
                if self.store_dir is None:
                    raise ServiceError(self.why_unavailable())
                self._store = FeatureStore(self.store_dir, readonly=True)
            return self._store

    def pipeline(self):  # -> vision.pipeline.Pipeline
        from artannot.vision.pipeline import pipeline_for_store

        with self._lock:
            if self._pipeline is None:
                pipe = pipeline_for_store(self.store_meta(), device=self.device)
                pipe.extractor.backbone = _MemoBackbone(pipe.extractor.backbone)
                self._pipeline = pipe
            return self._pipeline

    def text_model(self) -> str | None:
        """The frozen text model of the checkpoint in use (None: no model, or a thesis encoder)."""
        if self.checkpoint is None or not self.checkpoint.is_file():
            return None
        key = _file_key(self.checkpoint)
        if self._text_model is None or self._text_model[0] != key:
            from artannot.retrieval.checkpoint import read_config
            from artannot.retrieval.encoders import uses_phrase_vectors

            cfg = read_config(self.checkpoint)
            name = cfg.text_model if uses_phrase_vectors(cfg.text_encoder) else None
            self._text_model = (key, name)
        return self._text_model[1]

    def warm_up_text(self, should_stop: ShouldStop | None = None) -> int:
        """Embed (once, cached with the collection) every phrase of the collection the text
        model has not seen: needs no regions, so it runs as soon as phrases are extracted and
        the first suggestion never waits for the transformer. Returns how many were new."""
        model = self.text_model()
        if model is None:
            return 0
        from artannot.core.catalog import Catalog
        from artannot.text.phrase_vectors import collection_phrase_vectors

        vectors = collection_phrase_vectors(self.data_dir, model)
        if not vectors.can_embed:
            return 0
        with Catalog.open(self.root, refresh=False) as cat:
            todo = [p for p in cat.phrase_counts() if p not in vectors]
        done = 0
        for s in range(0, len(todo), 512):  # a batch at a time: a click can come between
            if should_stop is not None and should_stop():
                break
            done += vectors.ensure(todo[s:s + 512])
        try:
            vectors.save()
        except OSError:
            pass  # a cache beside a read-only collection
        return done

    def warm_up(self, should_stop: ShouldStop | None = None) -> None:
        """Load the model and embed the vocabulary now, so the first click is fast; with a
        pretrained text encoder, also every phrase of the collection not yet cached (once)."""
        with self._lock:
            sug = self.suggester()
            sug.phrases_for_region(np.zeros(self.store().dim or 1, np.float32), top_k=1)
        self.warm_up_text(should_stop)
        try:  # the backbone for drawn boxes; suggestions for stored regions work without it
            self.pipeline()
        except ArtannotError:
            pass

    # -- features ----------------------------------------------------------------------
    def regions(self, artwork_id: str):  # -> RegionSet | None
        with self._lock:
            try:
                return self.store().get(artwork_id)
            except KeyError:
                return None

    def _image(self, artwork_id: str) -> Any:
        from artannot.vision.runner import load_model_image

        im = self._images.get(artwork_id)
        if im is None:
            im = self._images[artwork_id] = load_model_image(self.root / artwork_id)
        return im

    def region_feature(self, artwork_id: str, box: Box) -> np.ndarray:
        """Feature [d] of ``box``: the stored one when it is a stored region, else RoIAlign."""
        with self._lock:
            rs = self.regions(artwork_id)
            j = stored_index(rs, box) if rs is not None else None
            if j is not None:
                return np.asarray(rs.features[j], np.float32)
            return self._image(artwork_id).pool(self.pipeline().extractor, np.array([box.to_edges()]))[0]

    # -- suggestions -------------------------------------------------------------------
    def phrases_for_box(self, artwork_id: str, box: Box, artwork_phrases: Sequence[tuple[str, str]] = (),
                        *, top_k: int = 8) -> list[RankedPhrase]:
        """This artwork's metadata phrases ranked (``(norm, surface)`` pairs), then the best
        ``top_k`` phrases of the collection vocabulary that are not among them."""
        feat = self.region_feature(artwork_id, box)
        with self._lock:
            sug = self.suggester()
            surface = dict(artwork_phrases)
            own = sug.phrases_for_region(feat, candidates=list(surface), top_k=len(surface)) if surface else []
            return ranked_layout(surface, own, sug.phrases_for_region(feat, top_k=top_k + len(surface)), top_k)

    def best_phrases_for_regions(self, artwork_id: str, boxes: Sequence[Box],
                                 artwork_phrases: Sequence[tuple[str, str]] = ()
                                 ) -> list[RankedPhrase | None]:
        """The single best phrase of each box: ``phrases_for_box(...)[0]`` for all of them in
        one batch (one region embedding, one phrase embedding, one matrix product), so the
        canvas can name every detector proposal at the cost of one click's suggestions.

        Candidates are this artwork's metadata phrases (``(norm, surface)`` pairs) the model
        can score, else the suggester's collection candidates (its vocabulary). None for every box when suggestions are
        unavailable: proposals stay unnamed rather than failing.
        """
        boxes = list(boxes)
        if not self.available or not boxes:
            return [None] * len(boxes)
        with self._lock:
            sug = self.suggester()
            surface = dict(artwork_phrases)
            names = [p for p in surface if sug.scorable(p)]
            origin = "artwork" if names else "collection"
            if names:
                emb = sug.embed_phrases(names)
            else:  # the very candidates (and cached vectors) phrases_for_box ranks
                names, emb = sug._candidates(())
            if not names:
                return [None] * len(boxes)
            feats = np.stack([self.region_feature(artwork_id, b) for b in boxes])
            scores = sug.embed_regions(feats) @ emb.T  # [boxes, phrases]: one product
            best = scores.argmax(axis=1)  # first of equals, like the stable sort of phrases_for_box
            return [RankedPhrase(names[j], surface.get(names[j], names[j]), float(row[j]), 1, origin,
                                 names[j] in sug.vocab)
                    for row, j in zip(scores, best)]

    def regions_for_phrase(self, artwork_id: str, phrase: str, *, top_k: int = 5) -> PhraseRegions:
        with self._lock:
            rs = self.regions(artwork_id)
            if rs is None or not len(rs):
                raise ServiceError("no detected regions for this artwork yet: run “Detect regions”")
            sug = self.suggester()
            if not sug.scorable(phrase):
                raise ServiceError(f"the model knows no word of “{phrase}”")
            feats = np.asarray(rs.features, np.float32)
            boxes = rs.box_list()
            hits = sug.regions_for_phrase(phrase, feats, top_k=top_k)
            attn = sug.attention(phrase, feats)
            return PhraseRegions(artwork_id, phrase,
                                 [RegionHit(h.region, boxes[h.region], h.score, h.attention, i + 1)
                                  for i, h in enumerate(hits)], boxes, attn)

    def confidence(self, artwork_ids: Iterable[str], should_stop: ShouldStop | None = None
                   ) -> dict[str, float]:
        """Per artwork: mean over its regions of the best phrase score (low = unsure)."""
        out: dict[str, float] = {}
        with self._lock:
            sug = self.suggester()
            names = sug.vocab.phrase_list()
            pe = sug.embed_phrases(names)
        for aid in artwork_ids:
            if should_stop is not None and should_stop():
                break
            rs = self.regions(aid)
            if rs is None or not len(rs):
                continue
            with self._lock:
                re_ = sug.embed_regions(np.asarray(rs.features, np.float32))
            out[aid] = float((re_ @ pe.T).max(axis=1).mean())
        return out

    # -- CLIP zero-shot (optional) -------------------------------------------------------
    def clip_model_name(self) -> str | None:
        """The CLIP model whose zero-shot phrases can be shown (None: none installed or off)."""
        if self._clip_choice is not None:
            return self._clip_choice or None
        if self._clip is not None:
            return self._clip.name
        from artannot.models import ModelManager

        try:
            names = [s.name for s in ModelManager().installed("clip")]
        except ArtannotError:
            return None
        return names[0] if names else None

    def clip_suggester(self):  # -> retrieval.clip_suggest.ClipSuggester
        """The CLIP model, loaded (and every file hash-checked) on first use, on the service's
        device (CUDA when present, as SCAN). Loaded outside the service lock
        (``vision.clip.load_clip`` loads a model once per process)."""
        from artannot.retrieval.clip_suggest import ClipSuggester

        with self._lock:
            if self._clip is not None:
                return self._clip
        name = self.clip_model_name()
        if name is None:
            raise ServiceError("no CLIP model is installed (`artannot models import-dir`)")
        from artannot.vision.device import select_device

        sug = ClipSuggester.from_manager(name, device=str(select_device(self.device)))
        with self._lock:
            if self._clip is None:
                self._clip = sug
            return self._clip

    def _clip_collection_phrases(self) -> list[str]:
        from artannot.text.vocab import TextVocab

        with self._lock:
            if self._clip_candidates is None:
                own = TextVocab.from_collection(self.data_dir, min_phrase_count=1)
                self._clip_candidates = own.candidates(CLIP_CANDIDATES) if own is not None else []
            return self._clip_candidates

    def clip_phrases_for_box(self, artwork_id: str, box: Box,
                             artwork_phrases: Sequence[tuple[str, str]] = (), *, top_k: int = 8
                             ) -> list[RankedPhrase]:
        """CLIP's zero-shot ranking for a box, laid out like :meth:`phrases_for_box`: this
        artwork's metadata phrases first, then the best ``top_k`` of the collection's phrases
        (the most frequent ``CLIP_CANDIDATES`` that ``artannot phrases`` counted). The box is
        cropped from the image: no feature store or SCAN model is needed. The GUI names the
        model with :meth:`clip_model_name`. CLIP runs outside the service lock (it has its
        own), so SCAN suggestions are not held up by it."""
        sug = self.clip_suggester()
        with self._lock:
            im = self._image(artwork_id)
        scaled = Box.from_edges(*im.to_model(np.array(box.to_edges())).tolist())
        surface = dict(artwork_phrases)
        rest = [p for p in self._clip_collection_phrases() if p not in surface]
        emb = sug.embed_regions(im.pixels, [scaled])[0]
        return ranked_layout(surface, sug.phrases_for_region(emb, candidates=list(surface), top_k=len(surface)),
                             sug.phrases_for_region(emb, candidates=rest, top_k=top_k), top_k)

    def clip_warm_up(self, should_stop: ShouldStop | None = None) -> None:
        """Load the CLIP model and embed the collection's phrases now (a batch at a time, so
        a click can come between), so the first CLIP suggestion does not wait. No-op without
        a CLIP model."""
        if self.clip_model_name() is None:
            return
        sug = self.clip_suggester()
        todo = self._clip_collection_phrases()
        for s in range(0, len(todo), 256):
            if should_stop is not None and should_stop():
                break
            sug.embed_phrases(todo[s:s + 256])

    # -- collection search ---------------------------------------------------------------
    def _search_dir(self) -> Path:
        # keyed by model and store folder, not by the store's contents: a detection updates
        # the index (its artworks' fragments replaced) instead of making a new one
        key = hashlib.sha1(f"{_file_key(self.checkpoint)}|{self.store_dir}".encode()).hexdigest()[:16]
        return self.data_dir / SEARCH_DIR / key

    def search_index(self, progress: Progress | None = None, should_stop: ShouldStop | None = None
                     ) -> CollectionSearch:
        """The fragment index, brought up to date with the feature store.

        Loaded from its cache and updated for the artworks detected, re-detected or removed
        since (``state.json`` holds the store version each artwork was indexed at); built
        from scratch only when there is none, or when its layout must change (see
        ``FragmentIndex.needs_rebuild``).
        """
        with self._lock:
            if self._search is not None:
                return self._search
            sug = self.suggester()
            d = self._search_dir()
            store = self.store()
            versions = store.versions()
            if (d / "keys.npy").is_file():
                try:
                    cs = CollectionSearch.load(sug, d)
                    state = json.loads((d / "state.json").read_text())
                    moved = self._update_search(cs, state, versions, progress, should_stop)
                    if self._update_prior(cs, should_stop, progress) or moved:
                        cs.save_delta(d)
                    if moved:
                        atomic_write(d / "state.json", json.dumps(versions).encode(), backup=False)
                    if not cs.index.needs_rebuild():
                        self._search = cs
                        return cs
                except (ArtannotError, OSError, ValueError, KeyError):
                    pass  # a cache: rebuild
            # regions by reference: the build streams them into a memory-mapped file
            items = [ArtworkItem(aid, ref, []) for aid in sorted(versions)
                     if len(ref := store.region_ref(aid))]
            if not items:
                raise ServiceError("the feature store holds no regions")
            shutil.rmtree(self.data_dir / SEARCH_DIR, ignore_errors=True)  # older models' indexes
            tmp = d.with_name(d.name + ".building")
            try:
                cs = CollectionSearch.build(sug, items, directory=tmp, progress=progress,
                                            should_stop=should_stop)
            except ArtannotError as exc:
                shutil.rmtree(tmp, ignore_errors=True)
                raise ServiceError(exc.message) from exc
            self._update_prior(cs, should_stop, progress)
            cs.save(tmp)
            atomic_write(tmp / "state.json", json.dumps(versions).encode(), backup=False)
            os.replace(tmp, d)  # complete or absent: a killed build leaves only "*.building"
            self._search = CollectionSearch.load(sug, d)
            return self._search

    def _update_search(self, cs: CollectionSearch, state: dict[str, str], versions: dict[str, str],
                       progress: Progress | None, should_stop: ShouldStop | None) -> bool:
        """Replace the fragments of artworks whose regions changed; True when anything did."""
        gone = [a for a in state if versions.get(a) != state[a]]
        todo = [a for a in versions if state.get(a) != versions[a]]
        if not gone and not todo:
            return False
        cs.remove_artworks(gone)
        store = self.store()
        for i, aid in enumerate(todo):
            if should_stop is not None and should_stop():
                raise ServiceError("index update cancelled")
            rs = store.get(aid)
            cs.add_items([ArtworkItem(aid, np.asarray(rs.features), [])])
            if progress is not None:
                progress(i + 1, len(todo))
        return True

    def _update_prior(self, cs: CollectionSearch, should_stop: ShouldStop | None,
                      progress: Progress | None) -> bool:
        """The artworks' whole-image term of the search (``retrieval.artwork_prior``) from the
        collection's whole-image vectors, when the model has the term and they were computed
        (``artannot detect``, the GUI's collection-wide detection, Ctrl+R); True if it changed."""
        from artannot.vision.feature_store import FeatureStore
        from artannot.vision.global_features import global_stores

        cfg = cs.suggester.model.config
        if not cs.prior_weight:
            return False
        for folder in global_stores(self.data_dir, cfg.global_encoder):
            with FeatureStore(folder, readonly=True) as wholes:
                if wholes.dim == cfg.global_dim:
                    return cs.update_prior(wholes, folder.name, should_stop, progress)
        return False

    def _fragments(self, keys: Sequence[tuple[str, int]], scores: Sequence[float]) -> list[Fragment]:
        out = []
        for (aid, j), s in zip(keys, scores):
            rs = self.regions(aid)
            if rs is None or j >= len(rs):
                continue
            out.append(Fragment(aid, j, Box(*map(float, rs.boxes[j])), float(s), len(out) + 1))
        return out

    def search(self, phrase: str, *, top_k: int = 200, shortlist: int = SHORTLIST) -> list[Fragment]:
        """Fragments of the whole collection for ``phrase``, best first."""
        with self._lock:
            cs = self.search_index()
            if not cs.suggester.scorable(phrase):
                raise ServiceError(f"the model knows no word of “{phrase}”")
            hits = cs.search(phrase, top_k, shortlist=max(shortlist, top_k))
            return self._fragments([(h.artwork_id, h.region) for h in hits], [h.score for h in hits])

    def similar(self, artwork_id: str, box: Box, *, top_k: int = 200, shortlist: int = SHORTLIST
                ) -> list[Fragment]:
        """“More like this”: fragments nearest to this fragment's joint-space embedding."""
        feat = self.region_feature(artwork_id, box)
        with self._lock:
            cs = self.search_index()
            q = cs.suggester.embed_regions(feat[None, :])[0]
            s, ids = cs.index.search(q, top_k, shortlist=max(shortlist, top_k))
            keep = [(cs.keys[i], v) for v, i in zip(s[0], ids[0]) if i >= 0]
            return self._fragments([k for k, _ in keep], [v for _, v in keep])
