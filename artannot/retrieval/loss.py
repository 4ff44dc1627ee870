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
