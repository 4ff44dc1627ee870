"""Simulated full disks for tests: writes fail with ENOSPC the way the kernel reports it."""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

import pytest


def enospc(path: Path | str | None = None) -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), None if path is None else str(path))


class _FullFile:
    """A file open for writing on a full disk: every write fails (as ``write(2)`` does)."""

    def __init__(self, fh) -> None:
        self._fh = fh

    def write(self, data) -> int:
        raise enospc()

    def __getattr__(self, name: str):
        return getattr(self._fh, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self._fh.close()


class _OsOnFullDisk:
    """``os`` as :mod:`artannot.core.safe_io` sees it on a full disk; ``replace_fails_at`` makes
    the n-th rename fail instead (0-based), to test what happens between two renames."""

    def __init__(self, *, writes: bool, replace_fails_at: int | None) -> None:
        self._writes, self._fail_at, self.replaces = writes, replace_fails_at, 0

    def fdopen(self, fd, mode="r", *args, **kwargs):
        fh = os.fdopen(fd, mode, *args, **kwargs)
        return _FullFile(fh) if self._writes and "w" in mode else fh

    def replace(self, src, dst, *args, **kwargs):
        n, self.replaces = self.replaces, self.replaces + 1
        if self._fail_at is not None and n == self._fail_at:
            raise enospc(dst)
        return os.replace(src, dst, *args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(os, name)


def fill_disk(monkeypatch: pytest.MonkeyPatch, *, writes: bool = True,
              replace_fails_at: int | None = None) -> _OsOnFullDisk:
    """Every file written through ``artannot.core.safe_io`` fails with ENOSPC."""
    from artannot.core import safe_io

    fake = _OsOnFullDisk(writes=writes, replace_fails_at=replace_fails_at)
    monkeypatch.setattr(safe_io, "os", fake)
    return fake


def fill_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    """The catalog database cannot grow: SQLite answers "database or disk is full"."""
    from artannot.core import catalog

    real = catalog._connect

    def connect(*args, **kwargs) -> sqlite3.Connection:
        conn = real(*args, **kwargs)
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count={pages}")
        return conn

    monkeypatch.setattr(catalog, "_connect", connect)


def temp_files(folder: Path) -> list[Path]:
    """Temp files of artannot's writers left below ``folder``."""
    return sorted(p for p in Path(folder).rglob(".*.tmp"))
