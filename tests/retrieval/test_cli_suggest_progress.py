"""``artannot suggest COLLECTION ARTWORK`` over the suggestion service, and the in-epoch
progress of ``artannot train``."""

# ruff: noqa: F811  (session fixtures imported from tests.app.suggestions_fixtures)
from __future__ import annotations

import json
import math
import re
import shutil

import pytest
import typer
from typer.testing import CliRunner

from artannot.cli import suggest_cmd
from artannot.cli.progress import StatusLine, format_eta
from artannot.cli.train_cmd import TrainMeter, register, train_etas
from artannot.core.catalog import Catalog
from artannot.retrieval.service import SuggestionService
from artannot.retrieval.train import TrainProgress
from tests.app.suggestions_fixtures import WAVE, suggest_collection, suggest_copy  # noqa: F401


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    suggest_cmd.register(app)
    return app


def _suggest(*args: str):
    return CliRunner().invoke(_app(), ["suggest", *args])


def _lines(text: str) -> list[list[str]]:
    return [line.split("\t") for line in text.strip().splitlines()]


# -- suggest -------------------------------------------------------------------------------
def test_suggest_lists_regions_then_ranks_phrases_for_one(suggest_copy) -> None:
    col = str(suggest_copy)
    r = _suggest(col, WAVE)
    assert r.exit_code == 0, r.output
    with Catalog.open(suggest_copy) as cat:
        own = [(p.norm, p.text) for p in cat.phrases(WAVE)]
        svc = SuggestionService(suggest_copy, cat.data_dir)
    rs = svc.regions(WAVE)
    listed = _lines(r.stdout)
    assert [row[0] for row in listed] == [f"region {i}" for i in range(len(rs))]
    assert [float(v) for v in listed[1][1].split(",")] == pytest.approx(rs.boxes[1].tolist())
    assert "--region N" in r.stderr

    r = _suggest(col, WAVE, "--region", "1", "--top-k", "4")
    assert r.exit_code == 0, r.output
    rows = _lines(r.stdout)
    assert [int(row[0]) for row in rows] == list(range(1, len(rows) + 1))
    origins = [row[3] for row in rows]
    assert len(dict(own)) > 4  # the wave's description has dozens: --top-k cuts them too
    assert origins == ["artwork"] * 4 + ["collection"] * 4  # the artwork's own phrases first
    assert {row[2] for row in rows[:4]} <= {text for _, text in own}
    for origin in ("artwork", "collection"):
        scores = [float(row[1]) for row in rows if row[3] == origin]
        assert scores == sorted(scores, reverse=True)
    assert all(re.fullmatch(r"-?\d+\.\d{3}", row[1]) for row in rows)

    r = _suggest(col, WAVE, "--region", "1", "--top-k", "4", "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    ranked = svc.phrases_for_box(WAVE, rs.box_list()[1], own, top_k=4)  # a thin wrapper:
    svc.close()
    want = [w for w in ranked if w.origin == "artwork"][:4] + [w for w in ranked if w.origin == "collection"]
    assert [(d["phrase"], d["origin"]) for d in data] == [(w.phrase, w.origin) for w in want]
    assert [d["score"] for d in data] == pytest.approx([w.score for w in want], abs=1e-5)
    assert [d["rank"] for d in data] == list(range(1, 9))
    assert [d["label"] for d in data] == [row[2] for row in rows]


def test_suggest_ranks_regions_for_a_phrase(suggest_copy) -> None:
    col = str(suggest_copy)
    with Catalog.open(suggest_copy) as cat:
        norm = cat.phrases(WAVE)[0].norm
    typed = "  " + norm.title() + " "  # as a curator types it: normalised like extracted phrases
    r = _suggest(col, f"./{WAVE}", "--phrase", typed, "--top-k", "3")
    assert r.exit_code == 0, r.output
    rows = _lines(r.stdout)
    assert [int(row[0]) for row in rows] == [1, 2, 3]
    scores = [float(row[1]) for row in rows]
    assert scores == sorted(scores, reverse=True)
    assert all(row[2].startswith("region ") and row[4].startswith("attention ") for row in rows)

    r = _suggest(col, WAVE, "--phrase", typed, "--top-k", "3", "--json")
    data = json.loads(r.stdout)
    listed = json.loads(_suggest(col, WAVE, "--json").stdout)
    assert [d["region"] for d in data] == [int(row[2].split()[1]) for row in rows]
    for d in data:  # each hit's box is the stored region's box
        assert d["box"] == pytest.approx(listed[d["region"]]["box"])
        assert 0 <= d["attention"] <= 1
    assert [d["score"] for d in data] == pytest.approx(scores, abs=1e-3)


def test_suggest_explains_what_is_missing(suggest_copy, tmp_path, monkeypatch) -> None:
    col = str(suggest_copy)

    def fails(*args: str) -> str:
        r = _suggest(*args)
        assert r.exit_code == 1, r.output
        assert "Traceback" not in r.output and r.stdout == ""
        return r.stderr

    assert "no such collection folder" in fails(str(tmp_path / "nowhere"), WAVE)
    (tmp_path / "plain").mkdir()
    assert "artannot index" in fails(str(tmp_path / "plain"), WAVE)
    err = fails(col, "images/hokusai_great_wav.jpg")
    assert "no artwork" in err and f"did you mean {WAVE}" in err
    assert WAVE in fails(col, "hokusai_great_wave.jpg")  # the bare file name: hint by name
    err = fails(col, WAVE, "--region", "999")
    assert "region 999 is out of range" in err and "regions (0-" in err
    assert "not both" in fails(col, WAVE, "--region", "0", "--phrase", "wave")
    assert "no such checkpoint" in fails(col, WAVE, "--region", "0", "--checkpoint",
                                         str(tmp_path / "none.pt"))

    # an image added after `artannot detect` has no regions yet
    shutil.copy(suggest_copy / WAVE, suggest_copy / "images" / "new_scan.jpg")
    err = fails(col, "images/new_scan.jpg", "--region", "0")
    assert "no detected regions for images/new_scan.jpg" in err and f"artannot detect {col}" in err

    # no model (whatever the service's fallbacks): its reason is shown; regions still list
    why = "No SCAN model trained on this collection yet."
    monkeypatch.setattr(SuggestionService, "available", property(lambda self: False))
    monkeypatch.setattr(SuggestionService, "why_unavailable", lambda self: why)
    err = fails(col, WAVE, "--phrase", "wave")
    assert why in err and f"artannot train {col}" in err
    assert _suggest(col, WAVE).exit_code == 0

    shutil.rmtree(suggest_copy / ".artannot" / "features")
    assert f"run `artannot detect {col}`" in fails(col, WAVE)


# -- train progress ---------------------------------------------------------------------------
def test_format_eta() -> None:
    assert format_eta(0) == "0:00"
    assert format_eta(59.6) == "1:00"
    assert format_eta(65) == "1:05"
    assert format_eta(3600 + 61) == "1:01:01"
    assert format_eta(30 * 3600) == "30:00:00"
    for unknown in (None, math.nan, math.inf, -1.0):
        assert format_eta(unknown) == "?"


def test_train_etas() -> None:
    assert train_etas(0, 10, 1, 3, 0.0) == (None, None)
    # 2 s a batch, 5 batches left, then 2 more epochs of 10 batches
    assert train_etas(5, 10, 1, 3, 10.0) == (10.0, 10.0 + 2 * 20.0)
    # once an epoch has finished (validation included), later epochs take as long
    assert train_etas(5, 10, 2, 3, 10.0, seconds_per_epoch=30.0) == (10.0, 40.0)
    assert train_etas(10, 10, 3, 3, 20.0) == (0.0, 0.0)


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_status_line_keeps_logs_short_and_redraws_terminals() -> None:
    clock, out = _Clock(), []
    log = StatusLine(out.append, tty=False, clock=clock)
    for i in range(1, 10_001):  # 10,000 fast steps (0.05 s each)
        clock.now += 0.05
        log.update(f"step {i}", i / 10_000)
    log.end()
    assert out[0] == "step 1\n" and out[-1] == "step 10000\n"
    assert len(out) <= 12 + 500 / 30  # a line per 10 %, or per 30 s: not thousands
    assert all(line.endswith("\n") and "\r" not in line for line in out)

    tty = []
    term = StatusLine(tty.append, tty=True, clock=clock)
    for i in range(1, 101):
        clock.now += 0.01
        term.update(f"step {i}", i / 200)
    term.end()  # the held-back newest text is drawn, then the line is kept
    assert tty[0] == "\rstep 1" and tty[-2].startswith("\rstep 100") and tty[-1] == "\n"
    assert len(tty) < 10


def test_train_meter_reports_batches_then_the_epoch() -> None:
    clock, status_out, echoed = _Clock(), [], []
    meter = TrainMeter(StatusLine(status_out.append, tty=False, clock=clock), echoed.append, clock)
    for b in range(1, 201):
        clock.now += 1.0
        meter(TrainProgress(1, 2, b, 200, loss=float(b % 2), lr=2e-4))
    meter(TrainProgress(1, 2, 200, 200, math.nan, 2e-4, None, 200.0))
    assert len(status_out) <= 12
    assert status_out[-1].startswith("epoch 1/2  batch 200/200 (100%)  loss 0.5000  ETA epoch 0:00")
    assert "run 3:20" in status_out[-1]  # one more epoch of 200 s
    assert "batch 100/200 (50%)  loss 0.5000  ETA epoch 1:40, run 5:00" in "".join(status_out)
    assert echoed == ["epoch 1/2 200.0s  loss 0.5000"]


def test_train_cli_shows_batches_with_loss_and_the_epoch_line(tmp_path) -> None:
    r = CliRunner().invoke(_app(), [
        "train", "synthetic:40", "--out", str(tmp_path / "run"), "--num-epochs", "1",
        "--batch-size", "8", "--embed-size", "32", "--word-dim", "16", "--text-encoder", "word",
        "--min-phrase-count", "1", "--device", "cpu"])
    assert r.exit_code == 0, r.output
    assert re.search(r"^epoch 1/1  batch (\d+)/\1 \(100%\)  loss \d+\.\d{4}  ETA epoch 0:00, "
                     r"run 0:00$", r.stderr, re.M), r.stderr
    assert len(r.stderr.splitlines()) <= 12
    assert re.search(r"^epoch 1/1 \d+\.\ds  loss \d+\.\d{4}  val i2t R@1 ", r.stdout, re.M), r.stdout
    assert "best val rsum" in r.stdout
