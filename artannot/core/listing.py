"""What the collection browser holds for a query: ids in order, rows read a page at a time.

At 500,000 artworks a full list of :class:`~artannot.core.catalog.ArtworkRow` took seconds to
load and hundreds of MB to keep. A :class:`Listing` keeps only the ids (with their positions and
an annotated flag each), built in a worker; :class:`ListedRows` reads the rows a view actually
shows from the catalog by primary key, a page at a time, and keeps a bounded number of pages.
Qt-free: the browser's model wraps it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import overload

from artannot.core.catalog import ArtworkRow, Catalog, Filters, ShouldStop

PAGE = 256  # rows read per look-up: a screenful or two, a couple of ms
KEEP_PAGES = 64  # pages kept (16k rows): scrolling back is free, memory stays bounded


@dataclass(slots=True)
class Listing:
    """One browser query's answer: ids in display order, where each one is, which have boxes."""

    ids: list[str] = field(default_factory=list)
    positions: dict[str, int] = field(default_factory=dict)
    annotated: bytearray = field(default_factory=bytearray)

    def next_unannotated(self, after: int) -> int:
        """Position of the next listed artwork without boxes after ``after``, wrapping; -1 if none."""
        i = self.annotated.find(0, after + 1)
        return i if i >= 0 else self.annotated.find(0, 0, max(after + 1, 0))

    def release(self, chunk: int = 20_000) -> None:
        """Empty this listing a slice at a time (called in a worker once a newer one is shown).

        Dropping 500k ids at once is one C call that holds the GIL, and so the GUI thread, for
        tens of ms; between slices other threads get their turn.
        """
        keys = list(self.positions)
        self.positions.clear()  # decrefs only: ``keys`` still holds every string
        self.ids.clear()
        while keys:
            del keys[-chunk:]


def list_artworks(
    catalog: Catalog,
    query: str = "",
    filters: Filters | None = None,
    order: str = "title",
    *,
    should_stop: ShouldStop | None = None,
    on_first_page: Callable[[Listing], None] | None = None,
) -> Listing:
    """Worker body of a browser query: the ordered id list and where each id is; the first
    page goes to ``on_first_page`` as soon as the catalog yields it."""

    def first(ids: list[str], flags: bytearray) -> None:
        on_first_page(Listing(ids, {aid: i for i, aid in enumerate(ids)}, flags))

    ids, flags = catalog.listing(query, filters, order, should_stop=should_stop,
                                 on_first=first if on_first_page else None, first_rows=PAGE)
    return Listing(ids, {aid: i for i, aid in enumerate(ids)}, flags)


def missing_row(artwork_id: str) -> ArtworkRow:
    """Stands in for an artwork removed from the catalog since the listing was made."""
    return ArtworkRow(artwork_id, "", "", "", "", None, 0, False, False, "no longer in the catalog", 0, 0)


class ListedRows(Sequence[ArtworkRow]):
    """The rows of a :class:`Listing`, read from ``catalog`` a page at a time when asked for."""

    def __init__(self, listing: Listing | None = None, catalog: Catalog | None = None) -> None:
        self.listing = listing or Listing()
        self.catalog = catalog
        self._pages: OrderedDict[int, list[ArtworkRow]] = OrderedDict()

    def __len__(self) -> int:
        return len(self.listing.ids)

    @overload
    def __getitem__(self, i: int) -> ArtworkRow: ...
    @overload
    def __getitem__(self, i: slice) -> list[ArtworkRow]: ...

    def __getitem__(self, i: int | slice) -> ArtworkRow | list[ArtworkRow]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(i)
        return self._page(i // PAGE)[i % PAGE]

    def __iter__(self) -> Iterator[ArtworkRow]:
        for p in range((len(self) + PAGE - 1) // PAGE):
            yield from self._page(p)

    def release(self) -> None:
        """Free the ids and cached rows (in a worker: see :meth:`Listing.release`)."""
        self._pages.clear()
        self.listing.release()

    def id_at(self, i: int) -> str:
        return self.listing.ids[i]

    def replace(self, i: int, row: ArtworkRow) -> None:
        """One row changed (a save): the cached copy and its annotated flag follow."""
        page = self._pages.get(i // PAGE)
        if page is not None:
            page[i % PAGE] = row
        self.listing.annotated[i] = row.n_regions > 0

    def _page(self, p: int) -> list[ArtworkRow]:
        page = self._pages.get(p)
        if page is not None:
            self._pages.move_to_end(p)
            return page
        ids = self.listing.ids[p * PAGE:(p + 1) * PAGE]
        found = self.catalog.rows_by_id(ids) if self.catalog is not None else {}
        page = [found.get(aid) or missing_row(aid) for aid in ids]
        self._pages[p] = page
        if len(self._pages) > KEEP_PAGES:
            self._pages.popitem(last=False)
        return page

