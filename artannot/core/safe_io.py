"""Crash-safe file writes: a reader sees either the old file or the new one, never half of one."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

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


def _fsync_dir(directory: Path) -> None:
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


def atomic_write(path: Path, data: bytes, *, backup: bool = True) -> Path | None:
    """Write ``data`` to ``path`` via a temp file in the same folder, fsync and rename.

    With ``backup`` the previous content is kept as ``<name>.bak`` (itself replaced atomically).
    Returns the backup path, if one was made.
    """
    path = Path(path)
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    backup_path: Path | None = None
    if backup and path.exists():
        backup_path = path.with_name(path.name + ".bak")
        fd, tmp_bak = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".bak.tmp", dir=directory)
        os.close(fd)
        try:
            shutil.copy2(path, tmp_bak)
            os.replace(tmp_bak, backup_path)
        except BaseException:
            Path(tmp_bak).unlink(missing_ok=True)
            raise
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if path.exists():  # keep the permissions the user gave the file
            shutil.copymode(path, tmp)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(directory)
    return backup_path
