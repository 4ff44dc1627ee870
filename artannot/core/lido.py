"""LIDO XML records (http://www.lido-schema.org), the museum-world harvesting format.

:func:`lido_fields` gives friendly flat keys that the rest of artannot understands
(``title``, ``object_type``, ``description``, ``creator``, ``date``, ``materials``,
``classification[i]``, plus ``museum``, ``culture`` and ``inventory_number`` when present),
and keeps every other element flattened under its element path (as :func:`flatten_xml` does).
Text that went into a friendly key is not repeated under its path, so phrase extraction does
not see a description twice.  A ``lidoWrap`` with several records yields the first one.
"""

from __future__ import annotations

import copy
from pathlib import Path

from lxml import etree

from artannot.core.errors import MetadataError
from artannot.core.metadata import flatten_xml
from artannot.core.safe_xml import read_untrusted_xml

LIDO_NS = "http://www.lido-schema.org"
NS = {"lido": LIDO_NS}
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
# LIDO's event-type vocabulary: production is lido00007 (older files say "Production"/"Herstellung").
PRODUCTION_IDS = ("lido00007", "production", "herstellung", "creation")


def is_lido(root: etree._Element) -> bool:
    """A LIDO document: a ``lido:lidoWrap`` or a single ``lido:lido`` record."""
    if not isinstance(root.tag, str):
        return False
    name = etree.QName(root)
    return name.namespace == LIDO_NS and name.localname in ("lidoWrap", "lido")


def _records(root: etree._Element) -> list[etree._Element]:
    if etree.QName(root).localname == "lido":
        return [root]
    return root.findall("lido:lido", NS)


def _preferred(elements: list[etree._Element]) -> list[etree._Element]:
    """Elements marked ``lido:pref="preferred"`` first, keeping document order otherwise."""
    pref = f"{{{LIDO_NS}}}pref"
    return sorted(elements, key=lambda e: 0 if e.get(pref, "preferred") == "preferred" else 1)


def _texts(record: etree._Element, xpath: str, used: list[etree._Element]) -> list[str]:
    out = []
    for el in record.xpath(xpath, namespaces=NS):
        text = " ".join((el.text or "").split())
        used.append(el)
        if text and text not in out:
            out.append(text)
    return out


def _is_production(event: etree._Element) -> bool:
    for el in event.xpath("lido:eventType/lido:term | lido:eventType/lido:conceptID", namespaces=NS):
        if any(p in (el.text or "").strip().lower() for p in PRODUCTION_IDS):
            return True
    return False


def record_fields(record: etree._Element) -> dict[str, str]:
    """Friendly keys plus the remaining elements of one ``lido:lido`` record, flattened."""
    rec = copy.deepcopy(record)  # text of elements used for friendly keys is blanked in the copy
    used: list[etree._Element] = []
    d = "lido:descriptiveMetadata/"
    ident = d + "lido:objectIdentificationWrap/"
    out: dict[str, str] = {}

    titles = [_preferred(s.findall("lido:appellationValue", NS))
              for s in rec.xpath(ident + "lido:titleWrap/lido:titleSet", namespaces=NS)]
    title_els = [t for ts in titles for t in ts]
    if title_els:
        first = " ".join((title_els[0].text or "").split())
        used.append(title_els[0])
        if first:
            out["title"] = first
    obj_types = _texts(rec, d + "lido:objectClassificationWrap/lido:objectWorkTypeWrap/lido:objectWorkType/lido:term", used)
    if obj_types:
        out["object_type"] = "; ".join(obj_types)
    for i, term in enumerate(_texts(
            rec, d + "lido:objectClassificationWrap/lido:classificationWrap/lido:classification/lido:term", used)):
        out[f"classification[{i}]"] = term
    notes = _texts(rec, ident + "lido:objectDescriptionWrap/lido:objectDescriptionSet/lido:descriptiveNoteValue", used)
    if notes:
        out["description"] = "\n".join(notes)
    museum = _texts(rec, ident + "lido:repositoryWrap/lido:repositorySet/lido:repositoryName/"
                    "lido:legalBodyName/lido:appellationValue", used)
    if museum:
        out["museum"] = museum[0]
    inv = _texts(rec, ident + "lido:repositoryWrap/lido:repositorySet/lido:workID", used)
    if inv:
        out["inventory_number"] = inv[0]

    events = rec.xpath(d + "lido:eventWrap/lido:eventSet/lido:event", namespaces=NS)
    production = [e for e in events if _is_production(e)]
    for event in production:
        creators: list[str] = []
        for actor in event.xpath("lido:eventActor/lido:actorInRole/lido:actor", namespaces=NS):
            names = _preferred(actor.xpath("lido:nameActorSet/lido:appellationValue", namespaces=NS))
            if names:
                used.append(names[0])
                creators.append(" ".join((names[0].text or "").split()))
        if not creators:
            creators = _texts(event, "lido:eventActor/lido:displayActorInRole", used)
        if creators and "creator" not in out:
            out["creator"] = "; ".join(c for c in creators if c)
        dates = _texts(event, "lido:eventDate/lido:displayDate", used)
        if not dates:
            early = _texts(event, "lido:eventDate/lido:date/lido:earliestDate", used)
            late = _texts(event, "lido:eventDate/lido:date/lido:latestDate", used)
            if early or late:
                span = [x for x in (early[:1] + late[:1])]
                dates = ["\u2013".join(dict.fromkeys(span))]
        if dates and "date" not in out:
            out["date"] = dates[0]
        materials = _texts(event, "lido:eventMaterialsTech/lido:displayMaterialsTech", used)
        if not materials:
            materials = _texts(event, "lido:eventMaterialsTech/lido:materialsTech/lido:termMaterialsTech/lido:term", used)
        if materials and "materials" not in out:
            out["materials"] = "; ".join(materials)
        cultures = _texts(event, "lido:culture/lido:term", used)
        if cultures and "culture" not in out:
            out["culture"] = "; ".join(cultures)

    for el in used:
        el.text = None
    for key, value in flatten_xml(rec).items():
        out.setdefault(key, value)
    return out


def lido_fields(root: etree._Element, path: Path | str = "<lido>") -> dict[str, str]:
    """Fields of the (first) record in a LIDO document."""
    records = _records(root)
    if not records:
        raise MetadataError("LIDO document has no lido:lido record", path)
    return record_fields(records[0])


def read_lido(path: Path | str) -> dict[str, str]:
    path = Path(path)
    root = read_untrusted_xml(path)
    if not is_lido(root):
        raise MetadataError(f"not a LIDO document (root namespace must be {LIDO_NS})", path)
    return lido_fields(root, path)
