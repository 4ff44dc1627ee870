"""Finding a collection's files and tying them to artworks."""

from __future__ import annotations

import io
from pathlib import Path, PurePosixPath

import pytest
from PIL import Image

from artannot.core import collection as col
from artannot.core.errors import ImageError


def jpeg_bytes(w: int = 64, h: int = 48, noise: bool = False) -> bytes:
    if noise:
        import numpy as np

        im = Image.fromarray(np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype="uint8"))
    else:
        im = Image.new("RGB", (w, h), (120, 60, 30))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def touch(path: Path, data: bytes = b"") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_walk_files_recursive_skips_dot_folders_and_other_files(tmp_path):
    touch(tmp_path / "a.jpg")
    touch(tmp_path / "sub" / "B.JPEG")
    touch(tmp_path / "sub" / "deeper" / "c.png")
    touch(tmp_path / "sub" / "c.json")
    touch(tmp_path / "meta" / "a.xml")
    touch(tmp_path / "readme.txt")
    touch(tmp_path / ".artannot" / "x.jpg")
    touch(tmp_path / ".hidden.jpg")
    files = col.walk_files(tmp_path)
    assert sorted(files) == ["a.jpg", "meta/a.xml", "sub/B.JPEG", "sub/c.json", "sub/deeper/c.png"]
    assert files["sub/B.JPEG"].suffix == ".jpeg" and files["sub/B.JPEG"].stem == "B"
    assert files["a.jpg"].size == 0 and files["a.jpg"].mtime_ns > 0


LABELIMG_HEAD = "<annotation><filename>a.jpg</filename></annotation>"


@pytest.mark.parametrize("data,expected", [
    (LABELIMG_HEAD.encode(), True),
    (b"<?xml version='1.0' encoding='UTF-8'?>\n" + LABELIMG_HEAD.encode(), True),
    (b"\xef\xbb\xbf<?xml version='1.0'?>\n<!-- labelImg -->\n<annotation verified='yes'/>", True),
    (('<?xml version="1.0" encoding="UTF-16"?>\n' + LABELIMG_HEAD).encode("utf-16"), True),
    (('<?xml version="1.0" encoding="UTF-16BE"?>\n' + LABELIMG_HEAD).encode("utf-16-be"), True),
    (('<?xml version="1.0" encoding="ISO-8859-1"?>\n<annotation><name>é</name></annotation>').encode("latin-1"), True),
    (b"<record><title>x</title></record>", False),
    (b"<annotations><annotation/></annotations>", False),
    (b"", False),
    (b"not xml at all", False),
])
def test_peek_is_voc(tmp_path, data, expected):
    p = touch(tmp_path / "f.xml", data)
    assert col.peek_is_voc(p) is expected


def test_link_sidecars_same_folder_and_metadata_folder(tmp_path):
    for rel in ["images/a.jpg", "images/b.jpg", "images/b.json", "metadata/a.json", "metadata/a.xml",
                "metadata/zzz.json"]:
        touch(tmp_path / rel)
    links = col.link_files(col.walk_files(tmp_path), {}, {})
    assert sorted(links) == ["images/a.jpg", "images/b.jpg"]
    assert links["images/a.jpg"].metadata == ["metadata/a.json", "metadata/a.xml"]
    assert links["images/b.jpg"].metadata == ["images/b.json"]


def test_ambiguous_stem_only_matches_same_folder(tmp_path):
    for rel in ["x/a.jpg", "y/a.jpg", "y/a.json", "metadata/a.json"]:
        touch(tmp_path / rel)
    links = col.link_files(col.walk_files(tmp_path), {}, {})
    assert links["x/a.jpg"].metadata == []  # two images named a: no guessing across folders
    assert links["y/a.jpg"].metadata == ["y/a.json"]


def test_link_annotations_by_name_and_filename(tmp_path):
    for rel in ["img/a.jpg", "img/a.jpg.xml", "img/b.jpg", "labels/whatever.xml", "img/c.jpg",
                "annotations/img/c.xml", "img/d.jpg", "img/d.xml"]:
        touch(tmp_path / rel)
    voc = {"img/a.jpg.xml": "a.jpg", "labels/whatever.xml": "b.jpg", "annotations/img/c.xml": "c.jpg",
           "img/d.xml": "d.jpg"}
    links = col.link_files(col.walk_files(tmp_path), voc, {})
    assert links["img/a.jpg"].annotation == "img/a.jpg.xml"
    assert links["img/b.jpg"].annotation == "labels/whatever.xml"
    assert links["img/c.jpg"].annotation == "annotations/img/c.xml"
    assert links["img/d.jpg"].annotation == "img/d.xml"
    assert all(links[i].metadata == [] for i in links)  # VOC files are not metadata


def test_voc_filename_with_windows_path(tmp_path):
    touch(tmp_path / "p/q.jpg")
    touch(tmp_path / "ann/1.xml")
    links = col.link_files(col.walk_files(tmp_path), {"ann/1.xml": "C:\\data\\q.jpg"}, {})
    assert links["p/q.jpg"].annotation == "ann/1.xml"


def test_captions_linked_by_file_name(tmp_path):
    touch(tmp_path / "train/a.jpg")
    touch(tmp_path / "val/b.jpg")
    touch(tmp_path / "caption_data.json")
    links = col.link_files(col.walk_files(tmp_path), {}, {"caption_data.json": {"a.jpg"}})
    assert links["train/a.jpg"].captions == ["caption_data.json"]
    assert links["val/b.jpg"].captions == []


def test_default_annotation_rel():
    assert col.default_annotation_rel("a.jpg") == "annotations/a.xml"
    # LabelImg's flat folder, unless another image shares the stem
    assert col.default_annotation_rel("images/sub/波.jpg") == "annotations/波.xml"
    assert col.default_annotation_rel("images/sub/波.jpg", unique_stem=False) == "annotations/images/sub/波.xml"


def test_image_size_and_errors(tmp_path):
    ok = touch(tmp_path / "ok.jpg", jpeg_bytes(64, 48))
    assert col.image_size(ok) == (64, 48)
    with pytest.raises(ImageError) as info:
        col.image_size(tmp_path / "missing.jpg")
    assert info.value.code == "E301" and "missing" in str(info.value)
    junk = touch(tmp_path / "junk.jpg", b"this is not a jpeg")
    with pytest.raises(ImageError):
        col.image_size(junk)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_image_detected(tmp_path, fmt):
    import numpy as np

    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (120, 160, 3), dtype="uint8")).save(buf, fmt)
    data = buf.getvalue()
    good = touch(tmp_path / f"good.{fmt.lower()}", data)
    bad = touch(tmp_path / f"bad.{fmt.lower()}", data[: len(data) // 2])
    col.check_image(good)  # complete: no error
    assert col.image_size(good) == (160, 120)
    with pytest.raises(ImageError) as info:
        col.check_image(bad)
    assert "truncated" in str(info.value) and bad.name in str(info.value)


@pytest.mark.parametrize("image", ["a.jpg", "images/a.jpg", "images/sub/波 1.jpg"])
@pytest.mark.parametrize("unique", [True, False])
def test_annotation_at_default_place_is_found(tmp_path, image, unique):
    """Where the editor saves a new annotation is where the collection reader looks."""
    rel = col.default_annotation_rel(image, unique_stem=unique)
    touch(tmp_path / image)
    touch(tmp_path / rel)
    links = col.link_files(col.walk_files(tmp_path), {rel: "someone-else.jpg"}, {})
    assert links[image].annotation == rel
    assert col._pick_annotation(PurePosixPath(image), {rel: ""}, {}, {}) == rel


def test_reduction_for_keeps_the_longer_side():
    assert col.reduction_for(9000, 6000, 3000) == 2
    assert col.reduction_for(20000, 12000, 3000) == 4
    assert col.reduction_for(640, 480, 3000) == 1
    assert col.reduction_for(4000, 1000, 512) == 4


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_decode_reduced_sizes_and_colour(tmp_path, fmt):
    path = tmp_path / f"a.{fmt.lower()}"
    Image.new("RGB", (800, 640), (200, 100, 50)).save(path, fmt)
    for factor in (1, 2, 4, 16):  # 16: JPEG's DCT scaling stops at 8, reduce() does the rest
        with Image.open(path) as im:
            out = col.decode_reduced(im, factor)
        assert out.mode == "RGB" and out.size == (800 // factor, 640 // factor)
        assert all(abs(a - b) <= 3 for a, b in zip(out.getpixel((3, 3)), (200, 100, 50)))


@pytest.mark.parametrize("mode", ["P", "L", "RGBA", "CMYK"])
def test_decode_reduced_averages_colours_not_palette_indices(tmp_path, mode):
    # a black/white checkerboard averages to grey; averaging a palette image's indices fails
    board = Image.new("L", (64, 64))
    board.putdata([255 * ((x + y) % 2) for y in range(64) for x in range(64)])
    path = tmp_path / ("a.tif" if mode == "CMYK" else "a.png")
    board.convert(mode).save(path)
    with Image.open(path) as im:
        out = col.decode_reduced(im, 2)
    assert out.mode == "RGB" and out.size == (32, 32)
    assert all(120 <= v <= 135 for v in out.getpixel((5, 5)))
