"""A tiny random CLIP saved as a Hugging Face folder (no downloads): the test double for a
real ViT-B/32 copied from another machine.

The tokenizer is a byte-level BPE like CLIP's: single characters and their ``</w>``
(end-of-word) variants, a few merges, and the two special tokens at the end of the vocabulary
(as in the real one, so ``<|endoftext|>`` is the largest id and pooling finds it).
"""

from __future__ import annotations

import json
import string
from pathlib import Path

PROJECTION_DIM = 16
IMAGE_SIZE = 32
MERGES = ["r e", "re d</w>", "c a", "ca t</w>", "w a", "wa v", "wav e</w>"]


def tiny_vocab() -> dict[str, int]:
    chars = list(string.ascii_lowercase + string.digits + ".,'-!?")
    tokens = chars + [c + "</w>" for c in chars]
    for m in MERGES:
        tokens.append(m.replace(" ", ""))
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    return {t: i for i, t in enumerate(dict.fromkeys(tokens))}


def build_tiny_clip(folder: Path, *, seed: int = 0) -> Path:
    """config.json + model.safetensors + vocab.json/merges.txt/tokenizer files +
    preprocessor_config.json in ``folder`` (created)."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPTokenizerFast

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab = tiny_vocab()
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(MERGES) + "\n", encoding="utf-8")
    CLIPTokenizerFast(vocab=vocab, merges=[tuple(m.split()) for m in MERGES]).save_pretrained(folder)
    bos, eos = vocab["<|startoftext|>"], vocab["<|endoftext|>"]
    cfg = CLIPConfig(
        text_config={"vocab_size": len(vocab), "hidden_size": 32, "num_hidden_layers": 1,
                     "num_attention_heads": 2, "intermediate_size": 37,
                     "max_position_embeddings": 16, "bos_token_id": bos, "eos_token_id": eos,
                     "pad_token_id": eos},
        vision_config={"image_size": IMAGE_SIZE, "patch_size": 8, "hidden_size": 32,
                       "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 37},
        projection_dim=PROJECTION_DIM)
    torch.manual_seed(seed)
    CLIPModel(cfg).save_pretrained(folder, safe_serialization=True)
    CLIPImageProcessor(size={"shortest_edge": IMAGE_SIZE},
                       crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}).save_pretrained(folder)
    return folder
