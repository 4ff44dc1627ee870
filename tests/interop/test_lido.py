from __future__ import annotations

from pathlib import Path

import pytest

from artannot.core.errors import MetadataError
from artannot.core.lido import read_lido
from artannot.core.metadata import read_sidecar, text_fields, title_of

# A realistic record, shaped like those museums publish through LIDO harvesting (v1.0).
LIDO = """<?xml version="1.0" encoding="UTF-8"?>
<lido:lidoWrap xmlns:lido="http://www.lido-schema.org" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xsi:schemaLocation="http://www.lido-schema.org http://www.lido-schema.org/schema/v1.0/lido-v1.0.xsd">
  <lido:lido>
    <lido:lidoRecID lido:source="Example Museum" lido:type="local">EM-LIDO-1925.117</lido:lidoRecID>
    <lido:category>
      <lido:conceptID lido:type="URI">http://www.cidoc-crm.org/crm-concepts/E22</lido:conceptID>
      <lido:term xml:lang="en">Man-Made Object</lido:term>
    </lido:category>
    <lido:descriptiveMetadata xml:lang="en">
      <lido:objectClassificationWrap>
        <lido:objectWorkTypeWrap>
          <lido:objectWorkType>
            <lido:conceptID lido:type="URI">http://vocab.getty.edu/aat/300033973</lido:conceptID>
            <lido:term>folding screen</lido:term>
          </lido:objectWorkType>
        </lido:objectWorkTypeWrap>
        <lido:classificationWrap>
          <lido:classification><lido:term>Asian Art</lido:term></lido:classification>
          <lido:classification><lido:term>Screens</lido:term></lido:classification>
        </lido:classificationWrap>
      </lido:objectClassificationWrap>
      <lido:objectIdentificationWrap>
        <lido:titleWrap>
          <lido:titleSet>
            <lido:appellationValue lido:pref="alternate" xml:lang="ja">Hatō-zu byōbu</lido:appellationValue>
            <lido:appellationValue lido:pref="preferred" xml:lang="en">Rough Waves</lido:appellationValue>
          </lido:titleSet>
        </lido:titleWrap>
        <lido:repositoryWrap>
          <lido:repositorySet lido:type="current">
            <lido:repositoryName>
              <lido:legalBodyName><lido:appellationValue>Example Museum of Art</lido:appellationValue></lido:legalBodyName>
            </lido:repositoryName>
            <lido:workID lido:type="inventory number">26.117</lido:workID>
          </lido:repositorySet>
        </lido:repositoryWrap>
        <lido:objectDescriptionWrap>
          <lido:objectDescriptionSet lido:type="description">
            <lido:descriptiveNoteValue>Stylised ocean waves in dark blue-green ink on a gold ground.
              Curling crests end in claw-like fingers of white foam.</lido:descriptiveNoteValue>
          </lido:objectDescriptionSet>
        </lido:objectDescriptionWrap>
      </lido:objectIdentificationWrap>
      <lido:eventWrap>
        <lido:eventSet>
          <lido:event>
            <lido:eventType>
              <lido:conceptID lido:type="URI">http://terminology.lido-schema.org/lido00007</lido:conceptID>
              <lido:term xml:lang="en">Production</lido:term>
            </lido:eventType>
            <lido:eventActor>
              <lido:displayActorInRole>Ogata Kōrin (Japanese, 1658–1716)</lido:displayActorInRole>
              <lido:actorInRole>
                <lido:actor lido:type="person">
                  <lido:actorID lido:type="URI">http://vocab.getty.edu/ulan/500115325</lido:actorID>
                  <lido:nameActorSet>
                    <lido:appellationValue lido:pref="preferred">Ogata Kōrin</lido:appellationValue>
                  </lido:nameActorSet>
                </lido:actor>
                <lido:roleActor><lido:term>artist</lido:term></lido:roleActor>
              </lido:actorInRole>
            </lido:eventActor>
            <lido:culture><lido:term>Japan, Edo period</lido:term></lido:culture>
            <lido:eventDate>
              <lido:displayDate>ca. 1704–09</lido:displayDate>
              <lido:date><lido:earliestDate>1704</lido:earliestDate><lido:latestDate>1709</lido:latestDate></lido:date>
            </lido:eventDate>
            <lido:eventMaterialsTech>
              <lido:materialsTech>
                <lido:termMaterialsTech lido:type="material"><lido:term>ink</lido:term></lido:termMaterialsTech>
                <lido:termMaterialsTech lido:type="material"><lido:term>gold leaf</lido:term></lido:termMaterialsTech>
              </lido:materialsTech>
            </lido:eventMaterialsTech>
          </lido:event>
        </lido:eventSet>
        <lido:eventSet>
          <lido:event>
            <lido:eventType><lido:term>Acquisition</lido:term></lido:eventType>
            <lido:eventActor><lido:actorInRole><lido:actor><lido:nameActorSet>
              <lido:appellationValue>Fletcher Fund</lido:appellationValue>
            </lido:nameActorSet></lido:actor></lido:actorInRole></lido:eventActor>
            <lido:eventDate><lido:displayDate>1926</lido:displayDate></lido:eventDate>
          </lido:event>
        </lido:eventSet>
      </lido:eventWrap>
    </lido:descriptiveMetadata>
  </lido:lido>
</lido:lidoWrap>
"""


@pytest.fixture
def lido_file(tmp_path: Path) -> Path:
    p = tmp_path / "korin.xml"
    p.write_text(LIDO, encoding="utf-8")
    return p


def test_friendly_keys(lido_file: Path) -> None:
    f = read_lido(lido_file)
    assert f["title"] == "Rough Waves"  # the preferred appellation, not the first
    assert f["object_type"] == "folding screen"
    assert f["classification[0]"] == "Asian Art" and f["classification[1]"] == "Screens"
    assert f["description"].startswith("Stylised ocean waves") and "claw-like fingers" in f["description"]
    assert "\n " not in f["description"]  # whitespace of the XML layout collapsed
    assert f["creator"] == "Ogata Kōrin"  # the production event, not the acquisition
    assert f["date"] == "ca. 1704–09"
    assert f["materials"] == "ink; gold leaf"
    assert f["museum"] == "Example Museum of Art"
    assert f["culture"] == "Japan, Edo period"
    assert f["inventory_number"] == "26.117"


def test_rest_is_kept_flattened_without_repeating_friendly_text(lido_file: Path) -> None:
    f = read_lido(lido_file)
    assert f["lidoRecID"] == "EM-LIDO-1925.117"
    assert f["category.term"] == "Man-Made Object"
    assert any(k.endswith("displayActorInRole") and v.startswith("Ogata") for k, v in f.items())
    assert any(v == "Fletcher Fund" for v in f.values())  # other events stay searchable
    assert any(v == "Hatō-zu byōbu" for v in f.values())  # the alternate title too
    assert sum("claw-like" in v for v in f.values()) == 1
    assert sum(v == "Rough Waves" for v in f.values()) == 1


def test_sidecar_reading_recognises_lido(lido_file: Path) -> None:
    fields = read_sidecar(lido_file)
    assert fields == read_lido(lido_file)
    assert title_of(fields) == "Rough Waves"
    keys = [k for k, _ in text_fields(fields)]
    assert "title" in keys and "description" in keys


def test_lido_in_a_collection(sample_copy: Path) -> None:
    from artannot.core.catalog import Catalog

    (sample_copy / "metadata" / "korin_rough_waves.xml").write_text(LIDO, encoding="utf-8")
    with Catalog.open(sample_copy) as cat:
        art = cat.artwork("images/korin_rough_waves.jpg")
        row = next(r for r in cat.rows("folding screen") if r.id == art.id)
    assert art.fields["creator"] == "Ogata Kōrin"
    assert row.title == "Rough Waves" and row.date == "ca. 1704–09" and row.museum == "Example Museum of Art"


def test_not_lido_and_no_record(tmp_path: Path) -> None:
    p = tmp_path / "x.xml"
    p.write_text("<record><title>x</title></record>")
    with pytest.raises(MetadataError, match="not a LIDO document"):
        read_lido(p)
    p.write_text('<lido:lidoWrap xmlns:lido="http://www.lido-schema.org"/>')
    with pytest.raises(MetadataError, match="no lido:lido record"):
        read_lido(p)
