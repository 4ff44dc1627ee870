"""The SCAN model: region and phrase-sequence encoders plus stacked cross attention.

Knows nothing of files: checkpoints are read and written by :mod:`artannot.retrieval.checkpoint`.
"""

from __future__ import annotations

import torch
from torch import nn

from artannot.retrieval.attention import (
    chunked_scores,
    l2norm,
    phrase_region_attention,
    xattn_scores,
)
from artannot.retrieval.config import ScanConfig
from artannot.retrieval.encoders import (
    ImageEncoder,
    TextBatch,
    get_text_encoder,
    uses_phrase_vectors,
)


class ScanModel(nn.Module):
    """Stacked Cross Attention (Lee et al. 2018) over regions and noun phrases."""

    def __init__(self, config: ScanConfig, *, feature_dim: int, num_phrases: int,
                 num_words: int) -> None:
        super().__init__()
        self.config = config
        self.feature_dim = feature_dim
        self.img_enc = ImageEncoder(feature_dim, config.embed_size)
        self.txt_enc = get_text_encoder(
            config.text_encoder, num_phrases=num_phrases, num_words=num_words,
            word_dim=config.word_dim, embed_size=config.embed_size,
            num_layers=config.num_layers, bidirectional=config.bidirectional,
            phrase_dim=config.phrase_dim, mlp_hidden=config.mlp_hidden)
        self.global_img: nn.Linear | None = None
        self.global_txt: nn.Linear | None = None
        if config.global_dim:
            self.global_img = nn.Linear(config.global_dim, config.embed_size)
            self.global_txt = nn.Linear(config.phrase_dim, config.embed_size)
            # standardisation of the whole-image vectors, fixed from the training images
            self.register_buffer("global_mean", torch.zeros(config.global_dim))
            self.register_buffer("global_std", torch.ones(config.global_dim))

    @property
    def uses_phrase_vectors(self) -> bool:
        """True when texts must carry frozen pretrained phrase vectors."""
        return uses_phrase_vectors(self.config.text_encoder)

    # -- encoders ------------------------------------------------------------
    def encode_images(self, feats: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Regions [B, k, feature_dim] -> unit vectors [B, k, D] (padding rows are zero)."""
        return self.img_enc(feats, mask)

    def encode_texts(self, batch: TextBatch) -> torch.Tensor:
        """Phrase sequences -> contextual unit phrase vectors [B, n, D] (padding is zero)."""
        return self.txt_enc(batch)

    # -- the whole-image term -------------------------------------------------
    @property
    def has_global(self) -> bool:
        return self.global_img is not None

    def set_global_stats(self, vectors: torch.Tensor) -> None:
        """Standardise whole-image vectors as the training images [N, global_dim] are."""
        self.global_mean.copy_(vectors.mean(0))
        self.global_std.copy_(vectors.std(0) + 1e-6)

    def encode_global_images(self, wholes: torch.Tensor) -> torch.Tensor:
        """Whole-image vectors [B, global_dim] -> unit vectors [B, D]."""
        assert self.global_img is not None
        x = (wholes - self.global_mean) / self.global_std
        x = nn.functional.dropout(x, self.config.global_dropout, self.training)
        return l2norm(self.global_img(x))

    def reset_global_towers(self) -> None:
        """Fresh weights for the whole-image term's two linear maps (seeded by the config)."""
        assert self.global_img is not None and self.global_txt is not None
        torch.manual_seed(self.config.seed + 1)
        self.global_img.reset_parameters()
        self.global_txt.reset_parameters()

    def encode_global_texts(self, batch: TextBatch) -> torch.Tensor:
        """A text's mean frozen unit vector (see ``ScanConfig.global_text``) -> [B, D]."""
        assert self.global_txt is not None and batch.vectors is not None
        units = batch.summary_mask if self.config.global_text == "sentences" else batch.mask
        m = units[..., None].to(batch.vectors.dtype)
        mean = (batch.vectors * m).sum(1) / m.sum(1).clamp(min=1.0)
        return l2norm(self.global_txt(mean))

    # -- scores --------------------------------------------------------------
    def _attn_kw(self) -> dict[str, object]:
        c = self.config
        return {"cross_attn": c.cross_attn, "lambda_softmax": c.lambda_softmax,
                "raw_norm": c.raw_feature_norm, "agg": c.agg, "lambda_lse": c.lambda_lse}

    def similarity(self, img: torch.Tensor, img_mask: torch.Tensor, txt: torch.Tensor,
                   txt_mask: torch.Tensor) -> torch.Tensor:
        """SCAN scores of every encoded image with every encoded text: [Ni, Nt]."""
        return xattn_scores(img, img_mask, txt, txt_mask, **self._attn_kw())  # type: ignore[arg-type]

    def sharded_similarity(self, img: torch.Tensor, img_mask: torch.Tensor, txt: torch.Tensor,
                           txt_mask: torch.Tensor, shard: int | None = None) -> torch.Tensor:
        """Same as :meth:`similarity`, computed in image x text shards (bounded memory)."""
        s = shard or self.config.eval_shard
        return chunked_scores(img, img_mask, txt, txt_mask, img_chunk=s, txt_chunk=s,
                              **self._attn_kw())

    def forward(self, feats: torch.Tensor, feat_mask: torch.Tensor,
                text: TextBatch) -> torch.Tensor:
        """Score matrix of a training batch (image i belongs with text i)."""
        img = self.encode_images(feats, feat_mask)
        txt = self.encode_texts(text)
        return self.similarity(img, feat_mask, txt, text.mask)

    # -- fragments -----------------------------------------------------------
    @staticmethod
    def fragment_scores(regions: torch.Tensor, phrases: torch.Tensor) -> torch.Tensor:
        """score(region_i, phrase_j) for encoded single regions [R, D] and phrases [P, D].

        This is exactly SCAN's score with k = 1 region and n = 1 phrase: the attention over a
        single element is 1, so every formulation and aggregation reduces to the cosine.
        """
        return regions @ phrases.T

    def phrase_attention(self, phrases: torch.Tensor, regions: torch.Tensor,
                         region_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Attention weights [n, k] of encoded phrases over encoded regions (heat maps)."""
        return phrase_region_attention(phrases, regions, region_mask,
                                       lambda_softmax=self.config.lambda_softmax,
                                       raw_norm=self.config.raw_feature_norm)
