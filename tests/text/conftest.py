"""Shared fixtures for the text tests: spaCy is loaded once per session (it takes seconds)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from artannot.text.phrases import PhraseExtractor, PhraseOptions

# A copy of ../shared/data/sample_artworks/metadata: the bundled collection keeps some of these
# records only as XML variants, and tests must not depend on files outside the repository.
SAMPLE_METADATA = Path(__file__).resolve().parents[1] / "data" / "sample_metadata"


@pytest.fixture(scope="session")
def extractor() -> PhraseExtractor:
    return PhraseExtractor()


@pytest.fixture(scope="session")
def maximal_extractor(extractor: PhraseExtractor) -> PhraseExtractor:
    return PhraseExtractor(PhraseOptions(spans="maximal"), nlp=extractor.nlp)


@pytest.fixture(scope="session")
def sample() -> dict[str, dict[str, str]]:
    """The sample collection's metadata, by file stem (description texts are copied in
    tests that depend on exact wording, so they keep working if the sample moves)."""
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(SAMPLE_METADATA.glob("*.json"))}
