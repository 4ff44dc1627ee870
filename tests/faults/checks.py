"""What a killed process may leave behind, checked: files whole, nothing lost.

Each check returns what went wrong (empty: all well), so the tests can assert on it and the
benchmark can count torn files, lost artworks and lost judgements over many trials.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from tests.faults.harness import VOC_NAME, label_for, next_version

# Lines of `artannot index` / `phrases` whose numbers a rerun must reproduce exactly.
COUNT_LINES = re.compile(r"^(\d+ artworks, .*|phrases: \d+ occurrences.*|splits: .*|vocabulary: .*)$", re.M)


# -- one VOC file saved again and again -------------------------------------------------------
def make_voc_target(path: Path, image: str = "images/fault.png") -> Path:
    """Version 0 of the VOC chain: two boxes with non-ASCII labels; its ``<path>`` is relative,
    so every version's bytes are the same wherever the file lies."""
    from artannot.core.geometry import Box
    from artannot.core.model import Annotation, Region
    from artannot.core.voc import save_voc

    ann = Annotation(filename=Path(image).name, width=64, height=48, depth=3, folder="images", path=image)
    ann.regions = [Region(Box(1, 1, 20, 20), phrase=label_for(0)),
                   Region(Box(10, 5, 60, 40), phrase=f"{label_for(0)} · second")]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_voc(ann, path, backup=False, force=True)
    return path


class VocChain:
    """The bytes of every version of the chain, made by the same saves in a scratch folder."""

    def __init__(self, scratch: Path) -> None:
        self._path = make_voc_target(Path(scratch) / VOC_NAME)
        self.versions = [self._path.read_bytes()]

    def __getitem__(self, n: int) -> bytes:
        while len(self.versions) <= n:
            next_version(self._path)
            self.versions.append(self._path.read_bytes())
        return self.versions[n]

    def version(self, data: bytes) -> int | None:
        """Which version ``data`` is (None: none, i.e. torn or foreign)."""
        from artannot.core.voc import annotation_from_tree, parse_voc_bytes
        from tests.faults.harness import version_of

        try:
            n = version_of(annotation_from_tree(parse_voc_bytes(data)).regions[0].phrase)
        except Exception:  # noqa: BLE001 - anything unparsable is a torn file
            return None
        return n if self[n] == data else None


def check_voc(path: Path, chain: VocChain, acked: int) -> list[str]:
    """After a kill during saves: the file is the last acknowledged version or the next one
    (byte for byte), and its ``.bak`` the version before or the same."""
    problems = []
    if not path.exists():
        return [f"{path.name}: missing after the kill"]
    now = chain.version(path.read_bytes())
    if now is None or now not in (acked, acked + 1):
        return [f"{path.name}: torn or wrong version {now} (acknowledged {acked})"]
    bak = path.with_name(path.name + ".bak")
    if now > 0:
        before = chain.version(bak.read_bytes()) if bak.exists() else None
        if before not in (now - 1, now):
            problems.append(f"{bak.name}: {'missing' if not bak.exists() else 'torn or wrong version'} "
                            f"beside version {now}")
    return problems


# -- what the commands write -------------------------------------------------------------------
def check_outputs(root: Path, data_dir: Path) -> list[str]:
    """Every file a command finished writing is whole: VOC files parse, JSON parses, arrays
    load, SQLite databases pass ``integrity_check``, checkpoints load. Temp files of an
    interrupted write are not finished files and are skipped (cleaned up later)."""
    import numpy as np

    from artannot.core.safe_io import TEMP_NAME
    from artannot.core.voc import read_voc

    problems = []
    for path in sorted(list(Path(root).rglob("*")) + list(Path(data_dir).rglob("*"))):
        if not path.is_file() or TEMP_NAME.match(path.name):
            continue
        try:
            if path.suffix == ".xml" and path.parent.name == "annotations":
                read_voc(path)
            elif path.suffix == ".json":
                json.loads(path.read_text(encoding="utf-8"))
            elif path.suffix == ".npy":
                np.load(path, allow_pickle=False)
            elif path.suffix == ".sqlite":
                check_sqlite(path)
            elif path.suffix == ".pt":
                from artannot.retrieval.checkpoint import read_config

                read_config(path)
        except Exception as exc:  # noqa: BLE001 - any failure to read is the finding
            problems.append(f"{path}: {type(exc).__name__}: {exc}")
    return problems


def check_sqlite(path: Path) -> None:
    """Raise unless the database opens and passes SQLite's own integrity check."""
    conn = sqlite3.connect(path, timeout=30)
    try:
        result = conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()
    if result != "ok":
        raise sqlite3.DatabaseError(result)


def count_lines(output: str) -> list[str]:
    """The lines of a command's output whose numbers a rerun must reproduce."""
    return COUNT_LINES.findall(output.replace("\r", "\n"))  # progress bars redraw with \r


def readable_features(store_dir: Path, ids: Iterable[str]) -> list[str]:
    """Artwork ids without readable features in the store (every row's arrays are read)."""
    import numpy as np

    from artannot.vision.feature_store import FeatureStore

    missing = []
    if not (Path(store_dir) / "index.sqlite").exists():
        return sorted(ids)
    with FeatureStore(store_dir, readonly=True) as store:
        for artwork_id in ids:
            try:
                rs = store.get(artwork_id)
                np.asarray(rs.features).sum()
                np.asarray(rs.whole_image_feature).sum()
            except (KeyError, OSError, ValueError):
                missing.append(artwork_id)
    return missing


def missing_judgements(root: Path, acked: Iterable[int], artwork_id: str) -> int:
    """How many acknowledged judgements of the curate workload are not in the store."""
    from artannot.core.judgements_store import JudgementStore
    from tests.faults.harness import judgement

    with JudgementStore(root) as store:
        have = {j.key() for j in store.all()}
    return sum(1 for n in acked if judgement(artwork_id, n).key() not in have)
