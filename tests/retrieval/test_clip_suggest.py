"""CLIP zero-shot suggestions: cosine scores of crop and prompt embeddings, deterministic and
batch-invariant, text embeddings cached per phrase; the service's optional CLIP hook."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from artannot.core.geometry import Box
from artannot.models import ModelManager
from artannot.retrieval.clip_suggest import DEFAULT_PROMPT, ClipSuggester
from artannot.vision.clip import load_clip_folder
from tests.tiny_clip import build_tiny_clip

os.environ.setdefault("HF_HUB_OFFLINE", "1")
SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "sample_collection" / "images"
PHRASES = ["red cat", "great wave", "a boat", "mount fuji", "sky", "red cat"]  # one repeated


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_clip(tmp_path_factory.mktemp("hub") / "tiny-clip")


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    src = SAMPLE / "hokusai_great_wave.jpg"
    if src.is_file():
        im = Image.open(src).convert("RGB")
        im.thumbnail((200, 200))
        return np.asarray(im).copy()
    return np.random.default_rng(0).integers(0, 255, (120, 180, 3), dtype=np.uint8)


def _boxes(image: np.ndarray) -> list[Box]:
    h, w = image.shape[:2]
    return [Box(1, 1, w, h), Box(11, 21, 90, 60), Box(w - 29, h - 59, w, h), Box(5, 5, 5, 5)]


def _reference(folder: Path, image: np.ndarray, boxes: list[Box], phrases: list[str]) -> np.ndarray:
    """Cosines computed straight from transformers: padded crops, prompted phrases."""
    from transformers import CLIPImageProcessor, CLIPModel, CLIPTokenizerFast

    model = CLIPModel.from_pretrained(folder, local_files_only=True).eval()
    proc = CLIPImageProcessor.from_pretrained(folder, local_files_only=True)
    tok = CLIPTokenizerFast.from_pretrained(folder, local_files_only=True)
    fill = [round(255 * m) for m in proc.image_mean]
    pvs = []
    for b in boxes:
        x0, y0, x1, y1 = (int(v) for v in b.to_edges())
        crop = image[y0:y1, x0:x1]
        side = max(crop.shape[:2])
        canvas = np.empty((side, side, 3), np.uint8)
        canvas[:] = fill
        oy, ox = (side - crop.shape[0]) // 2, (side - crop.shape[1]) // 2
        canvas[oy:oy + crop.shape[0], ox:ox + crop.shape[1]] = crop
        pvs.append(proc(images=[Image.fromarray(canvas)], return_tensors="pt")["pixel_values"])
    feats = []
    with torch.no_grad():
        for pv in pvs:
            out = model.get_image_features(pixel_values=pv)
            feats.append((out if isinstance(out, torch.Tensor) else out.pooler_output)[0])
        texts = []
        for p in phrases:
            enc = tok([DEFAULT_PROMPT.format(p)], truncation=True, max_length=16, return_tensors="pt")
            assert enc["input_ids"][0, -1] == tok.eos_token_id  # truncation keeps the end token
            out = model.get_text_features(**enc)
            texts.append((out if isinstance(out, torch.Tensor) else out.pooler_output)[0])
    i = torch.nn.functional.normalize(torch.stack(feats), dim=-1)
    t = torch.nn.functional.normalize(torch.stack(texts), dim=-1)
    return (i @ t.T).numpy()


def test_zero_shot_scores_are_cosines_of_the_model_embeddings(tiny_clip: Path, image: np.ndarray) -> None:
    sug = ClipSuggester(load_clip_folder(tiny_clip, name="tiny"))
    boxes = _boxes(image)
    phrases = list(dict.fromkeys(PHRASES))
    ref = _reference(tiny_clip, image, boxes, phrases)
    ranked = sug.phrases_for_boxes(image, boxes, PHRASES, top_k=3)
    assert len(ranked) == len(boxes)
    for row, lst in zip(ref, ranked):
        order = np.argsort(-row, kind="stable")[:3]
        assert [p.phrase for p in lst] == [phrases[j] for j in order]
        np.testing.assert_allclose([p.score for p in lst], row[order], atol=1e-5)
        assert all(p.in_vocab for p in lst)
    np.testing.assert_allclose(sug.scores(sug.embed_regions(image, boxes), phrases), ref, atol=1e-5)
    # the same ranking from a stored embedding (e.g. a clip-backbone feature, float16)
    emb = sug.embed_regions(image, boxes[1:2])[0].astype(np.float16)
    assert [p.phrase for p in sug.phrases_for_region(emb, candidates=PHRASES, top_k=3)] == \
        [p.phrase for p in ranked[1]]
    assert sug.phrases_for_boxes(image, boxes, [], top_k=3) == [[], [], [], []]
    assert sug.phrases_for_region(emb) == []  # no candidates given, none set
    sug.candidates = ["sky", "  "]
    assert [p.phrase for p in sug.phrases_for_region(emb)] == ["sky"]


def test_deterministic_and_batch_invariant(tiny_clip: Path, image: np.ndarray) -> None:
    a = ClipSuggester(load_clip_folder(tiny_clip))
    b = ClipSuggester(load_clip_folder(tiny_clip))
    boxes = _boxes(image)
    first = a.phrases_for_boxes(image, boxes, PHRASES, top_k=5)
    assert b.phrases_for_boxes(image, boxes, PHRASES, top_k=5) == first
    one_by_one = [a.phrases_for_boxes(image, [bx], PHRASES, top_k=5)[0] for bx in boxes]
    for x, y in zip(first, one_by_one):
        assert [p.phrase for p in x] == [p.phrase for p in y]
        np.testing.assert_allclose([p.score for p in x], [p.score for p in y], atol=1e-5)
    b.clip.batch_size = 3  # crops split over forward passes: same vectors
    np.testing.assert_allclose(b.embed_regions(image, boxes * 2), np.concatenate(
        [a.embed_regions(image, boxes)] * 2), atol=1e-5)
    alone = np.concatenate([b.clip.embed_texts([DEFAULT_PROMPT.format(p)]) for p in PHRASES])
    np.testing.assert_allclose(a.embed_phrases(PHRASES), alone, atol=1e-5)


def test_text_embeddings_are_cached_per_phrase(tiny_clip: Path) -> None:
    sug = ClipSuggester(load_clip_folder(tiny_clip))
    calls: list[list[str]] = []
    embed = sug.clip.embed_texts
    sug.clip.embed_texts = lambda texts: (calls.append(list(texts)), embed(texts))[1]  # type: ignore[method-assign]
    v1 = sug.embed_phrases(PHRASES)
    assert calls == [[DEFAULT_PROMPT.format(p) for p in dict.fromkeys(PHRASES)]]
    np.testing.assert_array_equal(v1[0], v1[-1])  # "red cat" twice, embedded once
    v2 = sug.embed_phrases(["sky", "red cat", "old pine"])
    assert calls[1:] == [["a photo of old pine."]]
    np.testing.assert_array_equal(v2[0], v1[4])
    assert sug.embed_phrases([]).shape == (0, 16)
    bare = ClipSuggester(sug.clip, prompt=None)
    bare.embed_phrases(["sky"])
    assert calls[-1] == ["sky"]
    with pytest.raises(ValueError):
        ClipSuggester(sug.clip, prompt="a photo of")


def test_regions_for_phrase_ranks_boxes_with_clip_attention(tiny_clip: Path, image: np.ndarray) -> None:
    sug = ClipSuggester(load_clip_folder(tiny_clip))
    boxes = _boxes(image)
    s = _reference(tiny_clip, image, boxes, ["great wave"])[:, 0]
    hits = sug.regions_for_phrase(image, boxes, "great wave")
    assert [h.region for h in hits] == list(np.argsort(-s, kind="stable"))
    np.testing.assert_allclose([h.score for h in hits], np.sort(s)[::-1], atol=1e-5)
    z = np.exp(sug.clip.logit_scale * s - (sug.clip.logit_scale * s).max())
    np.testing.assert_allclose([h.attention for h in hits], (z / z.sum())[[h.region for h in hits]],
                               atol=1e-5)
    attn = sug.attention("great wave", sug.embed_regions(image, boxes))
    assert attn.shape == (4,) and abs(float(attn.sum()) - 1.0) < 1e-5
    assert len(sug.regions_for_phrase(image, boxes, "great wave", top_k=2)) == 2
    assert sug.regions_for_phrase(image, boxes, "  ") == []


def test_image_inputs(tmp_path: Path, tiny_clip: Path, image: np.ndarray) -> None:
    sug = ClipSuggester(load_clip_folder(tiny_clip))
    boxes = _boxes(image)[:2]
    p = tmp_path / "im.png"
    Image.fromarray(image).save(p)
    ref = sug.embed_regions(image, boxes)
    np.testing.assert_allclose(sug.embed_regions(p, boxes), ref, atol=1e-6)
    np.testing.assert_allclose(sug.embed_regions(Image.fromarray(image), [tuple(
        (b.xmin, b.ymin, b.xmax, b.ymax)) for b in boxes]), ref, atol=1e-6)


# -- the service's CLIP hook ---------------------------------------------------------------
def test_service_clip_phrases_for_box(tmp_path: Path, tiny_clip: Path, isolated_dirs) -> None:
    from artannot.core.catalog import Catalog
    from artannot.retrieval.service import ServiceError, SuggestionService
    from artannot.text.vocab import PhraseVocab

    root = tmp_path / "col"
    root.mkdir()
    src = SAMPLE / "hokusai_great_wave.jpg"
    im = Image.open(src).convert("RGB") if src.is_file() else Image.fromarray(
        np.random.default_rng(1).integers(0, 255, (300, 400, 3), dtype=np.uint8))
    im.thumbnail((320, 320))
    im.save(root / "wave.jpg")
    with Catalog.open(root) as cat:
        data_dir = cat.data_dir

    svc = SuggestionService(root, data_dir)
    assert svc.clip_model_name() is None
    with pytest.raises(ServiceError, match="import-dir"):
        svc.clip_phrases_for_box("wave.jpg", Box(1, 1, 50, 50))

    ModelManager().import_dir(tiny_clip, name="tiny_clip")
    PhraseVocab.build([["great wave", "boat", "sky"], ["sky", "mount fuji"]], min_count=1).save(
        data_dir / "vocab.json")
    svc = SuggestionService(root, data_dir)
    assert svc.clip_model_name() == "tiny_clip"
    assert SuggestionService(root, data_dir, clip="").clip_model_name() is None
    box = Box(21, 31, 180, 140)
    out = svc.clip_phrases_for_box("wave.jpg", box, [("red cat", "Red Cat"), ("boat", "Boat")],
                                   top_k=2)
    assert [r.origin for r in out] == ["artwork", "artwork", "collection", "collection"]
    assert [r.rank for r in out] == [1, 2, 3, 4]
    assert {r.phrase for r in out[:2]} == {"red cat", "boat"}
    assert {r.label for r in out[:2]} == {"Red Cat", "Boat"}
    assert "boat" not in [r.phrase for r in out[2:]]  # offered once, as the artwork's
    ref = ClipSuggester(load_clip_folder(tiny_clip))
    pixels = np.asarray(Image.open(root / "wave.jpg").convert("RGB"))
    [art] = ref.phrases_for_boxes(pixels, [box], ["red cat", "boat"], top_k=2)
    [col] = ref.phrases_for_boxes(pixels, [box], ["sky", "great wave", "mount fuji"], top_k=2)
    assert [(r.phrase, round(r.score, 5)) for r in out] == [
        (p.phrase, round(p.score, 5)) for p in art + col]
    assert svc.clip_suggester().name == "tiny_clip"

    fresh = SuggestionService(root, data_dir)
    fresh.clip_warm_up()  # the collection's phrases are embedded once, before any click
    assert set(fresh.clip_suggester()._cache) == {"great wave", "boat", "sky", "mount fuji"}
    SuggestionService(root, data_dir, clip="").clip_warm_up()  # off: nothing to do
