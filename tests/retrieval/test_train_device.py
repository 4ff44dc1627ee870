"""``--device auto`` is accepted wherever a command has a ``--device`` option."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from artannot.cli.train_cmd import register


def test_train_accepts_device_auto(tmp_path) -> None:
    app = typer.Typer()
    register(app)
    r = CliRunner().invoke(app, ["train", "synthetic:40", "--out", str(tmp_path / "run"),
                                 "--embed-size", "16", "--word-dim", "8", "--num-epochs", "1",
                                 "--batch-size", "16", "--text-encoder", "word",
                                 "--min-phrase-count", "1", "--device", "auto"])
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception
    assert r.exit_code == 0, r.output
    assert (tmp_path / "run" / "best.pt").is_file()
