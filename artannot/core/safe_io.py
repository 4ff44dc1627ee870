"""Crash-safe file writes: a reader sees either the old file or the new one, never half of one."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from artannot.core.model import FileStamp


def stamp_of(path: Path, data: bytes | None = None) -> FileStamp:
    """Fingerprint of a file as it is now (size, mtime and content hash)."""
    st = path.stat()
    if data is None:
        data = path.read_bytes()
    return FileStamp(size=st.st_size, mtime_ns=st.st_mtime_ns, sha256=hashlib.sha256(data).hexdigest())


def changed_since(path: Path, stamp: FileStamp) -> bool:
    """True when the file's content differs from what the stamp recorded (a missing file counts)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return True
    if st.st_size != stamp.size:
        return True
    # Same size: compare content even when the mtime matches -- coarse mtime clocks (FAT, SMB,
    # HFS+) and tools that restore mtimes would otherwise hide an edit by someone else.
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() != stamp.sha256
    except OSError:
        return True


def fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable, where the platform allows opening folders."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # some platforms cannot open directories; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_writer(path: Path) -> Iterator[BinaryIO]:
    """A binary file that replaces ``path`` only if the ``with`` block completes.

    Writes go to a temp file in the same folder; on success it is fsynced and renamed over
    ``path`` (keeping the old file's permissions), so readers never see half a file.
    """
    path = Path(path)
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        if path.exists():
            shutil.copymode(path, tmp)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(directory)


def atomic_write(path: Path, data: bytes, *, backup: bool = True) -> Path | None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_writer`).

    With ``backup`` the previous content is kept as ``<name>.bak`` (itself replaced atomically).
    Returns the backup path, if one was made.
    """
    path = Path(path)
    backup_path: Path | None = None
    if backup and path.exists():
        backup_path = path.with_name(path.name + ".bak")
        fd, tmp_bak = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".bak.tmp", dir=path.parent)
        os.close(fd)
        try:
            shutil.copy2(path, tmp_bak)
            os.replace(tmp_bak, backup_path)
        except BaseException:
            Path(tmp_bak).unlink(missing_ok=True)
            raise
    with atomic_writer(path) as fh:
        fh.write(data)
    return backup_path
