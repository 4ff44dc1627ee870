"""Annotations out as IIIF (pages per canvas + manifest) and back in, exact after scaling."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from artannot.cli import app
from artannot.core.catalog import Catalog
from artannot.core.geometry import Box
from artannot.core.iiif import FetchOptions, import_iiif
from artannot.core.interop import ExportError, export_annotations, import_annotations
from artannot.core.model import Region
from artannot.core.voc import new_annotation, read_voc, save_voc
from tests.iiif.conftest import Site

FAST = FetchOptions(timeout=0.5, retries=1, backoff=0.0)
BASE = "https://museum.example/annotations"


def by_canvas(cat: Catalog) -> dict[str, str]:
    return {a.fields["iiif.canvas"].rsplit("/", 1)[-1]: a.id for a in cat.artworks()}


def annotate(cat: Catalog, aid: str, regions: list[Region]) -> list[tuple[str, Box]]:
    width, height = cat.image_size(aid)
    ann = new_annotation(cat.root / aid, width, height)
    ann.regions = regions
    save_voc(ann, cat.annotation_path(aid))
    return [(r.phrase, r.box) for r in read_voc(cat.annotation_path(aid)).regions]


@pytest.fixture
def fetched(site: Site, tmp_path: Path) -> Path:
    dest = tmp_path / "coll"
    assert import_iiif(site.v3, dest, size=400, options=FAST).failed == []
    return dest


def test_export_scales_to_canvas_and_reimports_exactly(site: Site, fetched: Path, tmp_path: Path) -> None:
    with Catalog.open(fetched) as cat:
        ids = by_canvas(cat)
        assert cat.image_size(ids["wave"]) == (400, 222) and cat.image_size(ids["venus"]) == (400, 252)
        before = {
            "wave": annotate(cat, ids["wave"], [
                Region(Box(1, 1, 400, 222), "whole print"),
                Region(Box(11, 21, 110, 120), "towering blue wave"),
                Region(Box(10.5, 20.25, 100.3, 200.7), "curling white crest"),
                Region(Box(400, 222, 400, 222), "bottom-right pixel"),
            ]),
            "venus": annotate(cat, ids["venus"], [Region(Box(150, 30, 260, 240), "scallop shell")]),
        }
    out = tmp_path / "out"
    report = export_annotations(fetched, "iiif", out, base_uri=BASE)
    assert report.boxes == 5 and report.artworks == 3
    folder = next(fetched.glob("*/manifest.json")).parent.name
    page_path = out / folder / "annotations" / "0001-the-great-wave.json"
    page = json.loads(page_path.read_text(encoding="utf-8"))
    canvas = site.server.url("c/wave")
    assert page["type"] == "AnnotationPage" and page["id"] == f"{BASE}/{folder}/annotations/0001-the-great-wave.json"
    targets = [i["target"] for i in page["items"]]
    # canvas 1856x1028, image 400x222: x scale 4.64, y scale 1028/222
    assert targets[0] == f"{canvas}#xywh=0,0,1856,1028"
    assert targets[1] == f"{canvas}#xywh=46.4,92.612613,464,463.063063"
    assert targets[3] == f"{canvas}#xywh=1851.36,1023.369369,4.64,4.630631"
    assert {i["motivation"] for i in page["items"]} == {"tagging"}
    assert page["items"][1]["body"]["value"] == "towering blue wave"
    manifest = json.loads((out / folder / "manifest.json").read_text(encoding="utf-8"))
    refs = {c["id"].rsplit("/", 1)[-1]: c.get("annotations") for c in manifest["items"]}
    assert refs["wave"] == [{"id": page["id"], "type": "AnnotationPage"}]
    assert refs["night"] is None  # nothing drawn there
    assert manifest["items"][0]["items"][0]["items"][0]["motivation"] == "painting"  # the rest kept

    for aid in ids.values():  # forget the boxes, bring them back from the export
        with Catalog.open(fetched) as cat:
            cat.annotation_path(aid).unlink(missing_ok=True)
    imported = import_annotations(fetched, "iiif", out)
    assert imported.boxes == 5 and imported.approximated == []
    with Catalog.open(fetched) as cat:
        after = {k: [(r.phrase, r.box) for r in read_voc(cat.annotation_path(ids[k])).regions] for k in before}
    assert after == before


def test_v2_manifest_copy_lists_pages_as_other_content(site: Site, tmp_path: Path) -> None:
    dest = tmp_path / "coll"
    import_iiif(site.v2, dest, size=400, options=FAST)
    with Catalog.open(dest) as cat:
        aid = by_canvas(cat)["harvesters"]
        annotate(cat, aid, [Region(Box(5, 5, 50, 60), "golden wheat")])
    out = tmp_path / "out"
    export_annotations(dest, "iiif", out)
    manifest = json.loads(next(out.glob("*/manifest.json")).read_text(encoding="utf-8"))
    canvas = manifest["sequences"][0]["canvases"][0]
    [ref] = canvas["otherContent"]
    assert ref["@type"] == "sc:AnnotationList" and ref["@id"].startswith("file://")
    assert Path(ref["@id"].removeprefix("file://")).is_file()


def test_export_refuses_artworks_not_from_iiif(sample_copy: Path, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="fetched from a IIIF manifest"):
        export_annotations(sample_copy, "iiif", tmp_path / "out")


def test_export_does_not_overwrite(fetched: Path, tmp_path: Path) -> None:
    with Catalog.open(fetched) as cat:
        annotate(cat, by_canvas(cat)["night"], [Region(Box(5, 5, 50, 60), "swirling sky")])
    out = tmp_path / "out"
    export_annotations(fetched, "iiif", out)
    with pytest.raises(ExportError, match="output exists"):
        export_annotations(fetched, "iiif", out)
    export_annotations(fetched, "iiif", out, overwrite=True)


def test_phrases_come_from_the_manifest_text(fetched: Path) -> None:
    from artannot.text.collection import extract_collection

    with Catalog.open(fetched) as cat:
        extract_collection(cat, min_count=1)
        wave = by_canvas(cat)["wave"]
        norms = {p.norm for p in cat.phrases(wave)}
    assert {"towering blue wave", "curling white crest"} <= norms
    assert not any("ciel" in n for n in norms)


def test_cli_index_iiif_then_export(site: Site, tmp_path: Path) -> None:
    runner = CliRunner()
    dest, out = tmp_path / "coll", tmp_path / "out"
    result = runner.invoke(app, ["index", str(dest), "--iiif", site.v3, "--size", "300"])
    assert result.exit_code == 0, result.output
    assert "3 canvas(es) imported" in result.output and "3 artworks, 3 with metadata" in result.output
    with Catalog.open(dest) as cat:
        annotate(cat, by_canvas(cat)["venus"], [Region(Box(2, 2, 30, 40), "scallop shell")])
    result = runner.invoke(app, ["export", str(dest), "-f", "iiif", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert len(list(out.glob("*/annotations/*.json"))) == 1
    again = runner.invoke(app, ["index", str(dest), "--iiif", site.v3, "--size", "300"])
    assert "0 canvas(es) imported, 3 already there" in again.output


def test_cli_reports_failures(site: Site, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["index", str(tmp_path / "a"), "--iiif", site.malformed])
    assert result.exit_code == 2 and "malformed JSON" in result.output
    result = runner.invoke(app, ["index", str(tmp_path / "b"), "--iiif", site.v3, "--size", "nope"])
    assert result.exit_code == 2 and "'max'" in result.output
