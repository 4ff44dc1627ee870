"""Crash-safety files: the unsaved state of an annotation, written atomically.

The GUI writes the current VOC bytes of a dirty artwork here every few seconds and on
navigation; after a crash it offers to restore them.  Qt-free so it is testable alone.

File names are derived from the artwork id (a collection-relative, possibly unicode path):
a readable ASCII slug plus a sha1 of the id, so ``a/b.jpg`` and ``a_b.jpg`` never collide and
no id can escape the recovery folder.  The id itself is stored next to the data (``.id``) so
:func:`list_recovery` can give the original ids back.

When the collection's disk is full the copy cannot go next to the catalog, so
:func:`keep_recovery` falls back to spare folders elsewhere (the user's data folder, then the
temp folder), keyed by the catalog folder; reading, listing and clearing look in all of them.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import tempfile
from pathlib import Path

import platformdirs

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


def _private_temp_root(create: bool) -> Path | None:
    """``<tmp>/artannot-recovery-<uid>``, only if it is a real folder of ours (the temp folder is
    shared: another user's folder or a planted symlink must not receive a curator's work)."""
    uid = os.getuid() if hasattr(os, "getuid") else None
    root = Path(tempfile.gettempdir()) / f"artannot-recovery-{uid if uid is not None else 'user'}"
    try:
        if create:
            root.mkdir(mode=0o700, exist_ok=True)
        st = root.lstat()
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode) or (uid is not None and st.st_uid != uid):
        return None
    return root


def spare_dirs(data_dir: Path, *, create: bool = False) -> list[Path]:
    """Data folders used when ``data_dir`` cannot be written (a full disk): under the user's data
    folder, then the temp folder, each keyed by ``data_dir`` so collections never mix."""
    key = hashlib.sha1(str(Path(data_dir).resolve()).encode("utf-8")).hexdigest()[:16]
    roots = [Path(platformdirs.user_data_dir("artannot")) / "recovery-spare"]
    temp = _private_temp_root(create)
    if temp is not None:
        roots.append(temp)
    return [r / key for r in roots]


def _locations(data_dir: Path, *, create: bool = False) -> list[Path]:
    return [Path(data_dir), *spare_dirs(data_dir, create=create)]


def keep_recovery(data_dir: Path, artwork_id: str, annotation_xml: bytes) -> Path:
    """:func:`write_recovery` into ``data_dir``, or the first spare folder with room; returns the
    path written.  Raises the first ``OSError`` when no location could take it."""
    first: OSError | None = None
    for location in _locations(data_dir, create=True):
        try:
            path = write_recovery(location, artwork_id, annotation_xml)
        except OSError as exc:
            first = first or exc
            continue
        for other in _locations(data_dir):  # one current copy: an older one elsewhere would win on restore
            if other != location:
                try:
                    clear_recovery(other, artwork_id, spares=False)
                except OSError:  # best effort (an unlink needs no free space, so a full disk is fine)
                    pass
        return path
    assert first is not None
    raise first


def read_recovery(data_dir: Path, artwork_id: str) -> bytes | None:
    """The recovery bytes of ``artwork_id`` (from ``data_dir`` or a spare folder), or None."""
    for location in _locations(data_dir):
        try:
            return recovery_path(location, artwork_id).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            continue
    return None


def clear_recovery(data_dir: Path, artwork_id: str, *, spares: bool = True) -> None:
    """Forget the recovery copy (after a save, or when the user discards it), spares included."""
    for location in _locations(data_dir) if spares else [Path(data_dir)]:
        path = recovery_path(location, artwork_id)
        for p in (path, path.with_suffix(_ID_SUFFIX)):
            try:
                p.unlink()
            except (FileNotFoundError, NotADirectoryError):
                pass


def list_recovery(data_dir: Path) -> list[str]:
    """Artwork ids that have a recovery copy (in ``data_dir`` or a spare folder), sorted."""
    ids: set[str] = set()
    for location in _locations(data_dir):
        folder = recovery_dir(location)
        if not folder.is_dir():
            continue
        for data in folder.glob("*" + _DATA_SUFFIX):
            try:
                artwork_id = data.with_suffix(_ID_SUFFIX).read_text(encoding="utf-8")
            except (FileNotFoundError, UnicodeDecodeError):
                continue
            if recovery_path(location, artwork_id) == data:  # ignore stray or tampered files
                ids.add(artwork_id)
    return sorted(ids)
