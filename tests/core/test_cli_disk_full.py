"""A full disk on the command line: one clear line naming what could not be written, exit 1,
no traceback, and nothing half-done (issue 15, defect 7)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from artannot.cli import app
from artannot.core.catalog import Catalog
from tests.disk_full import fill_catalog, fill_disk, temp_files

runner = CliRunner()


def one_line_error(res, *needles: str) -> str:
    assert isinstance(res.exception, SystemExit), repr(res.exception)  # no traceback
    assert res.exit_code == 1, res.output
    assert "Traceback" not in res.output
    lines = [ln for ln in res.stderr.strip().splitlines() if ln.startswith("error: ")]  # progress bars aside
    assert len(lines) == 1 and res.stderr.strip().endswith(lines[0]), res.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in folder.rglob("*") if p.is_file() and ".artannot" not in p.parts}


def test_index_with_a_full_catalog_disk(sample_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fill_catalog(monkeypatch)
    res = runner.invoke(app, ["index", str(sample_copy)])
    one_line_error(res, "database or disk is full", str(sample_copy), "free some space")


@pytest.mark.parametrize("fmt,out", [("voc", "voc"), ("coco", "coco.json"), ("w3c", "page.jsonld"),
                                     ("karpathy", "karpathy")])
def test_export_on_a_full_disk(sample_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               fmt: str, out: str) -> None:
    with Catalog.open(sample_copy):  # indexed while there was room
        pass
    target = tmp_path / "out" / out
    target.parent.mkdir()
    fill_disk(monkeypatch)
    res = runner.invoke(app, ["export", str(sample_copy), "-f", fmt, "-o", str(target)])
    line = one_line_error(res, "No space left on device", str(target.parent), "free some space")
    assert ".tmp" not in line  # the file the user asked for, not our temp name
    assert temp_files(tmp_path / "out") == []


def test_phrases_on_a_full_disk(sample_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Catalog.open(sample_copy):
        pass
    fill_disk(monkeypatch)
    res = runner.invoke(app, ["phrases", str(sample_copy)])
    one_line_error(res, "No space left on device", "free some space")
    assert temp_files(sample_copy) == []


def _coco_for_every_annotated_artwork(collection: Path, tmp_path: Path) -> Path:
    out = tmp_path / "coco.json"
    res = runner.invoke(app, ["export", str(collection), "-f", "coco", "-o", str(out)])
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    for a in data["annotations"]:
        a["bbox"][2] = max(1, a["bbox"][2] - 1)  # different boxes, so a replaced file shows
    out.write_text(json.dumps(data))
    return out


def test_import_overwrite_on_a_full_disk_changes_nothing(sample_copy: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    src = _coco_for_every_annotated_artwork(sample_copy, tmp_path)
    before = digests(sample_copy)
    fill_disk(monkeypatch)
    res = runner.invoke(app, ["import", str(sample_copy), "-f", "coco", "--from", str(src), "--overwrite"])
    one_line_error(res, "No space left on device", str(sample_copy / "annotations"))
    assert digests(sample_copy) == before
    assert temp_files(sample_copy) == []


def test_import_overwrite_failing_between_renames_puts_everything_back(
        sample_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = _coco_for_every_annotated_artwork(sample_copy, tmp_path)
    before = digests(sample_copy)
    backups = 3  # each replaced file first gets its .bak (one rename each), then the renames proper
    fake = fill_disk(monkeypatch, writes=False, replace_fails_at=backups + 1)  # the 2nd rename fails
    res = runner.invoke(app, ["import", str(sample_copy), "-f", "coco", "--from", str(src), "--overwrite"])
    one_line_error(res, "No space left on device")
    assert fake.replaces >= backups + 2
    after = digests(sample_copy)
    assert {k: v for k, v in after.items() if not k.endswith(".bak")} == before  # no half import
    assert temp_files(sample_copy) == []
