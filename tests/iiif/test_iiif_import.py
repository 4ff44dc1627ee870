"""Opening IIIF manifests served on 127.0.0.1 as collections: fields, images, resume, failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from artannot.core.catalog import Catalog
from artannot.core.iiif import FetchOptions, IiifError, import_iiif
from tests.iiif.conftest import WAVE_DESC, Site
from tests.iiif.server import v3_canvas, v3_manifest

FAST = FetchOptions(timeout=0.5, retries=1, backoff=0.0)


def sidecars(dest: Path) -> dict[str, dict]:
    """``{canvas label: sidecar}`` of every imported canvas."""
    out = {}
    for p in sorted(dest.rglob("*.json")):
        if p.name != "manifest.json":
            data = json.loads(p.read_text(encoding="utf-8"))
            out[data["iiif"]["canvas"].rsplit("/", 1)[-1]] = data
    return out


def files_left(dest: Path) -> list[str]:
    return sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())


def test_v3_manifest_becomes_a_collection(site: Site, tmp_path: Path) -> None:
    dest = tmp_path / "coll"
    seen: list[tuple[int, int]] = []
    report = import_iiif(site.v3, dest, size=400, options=FAST, progress=lambda d, t: seen.append((d, t)))
    assert report.failed == [] and report.manifests == 1 and len(report.imported) == 3
    assert seen[0] == (0, 3) and seen[-1] == (3, 3)
    cards = sidecars(dest)
    wave = cards["wave"]
    # language maps: English chosen, others kept; HTML reduced to text
    assert wave["title"] == "Waves and stars — The Great Wave"
    assert wave["summary"] == "Three famous paintings & a print"
    assert wave["metadata"] == {"Subject": "A swirling night sky over a sleeping village", "Date": "1830-1889"}
    assert wave["canvas_metadata"] == {"Description": WAVE_DESC}
    assert wave["attribution"] == "Public domain images"
    assert wave["other_languages"]["label"] == {"ja": "神奈川沖浪裏"}
    assert wave["other_languages"]["summary"] == {"fr": "Trois tableaux"}
    assert wave["other_languages"]["metadata"]["Subject"] == {"fr": "Un ciel nocturne"}
    assert wave["iiif"]["canvas_width"] == 1856 and wave["iiif"]["canvas_height"] == 1028
    # level 0: the smallest listed size at least 400 px long is fetched (464 of 232/464/928),
    # then stored with a longer side of exactly 400
    sizes = {p.stem.split("-", 1)[1]: Image.open(p).size for p in dest.rglob("*.jpg")}
    assert sizes == {"the-great-wave": (400, 222), "the-starry-night": (400, 250),
                     "the-birth-of-venus": (400, 252)}
    assert any(r.endswith("/full/464,257/0/default.jpg") for r in site.server.requests)
    with Catalog.open(dest) as cat:
        arts = {a.fields["iiif.canvas"].rsplit("/", 1)[-1]: a for a in cat.artworks()}
        assert cat.errors() == []
    assert arts["wave"].title == "Waves and stars — The Great Wave"
    assert WAVE_DESC in arts["wave"].descriptions  # phrase extraction reads it
    assert not any("Un ciel" in d for d in arts["wave"].descriptions)  # other languages are not extracted


def test_default_and_max_sizes_keep_the_full_image(site: Site, tmp_path: Path) -> None:
    import_iiif(site.v3, tmp_path / "a", options=FAST)  # default 2000: every sample is smaller
    import_iiif(site.v3, tmp_path / "b", size=None, options=FAST)
    for folder in ("a", "b"):
        sizes = sorted(Image.open(p).size for p in (tmp_path / folder).rglob("*.jpg"))
        assert sizes == [(928, 514), (1024, 640), (1024, 643)]


def test_v2_manifest_with_service_and_static_image(site: Site, tmp_path: Path) -> None:
    dest = tmp_path / "coll"
    report = import_iiif(site.v2, dest, size=400, options=FAST)
    assert report.failed == [] and len(report.imported) == 2
    cards = sidecars(dest)
    assert cards["harvesters"]["title"] == "Flemish masters — The Harvesters"
    assert cards["harvesters"]["summary"] == "Peasants harvesting golden wheat under a summer sky"
    assert cards["harvesters"]["other_languages"]["summary"] == {"nl": "Boeren oogsten graan"}
    assert cards["harvesters"]["metadata"] == {"Title": "The Harvesters"}
    assert cards["arnolfini"]["canvas_summary"].startswith("A merchant and his wife")
    assert cards["harvesters"]["iiif"]["version"] == 2
    sizes = {p.stem.split("-", 1)[1]: Image.open(p).size for p in dest.rglob("*.jpg")}
    # v2 level 0 asks for "w," (512 of 256/512/1024); the static image is fetched whole
    sizes = {p.stem.split("-", 1)[1]: Image.open(p).size for p in dest.rglob("*.jpg")}
    assert sizes == {"the-harvesters": (400, 295), "arnolfini-portrait": (292, 400)}
    assert any(r.endswith("/full/512,/0/default.jpg") for r in site.server.requests)


def test_collection_imports_every_manifest_and_reports_the_missing_one(site: Site, tmp_path: Path) -> None:
    dest = tmp_path / "coll"
    report = import_iiif(site.collection, dest, size=300, options=FAST)
    assert report.manifests == 2 and len(report.imported) == 5
    [(what, why)] = report.failed
    assert "gone.json" in what and "HTTP 404" in why
    assert len([p for p in dest.iterdir() if p.is_dir()]) == 2
    assert all((d / "manifest.json").is_file() for d in dest.iterdir() if d.is_dir())


def test_second_run_resumes(site: Site, tmp_path: Path) -> None:
    dest = tmp_path / "coll"
    import_iiif(site.v3, dest, size=400, options=FAST)
    night = next(dest.rglob("*starry-night.json"))
    night.unlink()  # as if the run had stopped before this canvas was complete
    before = len(site.server.requests)
    report = import_iiif(site.v3, dest, size=400, options=FAST)
    assert report.already == 2 and len(report.imported) == 1 and report.imported[0].endswith("starry-night.jpg")
    fetched = [r for r in site.server.requests[before:] if "default.jpg" in r]
    assert len(fetched) == 1 and "vangogh_starry_night" in fetched[0]


def test_broken_canvases_are_reported_and_the_rest_imported(site: Site, tmp_path: Path) -> None:
    dest = tmp_path / "coll"
    report = import_iiif(site.bad, dest, size=400, options=FAST)
    assert [Path(p).name for p in report.imported] == ["0001-fine.jpg"]
    why = {what.split("(")[-1].rstrip(")").rsplit("/", 1)[-1]: msg for what, msg in report.failed}
    assert set(why) == {"blank", "e500", "e404", "hang", "nosize"}
    assert "no image and no image service" in why["blank"]
    assert "HTTP 500" in why["e500"] and "after 2 attempts" in why["e500"]
    assert "HTTP 404" in why["e404"] and "attempts" not in why["e404"]  # a 4xx is not retried
    assert "timed out" in why["hang"] and "0.5 s" in why["hang"]
    assert "width and height" in why["nosize"]
    assert sum("status/500" in r for r in site.server.requests) == 2
    # nothing half-written: the good canvas, its sidecar and the manifest copy, no temp files
    folder = next(p for p in dest.iterdir() if p.is_dir()).name
    assert files_left(dest) == [f"{folder}/0001-fine.jpg", f"{folder}/0001-fine.json", f"{folder}/manifest.json"]
    assert any("failed canvas 5" in line for line in report.lines())


@pytest.mark.parametrize("which", ["malformed", "not_manifest", "http_error", "no_canvases"])
def test_unusable_manifest_is_refused_before_writing(site: Site, tmp_path: Path, which: str) -> None:
    urls = {
        "malformed": site.malformed,
        "not_manifest": site.server.write_json("x.json", {"type": "Annotation"}),
        "http_error": site.server.url("status/500/m.json"),
        "no_canvases": site.server.write_json("y.json", {"id": "y", "type": "Manifest"}),
    }
    messages = {"malformed": "malformed JSON", "not_manifest": "not a IIIF Manifest",
                "http_error": "HTTP 500", "no_canvases": "no list of canvases"}
    dest = tmp_path / "coll"
    with pytest.raises(IiifError, match=messages[which]) as info:
        import_iiif(urls[which], dest, options=FAST)
    assert "\n" not in str(info.value)
    assert not dest.exists() or files_left(dest) == []


def test_local_manifest_reads_beside_itself_only(site: Site, tmp_path: Path) -> None:
    local = tmp_path / "local"
    (local / "img").mkdir(parents=True)
    (tmp_path / "secret.jpg").write_bytes((local.parent / "www" / "static" / "vaneyck_arnolfini_portrait.jpg").read_bytes())
    (local / "img" / "wave.jpg").write_bytes(next((tmp_path / "www").rglob("iiif3/hokusai_great_wave/full/max/0/default.jpg")).read_bytes())
    manifest = v3_manifest("urn:local", [
        v3_canvas("urn:c/1", 928, 514, {"en": ["beside"]}, image="img/wave.jpg"),
        v3_canvas("urn:c/2", 748, 1024, {"en": ["escape"]}, image="../secret.jpg"),
        v3_canvas("urn:c/3", 748, 1024, {"en": ["absolute"]}, image=(tmp_path / "secret.jpg").as_uri()),
        v3_canvas("urn:c/4", 928, 514, {"en": ["web"]}, service=site.server.url("iiif3/hokusai_great_wave")),
    ], label={"en": ["Local"]})
    (local / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    dest = tmp_path / "coll"
    report = import_iiif(local / "manifest.json", dest, size=None, options=FAST)
    assert sorted(Path(p).name for p in report.imported) == ["0001-beside.jpg", "0004-web.jpg"]
    assert len(report.failed) == 2 and all("outside the manifest's folder" in why for _, why in report.failed)


def test_web_manifest_may_not_name_local_files(site: Site, tmp_path: Path) -> None:
    url = site.server.write_json("sneaky.json", v3_manifest(site.server.url("sneaky.json"), [
        v3_canvas("urn:c/1", 10, 10, image=(tmp_path / "www" / "m3.json").as_uri())]))
    report = import_iiif(url, tmp_path / "coll", options=FAST)
    [(_, why)] = report.failed
    assert "may not name local files" in why


def test_stopped_import_says_so_and_the_next_run_finishes(site: Site, tmp_path: Path) -> None:
    dest = tmp_path / "coll"
    answers = iter([False])  # the first canvas runs, then the curator cancels
    one_at_a_time = FetchOptions(timeout=0.5, retries=1, backoff=0.0, workers=1)
    report = import_iiif(site.v3, dest, size=300, options=one_at_a_time, should_stop=lambda: next(answers, True))
    assert report.stopped and len(report.imported) == 1 and report.failed == []
    assert "run again" in report.lines()[-1]
    again = import_iiif(site.v3, dest, size=300, options=FAST)
    assert again.already == 1 and len(again.imported) == 2 and not again.stopped


def test_a_cut_short_image_is_refused_not_stored(site: Site, tmp_path: Path) -> None:
    whole = (site.server.root / "static" / "vaneyck_arnolfini_portrait.jpg").read_bytes()
    (site.server.root / "static" / "cut.jpg").write_bytes(whole[: len(whole) // 2])
    url = site.server.write_json("cut.json", v3_manifest(site.server.url("cut.json"), [
        v3_canvas("urn:c/cut", 748, 1024, {"en": ["cut"]}, image=site.server.url("static/cut.jpg"))]))
    dest = tmp_path / "coll"
    report = import_iiif(url, dest, options=FAST)
    [(_, why)] = report.failed
    assert "not a readable image" in why
    assert [p.name for p in dest.rglob("*") if p.is_file()] == ["manifest.json"]
