"""Qt-free domain objects: an artwork, its annotated regions, and the annotation file."""

from __future__ import annotations

import copy
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

from artannot.core.geometry import Box

RegionSource = Literal["manual", "detector", "suggestion"]
REGION_SOURCES: tuple[str, ...] = ("manual", "detector", "suggestion")


@dataclass(slots=True)
class Region:
    """One labelled box. ``phrase`` is the VOC ``<name>``."""

    box: Box
    phrase: str = ""
    pose: str = "Unspecified"
    truncated: bool = False
    difficult: bool = False
    source: RegionSource = "manual"
    score: float | None = None
    # The <object> element this region was read from; lets a save keep what artannot
    # does not understand (extra elements, attributes, float text). Not part of equality.
    element: Any = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.source not in REGION_SOURCES:
            raise ValueError(f"unknown region source {self.source!r}; expected one of {REGION_SOURCES}")


@dataclass(slots=True)
class FileStamp:
    """What a file looked like when loaded: used to detect edits by someone else."""

    size: int
    mtime_ns: int
    sha256: str


@dataclass(slots=True)
class Annotation:
    """All regions of one artwork plus everything else the VOC file holds."""

    filename: str
    width: int = 0
    height: int = 0
    depth: int = 3
    folder: str = ""
    path: str = ""
    database: str = "Unknown"
    segmented: bool = False
    verified: bool = False
    regions: list[Region] = field(default_factory=list)
    # The parsed document (lxml tree) for lossless saving, and the stamp of the file it came from.
    tree: Any = field(default=None, compare=False, repr=False)
    stamp: FileStamp | None = field(default=None, compare=False)
    source_path: Path | None = field(default=None, compare=False)


@dataclass(slots=True)
class Artwork:
    """One artwork of a collection: its image and its (museum) metadata."""

    id: str  # collection-relative image path, POSIX style: stable across machines
    image_path: Path
    fields: dict[str, str] = field(default_factory=dict)  # flattened key path -> text
    descriptions: list[str] = field(default_factory=list)
    split: str | None = None
    metadata_paths: list[Path] = field(default_factory=list)
    annotation_path: Path | None = None

    @property
    def title(self) -> str:
        for key in ("title", "name", "objectName", "label"):
            if self.fields.get(key):
                return self.fields[key]
        return self.image_path.stem


class PhraseRecord(NamedTuple):
    """A noun phrase found in one metadata field, with its character span in that field's text.

    A named tuple rather than a frozen dataclass: extraction makes ~50 per description, and a
    frozen dataclass costs 8x more to build (a fifth of the whole phrase step).
    """

    field: str
    start: int
    end: int
    text: str  # surface form, as written in the source
    norm: str  # normalised form used for vocabulary and matching


_WS_RE = re.compile(r"\s+")


def normalise_phrase(text: str, *, nfc: bool = True, collapse_whitespace: bool = True,
                     lowercase: bool = True) -> str:
    """The norm of a phrase: how an extracted phrase and a curator's box label are compared.

    NFC (a decomposed "é" equals the composed one), runs of whitespace to one space with the
    ends trimmed, lower case; each step can be turned off (the extraction options do that).
    """
    if nfc:
        text = unicodedata.normalize("NFC", text)
    if collapse_whitespace:
        text = _WS_RE.sub(" ", text).strip()
    if lowercase:
        text = text.lower()
    return text


def ground_truth(annotation: Annotation) -> Annotation:
    """What a file may hold (the VOC file, a recovery copy): the curator's boxes only.

    Dashed detector proposals and search results not accepted yet are suggestions; VOC cannot
    mark a box as a proposal, so writing one would turn it into ground truth after a reload.
    """
    kept = copy.copy(annotation)
    kept.regions = [r for r in annotation.regions if r.source == "manual"]
    return kept
