"""Memory of phrase extraction over a whole collection (issue 16): peak RSS and time of
``extract_collection``, each run in a fresh process so its peak is its own.

    .venv/bin/python bench/bench_phrases_memory.py                    # 10k built, copied x10 (100k)
    .venv/bin/python bench/bench_phrases_memory.py --copies 10 50     # and 500k (about 6 minutes more)
    .venv/bin/python bench/bench_phrases_memory.py --n 2000 --copies 5

Builds ``--n`` artworks with ``bench_catalog.build`` and extracts them (the fresh run), runs again
(the unchanged run), then copies the catalog's artwork and phrase rows under ``cK/`` prefixes
(SQL only: same texts, so the stored hashes stay valid) to time the unchanged pass over a
museum-sized catalog without tagging it for hours. Printed: wall and CPU seconds, and the peak
RSS minus the RSS with spaCy loaded and warmed (``delta``): the step's own memory.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

_MEASURE = """
import resource, sys, time
from artannot.core.catalog import Catalog
from artannot.text.collection import extract_collection
from artannot.text.phrases import PhraseExtractor
ex = PhraseExtractor()
list(ex.extract_batch([[("d", "A blue vase stands beside a red bowl.")]]))
r0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
with Catalog.open(sys.argv[1], refresh=False) as cat:
    t, c = time.perf_counter(), time.process_time()
    rep = extract_collection(cat, ex)
    t, c = time.perf_counter() - t, time.process_time() - c
r1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{rep.artworks:>8} artworks  extracted {rep.extracted:>7}  wall {t:7.1f} s  cpu {c:7.1f} s  "
      f"peak RSS {r1:6.0f} MB  delta {r1 - r0:5.0f} MB")
"""


def measure(root: Path) -> None:
    subprocess.run([sys.executable, "-c", _MEASURE, str(root)], check=True, cwd=HERE.parent)


def replicate(src: Path, dest: Path, copies: int) -> None:
    """``dest``'s catalog: ``src``'s rows plus ``copies - 1`` renamed copies of them."""
    (dest / ".artannot").mkdir(parents=True)
    shutil.copy(src / ".artannot" / "catalog.sqlite", dest / ".artannot" / "catalog.sqlite")
    db = sqlite3.connect(dest / ".artannot" / "catalog.sqlite")
    cols = [r[1] for r in db.execute("PRAGMA table_info(artworks)") if r[1] not in ("rowid", "id")]
    names = ", ".join(cols)
    with db:
        for k in range(1, copies):
            db.execute(f"INSERT INTO artworks(id, {names}) SELECT 'c{k}/' || id, {names} FROM artworks"
                       " WHERE id NOT LIKE 'c%/%'")
            db.execute(f"INSERT INTO phrases(artwork_id, field, start, end, text, norm) SELECT 'c{k}/' ||"
                       " artwork_id, field, start, end, text, norm FROM phrases WHERE artwork_id NOT LIKE 'c%/%'")
    db.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000, help="artworks built and extracted")
    ap.add_argument("--copies", type=int, nargs="*", default=[10], help="catalog sizes as multiples of N")
    args = ap.parse_args()
    sys.path.insert(0, str(HERE))
    from bench_catalog import build

    from artannot.core.catalog import Catalog

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "c1"
        build(root, args.n)
        Catalog.open(root).close()
        print("fresh:", end=" ", flush=True)
        measure(root)
        print("unchanged:", end=" ", flush=True)
        measure(root)
        for k in args.copies:
            big = Path(tmp) / f"c{k}"
            replicate(root, big, k)
            print(f"unchanged x{k}:", end=" ", flush=True)
            measure(big)
            shutil.rmtree(big)


if __name__ == "__main__":
    main()
