"""Untrusted XML (metadata sidecars, LIDO records, annotation files): one hardened parser.

No entity expansion, no DTD loading, no network and no huge trees: a file is data, not a
program. A document that still declares a DOCTYPE or entities is refused outright, so an XXE
or billion-laughs file is reported instead of half-read.
"""

from __future__ import annotations

import re
from pathlib import Path

from lxml import etree

from artannot.core.errors import ArtannotError, MetadataError


def safe_parser(*, remove_blank_text: bool = False) -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
        huge_tree=False, remove_blank_text=remove_blank_text,
    )


def parse_untrusted_xml(
    data: bytes, path: Path | str, *, error: type[ArtannotError] = MetadataError,
    remove_blank_text: bool = False,
) -> etree._Element:
    """The root element of ``data``; malformed XML or a DOCTYPE raises ``error(message, path)``."""
    try:
        root = etree.fromstring(data, safe_parser(remove_blank_text=remove_blank_text))
    except etree.XMLSyntaxError as exc:
        raise error(f"malformed XML: {exc}", path) from exc
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise error("DOCTYPE/entity declarations are not allowed", path)
    return root


def read_untrusted_xml(path: Path | str, *, error: type[ArtannotError] = MetadataError) -> etree._Element:
    """:func:`parse_untrusted_xml` of a file; an unreadable file raises ``error`` too."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise error(f"cannot read: {exc.strerror or exc}", path) from exc
    return parse_untrusted_xml(data, path, error=error)


# Characters XML 1.0 cannot hold (lxml refuses them when a file is written): C0 controls other
# than tab/newline/return, lone surrogates (JSON's "\ud800" decodes to one), U+FFFE and U+FFFF.
_NOT_XML_CHAR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text_problem(text: str) -> str | None:
    """Why ``text`` cannot go into an XML file (a label headed for a VOC file), or None."""
    m = _NOT_XML_CHAR.search(text)
    if m is None:
        return None
    ch = m.group()
    kind = "a lone surrogate" if "\ud800" <= ch <= "\udfff" else "a control character"
    return f"contains {kind} (U+{ord(ch):04X}) at position {m.start()}"
