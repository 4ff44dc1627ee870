"""atomic_write / stamp_of / changed_since."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from artannot.core import safe_io
from artannot.core.safe_io import atomic_write, changed_since, stamp_of


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_new_file_no_backup(tmp_path):
    target = tmp_path / "deep" / "er" / "f.xml"
    assert atomic_write(target, b"one") is None
    assert target.read_bytes() == b"one"
    assert names(target.parent) == ["f.xml"]


def test_overwrite_keeps_backup_and_permissions(tmp_path):
    target = tmp_path / "f.xml"
    target.write_bytes(b"old")
    os.chmod(target, 0o600)
    bak = atomic_write(target, b"new")
    assert bak == tmp_path / "f.xml.bak" and bak.read_bytes() == b"old"
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    atomic_write(target, b"newer")
    assert bak.read_bytes() == b"new"
    assert names(tmp_path) == ["f.xml", "f.xml.bak"]
    assert atomic_write(target, b"no backup", backup=False) is None
    assert bak.read_bytes() == b"new"


def test_write_goes_through_temp_file_in_same_folder_and_fsyncs(tmp_path, monkeypatch):
    target = tmp_path / "f.xml"
    calls: list[tuple[str, str]] = []
    real_replace, real_fsync = os.replace, os.fsync
    monkeypatch.setattr(os, "replace", lambda s, d: (calls.append(("replace", str(s), str(d))), real_replace(s, d))[1])
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(("fsync",)), real_fsync(fd))[1])
    atomic_write(target, b"data", backup=False)
    replaces = [c for c in calls if c[0] == "replace"]
    assert len(replaces) == 1
    src, dst = Path(replaces[0][1]), Path(replaces[0][2])
    assert dst == target and src.parent == tmp_path and src != target
    assert calls.index(("fsync",)) < calls.index(replaces[0])  # data durable before the rename


@pytest.mark.parametrize("fail_on", ["backup", "final"])
def test_failed_replace_leaves_old_content_and_no_temp(tmp_path, monkeypatch, fail_on):
    target = tmp_path / "f.xml"
    target.write_bytes(b"precious")
    real = os.replace

    def replace(src, dst):
        is_bak = str(dst).endswith(".bak")
        if (fail_on == "backup") == is_bak:
            raise OSError(28, "disk full")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError):
        atomic_write(target, b"garbage")
    assert target.read_bytes() == b"precious"
    assert set(names(tmp_path)) <= {"f.xml", "f.xml.bak"}


def test_failed_write_leaves_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "f.xml"
    target.write_bytes(b"precious")

    class Boom(Exception):
        pass

    def fail(fd):
        raise Boom

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(Boom):  # even non-OSError exceptions clean up
        atomic_write(target, b"garbage", backup=False)
    assert target.read_bytes() == b"precious"
    assert names(tmp_path) == ["f.xml"]


def test_stamp_and_changed_since(tmp_path):
    f = tmp_path / "a.txt"
    f.write_bytes(b"hello")
    st = stamp_of(f)
    assert st.size == 5 and len(st.sha256) == 64
    assert not changed_since(f, st)
    os.utime(f, ns=(1, 1_000_000_000))  # touched, same content: not a change
    assert not changed_since(f, st)
    f.write_bytes(b"hellO")
    assert changed_since(f, st)
    f.write_bytes(b"hello!")
    assert changed_since(f, st)
    f.unlink()
    assert changed_since(f, st)


def test_stamp_of_uses_given_bytes(tmp_path):
    f = tmp_path / "a.txt"
    f.write_bytes(b"abc")
    assert stamp_of(f, b"abc") == stamp_of(f)
    assert safe_io.stamp_of(f, b"xyz").sha256 != stamp_of(f).sha256
