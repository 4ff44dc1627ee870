"""Suggestions for the GUI and ``artannot suggest``: phrases for a box, boxes for a phrase,
and phrase -> fragments across the whole collection (faiss shortlist, SCAN re-rank).

Everything works from a checkpoint alone (model + vocabulary + feature dimension).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from artannot.core.errors import ArtannotError
from artannot.retrieval.artwork_prior import ArtworkPrior, WholeStore
from artannot.retrieval.checkpoint import load_checkpoint
from artannot.retrieval.data import ArtworkItem, encode_texts
from artannot.retrieval.evaluate import embed_phrases, embed_regions
from artannot.retrieval.fragment_keys import FragmentKeys
from artannot.retrieval.index import FragmentIndex, dot_f16
from artannot.retrieval.scan import ScanModel
from artannot.text.vocab import UNK_ID as UNK
from artannot.text.vocab import TextVocab
from artannot.vision.device import select_device

EdgeBox = tuple[float, float, float, float]



# Candidates re-scored exactly after the faiss stage. With IVF-PQ codes, 2048 gave top-10
# agreement 1.0 with exhaustive scoring at 3.6M fragments (512: 0.85) for p95 15 ms
# (bench/bench_search.py, docs/benchmarks.md); on exact indexes it only costs a small re-rank.
SHORTLIST = 2048

@torch.no_grad()
def whole_prior_vectors(model: ScanModel, wholes: Sequence[np.ndarray | None]) -> np.ndarray:
    """Artworks' whole-image vectors through the model's image tower: unit vectors [N, D]
    (float32), zeros for an artwork without one. Fragment search adds ``w * (this @ phrase)``
    to every fragment of an artwork (:func:`phrase_prior_vectors`)."""
    D = model.config.embed_size
    out = np.zeros((len(wholes), D), np.float32)
    have = [i for i, w in enumerate(wholes) if w is not None]
    if have and model.has_global:
        device = next(model.parameters()).device
        x = torch.from_numpy(np.stack([np.asarray(wholes[i], np.float32) for i in have]))
        out[have] = model.encode_global_images(x.to(device)).cpu().numpy()
    return out


@torch.no_grad()
def phrase_prior_vectors(model: ScanModel, vocab: TextVocab, phrases: Sequence[str]) -> np.ndarray:
    """Phrases through the model's text tower of the whole-image term: unit vectors [P, D]."""
    device = next(model.parameters()).device
    tb = encode_texts(vocab, [[p] for p in phrases]).to(device)
    return model.encode_global_texts(tb).cpu().numpy()


@dataclass(frozen=True)
class PhraseSuggestion:
    phrase: str
    score: float
    in_vocab: bool  # False: scored from its words (word encoder) or as <unk> (phrase encoder)


@dataclass(frozen=True)
class RegionSuggestion:
    region: int  # index into the artwork's regions
    score: float
    attention: float  # t2i attention weight of the phrase on this region


@dataclass(frozen=True)
class FragmentHit:
    artwork_id: str
    region: int
    score: float


class Suggester:
    """Scores single regions against single phrases with a trained SCAN model."""

    def __init__(self, model: ScanModel, vocab: TextVocab,
                 device: torch.device | str | None = None) -> None:
        self.device = device if isinstance(device, torch.device) else select_device(device)
        self.model = model.to(self.device).eval()
        self.vocab = vocab
        # Phrases offered besides an artwork's own; default: the model's vocabulary. A model
        # with a pretrained text encoder can rank any phrase, so the service offers the
        # collection's own vocabulary instead (a museum's words, not the training data's).
        self.candidates: list[str] | None = None
        self._vocab_cache: tuple[list[str], torch.Tensor] | None = None

    @classmethod
    def from_checkpoint(cls, path: Path | str, device: torch.device | str | None = None,
                        *, data_dir: Path | None = None) -> Suggester:
        """``data_dir``: the collection whose phrase-vector cache a pretrained model uses."""
        ck = load_checkpoint(path, data_dir=data_dir)
        return cls(ck.model, ck.vocab, device)

    @property
    def composes_words(self) -> bool:
        """True when unseen phrases get a vector from their words."""
        return self.model.config.text_encoder == "word"

    def scorable(self, phrase: str) -> bool:
        """Whether the model can say anything about ``phrase``."""
        if not phrase.strip():
            return False
        vectors = self.vocab.vectors
        if vectors is not None:  # pretrained encoder: any phrase the text model can embed
            return phrase in vectors or vectors.can_embed
        if phrase in self.vocab:
            return True
        return self.composes_words and any(i != UNK for i in self.vocab.encode_words(phrase))

    def save_phrase_vectors(self) -> None:
        """Keep the phrases embedded on demand with the collection (no-op for other models)."""
        if self.vocab.vectors is not None:
            self.vocab.vectors.save()

    # -- embeddings ----------------------------------------------------------
    def embed_regions(self, features: np.ndarray) -> np.ndarray:
        """Region features [R, d] -> unit joint-space vectors [R, D] (float32)."""
        return embed_regions(self.model, features).cpu().numpy()

    def embed_phrases(self, phrases: Sequence[str]) -> np.ndarray:
        return embed_phrases(self.model, self.vocab, list(phrases)).cpu().numpy()

    def _candidates(self, extra: Sequence[str]) -> tuple[list[str], np.ndarray]:
        if self._vocab_cache is None:
            vp = [p for p in self.candidates if self.scorable(p)] if self.candidates is not None \
                else self.vocab.phrase_list()
            self._vocab_cache = (vp, embed_phrases(self.model, self.vocab, vp))
        vp, ve = self._vocab_cache
        known = set(vp)
        new = [p for p in dict.fromkeys(extra) if p not in known and self.scorable(p)]
        if not new:
            return vp, ve.cpu().numpy()
        ne = embed_phrases(self.model, self.vocab, new)
        return vp + new, torch.cat([ve, ne]).cpu().numpy()

    # -- suggestions ---------------------------------------------------------
    def phrases_for_region(self, feature: np.ndarray, *, extra_phrases: Sequence[str] = (),
                           candidates: Sequence[str] | None = None, top_k: int = 10
                           ) -> list[PhraseSuggestion]:
        """Top-k phrases for one region feature [d].

        Candidates: the vocabulary plus ``extra_phrases`` (this artwork's metadata phrases),
        or exactly ``candidates`` when given. Unscorable OOV phrases are left out.
        """
        if candidates is not None:
            names = [p for p in dict.fromkeys(candidates) if self.scorable(p)]
            emb = self.embed_phrases(names) if names else np.zeros((0, 1), np.float32)
        else:
            names, emb = self._candidates(extra_phrases)
        if not names:
            return []
        r = self.embed_regions(np.asarray(feature)[None, :])[0]
        scores = emb @ r
        top = np.argsort(-scores, kind="stable")[:top_k]
        return [PhraseSuggestion(names[i], float(scores[i]), names[i] in self.vocab) for i in top]

    def regions_for_phrase(self, phrase: str, features: np.ndarray, *, top_k: int = 5
                           ) -> list[RegionSuggestion]:
        """Best regions of one artwork (features [k, d]) for ``phrase``, with attention weights."""
        r = self.embed_regions(features)
        p = self.embed_phrases([phrase])
        scores = (r @ p[0])
        attn = self.attention(phrase, features, region_embeddings=r)
        top = np.argsort(-scores, kind="stable")[:top_k]
        return [RegionSuggestion(int(i), float(scores[i]), float(attn[i])) for i in top]

    def attention(self, phrase: str, features: np.ndarray, *,
                  region_embeddings: np.ndarray | None = None) -> np.ndarray:
        """Attention weights [k] of ``phrase`` over the regions (sum to 1): for the heat map."""
        r = region_embeddings if region_embeddings is not None else self.embed_regions(features)
        p = self.embed_phrases([phrase])
        with torch.no_grad():
            a = self.model.phrase_attention(torch.from_numpy(p), torch.from_numpy(r))
        return a[0].numpy()


def heatmap(boxes: Sequence[EdgeBox], weights: Sequence[float], width: int, height: int
            ) -> np.ndarray:
    """Per-pixel max attention of the boxes covering each pixel (0-based edge boxes), [H, W]."""
    out = np.zeros((height, width), dtype=np.float32)
    for (x0, y0, x1, y1), w in zip(boxes, weights):
        xs, ys = max(0, int(np.floor(x0))), max(0, int(np.floor(y0)))
        xe, ye = min(width, int(np.ceil(x1))), min(height, int(np.ceil(y1)))
        if xe > xs and ye > ys:
            np.maximum(out[ys:ye, xs:xe], w, out=out[ys:ye, xs:xe])
    return out


class CollectionSearch:
    """Phrase -> best fragments in all artworks: faiss shortlist, exact SCAN fragment score.

    Kept up to date artwork by artwork (:meth:`remove_artworks`, :meth:`add_items`) after a
    detection, instead of rebuilt: ``save_delta`` writes only the new fragments.
    """

    def __init__(self, suggester: Suggester, index: FragmentIndex,
                 keys: FragmentKeys, prior: ArtworkPrior | None = None) -> None:
        if len(keys) != len(index):
            raise ValueError("one key (artwork id, region) per indexed fragment is needed")
        self.suggester = suggester
        self.index = index
        self.keys = keys
        # The whole-image term (retrieval.artwork_prior), weighted as in the model's own score.
        self.prior = prior
        model = suggester.model
        self.prior_weight = float(model.config.global_weight) if model.has_global else 0.0

    @classmethod
    def build(cls, suggester: Suggester, items: Sequence[ArtworkItem], *, kind: str = "auto",
              directory: Path | str | None = None,
              progress: Callable[[int, int], None] | None = None,
              should_stop: Callable[[], bool] | None = None) -> CollectionSearch:
        """Embed every region of ``items`` and index them.

        With ``directory`` the joint-space vectors are written straight into its memory-mapped
        ``vectors.npy`` artwork by artwork (3.6M fragments are 7.4 GB of float16: never all in
        memory), and :meth:`save` to that folder does not write them again.
        """
        keys = FragmentKeys()
        if directory is None:
            vecs = [suggester.embed_regions(it.features).astype(np.float16) for it in items]
            for it in items:
                keys.extend(it.id, len(it.features))
            return cls(suggester, FragmentIndex.build(np.concatenate(vecs), kind=kind), keys)
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        total = sum(len(it.features) for it in items)
        first = suggester.embed_regions(items[0].features)
        out = np.lib.format.open_memmap(d / "vectors.npy", mode="w+", dtype=np.float16,
                                        shape=(total, first.shape[1]))
        row = 0
        for i, it in enumerate(items):
            if should_stop is not None and should_stop():
                raise ArtannotError("index build cancelled")
            v = first if i == 0 else suggester.embed_regions(it.features)
            out[row:row + len(v)] = v
            row += len(v)
            keys.extend(it.id, len(v))
            if progress is not None:
                progress(i + 1, len(items))
        out.flush()
        return cls(suggester, FragmentIndex.build(out, kind=kind), keys)

    def artworks(self) -> set[str]:
        """Artworks with fragments in the index."""
        return self.keys.artworks(~self.index.dead)

    def remove_artworks(self, artwork_ids: Iterable[str]) -> None:
        for aid in artwork_ids:
            rows = self.keys.rows_of(aid)
            if len(rows):
                self.index.remove(rows)

    def add_items(self, items: Sequence[ArtworkItem]) -> None:
        """Index the regions of ``items`` (artworks not indexed yet: remove old versions first)."""
        for it in items:
            if not len(it.features):
                continue
            self.index.add(self.suggester.embed_regions(it.features))
            self.keys.extend(it.id, len(it.features))

    def update_prior(self, store: WholeStore, store_name: str,
                     should_stop: Callable[[], bool] | None = None,
                     progress: Callable[[int, int], None] | None = None) -> bool:
        """Bring the whole-image term up to date with a whole-image store (see
        :mod:`artannot.retrieval.artwork_prior`); True when it changed. A store of other
        vectors than the model's (another encoder, or other weights) starts it afresh."""
        if not self.prior_weight:
            return False
        prior = self.prior
        if prior is None or prior.store != store_name:
            prior = self.prior = ArtworkPrior.empty(self.suggester.model.config.embed_size, store_name)
        return prior.update(self.keys, store, lambda x: whole_prior_vectors(self.suggester.model, x),
                            should_stop, progress)

    def search(self, phrase: str, top_k: int = 10, *, shortlist: int = SHORTLIST) -> list[FragmentHit]:
        q = self.suggester.embed_phrases([phrase])[0]
        rerank = None
        prior = self.prior
        if prior is not None and len(prior) and self.prior_weight:
            text = phrase_prior_vectors(self.suggester.model, self.suggester.vocab, [phrase])[0]

            def rerank(query: np.ndarray, ids: np.ndarray) -> np.ndarray:
                return (dot_f16(self.index.vectors[ids], query)[0]
                        + self.prior_weight * prior.term(self.keys.numbers(ids), text))
        s, ids = self.index.search(q, top_k, shortlist=shortlist, rerank=rerank)
        return [FragmentHit(*self.keys[i], float(v)) for v, i in zip(s[0], ids[0]) if i >= 0]

    def save(self, directory: Path | str) -> None:
        d = self.index.save(directory)
        self.keys.save(d)
        if self.prior is not None:
            self.prior.save(d)

    def save_delta(self, directory: Path | str) -> None:
        d = Path(directory)
        self.keys.save_delta(d)
        self.index.save_delta(d)
        if self.prior is not None:
            self.prior.save_delta(d)

    @classmethod
    def load(cls, suggester: Suggester, directory: Path | str) -> CollectionSearch:
        d = Path(directory)
        return cls(suggester, FragmentIndex.load(d), FragmentKeys.load(d),
                   ArtworkPrior.load(d, suggester.model.config.embed_size))
