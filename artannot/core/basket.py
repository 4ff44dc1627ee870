"""The basket: fragments and artworks collected from search results, in the curator's order.

Plain rules and data, so the CLI and tests use them without Qt: what an entry is, when two
entries are the same (one of each in a basket), the order, the CSV/JSON lists and the VOC or
COCO subset of the basket's artworks (through ``core.interop``). ``app/basket.py`` shows it.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from artannot.core.geometry import Box
from artannot.core.safe_io import atomic_write

if TYPE_CHECKING:
    from artannot.core.interop import ExportReport

EntryKind = Literal["fragment", "artwork"]
CSV_HEADER = ("order", "kind", "artwork_id", "xmin", "ymin", "xmax", "ymax", "phrase", "score")


@dataclass(frozen=True)
class BasketEntry:
    """A fragment (an artwork's box, found by ``phrase``) or a whole artwork."""

    kind: EntryKind
    artwork_id: str
    box: Box | None = None  # VOC box of a fragment
    phrase: str = ""  # the query that found it
    score: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("fragment", "artwork"):
            raise ValueError(f"basket entry kind must be 'fragment' or 'artwork', not {self.kind!r}")
        if self.kind == "fragment" and self.box is None:
            raise ValueError(f"basket fragment of {self.artwork_id} has no box")

    def key(self) -> tuple[str, str, Box | None]:
        """Identity in a basket: the same box found by two queries is one entry."""
        return (self.kind, self.artwork_id, self.box)

    def text(self) -> str:
        """One line for a list of entries."""
        if self.kind == "artwork":
            return f"🖼 {self.artwork_id}"
        b = self.box
        where = f"{b.xmin:.0f},{b.ymin:.0f}–{b.xmax:.0f},{b.ymax:.0f}" if b else ""
        score = f" {self.score:.3f}" if self.score is not None else ""
        return f"▣ {self.artwork_id} [{where}] “{self.phrase}”{score}"

    def row(self) -> dict[str, Any]:
        """The entry as a JSON object (the box in VOC coordinates)."""
        d = asdict(self)
        b = self.box
        d["box"] = None if b is None else {"xmin": b.xmin, "ymin": b.ymin, "xmax": b.xmax, "ymax": b.ymax}
        return d


class Basket:
    """Ordered, duplicate-free list of entries."""

    def __init__(self) -> None:
        self.entries: list[BasketEntry] = []

    def __len__(self) -> int:
        return len(self.entries)

    def add(self, entry: BasketEntry) -> bool:
        """Append ``entry`` unless an equal one (:meth:`BasketEntry.key`) is already in."""
        if any(e.key() == entry.key() for e in self.entries):
            return False
        self.entries.append(entry)
        return True

    def add_all(self, entries: list[BasketEntry]) -> int:
        """Append the new ones among ``entries``; returns how many were added."""
        return sum(self.add(e) for e in entries)

    def remove(self, index: int) -> None:
        del self.entries[index]

    def move(self, index: int, delta: int) -> int:
        """Move entry ``index`` by ``delta`` places (clamped to the ends); returns where it went."""
        j = min(max(index + delta, 0), len(self.entries) - 1)
        if j != index:
            self.entries.insert(j, self.entries.pop(index))
        return j

    def artwork_ids(self) -> list[str]:
        """Artworks of the entries, each once, in basket order."""
        return list(dict.fromkeys(e.artwork_id for e in self.entries))

    def summary(self) -> str:
        """``"N items from M artworks"`` (or that the basket is empty)."""
        n = len(self.entries)
        return f"{n} items from {len(self.artwork_ids())} artworks" if n else "Basket is empty"

    def to_json(self) -> str:
        return json.dumps([e.row() for e in self.entries], indent=2, ensure_ascii=False)

    def to_csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(CSV_HEADER)
        for i, e in enumerate(self.entries, 1):
            b = e.box
            w.writerow([i, e.kind, e.artwork_id, *(("", "", "", "") if b is None else
                                                   (b.xmin, b.ymin, b.xmax, b.ymax)),
                        e.phrase, "" if e.score is None else f"{e.score:.6f}"])
        return buf.getvalue()

    def export_list(self, path: Path) -> Path:
        """Write the list as CSV (a ``.csv`` path) or JSON (anything else), atomically."""
        path = Path(path)
        text = self.to_csv() if path.suffix.lower() == ".csv" else self.to_json()
        atomic_write(path, text.encode("utf-8"), backup=False)
        return path

    def export_subset(self, root: Path, fmt: str, out: Path) -> ExportReport:
        """The basket's artworks (their VOC annotations) as a VOC folder or a COCO file."""
        from artannot.core.interop import export_annotations

        return export_annotations(root, fmt, out, ids=self.artwork_ids(), overwrite=True)
