"""The whole pipeline on a synthetic collection whose right answers are known.

Scenes of coloured shapes are written to disk like a museum collection (images, JSON records
with a description, VOC ground truth); then the real commands run on it: index, phrases,
detect (weight-free proposals + the bundled EfficientNet-Lite0), train (fine-tuning the bundled
general model, as `artannot train` does by default), evaluate. Nothing is
hand-fed: if any stage breaks the alignment between regions and phrases, recall drops to
chance and this test fails.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from artannot.cli import app
from artannot.retrieval.synthetic import write_collection

N_SCENES = 100  # 80/10/10 split by hash: about 10 test artworks, chance R@1 = 1/n


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("known_answers")
    write_collection(root, N_SCENES, seed=3, size=128)
    runner = CliRunner()
    for args in (
        ["index", str(root)],
        ["phrases", str(root), "--min-count", "2"],
        ["detect", str(root), "--k", "6", "--min-size", "128", "--max-size", "128"],
        # The product's default: frozen pretrained phrase encoder, fine-tuned from the bundled
        # general model (its features come from the same default backbone).
        ["train", str(root), "--out", str(root / "run"), "--num-epochs", "8",
         "--batch-size", "32", "--min-phrase-count", "1", "--sum-violation", "--lr", "0.002"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, (args, result.output)
    return root, root / "run" / "best.pt"


def test_real_pipeline_beats_chance_on_held_out_artworks(trained: tuple[Path, Path]) -> None:
    root, checkpoint = trained
    result = CliRunner().invoke(app, ["evaluate", str(root), "--checkpoint", str(checkpoint),
                                      "--split", "test", "--json"])
    assert result.exit_code == 0, result.output
    metrics, fragments = json.loads(result.output[result.output.index("["):])
    n = metrics["n_images"]
    assert 5 <= n <= 20  # about 10 % of the scenes are held out for testing
    chance = 100.0 / n
    assert metrics["image_annotation"]["r1"] >= 3 * chance, metrics

    # Fragment level (thesis 4.4): features pooled for the ground-truth VOC boxes by the same
    # pipeline; each box must find its own phrase among the distinct phrases of the test boxes.
    assert "fragments" in fragments["label"]
    assert fragments["n_texts"] >= 5
    assert fragments["image_annotation"]["r1"] >= 2 * 100.0 / fragments["n_texts"], fragments
