"""Pascal VOC I/O: LabelImg layout on write, tolerant read, lossless round trip, safe save."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest
from lxml import etree

from artannot.core import voc
from artannot.core.errors import VocConflictError, VocParseError
from artannot.core.geometry import Box
from artannot.core.model import Region
from artannot.core.safe_xml import safe_parser
from artannot.core.voc import VocValidationError, new_annotation, read_voc, save_voc, voc_bytes

SAMPLE_ANN = Path(__file__).resolve().parents[2] / "resources" / "sample_collection" / "annotations"

KNOWN = {"annotation", "folder", "filename", "path", "source", "database", "size", "width", "height",
         "depth", "segmented", "object", "name", "pose", "truncated", "difficult", "bndbox",
         "xmin", "ymin", "xmax", "ymax"}


# -- helpers -------------------------------------------------------------------

def canon(el: etree._Element) -> tuple:
    """Order-insensitive canonical form: (tag, stripped text, attributes, multiset of children)."""
    kids = tuple(sorted(canon(c) for c in el if isinstance(c.tag, str)))
    return (el.tag, (el.text or "").strip(), tuple(sorted(el.attrib.items())), kids)


def equivalent(a: etree._Element, b: etree._Element) -> bool:
    return canon(a) == canon(b)


def covered(orig: etree._Element, saved: etree._Element) -> list[str]:
    """What of ``orig`` is missing from ``saved`` (same parent, same tag/text/attributes),
    allowing ``saved`` to add known elements the original lacked.  Empty list == lossless."""
    missing: list[str] = []
    if orig.tag != saved.tag:
        return [f"{orig.tag} != {saved.tag}"]
    if (orig.text or "").strip() != (saved.text or "").strip():
        missing.append(f"text of <{orig.tag}>: {orig.text!r} -> {saved.text!r}")
    for k, v in orig.attrib.items():
        if saved.get(k) != v:
            missing.append(f"attribute {k}={v!r} of <{orig.tag}>")
    pool = [c for c in saved if isinstance(c.tag, str)]
    for child in (c for c in orig if isinstance(c.tag, str)):
        match = next((c for c in pool if c.tag == child.tag and not covered(child, c)), None)
        if match is None:
            missing.append(f"<{child.tag}> under <{orig.tag}> ({(child.text or '').strip()!r})")
        else:
            pool.remove(match)
    return missing


def xml_root(data: bytes) -> etree._Element:
    return etree.fromstring(data, etree.XMLParser(remove_blank_text=True))


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


LABELIMG = """<annotation>
\t<folder>images</folder>
\t<filename>cat.jpg</filename>
\t<path>/data/images/cat.jpg</path>
\t<source>
\t\t<database>Unknown</database>
\t</source>
\t<size>
\t\t<width>640</width>
\t\t<height>480</height>
\t\t<depth>3</depth>
\t</size>
\t<segmented>0</segmented>
\t<object>
\t\t<name>head of a cat statuette carved in brown</name>
\t\t<pose>Unspecified</pose>
\t\t<truncated>0</truncated>
\t\t<difficult>0</difficult>
\t\t<bndbox>
\t\t\t<xmin>10</xmin>
\t\t\t<ymin>20</ymin>
\t\t\t<xmax>110</xmax>
\t\t\t<ymax>220</ymax>
\t\t</bndbox>
\t</object>
</annotation>
"""

# CVAT/Roboflow style: pose before name, floats, extra elements, attributes, extra root children.
FOREIGN = """<?xml version="1.0" encoding="utf-8"?>
<annotation verified="no" tool="cvat">
  <owner>Brooklyn Museum</owner>
  <filename>amphora.jpg</filename>
  <size><width>500</width><height>400</height><depth>3</depth></size>
  <object>
    <pose>Frontal</pose>
    <name>warrior with round shield</name>
    <truncated>1</truncated>
    <difficult>0</difficult>
    <occluded>0</occluded>
    <style color="red">dashed</style>
    <bndbox><xmin>12.5</xmin><ymin>30.25</ymin><xmax>100.0</xmax><ymax>200.75</ymax></bndbox>
    <attributes>
      <attribute><name>material</name><value>bronze</value></attribute>
      <attribute><name>rotation</name><value>0.0</value></attribute>
    </attributes>
  </object>
  <object>
    <name>black-figure chariot</name>
    <bndbox><ymin>5</ymin><xmin>6</xmin><ymax>50</ymax><xmax>60</xmax></bndbox>
  </object>
  <rating stars="4"/>
</annotation>
"""


# -- writing in LabelImg's layout ---------------------------------------------------

def test_new_annotation_written_in_labelimg_order(tmp_path):
    img = tmp_path / "images" / "cat.jpg"
    ann = new_annotation(img, 640, 480)
    ann.regions = [Region(Box(11, 21, 110, 220), "head of a cat statuette carved in brown"),
                   Region(Box(1, 1, 640, 480), "whole painting")]
    ann.verified = True
    out = save_voc(ann, tmp_path / "cat.xml")
    data = out.read_bytes()
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    root = xml_root(data)
    assert [c.tag for c in root] == ["folder", "filename", "path", "source", "size", "segmented", "object", "object"]
    assert root[1].text == "cat.jpg"  # the thesis' parser reads root[1]
    assert root.get("verified") == "yes"
    assert [c.tag for c in root.find("source")] == ["database"]
    assert [c.tag for c in root.find("size")] == ["width", "height", "depth"]
    for obj in root.iterfind("object"):
        assert [c.tag for c in obj] == ["name", "pose", "truncated", "difficult", "bndbox"]
        assert [c.tag for c in obj.find("bndbox")] == ["xmin", "ymin", "xmax", "ymax"]
    objs = root.findall("object")
    assert objs[0][0].text == "head of a cat statuette carved in brown"  # object[0] is the phrase
    # a box over the full image is 1..W, 1..H in the file
    assert [e.text for e in objs[1].find("bndbox")] == ["1", "1", "640", "480"]
    assert [e.text for e in root.find("size")] == ["640", "480", "3"]


def test_full_image_box_from_canvas_edges_round_trips_as_1_to_w(tmp_path):
    ann = new_annotation(tmp_path / "a.jpg", 300, 200)
    ann.regions = [Region(Box.from_edges(0, 0, 300, 200), "all")]
    path = save_voc(ann, tmp_path / "a.xml")
    box = read_voc(path).regions[0].box
    assert box == Box(1, 1, 300, 200)
    assert box.to_edges() == (0, 0, 300, 200)


def test_unicode_is_written_as_utf8(tmp_path):
    ann = new_annotation(tmp_path / "Kōrin 屏風" / "波.jpg", 100, 100)
    ann.regions = [Region(Box(1, 1, 50, 50), "vague déferlante — 波")]
    path = save_voc(ann, tmp_path / "Kōrin 屏風" / "波.xml")
    data = path.read_bytes()
    assert "vague déferlante — 波".encode() in data
    assert "<filename>波.jpg</filename>".encode() in data
    again = read_voc(path)
    assert again.filename == "波.jpg" and again.regions[0].phrase == "vague déferlante — 波"


def test_verified_flag_round_trip(tmp_path):
    path = write(tmp_path / "cat.xml", LABELIMG)
    ann = read_voc(path)
    assert not ann.verified
    ann.verified = True
    save_voc(ann)
    assert xml_root(path.read_bytes()).get("verified") == "yes"
    ann = read_voc(path)
    assert ann.verified
    ann.verified = False
    save_voc(ann)
    assert xml_root(path.read_bytes()).get("verified") is None


# -- reading what other tools write --------------------------------------------------

def test_reads_labelimg_file():
    ann = read_voc(SAMPLE_ANN / "hokusai_great_wave.xml")
    assert ann.filename == "hokusai_great_wave.jpg"
    assert (ann.width, ann.height, ann.depth) == (928, 514, 3)
    assert ann.verified
    assert len(ann.regions) == 6
    assert ann.regions[0].phrase == "towering blue wave"
    assert ann.regions[0].box == Box(95, 40, 560, 380)


def test_reads_foreign_file(tmp_path):
    ann = read_voc(write(tmp_path / "amphora.xml", FOREIGN))
    assert ann.filename == "amphora.jpg"
    assert not ann.verified
    r0, r1 = ann.regions
    assert r0.phrase == "warrior with round shield"
    assert r0.pose == "Frontal" and r0.truncated and not r0.difficult
    assert r0.box == Box(12.5, 30.25, 100.0, 200.75)
    assert r1.phrase == "black-figure chariot" and r1.pose == "Unspecified"
    assert r1.box == Box(6, 5, 60, 50)
    assert ann.folder == "" and not ann.segmented and ann.database == "Unknown"


def test_missing_optional_elements(tmp_path):
    text = ("<annotation><filename>x.jpg</filename><object><name>a vase</name>"
            "<bndbox><xmin>1</xmin><ymin>2</ymin><xmax>3</xmax><ymax>4</ymax></bndbox></object></annotation>")
    ann = read_voc(write(tmp_path / "x.xml", text))
    assert (ann.width, ann.height) == (0, 0)
    r = ann.regions[0]
    assert (r.pose, r.truncated, r.difficult) == ("Unspecified", False, False)
    # saving fills in LabelImg's elements in its order
    save_voc(ann)
    root = xml_root((tmp_path / "x.xml").read_bytes())
    assert [c.tag for c in root] == ["folder", "filename", "path", "source", "size", "segmented", "object"]
    assert root[1].text == "x.jpg"
    assert [c.tag for c in root.find("object")] == ["name", "pose", "truncated", "difficult", "bndbox"]


def test_utf8_bom(tmp_path):
    path = tmp_path / "bom.xml"
    path.write_bytes(b"\xef\xbb\xbf" + LABELIMG.replace("head of a cat", "tête de chat").encode("utf-8"))
    ann = read_voc(path)
    assert ann.regions[0].phrase.startswith("tête de chat")
    save_voc(ann)
    assert read_voc(path).regions[0].phrase.startswith("tête de chat")


def test_iso_8859_1_declaration(tmp_path):
    text = ('<?xml version="1.0" encoding="ISO-8859-1"?>\n'
            + LABELIMG.replace("head of a cat statuette carved in brown", "tête sculptée en marbre"))
    path = write(tmp_path / "latin.xml", text, "latin-1")
    assert b"\xe9" in path.read_bytes()  # é as a single Latin-1 byte
    ann = read_voc(path)
    assert ann.regions[0].phrase == "tête sculptée en marbre"
    save_voc(ann)
    data = path.read_bytes()
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    assert "tête sculptée en marbre".encode() in data
    assert read_voc(path).regions[0].phrase == "tête sculptée en marbre"


def test_utf16_file(tmp_path):
    text = '<?xml version="1.0" encoding="UTF-16"?>\n' + LABELIMG.replace("head of a cat", "舞う鶴")
    path = write(tmp_path / "u16.xml", text, "utf-16")
    ann = read_voc(path)
    assert ann.regions[0].phrase.startswith("舞う鶴")
    assert ann.regions[0].box == Box(10, 20, 110, 220)


# -- lossless round trip -------------------------------------------------------------

@pytest.mark.parametrize("text", [LABELIMG, FOREIGN], ids=["labelimg", "foreign"])
def test_round_trip_without_edits_is_equivalent(tmp_path, text):
    path = write(tmp_path / "a.xml", text)
    before = xml_root(path.read_bytes())
    save_voc(read_voc(path))
    after = xml_root(path.read_bytes())
    assert covered(before, after) == []
    if text is LABELIMG:
        assert equivalent(before, after)
    # what was added can only be elements artannot knows (e.g. <pose> where missing)
    assert covered(after, before) == [] or all(
        any(f"<{t}>" in m for t in KNOWN) for m in covered(after, before))


def test_round_trip_keeps_unknown_content_verbatim(tmp_path):
    path = write(tmp_path / "a.xml", FOREIGN)
    save_voc(read_voc(path))
    root = xml_root(path.read_bytes())
    assert root[1].tag == "filename"
    assert root.get("tool") == "cvat" and root.get("verified") == "no"
    assert root.find("owner").text == "Brooklyn Museum"
    assert root.find("rating").get("stars") == "4"
    obj = root.find("object")
    assert obj[0].tag == "name" and obj[0].text == "warrior with round shield"
    assert obj.find("pose").text == "Frontal"
    assert [e.text for e in obj.find("bndbox")] == ["12.5", "30.25", "100.0", "200.75"]  # floats verbatim
    assert obj.find("style").text == "dashed" and obj.find("style").get("color") == "red"
    assert obj.find("occluded").text == "0"
    attrs = obj.find("attributes")
    assert [(a.findtext("name"), a.findtext("value")) for a in attrs] == [("material", "bronze"), ("rotation", "0.0")]
    # unknown elements keep their relative order under their parent
    assert [c.tag for c in obj if c.tag not in KNOWN] == ["occluded", "style", "attributes"]


def test_round_trip_of_own_file_is_byte_identical(tmp_path):
    ann = new_annotation(tmp_path / "p.jpg", 200, 100)
    ann.regions = [Region(Box(3, 4, 50.5, 60), "a gilded halo"), Region(Box(1, 1, 200, 100), "panel")]
    path = save_voc(ann, tmp_path / "p.xml")
    first = path.read_bytes()
    save_voc(read_voc(path))
    assert path.read_bytes() == first
    save_voc(read_voc(path))
    assert path.read_bytes() == first
    # and the sample file (written by artannot) survives too
    sample = tmp_path / "wave.xml"
    sample.write_bytes((SAMPLE_ANN / "hokusai_great_wave.xml").read_bytes())
    save_voc(read_voc(sample))
    once = sample.read_bytes()
    save_voc(read_voc(sample))
    assert sample.read_bytes() == once
    assert equivalent(xml_root(once), xml_root((SAMPLE_ANN / "hokusai_great_wave.xml").read_bytes()))


def test_edit_changes_only_edited_values(tmp_path):
    path = write(tmp_path / "a.xml", FOREIGN)
    before = xml_root(path.read_bytes())
    ann = read_voc(path)
    ann.regions[0].phrase = "hoplite with round shield"
    ann.regions[1].box = Box(6, 5, 61, 50)
    save_voc(ann)
    after = xml_root(path.read_bytes())
    o0b, o1b = before.findall("object")
    o0a, o1a = after.findall("object")
    assert o0a.findtext("name") == "hoplite with round shield"
    o0b.find("name").text = "hoplite with round shield"
    assert equivalent(o0a, o0b)
    assert o1a.find("bndbox").findtext("xmax") == "61"
    o1b.find("bndbox").find("xmax").text = "61"
    assert covered(o1b, o1a) == []
    # everything outside the objects is untouched
    for tag in ("owner", "filename", "size", "rating"):
        assert equivalent(after.find(tag), before.find(tag))


def test_delete_and_add_regions(tmp_path):
    path = write(tmp_path / "a.xml", FOREIGN)
    ann = read_voc(path)
    ann.regions = [ann.regions[1], Region(Box(1, 1, 500, 400), "the whole vase")]
    save_voc(ann)
    again = read_voc(path)
    assert [r.phrase for r in again.regions] == ["black-figure chariot", "the whole vase"]
    assert again.regions[1].box == Box(1, 1, 500, 400)
    assert b"warrior" not in path.read_bytes()
    # saving twice more after the edit needs no force (the stamp is refreshed on save)
    ann.regions[0].phrase = "chariot"
    save_voc(ann)
    assert read_voc(path).regions[0].phrase == "chariot"


# -- malformed input -----------------------------------------------------------------

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<annotation><filename>&lol9;</filename></annotation>
"""

XXE = """<?xml version="1.0"?>
<!DOCTYPE annotation [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<annotation><filename>&xxe;</filename><object><name>&xxe;</name>
<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox></object></annotation>
"""

BOX = "<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox>"

MALFORMED = {
    "broken_xml": ("<annotation><filename>a.jpg</filename><object><name>x</object></annotation>", "malformed"),
    "billion_laughs": (BILLION_LAUGHS, "entit"),
    "external_entity": (XXE, "entit"),
    "wrong_root": ("<record><filename>a.jpg</filename></record>", "<record>"),
    "missing_bndbox": ("<annotation><filename>a.jpg</filename><object><name>x</name></object></annotation>",
                       "bndbox"),
    "missing_coordinate": (("<annotation><object><name>x</name><bndbox><xmin>1</xmin><ymin>1</ymin>"
                            "<xmax>2</xmax></bndbox></object></annotation>"), "ymax"),
    "non_numeric": ("<annotation><object><name>x</name>" + BOX.replace(">2</xmax>", ">two</xmax>")
                    + "</object></annotation>", "two"),
    "inverted_box": ("<annotation><object><name>x</name>" + BOX.replace(">2</xmax>", ">0</xmax>")
                     + "</object></annotation>", "max < min"),
    "empty": ("", "empty"),
    "whitespace_only": ("  \n\t ", "empty"),
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_file_gives_clear_error_and_is_not_touched(tmp_path, name):
    text, hint = MALFORMED[name]
    path = write(tmp_path / f"{name}.xml", text)
    before = path.read_bytes()
    with pytest.raises(VocParseError) as info:
        read_voc(path)
    err = info.value
    assert err.code == "E101"
    assert err.path == path and str(path) in str(err)
    assert hint.lower() in str(err).lower()
    assert "passwd" not in str(err) and "root:" not in str(err)
    # a new annotation saved onto the broken file is refused; the file is unchanged
    ann = new_annotation(tmp_path / "a.jpg", 10, 10)
    with pytest.raises(VocConflictError):
        save_voc(ann, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_external_entity_never_resolved(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    text = XXE.replace("file:///etc/passwd", secret.as_uri())
    with pytest.raises(VocParseError):
        voc.parse_voc_bytes(text.encode(), tmp_path / "x.xml")
    # even without a DOCTYPE check, the parser itself must not substitute the entity
    tree = etree.fromstring(text.encode(), safe_parser())
    assert "TOP-SECRET" not in etree.tostring(tree, encoding="unicode")


def test_missing_file_is_parse_error(tmp_path):
    with pytest.raises(VocParseError) as info:
        read_voc(tmp_path / "nope.xml")
    assert "nope.xml" in str(info.value)


def test_unicode_paths(tmp_path):
    folder = tmp_path / "Kōrin 屏風"
    folder.mkdir()
    path = write(folder / "波.xml", LABELIMG.replace("cat.jpg", "波.jpg"))
    ann = read_voc(path)
    assert ann.filename == "波.jpg" and ann.source_path == path
    ann.regions[0].phrase = "gold-leaf waves"
    save_voc(ann)
    assert read_voc(path).regions[0].phrase == "gold-leaf waves"
    assert (folder / "波.xml.bak").exists()


# -- validation ----------------------------------------------------------------------

def test_out_of_bounds_box_loads_but_save_refuses(tmp_path):
    path = write(tmp_path / "oob.xml", LABELIMG.replace("<xmax>110</xmax>", "<xmax>700</xmax>"))
    before = path.read_bytes()
    ann = read_voc(path)
    assert ann.regions[0].box.xmax == 700
    assert voc.validate(ann)
    with pytest.raises(VocValidationError) as info:
        save_voc(ann)
    assert info.value.code == "E103" and "640x480" in str(info.value) and "oob.xml" in str(info.value)
    with pytest.raises(VocValidationError):
        save_voc(ann, force=True)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["oob.xml"]
    # after clamping, it saves
    ann.regions[0].box = ann.regions[0].box.clamped(ann.width, ann.height)
    save_voc(ann)
    assert read_voc(path).regions[0].box.xmax == 640


def test_zero_coordinate_is_out_of_bounds():
    ann = new_annotation(Path("a.jpg"), 100, 100)
    ann.regions = [Region(Box(0, 0, 10, 10), "x")]
    assert voc.validate(ann)
    ann.regions = [Region(Box(1, 1, 100, 100), "x")]
    assert voc.validate(ann) == []


# -- safe saving ---------------------------------------------------------------------

def test_save_keeps_backup_of_previous_version(tmp_path):
    path = write(tmp_path / "cat.xml", LABELIMG)
    original = path.read_bytes()
    ann = read_voc(path)
    ann.regions[0].phrase = "a cat"
    save_voc(ann)
    assert (tmp_path / "cat.xml.bak").read_bytes() == original
    second = path.read_bytes()
    ann.regions[0].phrase = "a brown cat"
    save_voc(ann)
    assert (tmp_path / "cat.xml.bak").read_bytes() == second
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cat.xml", "cat.xml.bak"]


def test_new_annotation_onto_existing_file_needs_force(tmp_path):
    path = write(tmp_path / "cat.xml", LABELIMG)
    original = path.read_bytes()
    ann = new_annotation(tmp_path / "cat.jpg", 640, 480)
    ann.regions = [Region(Box(1, 1, 5, 5), "tiny")]
    with pytest.raises(VocConflictError) as info:
        save_voc(ann, path)
    assert info.value.code == "E102"
    assert path.read_bytes() == original
    save_voc(ann, path, force=True)
    assert read_voc(path).regions[0].phrase == "tiny"
    assert (tmp_path / "cat.xml.bak").read_bytes() == original


def test_save_to_other_existing_file_is_conflict(tmp_path):
    a = write(tmp_path / "a.xml", LABELIMG)
    b = write(tmp_path / "b.xml", FOREIGN)
    ann = read_voc(a)
    with pytest.raises(VocConflictError):
        save_voc(ann, b)
    assert b.read_text() == FOREIGN


def test_file_changed_on_disk_is_conflict(tmp_path):
    path = write(tmp_path / "cat.xml", LABELIMG)
    ann = read_voc(path)
    theirs = LABELIMG.replace("head of a cat", "someone else's")
    path.write_text(theirs)
    ann.regions[0].phrase = "mine"
    with pytest.raises(VocConflictError) as info:
        save_voc(ann)
    assert "changed on disk" in str(info.value)
    assert path.read_text() == theirs
    assert not (tmp_path / "cat.xml.bak").exists()
    save_voc(ann, force=True)
    assert read_voc(path).regions[0].phrase == "mine"
    assert (tmp_path / "cat.xml.bak").read_text() == theirs


def test_same_size_change_with_same_mtime_is_detected(tmp_path):
    path = write(tmp_path / "cat.xml", LABELIMG)
    ann = read_voc(path)
    st = path.stat()
    path.write_text(LABELIMG.replace("<xmin>10</xmin>", "<xmin>11</xmin>"))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size
    with pytest.raises(VocConflictError):
        save_voc(ann)


def test_deleted_file_is_conflict_unless_forced(tmp_path):
    path = write(tmp_path / "cat.xml", LABELIMG)
    ann = read_voc(path)
    path.unlink()
    save_voc(ann)  # nothing to clobber: recreating the file is fine
    assert read_voc(path).regions[0].phrase.startswith("head of a cat")


def test_interrupted_save_leaves_old_file_and_no_temp_files(tmp_path, monkeypatch):
    path = write(tmp_path / "cat.xml", LABELIMG)
    original = path.read_bytes()
    ann = read_voc(path)
    ann.regions[0].phrase = "half-written"
    real_replace = os.replace

    def failing_replace(src, dst):
        if Path(dst) == path:
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError):
        save_voc(ann)
    assert path.read_bytes() == original
    leftovers = [p.name for p in tmp_path.iterdir() if p.name not in ("cat.xml", "cat.xml.bak")]
    assert leftovers == []
    # the annotation is still bound to the unchanged file: a retry works without force
    monkeypatch.setattr(os, "replace", real_replace)
    save_voc(ann)
    assert read_voc(path).regions[0].phrase == "half-written"


def test_interrupted_write_leaves_old_file(tmp_path, monkeypatch):
    path = write(tmp_path / "cat.xml", LABELIMG)
    original = path.read_bytes()
    ann = read_voc(path)
    ann.regions[0].phrase = "never written"

    def boom(fd):
        raise OSError(5, "I/O error")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError):
        save_voc(ann)
    monkeypatch.undo()
    assert path.read_bytes() == original
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_on_saved_callback_and_new_file(tmp_path):
    seen = []
    ann = new_annotation(tmp_path / "x.jpg", 10, 10)
    ann.regions = [Region(Box(1, 1, 10, 10), "all")]
    target = tmp_path / "sub" / "x.xml"
    save_voc(ann, target, on_saved=seen.append)
    assert seen == [target]
    assert not (tmp_path / "sub" / "x.xml.bak").exists()
    assert ann.source_path == target and ann.stamp is not None


def test_save_without_path_or_source_is_refused(tmp_path):
    with pytest.raises(VocConflictError):
        save_voc(new_annotation(tmp_path / "x.jpg", 10, 10))


def test_voc_bytes_matches_saved_file(tmp_path):
    path = write(tmp_path / "a.xml", FOREIGN)
    ann = read_voc(path)
    data = voc_bytes(ann)
    save_voc(ann)
    assert path.read_bytes() == data
    assert Counter(c.tag for c in xml_root(data)) == Counter(
        {"object": 2, "folder": 1, "filename": 1, "path": 1, "source": 1, "size": 1, "segmented": 1,
         "owner": 1, "rating": 1})
