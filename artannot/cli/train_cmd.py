"""``artannot train | evaluate | suggest``: thin wrappers over artannot.retrieval.

PATH is a collection folder (catalog + feature store from ``artannot detect``), or
``synthetic:N`` for a generated collection of N scenes with known answers.
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Annotated, Optional

import typer

from artannot.core.errors import ArtannotError


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

            def progress(p) -> None:
                if p.val is not None:
                    v = p.val
                    typer.echo(f"epoch {p.epoch}/{p.num_epochs} {p.epoch_seconds:.1f}s  val "
                               f"i2t R@1 {v.i2t.r1:.1f}  t2i R@1 {v.t2i.r1:.1f}  rsum {v.rsum:.1f}")

            try:
                res = train(ds, cfg, out_dir=out, progress=progress, resume=not fresh,
                            device=device, should_stop=lambda: stop["flag"])
            except KeyboardInterrupt:
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
        checkpoint: Annotated[Path, typer.Option("--checkpoint", exists=True, dir_okay=False)],
        features: Annotated[Path, typer.Option("--features", exists=True, dir_okay=False, help=".npy region features [k, d] of one artwork.")],
        phrase: Annotated[str | None, typer.Option(help="Phrase -> best regions.")] = None,
        region: Annotated[int | None, typer.Option(help="Region index -> best phrases.")] = None,
        extra: Annotated[list[str] | None, typer.Option(help="Metadata phrases to add to the candidates.")] = None,
        top_k: Annotated[int, typer.Option("--top-k")] = 10,
    ) -> None:
        """Phrases for a region, or regions (with attention) for a phrase."""
        import numpy as np

        from artannot.retrieval.suggest import Suggester

        try:
            sug = Suggester.from_checkpoint(checkpoint)
            feats = np.load(features)
            if phrase is not None:
                for r in sug.regions_for_phrase(phrase, feats, top_k=top_k):
                    typer.echo(f"region {r.region}\t{r.score:.4f}\tattention {r.attention:.3f}")
            elif region is not None:
                for p in sug.phrases_for_region(feats[region], extra_phrases=extra or [],
                                                top_k=top_k):
                    typer.echo(f"{p.score:.4f}\t{p.phrase}" + ("" if p.in_vocab else "\t(OOV)"))
            else:
                raise typer.BadParameter("give --phrase or --region")
        except (ArtannotError, ValueError, IndexError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
