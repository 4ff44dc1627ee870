"""Pascal VOC XML, read and written the way LabelImg does, without losing anything.

Reading accepts what other tools write (float coordinates, any child order, extra
elements, BOM, non-UTF-8 declarations).  Writing puts the elements artannot knows in
LabelImg's order -- the thesis' parser reads ``root[1]`` as the filename and
``object[0]`` as the phrase -- and keeps every element it does not know, in its
original relative order under its original parent.  A value that was not edited keeps
its original text (``12.5`` stays ``12.5``).  Coordinates follow VOC: 1-based,
inclusive (see :mod:`artannot.core.geometry`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

from lxml import etree

from artannot.core.errors import ArtannotError, VocConflictError, VocParseError
from artannot.core.geometry import Box
from artannot.core.model import Annotation, Region
from artannot.core.safe_io import atomic_write, changed_since, stamp_of
from artannot.core.safe_xml import parse_untrusted_xml

HEADER_ORDER = ("folder", "filename", "path", "source", "size", "segmented")
OBJECT_ORDER = ("name", "pose", "truncated", "difficult", "bndbox")
SIZE_ORDER = ("width", "height", "depth")
BOX_ORDER = ("xmin", "ymin", "xmax", "ymax")


class VocValidationError(ArtannotError):
    """The annotation is not fit to save (a box outside the image, an empty box)."""

    code = "E103"


def parse_voc_bytes(data: bytes, path: Path | str = "<bytes>") -> etree._ElementTree:
    """Parse and sanity-check a VOC document; raises :class:`VocParseError`."""
    if not data.strip():
        raise VocParseError("file is empty", path)
    root = parse_untrusted_xml(data, path, error=VocParseError, remove_blank_text=True)
    if root.tag != "annotation":
        raise VocParseError(f"root element is <{root.tag}>, not <annotation>", path)
    return root.getroottree()


# -- reading -----------------------------------------------------------------

def _text(parent: etree._Element | None, tag: str, default: str = "") -> str:
    if parent is None:
        return default
    el = parent.find(tag)
    return el.text.strip() if el is not None and el.text is not None else default


def _number(text: str, what: str, path: Path | str) -> float:
    try:
        return float(text)
    except ValueError:
        raise VocParseError(f"{what} is not a number: {text!r}", path) from None


def _bool(text: str) -> bool:
    return text.strip().lower() in ("1", "true", "yes", "1.0")


def _int(text: str, default: int = 0) -> int:
    try:
        return int(float(text))
    except (ValueError, OverflowError):  # "abc", "nan", "1e400"
        return default


def _region_from(obj: etree._Element, index: int, path: Path | str) -> Region:
    bnd = obj.find("bndbox")
    if bnd is None:
        raise VocParseError(f"object {index + 1} has no <bndbox>", path)
    vals = []
    for tag in BOX_ORDER:
        t = _text(bnd, tag)
        if t == "":
            raise VocParseError(f"object {index + 1}: <{tag}> is missing", path)
        vals.append(_number(t, f"object {index + 1} <{tag}>", path))
    try:
        box = Box(*vals)
    except ValueError as exc:
        raise VocParseError(f"object {index + 1}: {exc}", path) from None
    return Region(
        box=box,
        phrase=_text(obj, "name"),
        pose=_text(obj, "pose", "Unspecified") or "Unspecified",
        truncated=_bool(_text(obj, "truncated", "0")),
        difficult=_bool(_text(obj, "difficult", "0")),
        element=obj,
    )


def annotation_from_tree(tree: etree._ElementTree, path: Path | str = "<bytes>") -> Annotation:
    root = tree.getroot()
    size = root.find("size")
    regions = [_region_from(obj, i, path) for i, obj in enumerate(root.iterfind("object"))]
    return Annotation(
        filename=_text(root, "filename"),
        width=_int(_text(size, "width", "0")),
        height=_int(_text(size, "height", "0")),
        depth=_int(_text(size, "depth", "3"), 3),
        folder=_text(root, "folder"),
        path=_text(root, "path"),
        database=_text(root.find("source"), "database", "Unknown"),
        segmented=_bool(_text(root, "segmented", "0")),
        verified=root.get("verified", "").lower() == "yes",
        regions=regions,
        tree=tree,
    )


def read_voc(path: Path | str) -> Annotation:
    """Load a VOC file; any problem is a :class:`VocParseError` naming the file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise VocParseError(f"cannot read: {exc.strerror or exc}", path) from exc
    ann = annotation_from_tree(parse_voc_bytes(data, path), path)
    ann.stamp = stamp_of(path, data)
    ann.source_path = path
    return ann


def new_annotation(image_path: Path | str, width: int, height: int, depth: int = 3) -> Annotation:
    image_path = Path(image_path)
    return Annotation(
        filename=image_path.name, width=int(width), height=int(height), depth=int(depth),
        folder=image_path.parent.name, path=str(image_path),
    )


# -- writing -----------------------------------------------------------------

def _fmt(value: float | bool | str) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else format(value, ".10g")
    return str(value)


def _same(old: str | None, new: float | bool | str) -> bool:
    """Whether the existing text already means ``new`` (then it is kept verbatim)."""
    if old is None:
        return False
    old = old.strip()
    if isinstance(new, bool):
        return old != "" and _bool(old) == new
    if isinstance(new, (int, float)):
        try:
            return float(old) == float(new)
        except ValueError:
            return False
    return old == new


def _child(parent: etree._Element, tag: str) -> etree._Element:
    """The first ``tag`` child of ``parent``, created if missing (placed later by ``_reorder``)."""
    el = parent.find(tag)
    return el if el is not None else etree.SubElement(parent, tag)


def _set(parent: etree._Element, tag: str, value: float | bool | str) -> etree._Element:
    el = _child(parent, tag)
    if not _same(el.text, value):
        el.text = _fmt(value)
    return el


def _reorder(parent: etree._Element, order: tuple[str, ...]) -> None:
    """First child of each known tag in ``order``; every other child after, in original order."""
    children = list(parent)
    known: list[etree._Element] = []
    for tag in order:
        match = next((c for c in children if c.tag == tag), None)
        if match is not None:
            known.append(match)
    others = [c for c in children if all(c is not k for k in known)]
    for c in children:
        parent.remove(c)
    for c in known + others:
        parent.append(c)


def _fill_object(obj: etree._Element, region: Region) -> None:
    _set(obj, "name", region.phrase)
    _set(obj, "pose", region.pose)
    _set(obj, "truncated", region.truncated)
    _set(obj, "difficult", region.difficult)
    bnd = _child(obj, "bndbox")
    for tag in BOX_ORDER:
        _set(bnd, tag, getattr(region.box, tag))
    _reorder(bnd, BOX_ORDER)
    _reorder(obj, OBJECT_ORDER)


def build_tree(ann: Annotation) -> etree._Element:
    """A new document root for ``ann``, reusing its parsed tree so nothing unknown is lost."""
    original = ann.tree.getroot() if ann.tree is not None else None
    root = copy.deepcopy(original) if original is not None else etree.Element("annotation")
    # Each region starts from a copy of the <object> it was read from (whatever document that
    # was: an earlier save, another artwork for pasted boxes), so unknown children survive edits,
    # duplicates and saves that rebuild the tree.
    objects: list[etree._Element] = []
    for region in ann.regions:
        obj = copy.deepcopy(region.element) if region.element is not None else etree.Element("object")
        obj.tail = None
        _fill_object(obj, region)
        objects.append(obj)
    for child in list(root):
        if child.tag == "object":
            root.remove(child)

    _set(root, "folder", ann.folder)
    _set(root, "filename", ann.filename)
    _set(root, "path", ann.path)
    source = _child(root, "source")
    _set(source, "database", ann.database)
    size = _child(root, "size")
    for tag in SIZE_ORDER:
        _set(size, tag, getattr(ann, tag))
    _reorder(size, SIZE_ORDER)
    _set(root, "segmented", ann.segmented)
    _reorder(root, HEADER_ORDER)
    for obj in objects:
        root.append(obj)

    if ann.verified:
        root.set("verified", "yes")
    elif root.get("verified", "").lower() == "yes":
        del root.attrib["verified"]
    return root


def voc_bytes(ann: Annotation) -> bytes:
    """The document artannot writes for ``ann``: always UTF-8 with a declaration saying so
    (a file read as ISO-8859-1 must not keep a declaration that no longer holds)."""
    root = build_tree(ann)
    etree.indent(root, space="\t")
    return etree.tostring(root, encoding="UTF-8", xml_declaration=True, pretty_print=True)


def validate(ann: Annotation) -> list[str]:
    """Problems that make an annotation unfit to save, as readable sentences."""
    problems = []
    for i, r in enumerate(ann.regions, start=1):
        if ann.width > 0 and ann.height > 0 and not r.box.inside(ann.width, ann.height):
            problems.append(
                f"box {i} ({r.phrase or 'no label'}) lies outside the {ann.width}x{ann.height} image: "
                f"{_fmt(r.box.xmin)},{_fmt(r.box.ymin)}-{_fmt(r.box.xmax)},{_fmt(r.box.ymax)}"
            )
    return problems


def save_voc(
    ann: Annotation,
    path: Path | str | None = None,
    *,
    force: bool = False,
    backup: bool = True,
    on_saved: Callable[[Path], None] | None = None,
) -> Path:
    """Save atomically, keeping ``<name>.bak``; refuse to clobber a file changed by someone else.

    Without ``force`` an existing file is overwritten only if it is the one ``ann`` was
    loaded from and it has not changed since -- so a file that failed to parse, or was
    edited by another tool meanwhile, is never silently replaced.
    """
    target = Path(path) if path is not None else ann.source_path
    if target is None:
        raise VocConflictError("no file to save to: give a path")
    problems = validate(ann)
    if problems:
        raise VocValidationError("; ".join(problems), target)
    if target.exists() and not force:
        same_file = ann.source_path is not None and ann.source_path.resolve() == target.resolve()
        if ann.stamp is None or not same_file:
            raise VocConflictError("file exists and was not loaded by this editor; refusing to overwrite", target)
        if changed_since(target, ann.stamp):
            raise VocConflictError("file changed on disk since it was loaded", target)
    data = voc_bytes(ann)
    atomic_write(target, data, backup=backup)
    # Rebind to what is now on disk, so the next save is again lossless and conflict-checked.
    fresh = annotation_from_tree(parse_voc_bytes(data, target), target)
    for region, el in zip(ann.regions, (r.element for r in fresh.regions)):
        region.element = el
    ann.tree = fresh.tree
    ann.stamp = stamp_of(target, data)
    ann.source_path = target
    if on_saved is not None:
        on_saved(target)
    return target
