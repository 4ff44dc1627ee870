"""The main window: composes browser, editor and metadata panel; owns saving and navigation.

It holds no annotation logic of its own -- the editor edits, the core saves -- only the rules
that make work impossible to lose: save or autosave before leaving an artwork, recovery
copies while dirty, and a conflict dialog instead of a silent overwrite.

Why one long module (~620 lines): it composes every panel and owns the save / leave /
close rules, which must be read together to see that no path loses work.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QWidget,
)

from artannot.app.basket import BasketEntry, BasketWidget
from artannot.app.browser import CollectionBrowser
from artannot.app.detection import DetectionController
from artannot.app.editor import AnnotationEditor
from artannot.app.iiif_open import IiifOpener
from artannot.app.metadata_panel import MetadataPanel
from artannot.app.models_dialog import ModelsDialog
from artannot.app.queue import QueuePanel
from artannot.app.search_view import SearchView
from artannot.app.shortcuts import ShortcutsDialog, create_action
from artannot.app.suggestions_panel import SuggestionsController, SuggestionsPanel
from artannot.app.workers import Job, JobControl, start_job
from artannot.core import recovery
from artannot.core.catalog import Catalog
from artannot.core.errors import ArtannotError, VocConflictError
from artannot.core.model import Annotation, Region, ground_truth
from artannot.core.voc import (
    annotation_from_tree,
    new_annotation,
    parse_voc_bytes,
    read_voc,
    save_voc,
    voc_bytes,
)

# A prompt answers with one of the given choices; tests replace it to drive dialogs.
Prompt = Callable[[str, str, tuple[str, ...]], str]


@dataclass(slots=True)
class WindowSettings:
    autosave_seconds: int = 30  # recovery copy of a dirty artwork; 0 disables
    save_on_navigate: bool = True  # write the VOC file when leaving a dirty artwork
    extract_phrases: bool = True  # extract noun phrases of new/changed records after indexing
    text_fields: tuple[str, ...] = ()  # metadata fields that feed phrases (empty: title + descriptions)
    detector: str = "proposals"  # detector of Ctrl+R / Ctrl+Shift+R (a collection's store may say otherwise)
    device: str = "auto"  # where models run: auto, cpu, cuda, cuda:N, mps
    suggestion_top_k: int = 10  # collection phrases listed per region


def message_box_prompt(parent: QWidget) -> Prompt:
    def ask(title: str, text: str, choices: tuple[str, ...]) -> str:
        box = QMessageBox(parent)
        box.setWindowTitle(title)
        box.setText(text)
        buttons = {box.addButton(c, QMessageBox.ActionRole): c for c in choices}
        box.exec()
        return buttons.get(box.clickedButton(), choices[-1])

    return ask


class MainWindow(QMainWindow):
    def __init__(self, settings: WindowSettings | None = None) -> None:
        super().__init__()
        self.settings = settings or WindowSettings()
        self.catalog: Catalog | None = None
        self.current_id: str | None = None
        self._annotation_path: Path | None = None
        self._load_error: str | None = None
        self._restored = False  # state came from a recovery file: dirty although the stack is clean
        self._previous_regions: list[Region] = []
        self._collection_phrases: list[str] | None = None  # completion candidates, most frequent first
        self._jobs: list[Job] = []
        self.prompt: Prompt = message_box_prompt(self)

        self.setWindowTitle("artannot")
        self.resize(1400, 900)
        self.editor = AnnotationEditor(self)
        self.setCentralWidget(self.editor)
        self.browser = CollectionBrowser(self)
        self.metadata = MetadataPanel(self)
        # Descriptions are highlighted over the very fields phrase extraction reads.
        self.metadata.text_fields = self.settings.text_fields
        left = self._dock(self.browser, "Collection", Qt.LeftDockWidgetArea)
        right = self._dock(self.metadata, "Metadata", Qt.RightDockWidgetArea)
        # The boxes table docks under the metadata, leaving the centre to the image.
        boxes = self._dock(self.editor.objects_panel(), "Boxes", Qt.RightDockWidgetArea)
        # Suggestions share the lower right with the boxes table; search and basket are tabs
        # beside the collection; the annotation queue sits under the collection.
        self.suggestions_panel = SuggestionsPanel(self)
        self.suggestions = SuggestionsController(self.suggestions_panel, self.editor, self.metadata, self,
                                                 device=self.settings.device,
                                                 top_k=self.settings.suggestion_top_k)
        self.search_view = SearchView(self)
        self.basket = BasketWidget(self)
        self.queue = QueuePanel(self)
        self.detection = DetectionController(self, detector=self.settings.detector,
                                             device=self.settings.device)
        self.suggestions_dock = self._dock(self.suggestions_panel, "Suggestions", Qt.RightDockWidgetArea)
        self.tabifyDockWidget(boxes, self.suggestions_dock)
        self.search_dock = self._dock(self.search_view, "Search", Qt.LeftDockWidgetArea)
        self.basket_dock = self._dock(self.basket, "Basket", Qt.LeftDockWidgetArea)
        self.tabifyDockWidget(left, self.search_dock)
        self.tabifyDockWidget(self.search_dock, self.basket_dock)
        left.raise_()
        self.suggestions_dock.raise_()
        queue_dock = self._dock(self.queue, "Queue", Qt.LeftDockWidgetArea)
        self.resizeDocks([left, right], [420, 420], Qt.Horizontal)
        self.resizeDocks([right, boxes], [460, 400], Qt.Vertical)
        self.resizeDocks([left, queue_dock], [800, 80], Qt.Vertical)

        self.status = QLabel()
        self.models_label = QLabel("Detector: proposals (weight-free) · SCAN: none")
        self.progress = QProgressBar(maximumWidth=200, visible=False)
        self.statusBar().addWidget(self.status, 1)
        self.statusBar().addPermanentWidget(self.progress)
        self.statusBar().addPermanentWidget(self.models_label)

        self.browser.artworkActivated.connect(self.open_artwork)
        self.metadata.phraseActivated.connect(self._phrase_clicked)
        self.editor.dirtyChanged.connect(lambda _: self._update_title())
        self.editor.regionsChanged.connect(self._regions_changed)
        self.editor.pastePreviousRequested.connect(lambda: self.editor.paste_regions(self._previous_regions))
        self.editor.canvas().imageFailed.connect(lambda msg: self._show_error("Cannot show image", msg))
        self._wire_suggestions()

        self._autosave = QTimer(self)
        self._autosave.timeout.connect(self.write_recovery)
        if self.settings.autosave_seconds > 0:
            self._autosave.start(self.settings.autosave_seconds * 1000)
        self._build_menus()

    def _dock(self, widget: QWidget, title: str, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{title.lower()}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        open_action = QAction("Open collection…", self, shortcut=QKeySequence.Open)
        open_action.triggered.connect(self._choose_collection)
        file_menu.addAction(open_action)
        self.iiif = IiifOpener(self)  # File → Open IIIF manifest (its dialogs are injectable)
        file_menu.addAction(self.iiif.action)
        for spec_id, slot in (("save", self.save), ("next_artwork", lambda: self.step(1)),
                              ("prev_artwork", lambda: self.step(-1)),
                              ("next_unannotated", self.next_unannotated)):
            action = create_action(spec_id, self, slot)
            self.addAction(action)
            file_menu.addAction(action)
        file_menu.addSeparator()
        quit_action = QAction("Quit", self, shortcut=QKeySequence.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)
        edit_menu = self.menuBar().addMenu("&Edit")
        view_menu = self.menuBar().addMenu("&View")
        view_ids = {"toggle_boxes", "zoom_in", "zoom_out", "fit_window", "fit_width", "zoom_100"}
        for action in self.editor.actions():
            (view_menu if action.objectName().removeprefix("action_") in view_ids else edit_menu).addAction(action)
        self._build_suggest_menu()
        help_menu = self.menuBar().addMenu("&Help")
        shortcuts = create_action("show_shortcuts", self, lambda: ShortcutsDialog(self).exec())
        self.addAction(shortcuts)
        help_menu.addAction(shortcuts)
        about = create_action("about_models", self, self.show_models)
        self.addAction(about)
        help_menu.addAction(about)

    # -- collection ---------------------------------------------------------
    def _choose_collection(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open collection")
        if path:
            self.open_collection(Path(path))

    def open_collection(self, root: Path, *, wait: bool = False) -> None:
        """Show what the catalog already knows at once, then re-index changes in a worker."""
        if not self.leave_current():
            return
        if self.catalog is not None:
            self.catalog.close()
        self.catalog = Catalog.open(root, refresh=False)
        self._collection_phrases = None
        self.setWindowTitle(f"artannot — {self.catalog.root.name}")
        self.browser.set_catalog(self.catalog)
        self._collection_opened()
        self._start_indexing(self.catalog.root)
        if wait:
            for job in list(self._jobs):
                job.done.wait(120)

    def _start_indexing(self, root: Path) -> None:
        def run(ctl: JobControl):
            with Catalog.open(root, refresh=False) as cat:
                return cat.refresh(progress=ctl.progress, should_stop=ctl.cancelled)

        job = Job(run, "indexing")
        job.signals.progress.connect(self._show_progress)
        job.signals.result.connect(self._indexing_done)
        job.signals.error.connect(lambda e: self._show_error("Indexing failed", e[0]))
        job.signals.finished.connect(lambda job=job: self._job_finished(job))
        self._jobs.append(job)
        self.status.setText("Indexing collection…")
        start_job(job)

    def _show_progress(self, done: int, total: int) -> None:
        self.progress.setVisible(total > 0 and done < total)
        self.progress.setMaximum(max(total, 1))
        self.progress.setValue(done)

    def _indexing_done(self, report) -> None:
        if self.catalog is None:  # the window closed while the result was on its way
            return
        self.progress.setVisible(False)
        # the rows arrive from a worker: open the first one then, if nothing is open by then
        self.browser.reload(then=lambda: self.current_id is None and self.browser.step(1))
        self.queue.refresh_progress()
        self.status.setText(
            f"Indexed: {report.added} new, {report.updated} changed, {report.removed} removed, "
            f"{report.errors} with problems ({report.seconds:.1f} s)"
        )
        if self.settings.extract_phrases and self.catalog is not None:
            self._start_phrases(self.catalog.root)

    def _start_phrases(self, root: Path) -> None:
        """Noun phrases for records without them (incremental: unchanged records are skipped),
        so highlighting and completion work without a trip to the command line."""
        from artannot.text.collection import extract_collection  # spaCy loads in the worker

        def run(ctl: JobControl):
            with Catalog.open(root, refresh=False) as cat:
                return extract_collection(cat, fields=list(self.settings.text_fields) or None,
                                          progress=ctl.progress, should_stop=ctl.cancelled)

        job = Job(run, "phrases")
        job.signals.progress.connect(self._show_progress)
        job.signals.result.connect(self._phrases_done)
        job.signals.error.connect(lambda e: self.status.setText(f"Phrase extraction failed: {e[0]}"))
        job.signals.finished.connect(lambda job=job: self._job_finished(job))
        self._jobs.append(job)
        start_job(job)

    def _phrases_done(self, report) -> None:
        if self.catalog is None:  # the window closed while the result was on its way
            return
        self.progress.setVisible(False)
        if report.extracted:
            self.status.setText(f"Noun phrases extracted for {report.extracted} artworks")
            self._collection_phrases = None
            self._reload_phrases()
            self.suggestions.warm_up_text()  # the new phrases, before anyone asks

    def _reload_phrases(self) -> None:
        """Give the open artwork's phrases to the editor (completion), the metadata panel
        (highlighting, coverage) and the suggestions; also after a background extraction."""
        if self.catalog is None or self.current_id is None:
            return
        phrases = self.catalog.phrases(self.current_id)
        if self._collection_phrases is None:  # a GROUP BY over every phrase: once, not per artwork
            self._collection_phrases = list(self.catalog.phrase_counts())[:5000]
        self.editor.set_phrase_suggestions(
            list(dict.fromkeys(p.text for p in phrases)), self._collection_phrases)
        self.metadata.set_artwork(self.catalog.artwork(self.current_id), phrases,
                                  [r.phrase for r in self.editor.annotation().regions], self._load_error)
        self.suggestions.set_artwork(self.current_id, phrases)

    def _job_finished(self, job: Job) -> None:
        if job in self._jobs:
            self._jobs.remove(job)

    # -- navigation -----------------------------------------------------------
    def step(self, delta: int) -> None:
        self.browser.step(delta)

    def next_unannotated(self) -> None:
        nxt = self.browser.next_unannotated(self.current_id)
        if nxt is None:
            self.status.setText("Every listed artwork has an annotation.")
        else:
            self.browser.select_id(nxt)

    def is_dirty(self) -> bool:
        return self.editor.is_dirty() or self._restored

    def leave_current(self) -> bool:
        """Make sure the current artwork's edits are safe before showing another; False = stay."""
        if self.current_id is None or not self.is_dirty():
            return True
        if self.settings.save_on_navigate:
            return self.save()
        choice = self.prompt("Unsaved changes", f"Save changes to {self.current_id}?", ("Save", "Discard", "Cancel"))
        if choice == "Save":
            return self.save()
        if choice == "Discard":
            recovery.clear_recovery(self.catalog.data_dir, self.current_id)
            return True
        return False

    def open_artwork(self, artwork_id: str) -> None:
        if artwork_id == self.current_id or self.catalog is None:
            return
        if not self.leave_current():
            if self.current_id:
                self.browser.select_id(self.current_id)
            return
        if self.current_id is not None:
            self._previous_regions = self.editor.annotation().regions
        artwork = self.catalog.artwork(artwork_id)
        path = self.catalog.annotation_path(artwork_id)
        self._load_error = None
        annotation: Annotation | None = None
        if path.exists():
            try:
                annotation = read_voc(path)
            except ArtannotError as exc:
                # Shown, never overwritten: save_voc refuses a file it did not load.
                self._load_error = str(exc)
        if annotation is None:
            w, h = self.catalog.image_size(artwork_id)
            annotation = new_annotation(artwork.image_path, w, h)
        self._restored = False
        annotation = self._offer_recovery(artwork_id, annotation)
        self.current_id = artwork_id
        self._annotation_path = path
        self.editor.set_annotation(artwork.image_path, annotation)
        self._reload_phrases()
        if self.browser.current_id() != artwork_id:
            self.browser.select_id(artwork_id)
        self._update_title()
        self.status.setText(self._load_error or f"{artwork.title} — {len(annotation.regions)} boxes")
        self._prefetch_neighbours(artwork_id)

    def _prefetch_neighbours(self, artwork_id: str) -> None:
        """Decode the next and previous images in the background, so D / A feel instant."""
        rows = self.browser.model.rows
        i = self.browser.model.row_of(artwork_id)
        for j in (i + 1, i - 1):
            if 0 <= j < len(rows) and self.catalog is not None:
                self.editor.prefetch_image(self.catalog.root / rows[j].id)

    def _offer_recovery(self, artwork_id: str, on_disk: Annotation) -> Annotation:
        data = recovery.read_recovery(self.catalog.data_dir, artwork_id)
        if data is None:
            return on_disk
        choice = self.prompt(
            "Recover unsaved work",
            f"artannot found unsaved edits of {artwork_id} from an earlier session. Restore them?",
            ("Restore", "Discard"),
        )
        if choice != "Restore":
            recovery.clear_recovery(self.catalog.data_dir, artwork_id)
            return on_disk
        try:
            restored = annotation_from_tree(parse_voc_bytes(data, "recovery"))
        except ArtannotError as exc:
            self._show_error("Recovery file unreadable", exc)
            return on_disk
        # Saving must still be checked against the file as it is on disk now.
        restored.stamp, restored.source_path = on_disk.stamp, on_disk.source_path
        self._restored = True
        return restored

    # -- saving ---------------------------------------------------------------
    def save(self, *, force: bool = False) -> bool:
        """Save the current artwork; on a conflict ask the curator instead of overwriting."""
        if self.current_id is None or self.catalog is None or self._annotation_path is None:
            return True
        ann = ground_truth(self.editor.annotation())
        try:
            path = save_voc(ann, self._annotation_path, force=force)
        except VocConflictError as exc:
            choice = self.prompt(
                "File changed on disk",
                f"{exc.message}:\n{self._annotation_path}\n\nOverwrite it (the old version is kept as .bak), "
                "keep both (save yours as a copy), or cancel?",
                ("Overwrite", "Keep both", "Cancel"),
            )
            if choice == "Overwrite":
                return self.save(force=True)
            if choice == "Keep both":
                copy_path = self._annotation_path.with_name(self._annotation_path.stem + ".mine.xml")
                ann.stamp = None
                try:
                    save_voc(ann, copy_path, force=True)
                except OSError as exc2:
                    return self._save_failed(copy_path, exc2)
                self.status.setText(f"Your version was saved as {copy_path.name}")
            return False
        except ArtannotError as exc:
            self._show_error("Cannot save", exc)
            return False
        except OSError as exc:  # disk full, folder read-only or gone: nothing on disk changed
            return self._save_failed(self._annotation_path, exc)
        self.editor.mark_saved(ann)
        self._restored = False
        recovery.clear_recovery(self.catalog.data_dir, self.current_id)
        try:
            change = self.catalog.record_annotation(self.current_id, ann, path)
        except sqlite3.Error as exc:  # the file is saved; the catalog is a cache that catches up on refresh
            self._update_title()
            self.status.setText(f"Saved {path.name} (the catalog could not be updated: {exc})")
            return True
        self.browser.refresh_row(self.current_id, change)
        self.queue.saved(change)
        self._update_title()
        self.status.setText(f"Saved {path.name}")
        return True

    def _save_failed(self, path: Path, exc: OSError) -> bool:
        """A save the disk refused: the edits stay open (and dirty), a recovery copy goes wherever
        there is room, and the curator is told why and what to do.  Always False."""
        try:
            kept = f"A recovery copy is in {self._keep_recovery().parent}."
        except OSError as exc2:
            kept = f"No recovery copy could be written either ({exc2.strerror or exc2})."
        self._show_error("Cannot save", f"{path} could not be written: {exc.strerror or exc}.\n\n"
                                        f"Your edits are still open here. {kept}\nFree some space (or fix the "
                                        "folder), then save again; closing the window will ask first.")
        return False

    def _keep_recovery(self) -> Path:
        return recovery.keep_recovery(self.catalog.data_dir, self.current_id,
                                      voc_bytes(ground_truth(self.editor.annotation())))

    def write_recovery(self) -> None:
        """Crash safety: keep the unsaved state in a recovery file (not the real one), in a
        spare folder when the collection's disk is full."""
        if self.current_id is None or self.catalog is None or not self.is_dirty():
            return
        try:
            path = self._keep_recovery()
        except OSError as exc:
            self.status.setText(f"Autosave failed: {exc}")
            return
        if not path.is_relative_to(self.catalog.data_dir):
            self.status.setText(f"Autosave: the collection's disk is full; recovery copy in {path.parent}")

    # -- reactions ------------------------------------------------------------
    def _regions_changed(self) -> None:
        self.metadata.refresh([r.phrase for r in self.editor.annotation().regions], self._load_error)

    def _phrase_clicked(self, norm: str) -> None:
        if self.suggestions.wants_phrase():  # a model is there: phrase -> regions
            self.suggestions.highlight(norm)
            return
        surface = next((p.text for p in self.metadata.phrases() if p.norm == norm), norm)
        if not self.editor.label_selected(surface):
            self.editor.start_box_with_label(surface)
            self.status.setText(f"Draw a box for “{surface}”")

    def _update_title(self) -> None:
        name = self.catalog.root.name if self.catalog else ""
        star = " *" if self.is_dirty() else ""
        self.setWindowTitle(f"artannot — {name} — {self.current_id or ''}{star}")

    def _show_error(self, title: str, exc: object) -> None:
        self.status.setText(f"{title}: {exc}")
        self.prompt(title, str(exc), ("OK",))

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.current_id is not None and self.is_dirty():
            choice = self.prompt("Unsaved changes", f"Save changes to {self.current_id} before closing?",
                                 ("Save", "Discard", "Cancel"))
            # Only an explicit "Discard" may lose edits: a failed save or a closed dialog keeps the window.
            if choice != "Discard" and not (choice == "Save" and self.save()):
                event.ignore()
                return
            if choice == "Discard" and self.catalog is not None:
                recovery.clear_recovery(self.catalog.data_dir, self.current_id)
        for job in list(self._jobs):
            job.cancel()
        self.detection.shutdown()
        self.suggestions.shutdown()
        self.search_view.shutdown()
        self.queue.shutdown()
        self.browser.shutdown()
        self.editor.shutdown()
        for job in list(self._jobs):
            job.done.wait(10)
        if self.catalog is not None:
            self.catalog.close()
            self.catalog = None  # results still queued for the closed window are dropped
        event.accept()

    # -- suggestions, detection, search (logic lives in the controllers) -------------------
    def _wire_suggestions(self) -> None:
        self.suggestions.statusMessage.connect(self.status.setText)
        self.suggestions.modelsChanged.connect(self._update_models_label)
        self.detection.progress.connect(self._show_progress)
        self.detection.status.connect(self.status.setText)
        self.detection.modelsUsed.connect(self._update_models_label)
        self.detection.finished.connect(lambda: self.progress.setVisible(False))
        self.detection.storeChanged.connect(self._store_changed)
        self.detection.wholesChanged.connect(self._wholes_changed)
        self.search_view.openRequested.connect(self.open_fragment)
        self.search_view.basketRequested.connect(self._add_to_basket)
        self.search_view.message.connect(self.status.setText)
        self.basket.openRequested.connect(
            lambda e: self.open_fragment(e) if e.box is not None else self._show_artwork(e.artwork_id))
        self.basket.message.connect(self.status.setText)
        self.queue.openRequested.connect(self._show_artwork)
        self.queue.message.connect(self.status.setText)

    def _build_suggest_menu(self) -> None:
        menu = self.menuBar().addMenu("&Suggest")
        slots = {
            "detect_artwork": self.detect_current,
            "detect_collection": lambda: self.catalog and self.detection.detect_collection(self.catalog),
            "phrase_regions": lambda on: self.suggestions_panel.mode_button.setChecked(on),
            "toggle_heatmap": lambda on: self.suggestions_panel.heat_check.setChecked(on),
            "search_collection": self.show_search,
            "next_in_queue": lambda: self.queue.next(self.current_id),
        }
        self.suggest_actions: dict[str, QAction] = {}
        for spec_id, slot in slots.items():
            action = create_action(spec_id, self)
            action.triggered.connect(slot)
            self.addAction(action)
            menu.addAction(action)
            self.suggest_actions[spec_id] = action
        self.suggestions_panel.mode_button.toggled.connect(self.suggest_actions["phrase_regions"].setChecked)
        self.suggestions_panel.heat_check.toggled.connect(self.suggest_actions["toggle_heatmap"].setChecked)
        self.suggest_actions["toggle_heatmap"].setChecked(True)
        cancel = QAction("Cancel detection", self)
        cancel.triggered.connect(self.detection.cancel)
        train = QAction("Train SCAN model on this collection", self)
        train.triggered.connect(lambda: self.suggestions.train())
        menu.addSeparator()
        menu.addAction(cancel)
        menu.addAction(train)

    def _collection_opened(self) -> None:
        self.detection.reset()
        self.suggestions.set_collection(self.catalog)
        self.search_view.set_collection(self.catalog, self.suggestions.service)
        self.queue.set_collection(self.catalog, self.suggestions.service)
        self.basket.root = self.catalog.root

    def _update_models_label(self, used: dict | None = None) -> None:
        service = self.suggestions.service
        if service is None:
            return
        info = service.info()
        if used:  # what detection just ran with (device included)
            info = type(info)(used["detector"], used["backbone"], used["device"], info.scan, info.store)
        self.models_label.setText(info.summary())
        self.models_label.setToolTip("Help ▸ About models for details")

    def _store_changed(self) -> None:
        if self.suggestions.service is not None:
            self.suggestions.service.reload()
            self.suggestions._update_state()  # a refresh, not a state change

    def _wholes_changed(self) -> None:
        if self.suggestions.service is not None:
            self.suggestions.service.wholes_changed()

    def show_models(self) -> None:
        service = self.suggestions.service
        ModelsDialog(service.info() if service else None, self).exec()

    def show_search(self) -> None:
        self.search_dock.show()
        self.search_dock.raise_()
        self.search_view.query.setFocus()

    def detect_current(self) -> None:
        if self.catalog is not None and self.current_id is not None:
            self.detection.detect_artwork(self.catalog, self.current_id, self._show_proposals)

    def _show_proposals(self, artwork_id: str, regions: list[Region]) -> None:
        if artwork_id != self.current_id:
            return
        existing = {r.box for r in self.editor.annotation().regions}
        self.editor.add_proposals([r for r in regions if r.box not in existing])
        # Named once detection's own signals are handled: a first run creates the feature
        # store (and so the suggestions) that naming needs.
        QTimer.singleShot(0, self.suggestions.label_proposals)

    def _show_artwork(self, artwork_id: str) -> None:
        if not self.browser.select_id(artwork_id):  # filtered out of the list: open anyway
            self.open_artwork(artwork_id)

    def open_fragment(self, fragment) -> None:  # Fragment or BasketEntry
        """Open the fragment's artwork, select its region (added as a suggestion if new) and centre it."""
        self._show_artwork(fragment.artwork_id)
        if self.current_id != fragment.artwork_id:
            return
        regions = self.editor.annotation().regions
        match = next((i for i, r in enumerate(regions) if r.box.iou(fragment.box) > 0.9), None)
        if match is None:
            self.editor.add_proposals([Region(box=fragment.box, source="suggestion", score=fragment.score)])
            match = len(self.editor.annotation().regions) - 1
        self.editor.select_indices([match])
        x0, y0, x1, y1 = fragment.box.to_edges()
        self.editor.canvas().centerOn((x0 + x1) / 2, (y0 + y1) / 2)

    def _add_to_basket(self, fragments: list, kind: str) -> None:
        phrase = self.search_view.query_text
        entries = [BasketEntry(kind, f.artwork_id, f.box if kind == "fragment" else None, phrase,
                               f.score if kind == "fragment" else None) for f in fragments]
        n = self.basket.add(entries)
        self.status.setText(f"{n} added to the basket")
