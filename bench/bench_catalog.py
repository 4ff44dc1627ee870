"""Catalog benchmark (issue 3): index, re-open and search a synthetic 10k-artwork collection.

    .venv/bin/python bench/bench_catalog.py            # 10,000 artworks
    .venv/bin/python bench/bench_catalog.py --n 2000   # quicker
    .venv/bin/python bench/bench_catalog.py --keep DIR # keep the collection in DIR

Builds, in a temporary folder, ``images/`` (small JPEGs, 64x48), ``metadata/`` (one JSON
sidecar per artwork with museum-like fields and a 2-4 sentence description) and
``annotations/`` (LabelImg VOC files for every 20th artwork), then times:
indexing from scratch, re-opening unchanged, re-opening after touching 100 metadata files,
full-text search latency (p50/p95 over 50 queries, first page + count as the browser does),
and ``rows()`` for the first page (200) and for all artworks.  Goals: index < 60 s,
unchanged re-open < 1 s (best of 5 runs; median wall and CPU time are printed too).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from artannot.core.catalog import Catalog

ADJ = ["blue", "gilded", "carved", "painted", "bronze", "glazed", "faded", "crackled", "lacquered", "ivory",
       "red-figure", "black-figure", "celadon", "jade", "marble", "inlaid", "embroidered", "woven", "incised"]
NOUN = ["vase", "bowl", "figure", "dragon", "lotus", "bird", "horse", "warrior", "goddess", "scarab", "amphora",
        "mask", "sarcophagus", "scroll", "screen", "wave", "mountain", "tree", "flower", "crane", "chariot",
        "shield", "throne", "pharaoh", "bodhisattva", "landscape", "river", "boat", "temple", "coffin"]
PLACE = ["Egypt, New Kingdom", "China, Ming dynasty", "China, Qing dynasty", "Japan, Edo period",
         "Greece, Archaic", "Egypt, Late Period", "China, Song dynasty", "Netherlands, Golden Age"]
MUSEUM = ["Brooklyn Museum", "The Metropolitan Museum of Art", "British Museum", "Rijksmuseum"]
QUERIES = ["vase", "gilded dragon", "lot", "Ming", "bodhisattva", "crane", "bronze mirror", "pharaoh",
           "egypt", "jade", "wave", "Brooklyn", "sarcophagus painted", "horse", "celadon bowl", "scr",
           "river landscape", "temple", "Qing", "mask", "warrior shield", "ivory", "inlaid throne", "bird",
           "flower", "incised", "boat", "tree", "mountain", "goddess", "scarab", "amphora", "chariot",
           "Rijksmuseum", "Song", "Archaic", "embroidered", "woven", "figure", "coffin", "faded", "crackl",
           "red", "black figure", "marble", "Japan", "Edo", "British", "Metropolitan", "zzznomatch"]


def sentence(rng: random.Random) -> str:
    a, b = rng.sample(ADJ, 2)
    n1, n2 = rng.sample(NOUN, 2)
    verb = rng.choice(["stands beside", "rises above", "is framed by", "holds", "faces", "is carved with"])
    return f"A {a} {n1} {verb} a {b} {n2}."


def jpeg_variants(k: int, rng: random.Random) -> list[bytes]:
    out = []
    for _ in range(k):
        im = Image.new("RGB", (64, 48), tuple(rng.randrange(256) for _ in range(3)))
        im.paste(tuple(rng.randrange(256) for _ in range(3)), (rng.randrange(32), rng.randrange(24), 48, 40))
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=80)
        out.append(buf.getvalue())
    return out


VOC = """<?xml version='1.0' encoding='UTF-8'?>
<annotation verified="yes">
\t<folder>images</folder>
\t<filename>{name}</filename>
\t<path>images/{name}</path>
\t<source>
\t\t<database>bench</database>
\t</source>
\t<size>
\t\t<width>64</width>
\t\t<height>48</height>
\t\t<depth>3</depth>
\t</size>
\t<segmented>0</segmented>
{objects}</annotation>
"""
OBJ = """\t<object>
\t\t<name>{phrase}</name>
\t\t<pose>Unspecified</pose>
\t\t<truncated>0</truncated>
\t\t<difficult>0</difficult>
\t\t<bndbox>
\t\t\t<xmin>{x0}</xmin>
\t\t\t<ymin>{y0}</ymin>
\t\t\t<xmax>{x1}</xmax>
\t\t\t<ymax>{y1}</ymax>
\t\t</bndbox>
\t</object>
"""


def build(root: Path, n: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    for d in ("images", "metadata", "annotations"):
        (root / d).mkdir(parents=True, exist_ok=True)
    jpegs = jpeg_variants(64, rng)
    for i in range(n):
        name = f"art_{i:05d}"
        (root / "images" / f"{name}.jpg").write_bytes(jpegs[i % len(jpegs)])
        n1 = rng.choice(NOUN)
        record = {
            "title": f"{rng.choice(ADJ).capitalize()} {n1} no. {i}",
            "accessionNumber": f"{rng.randrange(1, 99)}.{rng.randrange(1, 999)}",
            "museum": rng.choice(MUSEUM),
            "culture": rng.choice(PLACE),
            "date": f"ca. {rng.randrange(-2000, 1900)}",
            "medium": f"{rng.choice(ADJ)} {rng.choice(['clay', 'bronze', 'silk', 'paper', 'stone'])}",
            "dimensions": {"height_cm": rng.randrange(5, 200), "width_cm": rng.randrange(5, 200)},
            "subjects": rng.sample(NOUN, 3),
            "description": " ".join(sentence(rng) for _ in range(rng.randint(2, 4))),
        }
        (root / "metadata" / f"{name}.json").write_text(json.dumps(record), encoding="utf-8")
        if i % 20 == 0:
            objs = "".join(OBJ.format(phrase=f"{rng.choice(ADJ)} {rng.choice(NOUN)}", x0=1 + k, y0=1 + k,
                                      x1=30 + k, y1=20 + k) for k in range(rng.randint(1, 4)))
            (root / "annotations" / f"{name}.xml").write_text(VOC.format(name=f"{name}.jpg", objects=objs))


def timed(fn):
    t0 = time.perf_counter()
    value = fn()
    return time.perf_counter() - t0, value


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--keep", type=Path, default=None, help="build the collection here and keep it")
    args = ap.parse_args()
    os.environ.pop("ARTANNOT_DATA_DIR", None)
    tmp = Path(tempfile.mkdtemp(prefix="artannot-bench-")) if args.keep is None else args.keep
    root = tmp / "collection"
    try:
        t_build, _ = timed(lambda: build(root, args.n))
        print(f"built {args.n} artworks in {t_build:.1f} s ({root})")
        results: dict[str, float] = {}

        def open_close():
            with Catalog.open(root) as cat:
                return cat.stats()

        cpu0 = time.process_time()
        results["index_from_scratch_s"], st = timed(open_close)
        results["index_from_scratch_cpu_s"] = time.process_time() - cpu0
        assert st.artworks == args.n, st
        assert st.annotated == (args.n + 19) // 20, st
        # best and median of 5: on a shared machine single runs are noisy; CPU time shows the work
        runs = []
        for _ in range(5):
            cpu0 = time.process_time()
            wall, _ = timed(open_close)
            runs.append((wall, time.process_time() - cpu0))
        results["reopen_unchanged_s"] = min(w for w, _ in runs)
        results["reopen_unchanged_median_s"] = statistics.median(w for w, _ in runs)
        results["reopen_unchanged_cpu_s"] = statistics.median(c for _, c in runs)

        metas = sorted((root / "metadata").iterdir())[:: max(1, args.n // 100)][:100]
        for p in metas:
            s = p.stat()
            os.utime(p, ns=(s.st_atime_ns, s.st_mtime_ns + 2_000_000_000))
        with Catalog.open(root, refresh=False) as cat:
            results["reopen_after_touching_100_s"], rep = timed(cat.refresh)
            assert rep.updated == len(metas), rep

            lat = []
            hits = {}
            for q in QUERIES:
                dt, rows = timed(lambda q=q: (cat.rows(query=q, limit=200), cat.count(query=q)))
                lat.append(dt * 1000)
                hits[q] = rows[1]
            lat.sort()
            results["search_p50_ms"] = statistics.median(lat)
            results["search_p95_ms"] = lat[round(0.95 * (len(lat) - 1))]
            results["search_max_ms"] = lat[-1]
            assert hits["zzznomatch"] == 0 and hits["vase"] > 0
            results["rows_first_page_ms"] = timed(lambda: cat.rows(limit=200))[0] * 1000
            dt, allrows = timed(lambda: cat.rows())
            results["rows_all_ms"] = dt * 1000
            assert len(allrows) == args.n
            results["rows_all_by_rank_query_ms"] = timed(lambda: cat.rows(query="a", order="rank"))[0] * 1000
        db = root / ".artannot" / "catalog.sqlite"
        results["catalog_mb"] = db.stat().st_size / 1e6
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"\nplatform: {platform.platform()}, python {platform.python_version()}, cpus {os.cpu_count()},"
              f" load average {load:.1f}")
        print(f"n = {args.n}")
        for k, v in results.items():
            print(f"{k:32} {v:10.2f}")
        ok = results["index_from_scratch_s"] < 60 and results["reopen_unchanged_s"] < 1
        print("goals (index < 60 s, unchanged re-open < 1 s):", "met" if ok else "MISSED")
        return 0 if ok else 1
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
