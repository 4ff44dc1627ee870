"""The ``artannot`` command: exit codes and output of index/info/--version."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from artannot import __version__
from artannot.cli import app

runner = CliRunner()


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"artannot {__version__}"


def test_no_args_shows_help():
    result = runner.invoke(app, [])
    assert result.exit_code in (0, 2)
    assert "index" in result.output and "info" in result.output


def test_info_on_sample(sample_copy):
    result = runner.invoke(app, ["info", str(sample_copy), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["artworks"] == 12 and data["annotated"] == 3 and data["with_metadata"] == 12
    assert data["errors"] == 0 and data["regions"] > 3
    plain = runner.invoke(app, ["info", str(sample_copy)])
    assert plain.exit_code == 0
    lines = dict(line.split(None, 1) for line in plain.stdout.splitlines() if line.strip())
    assert lines["artworks"] == "12" and lines["annotated"] == "3"


def test_info_on_missing_folder(tmp_path):
    result = runner.invoke(app, ["info", str(tmp_path / "no-such-collection")])
    assert result.exit_code == 2
    assert "does not exist" in result.output and "no-such-collection" in result.output
    assert "Traceback" not in result.output


def test_index_then_incremental(sample_copy):
    result = runner.invoke(app, ["index", str(sample_copy)])
    assert result.exit_code == 0, result.output
    assert "12 artworks" in result.stdout and "3 annotated" in result.stdout and "0 errors" in result.stdout
    assert (sample_copy / ".artannot" / "catalog.sqlite").is_file()
    (sample_copy / "metadata" / "exekias_neck_amphora.json").write_text('{"title": ')
    again = runner.invoke(app, ["index", str(sample_copy)])
    assert again.exit_code == 0  # bad files are reported, not fatal
    assert "1 errors" in again.stdout
    assert "exekias_neck_amphora.json" in again.output and "E201" in again.output


def test_index_missing_folder(tmp_path):
    result = runner.invoke(app, ["index", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_info_on_a_file_not_a_folder(tmp_path):
    f = tmp_path / "a.jpg"
    f.write_bytes(b"x")
    result = runner.invoke(app, ["info", str(f)])
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_every_command_module_is_registered_and_a_missing_one_fails_loudly(monkeypatch):
    import artannot.cli as cli

    names = {c.name or c.callback.__name__ for c in app.registered_commands}
    assert {"phrases", "detect", "train", "suggest", "export"} <= names
    monkeypatch.setattr(cli, "_COMMAND_MODULES", ("no_such_cmd",))
    with pytest.raises(ModuleNotFoundError, match="no_such_cmd"):
        cli._register_commands()
