"""SCAN training data from plain in-memory inputs, plus the builder from the real stores.

An artwork is its region features [k, d] and its sequence of normalised noun phrases. The
builder from the catalog and the feature store only depends on the small protocols below, so
it works with whatever objects provide those methods.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

import numpy as np
import torch

from artannot.core.errors import ArtannotError
from artannot.retrieval.encoders import TextBatch
from artannot.text.vocab import TextVocab


class ScanDataError(ArtannotError):
    """Training data for SCAN is missing or inconsistent."""

    code = "E611"


@dataclass
class ArtworkItem:
    """One artwork as SCAN sees it."""

    id: str
    features: np.ndarray  # [k, d], float16 or float32, or a feature-store RegionRef (read per batch)
    phrases: list[str]
    split: str = "train"
    whole: np.ndarray | None = None  # whole-image vector (vision.global_features), if computed
    sentences: int = 0  # how many of the last phrases are sentences (texts_with_sentences)


class FeatureRecordLike(Protocol):
    features: np.ndarray
    whole_image_feature: np.ndarray


class FeatureStoreLike(Protocol):
    def get(self, artwork_id: str) -> FeatureRecordLike: ...


class CatalogLike(Protocol):
    def artworks(self) -> Iterable[Any]: ...

    def phrases(self, artwork_id: str) -> Sequence[Any]: ...


def encode_texts(vocab: TextVocab, texts: Sequence[Sequence[str]],
                 sentences: Sequence[int] | None = None) -> TextBatch:
    """Pad phrase sequences (and the words of each phrase) into a :class:`TextBatch`;
    ``sentences``: how many of each text's last units are sentences."""
    n = max(1, max((len(t) for t in texts), default=1))
    words = [[vocab.encode_words(p) for p in t] for t in texts]
    w = max(1, max((len(x) for t in words for x in t), default=1))
    pids = torch.zeros(len(texts), n, dtype=torch.long)
    wids = torch.zeros(len(texts), n, w, dtype=torch.long)
    wlen = torch.zeros(len(texts), n, dtype=torch.long)
    for b, (t, tw) in enumerate(zip(texts, words)):
        if t:
            pids[b, :len(t)] = torch.tensor(vocab.encode_phrases(list(t)))
        for j, ids in enumerate(tw):
            wids[b, j, :len(ids)] = torch.tensor(ids)
            wlen[b, j] = len(ids)
    lengths = torch.tensor([len(t) for t in texts], dtype=torch.long)
    vectors = None
    if vocab.vectors is not None:
        uniq = list(dict.fromkeys(p for t in texts for p in t))
        table = vocab.vectors.lookup(uniq)
        vectors = torch.zeros(len(texts), n, table.shape[1], dtype=torch.float32)
        if uniq:
            pos = {p: i for i, p in enumerate(uniq)}
            rows = torch.tensor([pos[p] for t in texts for p in t], dtype=torch.long)
            bi = torch.tensor([b for b, t in enumerate(texts) for _ in t], dtype=torch.long)
            ji = torch.tensor([j for t in texts for j in range(len(t))], dtype=torch.long)
            vectors[bi, ji] = torch.from_numpy(table)[rows]
    sent = torch.tensor(list(sentences), dtype=torch.long) if sentences is not None else None
    return TextBatch(pids, lengths, wids, wlen, vectors, sent)


def encode_item_texts(vocab: TextVocab, items: Sequence[ArtworkItem]) -> TextBatch:
    """The texts of ``items``, knowing which of their units are sentences."""
    return encode_texts(vocab, [it.phrases for it in items], [it.sentences for it in items])


def pad_features(feats: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack variable-k region features into [B, kmax, d] with a region mask [B, kmax]."""
    k = max(f.shape[0] for f in feats)
    d = feats[0].shape[1]
    out = torch.zeros(len(feats), k, d, dtype=torch.float32)
    mask = torch.zeros(len(feats), k, dtype=torch.bool)
    for b, f in enumerate(feats):
        out[b, :f.shape[0]] = torch.from_numpy(np.asarray(f, dtype=np.float32))
        mask[b, :f.shape[0]] = True
    return out, mask


def stack_wholes(items: Sequence[ArtworkItem]) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Whole-image vectors [B, Dg] (zeros where missing) and which items have one [B], or
    None when none of them has."""
    have = [it.whole is not None for it in items]
    if not any(have):
        return None
    dim = next(len(it.whole) for it in items if it.whole is not None)  # type: ignore[arg-type]
    out = torch.zeros(len(items), dim, dtype=torch.float32)
    for b, it in enumerate(items):
        if it.whole is not None:
            out[b] = torch.from_numpy(np.asarray(it.whole, dtype=np.float32))
    return out, torch.tensor(have)


def same_image(items: Sequence[ArtworkItem]) -> torch.Tensor:
    """[B, B] True where two items are texts of one image (never negatives of each other)."""
    ids: dict[str, int] = {}
    code = torch.tensor([ids.setdefault(it.id, len(ids)) for it in items])
    return code[:, None] == code[None, :]


@dataclass
class PhraseKeys:
    """Which phrase each unit of a batch is, and which of the batch's phrases may name the
    same thing, for the fragment-level loss."""

    keys: torch.Tensor  # [B, n] one integer per distinct phrase of the batch (-1 = padding)
    phrases: list[str]  # the phrase of each key

    @cached_property
    def compatible(self) -> torch.Tensor:
        """[K, K] True where one phrase's words contain the other's: a box captioned "dog"
        may well hold the "black dog" of another text. Computed only when a loss asks."""
        words: dict[str, int] = {}
        rows = [[words.setdefault(w, len(words)) for w in p.split()] for p in self.phrases]
        bag = torch.zeros(len(rows), max(1, len(words)))
        for k, ids in enumerate(rows):
            bag[k, ids] = 1.0
        inside = bag @ (1.0 - bag).T == 0  # no word of k that l lacks
        return inside | inside.T


def phrase_keys(items: Sequence[ArtworkItem]) -> PhraseKeys:
    """Keys of a batch's phrases, so the fragment-level loss can tell which images' texts
    share a phrase or a nested one (see :attr:`PhraseKeys.compatible`)."""
    keys: dict[str, int] = {}
    n = max(1, max(len(it.phrases) for it in items))
    out = torch.full((len(items), n), -1, dtype=torch.long)
    for b, it in enumerate(items):
        for j, p in enumerate(it.phrases):
            out[b, j] = keys.setdefault(p, len(keys))
    return PhraseKeys(out, list(keys))


def _chunks(items: Sequence[ArtworkItem], batch_size: int,
            order: Sequence[int] | None) -> Iterator[list[ArtworkItem]]:
    """``items`` in ``order`` (default: as they are), ``batch_size`` at a time."""
    idx = list(order) if order is not None else list(range(len(items)))
    for s in range(0, len(idx), batch_size):
        yield [items[i] for i in idx[s:s + batch_size]]


class ScanDataset:
    """Artworks with features and phrase sequences; splits by name."""

    def __init__(self, items: Sequence[ArtworkItem], vocab: TextVocab | None = None, *,
                 min_phrase_count: int = 4, min_word_count: int = 1) -> None:
        items = [it for it in items if it.phrases and len(it.features)]
        if not items:
            raise ScanDataError("no artwork has both region features and phrases")
        dims = {int(it.features.shape[1]) for it in items}
        if len(dims) != 1:
            raise ScanDataError(f"region features of different dimensions: {sorted(dims)}")
        self.items = list(items)
        self.feature_dim = dims.pop()
        # Artworks of the collection left out because their regions are missing or unreadable
        # (not detected yet, or a shard lost): reported by `artannot train`, never silent.
        self.without_features: list[str] = []
        if vocab is None:
            vocab = TextVocab.build((it.phrases for it in self.items if it.split == "train"),
                                    min_phrase_count=min_phrase_count,
                                    min_word_count=min_word_count)
        self.vocab = vocab

    def __len__(self) -> int:
        return len(self.items)

    def split(self, name: str) -> list[ArtworkItem]:
        return [it for it in self.items if it.split == name]

    def batches(self, items: Sequence[ArtworkItem], batch_size: int,
                order: Sequence[int] | None = None
                ) -> Iterator[tuple[torch.Tensor, torch.Tensor, TextBatch, torch.Tensor,
                                    PhraseKeys, tuple[torch.Tensor, torch.Tensor] | None]]:
        """Collated (features, region mask, texts, same-image matrix, phrase keys, whole-image
        vectors) batches over ``items`` in ``order`` (see :func:`same_image`,
        :func:`phrase_keys`, :func:`stack_wholes`)."""
        for chunk in _chunks(items, batch_size, order):
            feats, mask = pad_features([it.features for it in chunk])
            yield (feats, mask, encode_item_texts(self.vocab, chunk),
                   same_image(chunk), phrase_keys(chunk), stack_wholes(chunk))

    def text_batches(self, items: Sequence[ArtworkItem], batch_size: int,
                     order: Sequence[int] | None = None
                     ) -> Iterator[tuple[TextBatch, torch.Tensor,
                                         tuple[torch.Tensor, torch.Tensor] | None]]:
        """(texts, same-image matrix, whole-image vectors) batches: what the whole-image term
        trains on, without reading any region."""
        for chunk in _chunks(items, batch_size, order):
            yield encode_item_texts(self.vocab, chunk), same_image(chunk), stack_wholes(chunk)

    @property
    def global_dim(self) -> int:
        """Size of the items' whole-image vectors (0: none has one)."""
        return next((len(it.whole) for it in self.items if it.whole is not None), 0)


TEXT_UNITS: tuple[str, ...] = ("artwork", "field")


def maximal_phrases(phrases: Sequence[str]) -> list[str]:
    """The phrases not contained (as whole words) in another phrase of the same text.

    The grammar yields every sub-phrase ("child in a pink dress", "pink dress", "dress"):
    a caption's 7 phrases become ~2.4, so a batch is padded to ~9 units instead of ~30 and
    an epoch is several times cheaper, while the longest phrase still carries its parts.
    """
    uniq = list(dict.fromkeys(phrases))
    padded = [f" {q} " for q in uniq]
    return [p for p in uniq if not any(f" {p} " in q and q != f" {p} " for q in padded)]


def texts_of(phrases: Sequence[Any], unit: str,
             field_texts: dict[str, str] | None = None, *,
             maximal: bool = False) -> list[list[str]]:
    """An artwork's phrase records as texts (see :func:`texts_with_sentences`)."""
    return [units for units, _ in texts_with_sentences(phrases, unit, field_texts,
                                                        maximal=maximal)]


def texts_with_sentences(phrases: Sequence[Any], unit: str,
                         field_texts: dict[str, str] | None = None, *,
                         maximal: bool = False) -> list[tuple[list[str], int]]:
    """An artwork's phrase records as texts: one sequence (the thesis' protocol) or one per
    metadata field (a caption of a Karpathy file: Flickr's 5-captions protocol), each with
    how many of its last units are sentences.

    With ``field_texts`` each text also holds the sentences of its fields as units of their
    own (after its phrases): a pretrained encoder reads a whole sentence ("a dog jumps over
    a fence") as well as its noun phrases, and training then also aligns what the phrases
    leave out (verbs, relations). Suggestions still rank phrases.
    """
    if unit not in TEXT_UNITS:
        raise ValueError(f"text unit must be one of {TEXT_UNITS}, not {unit!r}")
    by_field: dict[str, list[str]] = {}
    for p in phrases:
        n = getattr(p, "norm", p)
        if n:
            by_field.setdefault(str(getattr(p, "field", "")), []).append(n)
    if maximal:
        by_field = {f: maximal_phrases(ns) for f, ns in by_field.items()}
    groups = list(by_field.items())
    if unit == "artwork":
        groups = [("", [n for _, ns in groups for n in ns])] if groups else []
        fields_of = {"": list(by_field)}
    else:
        fields_of = {f: [f] for f in by_field}
    if field_texts is None:
        return [(ns, 0) for _, ns in groups]
    out = []
    for key, ns in groups:
        sents = [s for f in fields_of[key] for s in sentence_units(field_texts.get(f, ""))]
        out.append((ns + sents, len(sents)))
    return out


def sentence_units(text: str) -> list[str]:
    """The sentences of a metadata field, normalised like phrases (lower case, one space)."""
    from artannot.core.model import normalise_phrase
    from artannot.text.karpathy import split_sentences

    return [normalise_phrase(text[a:b]).rstrip(" .") for a, b in split_sentences(text)]


def _stored_whole(store: FeatureStoreLike | None, artwork_id: str) -> np.ndarray | None:
    if store is None:
        return None
    try:
        return store.get(artwork_id).whole_image_feature  # a memory-mapped row, not a copy
    except (KeyError, FileNotFoundError, ArtannotError):
        return None


def dataset_from_stores(catalog: CatalogLike, store: FeatureStoreLike, *,
                        coarse: bool = False, vocab: TextVocab | None = None,
                        min_phrase_count: int = 4, text_unit: str = "artwork",
                        sentences: bool = False, maximal: bool = False,
                        wholes: FeatureStoreLike | None = None) -> ScanDataset:
    """Build the dataset from the collection catalog and the region feature store.

    ``coarse`` uses the whole-image feature (k = 1, thesis chapter 3) instead of the regions.
    ``text_unit="field"`` makes one item per metadata field (all sharing the artwork's
    features), so several texts belong to one image. Artworks without features or phrases
    are skipped. ``wholes``: the store of whole-image vectors (``vision.global_features``).
    """
    items: list[ArtworkItem] = []
    without: list[str] = []
    for art in catalog.artworks():
        aid = getattr(art, "id", art)
        try:
            rec = store.get(aid)
        except (KeyError, FileNotFoundError, ArtannotError):
            rec = None
        if rec is None:
            without.append(str(aid))
            continue
        if coarse:
            feats = np.array(rec.whole_image_feature)[None, :]
        elif hasattr(store, "region_ref"):  # by reference: read per batch, never all in memory
            feats = store.region_ref(aid)
        else:
            feats = np.asarray(rec.features)
        split = getattr(art, "split", None) or "train"
        fields = dict(getattr(art, "fields", None) or {}) if sentences else None
        whole = _stored_whole(wholes, aid)
        for text, n_sentences in texts_with_sentences(catalog.phrases(aid), text_unit, fields,
                                                      maximal=maximal):
            items.append(ArtworkItem(str(aid), feats, text, split, whole, n_sentences))
    ds = ScanDataset(items, vocab, min_phrase_count=min_phrase_count)
    ds.without_features = without
    return ds
