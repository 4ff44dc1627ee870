"""Start the Qt application (the only place that creates a QApplication)."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication

from artannot import __version__


def window_settings(config):
    """The window's settings from a :class:`~artannot.core.config.Config`."""
    from artannot.app.main_window import WindowSettings

    return WindowSettings(autosave_seconds=config.autosave_seconds,
                          save_on_navigate=config.save_on_navigate,
                          text_fields=tuple(config.text_fields),
                          detector=config.detector, device=config.device,
                          suggestion_top_k=config.suggestion_top_k)


def run_app(collection: Path | None = None, argv: list[str] | None = None) -> int:
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName("artannot")
    app.setOrganizationName("artannot")
    app.setApplicationVersion(__version__)
    from artannot.app.main_window import MainWindow
    from artannot.core.config import Config, ConfigError, load_config

    try:
        config = load_config()
        problem = None
    except ConfigError as exc:  # a typo in the settings file must not keep the app from starting
        config, problem = Config(), exc
    window = MainWindow(window_settings(config))
    if problem is not None:
        window.prompt("Settings ignored", f"{problem}\n\nartannot uses its defaults until the file is fixed.",
                      ("OK",))
    window.show()
    if collection is not None:
        window.open_collection(Path(collection))
    return app.exec()
