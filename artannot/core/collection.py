"""Find a collection's files and tie them to artworks (Qt-free, no database).

A collection is a folder, searched recursively: images, sidecar metadata of the same stem
(``.json``/``.xml``, in the same folder or anywhere below the root), Pascal VOC files
(``stem.xml``, ``image.jpg.xml`` or any VOC file whose ``<filename>`` names the image),
and Karpathy ``caption_data.json`` files.  Dot-folders (``.artannot``) are skipped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from PIL import Image

from artannot.core.errors import ImageError

IMAGE_EXTS = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp"})
DATA_DIR_NAME = ".artannot"
ANNOTATIONS_DIR_NAME = "annotations"
# Artworks can be very large scans; refuse only absurd sizes (decompression bombs). The one limit
# for every decoder of the app (catalog, canvas, models).
MAX_IMAGE_PIXELS = 400_000_000
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS


@dataclass(frozen=True, slots=True)
class FileInfo:
    rel: str  # POSIX path relative to the collection root
    mtime_ns: int
    size: int

    @property
    def suffix(self) -> str:
        return _parts(self.rel)[3].lower()

    @property
    def stem(self) -> str:
        return _parts(self.rel)[2]


def _parts(rel: str) -> tuple[str, str, str, str]:
    """``(parent, name, stem, suffix)`` of a POSIX relative path, as PurePosixPath gives them
    (parent ``""`` for the top folder) -- string operations only: indexing 10k artworks calls
    this tens of thousands of times and PurePosixPath is slow."""
    parent, _, name = rel.rpartition("/")
    i = name.rfind(".")
    if 0 < i < len(name) - 1:
        return parent, name, name[:i], name[i:]
    return parent, name, name, ""


def walk_files(root: Path) -> dict[str, FileInfo]:
    """All candidate files below ``root`` with their stat data; dot-folders are skipped."""
    out: dict[str, FileInfo] = {}
    root = Path(root)
    stack = [(root, "")]
    while stack:
        directory, prefix = stack.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            rel = f"{prefix}{name}"
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append((Path(entry.path), rel + "/"))
                    continue
                suffix = os.path.splitext(name)[1].lower()
                if suffix not in IMAGE_EXTS and suffix not in (".json", ".xml"):
                    continue
                st = entry.stat()
            except OSError:
                continue
            out[rel] = FileInfo(rel, st.st_mtime_ns, st.st_size)
    return out


def peek_is_voc(path: Path) -> bool:
    """Cheap test whether an XML file is a VOC annotation (root element ``<annotation>``)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(2048)
    except OSError:
        return False
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 with BOM
        text = head.decode("utf-16", "ignore")
    elif head.startswith((b"<\x00", b"\x00<")):  # UTF-16 without BOM
        text = head.decode("utf-16-le" if head[0] == 0x3C else "utf-16-be", "ignore")
    else:
        text = head.decode("utf-8", "ignore")
    text = text.lstrip("\ufeff")
    i = 0
    while True:  # skip declaration, comments and processing instructions
        j = text.find("<", i)
        if j < 0 or j + 1 >= len(text):
            return False
        if text[j + 1] in "?!":
            i = j + 1
            continue
        return text[j + 1 :].startswith("annotation") and text[j + 11 : j + 12] in (">", " ", "\t", "\n", "\r", "/")


def image_size(path: Path) -> tuple[int, int]:
    """Width and height from the image header (no full decode)."""
    try:
        with Image.open(path) as im:
            return im.size
    except FileNotFoundError as exc:
        raise ImageError("image file is missing", path) from exc
    except Image.DecompressionBombError as exc:
        raise ImageError(f"image is too large to open safely ({exc})", path) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"cannot read image: {exc}", path) from exc


def reduction_for(width: int, height: int, keep_side: int) -> int:
    """The largest power-of-two reduction that keeps the longer side at least ``keep_side``."""
    factor = 1
    while max(width, height) // (factor * 2) >= keep_side:
        factor *= 2
    return factor


def decode_reduced(im: Image.Image, factor: int) -> Image.Image:
    """Decode an opened image reduced by ``factor`` (a power of two; 1: full size), as RGB.

    JPEG scales in the DCT domain while decoding (``draft``: 1/2, 1/4, 1/8), several times
    faster than a full decode and with a fraction of its memory; the rest of the factor, and
    every other format, is done with ``reduce`` (box averaging) after decoding. Palette, CMYK
    and other modes become RGB before averaging, so colours, not palette indices, are averaged.
    """
    width, height = im.size
    if factor > 1:
        im.draft("RGB", (max(1, width // factor), max(1, height // factor)))
    im.load()
    out = im if im.mode in ("RGB", "RGBA", "L") else im.convert("RGB")
    rest = factor // max(1, round(width / out.width))
    if rest > 1:
        out = out.reduce(rest)
    return out if out.mode == "RGB" else out.convert("RGB")


def check_image(path: Path) -> None:
    """Raise :class:`ImageError` when an image file is cut short (an interrupted copy or download).

    The header alone (all :func:`image_size` reads) says nothing about that, and a full decode
    is too slow for indexing large scans, so this looks at the end of the file: a JPEG ends
    with an EOI marker after its last scan, a PNG with its IEND chunk, a WebP matches the RIFF
    length.  Other formats are not checked.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(16)
            fh.seek(max(0, size - 65536))
            tail = fh.read()
    except OSError as exc:
        raise ImageError(f"cannot read image: {exc.strerror or exc}", path) from exc
    complete = True
    if head.startswith(b"\xff\xd8"):
        sos = tail.rfind(b"\xff\xda")
        complete = tail.find(b"\xff\xd9", max(sos, 0)) >= 0
    elif head.startswith(b"\x89PNG\r\n\x1a\n"):
        complete = b"IEND" in tail[-4096:]
    elif head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        complete = int.from_bytes(head[4:8], "little") + 8 <= size
    if not complete:
        raise ImageError("image file is truncated (incomplete copy or download?)", path)


@dataclass(slots=True)
class Links:
    """The files that make up one artwork."""

    image: str
    metadata: list[str] = field(default_factory=list)
    annotation: str | None = None
    captions: list[str] = field(default_factory=list)  # Karpathy files that mention the image


# _pick_annotation_fast looks in these places with string operations: keep the two in step.
def default_annotation_rel(image_rel: str, unique_stem: bool = True) -> str:
    """Where a new annotation goes: ``annotations/<stem>.xml`` (LabelImg's flat folder), or
    mirroring the image's subfolders when another image shares the stem."""
    p = PurePosixPath(image_rel)
    if unique_stem:
        return str(PurePosixPath(ANNOTATIONS_DIR_NAME, p.stem + ".xml"))
    return str(PurePosixPath(ANNOTATIONS_DIR_NAME, p.parent, p.stem + ".xml"))


def link_files(
    files: dict[str, FileInfo],
    voc_files: dict[str, str],
    caption_files: dict[str, set[str]],
) -> dict[str, Links]:
    """Match images to their sidecars.

    ``voc_files`` maps each VOC file to the ``<filename>`` it names; ``caption_files`` maps
    each Karpathy file to the image file names it lists.  Everything else with a ``.json``
    or ``.xml`` suffix is metadata.
    """
    images: list[str] = []
    by_stem: dict[str, list[str]] = {}
    for rel in files:
        _, _, stem, suffix = _parts(rel)
        suffix = suffix.lower()
        if suffix in IMAGE_EXTS:
            images.append(rel)
        elif suffix in (".json", ".xml") and rel not in voc_files and rel not in caption_files:
            by_stem.setdefault(stem, []).append(rel)
    images.sort()
    voc_by_name: dict[str, list[str]] = {}
    for rel, named in voc_files.items():
        voc_by_name.setdefault(named.replace("\\", "/").rpartition("/")[2], []).append(rel)
    image_names: dict[str, int] = {}
    image_stems: dict[str, int] = {}
    parts = {rel: _parts(rel) for rel in images}
    for _, name, stem, _ in parts.values():
        image_names[name] = image_names.get(name, 0) + 1
        image_stems[stem] = image_stems.get(stem, 0) + 1
    caption_sets = sorted(caption_files.items())

    links: dict[str, Links] = {}
    for rel in images:
        parent, name, stem, _ = parts[rel]
        link = Links(rel)
        candidates = by_stem.get(stem, [])
        same_dir = [c for c in candidates if c.rpartition("/")[0] == parent]
        # Same folder first; elsewhere in the tree only when the stem is unambiguous.
        link.metadata = sorted(same_dir) if same_dir else (sorted(candidates) if image_stems[stem] == 1 else [])
        link.annotation = _pick_annotation_fast(parent, name, stem, voc_files, voc_by_name, image_names)
        link.captions = [c for c, names in caption_sets if name in names]
        links[rel] = link
    return links


def _pick_annotation_fast(
    parent: str, name: str, stem: str,
    voc_files: dict[str, str], voc_by_name: dict[str, list[str]], image_names: dict[str, int],
) -> str | None:
    """:func:`_pick_annotation` on strings (same candidates, same order)."""
    folder = f"{parent}/" if parent else ""
    for cand in (
        f"{folder}{stem}.xml",
        f"{folder}{name}.xml",
        f"{ANNOTATIONS_DIR_NAME}/{stem}.xml",  # default_annotation_rel(unique_stem=True)
        f"{ANNOTATIONS_DIR_NAME}/{folder}{stem}.xml",  # default_annotation_rel(unique_stem=False)
    ):
        if cand in voc_files:
            return cand
    named = voc_by_name.get(name, [])
    if named and image_names.get(name, 0) == 1:
        return min(named)
    return None


def _pick_annotation(
    image: PurePosixPath,
    voc_files: dict[str, str],
    voc_by_name: dict[str, list[str]],
    image_names: dict[str, int],
) -> str | None:
    parent = "" if str(image.parent) == "." else str(image.parent)
    return _pick_annotation_fast(parent, image.name, image.stem, voc_files, voc_by_name, image_names)
