"""Recall@K / medr / meanr for image annotation (i->t) and image retrieval (t->i).

The score matrix is computed in shards of images x texts (see docs/evaluation.md for the
exact protocol); only the [N_img, N_txt] score matrix is ever held whole.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from artannot.retrieval.data import (
    ArtworkItem,
    ScanDataset,
    encode_item_texts,
    encode_texts,
    pad_features,
    stack_wholes,
)
from artannot.retrieval.scan import ScanModel
from artannot.text.vocab import TextVocab

KS = (1, 5, 10)


def best_ranks(scores: np.ndarray, positives: Sequence[Sequence[int]]) -> np.ndarray:
    """0-based rank of the best-ranked positive candidate for each query row.

    Ties count against the query (a positive tied with a negative ranks below it), so a
    constant scorer cannot look good.
    """
    # NaN scores (a diverged model) must rank last, not win every comparison.
    scores = np.where(np.isnan(scores), -np.inf, scores)
    ranks = np.empty(scores.shape[0], dtype=np.int64)
    for q, pos in enumerate(positives):
        row = scores[q]
        best = row[list(pos)].max()
        others = np.ones(row.shape[0], dtype=bool)
        others[list(pos)] = False
        ranks[q] = int((row[others] >= best).sum())
    return ranks


@dataclass
class DirectionMetrics:
    r1: float
    r5: float
    r10: float
    medr: float
    meanr: float


def direction_metrics(ranks: np.ndarray) -> DirectionMetrics:
    """Recall in percent; medr/meanr are 1-based as in SCAN."""
    r = [100.0 * float((ranks < k).mean()) for k in KS]
    return DirectionMetrics(r[0], r[1], r[2], float(np.floor(np.median(ranks)) + 1),
                            float(ranks.mean() + 1))


@dataclass
class RetrievalMetrics:
    """Both directions and rsum (sum of the six recalls)."""

    i2t: DirectionMetrics
    t2i: DirectionMetrics
    n_images: int
    n_texts: int
    label: str = ""
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def rsum(self) -> float:
        return (self.i2t.r1 + self.i2t.r5 + self.i2t.r10 + self.t2i.r1 + self.t2i.r5
                + self.t2i.r10)

    def to_dict(self) -> dict[str, object]:
        return {"label": self.label, "n_images": self.n_images, "n_texts": self.n_texts,
                "image_annotation": asdict(self.i2t), "image_retrieval": asdict(self.t2i),
                "rsum": self.rsum, **self.extra}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


def rerank_scores(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Engilberge's asymmetric re-ranking (seed 003, eq. 3.12-3.13), for image->text and for
    text->image ranking of a score matrix [N_img, N_txt].

    A candidate's score also counts relative to its own best match: a text that fits another
    image better is pushed down for this one, and a pair that is best both ways keeps its rank.
    Rows or columns whose best score is not positive are left as they are.
    """
    def plus_ratio(best: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = scores / best
        return scores + np.where(best > 0, ratio, 0.0)

    return plus_ratio(scores.max(axis=0, keepdims=True)), plus_ratio(scores.max(axis=1, keepdims=True))


def metrics_from_scores(scores: np.ndarray, img_to_txt: Sequence[Sequence[int]],
                        label: str = "", *, rerank: bool = False) -> RetrievalMetrics:
    """Both directions from a score matrix [N_img, N_txt] and each image's correct texts;
    ``rerank`` applies :func:`rerank_scores` first."""
    txt_to_img: list[list[int]] = [[] for _ in range(scores.shape[1])]
    for i, ts in enumerate(img_to_txt):
        for t in ts:
            txt_to_img[t].append(i)
    for_i2t, for_t2i = rerank_scores(scores) if rerank else (scores, scores)
    i2t = direction_metrics(best_ranks(for_i2t, img_to_txt))
    keep = [t for t, v in enumerate(txt_to_img) if v]
    t2i = direction_metrics(best_ranks(for_t2i.T[keep], [txt_to_img[t] for t in keep]))
    return RetrievalMetrics(i2t, t2i, scores.shape[0], len(keep), label)


def format_table(rows: Sequence[RetrievalMetrics], title: str = "") -> str:
    """Markdown in the layout of the thesis' Table 4.1 (plus rsum, medr)."""
    out = [f"**{title}**", ""] if title else []
    out += ["| Method | Ann. R@1 | R@5 | R@10 | medr | Retr. R@1 | R@5 | R@10 | medr | rsum |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for m in rows:
        a, r = m.i2t, m.t2i
        out.append(f"| {m.label} | {a.r1:.1f} | {a.r5:.1f} | {a.r10:.1f} | {a.medr:.0f} | "
                   f"{r.r1:.1f} | {r.r5:.1f} | {r.r10:.1f} | {r.medr:.0f} | {m.rsum:.1f} |")
    return "\n".join(out)


def group_texts(items: Sequence[ArtworkItem]) -> tuple[list[ArtworkItem], list[list[int]]]:
    """Distinct images (first item of each id) and, per image, the indices of its texts.

    Items sharing an id are several texts of one image (Flickr's 5 captions); with one item
    per artwork this is the thesis' protocol.
    """
    first: dict[str, int] = {}
    images: list[ArtworkItem] = []
    truth: list[list[int]] = []
    for t, it in enumerate(items):
        i = first.setdefault(it.id, len(images))
        if i == len(images):
            images.append(it)
            truth.append([])
        truth[i].append(t)
    return images, truth


@torch.no_grad()
def encode_images(model: ScanModel, items: Sequence[ArtworkItem], *, batch_size: int = 128,
                  device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Joint-space regions [N, k, D] and their mask."""
    device = device or next(model.parameters()).device
    kmax = max(it.features.shape[0] for it in items)
    img = torch.zeros(len(items), kmax, model.config.embed_size, device=device)
    img_mask = torch.zeros(len(items), kmax, dtype=torch.bool, device=device)
    for s in range(0, len(items), batch_size):
        chunk = items[s:s + batch_size]
        f, m = pad_features([it.features for it in chunk])
        e = model.encode_images(f.to(device), m.to(device))
        img[s:s + len(chunk), :e.shape[1]] = e
        img_mask[s:s + len(chunk), :e.shape[1]] = m.to(device)
    return img, img_mask


@torch.no_grad()
def encode_text_items(model: ScanModel, vocab: TextVocab, items: Sequence[ArtworkItem], *,
                      batch_size: int = 128, device: torch.device | None = None
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """Joint-space phrases [N, n, D] of each item's text and their mask."""
    device = device or next(model.parameters()).device
    nmax = max(1, max(len(it.phrases) for it in items))
    txt = torch.zeros(len(items), nmax, model.config.embed_size, device=device)
    txt_mask = torch.zeros(len(items), nmax, dtype=torch.bool, device=device)
    for s in range(0, len(items), batch_size):
        chunk = items[s:s + batch_size]
        tb = encode_item_texts(vocab, chunk).to(device)
        t = model.encode_texts(tb)
        txt[s:s + len(chunk), :t.shape[1]] = t
        txt_mask[s:s + len(chunk), :t.shape[1]] = tb.mask
    return txt, txt_mask


@torch.no_grad()
def artwork_scores(model: ScanModel, vocab: TextVocab, items: Sequence[ArtworkItem], *,
                   shard: int | None = None, device: torch.device | None = None
                   ) -> tuple[np.ndarray, list[list[int]]]:
    """Scores [N_img, N_txt] of every image against every text (SCAN plus the weighted
    whole-image term), and the correct texts of each image (items with the same id are
    texts of one image)."""
    scores, truth = scan_scores(model, vocab, items, shard=shard, device=device)
    return add_global_term(scores, model, vocab, items, device=device), truth


@torch.no_grad()
def scan_scores(model: ScanModel, vocab: TextVocab, items: Sequence[ArtworkItem], *,
                shard: int | None = None, device: torch.device | None = None
                ) -> tuple[np.ndarray, list[list[int]]]:
    """SCAN's part of :func:`artwork_scores` alone (regions against phrases)."""
    was_training = model.training
    model.eval()
    if device is not None:
        model.to(device)
    images, truth = group_texts(items)
    img, im = encode_images(model, images, device=device)
    txt, tm = encode_text_items(model, vocab, items, device=device)
    scores = model.sharded_similarity(img, im, txt, tm, shard).cpu().numpy()
    model.train(was_training)
    return scores, truth


def add_global_term(scan: np.ndarray, model: ScanModel, vocab: TextVocab,
                     items: Sequence[ArtworkItem], *, weight: float | None = None,
                     device: torch.device | None = None) -> np.ndarray:
    """SCAN's scores of ``items`` plus ``weight`` (default: the model's) x the whole-image
    term; unchanged when the weight is 0 or nothing has a whole-image vector."""
    w = model.config.global_weight if weight is None else weight
    if not w:
        return scan
    was_training = model.training
    model.eval()
    images, _ = group_texts(items)
    whole = global_scores(model, vocab, images, items, device=device)
    model.train(was_training)
    return scan if whole is None else scan + w * whole


@torch.no_grad()
def global_scores(model: ScanModel, vocab: TextVocab, images: Sequence[ArtworkItem],
                  texts: Sequence[ArtworkItem], *, batch_size: int = 512,
                  device: torch.device | None = None) -> np.ndarray | None:
    """The whole-image term [N_img, N_txt] (0 for an image without a vector), or None when the
    model has no such term or no image has a vector."""
    stacked = stack_wholes(images) if model.has_global else None
    if stacked is None:
        return None
    device = device or next(model.parameters()).device
    vectors, have = stacked
    img = model.encode_global_images(vectors.to(device)) * have.to(device)[:, None]
    txt = torch.cat([model.encode_global_texts(
        encode_item_texts(vocab, texts[s:s + batch_size]).to(device))
        for s in range(0, len(texts), batch_size)])
    return (img @ txt.T).cpu().numpy()


@torch.no_grad()
def evaluate_items(model: ScanModel, vocab: TextVocab, items: Sequence[ArtworkItem], *,
                   shard: int | None = None, device: torch.device | None = None,
                   label: str = "") -> RetrievalMetrics:
    """Image-level retrieval: an image's correct texts are the items that share its id (one
    phrase sequence per artwork in the thesis' protocol, five captions in Flickr's)."""
    scores, truth = artwork_scores(model, vocab, items, shard=shard, device=device)
    return metrics_from_scores(scores, truth, label or model_label(model))


def evaluate(model: ScanModel, dataset: ScanDataset, split: str = "test", *,
             shard: int | None = None, device: torch.device | None = None) -> RetrievalMetrics:
    """Evaluate on a named split of ``dataset``."""
    return evaluate_items(model, dataset.vocab, dataset.split(split), shard=shard, device=device)


def metrics_rows(scores: np.ndarray, truth: Sequence[Sequence[int]], label: str,
                 rerank: bool = False) -> list[RetrievalMetrics]:
    """The plain row and, with ``rerank``, the re-ranked one ("+ RR") from the same scores:
    SCAN scoring is the expensive part, re-ranking is not."""
    rows = [metrics_from_scores(scores, truth, label)]
    if rerank:
        rows.append(metrics_from_scores(scores, truth, label + " + RR", rerank=True))
    return rows


def model_label(model: ScanModel) -> str:
    """Row label of a model: attention direction, aggregation and text encoder."""
    c = model.config
    return f"{c.cross_attn.replace('2', '-')} {c.agg} ({c.text_encoder})"


# -- fragments ---------------------------------------------------------------------------
@dataclass
class FragmentSample:
    """Ground-truth boxes of one artwork: features computed for those boxes, and their phrases."""

    artwork_id: str
    box_features: np.ndarray  # [m, d]
    phrases: list[str]  # phrase of each box (VOC <name>, normalised)


@torch.no_grad()
def embed_phrases(model: ScanModel, vocab: TextVocab, phrases: Sequence[str],
                  batch_size: int = 512) -> torch.Tensor:
    """Stand-alone phrase vectors [P, D]: each phrase encoded as a sequence of one phrase."""
    device = next(model.parameters()).device
    out = []
    for s in range(0, len(phrases), batch_size):
        tb = encode_texts(vocab, [[p] for p in phrases[s:s + batch_size]]).to(device)
        out.append(model.encode_texts(tb)[:, 0])
    D = model.config.embed_size
    return torch.cat(out) if out else torch.zeros(0, D, device=device)


@torch.no_grad()
def embed_regions(model: ScanModel, features: np.ndarray) -> torch.Tensor:
    """Single regions [R, d] -> joint-space unit vectors [R, D]."""
    device = next(model.parameters()).device
    f = torch.from_numpy(np.asarray(features, dtype=np.float32)).to(device)
    return model.encode_images(f[:, None, :], torch.ones(len(f), 1, dtype=torch.bool,
                                                          device=device))[:, 0]


@torch.no_grad()
def evaluate_fragments(model: ScanModel, vocab: TextVocab, samples: Sequence[FragmentSample],
                       label: str = "") -> RetrievalMetrics:
    """Fragment level (thesis 4.4): rank distinct phrases per box and boxes per phrase."""
    scores, truth = fragment_scores(model, vocab, samples)
    return metrics_from_scores(scores, truth, label or model_label(model))


@torch.no_grad()
def fragment_scores(model: ScanModel, vocab: TextVocab, samples: Sequence[FragmentSample]
                    ) -> tuple[np.ndarray, list[list[int]]]:
    """Scores [boxes, distinct phrases] and each box's correct phrase.

    Candidates texts are the distinct phrases of the test boxes; a box's correct text is its
    own phrase, and a phrase's correct boxes are all boxes labelled with it.
    """
    model.eval()
    feats = np.concatenate([s.box_features for s in samples])
    labels = [p for s in samples for p in s.phrases]
    uniq = sorted(set(labels))
    pos = {p: i for i, p in enumerate(uniq)}
    scores = model.fragment_scores(embed_regions(model, feats),
                                   embed_phrases(model, vocab, uniq)).cpu().numpy()
    return scores, [[pos[p]] for p in labels]
