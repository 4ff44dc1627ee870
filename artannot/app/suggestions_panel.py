"""Suggestions dock: phrases for the selected box, regions (and heat map) for a phrase.

``SuggestionsPanel`` is the widget; ``SuggestionsController`` connects it to the editor, the
metadata panel and :class:`~artannot.retrieval.service.SuggestionService`, running every
model call on a worker (``LatestOnly``: a new selection cancels the previous request, and a
stale answer never replaces a newer one). Every accepted or skipped suggestion is written to
the collection's judgements store (``catalog.judgements``), one transaction per click. Detector proposals are named here too (their best
phrase, computed in one batch) and the panel's slider says how many of them the image shows.

When a CLIP model is installed, a chooser above the phrase list switches the ranking between
the SCAN model and CLIP zero-shot (:meth:`SuggestionService.clip_phrases_for_box`); the choice
holds while the app runs, and judgements name the model whose list was shown.

Why one long module (~680 lines): one widget with its three views (phrases for a box,
regions for a phrase, proposals) and their jobs; the ranking itself lives in the core.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QObject, QSignalBlocker, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from artannot.app.box_item import ProposalLabel
from artannot.app.canvas import DEFAULT_SHOWN_PROPOSALS
from artannot.app.heatmap_item import PhraseOverlay
from artannot.app.workers import Job, JobControl, LatestOnly, start_job
from artannot.core.errors import ArtannotError
from artannot.core.geometry import Box
from artannot.core.judgements_store import Judgement
from artannot.core.model import Region
from artannot.retrieval.collection_training import train_collection
from artannot.retrieval.judgements import PHRASE, PROPOSAL, REGION, box_key
from artannot.retrieval.model_files import scan_model_name
from artannot.retrieval.service import PhraseRegions, RankedPhrase, RegionHit, SuggestionService

ARTWORK_MARK, COLLECTION_MARK = "◆", "○"
# Which model ranks the phrases for a box (the chooser's item data).
SCAN_SOURCE, CLIP_SOURCE = "scan", "clip"
ORIGIN_TITLES = {"artwork": f"{ARTWORK_MARK} From this artwork's metadata",
                 "collection": f"{COLLECTION_MARK} From the collection vocabulary"}


class SuggestionsPanel(QWidget):
    """The widget only: lists, buttons and the heat map controls; no model calls."""

    phraseChosen = Signal(object)  # RankedPhrase
    regionChosen = Signal(object)  # RegionHit
    trainRequested = Signal()
    cancelRequested = Signal()
    drawRequested = Signal()  # "draw a box for this phrase" (the pre-model behaviour)
    heatToggled = Signal(bool)
    opacityChanged = Signal(float)
    proposalLimitChanged = Signal(int)  # how many detector proposals the image shows
    modelChosen = Signal(str)  # SCAN_SOURCE or CLIP_SOURCE: which model ranks the phrases

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.status = QLabel("Open a collection.")
        self.status.setWordWrap(True)
        self.train_button = QPushButton("Train a model on this collection")
        self.train_button.setVisible(False)
        self.train_button.clicked.connect(self.trainRequested)
        self.progress = QProgressBar(visible=False)
        self.cancel_button = QToolButton(text="Cancel", visible=False)
        self.cancel_button.clicked.connect(self.cancelRequested)

        self.phrase_list = QListWidget()
        self.phrase_list.setObjectName("suggested_phrases")
        self.phrase_list.setMinimumHeight(200)
        self.phrase_list.itemClicked.connect(self._phrase_item)
        self.phrase_list.itemActivated.connect(self._phrase_item)
        self.model_choice = QComboBox()
        self.model_choice.setObjectName("suggestion_model")
        self.model_choice.setToolTip("Which model ranks the phrases for the selected box: the "
                                     "SCAN model, or CLIP zero-shot (no training needed)")
        self.model_choice.setVisible(False)  # shown when a CLIP model is installed
        self.model_choice.currentIndexChanged.connect(
            lambda _: self.modelChosen.emit(self.model_source()))
        phrases = QGroupBox("Phrases for the selected box")
        pl = QVBoxLayout(phrases)
        pl.addWidget(self.model_choice)
        pl.addWidget(self.phrase_list)

        self.region_title = QLabel("Click a phrase (metadata text or list) to find its regions.")
        self.region_title.setWordWrap(True)
        self.mode_button = QToolButton(text="Find regions for phrases", checkable=True)
        self.mode_button.setToolTip("On: clicking a phrase highlights regions even when a box is selected (Ctrl+L)")
        self.draw_button = QToolButton(text="Draw a box for it")
        self.draw_button.setEnabled(False)
        self.draw_button.clicked.connect(self.drawRequested)
        self.region_list = QListWidget()
        self.region_list.setObjectName("highlighted_regions")
        self.region_list.setMaximumHeight(100)
        self.region_list.itemClicked.connect(self._region_item)
        self.region_list.itemActivated.connect(self._region_item)
        self.heat_check = QCheckBox("Heat map", checked=True)
        self.heat_check.toggled.connect(self.heatToggled)
        self.opacity = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=100, value=50)
        self.opacity.setToolTip("Heat map opacity")
        self.opacity.valueChanged.connect(lambda v: self.opacityChanged.emit(v / 100.0))
        regions = QGroupBox("Regions for a phrase")
        rl = QVBoxLayout(regions)
        row = QHBoxLayout()
        row.addWidget(self.mode_button)
        row.addWidget(self.draw_button)
        row.addStretch(1)
        rl.addLayout(row)
        rl.addWidget(self.region_title)
        rl.addWidget(self.region_list)
        heat = QHBoxLayout()
        heat.addWidget(self.heat_check)
        heat.addWidget(QLabel("Opacity"))
        heat.addWidget(self.opacity, 1)
        rl.addLayout(heat)

        busy = QHBoxLayout()
        busy.addWidget(self.progress, 1)
        busy.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.status)
        layout.addWidget(self.train_button)
        layout.addLayout(busy)
        layout.addLayout(self._proposal_row())
        layout.addWidget(phrases, 1)
        layout.addWidget(regions, 0)

    # -- detector proposals shown -------------------------------------------------------
    def _proposal_row(self) -> QHBoxLayout:
        self._wanted_proposals = DEFAULT_SHOWN_PROPOSALS  # the curator's choice, kept across artworks
        self._proposal_total = 0
        self.proposal_slider = QSlider(Qt.Orientation.Horizontal, minimum=1, maximum=1, value=1)
        self.proposal_slider.setObjectName("proposals_shown")
        self.proposal_slider.setToolTip("How many detector proposals (Ctrl+R) the image shows, best "
                                        "detector score first; the others are kept, not deleted")
        self.proposal_slider.valueChanged.connect(self._proposal_slider_moved)
        self.proposal_count = QLabel()
        row = QHBoxLayout()
        row.addWidget(QLabel("Proposals shown"))
        row.addWidget(self.proposal_slider, 1)
        row.addWidget(self.proposal_count)
        self.set_proposal_total(0)
        return row

    def set_proposal_total(self, total: int) -> None:
        """The artwork's pending proposals changed: the slider spans 1..total, keeping the
        curator's choice for artworks with more."""
        self._proposal_total = total
        with QSignalBlocker(self.proposal_slider):
            self.proposal_slider.setMaximum(max(total, 1))
            self.proposal_slider.setValue(min(self._wanted_proposals, max(total, 1)))
        self.proposal_slider.setEnabled(total > 1)
        self.proposal_count.setText(f"{min(self._wanted_proposals, total)} of {total}")

    def wanted_proposals(self) -> int:
        return self._wanted_proposals

    def _proposal_slider_moved(self, value: int) -> None:
        self._wanted_proposals = value
        self.proposal_count.setText(f"{min(value, self._proposal_total)} of {self._proposal_total}")
        self.proposalLimitChanged.emit(value)

    # -- which model ranks the phrases -------------------------------------------------------
    def set_model_choices(self, scan: str, clip: str | None, chosen: str) -> None:
        """``SCAN: <model>`` and, when a CLIP model is installed, ``CLIP zero-shot: <name>``;
        the chooser is hidden without CLIP (SCAN is then the only ranking)."""
        with QSignalBlocker(self.model_choice):
            self.model_choice.clear()
            self.model_choice.addItem(f"SCAN: {scan}", SCAN_SOURCE)
            if clip is not None:
                self.model_choice.addItem(f"CLIP zero-shot: {clip}", CLIP_SOURCE)
            self.model_choice.setCurrentIndex(max(self.model_choice.findData(chosen), 0))
        self.model_choice.setVisible(clip is not None)

    def model_source(self) -> str:
        return self.model_choice.currentData() or SCAN_SOURCE

    # -- phrases ---------------------------------------------------------------------
    def show_phrases(self, ranked: Sequence[RankedPhrase], caption: str = "") -> None:
        self.phrase_list.clear()
        origin = None
        for rp in ranked:
            if rp.origin != origin:
                origin = rp.origin
                head = QListWidgetItem(ORIGIN_TITLES.get(origin, origin))
                head.setFlags(Qt.ItemFlag.NoItemFlags)
                font = QFont()
                font.setBold(True)
                head.setFont(font)
                self.phrase_list.addItem(head)
            mark = ARTWORK_MARK if rp.origin == "artwork" else COLLECTION_MARK
            item = QListWidgetItem(f"{rp.rank:>2}. {mark} {rp.label}   {rp.score:.3f}"
                                   + ("" if rp.in_vocab else "  (new phrase)"))
            item.setData(Qt.ItemDataRole.UserRole, rp)
            item.setToolTip(f"{ORIGIN_TITLES[rp.origin]} — rank {rp.rank}, score {rp.score:.4f}. "
                            "Click or Enter: label the box.")
            if rp.origin == "artwork":
                item.setForeground(QBrush(QColor("#1565c0")))
            self.phrase_list.addItem(item)
        if ranked:
            first = next(i for i in range(self.phrase_list.count())
                         if self.phrase_list.item(i).data(Qt.ItemDataRole.UserRole) is not None)
            self.phrase_list.setCurrentRow(first)
        if caption:
            self.status.setText(caption)

    def phrase_items(self) -> list[RankedPhrase]:
        items = (self.phrase_list.item(i) for i in range(self.phrase_list.count()))
        return [it.data(Qt.ItemDataRole.UserRole) for it in items
                if it.data(Qt.ItemDataRole.UserRole) is not None]

    def clear_phrases(self, message: str = "") -> None:
        self.phrase_list.clear()
        if message:
            self.status.setText(message)

    def _phrase_item(self, item: QListWidgetItem) -> None:
        rp = item.data(Qt.ItemDataRole.UserRole)
        if rp is not None:
            self.phraseChosen.emit(rp)

    # -- regions ---------------------------------------------------------------------
    def show_regions(self, result: PhraseRegions, label: str) -> None:
        self.region_list.clear()
        self.region_title.setText(f"Best regions for “{label}” — click one to annotate it:")
        for hit in result.hits:
            item = QListWidgetItem(f"#{hit.rank}  score {hit.score:.3f}  attention {hit.attention:.3f}  "
                                   f"({hit.box.width:.0f}×{hit.box.height:.0f} px)")
            item.setData(Qt.ItemDataRole.UserRole, hit)
            self.region_list.addItem(item)
        self.draw_button.setEnabled(True)

    def region_items(self) -> list[RegionHit]:
        return [self.region_list.item(i).data(Qt.ItemDataRole.UserRole)
                for i in range(self.region_list.count())]

    def clear_regions(self, message: str = "Click a phrase (metadata text or list) to find its regions.") -> None:
        self.region_list.clear()
        self.region_title.setText(message)
        self.draw_button.setEnabled(False)

    def _region_item(self, item: QListWidgetItem) -> None:
        hit = item.data(Qt.ItemDataRole.UserRole)
        if hit is not None:
            self.regionChosen.emit(hit)

    # -- model state ---------------------------------------------------------------------
    def set_unavailable(self, message: str, can_train: bool) -> None:
        self.status.setText(f"Suggestions unavailable: {message}")
        self.train_button.setText("Train a model on this collection")
        self.train_button.setVisible(can_train)
        self.phrase_list.clear()

    def set_ready(self, text: str, can_fine_tune: bool = False) -> None:
        """Suggestions work; with the bundled general model, offer to fine-tune it here."""
        self.status.setText(text)
        self.train_button.setText("Fine-tune the model on this collection" if can_fine_tune
                                  else "Train a model on this collection")
        self.train_button.setVisible(can_fine_tune)

    def set_busy(self, text: str | None, done: int = 0, total: int = 0) -> None:
        self.progress.setVisible(text is not None)
        self.cancel_button.setVisible(text is not None)
        if text is not None:
            self.progress.setMaximum(max(total, 1))
            self.progress.setValue(done)
            self.progress.setFormat(f"{text} %p%")


@dataclass
class _Shown:
    """The phrase list on screen, for judgements: which box, which ranking."""

    artwork_id: str
    box: Box
    ranked: list[RankedPhrase]
    accepted: set[str]
    model: str  # the model that ranked them, as judgements name it ("general/…", "clip/<name>")


class SuggestionsController(QObject):
    """Wires the panel to the editor, metadata panel, catalog and suggestion service."""

    statusMessage = Signal(str)
    modelsChanged = Signal()
    suggestionsShown = Signal(float)  # milliseconds from selection to list on screen
    proposalsLabelled = Signal(int)  # proposals just named by the model (0: none could be)

    def __init__(self, panel: SuggestionsPanel, editor, metadata, parent: QObject | None = None, *,
                 device: str | None = None, top_k: int = 10) -> None:
        super().__init__(parent)
        self.panel, self.editor, self.metadata = panel, editor, metadata
        self.device = device  # the ``device`` setting (None/"auto": CUDA when present)
        self.top_k = top_k  # the ``suggestion_top_k`` setting: collection phrases per region
        self.catalog = None
        self.service: SuggestionService | None = None
        self._warmed: str | None = None  # the model warmed up last (name)
        self._warm_jobs: list[Job] = []
        self._clip_name: str | None = None  # the installed CLIP model (None: none)
        self._wanted_source = SCAN_SOURCE  # the curator's choice, kept while the app runs
        self.artwork_id: str | None = None
        self._artwork_phrases: list[tuple[str, str]] = []
        self._phrase_requests = LatestOnly(self)
        self._region_requests = LatestOnly(self)
        self._label_requests = LatestOnly(self)
        self._shown: _Shown | None = None
        self._highlight_phrase: str | None = None
        self._train_job: Job | None = None
        self.last_latency_ms: float | None = None
        self.overlay = PhraseOverlay(editor.canvas().scene())

        panel.phraseChosen.connect(self.accept_phrase)
        panel.regionChosen.connect(self.accept_region)
        panel.trainRequested.connect(self.train)
        panel.cancelRequested.connect(self.cancel_training)
        panel.drawRequested.connect(self._draw_for_phrase)
        panel.heatToggled.connect(self.overlay.set_heat_visible)
        panel.opacityChanged.connect(self.overlay.set_opacity)
        panel.modelChosen.connect(self._source_chosen)
        editor.selectionChanged.connect(self._selection_changed)
        editor.proposalsAccepted.connect(lambda regions: self._judge_proposals(regions, True))
        editor.proposalsRejected.connect(lambda regions: self._judge_proposals(regions, False))
        panel.proposalLimitChanged.connect(editor.set_proposal_limit)
        editor.regionsChanged.connect(self._proposals_changed)
        editor.set_proposal_limit(panel.wanted_proposals())

    # -- collection / artwork ------------------------------------------------------------
    def set_collection(self, catalog) -> None:
        self.shutdown()
        self.catalog = catalog
        self.service = SuggestionService(catalog.root, catalog.data_dir, device=self.device)
        self._warmed: str | None = None
        self.warm_up_text()
        self._update_state()
        if self._clip_name is not None:
            self._warm_up_clip()

    def _update_state(self) -> None:
        s = self.service
        if s is None:
            return
        self._clip_name = s.clip_model_name()
        self.panel.set_model_choices(s.model_name() if s.available else "unavailable",
                                     self._clip_name, self._wanted_source)
        if s.available:
            note = " (bundled general model; no training on this collection yet)" \
                if s.is_general else ""
            self.panel.set_ready(f"Model: {s.model_name()}{note}. Select a box for phrase "
                                 "suggestions.", can_fine_tune=s.is_general)
            if self._warmed != s.model_name():  # new model or first regions: warm it up once
                self._warmed = s.model_name()
                self._warm_up()
        else:
            self.panel.set_unavailable(s.why_unavailable(), can_train=s.store_dir is not None)
            if self._clip_name is not None:
                self.panel.status.setText(f"{self.panel.status.text()} CLIP zero-shot "
                                          f"({self._clip_name}) can still rank phrases: choose "
                                          "it above the list.")
        self.modelsChanged.emit()

    def _warm_up(self) -> None:
        """Load the model and embed the vocabulary before the first click needs them."""
        service = self.service

        def run(ctl: JobControl) -> None:
            service.warm_up(ctl.cancelled)

        job = Job(run, "warm-up")
        job.signals.error.connect(lambda e: self.panel.set_unavailable(str(e[0]), False))
        self._track(job)

    def _warm_up_clip(self) -> Job | None:
        """Load the CLIP model and embed the collection's phrases in the background (once,
        when the collection opens), so the first CLIP ranking does not wait for them."""
        service = self.service
        if service is None:
            return None

        def run(ctl: JobControl) -> None:
            service.clip_warm_up(ctl.cancelled)

        job = Job(run, "CLIP warm-up")
        job.signals.error.connect(lambda e: self.statusMessage.emit(
            f"CLIP model could not be loaded: {e[0]}"))
        return self._track(job)

    def warm_up_text(self) -> Job | None:
        """Embed the collection's phrases with the model's text encoder in the background
        (once; cached with the collection), so even the first suggestion never waits for the
        transformer. Runs at opening and after each phrase extraction; needs no regions."""
        service = self.service
        if service is None:
            return None

        def run(ctl: JobControl) -> int:
            return service.warm_up_text(ctl.cancelled)

        job = Job(run, "embed phrases")
        job.signals.error.connect(lambda e: self.statusMessage.emit(
            f"Phrases could not be embedded: {e[0]}"))
        return self._track(job)

    def _track(self, job: Job) -> Job:
        """Background warm-ups are cancelled when the collection closes."""
        self._warm_jobs.append(job)
        job.signals.finished.connect(lambda: self._warm_jobs.remove(job)
                                     if job in self._warm_jobs else None)
        return start_job(job)

    def set_artwork(self, artwork_id: str, phrases: Sequence) -> None:
        if artwork_id != self.artwork_id:  # same artwork: new phrases only, labels still hold
            self._label_requests.cancel()
        self.artwork_id = artwork_id
        self._artwork_phrases = list(dict.fromkeys((p.norm, p.text) for p in phrases if p.norm))
        self._phrase_requests.cancel()
        self._region_requests.cancel()
        self._shown = None
        self.overlay.clear()
        self.panel.clear_phrases()
        self.panel.clear_regions()

    # -- region -> phrases -----------------------------------------------------------------
    def source(self) -> str:
        """The model ranking phrases now: CLIP when chosen and installed, else SCAN."""
        if self._wanted_source == CLIP_SOURCE and self._clip_name is not None:
            return CLIP_SOURCE
        return SCAN_SOURCE

    def _can_rank(self) -> bool:
        """CLIP needs neither regions nor a SCAN model: it crops the box from the image."""
        s = self.service
        return s is not None and (s.available or self.source() == CLIP_SOURCE)

    def _source_chosen(self, source: str) -> None:
        self._wanted_source = source
        self._selection_changed(self.editor.selected_indices())  # re-rank the selected box

    def _selection_changed(self, indices: list) -> None:
        if self.service is None or self.artwork_id is None:
            return
        if len(indices) != 1:
            self._phrase_requests.cancel()
            self._shown = None
            self.panel.clear_phrases("Select one box for phrase suggestions." if self._can_rank() else "")
            return
        if not self._can_rank():  # e.g. back to SCAN while it is unavailable
            self._phrase_requests.cancel()
            self._shown = None
            self.panel.clear_phrases()
            return
        region = self.editor.annotation().regions[indices[0]]
        self.request_phrases(region.box)

    def request_phrases(self, box: Box) -> Job:
        service, aid, phrases = self.service, self.artwork_id, list(self._artwork_phrases)
        top_k = self.top_k
        t0 = time.perf_counter()
        self.panel.status.setText("Scoring phrases…")
        if self.source() == CLIP_SOURCE:
            rank, model = service.clip_phrases_for_box, f"clip/{self._clip_name}"
            about = f"CLIP zero-shot model {self._clip_name}"
        else:
            rank, model = service.phrases_for_box, service.model_name()
            about = f"model {model}"

        def run(ctl: JobControl):
            return rank(aid, box, phrases, top_k=top_k)

        def done(ranked: list[RankedPhrase]) -> None:
            if aid != self.artwork_id:
                return
            self._shown = _Shown(aid, box, list(ranked), set(), model)
            self.last_latency_ms = (time.perf_counter() - t0) * 1000
            self.panel.show_phrases(ranked, f"Phrases for the box ({self.last_latency_ms:.0f} ms, "
                                            f"{about}). Click or Enter to label it.")
            self.suggestionsShown.emit(self.last_latency_ms)

        return self._phrase_requests.start(run, done, self._failed, "phrases")

    def accept_phrase(self, rp: RankedPhrase) -> None:
        shown = self._shown
        if shown is None or rp.phrase in shown.accepted:
            return
        sel = self.editor.selected_regions()
        if len(sel) != 1 or sel[0].box != shown.box:
            self.statusMessage.emit("Select the box again: the suggestions were for another box.")
            return
        self.editor.label_selected(rp.label)
        shown.accepted.add(rp.phrase)
        model = f"{PHRASE}:{shown.model}"  # the model whose list was shown: SCAN or CLIP
        region = box_key(shown.box)
        # Judgements: the chosen phrase, and every phrase ranked above it that the curator skipped.
        self._record([Judgement(shown.artwork_id, region, other.phrase, other.rank, other.score, False, model)
                      for other in shown.ranked if other.rank < rp.rank and other.phrase not in shown.accepted]
                     + [Judgement(shown.artwork_id, region, rp.phrase, rp.rank, rp.score, True, model)])
        self.statusMessage.emit(f"Labelled “{rp.label}” (suggestion #{rp.rank})")

    # -- phrase -> regions -------------------------------------------------------------------
    def wants_phrase(self) -> bool:
        """Whether a phrase click should highlight regions (else: label / draw as before)."""
        if self.service is None or not self.service.available:
            return False
        return self.panel.mode_button.isChecked() or not self.editor.selected_indices()

    def highlight(self, norm: str) -> Job | None:
        if self.service is None or self.artwork_id is None:
            return None
        service, aid = self.service, self.artwork_id
        self._highlight_phrase = norm
        self.panel.region_title.setText(f"Finding regions for “{self._label(norm)}”…")

        def run(ctl: JobControl) -> PhraseRegions:
            return service.regions_for_phrase(aid, norm)

        def done(result: PhraseRegions) -> None:
            if aid != self.artwork_id:
                return
            self.overlay.show(result, self.editor.canvas().image_size(), self.accept_region)
            self.panel.show_regions(result, self._label(norm))
            if result.hits:
                self.editor.canvas().ensureVisible(self.overlay.highlights[0].rect(), 40, 40)

        def failed(err) -> None:
            self.overlay.clear()
            self.panel.clear_regions(str(err[0]))

        return self._region_requests.start(run, done, failed, "regions")

    def accept_region(self, hit: RegionHit) -> None:
        result = self.overlay.result
        if result is None or result.artwork_id != self.artwork_id:
            return
        label = self._label(result.phrase)
        self.editor.paste_regions([Region(box=hit.box.rounded(), phrase=label, source="manual")])
        self.editor.select_indices([len(self.editor.annotation().regions) - 1])
        self._record([Judgement(result.artwork_id, box_key(hit.box), result.phrase, hit.rank, hit.score,
                                True, f"{REGION}:{self.service.model_name()}")])
        self.statusMessage.emit(f"Annotated region #{hit.rank} as “{label}”")

    def clear_highlight(self) -> None:
        self._region_requests.cancel()
        self.overlay.clear()
        self.panel.clear_regions()

    def _draw_for_phrase(self) -> None:
        if self._highlight_phrase:
            self.clear_highlight()
            self.editor.start_box_with_label(self._label(self._highlight_phrase))

    def _label(self, norm: str) -> str:
        return next((text for n, text in self._artwork_phrases if n == norm), norm)

    # -- proposals (detector boxes) -------------------------------------------------------------
    def _judge_proposals(self, regions: Sequence[Region], accepted: bool) -> None:
        if self.catalog is None or self.artwork_id is None:
            return
        detector = "proposals"
        if self.service is not None:
            det = (self.service.store_meta().get("detector") or {}) if self.service.store_dir else {}
            detector = det.get("weights") or det.get("detector") or detector
        ranked = sorted(regions, key=lambda r: -(r.score or 0.0))
        self._record([Judgement(self.artwork_id, box_key(r.box), r.phrase, 0, r.score or 0.0, accepted,
                                f"{PROPOSAL}:{detector}") for r in ranked])

    def _record(self, judgements: list[Judgement]) -> None:
        """Store one click's judgements in one transaction; a failure is said, not raised."""
        try:
            self.catalog.judgements.add_many(judgements)
        except ArtannotError as exc:
            self.statusMessage.emit(f"Judgements not recorded: {exc}")

    def label_proposals(self) -> Job | None:
        """Name every unnamed proposal with its best phrase (this artwork's metadata phrases
        first), all in one batch on a worker; an answer for another artwork is dropped."""
        if self.service is None or self.artwork_id is None:
            return None
        boxes = [r.box for r in self.editor.pending_proposals() if not r.phrase]
        if not boxes:
            return None
        service, aid, phrases = self.service, self.artwork_id, list(self._artwork_phrases)

        def run(ctl: JobControl) -> list[RankedPhrase | None]:
            return service.best_phrases_for_regions(aid, boxes, phrases)

        def done(best: list[RankedPhrase | None]) -> None:
            if aid != self.artwork_id:
                return
            labels = {box: ProposalLabel(rp.label, rp.score) for box, rp in zip(boxes, best)
                      if rp is not None}
            self.editor.add_proposal_labels(labels)
            self.proposalsLabelled.emit(len(labels))

        def failed(err) -> None:
            self.statusMessage.emit(f"Proposals could not be named: {err[0]}")
            self.proposalsLabelled.emit(0)

        return self._label_requests.start(run, done, failed, "proposal labels")

    def _proposals_changed(self) -> None:
        pending = self.editor.pending_proposals()
        self.panel.set_proposal_total(sum(r.source == "detector" for r in pending))

    # -- training ---------------------------------------------------------------------------
    def train(self, use_judgements: bool = True, config=None) -> Job | None:
        if self.catalog is None or self._train_job is not None:
            return None
        root, data_dir = self.catalog.root, self.catalog.data_dir

        def run(ctl: JobControl):
            def progress(p) -> None:
                ctl.progress((p.epoch - 1) * p.num_batches + p.batch, p.num_epochs * p.num_batches)

            return train_collection(root, data_dir, config=config, progress=progress,
                                    should_stop=ctl.cancelled, use_judgements=use_judgements,
                                    register_as=scan_model_name(root))

        job = Job(run, "train")
        self._train_job = job
        self.panel.set_busy("Training", 0, 1)
        job.signals.progress.connect(lambda d, t: self.panel.set_busy("Training", d, t))
        job.signals.result.connect(self._trained)
        job.signals.error.connect(lambda e: self.statusMessage.emit(f"Training failed: {e[0]}"))
        job.signals.finished.connect(self._training_finished)
        self.statusMessage.emit("Training a SCAN model on this collection…")
        return start_job(job)

    def _trained(self, result) -> None:
        if self.service is not None:
            self.service.reload()
        self._update_state()
        self.statusMessage.emit(f"Model trained ({result.epochs_done} epochs); checkpoint {result.best_path}")

    def _training_finished(self) -> None:
        job, self._train_job = self._train_job, None
        self.panel.set_busy(None)
        if job is not None and job.cancelled:
            self.statusMessage.emit("Training stopped; “Train” again resumes from the last epoch.")

    def cancel_training(self) -> None:
        if self._train_job is not None:
            self._train_job.cancel()

    def training_job(self) -> Job | None:
        return self._train_job

    def _failed(self, err) -> None:
        self.panel.status.setText(f"Suggestions failed: {err[0]}")

    def shutdown(self, wait: float = 10) -> None:
        jobs = [j for j in (self._phrase_requests.current, self._region_requests.current,
                            self._label_requests.current, self._train_job) if j]
        jobs += list(self._warm_jobs)
        for job in self._warm_jobs:
            job.cancel()
        self._phrase_requests.cancel()
        self._region_requests.cancel()
        self._label_requests.cancel()
        self.cancel_training()
        for job in jobs:
            job.done.wait(wait)
        if self.service is not None:
            self.service.close()

