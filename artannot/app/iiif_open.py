"""File → Open IIIF manifest: ask for a manifest and a folder, fetch in a worker, open it.

The questions go through ``ask`` (dialogs by default; tests hand in an answer), the fetch is
:func:`artannot.core.iiif.import_iiif` run as a job with the window's progress bar, and the
result is opened like any collection -- indexing and phrase extraction follow as usual.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QInputDialog, QWidget

from artannot.app.workers import Job, JobControl, start_job
from artannot.core.iiif import FetchOptions, IiifReport, import_iiif

if TYPE_CHECKING:
    from artannot.app.main_window import MainWindow

SIZES = ("2000", "1000", "4000", "max")


@dataclass(slots=True)
class IiifRequest:
    source: str  # manifest/collection URL or local file
    dest: Path  # collection folder the canvases go to
    size: int | None = 2000  # longer side in pixels; None: the full image


def ask_with_dialogs(parent: QWidget) -> IiifRequest | None:
    """Three small dialogs: the manifest, the folder, the image size. None when cancelled."""
    source, ok = QInputDialog.getText(parent, "Open IIIF manifest",
                                      "Manifest or collection URL (or a manifest file):")
    if not ok or not source.strip():
        return None
    dest = QFileDialog.getExistingDirectory(parent, "Folder for the collection's images")
    if not dest:
        return None
    size, ok = QInputDialog.getItem(parent, "Image size", "Longer side of the images (pixels):", SIZES, 0, False)
    if not ok:
        return None
    return IiifRequest(source.strip(), Path(dest), None if size == "max" else int(size))


class IiifOpener(QObject):
    """Owns the menu action and the fetch job; ``imported`` carries the report when done."""

    imported = Signal(object)

    def __init__(self, window: MainWindow, ask: Callable[[QWidget], IiifRequest | None] = ask_with_dialogs,
                 options: FetchOptions | None = None) -> None:
        super().__init__(window)
        self.window = window
        self.ask = ask
        self.options = options
        self.action = QAction("Open IIIF manifest…", window)
        self.action.setObjectName("action_open_iiif")
        self.action.triggered.connect(lambda: self.open())
        self.job: Job | None = None

    def open(self, request: IiifRequest | None = None) -> Job | None:
        """Fetch ``request`` (or what ``ask`` answers) in the background; None when cancelled."""
        request = request or self.ask(self.window)
        if request is None or (self.job is not None and not self.job.done.is_set()):
            return None
        options = self.options

        def run(ctl: JobControl) -> IiifReport:
            request.dest.mkdir(parents=True, exist_ok=True)
            return import_iiif(request.source, request.dest, size=request.size, options=options,
                               progress=ctl.progress, should_stop=ctl.cancelled)

        job = Job(run, "iiif")
        bar = self.window.progress
        job.signals.progress.connect(lambda done, total: (bar.setVisible(done < total), bar.setMaximum(max(total, 1)),
                                                          bar.setValue(done)))
        job.signals.result.connect(lambda report: self._done(request, report))
        job.signals.error.connect(lambda err: self._failed(request, err[0]))
        self.window.status.setText(f"Fetching IIIF manifest {request.source}…")
        self.job = job
        return start_job(job)

    def _done(self, request: IiifRequest, report: IiifReport) -> None:
        self.window.progress.setVisible(False)
        lines = report.lines()
        self.window.status.setText(lines[0])
        if report.failed:
            shown = "\n".join(lines[1:11]) + ("\n…" if len(lines) > 11 else "")
            self.window.prompt("Some canvases could not be fetched", f"{lines[0]}\n\n{shown}", ("OK",))
        self.imported.emit(report)
        if report.imported or report.already:
            self.window.open_collection(request.dest)

    def _failed(self, request: IiifRequest, exc: object) -> None:
        self.window.progress.setVisible(False)
        self.window.status.setText(f"IIIF import failed: {exc}")
        self.window.prompt("Cannot open IIIF manifest", str(exc), ("OK",))
