"""Layering rules as tests: the core and the model layers never import Qt, and lower layers
never import higher ones (app -> retrieval/vision/text -> core)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "artannot"
QT = ("PySide6", "PyQt5", "PyQt6", "shiboken6")
# package -> packages it must not import
FORBIDDEN = {
    "core": ("artannot.app", "artannot.text", "artannot.vision", "artannot.retrieval", "artannot.cli"),
    "text": ("artannot.app", "artannot.vision", "artannot.retrieval", "artannot.cli"),
    "vision": ("artannot.app", "artannot.text", "artannot.retrieval", "artannot.cli"),
    "retrieval": ("artannot.app", "artannot.cli"),
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports(layer: str) -> None:
    files = sorted((PACKAGE / layer).rglob("*.py"))
    assert files, f"no modules found in artannot/{layer}"
    bad = []
    for path in files:
        for name in imported_modules(path):
            if name.split(".")[0] in QT or any(name == f or name.startswith(f + ".") for f in FORBIDDEN[layer]):
                bad.append(f"{path.relative_to(PACKAGE.parent)} imports {name}")
    assert not bad, "layering violated:\n" + "\n".join(bad)


def test_models_manager_is_qt_free() -> None:
    qt = {n for n in imported_modules(PACKAGE / "models.py") if n.split(".")[0] in QT}
    assert not qt
