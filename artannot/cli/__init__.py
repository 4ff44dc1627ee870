"""The ``artannot`` command: thin wrappers over plain functions the GUI calls too."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import typer

from artannot import __version__
from artannot.cli.progress import progress_bar
from artannot.core.errors import ArtannotError

app = typer.Typer(
    name="artannot",
    help="Annotate artwork fragments with noun phrases; SCAN-assisted suggestions.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

SAMPLE_COLLECTION = Path(__file__).resolve().parents[2] / "resources" / "sample_collection"

# Commands that live in their own modules: each has ``register(app)``.
_COMMAND_MODULES = ("phrases_cmd", "models_cmd", "detect_cmd", "train_cmd", "suggest_cmd",
                    "export_cmd", "doctor_cmd")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"artannot {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool | None = typer.Option(None, "--version", callback=_version, is_eager=True,
                                           help="Show the version and exit."),
) -> None:
    """artannot: annotate artwork fragments with noun phrases."""


def fail(exc: ArtannotError | str, code: int = 2) -> typer.Exit:
    typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
    return typer.Exit(code)


@app.command()
def gui(path: Path | None = typer.Argument(None, help="Collection folder (default: the bundled sample).")) -> None:
    """Start the desktop app."""
    from artannot.qt_check import check_qt

    qt = check_qt()  # before Qt starts: a missing system library gets a clear answer
    if not qt.ok:
        typer.echo(qt.message(), err=True)
        raise typer.Exit(2)
    from artannot.app.main import run_app  # Qt only when the GUI is asked for

    raise typer.Exit(run_app(path if path is not None else SAMPLE_COLLECTION))


@app.command()
def index(path: Path = typer.Argument(..., help="Collection folder.")) -> None:
    """Index (or re-index incrementally) a collection into its catalog."""
    from artannot.core.catalog import Catalog

    try:
        with progress_bar("indexing", unit="artwork") as bar, Catalog.open(path, progress=bar) as cat:
            stats = cat.stats()
            errors = cat.errors()
    except ArtannotError as exc:
        raise fail(exc)
    except KeyboardInterrupt:
        typer.echo("interrupted: the next run resumes where this one stopped", err=True)
        raise typer.Exit(130)
    typer.echo(f"{stats.artworks} artworks, {stats.with_metadata} with metadata, "
               f"{stats.annotated} annotated, {len(errors)} errors")
    for p, code, msg in errors:
        typer.echo(f"  [{code}] {p}: {msg}", err=True)


@app.command()
def info(
    path: Path = typer.Argument(..., help="Collection folder."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Counts for a collection: artworks, with metadata, annotated, errors."""
    from artannot.core.catalog import Catalog

    try:
        with Catalog.open(path) as cat:
            stats = cat.stats()
            errors = cat.errors()
    except ArtannotError as exc:
        raise fail(exc)
    data = {
        "artworks": stats.artworks, "with_metadata": stats.with_metadata, "annotated": stats.annotated,
        "verified": stats.verified, "regions": stats.regions, "errors": len(errors), "splits": stats.splits,
    }
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    else:
        for key, value in data.items():
            typer.echo(f"{key:14} {value}")
    if errors and not as_json:
        for p, code, msg in errors:
            typer.echo(f"  [{code}] {p}: {msg}", err=True)


def _register_commands() -> None:
    # A command module that fails to import is an error, never a command quietly missing.
    for name in _COMMAND_MODULES:
        importlib.import_module(f"artannot.cli.{name}").register(app)


_register_commands()


def main() -> None:
    app(prog_name="artannot")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
