"""Museum metadata sidecars (JSON, XML) and Karpathy ``caption_data.json``, flattened to text fields.

Museums disagree on field names, so every field is kept under its flattened key path
(``creator.name``, ``subjects[1]``) and stays searchable; only the choice of which fields
are *descriptions* uses a name heuristic, and the user can override it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree

from artannot.core.errors import MetadataError

# Last component of a key path (lower-case, without index) that marks description-like text.
DESCRIPTION_KEYS = frozenset({
    "title", "description", "descriptions", "caption", "captions", "raw", "label", "inscription",
    "inscriptions", "notes", "note", "summary", "abstract", "text", "physicaldescription",
    "objectdescription", "curatorialcomment", "gallerylabel", "descriptivenote", "subject",
})
TITLE_KEYS = ("title", "objectname", "name", "label")


def _last_component(key: str) -> str:
    last = key.rsplit(".", 1)[-1]
    return last.split("[", 1)[0].split("@", 1)[0].lower().replace("_", "").replace("-", "")


def is_description_key(key: str) -> bool:
    return _last_component(key) in DESCRIPTION_KEYS


def text_fields(fields: dict[str, str], wanted: Sequence[str] | None = None) -> list[tuple[str, str]]:
    """The ``(key, text)`` pairs that feed phrase extraction and search highlighting.

    ``wanted`` (user choice) matches a full key or a last component, case-insensitively;
    by default title and description-like fields are used.
    """
    if wanted:
        want = {w.lower() for w in wanted}
        pick = [k for k in fields if k.lower() in want or _last_component(k) in want]
    else:
        pick = [k for k in fields if is_description_key(k)]
    return [(k, fields[k]) for k in pick if fields[k].strip()]


def title_of(fields: dict[str, str]) -> str:
    for wanted in TITLE_KEYS:
        for key, value in fields.items():
            if _last_component(key) != wanted or not value.strip():
                continue
            # ``creator.name`` / ``images[0].label`` name something else than the artwork:
            # only ``title``/``objectName`` count when nested.
            if wanted in ("name", "label") and ("." in key or "[" in key):
                continue
            return value.strip()
    return ""


def flatten(value: Any, prefix: str = "", out: dict[str, str] | None = None) -> dict[str, str]:
    """Nested JSON-like data to ``{key path: text}``; lists get ``[i]`` indices."""
    out = {} if out is None else out
    if isinstance(value, dict):
        for k, v in value.items():
            flatten(v, f"{prefix}.{k}" if prefix else str(k), out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            flatten(v, f"{prefix}[{i}]", out)
    elif value is not None:
        text = value if isinstance(value, str) else json.dumps(value)
        if prefix:
            out[prefix] = text
    return out


def _safe_xml_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def parse_xml_bytes(data: bytes, path: Path | str) -> etree._Element:
    """Parse untrusted XML with entities, DTDs and network access disabled."""
    try:
        root = etree.fromstring(data, _safe_xml_parser())
    except etree.XMLSyntaxError as exc:
        raise MetadataError(f"malformed XML: {exc}", path) from exc
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise MetadataError("DOCTYPE/entity declarations are not allowed", path)
    return root


def _local(tag: Any) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def flatten_xml(root: etree._Element) -> dict[str, str]:
    """Element paths below the root (namespaces dropped, repeats indexed, attributes as ``@name``)."""
    out: dict[str, str] = {}

    def walk(el: etree._Element, prefix: str) -> None:
        for name, value in el.attrib.items():
            out[f"{prefix}@{_local(name)}" if prefix else f"@{_local(name)}"] = value
        kids = [c for c in el if isinstance(c.tag, str)]
        text = (el.text or "").strip()
        if text and prefix:
            out[prefix] = text
        counts: dict[str, int] = {}
        for c in kids:
            counts[_local(c.tag)] = counts.get(_local(c.tag), 0) + 1
        seen: dict[str, int] = {}
        for c in kids:
            tag = _local(c.tag)
            i = seen.get(tag, 0)
            seen[tag] = i + 1
            key = tag if counts[tag] == 1 else f"{tag}[{i}]"
            walk(c, f"{prefix}.{key}" if prefix else key)

    walk(root, "")
    return out


def read_json_fields(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise MetadataError(f"not UTF-8 text: {exc}", path) from exc
    except json.JSONDecodeError as exc:
        raise MetadataError(f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", path) from exc
    except OSError as exc:
        raise MetadataError(f"cannot read: {exc.strerror or exc}", path) from exc
    if not isinstance(data, (dict, list)):
        raise MetadataError("JSON metadata must be an object", path)
    return flatten(data)


def read_xml_fields(path: Path) -> dict[str, str]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MetadataError(f"cannot read: {exc.strerror or exc}", path) from exc
    root = parse_xml_bytes(data, path)
    from artannot.core import lido  # LIDO records get friendly keys (title, creator, date, ...)

    return lido.lido_fields(root, path) if lido.is_lido(root) else flatten_xml(root)


def read_sidecar(path: Path) -> dict[str, str]:
    """Fields of one sidecar file, by extension."""
    if path.suffix.lower() == ".json":
        return read_json_fields(path)
    if path.suffix.lower() == ".xml":
        return read_xml_fields(path)
    raise MetadataError(f"unsupported metadata file type {path.suffix!r}", path)


# -- Karpathy caption_data.json ------------------------------------------------

SPLITS = ("train", "val", "test")


@dataclass(slots=True)
class KarpathyEntry:
    filename: str
    split: str | None
    sentences: list[str] = field(default_factory=list)
    extra: dict[str, str] = field(default_factory=dict)


def _split_of(entry: dict[str, Any]) -> str | None:
    for key in ("split", "filepath"):
        value = str(entry.get(key, "")).lower()
        if value == "restval":
            return "train"
        if value in SPLITS:
            return value
    return None


def read_karpathy(path: Path) -> list[KarpathyEntry]:
    """Entries of a Karpathy-style file; ``filepath`` (or ``split``) gives the split."""
    try:
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MetadataError(f"malformed caption file: {exc}", path) from exc
    images = data.get("images") if isinstance(data, dict) else None
    if not isinstance(images, list):
        raise MetadataError('caption file needs a top-level "images" list', path)
    entries = []
    for i, img in enumerate(images):
        if not isinstance(img, dict) or not img.get("filename"):
            raise MetadataError(f"images[{i}] has no filename", path)
        sents = []
        for s in img.get("sentences", []) or []:
            raw = s.get("raw") if isinstance(s, dict) else s
            if isinstance(raw, str) and raw.strip():
                sents.append(raw.strip())
        extra = {k: v for k, v in flatten({k: v for k, v in img.items() if k != "sentences"}).items()}
        entries.append(KarpathyEntry(str(img["filename"]), _split_of(img), sents, extra))
    return entries


def looks_like_karpathy(path: Path) -> bool:
    if path.name == "caption_data.json":
        return True
    try:
        with open(path, "rb") as fh:
            head = fh.read(256).lstrip(b"\xef\xbb\xbf").lstrip()
    except OSError:
        return False
    # Karpathy files open with the "images" list; a museum record may merely *have* an
    # "images" field (image URLs), so the key must be the first one.
    return head.startswith(b"{") and head[1:].lstrip().startswith(b'"images"')


def descriptions_of(fields: dict[str, str], sentences: Iterable[str] = ()) -> list[str]:
    """Description texts (without the title) in a stable order: sentences first, then fields."""
    out = [s for s in sentences if s.strip()]
    for key, text in text_fields(fields):
        if _last_component(key) not in TITLE_KEYS and text not in out and _last_component(key) != "raw":
            out.append(text)
    return out
