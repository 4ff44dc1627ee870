"""Start the Qt application (the only place that creates a QApplication)."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication

from artannot import __version__


def run_app(collection: Path | None = None, argv: list[str] | None = None) -> int:
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName("artannot")
    app.setOrganizationName("artannot")
    app.setApplicationVersion(__version__)
    from artannot.app.main_window import MainWindow

    window = MainWindow()
    window.show()
    if collection is not None:
        window.open_collection(Path(collection))
    return app.exec()
