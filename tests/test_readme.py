"""The README promises things that code must keep true."""

from __future__ import annotations

from pathlib import Path

from artannot.app.shortcuts import shortcuts_markdown
from artannot.cli import app

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_readme_lists_the_shortcut_table_of_the_app() -> None:
    assert shortcuts_markdown() in README


def test_readme_commands_exist() -> None:
    names = {c.name or c.callback.__name__ for c in app.registered_commands}
    names |= {g.name for g in app.registered_groups}
    for command in ("gui", "index", "info", "phrases", "detect", "train", "evaluate", "suggest",
                    "models", "import", "export"):
        assert f"`artannot {command}" in README
        assert command in names, f"README documents `artannot {command}` but the CLI has no such command"


def test_ci_runs_the_readme_test_command() -> None:
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    assert "make test" in README and "make test" in ci
