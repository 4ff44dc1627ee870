"""``artannot train | evaluate | suggest``: thin wrappers over artannot.retrieval.

PATH is a collection folder (catalog + feature store from ``artannot detect``), or, for
train and evaluate, ``synthetic:N`` for a generated collection of N scenes with known answers.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from artannot.cli.progress import StatusLine, format_eta
from artannot.core.errors import ArtannotError

if TYPE_CHECKING:
    from artannot.retrieval.train import TrainProgress


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
                 min_phrase_count: int = 4, vocab=None, use_judgements: bool = False,
                 text_unit: str = "artwork", sentences: bool = False, maximal: bool = False):
    """The SCAN dataset for a collection folder or ``synthetic:N`` (plus fragments if any)."""
    from artannot.retrieval.data import ScanDataset

    if path.startswith("synthetic:"):
        from artannot.retrieval.synthetic import make_collection

        items, frags, scenes = make_collection(int(path.split(":", 1)[1]), coarse=coarse)
        test = [f for f, s in zip(frags, scenes) if s.split == "test"]
        return ScanDataset(items, vocab, min_phrase_count=min_phrase_count), test
    from artannot.retrieval.collection_training import collection_dataset

    return collection_dataset(Path(path), features=features, coarse=coarse, vocab=vocab,
                              min_phrase_count=min_phrase_count, use_judgements=use_judgements,
                              text_unit=text_unit, sentences=sentences, maximal=maximal), []


def collection_data_dir(path: str) -> Path | None:
    """Where a collection keeps its caches (phrase vectors); None for synthetic sets."""
    if path.startswith("synthetic:"):
        return None
    from artannot.core.catalog import data_dir_for

    return data_dir_for(Path(path).resolve())


def phrase_echo(n: int, total: int) -> None:
    """Progress of the one-off embedding of a collection's phrases by the text model."""
    if n == total or n % 16384 == 0:
        typer.echo(f"embedded {n}/{total} new phrases with the text model", err=True)


def load_fragments(path: str, split: str, features: Path | None):
    """Ground-truth VOC boxes of a collection as fragment samples (synthetic sets bring their own)."""
    from artannot.retrieval.collection_training import collection_fragments

    return collection_fragments(Path(path), split=split, features=features)


def checkpoint_path(text: str) -> Path:
    """A checkpoint file, or ``general`` for the bundled general model."""
    if text == "general":
        from artannot.retrieval.model_files import general_checkpoint

        path, why = general_checkpoint()
        if path is None:
            raise ValueError(why)
        return path
    path = Path(text)
    if not path.is_file():
        raise ValueError(f"no such checkpoint: {text}")
    return path


def evaluate_one(path: str, checkpoint: str, *, split: str, features: Path | None,
                 coarse: bool, shard: int, fragments: bool, rerank: bool, text_unit: str,
                 sentences: bool, maximal: bool, label_prefix: bool) -> list:
    """The rows of one checkpoint: artwork level, then fragments (GT boxes) when there are."""
    from artannot.retrieval.checkpoint import load_checkpoint
    from artannot.retrieval.evaluate import (
        artwork_scores,
        fragment_scores,
        metrics_rows,
        model_label,
    )
    from artannot.vision.device import select_device

    ckpt = checkpoint_path(checkpoint)
    ck = load_checkpoint(ckpt, data_dir=collection_data_dir(path))
    ds, frags = load_dataset(path, features=features, coarse=coarse, vocab=ck.vocab,
                             text_unit=text_unit, sentences=sentences, maximal=maximal)
    label = model_label(ck.model)
    if label_prefix:
        label = f"{checkpoint if checkpoint == 'general' else ckpt.parent.name + '/' + ckpt.name}: {label}"
    items = ds.split(split)
    if not items:
        raise ValueError(f"no artwork with features and phrases in the {split} split")
    scores, truth = artwork_scores(ck.model, ds.vocab, items, shard=shard, device=select_device())
    rows = metrics_rows(scores, truth, label, rerank)
    chance = {"chance_r1_i2t": 100.0 * len(truth[0]) / scores.shape[1] if truth else 0.0,
              "chance_r1_t2i": 100.0 / scores.shape[0]}
    for r in rows:
        r.extra.update(chance)
    if fragments and not path.startswith("synthetic:") and not coarse:
        frags = load_fragments(path, split, features)
        if not frags:
            typer.echo(f"no annotated artworks in the {split} split: no fragment evaluation",
                       err=True)
    if frags and fragments:
        scores, truth = fragment_scores(ck.model, ck.vocab, frags)
        rows += metrics_rows(scores, truth, label + " fragments (GT boxes)", rerank)
    if ck.vocab.vectors is not None:
        try:
            ck.vocab.vectors.save()
        except OSError:
            pass  # a cache next to a read-only collection
    return rows


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
        text_encoder: Annotated[str, typer.Option("--text-encoder", help="pretrained (frozen text model + learned projection) | phrase | word (the thesis' BiGRU encoders, from scratch)")] = default.text_encoder,
        text_model: Annotated[str, typer.Option("--text-model", help="Model manager name of the frozen text model (pretrained encoder).")] = default.text_model,
        mlp_hidden: Annotated[int, typer.Option("--mlp-hidden", help="Hidden size of the pretrained projection's residual MLP (0: linear).")] = default.mlp_hidden,
        whole: Annotated[bool, typer.Option("--whole/--no-whole", help="Add the whole-image term (needs the vectors `artannot detect` writes, and the pretrained text encoder); a fine-tuned model keeps its initial model's choice.")] = True,
        global_weight: Annotated[float, typer.Option("--whole-weight", help="Weight of the whole-image term in the score (a fine-tuned model keeps its initial model's).")] = default.global_weight,
        global_text: Annotated[str, typer.Option("--whole-text", help="What stands for a text in the whole-image term: sentences (its sentences when it has any, else its phrases) | units (the mean of all its units).")] = default.global_text,
        global_epochs: Annotated[int, typer.Option("--whole-epochs", help="Epochs that fit only the whole-image term after SCAN's epochs, from SCAN's best one.")] = default.global_epochs,
        init: Annotated[str, typer.Option("--init", help="auto (the bundled general model when it fits, else scratch) | general | scratch | a checkpoint file to fine-tune.")] = "auto",
        text_unit: Annotated[str, typer.Option("--text-unit", help="artwork (one phrase sequence per artwork) | field (one text per metadata field, e.g. per caption).")] = "artwork",
        sentences: Annotated[bool, typer.Option("--sentences/--no-sentences", help="Also use each field's sentences as text units (pretrained encoder).")] = False,
        maximal: Annotated[bool, typer.Option("--maximal/--all-phrases", help="Only maximal phrases in the texts (no sub-phrases of another phrase): several times faster epochs.")] = False,
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
        phrase_loss: Annotated[float, typer.Option("--phrase-loss", help="Weight of the fragment-level loss (each phrase vs its best region), which trains what suggestions score.")] = default.phrase_loss,
        fragment_loss: Annotated[str, typer.Option("--fragment-loss", help="both (nested phrases are not negatives; each phrase's best region also ranks its phrase first) | phrase (each phrase against other images' regions only).")] = default.fragment_loss,
        lr: Annotated[float, typer.Option()] = default.lr,
        lr_update: Annotated[int, typer.Option("--lr-update")] = default.lr_update,
        num_epochs: Annotated[int, typer.Option("--num-epochs")] = default.num_epochs,
        batch_size: Annotated[int, typer.Option("--batch-size")] = default.batch_size,
        grad_clip: Annotated[float, typer.Option("--grad-clip")] = default.grad_clip,
        seed: Annotated[int, typer.Option()] = default.seed,
        min_phrase_count: Annotated[int, typer.Option("--min-phrase-count")] = default.min_phrase_count,
        device: Annotated[str | None, typer.Option(help="auto | cpu | cuda | cuda:N | mps (default: the `device` setting)")] = None,
        fresh: Annotated[bool, typer.Option("--fresh", help="Ignore last.pt; start over.")] = False,
        register_as: Annotated[str | None, typer.Option("--register", help="Register best.pt with the model manager under this name.")] = None,
        use_judgements: Annotated[bool, typer.Option("--use-judgements", help="Add the curators' accepted suggestions (the recorded judgements) as training pairs.")] = False,
    ) -> None:
        """Train SCAN; Ctrl+C stops after the current batch and `train` again resumes.

        By default the model fine-tunes the bundled general model (pretrained phrase encoder,
        trained on Flickr8k) instead of starting from scratch.
        """
        from artannot.retrieval.model_files import resolve_init
        from artannot.retrieval.train import train

        args = dict(locals())
        cfg = ScanConfig(**{f.name: args[f.name] for f in fields(ScanConfig) if f.name in args})
        if not whole:
            cfg = cfg.replace(global_encoder="")
        stop = {"flag": False}
        try:
            if device is None:
                from artannot.core.config import load_config

                device = load_config().device
            ds, _ = load_dataset(path, features=features, coarse=coarse,
                                 min_phrase_count=min_phrase_count, use_judgements=use_judgements,
                                 text_unit=text_unit, sentences=sentences, maximal=maximal)
            if init == "auto":
                init_path = (resolve_init("general", ds.feature_dim, strict=False)
                             if cfg.text_encoder == "pretrained" else None)
            else:
                init_path = resolve_init(init, ds.feature_dim)
            typer.echo(f"initial weights: {init_path or 'random (from scratch)'}", err=True)
            missing = getattr(ds, "without_features", [])
            if missing:
                shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
                typer.echo(f"warning: {len(missing)} artwork(s) have no readable region features "
                           f"and are left out ({shown}); run `artannot detect {path}`", err=True)
            if out is None:
                if path.startswith("synthetic:"):
                    raise ValueError("--out is required for a synthetic collection")
                from artannot.core.catalog import data_dir_for

                out = data_dir_for(Path(path).resolve()) / "scan"

            meter = TrainMeter()
            try:
                res = train(ds, cfg, out_dir=out, progress=meter, resume=not fresh,
                            device=device, should_stop=lambda: stop["flag"],
                            data_dir=collection_data_dir(path), init=init_path,
                            phrase_progress=phrase_echo)
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
        checkpoint: Annotated[list[str], typer.Option(
            "--checkpoint", help="SCAN checkpoint file, or 'general' for the bundled model; "
                                 "repeat to compare several models in one table.")],
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
        text_unit: Annotated[str, typer.Option("--text-unit", help="artwork: one text per artwork (thesis) | field: one per metadata field, all correct for their image (Flickr's 5 captions).")] = "artwork",
        sentences: Annotated[bool, typer.Option("--sentences/--no-sentences", help="Texts also hold their sentences as units (as the model was trained).")] = False,
        maximal: Annotated[bool, typer.Option("--maximal/--all-phrases", help="Only maximal phrases in the texts (as the model was trained).")] = False,
    ) -> None:
        """Recall@1/5/10 both directions (thesis Table 4.1 layout, or JSON); several
        --checkpoint options give one row each, on the same texts."""
        from artannot.retrieval.evaluate import format_table

        rows = []
        try:
            for ckpt in checkpoint:
                rows += evaluate_one(path, ckpt, split=split, features=features, coarse=coarse,
                                     shard=shard, fragments=fragments, rerank=rerank,
                                     text_unit=text_unit, sentences=sentences, maximal=maximal,
                                     label_prefix=len(checkpoint) > 1)
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
        from artannot.retrieval.judgements import judgement_report

        with Catalog.open(path) as cat:
            rows = judgement_report(cat.judgements.all())
        if as_json:
            typer.echo(json.dumps([asdict(r) for r in rows], indent=2))
        elif not rows:
            typer.echo("no judgements recorded yet (accept or reject suggestions in the GUI)")
        else:
            for r in rows:
                typer.echo(r.line())
