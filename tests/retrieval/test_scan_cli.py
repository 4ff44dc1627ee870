from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from artannot.cli.train_cmd import register


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_train_evaluate_on_synthetic(tmp_path):
    # `suggest` works on a collection: tests/retrieval/test_cli_suggest_progress.py
    app, runner = _app(), CliRunner()
    r = runner.invoke(app, ["train", "synthetic:60", "--out", str(tmp_path / "run"),
                            "--embed-size", "32", "--word-dim", "16", "--num-epochs", "2",
                            "--batch-size", "16", "--text-encoder", "word",
                            "--min-phrase-count", "1", "--device", "cpu"])
    assert r.exit_code == 0, r.output
    assert "epoch 2/2" in r.output and (tmp_path / "run" / "best.pt").is_file()
    r = runner.invoke(app, ["evaluate", "synthetic:60", "--checkpoint",
                            str(tmp_path / "run" / "best.pt"), "--json", "--rerank"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)
    assert rows[0]["n_images"] == 6 and "image_annotation" in rows[0]
    # artwork level and fragment level, each raw and re-ranked
    assert [r["label"].endswith(" + RR") for r in rows] == [False, True, False, True]
    assert rows[1]["label"] == rows[0]["label"] + " + RR" and "fragments" in rows[3]["label"]
