"""The browser's listing: ids in the order of ``rows()``, rows read a page at a time, bounded."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from artannot.core import listing as listing_mod
from artannot.core.catalog import ArtworkRow, Catalog, Filters
from artannot.core.listing import ListedRows, Listing, list_artworks

ORDERS = ("title", "id", "regions", "museum", "culture", "date", "split", "status")


@pytest.fixture
def catalog(sample_copy: Path):
    with Catalog.open(sample_copy) as cat:
        yield cat


@pytest.mark.parametrize("order", ORDERS)
def test_listing_is_rows_ids_in_the_same_order(catalog: Catalog, order: str) -> None:
    rows = catalog.rows(order=order)
    ids, flags = catalog.listing(order=order)
    assert ids == [r.id for r in rows] and len(ids) == 12
    assert list(flags) == [int(r.n_regions > 0) for r in rows]


@pytest.mark.parametrize(("query", "filters"), [
    ("wave", Filters()), ("", Filters(annotated=True)), ("", Filters(annotated=False)),
    ("great", Filters(annotated=True)), ("zzznomatch", Filters()),
])
def test_listing_follows_search_and_filters(catalog: Catalog, query: str, filters: Filters) -> None:
    for order in ("rank", "title"):
        assert catalog.listing(query, filters, order)[0] == [r.id for r in catalog.rows(query, filters, order)]


def test_a_stopped_listing_interrupts_its_query(catalog: Catalog, monkeypatch) -> None:
    from artannot.core import catalog as catalog_mod

    monkeypatch.setattr(catalog_mod, "STOP_CHECK_STEPS", 1)  # 12 artworks sort in fewer than 20k steps
    asked = []

    def stop() -> bool:
        asked.append(1)
        return True

    assert catalog.listing(should_stop=stop) == ([], bytearray()) and asked
    assert len(catalog.listing(should_stop=lambda: False)[0]) == 12  # usable afterwards, not stopped


def test_list_artworks_indexes_positions(catalog: Catalog) -> None:
    listing = list_artworks(catalog, order="title")
    assert len(listing.positions) == 12
    assert all(listing.ids[i] == aid for aid, i in listing.positions.items())


def test_reader_is_a_separate_read_only_connection(catalog: Catalog) -> None:
    reader = catalog.reader()
    try:
        assert reader.listing()[0] == catalog.listing()[0]
        with pytest.raises(sqlite3.OperationalError):
            reader._db.execute("DELETE FROM artworks")
    finally:
        reader.close()
    assert catalog.count() == 12  # closing the reader left the catalog open


def test_rows_by_id_reads_only_the_asked_rows(catalog: Catalog) -> None:
    ids = catalog.listing()[0]
    got = catalog.rows_by_id([ids[3], ids[7], "no/such.jpg"])
    assert set(got) == {ids[3], ids[7]}
    assert got[ids[3]] == catalog.row(ids[3])


class FakeCatalog:
    """Counts page reads; a row's title is its id."""

    def __init__(self) -> None:
        self.reads: list[int] = []

    def rows_by_id(self, ids):
        self.reads.append(len(ids))
        return {aid: ArtworkRow(aid, aid, "", "", "", None, int(aid[1:]) % 3, False, True, None, 1, 1)
                for aid in ids if aid != "a13"}  # a13: removed since the listing was made


def big_listing(n: int) -> Listing:
    ids = [f"a{i}" for i in range(n)]
    return Listing(ids, {a: i for i, a in enumerate(ids)}, bytearray(int(i % 3 > 0) for i in range(n)))


def test_rows_are_read_a_page_at_a_time_and_kept_bounded(monkeypatch) -> None:
    monkeypatch.setattr(listing_mod, "PAGE", 10)
    monkeypatch.setattr(listing_mod, "KEEP_PAGES", 3)
    fake = FakeCatalog()
    rows = ListedRows(big_listing(100_000), fake)
    assert len(rows) == 100_000 and fake.reads == []  # nothing read until shown
    assert rows[99_995].title == "a99995" and rows[-1].id == "a99999"
    assert fake.reads == [10]  # one page for both
    assert rows[13].error == "no longer in the catalog"  # a removed artwork does not break the list
    for p in range(6):
        rows[p * 10]
    assert len(rows._pages) == 3  # least recently used pages dropped
    assert [r.id for r in rows[5:8]] == ["a5", "a6", "a7"]


def test_replace_updates_the_cached_row_and_the_annotated_flag() -> None:
    rows = ListedRows(big_listing(30), FakeCatalog())
    assert rows.listing.next_unannotated(0) == 3
    fresh = ArtworkRow("a3", "new", "", "", "", None, 2, False, True, None, 1, 1)
    rows[3]
    rows.replace(3, fresh)
    assert rows[3] is fresh
    assert rows.listing.next_unannotated(0) == 6


def test_next_unannotated_wraps_and_reports_none() -> None:
    listing = Listing(["a", "b", "c", "d"], {}, bytearray([0, 1, 1, 1]))
    assert listing.next_unannotated(2) == 0  # wraps to the start
    assert listing.next_unannotated(-1) == 0
    assert Listing(["a", "b"], {}, bytearray([0, 1])).next_unannotated(0) == 0  # itself, last
    assert Listing(["a"], {}, bytearray([1])).next_unannotated(0) == -1


def test_release_empties_a_listing_and_its_pages() -> None:
    rows = ListedRows(big_listing(50_000), FakeCatalog())
    rows[10]
    rows.release()
    assert len(rows) == 0 and rows.listing.positions == {} and rows._pages == {}


def test_the_first_page_is_handed_over_before_the_rest(catalog: Catalog) -> None:
    firsts = []
    ids, flags = catalog.listing(order="title", on_first=lambda i, f: firsts.append((i, f)), first_rows=5)
    assert firsts == [(ids[:5], flags[:5])]
    catalog.listing(on_first=lambda i, f: firsts.append(i), first_rows=20)  # all 12 at once: one answer
    assert len(firsts) == 1
