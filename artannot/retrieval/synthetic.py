"""A synthetic collection with known region <-> phrase pairs, for tests and benchmarks.

Scenes are rendered with PIL: 2-5 coloured shapes on a textured, low-saturation background;
each shape is described by a phrase such as "red triangle" or "small blue circle", and its
ground-truth box is known. Region features (:func:`region_features`) are *hand-crafted and
computed from pixels only*: a hue histogram of the saturated pixels of the crop, the
foreground fraction, Hu moments and fill ratio of the foreground mask, grey statistics and the
box geometry, expanded to ``dim`` by a fixed random ReLU projection (seed 1234) so they have the
shape of CNN features (2048 for ResNet). They never see the labels. Proposals mix the
ground-truth boxes with random distractor boxes, like a detector's k regions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from artannot.retrieval.data import ArtworkItem
from artannot.retrieval.evaluate import FragmentSample

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30), "orange": (240, 140, 20), "yellow": (230, 220, 30),
    "green": (40, 180, 50), "blue": (40, 70, 220), "purple": (150, 40, 190),
}
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "diamond")
SIZES: dict[str, tuple[float, float]] = {"small": (0.06, 0.09), "large": (0.14, 0.20)}

EdgeBox = tuple[float, float, float, float]  # 0-based edges (x0, y0, x1, y1)


@dataclass
class SyntheticShape:
    shape: str
    colour: str
    size: str
    box: EdgeBox
    phrase: str


@dataclass
class SyntheticScene:
    id: str
    image: Image.Image
    shapes: list[SyntheticShape]
    split: str = "train"
    boxes: list[EdgeBox] = field(default_factory=list)  # proposals (gt first)

    @property
    def phrases(self) -> list[str]:
        """The artwork's text: shape phrases from left to right."""
        return [s.phrase for s in sorted(self.shapes, key=lambda s: s.box[0])]


def _background(rng: np.random.Generator, size: int) -> Image.Image:
    base = rng.integers(90, 170)
    noise = rng.normal(0, 18, (size, size)).cumsum(axis=1) * 0.15
    stripes = 12 * np.sin(np.arange(size)[:, None] / rng.uniform(3, 9) + rng.uniform(0, 6))
    grey = np.clip(base + noise + stripes + rng.normal(0, 6, (size, size)), 0, 255)
    tint = rng.integers(-8, 9, 3)  # slight, low-saturation tint
    rgb = np.clip(grey[..., None] + tint[None, None, :], 0, 255).astype(np.uint8)
    return Image.fromarray(rgb, "RGB")


def _draw(draw: ImageDraw.ImageDraw, shape: str, cx: float, cy: float, r: float,
          fill: tuple[int, int, int]) -> None:
    if shape == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
    elif shape == "square":
        draw.rectangle([cx - r, cy - r, cx + r, cy + r], fill=fill)
    elif shape == "triangle":
        draw.polygon([(cx, cy - r), (cx + r, cy + r), (cx - r, cy + r)], fill=fill)
    else:
        draw.polygon([(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)], fill=fill)


def make_scene(idx: int, rng: np.random.Generator, *, size: int = 128,
               exclude: frozenset[str] = frozenset()) -> SyntheticScene:
    """One scene with 2-5 non-overlapping shapes; phrases in ``exclude`` are not drawn."""
    img = _background(rng, size)
    draw = ImageDraw.Draw(img)
    shapes: list[SyntheticShape] = []
    n = int(rng.integers(2, 6))
    for _ in range(200):
        if len(shapes) == n:
            break
        shape = SHAPES[rng.integers(len(SHAPES))]
        colour = list(COLOURS)[rng.integers(len(COLOURS))]
        sz = list(SIZES)[rng.integers(len(SIZES))]
        phrase = f"{sz} {colour} {shape}" if rng.random() < 0.5 else f"{colour} {shape}"
        if phrase in exclude or f"{colour} {shape}" in exclude:
            continue
        r = rng.uniform(*SIZES[sz]) * size
        cx, cy = rng.uniform(r + 1, size - r - 1, 2)
        box = (cx - r - 1, cy - r - 1, cx + r + 1, cy + r + 1)
        if any(not (box[2] < b.box[0] or b.box[2] < box[0] or box[3] < b.box[1]
                    or b.box[3] < box[1]) for b in shapes):
            continue
        jitter = rng.integers(-15, 16, 3)
        fill = tuple(int(np.clip(c + j, 0, 255)) for c, j in zip(COLOURS[colour], jitter))
        _draw(draw, shape, cx, cy, r, fill)  # type: ignore[arg-type]
        shapes.append(SyntheticShape(shape, colour, sz, box, phrase))
    return SyntheticScene(f"synthetic/{idx:06d}.png", img, shapes)


def proposals(scene: SyntheticScene, k: int, rng: np.random.Generator) -> list[EdgeBox]:
    """Ground-truth boxes plus random distractors, up to ``k`` (at least the gt boxes)."""
    size = scene.image.width
    boxes = [s.box for s in scene.shapes]
    while len(boxes) < k:
        w, h = rng.uniform(0.08, 0.5, 2) * size
        x0, y0 = rng.uniform(0, size - w), rng.uniform(0, size - h)
        boxes.append((x0, y0, x0 + w, y0 + h))
    return boxes


_HAND = 12 + 1 + 7 + 1 + 2 + 3  # hue hist, fg frac, Hu moments, fill ratio, grey stats, geometry


def _hand_features(hsv: np.ndarray, grey: np.ndarray, box: EdgeBox, size: int) -> np.ndarray:
    import cv2

    x0, y0, x1, y1 = (int(round(v)) for v in box)
    x0, y0 = max(0, x0), max(0, y0)
    x1, y1 = max(x0 + 1, min(size, x1)), max(y0 + 1, min(size, y1))
    crop = hsv[y0:y1, x0:x1]
    fg = crop[..., 1] > 110
    area = fg.size
    hist = np.bincount((crop[..., 0][fg].astype(int) * 12) // 256, minlength=12)[:12] / area
    mask = fg.astype(np.uint8)
    hu = cv2.HuMoments(cv2.moments(mask, binaryImage=True)).ravel()
    hu = np.sign(hu) * np.log10(np.abs(hu) + 1e-12) / 12.0
    ys, xs = np.nonzero(fg)
    fill = fg.sum() / ((np.ptp(ys) + 1) * (np.ptp(xs) + 1)) if len(ys) else 0.0
    g = grey[y0:y1, x0:x1] / 255.0
    geo = [(x1 - x0) / size, (y1 - y0) / size, (x1 - x0) * (y1 - y0) / size**2]
    return np.concatenate([hist * 4, [fg.mean()], hu, [fill], [g.mean(), g.std()], geo])


def region_features(image: Image.Image, boxes: list[EdgeBox], dim: int = 2048) -> np.ndarray:
    """Pixel-derived region features [len(boxes), dim] (float32); see the module docstring."""
    hsv = np.asarray(image.convert("HSV"))
    grey = np.asarray(image.convert("L"), dtype=np.float32)
    hand = np.stack([_hand_features(hsv, grey, b, image.width) for b in boxes])
    proj = np.random.default_rng(1234).normal(0, 1 / np.sqrt(_HAND), (_HAND, dim))
    return np.maximum(hand @ proj, 0).astype(np.float32)


def make_collection(n: int, *, k: int = 8, dim: int = 2048, seed: int = 0, size: int = 128,
                    splits: tuple[float, float, float] = (0.8, 0.1, 0.1),
                    exclude: frozenset[str] = frozenset(), coarse: bool = False
                    ) -> tuple[list[ArtworkItem], list[FragmentSample], list[SyntheticScene]]:
    """``n`` scenes as SCAN items (k proposals, shuffled), gt fragments and the scenes.

    ``coarse`` gives k = 1: the whole-image feature only.
    """
    rng = np.random.default_rng(seed)
    n_train = int(round(n * splits[0]))
    n_val = int(round(n * splits[1]))
    items: list[ArtworkItem] = []
    frags: list[FragmentSample] = []
    scenes: list[SyntheticScene] = []
    for i in range(n):
        sc = make_scene(i, rng, size=size, exclude=exclude)
        sc.split = "train" if i < n_train else "val" if i < n_train + n_val else "test"
        boxes = [(0.0, 0.0, float(size), float(size))] if coarse else proposals(sc, k, rng)
        order = rng.permutation(len(boxes))
        sc.boxes = [boxes[j] for j in order]
        feats = region_features(sc.image, sc.boxes, dim)
        items.append(ArtworkItem(sc.id, feats, sc.phrases, sc.split))
        gt = [s.box for s in sc.shapes]
        frags.append(FragmentSample(sc.id, region_features(sc.image, gt, dim),
                                    [s.phrase for s in sc.shapes]))
        scenes.append(sc)
    return items, frags, scenes


def describe(scene: SyntheticScene) -> str:
    """A museum-style sentence naming every shape, so phrase extraction has real text to parse."""
    names = [f"a {p}" for p in scene.phrases]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"{listed[0].upper()}{listed[1:]} on a grey ground."


def write_collection(root: Path, n: int, *, seed: int = 0, size: int = 160) -> list[SyntheticScene]:
    """Render ``n`` scenes as an on-disk collection (images, JSON records, VOC ground truth).

    This is the known-answer input for the *real* pipeline: index, phrases, detect, train,
    evaluate all run on it exactly as on a museum collection.
    """
    from artannot.core.geometry import Box
    from artannot.core.model import Region
    from artannot.core.voc import new_annotation, save_voc

    root = Path(root)
    for sub in ("images", "metadata", "annotations"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    scenes = []
    for i in range(n):
        sc = make_scene(i, rng, size=size)
        stem = f"scene_{i:05d}"
        image_path = root / "images" / f"{stem}.png"
        sc.image.save(image_path)
        record = {"title": f"Synthetic scene {i}", "description": describe(sc), "museum": "artannot test bench"}
        (root / "metadata" / f"{stem}.json").write_text(json.dumps(record), encoding="utf-8")
        ann = new_annotation(image_path, size, size)
        ann.regions = [Region(Box.from_edges(*s.box).clamped(size, size).rounded(), phrase=s.phrase)
                       for s in sc.shapes]
        save_voc(ann, root / "annotations" / f"{stem}.xml", backup=False)
        sc.id = f"images/{stem}.png"
        scenes.append(sc)
    return scenes
