"""Crash-safe file writes: a reader sees either the old file or the new one, never half of one."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from artannot.core.model import FileStamp

# What the writers here leave behind when a process dies mid-save: ``.<name>.<8 random>.tmp``
# (tempfile.mkstemp's random part), ``.bak.tmp`` for backups.
TEMP_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}(?:\.bak)?\.tmp$")
STALE_TEMP_SECONDS = 3600  # older than any save in progress


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


def writable_dir(folder: Path) -> bool:
    """Whether files can be created in ``folder`` (made if missing), by creating one.

    The probe has a name of its own: the GUI's workers ask at the same time, and with one
    shared name one thread's clean-up failed another's probe, which then chose a fallback
    folder (an empty catalog there, judgements in the wrong place).
    """
    try:
        folder.mkdir(exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=folder)
        os.close(fd)
        os.unlink(probe)
        return True
    except OSError:
        return False


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


def _name_target(exc: BaseException, path: Path) -> None:
    """Let an OSError name the file the caller asked for, not our temp file (or nothing)."""
    if isinstance(exc, OSError) and (exc.filename is None or TEMP_NAME.match(Path(str(exc.filename)).name)):
        exc.filename = str(path)


def _mkstemp(path: Path, suffix: str = ".tmp") -> tuple[int, str]:
    """A temp file next to ``path`` named by :data:`TEMP_NAME`; a failure names ``path``."""
    try:
        return tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    except OSError as exc:
        _name_target(exc, path)
        raise


@dataclass
class _Staged:
    tmp: Path
    fh: BinaryIO | None = None


@contextmanager
def _staging(path: Path) -> Iterator[_Staged]:
    """A temp file next to ``path``: written in the block, then fsynced and given the
    permissions ``path`` will have; removed (and the error named after ``path``) if anything fails."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _mkstemp(path)
    staged = _Staged(Path(tmp))
    try:
        with os.fdopen(fd, "wb") as fh:
            staged.fh = fh
            yield staged
            fh.flush()
            os.fsync(fh.fileno())
        if path.exists():
            shutil.copymode(path, tmp)
        else:
            os.chmod(tmp, 0o644)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        _name_target(exc, path)
        raise


@contextmanager
def atomic_writer(path: Path) -> Iterator[BinaryIO]:
    """A binary file that replaces ``path`` only if the ``with`` block completes.

    Writes go to a temp file in the same folder; on success it is fsynced and renamed over
    ``path`` (keeping the old file's permissions), so readers never see half a file.
    """
    path = Path(path)
    with _staging(path) as staged:
        yield staged.fh  # type: ignore[misc]
    try:
        os.replace(staged.tmp, path)
    except BaseException as exc:
        staged.tmp.unlink(missing_ok=True)
        _name_target(exc, path)
        raise
    fsync_dir(path.parent)


def atomic_write(path: Path, data: bytes, *, backup: bool = True) -> Path | None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_writer`).

    With ``backup`` the previous content is kept as ``<name>.bak`` (itself replaced atomically).
    Returns the backup path, if one was made.
    """
    path = Path(path)
    backup_path = _backup(path) if backup and path.exists() else None
    with atomic_writer(path) as fh:
        fh.write(data)
    return backup_path


def _backup(path: Path) -> Path:
    """Copy ``path`` to ``<name>.bak`` (replacing the old backup atomically)."""
    backup_path = path.with_name(path.name + ".bak")
    fd, tmp_bak = _mkstemp(path, ".bak.tmp")
    os.close(fd)
    try:
        shutil.copy2(path, tmp_bak)
        os.replace(tmp_bak, backup_path)
    except BaseException as exc:
        Path(tmp_bak).unlink(missing_ok=True)
        _name_target(exc, backup_path)
        raise
    return backup_path


def _stage(path: Path, data: bytes) -> Path:
    """``data`` in a fsynced temp file next to ``path``, with the permissions ``path`` will have."""
    with _staging(path) as staged:
        staged.fh.write(data)  # type: ignore[union-attr]
    return staged.tmp


def _put_back(backup_path: Path, path: Path) -> None:
    """Restore ``path`` from its backup without needing free space (a hard link), keeping the backup."""
    fd, tmp = _mkstemp(path)
    os.close(fd)
    os.unlink(tmp)
    try:
        os.link(backup_path, tmp)
    except OSError:  # no hard links here: a copy, which is the best left to try
        shutil.copy2(backup_path, tmp)
    os.replace(tmp, path)


def write_all(files: Mapping[Path, bytes]) -> list[Path]:
    """Write several files so that all of them change or none does; replaced ones keep a ``.bak``.

    Everything is staged (written and fsynced next to its target) before anything is
    replaced, so a full disk fails while the collection is untouched.  Should a rename still
    fail midway, the files already replaced are put back from their backups and files that
    did not exist are removed again.  Returns the paths written.
    """
    targets = [Path(p) for p in files]
    staged: dict[Path, Path] = {}
    try:
        for path in targets:
            staged[path] = _stage(path, files[path])
        backups = {p: _backup(p) for p in targets if p.exists()}
        done: list[Path] = []
        try:
            for path in targets:
                try:
                    os.replace(staged[path], path)
                except OSError as exc:
                    _name_target(exc, path)
                    raise
                done.append(path)
        except BaseException:
            for path in reversed(done):
                if path in backups:
                    _put_back(backups[path], path)
                else:
                    path.unlink(missing_ok=True)
            raise
    finally:
        for tmp in staged.values():
            tmp.unlink(missing_ok=True)
    for directory in {p.parent for p in targets}:
        fsync_dir(directory)
    return targets


def remove_stale_temps(folder: Path, max_age: float = STALE_TEMP_SECONDS) -> list[Path]:
    """Delete this module's own temp files below ``folder`` older than ``max_age`` seconds:
    leftovers of interrupted saves.  Only names of our pattern, only plain files (symlinks are
    neither followed nor removed), and only old ones, so a save running in another process
    right now is never touched."""
    removed: list[Path] = []
    cutoff = time.time() - max_age
    for directory, _dirs, names in os.walk(folder):
        for name in names:
            if not TEMP_NAME.match(name):
                continue
            path = Path(directory, name)
            try:
                st = path.lstat()
                if stat.S_ISREG(st.st_mode) and st.st_mtime < cutoff:
                    path.unlink()
                    removed.append(path)
            except OSError:  # gone meanwhile, or not ours to delete: leave it
                continue
    return removed
