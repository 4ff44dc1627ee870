"""``artannot suggest PATH ARTWORK``: phrases for a stored region, regions for a phrase.

A thin wrapper over :class:`artannot.retrieval.service.SuggestionService`, so it answers with
the model the GUI would use (the collection's own, else the bundled general model).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from artannot.core.errors import ArtannotError

if TYPE_CHECKING:
    from artannot.retrieval.service import RankedPhrase, RegionHit, SuggestionService


class SuggestError(Exception):
    """A ``suggest`` request the collection cannot answer; the message says what to run."""


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
    """Add ``suggest`` to ``app``."""

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
