"""One configuration for a SCAN model and its training; stored in every checkpoint.

Defaults follow the thesis (section 4.4) and the SCAN paper where the thesis is silent.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from artannot.retrieval.attention import AGGREGATIONS, CROSS_ATTN, RAW_NORMS
from artannot.retrieval.encoders import uses_phrase_vectors

GLOBAL_TEXTS = ("sentences", "units")
FRAGMENT_LOSSES = ("phrase", "both")


@dataclass
class ScanConfig:
    """Model and training options; every field is a CLI option of ``artannot train``."""

    # model
    embed_size: int = 1024
    word_dim: int = 300
    # registry name: pretrained (frozen sentence-encoder vectors + learned projection) |
    # phrase | word (the thesis' BiGRU encoders learned from scratch)
    text_encoder: str = "pretrained"
    text_model: str = "all_minilm_l6_v2"  # model manager name of the frozen phrase encoder
    phrase_dim: int = 384  # its vector size
    # Residual MLP of the pretrained projection (0: linear only, the default). On Flickr8k the
    # linear map generalised better (5-captions rsum 201.6 vs 187.4 on 1,000 unseen images) and
    # keeps the text model's geometry for phrases the training data never had.
    mlp_hidden: int = 0
    # Whole-image term (vision.global_features): the name of the encoder whose per-artwork
    # vector a second, two-tower score reads ("" = SCAN alone), its size (0 until training
    # finds the vectors in the data: then they are used), and its weight in
    # score = SCAN + global_weight * cos(image vector, mean phrase vector). On Flickr8k the
    # EfficientNet-Lite0/1/2 vector alone ranks captions twice as well as 36 RoI features.
    global_encoder: str = "lite012"
    global_dim: int = 0
    global_weight: float = 1.0
    # What stands for a text in that term: "sentences" = the mean of its sentence units when it
    # has any (captions trained with --sentences), else of its phrases; "units" = the mean of
    # all its units (models of session 6). On Flickr8k the towers alone reach i->t / t->i R@1
    # 30.8 / 20.8 with the sentence, 28.5 / 19.0 with the mean of all units (1,000 images).
    global_text: str = "sentences"
    # Extra epochs that fit only the two towers of the whole-image term, afresh, with SCAN
    # frozen at its best epoch: SCAN peaks after ~3 epochs on Flickr8k, the towers after 4-8.
    global_epochs: int = 10
    # Dropout on the standardised whole-image vector while training: 3,840 inputs and a few
    # thousand images overfit within 2-3 epochs without it. On Flickr8k (1,000 unseen images)
    # the towers alone reach i->t / t->i R@1 32.1 / 23.5 with 0.5, 29.1 / 20.9 without.
    global_dropout: float = 0.5
    num_layers: int = 1
    bidirectional: bool = True
    cross_attn: str = "i2t"
    agg: str = "AVG"
    lambda_softmax: float = 4.0  # thesis; the SCAN paper uses 9
    lambda_lse: float = 6.0
    raw_feature_norm: str = "clipped_l2norm"
    # loss
    margin: float = 0.2
    max_violation: bool = True
    # Epochs with summed negatives before the hardest ones (VSE++'s warm-up). The thesis uses
    # hardest negatives from the first step (0); on bench_scan a 5-epoch warm-up lifts rsum from
    # 80-286 to 472-513 for every encoder (docs/benchmarks.md), so it is the default.
    hardest_after: int = 5
    # Weight of the fragment-level loss (retrieval.loss.phrase_region_loss): trains the
    # region-phrase cosine that suggestions use. 0 = SCAN's sentence-level loss only.
    # On bench_scan it lifts box -> phrase R@1 26.4 -> 30.0 and artwork rsum 521 -> 541.
    phrase_loss: float = 1.0
    # Its form: "phrase" = each phrase against the regions of images without that exact
    # phrase (session 5); "both" = phrases whose words nest ("dog" / "black dog") are never
    # each other's negatives, and each phrase's best region must also rank its phrase above
    # the batch's other phrases (the direction suggestions rank in). On bench_scan at 60
    # epochs "both" lifts box -> phrase R@1 from 43.3 +- 1.8 to 47.6 +- 0.6 (seeds 0-2).
    fragment_loss: str = "both"
    # optimisation
    lr: float = 2e-4
    lr_update: int = 15  # epochs before the x0.1 decay
    num_epochs: int = 30
    batch_size: int = 128
    grad_clip: float = 2.0
    seed: int = 0
    # vocabulary
    min_phrase_count: int = 4
    min_word_count: int = 1
    # evaluation shards (images x texts per block)
    eval_shard: int = 128

    def __post_init__(self) -> None:
        if self.cross_attn not in CROSS_ATTN:
            raise ValueError(f"cross_attn must be one of {CROSS_ATTN}, not {self.cross_attn!r}")
        if self.agg not in AGGREGATIONS:
            raise ValueError(f"agg must be one of {AGGREGATIONS}, not {self.agg!r}")
        if self.raw_feature_norm not in RAW_NORMS:
            raise ValueError(f"raw_feature_norm must be one of {RAW_NORMS}")
        if self.global_dim and not uses_phrase_vectors(self.text_encoder):
            raise ValueError("the whole-image term needs the pretrained text encoder")
        if self.global_text not in GLOBAL_TEXTS:
            raise ValueError(f"global_text must be one of {GLOBAL_TEXTS}, not {self.global_text!r}")
        if self.fragment_loss not in FRAGMENT_LOSSES:
            raise ValueError(f"fragment_loss must be one of {FRAGMENT_LOSSES}, "
                             f"not {self.fragment_loss!r}")
        if not 0.0 <= self.global_dropout < 1.0:
            raise ValueError(f"global_dropout must be in [0, 1), not {self.global_dropout}")
        if self.global_epochs < 0:
            raise ValueError(f"global_epochs must be >= 0, not {self.global_epochs}")
        if self.hardest_after < 0:
            raise ValueError(f"hardest_after must be >= 0, not {self.hardest_after}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScanConfig:
        known = {f.name for f in fields(cls)}
        # checkpoints from before an option trained without it
        data = {"hardest_after": 0, "text_encoder": "phrase", "phrase_loss": 0.0,
                "global_text": "units", "global_epochs": 0, "global_dropout": 0.0,
                "fragment_loss": "phrase", **data}
        return cls(**{k: v for k, v in data.items() if k in known})

    def replace(self, **changes: Any) -> ScanConfig:
        return ScanConfig.from_dict({**self.to_dict(), **changes})
