"""The SQLite + FTS5 catalog: indexing, search, filters, incremental refresh, errors, thumbnails."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from PIL import Image

from artannot.core.catalog import Catalog, Filters, fts_query, make_thumbnail
from artannot.core.errors import CatalogError
from artannot.core.model import PhraseRecord

N_SAMPLE = 12
ANNOTATED = {"images/hokusai_great_wave.jpg", "images/vaneyck_arnolfini_portrait.jpg",
             "images/vangogh_starry_night.jpg"}


def jpeg(w: int = 64, h: int = 48, color=(10, 120, 200)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), color).save(buf, "JPEG")
    return buf.getvalue()


def bump_mtime(path: Path) -> None:
    """Touch with a clearly different mtime (no reliance on clock resolution)."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))


def ids(rows) -> set[str]:
    return {r.id for r in rows}


@pytest.fixture
def cat(sample_copy):
    with Catalog.open(sample_copy) as c:
        yield c


# -- opening the sample ------------------------------------------------------------------

def test_open_sample(sample_copy):
    with Catalog.open(sample_copy) as cat:
        assert cat.data_dir == sample_copy.resolve() / ".artannot"
        assert (sample_copy / ".artannot" / "catalog.sqlite").is_file()
        st = cat.stats()
        assert st.artworks == N_SAMPLE
        assert st.with_metadata == N_SAMPLE
        assert st.annotated == 3 and st.verified >= 1
        assert st.regions == sum(r.n_regions for r in cat.rows())
        assert st.errors == 0 and cat.errors() == []
        assert {r.id for r in cat.rows(filters=Filters(annotated=True))} == ANNOTATED
        assert len(cat.artwork_ids()) == N_SAMPLE == cat.count()


def test_artwork_details(cat, sample_copy):
    a = cat.artwork("images/bruegel_harvesters.jpg")
    assert a.image_path == sample_copy.resolve() / "images/bruegel_harvesters.jpg"
    assert sorted(p.name for p in a.metadata_paths) == ["bruegel_harvesters.json", "bruegel_harvesters.xml"]
    assert a.fields["accessionNumber"] == "19.164"  # XML field kept next to the JSON ones
    assert a.descriptions and a.annotation_path is None
    wave = cat.artwork("images/hokusai_great_wave.jpg")
    assert wave.annotation_path == sample_copy.resolve() / "annotations/hokusai_great_wave.xml"
    assert cat.image_size("images/hokusai_great_wave.jpg") == (928, 514)
    row = next(r for r in cat.rows() if r.id == "images/hokusai_great_wave.jpg")
    assert row.title.startswith("Under the Wave") and row.n_regions == 6 and row.verified
    assert row.culture == "Japan, Edo period" and row.date == "ca. 1830–32"
    with pytest.raises(KeyError):
        cat.artwork("images/nope.jpg")


def test_annotation_path_for_new_annotation(cat, sample_copy):
    p = cat.annotation_path("images/korin_rough_waves.jpg")
    assert p == sample_copy.resolve() / "annotations" / "korin_rough_waves.xml"
    assert cat.annotation_path("images/hokusai_great_wave.jpg").name == "hokusai_great_wave.xml"


def test_annotation_path_when_two_images_share_a_stem(sample_copy):
    # the stem look-up is an indexed column (was a LIKE scan); a shared stem keeps the folders
    (sample_copy / "images" / "more").mkdir()
    (sample_copy / "images" / "more" / "korin_rough_waves.jpg").write_bytes(jpeg())
    with Catalog.open(sample_copy) as cat:
        assert cat.annotation_path("images/more/korin_rough_waves.jpg").relative_to(sample_copy.resolve()) \
            == Path("annotations/images/more/korin_rough_waves.xml")
        assert cat.annotation_path("images/hokusai_great_wave.jpg").name == "hokusai_great_wave.xml"


def test_old_catalog_gets_lookup_columns_in_place(sample_copy):
    import sqlite3

    Catalog.open(sample_copy).close()
    db = sample_copy / ".artannot" / "catalog.sqlite"
    with sqlite3.connect(db) as conn:  # a catalog made before the columns existed
        for index in ("artworks_stem", "artworks_queue_unannotated", "artworks_queue_fewest_boxes"):
            conn.execute(f"DROP INDEX {index}")
        for col_name in ("stem", "labels", "n_phrases", "covered"):
            conn.execute(f"ALTER TABLE artworks DROP COLUMN {col_name}")
    with Catalog.open(sample_copy) as cat:
        assert cat.stats().artworks == N_SAMPLE
        assert cat.annotation_path("images/korin_rough_waves.jpg").name == "korin_rough_waves.xml"
        assert cat._db.execute("SELECT count(*) FROM artworks WHERE stem IS NULL").fetchone()[0] == 0


def test_missing_folder_is_catalog_error(tmp_path):
    with pytest.raises(CatalogError) as info:
        Catalog.open(tmp_path / "nope")
    assert info.value.code == "E401" and "nope" in str(info.value)


def test_data_dir_override(sample_copy, isolated_dirs):
    with Catalog.open(sample_copy) as cat:
        assert isolated_dirs["data"] in cat.data_dir.parents
        assert cat.stats().artworks == N_SAMPLE
    assert not (sample_copy / ".artannot").exists()


# -- search --------------------------------------------------------------------------------

def test_threads_opening_one_collection_all_find_its_catalog(tmp_path, monkeypatch):
    """The GUI opens the catalog from several workers at once (indexing, phrases, thumbnails,
    totals). The writability probe was one file name for all: one thread's clean-up made
    another's fail, which then chose the per-user folder and an empty catalog (the background
    phrase extraction then found no artwork: a flaky GUI test in CI)."""
    import threading

    from artannot.core.catalog import data_dir_for

    monkeypatch.delenv("ARTANNOT_DATA_DIR", raising=False)
    root = tmp_path / "collection"
    root.mkdir()
    barrier = threading.Barrier(8)
    found: list[Path] = []

    def probe() -> None:
        barrier.wait()
        found.extend(data_dir_for(root) for _ in range(200))

    threads = [threading.Thread(target=probe) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(found) == {root / ".artannot"}
    assert sorted(p.name for p in (root / ".artannot").iterdir()) == []  # no probe left behind


def test_fts_query_is_safe():
    assert fts_query("") == "" and fts_query("  ;:-- ") == ""
    assert fts_query('wave" OR 1') == '"wave"* "OR"* "1"*'
    assert fts_query("Kōrin screen") == '"Kōrin"* "screen"*'


@pytest.mark.parametrize("query,expected", [
    ("cartouche", {"images/hokusai_great_wave.jpg"}),          # a word of the description
    ("cartou", {"images/hokusai_great_wave.jpg"}),             # prefix as you type
    ("Hokusai", {"images/hokusai_great_wave.jpg"}),            # artist field
    ("Korin", {"images/korin_rough_waves.jpg"}),                # diacritics-insensitive: Kōrin
    ("kōrin", {"images/korin_rough_waves.jpg"}),
    ("KORIN gold", {"images/korin_rough_waves.jpg"}),           # all words, any case
    ("Rogers Fund", {"images/bruegel_harvesters.jpg"}),        # field of the second (XML) sidecar
    ("26.117", {"images/korin_rough_waves.jpg"}),               # accession number
    ("starry", {"images/vangogh_starry_night.jpg"}),
    ("zzzqqq", set()),
])
def test_search(cat, query, expected):
    found = ids(cat.rows(query=query))
    if expected:
        assert expected <= found
        assert cat.count(query=query) == len(found)
    else:
        assert found == set()
    if query == "cartouche":
        assert found == expected


def test_search_multiword_and_ranking(cat):
    waves = ids(cat.rows(query="wave"))
    assert {"images/hokusai_great_wave.jpg", "images/korin_rough_waves.jpg"} <= waves
    assert len(waves) < N_SAMPLE
    ranked = cat.rows(query="wave", order="rank")
    assert ids(ranked) == waves
    assert ids(cat.rows(query="wave Fuji")) == {"images/hokusai_great_wave.jpg"}
    # punctuation only: no filter at all
    assert len(cat.rows(query="!!")) == N_SAMPLE


def test_filters_paging_and_order(cat):
    assert ids(cat.rows(filters=Filters(annotated=False))) == set(cat.artwork_ids()) - ANNOTATED
    assert cat.count(filters=Filters(has_error=True)) == 0
    assert cat.count(filters=Filters(has_metadata=True)) == N_SAMPLE
    assert cat.count(query="wave", filters=Filters(annotated=True)) == 1
    page1 = cat.rows(order="id", limit=5)
    page2 = cat.rows(order="id", limit=5, offset=5)
    assert [r.id for r in page1 + page2] == sorted(cat.artwork_ids())[:10]
    titles = [r.title.lower() for r in cat.rows(order="title")]
    assert titles == sorted(titles)
    by_regions = [r.n_regions for r in cat.rows(order="regions")]
    assert by_regions == sorted(by_regions, reverse=True)
    assert [r.id for r in cat.rows(order="bogus; DROP TABLE artworks")] == [r.id for r in cat.rows()]


def test_splits(cat):
    aids = sorted(cat.artwork_ids())
    cat.set_splits({aids[0]: "train", aids[1]: "val", aids[2]: "test"})
    assert cat.splits()[aids[1]] == "val"
    assert ids(cat.rows(filters=Filters(split="train"))) == {aids[0]}
    st = cat.stats()
    assert st.splits == {"train": 1, "val": 1, "test": 1, "none": N_SAMPLE - 3}
    # a refresh of a changed artwork keeps the split chosen by the user
    meta = cat.root / "metadata" / (Path(aids[0]).stem + ".json")
    if not meta.exists():
        meta = meta.with_suffix(".xml")
    bump_mtime(meta)
    assert cat.refresh().updated == 1
    assert cat.splits()[aids[0]] == "train"


# -- phrases and judgements -----------------------------------------------------------------

def test_phrases_round_trip_and_search(cat):
    aid = "images/korin_rough_waves.jpg"
    recs = [PhraseRecord("description", 20, 38, "stylized ocean waves", "stylized ocean wave"),
            PhraseRecord("title", 0, 11, "Rough Waves", "rough wave")]
    cat.set_phrases(aid, "hash1", recs)
    assert cat.phrases(aid) == recs
    assert cat.phrase_text_hash(aid) == "hash1"
    assert cat.phrase_counts() == {"stylized ocean wave": 1, "rough wave": 1}
    cat.set_phrases("images/hokusai_great_wave.jpg", "h2", [PhraseRecord("title", 0, 4, "Wave", "xylograph wave")])
    assert cat.phrases_of(cat.artwork_ids()) == {aid: recs, "images/hokusai_great_wave.jpg": [
        PhraseRecord("title", 0, 4, "Wave", "xylograph wave")]}
    assert isinstance(cat.phrases(aid)[0], PhraseRecord) and cat.phrases(aid)[0].norm == "stylized ocean wave"
    assert ids(cat.rows(query="xylograph")) == {"images/hokusai_great_wave.jpg"}  # only in the phrase
    # phrases stay searchable after the artwork is re-indexed
    bump_mtime(cat.root / "metadata" / "hokusai_great_wave.json")
    assert cat.refresh().updated == 1
    assert ids(cat.rows(query="xylograph")) == {"images/hokusai_great_wave.jpg"}
    cat.set_phrases(aid, "hash2", [])
    assert cat.phrases(aid) == [] and cat.phrase_text_hash(aid) == "hash2"


def test_artwork_pages_stream_every_artwork_in_id_order(cat):
    """Issue 16: whole-collection passes read pages, not every record at once."""
    whole = cat.artworks()
    assert len(whole) == N_SAMPLE
    for page in (1, 5, N_SAMPLE, 1000):
        pages = list(cat.artwork_pages(page))
        assert [a for p in pages for a in p] == whole
        assert len(pages) == -(-N_SAMPLE // page) and all(len(p) <= page for p in pages)
    # the extraction writes between pages: every artwork still comes exactly once, in order
    seen = []
    for p in cat.artwork_pages(5):
        cat.store_phrases([(a.id, "h", [PhraseRecord("title", 0, 1, "x", "x")]) for a in p])
        seen += [a.id for a in p]
    assert seen == [a.id for a in whole]
    with pytest.raises(ValueError, match="page"):
        next(cat.artwork_pages(0))


def test_bulk_phrase_lookups(cat):
    a, b = "images/korin_rough_waves.jpg", "images/hokusai_great_wave.jpg"
    recs = [PhraseRecord("description", 20, 38, "stylized ocean waves", "stylized ocean wave"),
            PhraseRecord("title", 0, 11, "Rough Waves", "rough wave")]
    cat.store_phrases([(b, "hb", [PhraseRecord("title", 0, 4, "Wave", "wave")]), (a, "ha", recs)])
    cat.store_phrases([(b, "hb2", [PhraseRecord("title", 0, 5, "Great", "great"), *recs[::-1]])])
    others = [f"missing/{i}.jpg" for i in range(1200)]  # more ids than one SQL statement takes
    hashes = cat.phrase_hashes([*others, a, b, "images/vangogh_starry_night.jpg"])
    assert hashes == {a: "ha", b: "hb2", "images/vangogh_starry_night.jpg": None}
    by_id = cat.phrases_of([b, *others, a])
    assert by_id == {a: recs, b: [PhraseRecord("title", 0, 5, "Great", "great"), *recs[::-1]]}
    assert by_id == {k: cat.phrases(k) for k in (a, b)}
    assert cat.phrases_of([]) == {} and cat.phrase_hashes([]) == {}


def test_judgements_live_outside_the_cache(cat):
    from artannot.core.judgements_store import Judgement

    cat.judgements.add(Judgement("images/hokusai_great_wave.jpg", "1,1,10,10", "wave", 1, 0.9, True, "scan"))
    cat.judgements.add(Judgement("images/hokusai_great_wave.jpg", "1,1,10,10", "boat", 2, 0.5, False))
    j = cat.judgements.all()
    assert [(r[2], r[5]) for r in j] == [("wave", 1), ("boat", 0)]
    assert cat.judgements.path == cat.root / "annotations" / "judgements.sqlite"
    assert not cat.judgements.path.is_relative_to(cat.data_dir)


def test_record_annotation(cat, sample_copy):
    from artannot.core.geometry import Box
    from artannot.core.model import Region
    from artannot.core.voc import new_annotation, save_voc

    aid = "images/korin_rough_waves.jpg"
    path = cat.annotation_path(aid)
    ann = new_annotation(sample_copy / aid, *cat.image_size(aid))
    ann.regions = [Region(Box(1, 1, 10, 10), "gold ground")]
    save_voc(ann, path)
    cat.record_annotation(aid, ann, path)
    assert cat.stats().annotated == 4
    rep = cat.refresh()  # the new VOC file is found on disk too and agrees
    assert rep.updated == 1 and rep.added == 0
    assert cat.stats().annotated == 4 and cat.artwork(aid).annotation_path == path.resolve()


# -- incremental refresh ---------------------------------------------------------------------

def test_reopen_without_changes_reads_nothing(sample_copy):
    Catalog.open(sample_copy).close()
    with Catalog.open(sample_copy, refresh=False) as cat:
        rep = cat.refresh()
    assert (rep.added, rep.updated, rep.removed, rep.unchanged) == (0, 0, 0, N_SAMPLE)


def test_touch_one_metadata_file(cat, sample_copy):
    bump_mtime(sample_copy / "metadata" / "korin_rough_waves.xml")
    rep = cat.refresh()
    assert (rep.added, rep.updated, rep.removed, rep.unchanged) == (0, 1, 0, N_SAMPLE - 1)


def test_edit_metadata_is_searchable(cat, sample_copy):
    p = sample_copy / "metadata" / "exekias_neck_amphora.json"
    data = json.loads(p.read_text(encoding="utf-8"))
    data["description"] += " A hippocamp swims below."
    p.write_text(json.dumps(data), encoding="utf-8")
    bump_mtime(p)
    assert cat.refresh().updated == 1
    assert ids(cat.rows(query="hippocamp")) == {"images/exekias_neck_amphora.jpg"}


def test_delete_image(cat, sample_copy):
    cat.store_thumbnail("images/renoir_bal_du_moulin_de_la_galette.jpg", b"x")
    (sample_copy / "images" / "renoir_bal_du_moulin_de_la_galette.jpg").unlink()
    rep = cat.refresh()
    assert (rep.added, rep.updated, rep.removed, rep.unchanged) == (0, 0, 1, N_SAMPLE - 1)
    assert cat.stats().artworks == N_SAMPLE - 1
    assert cat.rows(query="Renoir") == []
    assert cat.thumbnail("images/renoir_bal_du_moulin_de_la_galette.jpg") is None


def test_new_artwork(cat, sample_copy):
    (sample_copy / "images" / "new_bowl.jpg").write_bytes(jpeg())
    (sample_copy / "metadata" / "new_bowl.json").write_text(
        json.dumps({"title": "Celadon bowl", "description": "A crackled celadon glaze over stoneware."}))
    rep = cat.refresh()
    assert (rep.added, rep.updated, rep.removed, rep.unchanged) == (1, 0, 0, N_SAMPLE)
    assert ids(cat.rows(query="celadon crackl")) == {"images/new_bowl.jpg"}
    assert cat.image_size("images/new_bowl.jpg") == (64, 48)


def test_annotation_change_updates_counts(cat, sample_copy):
    from artannot.core.voc import read_voc, save_voc

    path = sample_copy / "annotations" / "hokusai_great_wave.xml"
    ann = read_voc(path)
    ann.regions = ann.regions[:2]
    ann.verified = False
    save_voc(ann)
    bump_mtime(path)
    rep = cat.refresh()
    assert rep.updated == 1
    row = next(r for r in cat.rows() if r.id == "images/hokusai_great_wave.jpg")
    assert row.n_regions == 2 and not row.verified
    path.unlink()
    (path.parent / "hokusai_great_wave.xml.bak").unlink()
    assert cat.refresh().updated == 1
    assert cat.stats().annotated == 2


def test_stop_and_resume(sample_copy):
    calls = []
    with Catalog.open(sample_copy, should_stop=lambda: len(calls) >= 5,
                      progress=lambda d, t: calls.append((d, t))) as cat:
        assert cat.stats().artworks == 5
    with Catalog.open(sample_copy) as cat:
        assert cat.stats().artworks == N_SAMPLE


# -- bad files ----------------------------------------------------------------------------------

def test_bad_files_listed_collection_still_opens(sample_copy):
    import numpy as np

    meta, imgs = sample_copy / "metadata", sample_copy / "images"
    (meta / "rembrandt_night_watch.xml").write_text("<record><title>Night Watch</record>")
    (meta / "botticelli_birth_of_venus.json").write_text('{"title": "Venus",')
    (sample_copy / "annotations" / "vangogh_starry_night.xml").write_text("<annotation><object>")
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (200, 300, 3), dtype="uint8")).save(buf, "JPEG")
    data = buf.getvalue()
    (imgs / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (imgs / "empty.png").write_bytes(b"")
    (sample_copy / "annotations" / "ghost.xml").write_text(
        "<annotation><filename>ghost.jpg</filename><object><name>x</name><bndbox><xmin>1</xmin>"
        "<ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox></object></annotation>")
    (sample_copy / "annotations" / "garbled.xml").write_text("<annotation><filename>a.jpg</filen")
    with Catalog.open(sample_copy) as cat:
        assert cat.stats().artworks == N_SAMPLE + 2
        errs = {p: (code, msg) for p, code, msg in cat.errors()}
        assert errs["metadata/rembrandt_night_watch.xml"][0] == "E201"
        assert errs["metadata/botticelli_birth_of_venus.json"][0] == "E201"
        assert "malformed JSON" in errs["metadata/botticelli_birth_of_venus.json"][1]
        assert errs["annotations/vangogh_starry_night.xml"][0] == "E101"
        assert errs["images/truncated.jpg"][0] == "E301" and "truncated" in errs["images/truncated.jpg"][1]
        assert errs["images/empty.png"][0] == "E301"
        assert errs["annotations/ghost.xml"][0] == "E301" and "ghost.jpg" in errs["annotations/ghost.xml"][1]
        assert errs["annotations/garbled.xml"][0] == "E101"
        assert len(errs) == 7
        bad = ids(cat.rows(filters=Filters(has_error=True)))
        assert bad == {"images/rembrandt_night_watch.jpg", "images/botticelli_birth_of_venus.jpg",
                       "images/vangogh_starry_night.jpg", "images/truncated.jpg", "images/empty.png"}
        assert cat.stats().errors == 5
        row = next(r for r in cat.rows() if r.id == "images/truncated.jpg")
        assert (row.width, row.height) == (300, 200)  # the header was readable
        # the rest of the collection is intact and searchable
        assert ids(cat.rows(query="cartouche")) == {"images/hokusai_great_wave.jpg"}
        # the broken files were not touched
        assert (meta / "botticelli_birth_of_venus.json").read_text() == '{"title": "Venus",'
        assert (sample_copy / "annotations" / "vangogh_starry_night.xml").read_text() == "<annotation><object>"
        # fixing a file clears its error on the next refresh
        (meta / "botticelli_birth_of_venus.json").write_text('{"title": "The Birth of Venus"}')
        bump_mtime(meta / "botticelli_birth_of_venus.json")
        (sample_copy / "annotations" / "ghost.xml").unlink()
        rep = cat.refresh()
        assert rep.updated == 1
        errs = {p for p, _, _ in cat.errors()}
        assert "metadata/botticelli_birth_of_venus.json" not in errs and "annotations/ghost.xml" not in errs
        assert len(errs) == 5


def test_metadata_with_images_key_is_not_a_caption_file(tmp_path):
    (tmp_path / "vase.jpg").write_bytes(jpeg())
    (tmp_path / "vase.json").write_text(json.dumps({"images": ["http://x/vase.jpg"], "title": "Blue vase"}))
    with Catalog.open(tmp_path) as cat:
        assert cat.rows()[0].title == "Blue vase"
        assert cat.errors() == []


# -- other layouts -------------------------------------------------------------------------------

def test_karpathy_collection(tmp_path):
    for split, name in [("train", "a.jpg"), ("val", "b.jpg"), ("test", "c.jpg")]:
        (tmp_path / split).mkdir()
        (tmp_path / split / name).write_bytes(jpeg())
    (tmp_path / "caption_data.json").write_text(json.dumps({"images": [
        {"filename": "a.jpg", "filepath": "train", "sentences": [{"raw": "A jade cicada."}, {"raw": "Green stone."}]},
        {"filename": "b.jpg", "filepath": "val", "sentences": [{"raw": "A bronze ding vessel."}]},
        {"filename": "c.jpg", "filepath": "test", "sentences": [{"raw": "Lacquered box."}]},
        {"filename": "missing.jpg", "filepath": "test", "sentences": [{"raw": "Nowhere."}]},
    ]}))
    with Catalog.open(tmp_path) as cat:
        assert cat.stats().artworks == 3
        assert cat.splits() == {"train/a.jpg": "train", "val/b.jpg": "val", "test/c.jpg": "test"}
        a = cat.artwork("train/a.jpg")
        assert a.descriptions == ["A jade cicada.", "Green stone."]
        assert ids(cat.rows(query="jade")) == {"train/a.jpg"}
        assert ids(cat.rows(query="ding", filters=Filters(split="val"))) == {"val/b.jpg"}
        assert cat.errors() == []


def test_broken_caption_file_is_listed(tmp_path):
    (tmp_path / "a.jpg").write_bytes(jpeg())
    (tmp_path / "caption_data.json").write_text('{"images": [{"filename": ')
    with Catalog.open(tmp_path) as cat:
        assert cat.stats().artworks == 1
        assert [(p, c) for p, c, _ in cat.errors()] == [("caption_data.json", "E201")]


def test_voc_folder_matched_by_filename_and_jpg_xml_naming(tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "labels").mkdir()
    for n in ("a", "b"):
        (tmp_path / "photos" / f"{n}.jpg").write_bytes(jpeg())
    box = "<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>64</xmax><ymax>48</ymax></bndbox>"
    (tmp_path / "labels" / "0001.xml").write_text(
        f"<annotation><folder>x</folder><filename>a.jpg</filename><object><name>all</name>{box}</object></annotation>")
    (tmp_path / "photos" / "b.jpg.xml").write_text(
        f"<annotation><filename>b.jpg</filename><object><name>one</name>{box}</object>"
        f"<object><name>two</name>{box}</object></annotation>")
    (tmp_path / "photos" / "b.json").write_text('{"title": "Bee"}')
    with Catalog.open(tmp_path) as cat:
        rows = {r.id: r for r in cat.rows()}
        assert rows["photos/a.jpg"].n_regions == 1
        assert cat.artwork("photos/a.jpg").annotation_path == tmp_path.resolve() / "labels/0001.xml"
        assert rows["photos/b.jpg"].n_regions == 2 and rows["photos/b.jpg"].title == "Bee"
        assert cat.artwork("photos/b.jpg").annotation_path.name == "b.jpg.xml"
        assert cat.stats().artworks == 2 and cat.errors() == []


def test_utf16_and_latin1_voc_in_collection(tmp_path):
    (tmp_path / "a.jpg").write_bytes(jpeg())
    (tmp_path / "b.jpg").write_bytes(jpeg())
    box = "<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>5</xmax><ymax>5</ymax></bndbox>"
    (tmp_path / "a.xml").write_bytes(('<?xml version="1.0" encoding="UTF-16"?><annotation><filename>a.jpg</filename>'
                                      f"<object><name>波</name>{box}</object></annotation>").encode("utf-16"))
    (tmp_path / "b.xml").write_bytes(('<?xml version="1.0" encoding="ISO-8859-1"?><annotation><filename>b.jpg'
                                      f"</filename><object><name>tête</name>{box}</object></annotation>")
                                     .encode("latin-1"))
    with Catalog.open(tmp_path) as cat:
        assert {r.id: r.n_regions for r in cat.rows()} == {"a.jpg": 1, "b.jpg": 1}
        assert all(not r.has_metadata for r in cat.rows())  # VOC files are not metadata
        assert cat.errors() == []


def test_unicode_paths(tmp_path):
    folder = tmp_path / "Kōrin 屏風"
    folder.mkdir()
    (folder / "波.jpg").write_bytes(jpeg())
    (folder / "波.json").write_text(json.dumps({"title": "波 (Waves)", "artist": "尾形光琳"}), encoding="utf-8")
    with Catalog.open(tmp_path) as cat:
        assert cat.artwork_ids() == ["Kōrin 屏風/波.jpg"]
        assert ids(cat.rows(query="Korin")) == {"Kōrin 屏風/波.jpg"}  # in the path
        assert ids(cat.rows(query="Waves")) == {"Kōrin 屏風/波.jpg"}
        assert cat.thumbnail("Kōrin 屏風/波.jpg") is None


# -- thumbnails ----------------------------------------------------------------------------------

def test_thumbnails_cached_and_invalidated(cat, sample_copy):
    aid = "images/hokusai_great_wave.jpg"
    assert cat.thumbnail(aid) is None
    thumb = make_thumbnail(sample_copy / aid, 128)
    with Image.open(io.BytesIO(thumb)) as im:
        assert im.format == "JPEG" and max(im.size) == 128 and im.size[0] > im.size[1]
    cat.store_thumbnail(aid, thumb)
    assert cat.thumbnail(aid) == thumb
    with Catalog.open(sample_copy, refresh=False) as again:  # persisted
        assert again.thumbnail(aid) == thumb
    (sample_copy / aid).write_bytes(jpeg(100, 50))
    bump_mtime(sample_copy / aid)
    assert cat.thumbnail(aid) is None
    assert cat.refresh().updated == 1
    assert cat.image_size(aid) == (100, 50)


def test_schema_version_mismatch_rebuilds_and_keeps_judgements(sample_copy):
    import sqlite3

    from artannot.core.judgements_store import Judgement

    with Catalog.open(sample_copy) as cat:
        cat.judgements.add(Judgement("images/hokusai_great_wave.jpg", "1,1,10,10", "wave", 1, 0.9, True, "m"))
    db = sample_copy / ".artannot" / "catalog.sqlite"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version=999")
    conn.commit()
    conn.close()
    with Catalog.open(sample_copy) as cat:
        assert cat.stats().artworks == N_SAMPLE
        assert [(j.phrase, j.accepted) for j in cat.judgements.all()] == [("wave", True)]


def test_corrupt_catalog_is_set_aside_and_rebuilt(sample_copy):
    (sample_copy / ".artannot").mkdir()
    (sample_copy / ".artannot" / "catalog.sqlite").write_bytes(b"this is not a database" * 100)
    with Catalog.open(sample_copy) as cat:
        assert cat.stats().artworks == N_SAMPLE  # rebuilt: it is only a cache
    aside = list((sample_copy / ".artannot").glob("catalog.corrupt-*.sqlite"))
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"this is not a database")


def test_unopenable_catalog_is_clear_error(sample_copy, monkeypatch):
    import sqlite3

    from artannot.core import catalog as catalog_mod

    def locked(*a, **k):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(catalog_mod, "_connect", locked)
    with pytest.raises(CatalogError) as info:
        Catalog.open(sample_copy)
    assert info.value.code == "E401" and "locked" in str(info.value) and "catalog.sqlite" in str(info.value)
    assert not list((sample_copy / ".artannot").glob("catalog.corrupt-*"))


def test_symlink_loops_duplicate_names_and_unreadable_files_are_listed_not_fatal(tmp_path):
    """Bad input at scale (issue 16): a folder that links back to itself, the same file name in
    two folders, an unreadable image: indexed with the problems listed, no crash, no hang."""
    root = tmp_path / "c"
    (root / "images" / "sub").mkdir(parents=True)
    (root / "images" / "a.jpg").write_bytes(jpeg())
    (root / "images" / "sub" / "a.jpg").write_bytes(jpeg(color=(200, 10, 10)))
    (root / "images" / "sub" / "up").symlink_to("..")  # a loop
    (root / "images" / "self").symlink_to(root)  # another loop
    (root / "images" / "broken.jpg").write_bytes(b"not a jpeg")
    (root / "images" / "dangling.jpg").symlink_to(tmp_path / "nowhere.jpg")
    with Catalog.open(root) as cat:
        ids = set(cat.artwork_ids())
        assert {"images/a.jpg", "images/sub/a.jpg", "images/broken.jpg"} <= ids
        assert not any("/up/" in i or i.startswith("images/self/") for i in ids)
        assert any(path == "images/broken.jpg" for path, _, _ in cat.errors())
        assert cat.annotation_path("images/a.jpg") != cat.annotation_path("images/sub/a.jpg")
