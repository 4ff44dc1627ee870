"""CLIP folders: import-dir with every file hashed, refusals, the clip region backbone and
``artannot detect --backbone <clip model>`` end to end (a tiny random CLIP, no downloads)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import typer
from typer.testing import CliRunner

from artannot.core.errors import ModelError
from artannot.models import ModelManager, clip_folder_plan, folder_sha256
from tests.tiny_clip import PROJECTION_DIM, build_tiny_clip

from .conftest import TEST_SIZES

os.environ.setdefault("HF_HUB_OFFLINE", "1")
CLIP_FILES = {"config.json", "model.safetensors", "merges.txt", "vocab.json", "tokenizer.json",
              "tokenizer_config.json", "preprocessor_config.json"}


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny CLIP folder as a hub download leaves it: plus a model card, a pickled copy of
    the weights (left out) and a git file (left out)."""
    d = build_tiny_clip(tmp_path_factory.mktemp("hub") / "tiny-clip-vit")
    (d / "README.md").write_text("# tiny clip\nlicence: MIT\n")
    (d / "pytorch_model.bin").write_bytes(b"pickled weights: never copied")
    (d / ".gitattributes").write_text("*.bin filter=lfs\n")
    return d


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _app() -> typer.Typer:
    from artannot.cli.detect_cmd import register as register_detect
    from artannot.cli.models_cmd import register as register_models

    app = typer.Typer()
    register_models(app)
    register_detect(app)

    @app.callback()
    def _root() -> None:
        pass

    return app


def _direct_embedding(folder: Path, crop: np.ndarray) -> np.ndarray:
    """The reference: pad to a square with the processor's mean colour, then the model."""
    from PIL import Image
    from transformers import CLIPImageProcessor, CLIPModel

    model = CLIPModel.from_pretrained(folder, local_files_only=True).eval()
    proc = CLIPImageProcessor.from_pretrained(folder, local_files_only=True)
    h, w = crop.shape[:2]
    side = max(h, w)
    canvas = np.empty((side, side, 3), np.uint8)
    canvas[:] = [round(255 * m) for m in proc.image_mean]
    canvas[(side - h) // 2:(side - h) // 2 + h, (side - w) // 2:(side - w) // 2 + w] = crop
    pv = proc(images=[Image.fromarray(canvas)], return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        out = model.get_image_features(pixel_values=pv)
    v = (out if isinstance(out, torch.Tensor) else out.pooler_output)[0].numpy()
    return v / np.linalg.norm(v)


# -- import-dir --------------------------------------------------------------------------
def test_import_dir_records_every_file_and_checks_each_load(tmp_path: Path, tiny_clip: Path,
                                                            monkeypatch) -> None:
    models = tmp_path / "models"
    mgr = ModelManager(models_dir=models, manifest=[])
    plan = clip_folder_plan(tiny_clip)
    assert set(plan.files) == CLIP_FILES | {"README.md"}
    assert plan.left_out == ("pytorch_model.bin",)
    assert "patch 8" in plan.summary and f"{PROJECTION_DIM}-d" in plan.summary

    status = mgr.import_dir(tiny_clip, name="tiny_clip")
    assert (status.name, status.role, status.architecture) == ("tiny_clip", "clip", "clip")
    assert status.installed and not status.known and status.hash_check == "recorded"
    assert status.description == "custom folder model (8 files)"
    record = json.loads((models / "registry.json").read_text())["models"]["tiny_clip"]
    expected = {f: _sha(tiny_clip / f) for f in CLIP_FILES | {"README.md"}}
    assert record["files"] == expected and record["role"] == "clip"
    listing = "".join(f"{expected[f]}  {f}\n" for f in sorted(expected))
    assert record["sha256"] == hashlib.sha256(listing.encode()).hexdigest() == folder_sha256(expected)
    installed = mgr.path_for("tiny_clip")
    assert installed == models / f"tiny_clip-{record['sha256'][:8]}" and installed.is_dir()
    assert sorted(p.name for p in installed.iterdir()) == sorted(expected)
    assert sorted(p.name for p in models.iterdir()) == ["registry.json", installed.name]  # no .part
    assert mgr.sha256_for("tiny_clip") == record["sha256"]
    assert [(r.name, r.ok, r.message) for r in mgr.verify()] == [
        ("tiny_clip", True, "recorded sha256 ok (8 files)")]
    assert [s.name for s in mgr.installed("clip")] == ["tiny_clip"]

    # Loads re-check every file, but hash only what changed (size + mtime cache).
    import artannot.models as models_mod

    def no_hashing(path):
        raise AssertionError(f"re-hashed an unchanged file: {path}")

    monkeypatch.setattr(models_mod, "sha256_file", no_hashing)
    assert mgr.path_for("tiny_clip") == installed
    monkeypatch.undo()

    (installed / "merges.txt").write_text("#version: 0.2\nr e\n")  # a swapped tokenizer
    with pytest.raises(ModelError) as err:
        mgr.path_for("tiny_clip")
    assert "merges.txt" in str(err.value) and "mismatch" in str(err.value)
    assert "import-dir" in str(err.value)
    [res] = mgr.verify()
    assert not res.ok and "merges.txt" in res.message
    from artannot.vision.clip import load_clip

    with pytest.raises(ModelError, match="merges.txt"):
        load_clip("tiny_clip", manager=mgr)
    (installed / "merges.txt").unlink()
    with pytest.raises(ModelError, match="incomplete: merges.txt is missing"):
        mgr.path_for("tiny_clip")


def _copy(src: Path, dst: Path, drop: tuple[str, ...] = ()) -> Path:
    shutil.copytree(src, dst)
    for f in drop:
        (dst / f).unlink()
    return dst


def test_import_dir_refuses_what_is_not_a_loadable_clip(tmp_path: Path, tiny_clip: Path) -> None:
    models = tmp_path / "models"
    mgr = ModelManager(models_dir=models, manifest=[])
    bert = _copy(tiny_clip, tmp_path / "bert")
    cfg = json.loads((bert / "config.json").read_text())
    (bert / "config.json").write_text(json.dumps({**cfg, "model_type": "bert"}))
    cases = {
        bert: "model_type 'bert', not 'clip'",
        _copy(tiny_clip, tmp_path / "noconfig", ("config.json",)): "config.json is missing",
        _copy(tiny_clip, tmp_path / "pickled", ("model.safetensors",)):
            "pickled (pytorch_model.bin); artannot loads safetensors only",
        _copy(tiny_clip, tmp_path / "noweights", ("model.safetensors", "pytorch_model.bin")):
            "incomplete: missing model.safetensors",
        _copy(tiny_clip, tmp_path / "notok", ("tokenizer.json", "merges.txt")):
            "missing merges.txt (or tokenizer.json)",
        _copy(tiny_clip, tmp_path / "noproc", ("preprocessor_config.json", "vocab.json")):
            "missing preprocessor_config.json",
        tmp_path / "nowhere": "no such folder",
    }
    for folder, message in cases.items():
        with pytest.raises(ModelError) as err:
            mgr.import_dir(folder)
        assert message in str(err.value), (folder.name, str(err.value))
    with pytest.raises(ModelError, match="import-dir"):  # a CLIP is a folder, not a file
        mgr.import_file(tiny_clip / "model.safetensors", name="c", role="clip", architecture="clip")
    # vocab.json alone is enough when tokenizer.json is there
    ok = _copy(tiny_clip, tmp_path / "tokjson", ("vocab.json", "merges.txt"))
    assert mgr.import_dir(ok).name == "tokjson"
    # a name clash: with an installed model, and with a manifest name
    with pytest.raises(ModelError, match="already exists"):
        mgr.import_dir(tiny_clip, name="tokjson")
    clash = ModelManager(models_dir=models)
    with pytest.raises(ModelError, match="already exists"):
        clash.import_dir(tiny_clip, name="efficientnet_lite0_imagenet")
    assert sorted(p.name for p in models.iterdir() if p.name != "registry.json") == [
        mgr.path_for("tokjson").name]  # refusals left nothing behind


def test_cli_import_dir_list_verify(tmp_path: Path, tiny_clip: Path, isolated_dirs) -> None:
    runner = CliRunner()
    app = _app()
    res = runner.invoke(app, ["models", "import-dir", str(tiny_clip), "--name", "vit_tiny"])
    assert res.exit_code == 0, res.output
    assert "imported vit_tiny (CLIP ViT, image 32 px, patch 8, 16-d joint space, 8 files" in res.output
    assert "left out (not needed; only safetensors weights are loaded): pytorch_model.bin" in res.output
    res = runner.invoke(app, ["models", "list", "-v"])
    assert res.exit_code == 0
    line = next(ln for ln in res.output.splitlines() if "vit_tiny" in ln)
    assert line.split()[:3] == ["installed", "clip", "vit_tiny"] and "(custom)" in line
    assert "custom folder model (8 files)" in res.output
    res = runner.invoke(app, ["models", "verify"])
    assert res.exit_code == 0 and "ok     vit_tiny: recorded sha256 ok (8 files)" in res.output
    res = runner.invoke(app, ["models", "import-dir", str(tiny_clip), "--name", "vit_tiny"])
    assert res.exit_code == 1 and "already exists" in res.output
    folder = next(isolated_dirs["models"].glob("vit_tiny-*"))
    with open(folder / "model.safetensors", "r+b") as f:  # one flipped byte in the weights
        f.seek(-1, 2)
        last = f.read(1)
        f.seek(-1, 2)
        f.write(bytes([last[0] ^ 1]))
    res = runner.invoke(app, ["models", "verify"])
    assert res.exit_code == 1 and "FAILED vit_tiny" in res.output and "model.safetensors" in res.output


# -- the clip backbone -------------------------------------------------------------------
@pytest.fixture
def clip_manager(tmp_path: Path, tiny_clip: Path) -> ModelManager:
    mgr = ModelManager(models_dir=tmp_path / "models")
    mgr.import_dir(tiny_clip, name="tiny_clip")
    return mgr


def test_clip_backbone_features_are_the_clip_embeddings_of_the_crops(
        clip_manager: ModelManager, tiny_clip: Path, small_images: list[Path]) -> None:
    from artannot.vision.clip import ClipRegionExtractor
    from artannot.vision.loader import load_extractor
    from artannot.vision.runner import load_rgb

    ext = load_extractor("tiny_clip", manager=clip_manager, **TEST_SIZES)
    assert isinstance(ext, ClipRegionExtractor) and ext.dim == PROJECTION_DIM
    ident = ext.identity()
    assert ident["backbone"] == "clip" and ident["weights"] == "tiny_clip"
    assert ident["sha256"] == clip_manager.sha256_for("tiny_clip") and ident["dim"] == 16
    # "clip" (the architecture) means the first installed CLIP model
    assert load_extractor("clip", manager=clip_manager).weights == "tiny_clip"

    im = load_rgb(small_images[0])
    h, w = im.shape[:2]
    edges = np.array([[0, 0, w, h], [10.4, 20.6, 90.2, 60.0], [w - 30, h - 120, w, h]], np.float32)
    [(feats, whole)] = ext.extract([im], [edges])
    assert feats.shape == (3, PROJECTION_DIM) and whole.shape == (PROJECTION_DIM,)
    assert np.allclose(np.linalg.norm(feats, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(feats[0], whole, atol=1e-5)  # box 0 is the whole image
    np.testing.assert_allclose(feats[1], _direct_embedding(tiny_clip, im[20:60, 10:91]), atol=1e-5)
    np.testing.assert_allclose(feats[2], _direct_embedding(tiny_clip, im[h - 120:h, w - 30:w]),
                               atol=1e-5)
    assert not np.allclose(feats[1], feats[2], atol=1e-3)
    # a crop's feature does not depend on its batch (one box at a time, several images)
    other = load_rgb(small_images[1])
    both = ext.extract([other, im], [edges[:1], edges])
    np.testing.assert_allclose(both[1][0], feats, atol=1e-5)
    for j in range(3):
        np.testing.assert_allclose(ext.extract([im], [edges[j:j + 1]])[0][0][0], feats[j], atol=1e-5)


def test_clip_backbone_without_a_clip_model(manager: ModelManager) -> None:
    from artannot.vision.backbones import build_backbone
    from artannot.vision.loader import load_detector, load_extractor

    with pytest.raises(ModelError, match="import-dir"):
        load_extractor("clip", manager=manager)
    with pytest.raises(ModelError, match="installed CLIP model folder"):
        build_backbone("clip")
    with pytest.raises(ModelError, match="is a backbone, not a detector"):
        load_detector("efficientnet_lite0_imagenet", manager=manager)


def test_detect_with_the_clip_backbone_end_to_end(tmp_path: Path, tiny_clip: Path, isolated_dirs,
                                                  small_images: list[Path]) -> None:
    from artannot.vision.clip import load_clip
    from artannot.vision.feature_store import FeatureStore
    from artannot.vision.pipeline import pipeline_for_store
    from artannot.vision.runner import load_rgb

    folder = tmp_path / "col"
    folder.mkdir()
    for p in small_images:
        shutil.copy(p, folder / p.name)
    runner = CliRunner()
    app = _app()
    res = runner.invoke(app, ["models", "import-dir", str(tiny_clip), "--name", "tiny_clip"])
    assert res.exit_code == 0, res.output
    args = ["detect", str(folder), "--backbone", "tiny_clip", "--k", "4", "--min-size", "224",
            "--max-size", "320", "--device", "cpu"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert f"{len(small_images)} processed, 0 unchanged, 0 failed" in res.output
    res = runner.invoke(app, args)
    assert res.exit_code == 0 and f"{len(small_images)} unchanged" in res.output

    mgr = ModelManager()
    sha = mgr.sha256_for("tiny_clip")
    [index] = [p for p in isolated_dirs["data"].rglob("index.sqlite") if p.parent.parent.name == "features"]
    assert index.parent.name == f"proposals__tiny_clip-{sha[:8]}__k4_224-320"
    clip = load_clip("tiny_clip", manager=mgr)
    with FeatureStore(index.parent, readonly=True) as store:
        assert store.dim == PROJECTION_DIM and len(store) == len(small_images)
        meta = store.meta
        assert meta["dim"] == PROJECTION_DIM
        assert meta["backbone"] == {"backbone": "clip", "weights": "tiny_clip", "sha256": sha,
                                    "dim": PROJECTION_DIM,
                                    "params": {"min_size": 224, "max_size": 320,
                                               "pool": "clip_crop_pad_square"}}
        for p in small_images:
            rs = store.get(p.name)
            assert rs.features.shape == (4, PROJECTION_DIM) and rs.model == meta
            im = load_rgb(folder / p.name)
            # stored (float16) = the CLIP embedding of each stored box's crop
            np.testing.assert_allclose(np.asarray(rs.features, np.float32),
                                       clip.embed_boxes(im, rs.edges()), atol=2e-3)
            np.testing.assert_allclose(np.asarray(rs.whole_image_feature, np.float32),
                                       clip.embed_crops([im])[0], atol=2e-3)
        again = pipeline_for_store(meta, device="cpu")  # a drawn box gets the same features
        assert again.extractor.identity() == meta["backbone"]
        assert again.store_dir(isolated_dirs["data"]).name == index.parent.name
