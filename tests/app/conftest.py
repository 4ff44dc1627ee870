"""Shared fixtures for the Qt tests: offscreen platform, isolated settings, tiny images."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before any Qt import

from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """QSettings and app data of the code under test go to a temp folder, never $HOME."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))


@pytest.fixture
def make_image(tmp_path: Path) -> Callable[..., Path]:
    """Write a small gradient image and return its path."""

    def _make(width: int = 200, height: int = 150, name: str = "art.jpg") -> Path:
        im = Image.linear_gradient("L").resize((width, height)).convert("RGB")
        path = tmp_path / name
        im.save(path, quality=90)
        return path

    return _make


@pytest.fixture
def editor_factory(qtbot, make_image):
    """Build a shown AnnotationEditor on a fresh image; waits for the first frame."""
    from artannot.app.editor import AnnotationEditor
    from artannot.core.model import Annotation

    def _make(width: int = 200, height: int = 150, regions=None, scale: float | None = 2.0):
        path = make_image(width, height)
        editor = AnnotationEditor()
        editor.ask_label_on_create = False
        qtbot.addWidget(editor)
        editor.resize(900, 600)
        editor.show()
        qtbot.waitExposed(editor)
        editor.activateWindow()
        annotation = Annotation(filename=path.name, width=width, height=height,
                                regions=list(regions or []))
        with qtbot.waitSignal(editor.canvas().imageLoaded, timeout=10_000):
            editor.set_annotation(path, annotation)
        if scale is not None:
            editor.canvas().set_scale(scale)
        editor.canvas().setFocus()
        return editor

    return _make
