"""Recovery copies when the collection's disk is full: written to a spare folder, found, cleared."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from artannot.core import recovery
from tests.disk_full import enospc


@pytest.fixture
def spare_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    return tmp_path


def _disk_full_under(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = recovery.atomic_write

    def write(path, *args, **kwargs):
        if Path(path).is_relative_to(folder):
            raise enospc(path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(recovery, "atomic_write", write)


def test_keep_recovery_falls_back_then_clears_everywhere(spare_home: Path, monkeypatch) -> None:
    data_dir = spare_home / "coll" / ".artannot"
    recovery.write_recovery(data_dir, "a.jpg", b"<annotation>old</annotation>")
    _disk_full_under(spare_home / "coll", monkeypatch)
    path = recovery.keep_recovery(data_dir, "a.jpg", b"<annotation>new</annotation>")
    assert path.is_relative_to(spare_home / "home")
    # The older copy next to the catalog is gone, so a restore finds the newest edits.
    assert recovery.read_recovery(data_dir, "a.jpg") == b"<annotation>new</annotation>"
    assert recovery.list_recovery(data_dir) == ["a.jpg"]
    recovery.clear_recovery(data_dir, "a.jpg")
    assert recovery.read_recovery(data_dir, "a.jpg") is None and recovery.list_recovery(data_dir) == []


def test_keep_recovery_uses_the_temp_folder_last_and_raises_when_nothing_has_room(spare_home: Path,
                                                                                  monkeypatch) -> None:
    data_dir = spare_home / "coll" / ".artannot"
    _disk_full_under(spare_home / "coll", monkeypatch)
    (spare_home / "home").write_text("not a folder")  # the user data folder cannot be created
    path = recovery.keep_recovery(data_dir, "a.jpg", b"<annotation/>")
    assert path.is_relative_to(spare_home / "tmp")
    _disk_full_under(spare_home, monkeypatch)
    with pytest.raises(OSError):
        recovery.keep_recovery(data_dir, "b.jpg", b"<annotation/>")


def test_a_temp_folder_that_is_a_symlink_is_not_used(spare_home: Path, monkeypatch) -> None:
    import os

    elsewhere = spare_home / "elsewhere"
    elsewhere.mkdir()
    (spare_home / "tmp" / f"artannot-recovery-{os.getuid()}").symlink_to(elsewhere)
    assert all(not d.is_relative_to(spare_home / "tmp") for d in recovery.spare_dirs(spare_home / "d", create=True))
