"""Judgements travel with exports (``judgements.jsonl``) and merge back on import."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from artannot.cli import app
from artannot.core.catalog import Catalog
from artannot.core.judgements_store import Judgement, JudgementStore
from tests.conftest import copy_sample

runner = CliRunner()
WAVE = "images/hokusai_great_wave.jpg"
KORIN = "images/korin_rough_waves.jpg"


def judge(root: Path) -> list[Judgement]:
    rows = [
        Judgement(WAVE, "10,20,110,90", "towering wave", 1, 0.75, True, "phrase:scan/best.pt", 1_700_000_000.123456),
        Judgement(WAVE, "10,20,110,90", "mount fuji", 2, 0.5, False, "phrase:scan/best.pt", 1_700_000_000.123456),
        Judgement(WAVE, "3,4,50,60", "Œuvre « signée »", 0, 0.9, True, "proposal:fasterrcnn", 1_700_000_002.0),
        Judgement(KORIN, "1,1,9,9", "gold ground", 1, 0.6, True, "region:scan/best.pt", 1_700_000_003.5),
    ]
    with JudgementStore(root) as store:
        store.add_many(rows)
    return rows


def stored(root: Path) -> list[Judgement]:
    with JudgementStore(root) as store:
        return store.all()


def test_export_carries_judgements_and_import_merges_them(sample_copy, tmp_path):
    rows = judge(sample_copy)
    out = tmp_path / "out"
    res = runner.invoke(app, ["export", str(sample_copy), "-f", "coco", "-o", str(out), "--ids", WAVE])
    assert res.exit_code == 0, res.output
    lines = (out / "judgements.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["phrase"] for line in lines] == ["towering wave", "mount fuji", "Œuvre « signée »"]
    assert f"wrote {out / 'judgements.jsonl'}" in res.output

    other = copy_sample(tmp_path / "other")
    res = runner.invoke(app, ["import", str(other), "-f", "judgements", "--from", str(out)])
    assert res.exit_code == 0, res.output
    assert "merged 3 new judgement(s) of 3 read (0 already present)" in res.output
    assert stored(other) == rows[:3]  # every field, times to the microsecond
    res = runner.invoke(app, ["import", str(other), "-f", "judgements", "--from", str(out / "judgements.jsonl")])
    assert res.exit_code == 0 and "merged 0 new judgement(s) of 3 read (3 already present)" in res.output
    assert len(stored(other)) == 3
    with Catalog.open(other) as cat:  # what training and reports read
        assert cat.judgements.all() == rows[:3]


@pytest.mark.parametrize("fmt,out_name", [("voc", "voc"), ("w3c", "page.json")])
def test_every_format_writes_them_beside_the_annotations(sample_copy, tmp_path, fmt, out_name):
    judge(sample_copy)
    res = runner.invoke(app, ["export", str(sample_copy), "-f", fmt, "-o", str(tmp_path / out_name)])
    assert res.exit_code == 0, res.output
    assert len((tmp_path / "judgements.jsonl" if fmt == "w3c" else tmp_path / "voc" / "judgements.jsonl")
               .read_text().splitlines()) == 4


def test_no_judgements_flag_and_empty_collection(sample_copy, tmp_path):
    res = runner.invoke(app, ["export", str(sample_copy), "-f", "coco", "-o", str(tmp_path / "a")])
    assert res.exit_code == 0 and "skipped judgements.jsonl: no judgements recorded" in res.output
    assert not (tmp_path / "a" / "judgements.jsonl").exists()
    judge(sample_copy)
    res = runner.invoke(app, ["export", str(sample_copy), "-f", "coco", "-o", str(tmp_path / "b"),
                              "--no-judgements"])
    assert res.exit_code == 0 and not (tmp_path / "b" / "judgements.jsonl").exists()


def test_existing_judgements_file_refuses_the_whole_export(sample_copy, tmp_path):
    judge(sample_copy)
    out = tmp_path / "out"
    out.mkdir()
    (out / "judgements.jsonl").write_text("keep me\n")
    res = runner.invoke(app, ["export", str(sample_copy), "-f", "coco", "-o", str(out)])
    assert res.exit_code == 1 and "output exists" in res.output and "judgements.jsonl" in res.output
    assert not (out / "coco.json").exists()  # nothing half-exported
    assert (out / "judgements.jsonl").read_text() == "keep me\n"


GOOD = json.dumps({"artwork": WAVE, "region": "1,1,9,9", "phrase": "wave", "rank": 1, "score": 0.5,
                   "accepted": True, "model": "phrase:m", "time": 5.0})


@pytest.mark.parametrize("bad,expected", [
    ("{not json", "line 2"),
    (GOOD.replace('"rank": 1', '"rank": "1"'), "line 2: 'rank' has the wrong type"),
    (GOOD.replace('"rank": 1', '"rank": -3'), "line 2: rank must be between"),
    (GOOD.replace('"rank": 1', '"rank": ' + "9" * 400), "line 2"),
    (GOOD.replace('"time": 5.0', '"time": NaN'), "line 2"),
    (GOOD.replace('"accepted": true', '"accepted": 1'), "line 2: 'accepted' has the wrong type"),
    (GOOD.replace('"wave"', '"wa\\u0000ve"'), "line 2: phrase"),
    (GOOD.replace('"wave"', '"\\ud800"'), "line 2: phrase"),
    ('["a list"]', "line 2 must be a JSON object"),
    ("[" * 5000 + "]" * 5000, "line 2"),
    (GOOD.replace('"model": "phrase:m", ', ""), "line 2 has no 'model' field"),
])
def test_bad_line_is_one_error_and_merges_nothing(sample_copy, tmp_path, bad, expected):
    path = tmp_path / "judgements.jsonl"
    path.write_text(GOOD + "\n" + bad + "\n", encoding="utf-8")
    res = runner.invoke(app, ["import", str(sample_copy), "-f", "judgements", "--from", str(path)])
    assert res.exit_code == 1, res.output
    err = res.output.strip()
    assert "\n" not in err and "Traceback" not in err
    assert "[E701]" in err and "judgements.jsonl" in err and expected in err
    assert stored(sample_copy) == []


def test_judgements_of_unknown_artworks_are_skipped_and_named(sample_copy, tmp_path):
    path = tmp_path / "judgements.jsonl"
    lost = GOOD.replace(WAVE, "images/not_here.jpg")
    by_name = GOOD.replace(WAVE, "/elsewhere/hokusai_great_wave.jpg")
    path.write_text("\n".join([GOOD, "", lost, by_name]) + "\n", encoding="utf-8")
    res = runner.invoke(app, ["import", str(sample_copy), "-f", "judgements", "--from", str(path)])
    assert res.exit_code == 0, res.output
    assert "merged 1 new judgement(s) of 3 read (1 already present)" in res.output
    assert "skipped 1 judgement(s) of artworks not in this collection: images/not_here.jpg" in res.output
    assert [j.artwork_id for j in stored(sample_copy)] == [WAVE]
