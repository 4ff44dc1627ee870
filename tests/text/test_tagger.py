"""The torch tagger must give spaCy's tags exactly, whatever the batch, or step aside."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from artannot.text import phrases
from artannot.text.phrases import PhraseExtractor, PhraseOptions
from artannot.text.tagger import CnnTagger, UnsupportedPipeline

TRICKY = [
    "",
    "Cat",
    "   ",
    "A towering blue wave with a curling white crest of claw-like foam.",
    "Seated figure (painted wood), c. 1760–1849;\n\n gift of Mrs. J. Smith, 1921.",
    "Rough waves by Ogata Kōrin 🌊 at the Musée d'Orsay,\nwith a tall  dark\ncypress tree.",
    "ΟΔΟΣ ΣΟΦΙΑΣ — İznik tiles, 16th-century, and a Qur'an stand!",
    " ".join(["The painted lotus flower on the vase."] * 40),  # one long doc among short ones
]


def _spacy_tags(extractor: PhraseExtractor, text: str) -> list[str]:
    nlp = extractor.nlp
    doc = nlp.get_pipe("tagger")(nlp.get_pipe("tok2vec")(nlp.make_doc(text)))
    return [t.tag_ for t in doc]


@pytest.fixture(scope="module")
def tagger(extractor: PhraseExtractor) -> CnnTagger:
    built = CnnTagger.build(extractor.nlp)
    assert built is not None, "the bundled en_core_web_sm pipeline must be reproducible"
    return built


def test_tags_equal_spacy_on_the_sample_collection(
    tagger: CnnTagger, extractor: PhraseExtractor, sample: dict
) -> None:
    texts = [v for meta in sample.values() for v in meta.values() if isinstance(v, str) and v.strip()]
    texts += [t for t in TRICKY if t]
    docs = [extractor.nlp.make_doc(t) for t in texts]
    n_tokens = 0
    for text, ids in zip(texts, tagger.tag(docs)):
        assert [tagger.labels[i] for i in ids] == _spacy_tags(extractor, text), text
        n_tokens += len(ids)
    assert n_tokens > 1500


def test_tags_do_not_depend_on_the_batch(tagger: CnnTagger, extractor: PhraseExtractor) -> None:
    docs = [extractor.nlp.make_doc(t) for t in TRICKY]
    together = tagger.tag(docs)
    alone = [tagger.tag([d])[0] for d in docs]
    reversed_ = tagger.tag(docs[::-1])[::-1]
    for a, b, c, d in zip(together, alone, reversed_, docs):
        assert len(a) == len(d)
        assert np.array_equal(a, b) and np.array_equal(a, c)


def test_empty_batches(tagger: CnnTagger, extractor: PhraseExtractor) -> None:
    assert tagger.tag([]) == []
    out = tagger.tag([extractor.nlp.make_doc(""), extractor.nlp.make_doc("")])
    assert [len(x) for x in out] == [0, 0]


def test_pipeline_without_a_tagger_is_refused() -> None:
    import spacy

    blank = spacy.blank("en")
    with pytest.raises(UnsupportedPipeline, match="tok2vec"):
        CnnTagger.from_pipeline(blank)
    assert CnnTagger.build(blank) is None


def test_disagreement_with_spacy_falls_back(
    extractor: PhraseExtractor, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(CnnTagger, "tag", lambda self, docs: [np.zeros(len(d), dtype=np.int64) for d in docs])
    with caplog.at_level(logging.WARNING, logger="artannot.text.tagger"):
        assert CnnTagger.build(extractor.nlp) is None
    assert "disagrees" in caplog.text


def test_extraction_is_the_same_with_spacys_own_tagger(
    extractor: PhraseExtractor, sample: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    artworks = [[(k, v) for k, v in meta.items() if isinstance(v, str)] for meta in sample.values()]
    artworks.append([("description", t) for t in TRICKY])
    lemmas = PhraseOptions(lemma_head=True)  # tags written into docs, then spaCy's lemmatizer
    for options in (PhraseOptions(), PhraseOptions(spans="maximal"), PhraseOptions.phrasemachine(), lemmas):
        nlp = None if options.lemma_head else extractor.nlp
        fast = PhraseExtractor(options, nlp=nlp)
        assert fast.tagger is not None
        expected = list(fast.extract_batch(artworks))
        monkeypatch.setattr(phrases, "fast_tagger", lambda nlp: None)
        slow = PhraseExtractor(options, nlp=nlp)
        assert slow.tagger is None
        assert list(slow.extract_batch(artworks)) == expected
        monkeypatch.undo()
    assert sum(map(len, expected)) > 500
