"""Phrase extraction throughput, run by hand: ``python bench/bench_phrases.py [N]``.

``--collection`` times the whole ``artannot phrases`` path instead (catalog storage, splits,
vocabularies, ``caption_data.json``) on a synthetic collection of N artworks, first run and
unchanged re-run.

Synthetic descriptions of 2-4 sentences are drawn from the sample collection's sentences,
with adjectives and nouns swapped between them so that texts are not repeated (no cache can
help) while still reading like museum prose. Prints descriptions per second.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from pathlib import Path

from artannot.text import phrases
from artannot.text.karpathy import split_sentences
from artannot.text.phrases import PhraseExtractor, PhraseOptions

SAMPLE = Path(__file__).resolve().parents[1] / "tests" / "data" / "sample_metadata"


def synthetic_descriptions(n: int, folder: Path = SAMPLE, seed: int = 0) -> list[str]:
    """``n`` distinct descriptions recombined from the sample sentences."""
    sentences: list[str] = []
    for path in sorted(folder.glob("*.json")):
        text = json.loads(path.read_text(encoding="utf-8")).get("description", "")
        sentences.extend(text[s:e] for s, e in split_sentences(text))
    words = sorted({w for s in sentences for w in s.split() if w.isalpha() and w.islower()})
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        picked = rng.sample(sentences, rng.randint(2, 4))
        toks = " ".join(picked).split()
        for _ in range(3):  # a few word swaps make every text unique
            i = rng.randrange(len(toks))
            if toks[i].isalpha() and toks[i].islower():
                toks[i] = rng.choice(words)
        out.append(" ".join(toks))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("n", type=int, nargs="?", default=3000)
    ap.add_argument("--batch-size", type=int, default=PhraseOptions().batch_size)
    ap.add_argument("--maximal", action="store_true")
    ap.add_argument("--lemma", action="store_true")
    ap.add_argument("--spacy-tagger", action="store_true", help="tag with spaCy, not the torch re-run")
    ap.add_argument("--repeat", type=int, default=3, help="runs; the median and best are printed")
    ap.add_argument("--collection", action="store_true", help="time extract_collection end to end")
    args = ap.parse_args()
    if args.collection:
        collection_run(args.n)
        return
    texts = synthetic_descriptions(args.n)
    ex = PhraseExtractor(PhraseOptions(batch_size=args.batch_size, lemma_head=args.lemma,
                                       spans="maximal" if args.maximal else "all"))
    if args.spacy_tagger:
        phrases.fast_tagger = lambda nlp: None
    list(ex.extract_batch([[("description", t)] for t in texts[:50]]))  # load + warm up
    rates = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        n_phrases = sum(len(p) for p in ex.extract_batch([[("description", t)] for t in texts]))
        rates.append(len(texts) / (time.perf_counter() - t0))
    words = sum(len(t.split()) for t in texts) / len(texts)
    load = os.getloadavg()[0]
    print(f"{len(texts)} descriptions ({words:.0f} words each, {n_phrases / len(texts):.1f} phrases each), "
          f"tagger: {'spaCy' if ex.tagger is None else 'torch re-run'}, load {load:.2f}: "
          f"median {statistics.median(rates):,.0f} descriptions/s, best {max(rates):,.0f} "
          f"({statistics.median(rates) * words:,.0f} words/s)")


def collection_run(n: int) -> None:
    """``extract_collection`` on N artworks (title + 60-word description each), in a temp folder."""
    import tempfile

    from artannot.core.catalog import Catalog
    from artannot.text.collection import extract_collection

    texts = synthetic_descriptions(n)
    extractor = PhraseExtractor()
    extractor.extract("warm up")  # loading spaCy is not what this measures
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "images").mkdir()
        (root / "metadata").mkdir()
        for i, text in enumerate(texts):
            (root / "images" / f"a{i:06d}.jpg").write_bytes(_TINY_JPEG)
            record = {"title": f"{text.split('.')[0][:60]}", "description": text}
            (root / "metadata" / f"a{i:06d}.json").write_text(json.dumps(record), encoding="utf-8")
        with Catalog.open(root, refresh=True) as catalog:
            t0 = time.perf_counter()
            report = extract_collection(catalog, extractor)
            first = time.perf_counter() - t0
            t0 = time.perf_counter()
            again = extract_collection(catalog, extractor)
            second = time.perf_counter() - t0
    print(f"extract_collection, {n} artworks: first run {first:.2f} s ({n / first:,.0f} artworks/s, "
          f"{report.phrase_occurrences} phrases), unchanged re-run {second:.2f} s "
          f"({again.unchanged} unchanged)")


def _tiny_jpeg() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (32, 24), (120, 90, 60)).save(buf, "JPEG")
    return buf.getvalue()


_TINY_JPEG = _tiny_jpeg()


if __name__ == "__main__":
    main()
