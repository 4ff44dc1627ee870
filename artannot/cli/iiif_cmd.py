"""``artannot index --iiif MANIFEST DEST``: fetch a IIIF manifest into DEST before indexing it.

A thin wrapper over :func:`artannot.core.iiif.import_iiif`; the ``index`` command calls
:func:`fetch_manifest` and then indexes DEST as usual.
"""

from __future__ import annotations

from pathlib import Path

import typer

from artannot.cli.progress import progress_bar


def parse_size(text: str) -> int | None:
    """``max``/``full`` -> None (the full image), else a positive longer side in pixels."""
    if text.strip().lower() in ("max", "full"):
        return None
    try:
        value = int(text)
    except ValueError:
        raise typer.BadParameter(f"expected a number of pixels or 'max', got {text!r}") from None
    if value <= 0:
        raise typer.BadParameter(f"the longer side must be positive, got {value}")
    return value


def fetch_manifest(source: str, dest: Path, size: str, timeout: float) -> int:
    """Fetch into ``dest``, print the report; returns how many canvases failed."""
    from artannot.core.iiif import FetchOptions, import_iiif

    longest = parse_size(size)
    dest.mkdir(parents=True, exist_ok=True)
    with progress_bar("fetching IIIF images", unit="image") as bar:
        report = import_iiif(source, dest, size=longest, options=FetchOptions(timeout=timeout), progress=bar)
    for line in report.lines():
        typer.echo(line, err=line.startswith("  failed"))
    return len(report.failed)
