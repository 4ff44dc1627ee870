"""``artannot import`` and ``artannot export``: thin CLI over :mod:`artannot.core.interop`.

The Karpathy export lives here rather than in ``artannot.core.interop`` because it needs
``artannot.text`` (sentence splitting, tokens, phrase vocabulary) and the core may not
import the text layer; :func:`export_karpathy` is a plain function the GUI can call too.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from artannot.core.errors import ArtannotError
from artannot.core.interop.base import ExportError, ExportReport, check_target, select_ids

IMPORT_CHOICES = ("coco", "labelme", "yolo", "w3c", "iiif", "judgements")
EXPORT_CHOICES = ("voc", "coco", "w3c", "iiif", "karpathy")


def export_karpathy(
    root: Path | str,
    out: Path | str,
    *,
    ids: Sequence[str] | None = None,
    query: str | None = None,
    fields: Sequence[str] | None = None,
    min_count: int = 4,
    overwrite: bool = False,
) -> ExportReport:
    """``caption_data.json`` for the selected artworks (+ ``vocab.json`` when the catalog holds
    phrases: run ``artannot phrases`` first).  The vocabulary counts the train split when splits
    are assigned, every selected artwork otherwise."""
    from artannot.core.catalog import Catalog

    try:
        from artannot.text.collection import artwork_text
        from artannot.text.karpathy import CaptionImage, sentences_for, write_caption_data
        from artannot.text.vocab import PhraseVocab
    except ImportError as exc:  # the text layer is optional in a trimmed build
        raise ExportError(f"the Karpathy export needs artannot.text ({exc})") from exc

    out = Path(out)
    caption_path = out if out.suffix.lower() == ".json" else out / "caption_data.json"
    vocab_path = caption_path.with_name("vocab.json")
    report = ExportReport()
    with Catalog.open(root) as cat:
        chosen = select_ids(cat, ids, query)
        splits = cat.splits()
        images, sequences = [], {}
        for aid in chosen:
            art = cat.artwork(aid)
            phrases = cat.phrases(aid)
            sequences[aid] = [p.norm for p in phrases]
            images.append(CaptionImage(
                filename=art.image_path.name, split=splits.get(aid) or art.split,
                sentences=sentences_for(artwork_text(art, fields), phrases), artwork_id=aid,
                extra={"relpath": aid, "phrases": sequences[aid]},
            ))
            report.artworks += 1
    has_phrases = any(sequences.values())
    check_target(caption_path, overwrite)
    if has_phrases:
        check_target(vocab_path, overwrite)
    caption_path.parent.mkdir(parents=True, exist_ok=True)
    write_caption_data(caption_path, images)
    report.written.append(caption_path)
    if has_phrases:
        train = [s for aid, s in sequences.items() if (splits.get(aid) or "") == "train"]
        PhraseVocab.build(train or list(sequences.values()), min_count=min_count).save(vocab_path)
        report.written.append(vocab_path)
    else:
        report.skipped.append(("vocab.json", "no phrases in the catalog (run `artannot phrases` first)"))
    return report


def _echo_report(lines: list[str]) -> None:
    for line in lines:
        typer.echo(line)


def register(app: typer.Typer) -> None:
    """Add the ``import`` and ``export`` commands to ``app``."""

    @app.command("import")
    def import_cmd(
        path: Annotated[Path, typer.Argument(help="Collection folder.")],
        fmt: Annotated[str, typer.Option("--format", "-f", help=f"One of: {', '.join(IMPORT_CHOICES)}.")],
        source: Annotated[Path, typer.Option("--from", help="File or folder to import.")],
        classes: Annotated[Path | None, typer.Option(help="YOLO class list (default: classes.txt next to the labels).")] = None,
        overwrite: Annotated[bool, typer.Option(help="Replace existing annotation files (a .bak is kept).")] = False,
    ) -> None:
        """Import boxes from COCO, labelme, YOLO or W3C files as VOC annotations of the collection,
        or merge a judgements.jsonl written by `artannot export` (--format judgements)."""
        from artannot.core.interop import import_annotations

        if fmt not in IMPORT_CHOICES:
            typer.echo(f"error: unknown format {fmt!r}; expected one of {', '.join(IMPORT_CHOICES)}", err=True)
            raise typer.Exit(2)
        try:
            report = import_annotations(path, fmt, source, classes=classes, overwrite=overwrite)
        except ArtannotError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        _echo_report(report.lines())

    @app.command("export")
    def export_cmd(
        path: Annotated[Path, typer.Argument(help="Collection folder.")],
        fmt: Annotated[str, typer.Option("--format", "-f", help=f"One of: {', '.join(EXPORT_CHOICES)}.")],
        out: Annotated[Path, typer.Option("--out", "-o", help="Output folder, or a .json file for coco/w3c/karpathy.")],
        query: Annotated[str | None, typer.Option(help="Only artworks matching this catalog search.")] = None,
        ids: Annotated[list[str] | None, typer.Option("--ids", help="Artwork id or file name (repeatable).")] = None,
        base_uri: Annotated[str | None, typer.Option(help="w3c: target = BASE_URI/<artwork id> (IIIF base) instead of a file URI; iiif: where the output folder will be published (page ids).")] = None,
        min_count: Annotated[int, typer.Option(help="karpathy: keep phrases seen at least this often.")] = 4,
        overwrite: Annotated[bool, typer.Option(help="Replace existing output files.")] = False,
        judgements: Annotated[bool, typer.Option("--judgements/--no-judgements", help="Also write the selection's accept/reject judgements as judgements.jsonl beside the annotations.")] = True,
    ) -> None:
        """Export annotations of a collection (or a selection) as VOC, COCO, W3C or Karpathy."""
        from artannot.core.interop import export_annotations, prepare_judgements_export

        if fmt not in EXPORT_CHOICES:
            typer.echo(f"error: unknown format {fmt!r}; expected one of {', '.join(EXPORT_CHOICES)}", err=True)
            raise typer.Exit(2)
        try:
            pending = (prepare_judgements_export(path, out, ids=ids, query=query, overwrite=overwrite)
                       if judgements else None)
            if fmt == "karpathy":
                report = export_karpathy(path, out, ids=ids, query=query, min_count=min_count, overwrite=overwrite)
            else:
                report = export_annotations(path, fmt, out, ids=ids, query=query, base_uri=base_uri,
                                            overwrite=overwrite)
            if pending is not None:
                pending.write(report)
        except ArtannotError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        _echo_report(report.lines())
