from __future__ import annotations

from artannot.core.metadata import is_prose, is_text_key, text_fields

MET_LIKE = {
    "objectID": "45434",
    "title": "Under the Wave off Kanagawa",
    "objectDate": "ca. 1830–32",
    "accessionNumber": "JP1847",
    "primaryImage": "https://images.example.org/JP1847.jpg",
    "record.physicalDescription": "A towering blue wave.",
    "record.label_text": "Printed in Edo.",
    "titleId": "T-17",
    "label_date": "1830",
    "sentences[0].raw": "Three boats.",
    "sentences[0].tokens": "three boats",
    "inscription.#text": "Hokusai aratame Iitsu hitsu",
    "artist": "Katsushika Hokusai",
    "notes": "https://example.org/notes",
    "caption": "1831",
}


def test_default_picks_text_like_keys_in_metadata_order() -> None:
    assert text_fields(MET_LIKE) == [
        ("title", "Under the Wave off Kanagawa"),
        ("record.physicalDescription", "A towering blue wave."),
        ("record.label_text", "Printed in Edo."),
        ("sentences[0].raw", "Three boats."),
        ("inscription.#text", "Hokusai aratame Iitsu hitsu"),
    ]


def test_keys_and_values_that_are_never_prose() -> None:
    assert not is_text_key("titleId") and not is_text_key("label_date")
    assert not is_text_key("sentences[0].tokens") and not is_text_key("objectID")
    assert is_text_key("DESCRIPTION") and is_text_key("record.Caption")
    assert not is_prose("ca. 1830–32") and not is_prose("26.117") and not is_prose("  ")
    assert not is_prose("www.metmuseum.org") and not is_prose("https://x.org/a b")
    assert is_prose("Rough Waves") and is_prose("Musée d'Orsay, Paris")


def test_wanted_follows_user_order_and_matches_last_component() -> None:
    got = text_fields(MET_LIKE, ["physicaldescription", "TITLE", "object*"])
    assert [k for k, _ in got] == [
        "record.physicalDescription",
        "title",
        "objectID",
        "objectDate",
    ]


def test_duplicate_texts_are_taken_once() -> None:
    fields = {"title": "Rough Waves", "record.title": "Rough  Waves", "description": ""}
    assert text_fields(fields) == [("title", "Rough Waves")]
    assert text_fields({}) == []
