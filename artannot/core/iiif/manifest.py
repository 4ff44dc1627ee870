"""IIIF Presentation manifests (v2 and v3) and collections, read into plain dataclasses.

Only what artannot needs is read: each canvas's id, size, label, summary and metadata pairs,
and the image (service) painted on it. Language maps are resolved to one text, English
preferred; the other languages are kept beside it so nothing the museum wrote is lost.
Values may carry the little HTML IIIF allows (``<p>``, ``<a>``, ``<i>``): it is reduced to text.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from artannot.core.errors import ArtannotError


class IiifError(ArtannotError):
    """A IIIF manifest, collection, image service or download is unusable."""

    code = "E703"


# Language tags tried in order before any other; "none" is IIIF v3's "no language".
PREFERRED_LANGUAGES = ("en", "none", "@none")


@dataclass(slots=True)
class Text:
    """One text in the preferred language, and the same text in the others (``{lang: text}``)."""

    value: str = ""
    others: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Canvas:
    id: str
    index: int  # 0-based position in the manifest
    width: int
    height: int
    label: Text
    summary: Text
    metadata: list[tuple[Text, Text]]
    image_url: str | None  # the painted image resource (full size), when given
    service: str | None  # IIIF Image API service base URI, when given
    service_version: int | None  # 2 or 3 (from its context/type), None when unknown


@dataclass(slots=True)
class Manifest:
    id: str
    version: int  # Presentation API 2 or 3
    label: Text
    summary: Text
    metadata: list[tuple[Text, Text]]
    attribution: Text
    rights: str
    canvases: list[Canvas]


@dataclass(slots=True)
class Reference:
    """A member of a collection: a manifest or a sub-collection, embedded or by id."""

    id: str
    kind: str  # "Manifest" or "Collection"
    embedded: dict[str, Any] | None


# -- text ------------------------------------------------------------------------------

class _TextOnly(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("br", "p", "li", "div"):
            self.parts.append(" ")


_TAG_RE = re.compile(r"<[a-zA-Z/!]")


def plain(text: str) -> str:
    """Text of a IIIF value: HTML tags dropped, entities decoded, whitespace collapsed."""
    if _TAG_RE.search(text):
        parser = _TextOnly()
        parser.feed(text)
        parser.close()
        text = "".join(parser.parts)
    else:
        text = html.unescape(text)
    return " ".join(text.split())


def language_values(value: Any) -> dict[str, list[str]]:
    """Any IIIF text form -- a string, a v2 ``{"@value", "@language"}`` list, a v3 language
    map -- to ``{language: [texts]}`` (``"none"`` when no language is given)."""
    out: dict[str, list[str]] = {}

    def add(lang: Any, text: Any) -> None:
        if isinstance(text, (str, int, float)) and not isinstance(text, bool):
            cleaned = plain(str(text))
            if cleaned:
                out.setdefault(str(lang or "none").strip() or "none", []).append(cleaned)

    if isinstance(value, list):
        for item in value:
            for lang, texts in language_values(item).items():
                for t in texts:
                    add(lang, t)
    elif isinstance(value, dict):
        if "@value" in value:
            add(value.get("@language"), value["@value"])
        else:
            for lang, texts in value.items():
                for t in texts if isinstance(texts, list) else [texts]:
                    add(lang, t)
    else:
        add("none", value)
    return out


def pick_text(value: Any, joiner: str = "; ") -> Text:
    """The preferred-language text of a value (English, then no language, then the first
    one given) and the others by language."""
    values = language_values(value)
    if not values:
        return Text()

    def rank(lang: str) -> int:
        low = lang.lower()
        for i, want in enumerate(PREFERRED_LANGUAGES):
            if low == want or low.startswith(want + "-"):
                return i
        return len(PREFERRED_LANGUAGES)

    langs = sorted(values, key=rank)  # stable: document order among equals
    main = langs[0]
    return Text(joiner.join(values[main]), {lang: joiner.join(values[lang]) for lang in langs[1:]})


# -- structure -------------------------------------------------------------------------

def _id(obj: Any) -> str:
    if isinstance(obj, str):
        return obj
    if isinstance(obj, dict):
        value = obj.get("id", obj.get("@id"))
        return value if isinstance(value, str) else ""
    return ""


def _type(obj: dict[str, Any]) -> str:
    """``Manifest``/``Collection``/``Canvas``... without the v2 ``sc:`` prefix."""
    kind = obj.get("type", obj.get("@type", ""))
    kind = kind[0] if isinstance(kind, list) and kind else kind
    return str(kind).rsplit(":", 1)[-1] if isinstance(kind, str) else ""


def version_of(data: dict[str, Any]) -> int:
    """Presentation API version: from ``@context``, else from ``type`` (v3) / ``@type`` (v2)."""
    context = data.get("@context", "")
    contexts = context if isinstance(context, list) else [context]
    for c in contexts:
        if isinstance(c, str) and "iiif.io/api/presentation/3" in c:
            return 3
        if isinstance(c, str) and "iiif.io/api/presentation/2" in c:
            return 2
    return 2 if "@type" in data and "type" not in data else 3


def _metadata(items: Any) -> list[tuple[Text, Text]]:
    out = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict):
            label, value = pick_text(item.get("label")), pick_text(item.get("value"))
            if label.value and value.value:
                out.append((label, value))
    return out


def _size(obj: dict[str, Any], what: str, where: str) -> tuple[int, int]:
    w, h = obj.get("width"), obj.get("height")
    if isinstance(w, bool) or isinstance(h, bool) or not isinstance(w, (int, float)) or not isinstance(h, (int, float)) \
            or w != w or h != h or not 0 < w < 10**7 or not 0 < h < 10**7:
        raise IiifError(f"{what} needs a positive width and height, got {w!r} x {h!r}", where)
    return int(round(w)), int(round(h))


def _service(resource: dict[str, Any]) -> tuple[str | None, int | None]:
    services = resource.get("service")
    for s in services if isinstance(services, list) else [services]:
        if not isinstance(s, dict):
            continue
        sid = _id(s)
        if not sid:
            continue
        kind, profile = _type(s), str(s.get("profile", ""))
        context = str(s.get("@context", ""))
        if kind == "ImageService3" or "image/3" in context:
            return sid.rstrip("/"), 3
        if kind == "ImageService2" or "image/2" in context or "image/2" in profile or "iiif.io/api/image" in profile:
            return sid.rstrip("/"), 2
        if kind.startswith("ImageService") or "level" in profile:
            return sid.rstrip("/"), None
    return None, None


def _painted(canvas: dict[str, Any], version: int) -> dict[str, Any] | None:
    """The image resource painted on a canvas (the first one)."""
    if version == 2:
        for anno in canvas.get("images") or []:
            if isinstance(anno, dict) and isinstance(anno.get("resource"), dict):
                res = anno["resource"]
                if _type(res) == "Choice" or "default" in res:  # oa:Choice: take the default
                    res = res.get("default") if isinstance(res.get("default"), dict) else res
                return res
        return None
    for page in canvas.get("items") or []:
        for anno in (page.get("items") or []) if isinstance(page, dict) else []:
            if not isinstance(anno, dict) or anno.get("motivation", "painting") != "painting":
                continue
            body = anno.get("body")
            body = body[0] if isinstance(body, list) and body else body
            if isinstance(body, dict) and _type(body) == "Choice" and body.get("items"):
                body = body["items"][0]
            if isinstance(body, dict):
                return body
    return None


def _canvases(data: dict[str, Any], version: int, where: str) -> list[dict[str, Any]]:
    if version == 2:
        sequences = data.get("sequences")
        if not isinstance(sequences, list) or not sequences or not isinstance(sequences[0], dict):
            raise IiifError("v2 manifest has no 'sequences' list", where)
        canvases = sequences[0].get("canvases")
    else:
        canvases = data.get("items")
    if not isinstance(canvases, list):
        raise IiifError("manifest has no list of canvases", where)
    return canvases


def parse_canvas(obj: Any, index: int, version: int, where: str) -> Canvas:
    """One canvas; a problem raises :class:`IiifError` naming it (the others still import)."""
    what = f"canvas {index + 1}"
    if not isinstance(obj, dict) or _type(obj) != "Canvas":
        raise IiifError(f"{what} is not a Canvas object", where)
    cid = _id(obj)
    if not cid:
        raise IiifError(f"{what} has no id", where)
    width, height = _size(obj, f"{what} ({cid})", where)
    resource = _painted(obj, version)
    image_url = _id(resource) or None if resource else None
    service, service_version = _service(resource) if resource else (None, None)
    return Canvas(
        id=cid, index=index, width=width, height=height,
        label=pick_text(obj.get("label")),
        summary=pick_text(obj.get("summary", obj.get("description")), "\n"),
        metadata=_metadata(obj.get("metadata")),
        image_url=image_url, service=service, service_version=service_version,
    )


def is_collection(data: Any) -> bool:
    return isinstance(data, dict) and _type(data) == "Collection"


def parse_manifest(data: Any, where: str, *, strict_canvases: bool = False) -> tuple[Manifest, list[tuple[str, str]]]:
    """A manifest and the canvases that could not be read (``[(canvas, why)]``).

    The manifest itself must be sound (an object of type Manifest with a list of canvases);
    a bad canvas is reported and skipped unless ``strict_canvases``.
    """
    if not isinstance(data, dict):
        raise IiifError("a IIIF manifest must be a JSON object", where)
    if _type(data) != "Manifest":
        raise IiifError(f"not a IIIF Manifest (type {_type(data) or 'missing'!r})", where)
    version = version_of(data)
    mid = _id(data)
    if not mid:
        raise IiifError("manifest has no id", where)
    canvases, problems = [], []
    for i, obj in enumerate(_canvases(data, version, where)):
        try:
            canvases.append(parse_canvas(obj, i, version, where))
        except IiifError as exc:
            if strict_canvases:
                raise
            problems.append((f"canvas {i + 1} ({_id(obj) or 'no id'})", exc.message))
    if version == 2:
        attribution = pick_text(data.get("attribution"))
        rights = _id(data.get("license")) if not isinstance(data.get("license"), list) else _id(data["license"][0])
    else:
        required = data.get("requiredStatement")
        attribution = pick_text(required.get("value")) if isinstance(required, dict) else Text()
        rights = data.get("rights") if isinstance(data.get("rights"), str) else ""
    manifest = Manifest(
        id=mid, version=version, label=pick_text(data.get("label")),
        summary=pick_text(data.get("summary", data.get("description")), "\n"),
        metadata=_metadata(data.get("metadata")), attribution=attribution, rights=rights or "",
        canvases=canvases,
    )
    return manifest, problems


def collection_members(data: dict[str, Any], where: str) -> list[Reference]:
    """Manifests and sub-collections of a v2 or v3 collection, in document order."""
    if not is_collection(data):
        raise IiifError("not a IIIF Collection", where)
    if version_of(data) == 2:
        raw: list[Any] = []
        for key in ("members", "collections", "manifests"):
            if isinstance(data.get(key), list):
                raw += data[key]
    else:
        raw = data.get("items") if isinstance(data.get("items"), list) else []
    if not raw:
        raise IiifError("collection lists no manifests", where)
    out: list[Reference] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        ref_id = _id(item)
        kind = _type(item) if isinstance(item, dict) else ""
        if not ref_id or kind not in ("Manifest", "Collection"):
            raise IiifError(f"collection member {i + 1} is not a Manifest or Collection with an id", where)
        if ref_id in seen:
            continue
        seen.add(ref_id)
        embedded = item if isinstance(item, dict) and ("items" in item or "sequences" in item) else None
        out.append(Reference(ref_id, kind, embedded))
    return out
