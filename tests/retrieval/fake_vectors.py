"""Deterministic stand-in phrase vectors for unit tests of the pretrained text path: each
word gets a fixed random unit vector and a phrase is the normalised sum of its words, so
phrases that share words are close (like a real sentence encoder, at no cost)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from artannot.text.phrase_vectors import PhraseVectors


def word_sum_embed(dim: int):
    calls: list[int] = []

    def embed(texts: Sequence[str]) -> np.ndarray:
        calls.append(len(texts))
        out = np.zeros((len(texts), dim), np.float32)
        for i, t in enumerate(texts):
            for w in t.split():
                seed = int.from_bytes(hashlib.sha1(w.encode()).digest()[:4], "little")
                out[i] += np.random.default_rng(seed).standard_normal(dim)
        out /= np.linalg.norm(out, axis=1, keepdims=True).clip(1e-6)
        return out

    embed.calls = calls  # type: ignore[attr-defined]
    return embed


def fake_vectors(dim: int = 8, directory=None) -> PhraseVectors:
    return PhraseVectors("fake", dim, word_sum_embed(dim), directory=directory)
