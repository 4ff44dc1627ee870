"""``artannot models list|import|import-dir|verify``: thin CLI over
:class:`artannot.models.ModelManager`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from artannot.core.errors import ArtannotError


def _manager():
    from artannot.models import ModelManager

    return ModelManager()


def register(app: typer.Typer) -> None:
    """Add the ``models`` sub-command group to ``app``."""
    models = typer.Typer(help="Weight files: what is known, installed and intact (no downloads).",
                         no_args_is_help=True)

    @models.command("list")
    def list_cmd(
        verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show licence and source.")] = False,
    ) -> None:
        """Known and installed models; 'bundled' ones ship inside an installed package."""
        try:
            manager = _manager()
            rows = manager.list()
        except ArtannotError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        typer.echo(f"models folder: {manager.models_dir}")
        for s in rows:
            state = "bundled" if s.bundled else ("installed" if s.installed else "missing")
            kind = "" if s.known else " (custom)"
            check = " [hash: prefix only]" if s.hash_check == "prefix" else ""
            typer.echo(f"{state:9} {s.role:8} {s.name:44} {s.architecture}{kind}{check}")
            if verbose:
                if s.description:
                    typer.echo(f"{'':19}{s.description}")
                if s.license:
                    typer.echo(f"{'':19}licence: {s.license}")
                if s.source:
                    typer.echo(f"{'':19}source:  {s.source}")
                if s.path:
                    typer.echo(f"{'':19}path:    {s.path}")

    @models.command("import")
    def import_cmd(
        file: Annotated[Path, typer.Argument(help="Weight file to copy into the models folder.")],
        name: Annotated[str | None, typer.Option(help="Manifest name, or name of a custom model.")] = None,
        role: Annotated[str | None, typer.Option(help="detector | backbone | scan | text (custom models).")] = None,
        architecture: Annotated[str | None, typer.Option(help="Architecture key (custom models).")] = None,
        provenance: Annotated[str | None, typer.Option(help="Where the file came from.")] = None,
    ) -> None:
        """Check a file's sha256 against the manifest, then install it."""
        try:
            status = _manager().import_file(file, name=name, role=role, architecture=architecture,
                                            provenance=provenance)
        except ArtannotError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        note = " (custom, hash recorded)" if not status.known else (
            " (checked against the sha256 prefix only)" if status.hash_check == "prefix" else "")
        typer.echo(f"imported {status.name} -> {status.path}{note}")

    @models.command("import-dir")
    def import_dir_cmd(
        folder: Annotated[Path, typer.Argument(help="Hugging Face CLIP folder (config.json, "
                                               "model.safetensors, tokenizer, preprocessor).")],
        name: Annotated[str | None, typer.Option(help="Model name (default: the folder's name).")] = None,
        provenance: Annotated[str | None, typer.Option(help="Where the folder came from.")] = None,
    ) -> None:
        """Copy a CLIP model folder in, recording every file's sha256 (checked on each load)."""
        from artannot.models import clip_folder_plan

        try:
            plan = clip_folder_plan(folder)
            status = _manager().import_dir(folder, name=name, provenance=provenance)
        except ArtannotError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        typer.echo(f"imported {status.name} ({plan.summary}, {len(plan.files)} files, "
                   f"custom, hashes recorded) -> {status.path}")
        if plan.left_out:
            typer.echo(f"left out (not needed; only safetensors weights are loaded): "
                       f"{', '.join(plan.left_out)}")
        typer.echo(f"use it: artannot detect PATH --backbone {status.name}")

    @models.command("verify")
    def verify_cmd() -> None:
        """Re-hash every installed file; exit code 1 if any is corrupted."""
        try:
            results = _manager().verify()
        except ArtannotError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        bad = 0
        for r in results:
            typer.echo(f"{'ok' if r.ok else 'FAILED':6} {r.name}: {r.message}")
            bad += not r.ok
        if bad:
            typer.echo(f"{bad} model file(s) failed verification; re-import them", err=True)
            raise typer.Exit(1)

    app.add_typer(models, name="models")
