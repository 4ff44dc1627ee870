"""``artannot train | evaluate | suggest``: thin wrappers over artannot.retrieval.

PATH is a collection folder (catalog + feature store from ``artannot detect``), or, for
train and evaluate, ``synthetic:N`` for a generated collection of N scenes with known answers.
"""

from __future__ import annotations

import difflib
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from artannot.cli.progress import StatusLine, format_eta
from artannot.core.errors import ArtannotError

if TYPE_CHECKING:
    from artannot.retrieval.service import RankedPhrase, RegionHit, SuggestionService
    from artannot.retrieval.train import TrainProgress


class SuggestError(Exception):
    """A ``suggest`` request the collection cannot answer; the message says what to run."""


# -- train: progress inside an epoch ---------------------------------------------------------
def train_etas(batch: int, num_batches: int, epoch: int, num_epochs: int, epoch_elapsed: float,
               seconds_per_epoch: float | None = None) -> tuple[float | None, float | None]:
    """Seconds left in this epoch and in the run, at the pace of this epoch's batches so far.

    Later epochs are assumed to take as long as the finished ones did (validation and
    checkpointing included) once one has finished; before that, as long as these batches.
    """
    if batch <= 0 or num_batches <= 0 or epoch_elapsed <= 0:
        return None, None
    per_batch = epoch_elapsed / batch
    left = per_batch * max(num_batches - batch, 0)
    per_epoch = seconds_per_epoch if seconds_per_epoch is not None else per_batch * num_batches
    return left, left + max(num_epochs - epoch, 0) * per_epoch


def batch_line(p: TrainProgress, mean_loss: float, epoch_eta: float | None,
               run_eta: float | None) -> str:
    """The in-epoch status: where we are, how the loss goes, when it will be done."""
    pct = 100 * p.batch / p.num_batches if p.num_batches else 100.0
    return (f"epoch {p.epoch}/{p.num_epochs}  batch {p.batch}/{p.num_batches} ({pct:.0f}%)  "
            f"loss {mean_loss:.4f}  ETA epoch {format_eta(epoch_eta)}, run {format_eta(run_eta)}")


def epoch_line(p: TrainProgress, mean_loss: float | None) -> str:
    """The per-epoch summary: time, mean training loss and validation recall."""
    line = f"epoch {p.epoch}/{p.num_epochs} {p.epoch_seconds or 0.0:.1f}s"
    if mean_loss is not None:
        line += f"  loss {mean_loss:.4f}"
    if p.val is not None:
        v = p.val
        line += f"  val i2t R@1 {v.i2t.r1:.1f}  t2i R@1 {v.t2i.r1:.1f}  rsum {v.rsum:.1f}"
    return line


class TrainMeter:
    """``train()``'s progress callback for the CLI: a rate-limited status line (batches done,
    running mean loss, ETAs) on stderr inside each epoch, and the summary line on stdout after
    it, so a terminal sees live progress and a log file gets a few lines per epoch."""

    def __init__(self, status: StatusLine | None = None, echo: Callable[[str], Any] = typer.echo,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.status = status if status is not None else StatusLine(clock=clock)
        self._echo = echo
        self._clock = clock
        self._epoch_start = clock()
        self._loss_sum, self._loss_n = 0.0, 0
        self._epoch_walls: list[float] = []  # wall time of each finished epoch, validation included

    @property
    def mean_loss(self) -> float | None:
        return self._loss_sum / self._loss_n if self._loss_n else None

    def __call__(self, p: TrainProgress) -> None:
        if p.epoch_seconds is not None:  # train() marks the end of an epoch this way
            self._end_epoch(p)
        else:
            self._batch(p)

    def _batch(self, p: TrainProgress) -> None:
        if math.isfinite(p.loss):
            self._loss_sum += p.loss
            self._loss_n += 1
        walls = self._epoch_walls
        etas = train_etas(p.batch, p.num_batches, p.epoch, p.num_epochs,
                          self._clock() - self._epoch_start,
                          sum(walls) / len(walls) if walls else None)
        fraction = p.batch / p.num_batches if p.num_batches else 1.0
        self.status.update(batch_line(p, self.mean_loss or 0.0, *etas), fraction)

    def _end_epoch(self, p: TrainProgress) -> None:
        self.status.end()
        now = self._clock()
        self._epoch_walls.append(now - self._epoch_start)
        self._epoch_start = now
        self._echo(epoch_line(p, self.mean_loss))
        self._loss_sum, self._loss_n = 0.0, 0


def load_dataset(path: str, *, features: Path | None = None, coarse: bool = False,
                 min_phrase_count: int = 4, vocab=None, use_judgements: bool = False):
    """The SCAN dataset for a collection folder or ``synthetic:N`` (plus fragments if any)."""
    from artannot.retrieval.data import ScanDataset

    if path.startswith("synthetic:"):
        from artannot.retrieval.synthetic import make_collection

        items, frags, scenes = make_collection(int(path.split(":", 1)[1]), coarse=coarse)
        test = [f for f, s in zip(frags, scenes) if s.split == "test"]
        return ScanDataset(items, vocab, min_phrase_count=min_phrase_count), test
    from artannot.retrieval.service import collection_dataset

    return collection_dataset(Path(path), features=features, coarse=coarse, vocab=vocab,
                              min_phrase_count=min_phrase_count, use_judgements=use_judgements), []


def load_fragments(path: str, split: str, features: Path | None):
    """Ground-truth VOC boxes of a collection as fragment samples (synthetic sets bring their own)."""
    from artannot.retrieval.service import collection_fragments

    return collection_fragments(Path(path), split=split, features=features)


# -- suggest: one artwork of a collection ------------------------------------------------------
def open_collection(text: str) -> Path:
    """The collection root for PATH; refuses folders that were never indexed (opening one
    would quietly index it, e.g. a whole home folder typed by mistake)."""
    from artannot.core.catalog import data_dir_for

    root = Path(text).expanduser()
    if not root.is_dir():
        raise SuggestError(f"no such collection folder: {text}")
    root = root.resolve()
    if not (data_dir_for(root) / "catalog.sqlite").is_file():
        raise SuggestError(f"{text} is not an indexed collection: run `artannot index {text}` "
                           f"and `artannot detect {text}` first")
    return root


def resolve_artwork_id(ids: Sequence[str], root: Path, given: str) -> str:
    """The catalog id for ARTWORK: the id itself (the image path relative to the collection)
    or a path to the image; an unknown id fails with the closest ids as hints."""
    known = set(ids)
    want = given.replace("\\", "/").removeprefix("./")
    if want in known:
        return want
    path = Path(given).expanduser()
    if path.is_file():
        try:
            rel = path.resolve().relative_to(root).as_posix()
        except ValueError:
            rel = ""
        if rel in known:
            return rel
    close = difflib.get_close_matches(want, list(ids), n=3, cutoff=0.5)
    by_name = [i for i in ids if Path(i).name == Path(want).name and i not in close]
    hints = (close + by_name)[:3]
    if hints:
        raise SuggestError(f"no artwork {given!r} in {root}; did you mean {', '.join(hints)}?")
    raise SuggestError(f"no artwork {given!r} in {root} (ids are image paths relative to the "
                       "collection, e.g. images/name.jpg)")


def stored_regions(svc: SuggestionService, artwork_id: str, collection: str) -> Any:
    """The artwork's detected regions (a RegionSet), or an error that says how to get them."""
    rs = svc.regions(artwork_id) if svc.store_dir is not None else None
    if rs is None or not len(rs):
        raise SuggestError(f"no detected regions for {artwork_id}: run `artannot detect {collection}`")
    return rs


def require_model(svc: SuggestionService, collection: str) -> None:
    if not svc.available:
        raise SuggestError(f"{svc.why_unavailable()} Run `artannot train {collection}`, "
                           "or pass --checkpoint.")


def voc_box(box: Any) -> list[float]:
    """A Box as plain floats for JSON, rounded: stored boxes are float32 (96.12000274...)."""
    return [round(float(v), 2) for v in (box.xmin, box.ymin, box.xmax, box.ymax)]


def box_text(values: Sequence[float]) -> str:
    """VOC ``xmin,ymin,xmax,ymax``, whole pixels without decimals (``12,30.5,200,181``)."""
    return ",".join(f"{v:.2f}".rstrip("0").rstrip(".") for v in values)


def region_rows(boxes: Sequence[Any]) -> list[dict[str, Any]]:
    return [{"region": i, "box": voc_box(b)} for i, b in enumerate(boxes)]


def phrase_rows(ranked: Sequence[RankedPhrase], top_k: int) -> list[dict[str, Any]]:
    """The service's list (the artwork's own phrases first, each origin best first), cut to
    ``top_k`` per origin: a long description has dozens of phrases the user did not ask for."""
    rows: list[dict[str, Any]] = []
    per_origin: dict[str, int] = {}
    for r in ranked:
        per_origin[r.origin] = per_origin.get(r.origin, 0) + 1
        if per_origin[r.origin] <= top_k:
            rows.append({"rank": len(rows) + 1, "score": r.score, "phrase": r.phrase,
                         "label": r.label, "origin": r.origin, "in_vocab": r.in_vocab})
    return rows


def hit_rows(hits: Sequence[RegionHit]) -> list[dict[str, Any]]:
    return [{"rank": h.rank, "score": h.score, "region": h.region, "box": voc_box(h.box),
             "attention": h.attention} for h in hits]


def row_line(row: dict[str, Any]) -> str:
    """One tab-separated output line for a region, a ranked phrase or a ranked region."""
    box = box_text(row.get("box", ()))
    if "rank" not in row:
        return f"region {row['region']}\t{box}"
    if "phrase" in row:
        return f"{row['rank']}\t{row['score']:.3f}\t{row['label']}\t{row['origin']}"
    return f"{row['rank']}\t{row['score']:.3f}\tregion {row['region']}\t{box}\t" \
           f"attention {row['attention']:.3f}"


def suggest_rows(svc: SuggestionService, artwork_id: str, collection: str, *,
                 region: int | None, phrase: str | None,
                 artwork_phrases: Sequence[tuple[str, str]], top_k: int) -> list[dict[str, Any]]:
    """What ``suggest`` prints, as rows: the regions, phrases for one, or regions for a phrase."""
    rs = stored_regions(svc, artwork_id, collection)
    boxes = rs.box_list()
    if region is None and phrase is None:
        return region_rows(boxes)
    if region is not None and not 0 <= region < len(boxes):
        raise SuggestError(f"region {region} is out of range: {artwork_id} has {len(boxes)} "
                           f"regions (0-{len(boxes) - 1})")
    require_model(svc, collection)
    if region is not None:
        return phrase_rows(svc.phrases_for_box(artwork_id, boxes[region], artwork_phrases,
                                               top_k=top_k), top_k)
    from artannot.text.phrases import normalise_label

    norm = normalise_label(phrase or "")
    if not norm:
        raise SuggestError("--phrase is empty")
    return hit_rows(svc.regions_for_phrase(artwork_id, norm, top_k=top_k).hits)


def register(app: typer.Typer) -> None:
    """Add ``train``, ``evaluate`` and ``suggest`` to ``app``."""
    from artannot.retrieval.config import ScanConfig

    default = ScanConfig()

    @app.command("train")
    def train_cmd(
        path: Annotated[str, typer.Argument(help="Collection folder, or synthetic:N.")],
        out: Annotated[Optional[Path], typer.Option(
            "--out", help="Run folder (last.pt, best.pt); default: the collection's .artannot/scan, "
                          "where the GUI looks.")] = None,
        features: Annotated[Path | None, typer.Option(help="Feature store folder.")] = None,
        coarse: Annotated[bool, typer.Option(help="Whole-image feature (k=1).")] = False,
        text_encoder: Annotated[str, typer.Option("--text-encoder", help="phrase | word")] = default.text_encoder,
        cross_attn: Annotated[str, typer.Option("--cross-attn", help="i2t | t2i")] = default.cross_attn,
        agg: Annotated[str, typer.Option(help="AVG | LSE | MAX")] = default.agg,
        raw_feature_norm: Annotated[str, typer.Option("--raw-feature-norm")] = default.raw_feature_norm,
        lambda_softmax: Annotated[float, typer.Option("--lambda-softmax")] = default.lambda_softmax,
        lambda_lse: Annotated[float, typer.Option("--lambda-lse")] = default.lambda_lse,
        embed_size: Annotated[int, typer.Option("--embed-size")] = default.embed_size,
        word_dim: Annotated[int, typer.Option("--word-dim")] = default.word_dim,
        num_layers: Annotated[int, typer.Option("--num-layers")] = default.num_layers,
        bidirectional: Annotated[bool, typer.Option("--bidirectional/--unidirectional")] = True,
        margin: Annotated[float, typer.Option()] = default.margin,
        max_violation: Annotated[bool, typer.Option("--max-violation/--sum-violation")] = True,
        hardest_after: Annotated[int, typer.Option("--hardest-after", help="Epochs with summed negatives before the hardest ones.")] = default.hardest_after,
        lr: Annotated[float, typer.Option()] = default.lr,
        lr_update: Annotated[int, typer.Option("--lr-update")] = default.lr_update,
        num_epochs: Annotated[int, typer.Option("--num-epochs")] = default.num_epochs,
        batch_size: Annotated[int, typer.Option("--batch-size")] = default.batch_size,
        grad_clip: Annotated[float, typer.Option("--grad-clip")] = default.grad_clip,
        seed: Annotated[int, typer.Option()] = default.seed,
        min_phrase_count: Annotated[int, typer.Option("--min-phrase-count")] = default.min_phrase_count,
        device: Annotated[str | None, typer.Option(help="cpu | cuda (default: auto)")] = None,
        fresh: Annotated[bool, typer.Option("--fresh", help="Ignore last.pt; start over.")] = False,
        register_as: Annotated[str | None, typer.Option("--register", help="Register best.pt with the model manager under this name.")] = None,
        use_judgements: Annotated[bool, typer.Option("--use-judgements", help="Add the curators' accepted suggestions (catalog judgements) as training pairs.")] = False,
    ) -> None:
        """Train SCAN; Ctrl+C stops after the current batch and `train` again resumes."""
        from artannot.retrieval.train import train

        args = dict(locals())
        cfg = ScanConfig(**{f.name: args[f.name] for f in fields(ScanConfig) if f.name in args})
        stop = {"flag": False}
        try:
            ds, _ = load_dataset(path, features=features, coarse=coarse,
                                 min_phrase_count=min_phrase_count, use_judgements=use_judgements)
            if out is None:
                if path.startswith("synthetic:"):
                    raise ValueError("--out is required for a synthetic collection")
                from artannot.core.catalog import data_dir_for

                out = data_dir_for(Path(path).resolve()) / "scan"

            meter = TrainMeter()
            try:
                res = train(ds, cfg, out_dir=out, progress=meter, resume=not fresh,
                            device=device, should_stop=lambda: stop["flag"])
            except KeyboardInterrupt:
                meter.status.end()
                typer.echo("interrupted; run the same command to resume", err=True)
                raise typer.Exit(130) from None
            if register_as and res.best_path is not None:
                from artannot.models import ModelManager

                ModelManager().register(res.best_path, register_as, role="scan",
                                        architecture=f"scan-{cfg.cross_attn}-{cfg.agg}-{cfg.text_encoder}",
                                        provenance=f"artannot train {path}")
        except (ArtannotError, ValueError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        typer.echo(f"best val rsum {res.best_rsum:.1f}; checkpoint {res.best_path}")

    @app.command("evaluate")
    def evaluate_cmd(
        path: Annotated[str, typer.Argument(help="Collection folder, or synthetic:N.")],
        checkpoint: Annotated[Path, typer.Option("--checkpoint", exists=True, dir_okay=False)],
        split: Annotated[str, typer.Option()] = "test",
        features: Annotated[Path | None, typer.Option(help="Feature store folder.")] = None,
        coarse: Annotated[bool, typer.Option()] = False,
        shard: Annotated[int, typer.Option(help="Images x texts per score shard.")] = 128,
        as_json: Annotated[bool, typer.Option("--json")] = False,
        fragments: Annotated[bool, typer.Option(
            "--fragments/--no-fragments",
            help="Also rank phrases per ground-truth VOC box and boxes per phrase (thesis 4.4).")] = True,
        rerank: Annotated[bool, typer.Option(
            "--rerank", help="Add rows with Engilberge's asymmetric re-ranking of the same scores.")] = False,
    ) -> None:
        """Recall@1/5/10 both directions (thesis Table 4.1 layout, or JSON)."""
        from artannot.retrieval.checkpoint import load_checkpoint
        from artannot.retrieval.evaluate import (
            artwork_scores,
            default_device,
            format_table,
            fragment_scores,
            metrics_rows,
            model_label,
        )

        try:
            ck = load_checkpoint(checkpoint)
            ds, frags = load_dataset(path, features=features, coarse=coarse, vocab=ck.vocab)
            label = model_label(ck.model)
            scores, truth = artwork_scores(ck.model, ds.vocab, ds.split(split), shard=shard,
                                           device=default_device())
            rows = metrics_rows(scores, truth, label, rerank)
            if fragments and not path.startswith("synthetic:") and not coarse:
                frags = load_fragments(path, split, features)
                if not frags:
                    typer.echo(f"no annotated artworks in the {split} split: no fragment evaluation", err=True)
            if frags:
                scores, truth = fragment_scores(ck.model, ck.vocab, frags)
                rows += metrics_rows(scores, truth, label + " fragments (GT boxes)", rerank)
        except (ArtannotError, ValueError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        if as_json:
            typer.echo(json.dumps([r.to_dict() for r in rows], indent=2))
        else:
            typer.echo(format_table(rows, f"{path} ({split})"))

    @app.command("judgements")
    def judgements_cmd(
        path: Annotated[Path, typer.Argument(help="Collection folder.", exists=True, file_okay=False)],
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """How often the curators accepted the top-1 / top-5 suggestion (from the GUI's judgements)."""
        from dataclasses import asdict

        from artannot.core.catalog import Catalog
        from artannot.retrieval.service import judgement_report

        with Catalog.open(path) as cat:
            rows = judgement_report(cat.judgements())
        if as_json:
            typer.echo(json.dumps([asdict(r) for r in rows], indent=2))
        elif not rows:
            typer.echo("no judgements recorded yet (accept or reject suggestions in the GUI)")
        else:
            for r in rows:
                typer.echo(r.line())

    @app.command("suggest")
    def suggest_cmd(
        path: Annotated[str, typer.Argument(help="Collection folder (after `artannot detect`).")],
        artwork: Annotated[str, typer.Argument(
            help="Artwork id: the image path relative to the collection, e.g. images/wave.jpg.")],
        region: Annotated[int | None, typer.Option(help="Stored region index -> best phrases.")] = None,
        phrase: Annotated[str | None, typer.Option(help="Phrase -> best regions of the artwork.")] = None,
        top_k: Annotated[int, typer.Option("--top-k", min=1, help="Regions for --phrase; phrases of "
                                           "each origin (the artwork's own, the collection's) "
                                           "for --region.")] = 10,
        checkpoint: Annotated[Path | None, typer.Option(
            "--checkpoint", help="SCAN checkpoint; default: the model the GUI uses for this "
                           "collection.")] = None,
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """Phrases for a stored region (the artwork's own phrases first), or regions for a phrase;
        without --region or --phrase, list the artwork's regions."""
        from artannot.core.catalog import Catalog, data_dir_for
        from artannot.retrieval.service import SuggestionService

        svc = None
        try:
            if region is not None and phrase is not None:
                raise SuggestError("give --region or --phrase, not both")
            if checkpoint is not None and not checkpoint.is_file():
                raise SuggestError(f"no such checkpoint: {checkpoint}")
            root = open_collection(path)
            with Catalog.open(root) as cat:
                artwork_id = resolve_artwork_id([a.id for a in cat.artworks()], root, artwork)
                own = [(p.norm, p.text) for p in cat.phrases(artwork_id)]
            svc = SuggestionService(root, data_dir_for(root), checkpoint=checkpoint)
            rows = suggest_rows(svc, artwork_id, path, region=region, phrase=phrase,
                                artwork_phrases=own, top_k=top_k)
        except (SuggestError, ArtannotError, ValueError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        finally:
            if svc is not None:
                svc.close()
        if as_json:
            typer.echo(json.dumps(rows, indent=2))
            return
        for row in rows:
            typer.echo(row_line(row))
        if region is None and phrase is None:
            typer.echo("pass --region N for phrases of a region, or --phrase TEXT for the "
                       "regions of a phrase", err=True)
