"""Model manager: manifest, bundled weights, import with hash checks, verify, register."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from artannot.core.errors import ModelError
from artannot.models import ManifestEntry, ModelManager, load_manifest, sha256_file

LITE0_SHA = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"


def _file(path: Path, payload: bytes) -> Path:
    path.write_bytes(payload)
    return path


def _manifest(*entries: ManifestEntry) -> list[ManifestEntry]:
    return list(entries)


def test_repo_manifest_lists_required_models() -> None:
    entries = {e.name: e for e in load_manifest()}
    for name in ("fasterrcnn_resnet50_fpn_coco", "fasterrcnn_resnet50_fpn_v2_coco",
                 "resnet50_imagenet_v1", "resnet101_imagenet_v1", "efficientnet_lite0_imagenet"):
        assert name in entries
    frcnn = entries["fasterrcnn_resnet50_fpn_coco"]
    assert frcnn.hash_is_prefix and frcnn.sha256_prefix == "258fb6c6"
    assert frcnn.filename == "fasterrcnn_resnet50_fpn_coco-258fb6c6.pth"
    lite = entries["efficientnet_lite0_imagenet"]
    assert not lite.hash_is_prefix and lite.sha256 == LITE0_SHA and lite.bundled


def test_bundled_efficientnet_is_installed_out_of_the_box(manager: ModelManager, models_dir: Path) -> None:
    rows = {s.name: s for s in manager.list()}
    lite = rows["efficientnet_lite0_imagenet"]
    assert lite.installed and lite.bundled and lite.hash_check == "full"
    assert lite.path is not None and lite.path.name == "efficientnet-lite0-57934424.pth"
    assert not rows["fasterrcnn_resnet50_fpn_coco"].installed
    assert manager.path_for("efficientnet_lite0_imagenet") == lite.path
    assert manager.sha256_for("efficientnet_lite0_imagenet") == LITE0_SHA
    assert not any(models_dir.glob("*.pth"))  # nothing was copied


def test_env_var_chooses_models_folder(models_dir: Path) -> None:
    assert ModelManager().models_dir == models_dir


def test_import_by_hash_and_by_name(tmp_path: Path, models_dir: Path) -> None:
    full = _file(tmp_path / "a.bin", b"full-hash weights")
    pref = _file(tmp_path / "b.bin", b"prefix-hash weights")
    m = ModelManager(manifest=_manifest(
        ManifestEntry("full", "backbone", "resnet18", "full.pth", sha256=sha256_file(full)),
        ManifestEntry("pref", "detector", "fasterrcnn_resnet50_fpn", "pref-x.pth",
                      sha256_prefix=sha256_file(pref)[:8]),
    ))
    s1 = m.import_file(full)  # recognised by its hash
    assert s1.name == "full" and s1.installed and (models_dir / "full.pth").read_bytes() == full.read_bytes()
    s2 = m.import_file(pref, name="pref")
    assert s2.hash_check == "prefix" and m.path_for("pref") == models_dir / "pref-x.pth"
    assert {r.name: r.ok for r in m.verify()} == {"full": True, "pref": True}


def test_hash_mismatch_is_refused(tmp_path: Path, models_dir: Path) -> None:
    good = b"the real checkpoint"
    m = ModelManager(manifest=[ManifestEntry(
        "det", "detector", "fasterrcnn_resnet50_fpn", "det-1234.pth",
        sha256=hashlib.sha256(good).hexdigest())])
    bad = _file(tmp_path / "det-1234.pth", b"the real checkpoinT")  # one byte off
    with pytest.raises(ModelError, match="corrupted"):
        m.import_file(bad, name="det")
    with pytest.raises(ModelError, match="does not match"):
        m.import_file(bad)  # same file name as the entry, different hash
    assert not (models_dir / "det-1234.pth").exists()
    assert not m.list()[0].installed


def test_unknown_file_needs_role_then_is_recorded(tmp_path: Path, models_dir: Path) -> None:
    m = ModelManager(manifest=[])
    f = _file(tmp_path / "mine.pt", b"custom")
    with pytest.raises(ModelError, match="custom"):
        m.import_file(f)
    s = m.import_file(f, name="mine", role="scan", architecture="scan_i2t",
                      provenance="trained on the Chinese set")
    assert s.installed and not s.known and s.hash_check == "recorded"
    assert m.path_for("mine").read_bytes() == b"custom"
    assert m.describe("mine") == ("scan", "scan_i2t")
    assert ModelManager(manifest=[]).list()[0].source == "trained on the Chinese set"


def test_corruption_after_import_is_detected(tmp_path: Path, models_dir: Path) -> None:
    m = ModelManager(manifest=[])
    m.import_file(_file(tmp_path / "w.pt", b"weights v1"), name="w", role="backbone",
                  architecture="resnet18")
    installed = m.path_for("w")
    installed.write_bytes(b"weights v2 (damaged)")
    os.utime(installed, ns=(1, 1))  # also a new mtime: the cache must not hide it
    with pytest.raises(ModelError, match="mismatch"):
        m.path_for("w")
    [res] = m.verify()
    assert not res.ok and "mismatch" in res.message


def test_register_copies_and_replaces(tmp_path: Path, models_dir: Path) -> None:
    m = ModelManager(manifest=[])
    m.register(_file(tmp_path / "e1.pt", b"epoch 1"), "scan_chinese", "scan", "scan_t2i", "train run 1")
    first = m.path_for("scan_chinese")
    m.register(_file(tmp_path / "e2.pt", b"epoch 2"), "scan_chinese", "scan", "scan_t2i", "train run 2")
    assert m.path_for("scan_chinese").read_bytes() == b"epoch 2"
    assert not first.exists()  # old file removed
    with pytest.raises(ModelError):
        ModelManager().register(tmp_path / "e2.pt", "efficientnet_lite0_imagenet", "backbone", "x", "")


def test_unknown_and_missing_models(manager: ModelManager) -> None:
    with pytest.raises(ModelError, match="unknown model"):
        manager.path_for("nope")
    with pytest.raises(ModelError, match="not installed"):
        manager.path_for("resnet101_imagenet_v1")


def test_cli_list_import_verify(tmp_path: Path, models_dir: Path) -> None:
    from artannot.cli.models_cmd import register

    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:  # keep "models" a sub-command
        pass

    runner = CliRunner()
    res = runner.invoke(app, ["models", "list"])
    assert res.exit_code == 0, res.output
    assert "bundled" in res.output and "efficientnet_lite0_imagenet" in res.output
    assert "missing" in res.output and "prefix only" in res.output

    f = _file(tmp_path / "fasterrcnn_resnet50_fpn_coco-258fb6c6.pth", b"not the checkpoint")
    res = runner.invoke(app, ["models", "import", str(f)])
    assert res.exit_code == 1 and "does not match" in res.output

    g = _file(tmp_path / "mine.pt", b"mine")
    res = runner.invoke(app, ["models", "import", str(g), "--name", "mine", "--role", "backbone",
                              "--architecture", "resnet18"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["models", "verify"])
    assert res.exit_code == 0 and "ok     mine" in res.output and "efficientnet_lite0_imagenet" in res.output
    (models_dir / next(p.name for p in models_dir.glob("mine-*"))).write_bytes(b"broken")
    res = runner.invoke(app, ["models", "verify"])
    assert res.exit_code == 1 and "FAILED mine" in res.output


def test_prefix_model_swapped_after_import_is_refused(tmp_path: Path, models_dir: Path) -> None:
    """A file swapped in after import, with the same hash prefix, size and mtime (renamed over
    the original), is caught: the full sha256 recorded at import is checked, and the hash
    cache keys on the inode too."""
    orig = b"original weights 00000"
    prefix = hashlib.sha256(orig).hexdigest()[:2]  # a short prefix makes a collision findable
    other = next(c for i in range(100_000)
                 if hashlib.sha256(c := b"swapped! weights %05d" % i).hexdigest()[:2] == prefix)
    assert len(other) == len(orig) and other != orig
    m = ModelManager(manifest=[ManifestEntry("pref", "detector", "fasterrcnn_resnet50_fpn",
                                             "pref-x.pth", sha256_prefix=prefix)])
    m.import_file(_file(tmp_path / "w.pth", orig), name="pref")
    installed = m.path_for("pref")  # hashes once and caches the stamp
    st = installed.stat()
    swap = _file(tmp_path / "swap.pth", other)
    os.utime(swap, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(swap, installed)
    assert installed.stat().st_size == st.st_size and installed.stat().st_mtime_ns == st.st_mtime_ns
    with pytest.raises(ModelError, match="changed since it was imported"):
        m.path_for("pref")
    assert not m.verify(["pref"])[0].ok
