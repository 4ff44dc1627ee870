"""Image and text encoders into SCAN's joint space, and the text-encoder name registry.

Texts are sequences of noun phrases (thesis, section 4.3). Three ways to get phrase vectors:
``pretrained`` (the default) projects the vectors of a frozen pretrained sentence encoder
(all-MiniLM-L6-v2), each phrase on its own, so a phrase scores the same alone (suggestions)
as inside its artwork's text (training); ``phrase`` looks it up in a phrase embedding and
``word`` composes it from its words, both followed by a BiGRU over the text (the thesis'
encoders, kept for its comparison).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from artannot.retrieval.attention import l2norm


@dataclass
class TextBatch:
    """Padded phrase sequences: phrase ids [B, n], word ids [B, n, w] and their lengths, and
    for the pretrained encoder the frozen phrase vectors [B, n, phrase_dim]."""

    phrase_ids: torch.Tensor
    lengths: torch.Tensor
    word_ids: torch.Tensor
    word_lengths: torch.Tensor
    vectors: torch.Tensor | None = None
    # [B] how many of each text's last units are whole sentences rather than noun phrases
    sentences: torch.Tensor | None = None

    @property
    def mask(self) -> torch.Tensor:
        n = self.phrase_ids.shape[1]
        return torch.arange(n, device=self.lengths.device)[None, :] < self.lengths[:, None]

    @property
    def summary_mask(self) -> torch.Tensor:
        """[B, n] the units whose mean stands for the whole text: its sentences when it has
        any (a caption says more than its noun phrases), else all its phrases."""
        if self.sentences is None:
            return self.mask
        n = self.phrase_ids.shape[1]
        pos = torch.arange(n, device=self.lengths.device)[None, :]
        first = torch.where(self.sentences > 0, self.lengths - self.sentences,
                            torch.zeros_like(self.lengths))
        return (pos >= first[:, None]) & self.mask

    def to(self, device: torch.device | str) -> TextBatch:
        def move(t: torch.Tensor | None) -> torch.Tensor | None:
            return t.to(device) if t is not None else None

        return TextBatch(*(t.to(device) for t in (self.phrase_ids, self.lengths, self.word_ids,
                                                  self.word_lengths)),
                         move(self.vectors), move(self.sentences))


class ImageEncoder(nn.Module):
    """Linear projection of region features (2048 ResNet / 1280 EfficientNet) + L2 norm."""

    def __init__(self, feature_dim: int, embed_size: int, *, normalise: bool = True) -> None:
        super().__init__()
        self.fc = nn.Linear(feature_dim, embed_size)
        self.normalise = normalise
        # Xavier init as in SCAN's EncoderImagePrecomp.
        r = (6.0 / (feature_dim + embed_size)) ** 0.5
        nn.init.uniform_(self.fc.weight, -r, r)
        nn.init.zeros_(self.fc.bias)

    def forward(self, feats: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.fc(feats)
        if self.normalise:
            x = l2norm(x)
        return x * mask[..., None]


def _run_gru(gru: nn.GRU, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """GRU over padded sequences, directions averaged; padding never reaches real steps."""
    total = x.shape[1]
    packed = pack_padded_sequence(x, lengths.clamp(min=1).cpu(), batch_first=True,
                                  enforce_sorted=False)
    out, _ = gru(packed)
    out, _ = pad_packed_sequence(out, batch_first=True, total_length=total)
    if gru.bidirectional:
        h = gru.hidden_size
        out = (out[..., :h] + out[..., h:]) / 2
    return out


class _PhraseSequenceEncoder(nn.Module):
    """Shared part: BiGRU over the phrase vectors of a text, projected to the joint space."""

    def __init__(self, phrase_dim: int, embed_size: int, *, num_layers: int = 1,
                 bidirectional: bool = True, normalise: bool = True) -> None:
        super().__init__()
        self.gru = nn.GRU(phrase_dim, embed_size, num_layers, batch_first=True,
                          bidirectional=bidirectional)
        self.normalise = normalise

    def phrase_vectors(self, batch: TextBatch) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, batch: TextBatch) -> torch.Tensor:
        x = self.phrase_vectors(batch)
        out = _run_gru(self.gru, x, batch.lengths)
        if self.normalise:
            out = l2norm(out)
        return out * batch.mask[..., None]


class PhraseEmbeddingEncoder(_PhraseSequenceEncoder):
    """Thesis text side: phrase id -> 300-d embedding -> BiGRU over the phrase sequence."""

    def __init__(self, *, num_phrases: int, num_words: int, word_dim: int = 300,
                 embed_size: int = 1024, num_layers: int = 1, bidirectional: bool = True,
                 normalise: bool = True, **_unused: object) -> None:
        super().__init__(word_dim, embed_size, num_layers=num_layers,
                         bidirectional=bidirectional, normalise=normalise)
        self.embed = nn.Embedding(num_phrases, word_dim, padding_idx=0)
        nn.init.uniform_(self.embed.weight, -0.1, 0.1)
        with torch.no_grad():
            self.embed.weight[0].zero_()

    def phrase_vectors(self, batch: TextBatch) -> torch.Tensor:
        return self.embed(batch.phrase_ids)


class WordCompositionEncoder(_PhraseSequenceEncoder):
    """Phrase vector = GRU over its word embeddings (directions averaged); handles OOV phrases."""

    def __init__(self, *, num_phrases: int, num_words: int, word_dim: int = 300,
                 embed_size: int = 1024, num_layers: int = 1, bidirectional: bool = True,
                 normalise: bool = True, **_unused: object) -> None:
        super().__init__(word_dim, embed_size, num_layers=num_layers,
                         bidirectional=bidirectional, normalise=normalise)
        self.embed = nn.Embedding(num_words, word_dim, padding_idx=0)
        nn.init.uniform_(self.embed.weight, -0.1, 0.1)
        with torch.no_grad():
            self.embed.weight[0].zero_()
        self.word_gru = nn.GRU(word_dim, word_dim, 1, batch_first=True, bidirectional=True)

    def phrase_vectors(self, batch: TextBatch) -> torch.Tensor:
        b, n, w = batch.word_ids.shape
        ids = batch.word_ids.reshape(b * n, w)
        lens = batch.word_lengths.reshape(b * n)
        out = _run_gru(self.word_gru, self.embed(ids), lens)  # [b*n, w, dim]
        # Mean over the real words of each phrase: order-aware (GRU) yet length-independent.
        wmask = torch.arange(w, device=lens.device)[None, :] < lens[:, None]
        vec = (out * wmask[..., None]).sum(1) / lens.clamp(min=1)[:, None]
        return vec.reshape(b, n, -1) * batch.mask[..., None]


class PretrainedPhraseEncoder(nn.Module):
    """Frozen pretrained phrase vectors -> joint space: a linear map plus a residual MLP.

    No recurrence over the text: a phrase's vector does not depend on its neighbours, which
    is what lets suggestions score a phrase alone exactly as training saw it.
    """

    def __init__(self, *, phrase_dim: int = 384, embed_size: int = 1024, mlp_hidden: int = 1024,
                 normalise: bool = True, **_unused: object) -> None:
        super().__init__()
        self.fc = nn.Linear(phrase_dim, embed_size)
        self.mlp = (nn.Sequential(nn.Linear(phrase_dim, mlp_hidden), nn.ReLU(),
                                  nn.Linear(mlp_hidden, embed_size))
                    if mlp_hidden > 0 else None)
        self.normalise = normalise

    def forward(self, batch: TextBatch) -> torch.Tensor:
        if batch.vectors is None:
            raise ValueError("the pretrained phrase encoder needs phrase vectors in the batch")
        x = batch.vectors
        out = self.fc(x)
        if self.mlp is not None:
            out = out + self.mlp(x)
        if self.normalise:
            out = l2norm(out)
        return out * batch.mask[..., None]


TextEncoderFactory = Callable[..., nn.Module]
_TEXT_ENCODERS: dict[str, TextEncoderFactory] = {}


def register_text_encoder(name: str, factory: TextEncoderFactory) -> None:
    """Make a text encoder selectable by name (``--text-encoder NAME``)."""
    _TEXT_ENCODERS[name] = factory


def list_text_encoders() -> list[str]:
    return sorted(_TEXT_ENCODERS)


def get_text_encoder(name: str, **cfg: object) -> nn.Module:
    """Build a registered text encoder; keyword arguments as in the encoder classes."""
    try:
        factory = _TEXT_ENCODERS[name]
    except KeyError:
        raise ValueError(f"unknown text encoder {name!r}; known: {list_text_encoders()}") from None
    return factory(**cfg)


register_text_encoder("phrase", PhraseEmbeddingEncoder)
register_text_encoder("word", WordCompositionEncoder)
register_text_encoder("pretrained", PretrainedPhraseEncoder)

PRETRAINED = "pretrained"


def uses_phrase_vectors(text_encoder: str) -> bool:
    """Whether texts for this encoder need frozen phrase vectors (``TextBatch.vectors``)."""
    return text_encoder == PRETRAINED
