"""Stacked cross attention (Lee et al. 2018) between padded sets of region and phrase vectors.

All pairs of a chunk of images and a chunk of texts are scored at once. The attended vector
``a = sum_j alpha_j e_j`` is never materialised: with unit-norm queries,

    cos(v, a) = (sum_j alpha_j v.e_j) / sqrt(alpha^T G alpha),   G = Gram matrix of the context,

so memory is O(Ni * Nt * k * n) instead of O(Ni * Nt * k * d). Padding is handled with masks:
padded entries take no attention, do not enter the raw normalisation and are left out of the
aggregation, so scores do not depend on how much padding a batch carries.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

CrossAttn = Literal["i2t", "t2i"]
RawNorm = Literal["clipped_l2norm", "l2norm", "softmax", "no_norm", "clipped", "l1norm",
                  "clipped_l1norm"]
Agg = Literal["AVG", "LSE", "MAX"]

CROSS_ATTN: tuple[str, ...] = ("i2t", "t2i")
RAW_NORMS: tuple[str, ...] = ("clipped_l2norm", "l2norm", "softmax", "no_norm", "clipped",
                              "l1norm", "clipped_l1norm")
AGGREGATIONS: tuple[str, ...] = ("AVG", "LSE", "MAX")
_EPS = 1e-8
_TINY = 1e-16


def l2norm(x: torch.Tensor, dim: int = -1, eps: float = _EPS) -> torch.Tensor:
    """L2-normalise along ``dim`` (zero vectors stay zero)."""
    # eps inside the sqrt too: d sqrt(s)/ds is infinite at s = 0 (zero padding rows).
    return x / ((x.pow(2).sum(dim=dim, keepdim=True) + _TINY).sqrt() + eps)


def _raw_normalise(raw: torch.Tensor, qmask: torch.Tensor, how: str) -> torch.Tensor:
    """SCAN's normalisation of raw similarities, across the *query* axis (dim -2).

    raw: [..., Q, S]; qmask: broadcastable to raw, True for real queries.
    """
    if how == "no_norm":
        return raw
    if how == "softmax":
        return torch.softmax(raw.masked_fill(~qmask, float("-inf")), dim=-2).masked_fill(~qmask, 0.0)
    x = F.leaky_relu(raw, 0.1) if how.startswith("clipped") else raw
    x = x.masked_fill(~qmask, 0.0)
    if how == "clipped":
        return x
    if how.endswith("l2norm"):
        return x / ((x.pow(2).sum(dim=-2, keepdim=True) + _TINY).sqrt() + _EPS)
    if how.endswith("l1norm"):
        return x / (x.abs().sum(dim=-2, keepdim=True) + _EPS)
    raise ValueError(f"unknown raw_feature_norm {how!r}; expected one of {RAW_NORMS}")


def attention_weights(raw: torch.Tensor, qmask: torch.Tensor, smask: torch.Tensor, *,
                      lambda_softmax: float, raw_norm: str) -> torch.Tensor:
    """Attention of each query over the sources: [..., Q, S], rows sum to 1 over real sources."""
    x = _raw_normalise(raw, qmask, raw_norm)
    x = (x * lambda_softmax).masked_fill(~smask, float("-inf"))
    return torch.softmax(x, dim=-1).masked_fill(~smask, 0.0)


def aggregate(r: torch.Tensor, mask: torch.Tensor, how: str, lambda_lse: float) -> torch.Tensor:
    """Pool per-query relevances r [..., Q] over real queries (mask [..., Q])."""
    if how == "AVG":
        return (r * mask).sum(-1) / mask.sum(-1).clamp(min=1)
    if how == "LSE":
        x = (r * lambda_lse).masked_fill(~mask, float("-inf"))
        return torch.logsumexp(x, dim=-1) / lambda_lse
    if how == "MAX":
        return r.masked_fill(~mask, float("-inf")).amax(-1)
    raise ValueError(f"unknown aggregation {how!r}; expected one of {AGGREGATIONS}")


def xattn_scores(img: torch.Tensor, img_mask: torch.Tensor, txt: torch.Tensor,
                 txt_mask: torch.Tensor, *, cross_attn: str = "i2t", lambda_softmax: float = 4.0,
                 raw_norm: str = "clipped_l2norm", agg: str = "AVG",
                 lambda_lse: float = 6.0) -> torch.Tensor:
    """SCAN similarity of every image with every text.

    img [Ni, k, d] and txt [Nt, n, d] hold L2-normalised vectors (padding anywhere, masked by
    img_mask [Ni, k] / txt_mask [Nt, n]). Returns [Ni, Nt].
    """
    if cross_attn not in CROSS_ATTN:
        raise ValueError(f"unknown cross_attn {cross_attn!r}; expected one of {CROSS_ATTN}")
    img_mask = img_mask.bool()
    txt_mask = txt_mask.bool()
    dots = torch.einsum("ikd,tnd->itkn", img, txt)  # raw cosine similarities
    if cross_attn == "i2t":
        # Queries are regions, sources are phrases.
        q = img_mask[:, None, :, None]
        s = txt_mask[None, :, None, :]
        gram = torch.einsum("tnd,tmd->tnm", txt, txt)
        attn = attention_weights(dots, q, s, lambda_softmax=lambda_softmax, raw_norm=raw_norm)
        num = (attn * dots).sum(-1)  # [i, t, k]
        sq = torch.einsum("itkn,tnm,itkm->itk", attn, gram, attn)
        qmask = img_mask[:, None, :].expand(-1, txt.shape[0], -1)
    else:
        dots_t = dots.transpose(-1, -2)  # [i, t, n, k]
        q = txt_mask[None, :, :, None]
        s = img_mask[:, None, None, :]
        gram = torch.einsum("ikd,ild->ikl", img, img)
        attn = attention_weights(dots_t, q, s, lambda_softmax=lambda_softmax, raw_norm=raw_norm)
        num = (attn * dots_t).sum(-1)  # [i, t, n]
        sq = torch.einsum("itnk,ikl,itnl->itn", attn, gram, attn)
        qmask = txt_mask[None, :, :].expand(img.shape[0], -1, -1)
    rel = num / (sq.clamp(min=0.0) + _EPS).sqrt()
    rel = rel.masked_fill(~qmask, 0.0)
    return aggregate(rel, qmask, agg, lambda_lse)


def chunked_scores(img: torch.Tensor, img_mask: torch.Tensor, txt: torch.Tensor,
                   txt_mask: torch.Tensor, *, img_chunk: int = 128, txt_chunk: int = 128,
                   **kw: object) -> torch.Tensor:
    """:func:`xattn_scores` in shards of images x texts; the result lives on the CPU."""
    out = torch.empty(img.shape[0], txt.shape[0], dtype=torch.float32)
    for i0 in range(0, img.shape[0], img_chunk):
        for t0 in range(0, txt.shape[0], txt_chunk):
            s = xattn_scores(img[i0:i0 + img_chunk], img_mask[i0:i0 + img_chunk],
                             txt[t0:t0 + txt_chunk], txt_mask[t0:t0 + txt_chunk], **kw)  # type: ignore[arg-type]
            out[i0:i0 + img_chunk, t0:t0 + txt_chunk] = s.float().cpu()
    return out


def phrase_region_attention(phrases: torch.Tensor, regions: torch.Tensor,
                            region_mask: torch.Tensor | None = None, *,
                            lambda_softmax: float = 4.0, raw_norm: str = "clipped_l2norm"
                            ) -> torch.Tensor:
    """t2i attention of phrases [n, d] over the regions [k, d] of one artwork: [n, k].

    With a single phrase the raw normalisation across phrases is degenerate (every weight
    becomes 1), so it is skipped: the heat map then reflects softmax(lambda * cosine).
    """
    if region_mask is None:
        region_mask = torch.ones(regions.shape[0], dtype=torch.bool, device=regions.device)
    raw = phrases @ regions.T
    how = raw_norm if phrases.shape[0] > 1 else "no_norm"
    q = torch.ones(phrases.shape[0], 1, dtype=torch.bool, device=phrases.device)
    return attention_weights(raw, q, region_mask.bool()[None, :], lambda_softmax=lambda_softmax,
                             raw_norm=how)
