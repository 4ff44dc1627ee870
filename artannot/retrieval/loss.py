"""Hinge triplet ranking loss of VSE++/SCAN over a batch score matrix."""

from __future__ import annotations

import torch


def contrastive_loss(scores: torch.Tensor, *, margin: float = 0.2,
                     max_violation: bool = True, same: torch.Tensor | None = None) -> torch.Tensor:
    """Sum over the batch of [m - S(I,T) + S(I,T')]+ + [m - S(I,T) + S(I',T)]+.

    scores[i, j] = S(image i, text j); the positives are on the diagonal. With
    ``max_violation`` only the hardest negative text per image and the hardest negative image
    per text count (SCAN); otherwise all negatives are summed. ``same[i, j]`` marks pairs of
    one image (another of its captions): never a negative, or the hardest "negative" of a
    Flickr batch would often be a correct caption.
    """
    diag = scores.diag()
    cost_t = (margin + scores - diag[:, None]).clamp(min=0)  # negative texts for image i
    cost_i = (margin + scores - diag[None, :]).clamp(min=0)  # negative images for text j
    eye = torch.eye(scores.shape[0], dtype=torch.bool, device=scores.device)
    if same is not None:
        eye = eye | same.to(eye.device)
    cost_t = cost_t.masked_fill(eye, 0.0)
    cost_i = cost_i.masked_fill(eye, 0.0)
    if max_violation:
        return cost_t.max(dim=1).values.sum() + cost_i.max(dim=0).values.sum()
    return cost_t.sum() + cost_i.sum()


def phrase_region_loss(img: torch.Tensor, img_mask: torch.Tensor, txt: torch.Tensor,
                       txt_mask: torch.Tensor, keys: torch.Tensor, *,
                       margin: float = 0.2) -> torch.Tensor:
    """Fragment-level hinge loss: each phrase must match some region of its own image better
    (by ``margin``) than any region of an image whose text lacks that phrase.

    A phrase's score for an image is its best region's cosine (multiple-instance learning, as
    in Karpathy et al.'s fragment embeddings), which is exactly how a suggestion scores a
    region. SCAN's sentence-level loss aligns regions only through attention; this term
    trains the region-phrase cosine itself. ``keys[b, j]`` identifies phrase j of text b
    (equal keys = same phrase; -1 = padding), so an image whose text has the same phrase is
    not a negative. Summed over phrases and scaled to one term per text, like the
    sentence-level loss.
    """
    b = txt.shape[0]
    real = txt_mask.bool()
    owner = torch.arange(b, device=txt.device)[:, None].expand_as(real)[real]  # [P]
    phr = txt[real]  # [P, D]
    pk = keys.to(txt.device)[real]  # [P]
    dots = torch.einsum("pd,ikd->pik", phr, img)
    dots = dots.masked_fill(~img_mask.bool()[None, :, :], float("-inf"))
    best = dots.amax(-1)  # [P, B]: best region of each image for each phrase
    pos = best.gather(1, owner[:, None])  # [P, 1]
    has = (keys.to(txt.device)[None, :, :] == pk[:, None, None]).any(-1)  # [P, B]
    cost = (margin + best - pos).clamp(min=0).masked_fill(has, 0.0)
    return cost.max(dim=1).values.sum() * b / max(int(real.sum()), 1)
