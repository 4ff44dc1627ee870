"""Crash-safety files: the unsaved state of an annotation, written atomically.

The GUI writes the current VOC bytes of a dirty artwork here every few seconds and on
navigation; after a crash it offers to restore them.  Qt-free so it is testable alone.

File names are derived from the artwork id (a collection-relative, possibly unicode path):
a readable ASCII slug plus a sha1 of the id, so ``a/b.jpg`` and ``a_b.jpg`` never collide and
no id can escape the recovery folder.  The id itself is stored next to the data (``.id``) so
:func:`list_recovery` can give the original ids back.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from artannot.core.safe_io import atomic_write

RECOVERY_DIRNAME = "recovery"
_DATA_SUFFIX = ".xml"
_ID_SUFFIX = ".id"


def recovery_dir(data_dir: Path) -> Path:
    return Path(data_dir) / RECOVERY_DIRNAME


def _stem(artwork_id: str) -> str:
    digest = hashlib.sha1(artwork_id.encode("utf-8")).hexdigest()[:16]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", artwork_id).strip("._")[:60] or "artwork"
    return f"{slug}-{digest}"


def recovery_path(data_dir: Path, artwork_id: str) -> Path:
    """Where the recovery data of ``artwork_id`` lives (whether or not it exists)."""
    return recovery_dir(data_dir) / (_stem(artwork_id) + _DATA_SUFFIX)


def write_recovery(data_dir: Path, artwork_id: str, annotation_xml: bytes) -> Path:
    """Store ``annotation_xml`` as the recovery copy of ``artwork_id``; returns its path."""
    path = recovery_path(data_dir, artwork_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    # id first: a recovery file without its id would be invisible to list_recovery.
    atomic_write(path.with_suffix(_ID_SUFFIX), artwork_id.encode("utf-8"), backup=False)
    atomic_write(path, bytes(annotation_xml), backup=False)
    return path


def read_recovery(data_dir: Path, artwork_id: str) -> bytes | None:
    """The recovery bytes of ``artwork_id``, or None when there are none."""
    try:
        return recovery_path(data_dir, artwork_id).read_bytes()
    except FileNotFoundError:
        return None


def clear_recovery(data_dir: Path, artwork_id: str) -> None:
    """Forget the recovery copy (after a save, or when the user discards it)."""
    path = recovery_path(data_dir, artwork_id)
    for p in (path, path.with_suffix(_ID_SUFFIX)):
        try:
            p.unlink()
        except FileNotFoundError:
            pass


def list_recovery(data_dir: Path) -> list[str]:
    """Artwork ids that have a recovery copy, sorted."""
    folder = recovery_dir(data_dir)
    if not folder.is_dir():
        return []
    ids: list[str] = []
    for data in folder.glob("*" + _DATA_SUFFIX):
        try:
            artwork_id = data.with_suffix(_ID_SUFFIX).read_text(encoding="utf-8")
        except (FileNotFoundError, UnicodeDecodeError):
            continue
        if recovery_path(data_dir, artwork_id) == data:  # ignore stray or tampered files
            ids.append(artwork_id)
    return sorted(ids)
