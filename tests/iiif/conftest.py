"""A local IIIF site: v3 and v2 manifests, a collection, and manifests that go wrong."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.iiif.server import IiifServer, v3_canvas, v3_manifest

WAVE_DESC = "A towering blue wave with a curling white crest arches over three narrow boats."


@dataclass
class Site:
    server: IiifServer
    v3: str  # 3 canvases: wave (canvas 2x the image), starry night (same size), venus (3x)
    v2: str  # 2 canvases: harvesters (v2 level-0 service), arnolfini (static image, no service)
    collection: str  # v3 collection: v3, v2 and a member that is missing (404)
    bad: str  # one good canvas and five broken ones
    malformed: str  # not JSON


def build_site(server: IiifServer) -> Site:
    wave, night, venus = (server.image_service(s) for s in
                          ("hokusai_great_wave.jpg", "vangogh_starry_night.jpg", "botticelli_birth_of_venus.jpg"))
    harvesters = server.image_service("bruegel_harvesters.jpg", version=2)
    arnolfini = server.static_image("vaneyck_arnolfini_portrait.jpg")
    c = server.url("c")
    v3 = server.write_json("m3.json", v3_manifest(server.url("m3.json"), [
        v3_canvas(f"{c}/wave", 1856, 1028, {"en": ["The Great Wave"], "ja": ["神奈川沖浪裏"]}, wave,
                  metadata=[{"label": {"en": ["Description"]}, "value": {"en": [WAVE_DESC]}}]),
        v3_canvas(f"{c}/night", 1024, 640, {"en": ["The Starry Night"]}, night),
        v3_canvas(f"{c}/venus", 3072, 1929, {"en": ["The Birth of Venus"]}, venus),
    ], label={"en": ["Waves and stars"], "fr": ["Vagues et étoiles"]},
        summary={"en": ["<p>Three <b>famous</b> paintings &amp; a print</p>"], "fr": ["Trois tableaux"]},
        metadata=[{"label": {"en": ["Subject"], "fr": ["Sujet"]},
                   "value": {"en": ["A swirling night sky over a sleeping village"], "fr": ["Un ciel nocturne"]}},
                  {"label": {"en": ["Date"]}, "value": {"none": ["1830-1889"]}}],
        requiredStatement={"label": {"en": ["Attribution"]}, "value": {"en": ["Public domain images"]}}))
    v2 = server.write_json("m2.json", {
        "@context": "http://iiif.io/api/presentation/2/context.json", "@id": server.url("m2.json"),
        "@type": "sc:Manifest", "label": "Flemish masters",
        "description": [{"@value": "Peasants harvesting golden wheat under a summer sky", "@language": "en"},
                        {"@value": "Boeren oogsten graan", "@language": "nl"}],
        "metadata": [{"label": "Title", "value": "The Harvesters"}],
        "sequences": [{"@type": "sc:Sequence", "canvases": [
            {"@id": f"{c}/harvesters", "@type": "sc:Canvas", "label": "The Harvesters", "width": 1024, "height": 755,
             "images": [{"@type": "oa:Annotation", "motivation": "sc:painting", "on": f"{c}/harvesters",
                         "resource": {"@id": f"{harvesters}/full/full/0/default.jpg", "@type": "dctypes:Image",
                                      "service": {"@context": "http://iiif.io/api/image/2/context.json",
                                                  "@id": harvesters,
                                                  "profile": "http://iiif.io/api/image/2/level0.json"}}}]},
            {"@id": f"{c}/arnolfini", "@type": "sc:Canvas", "label": "Arnolfini Portrait", "width": 748,
             "height": 1024, "description": "A merchant and his wife stand in a chamber with a convex mirror.",
             "images": [{"@type": "oa:Annotation", "motivation": "sc:painting", "on": f"{c}/arnolfini",
                         "resource": {"@id": arnolfini, "@type": "dctypes:Image"}}]},
        ]}]})
    collection = server.write_json("collection.json", {
        "@context": "http://iiif.io/api/presentation/3/context.json", "id": server.url("collection.json"),
        "type": "Collection", "label": {"en": ["Everything"]},
        "items": [{"id": v3, "type": "Manifest"}, {"id": v2, "type": "Manifest"},
                  {"id": server.url("status/404/gone.json"), "type": "Manifest"}]})
    bad = server.write_json("bad.json", v3_manifest(server.url("bad.json"), [
        v3_canvas(f"{c}/ok", 928, 514, {"en": ["fine"]}, wave),
        v3_canvas(f"{c}/blank", 100, 100, {"en": ["no image"]}),
        v3_canvas(f"{c}/e500", 100, 100, {"en": ["server error"]}, server.url("status/500/svc")),
        v3_canvas(f"{c}/e404", 100, 100, {"en": ["missing"]}, server.url("status/404/svc")),
        v3_canvas(f"{c}/hang", 100, 100, {"en": ["never answers"]}, server.url("hang/svc")),
        {"id": f"{c}/nosize", "type": "Canvas", "label": {"en": ["no size"]}},
    ], label={"en": ["Partly broken"]}))
    (server.root / "malformed.json").write_text('{"type": "Manifest", "items": [', encoding="utf-8")
    return Site(server, v3, v2, collection, bad, server.url("malformed.json"))


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    with IiifServer(tmp_path / "www") as server:
        yield build_site(server)


@pytest.fixture(autouse=True)
def _catalogs_in_tmp(isolated_dirs: dict[str, Path]) -> None:
    """Catalogs and models of the code under test go to temp folders."""
