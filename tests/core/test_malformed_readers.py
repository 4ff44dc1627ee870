"""Hostile files read by the core (VOC, LIDO and other sidecars, Karpathy captions): each is one
error naming the file, never a Python exception escaping; ``artannot index`` lists them and goes on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from artannot.cli import app
from artannot.core.errors import ArtannotError
from artannot.core.metadata import read_karpathy, read_sidecar
from artannot.core.voc import read_voc

DEEP_JSON = "[" * 100_000 + "]" * 100_000
DEEP_XML = "<a>" * 5_000 + "</a>" * 5_000
LIDO_HEAD = '<lido:lido xmlns:lido="http://www.lido-schema.org">'


def _voc(width: str = "100", xmin: str = "1", name: str = "wave") -> str:
    return (f"<annotation><filename>x.jpg</filename><size><width>{width}</width><height>100</height></size>"
            f"<object><name>{name}</name><bndbox><xmin>{xmin}</xmin><ymin>1</ymin><xmax>10</xmax>"
            "<ymax>10</ymax></bndbox></object></annotation>")


VOC_CASES = {
    "nan coordinate": _voc(xmin="nan"),
    "inf coordinate": _voc(xmin="inf"),
    "NUL reference in label": _voc(name="wa&#0;ve"),
    "control character reference": _voc(name="wa&#7;ve"),
    "deeply nested": "<annotation>" + DEEP_XML + "</annotation>",
    "not XML": "\x00\x01binary",
}


@pytest.mark.parametrize("width", ["1e400", "9" * 400, "nan", "-inf"])
def test_voc_size_that_is_no_integer_reads_as_unknown(tmp_path: Path, width: str) -> None:
    path = tmp_path / "odd.xml"
    path.write_text(_voc(width=width))
    assert read_voc(path).width == 0  # as for any unreadable size: the image's own size is used


@pytest.mark.parametrize("text", VOC_CASES.values(), ids=VOC_CASES.keys())
def test_malformed_voc_is_one_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.xml"
    path.write_text(text)
    with pytest.raises(ArtannotError) as err:
        read_voc(path)
    assert str(path) in str(err.value)


SIDECAR_CASES = {
    "deep.json": DEEP_JSON,
    "deep_object.json": '{"a": ' * 500 + "1" + "}" * 500,  # parses, but too deep to walk
    "long_integer.json": '{"id": ' + "9" * 5000 + "}",
    "deep.xml": DEEP_XML,
    "lido_deep.xml": LIDO_HEAD + DEEP_XML + "</lido:lido>",
    "lido_control.xml": LIDO_HEAD + "<lido:lidoRecID>a&#1;b</lido:lidoRecID></lido:lido>",
    "lido_truncated.xml": LIDO_HEAD + "<lido:descriptiveMetadata>",
}


@pytest.mark.parametrize("name,text", SIDECAR_CASES.items(), ids=SIDECAR_CASES.keys())
def test_malformed_sidecar_is_one_error(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ArtannotError) as err:
        read_sidecar(path)
    assert str(path) in str(err.value)


KARPATHY_CASES = {
    "deep": DEEP_JSON,
    "long integer": '{"images": [{"filename": ' + "9" * 5000 + "}]}",
    "sentences not a list": json.dumps({"images": [{"filename": "a.jpg", "sentences": 5}]}),
    "sentence of wrong type": json.dumps({"images": [{"filename": "a.jpg", "sentences": [{"raw": 5}, None]}]}),
}


@pytest.mark.parametrize("text", KARPATHY_CASES.values(), ids=KARPATHY_CASES.keys())
def test_malformed_karpathy_is_one_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "caption_data.json"
    path.write_text(text)
    try:
        entries = read_karpathy(path)
    except ArtannotError as exc:
        assert str(path) in str(exc)
    else:  # values of the wrong type are ignored, never a crash
        assert [e.sentences for e in entries] == [[]]


def test_index_lists_hostile_files_and_goes_on(sample_copy: Path) -> None:
    meta = sample_copy / "metadata"
    (meta / "hokusai_great_wave.json").write_text(DEEP_JSON)
    (meta / "korin_rough_waves.xml").write_text(LIDO_HEAD + DEEP_XML + "</lido:lido>")
    (sample_copy / "annotations" / "vangogh_starry_night.xml").write_text(
        _voc(width="1e400", xmin="nan").replace("x.jpg", "vangogh_starry_night.jpg"))
    (sample_copy / "caption_data.json").write_text('{"images": [{"filename": "x.jpg", "sentences": 5}]}')
    res = CliRunner().invoke(app, ["index", str(sample_copy)])
    assert res.exit_code == 0, res.output
    assert "Traceback" not in res.output
    assert "12 artworks" in res.stdout
    for name in ("hokusai_great_wave.json", "korin_rough_waves.xml", "vangogh_starry_night.xml"):
        assert name in res.stderr, name
