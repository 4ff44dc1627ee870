"""``artannot import`` / ``artannot export`` through Typer's CliRunner on a copy of the sample."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from artannot.cli import app
from artannot.core.voc import read_voc

runner = CliRunner()
WAVE = "images/hokusai_great_wave.jpg"


def test_export_coco_then_import_back(sample_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "coco.json"
    res = runner.invoke(app, ["export", str(sample_copy), "--format", "coco", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "exported 12 artwork(s)" in res.output
    coco = json.loads(out.read_text())
    assert len(coco["images"]) == 12 and all(i["width"] > 0 for i in coco["images"])
    before = {p.name: read_voc(p) for p in (sample_copy / "annotations").glob("*.xml")}
    assert len(coco["annotations"]) == sum(len(a.regions) for a in before.values())

    res = runner.invoke(app, ["export", str(sample_copy), "--format", "coco", "--out", str(out)])
    assert res.exit_code == 1 and "output exists" in res.output

    for p in (sample_copy / "annotations").glob("*.xml"):
        p.unlink()
    res = runner.invoke(app, ["import", str(sample_copy), "--format", "coco", "--from", str(out)])
    assert res.exit_code == 0, res.output
    after = {p.name: read_voc(p) for p in (sample_copy / "annotations").glob("*.xml")}
    assert after.keys() == before.keys()
    for name, ann in before.items():
        assert [(r.phrase, r.box, r.difficult) for r in after[name].regions] == \
               [(r.phrase, r.box, r.difficult) for r in ann.regions], name


def test_import_refuses_invalid_input_with_code(sample_copy: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"images": [], "annotations": [{"image_id": 1}], "categories": []}')
    res = runner.invoke(app, ["import", str(sample_copy), "--format", "coco", "--from", str(bad)])
    assert res.exit_code == 1
    assert "[E701]" in res.output and "annotations[0]" in res.output
    res = runner.invoke(app, ["import", str(sample_copy), "--format", "pascal", "--from", str(bad)])
    assert res.exit_code == 2 and "unknown format" in res.output


def test_import_never_overwrites_without_flag(sample_copy: Path, tmp_path: Path) -> None:
    page = tmp_path / "w.json"
    runner.invoke(app, ["export", str(sample_copy), "-f", "w3c", "-o", str(page), "--ids", WAVE])
    target = sample_copy / "annotations" / "hokusai_great_wave.xml"
    original = target.read_bytes()
    res = runner.invoke(app, ["import", str(sample_copy), "-f", "w3c", "--from", str(page)])
    assert res.exit_code == 0 and "skipped images/hokusai_great_wave.jpg" in res.output
    assert target.read_bytes() == original
    res = runner.invoke(app, ["import", str(sample_copy), "-f", "w3c", "--from", str(page), "--overwrite"])
    assert res.exit_code == 0 and "wrote 1 annotation file(s) with 6 box(es)" in res.output


def test_export_voc_selection_by_query_and_ids(sample_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "voc"
    res = runner.invoke(app, ["export", str(sample_copy), "-f", "voc", "-o", str(out), "--query", "wave"])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir()) == ["hokusai_great_wave.xml"]
    assert "skipped images/korin_rough_waves.jpg: not annotated" in res.output
    res = runner.invoke(app, ["export", str(sample_copy), "-f", "voc", "-o", str(tmp_path / "v2"),
                              "--ids", "vangogh_starry_night.jpg", "--ids", "images/vaneyck_arnolfini_portrait.jpg"])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "v2").iterdir()) == ["vaneyck_arnolfini_portrait.xml",
                                                                   "vangogh_starry_night.xml"]
    exported = read_voc(tmp_path / "v2" / "vangogh_starry_night.xml")
    source = read_voc(sample_copy / "annotations" / "vangogh_starry_night.xml")
    assert [(r.phrase, r.box) for r in exported.regions] == [(r.phrase, r.box) for r in source.regions]
    res = runner.invoke(app, ["export", str(sample_copy), "-f", "voc", "-o", str(out), "--ids", "nope.jpg"])
    assert res.exit_code == 1 and "[E702]" in res.output and "nope.jpg" in res.output
    res = runner.invoke(app, ["export", str(sample_copy), "-f", "voc", "-o", str(out), "--query", "zzzqqq"])
    assert res.exit_code == 1 and "matches nothing" in res.output


def test_export_karpathy(sample_copy: Path, tmp_path: Path) -> None:
    from artannot.core.catalog import Catalog
    from artannot.core.model import PhraseRecord

    with Catalog.open(sample_copy) as cat:  # phrases as `artannot phrases` would store them
        for aid in cat.artwork_ids():
            recs = [PhraseRecord("title", 0, 4, "wave", "wave")] * 4 if "wave" in aid or "night" in aid else []
            cat.set_phrases(aid, "h", recs)
    out = tmp_path / "karpathy"
    res = runner.invoke(app, ["export", str(sample_copy), "-f", "karpathy", "-o", str(out)])
    assert res.exit_code == 0, res.output
    data = json.loads((out / "caption_data.json").read_text())
    assert len(data["images"]) == 12
    wave = next(i for i in data["images"] if i["filename"] == "hokusai_great_wave.jpg")
    assert wave["artwork_id"] == WAVE and wave["sentences"] and wave["sentences"][0]["raw"]
    vocab = json.loads((out / "vocab.json").read_text())
    assert vocab["kind"] == "phrase" and "wave" in vocab["itos"]


def test_export_reports_a_broken_voc_file_and_goes_on(sample_copy: Path, tmp_path: Path) -> None:
    (sample_copy / "annotations" / "vangogh_starry_night.xml").write_text("<annotation><object>")
    res = runner.invoke(app, ["export", str(sample_copy), "-f", "coco", "-o", str(tmp_path / "c.json")])
    assert res.exit_code == 0, res.output
    assert "skipped images/vangogh_starry_night.jpg: [E101]" in res.output
    names = [i["file_name"] for i in json.loads((tmp_path / "c.json").read_text())["images"]]
    assert "images/vangogh_starry_night.jpg" not in names and len(names) == 11
