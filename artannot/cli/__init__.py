"""The ``artannot`` command: thin wrappers over plain functions the GUI calls too."""

from __future__ import annotations

import errno
import importlib
import json
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

from artannot import __version__
from artannot.cli.progress import progress_bar
from artannot.core.errors import ArtannotError

# Hints for failures the user can fix; the message always names the file or collection.
_OS_HINTS = {errno.ENOSPC: "free some space and run again", errno.EDQUOT: "free some space and run again",
             errno.EACCES: "check the folder's permissions", errno.EROFS: "the disk is read-only"}


def describe_failure(exc: BaseException, args: Sequence[str]) -> str:
    """One line for an error no command handled itself: a full disk, a folder without write
    permission, a catalog database that cannot grow, an :class:`ArtannotError`."""
    if isinstance(exc, ArtannotError):
        return str(exc)
    if isinstance(exc, OSError):
        where = exc.filename2 if exc.filename2 is not None else exc.filename
        reason = exc.strerror or str(exc)
        hint = _OS_HINTS.get(exc.errno or 0)
        writing = exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS)
        text = reason if where is None else f"cannot write {where}: {reason}" if writing else f"{where}: {reason}"
        return f"{text} ({hint})" if hint else text
    # sqlite3.Error: the collection is the folder argument the command was given.
    folder = next((a for a in args if not a.startswith("-") and Path(a).is_dir()), None)
    subject = f"the catalog of {folder}" if folder else "the catalog"
    full = "full" in str(exc)
    return f"{subject}: {exc}" + (" (free some space and run again)" if full else "")


class _Group(TyperGroup):
    """Turns errors no command handled (OSError, sqlite3.Error, ArtannotError) into one line
    on stderr and exit code 1 -- the one place, instead of a try/except in every command."""

    def main(self, args: Sequence[str] | None = None, *rest: Any, **kwargs: Any) -> Any:
        argv = list(sys.argv[1:] if args is None else args)  # to name the collection in messages
        try:
            return super().main(args, *rest, **kwargs)
        except (OSError, sqlite3.Error, ArtannotError) as exc:
            if isinstance(exc, OSError) and exc.errno == errno.EPIPE:
                raise
            typer.secho(f"error: {describe_failure(exc, argv)}", fg=typer.colors.RED, err=True)
            sys.exit(1)


app = typer.Typer(
    cls=_Group,
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
def index(
    path: Path = typer.Argument(..., help="Collection folder (with --iiif: where the canvases go)."),
    iiif: str | None = typer.Option(None, "--iiif", help="IIIF manifest or collection (URL or file) to fetch into PATH first."),
    size: str = typer.Option("2000", help="--iiif: longer side of the images in pixels, or 'max'."),
    timeout: float = typer.Option(30.0, help="--iiif: seconds to wait for each answer."),
) -> None:
    """Index (or re-index incrementally) a collection into its catalog; with --iiif, first fetch
    a IIIF manifest's canvases into it (resumable: fetched canvases are skipped)."""
    from artannot.core.catalog import Catalog

    failed = 0
    try:
        if iiif is not None:
            from artannot.cli.iiif_cmd import fetch_manifest

            failed = fetch_manifest(iiif, path, size, timeout)
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
    if failed:
        raise typer.Exit(1)


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
