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
                       txt_mask: torch.Tensor, keys: torch.Tensor, *, margin: float = 0.2,
                       compatible: torch.Tensor | None = None,
                       both_ways: bool = False) -> torch.Tensor:
    """Fragment-level hinge loss: each phrase must match some region of its own image better
    (by ``margin``) than any region of an image whose text has no phrase for the same thing.

    A phrase's score for an image is its best region's cosine (multiple-instance learning, as
    in Karpathy et al.'s fragment embeddings), which is exactly how a suggestion scores a
    region. SCAN's sentence-level loss aligns regions only through attention; this term
    trains the region-phrase cosine itself. ``keys[b, j]`` identifies phrase j of text b
    (-1 = padding); ``compatible[k, l]`` says phrases k and l may name the same thing (see
    :func:`artannot.retrieval.data.phrase_keys`; default: only equal keys), so an image whose
    text has such a phrase is not a negative.

    ``both_ways`` adds the direction a suggestion ranks in: the best region of each phrase in
    its own image must score that phrase above every batch phrase incompatible with the image.
    Summed over phrases and scaled to one term per text, like the sentence-level loss.
    """
    b = txt.shape[0]
    keys = keys.to(txt.device)
    real = txt_mask.bool()
    owner = torch.arange(b, device=txt.device)[:, None].expand_as(real)[real]  # [P]
    phr = txt[real]  # [P, D]
    pk = keys[real]  # [P]
    dots = torch.einsum("pd,ikd->pik", phr, img)
    dots = dots.masked_fill(~img_mask.bool()[None, :, :], float("-inf"))
    best, where = dots.max(-1)  # [P, B]: best region of each image for each phrase
    pos = best.gather(1, owner[:, None])  # [P, 1]
    if compatible is None:
        has = (keys[None, :, :] == pk[:, None, None]).any(-1)  # [P, B]
    else:
        compatible = compatible.to(txt.device)
        has = (compatible[pk][:, keys.clamp(min=0)] & (keys >= 0)[None]).any(-1)
    cost = (margin + best - pos).clamp(min=0).masked_fill(has, 0.0)
    total = cost.max(dim=1).values.sum()
    if both_ways:
        own_best = img[owner, where.gather(1, owner[:, None]).squeeze(1)]  # [P, D]
        others = own_best @ phr.T  # [P, P']: phrase p's region against every batch phrase
        cost2 = (margin + others - pos).clamp(min=0).masked_fill(has[:, owner].T, 0.0)
        total = total + cost2.max(dim=1).values.sum()
    return total * b / max(int(real.sum()), 1)
