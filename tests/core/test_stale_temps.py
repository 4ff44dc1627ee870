"""Temp files of interrupted saves are cleaned when the collection is opened (issue 15, defect 9),
and several files are written all-or-nothing (``write_all``)."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import pytest

from artannot.core import safe_io
from artannot.core.catalog import Catalog
from artannot.core.recovery import recovery_dir
from artannot.core.safe_io import remove_stale_temps, write_all
from tests.disk_full import fill_disk, temp_files

HOUR = 3600


def _leftover(folder: Path, name: str, *, age: float, suffix: str = ".tmp") -> Path:
    """A temp file named exactly as an interrupted save leaves it, ``age`` seconds old."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=suffix, dir=folder)
    os.write(fd, b"<annotation>half")
    os.close(fd)
    then = time.time() - age
    os.utime(tmp, (then, then))
    return Path(tmp)


def test_opening_a_collection_removes_only_old_temp_files_of_ours(sample_copy: Path) -> None:
    ann = sample_copy / "annotations"
    old = [_leftover(ann, "hokusai_great_wave.xml", age=2 * HOUR) for _ in range(5)]
    old.append(_leftover(ann, "hokusai_great_wave.xml", age=2 * HOUR, suffix=".bak.tmp"))
    old.append(_leftover(ann / "sub", "x.xml", age=2 * HOUR))  # mirrored subfolders too
    fresh = _leftover(ann, "vangogh_starry_night.xml", age=60)  # a save in progress elsewhere
    others = [ann / ".notes.tmp", ann / "draft.tmp", ann / ".hokusai_great_wave.xml.swp"]
    for p in others:
        p.write_text("not ours")
        os.utime(p, (time.time() - 2 * HOUR,) * 2)
    link = ann / ".hokusai_great_wave.xml.abcdefgh.tmp"
    link.symlink_to(sample_copy / "annotations" / "hokusai_great_wave.xml")
    with Catalog.open(sample_copy, refresh=False) as cat:
        stale_recovery = _leftover(recovery_dir(cat.data_dir), "x-0123.xml", age=2 * HOUR)
    assert stale_recovery.exists()

    with Catalog.open(sample_copy, refresh=False):
        pass
    assert not any(p.exists() for p in old) and not stale_recovery.exists()
    assert fresh.exists() and all(p.exists() for p in others) and link.is_symlink()
    assert (sample_copy / "annotations" / "hokusai_great_wave.xml").exists()


def test_remove_stale_temps_on_a_missing_folder(tmp_path: Path) -> None:
    assert remove_stale_temps(tmp_path / "nope") == []


def test_write_all_replaces_every_file_and_keeps_backups(tmp_path: Path) -> None:
    a, b = tmp_path / "a.xml", tmp_path / "d" / "b.xml"
    a.write_bytes(b"old a")
    written = write_all({a: b"new a", b: b"new b"})
    assert written == [a, b] and a.read_bytes() == b"new a" and b.read_bytes() == b"new b"
    assert a.with_name("a.xml.bak").read_bytes() == b"old a"
    assert temp_files(tmp_path) == []


@pytest.mark.parametrize("fail_at", [1, 2])  # after 1 backup rename: the 1st or the 2nd replacement
def test_write_all_puts_back_what_it_replaced_when_a_rename_fails(tmp_path: Path, monkeypatch, fail_at: int) -> None:
    a, b, c = tmp_path / "a.xml", tmp_path / "b.xml", tmp_path / "c.xml"
    a.write_bytes(b"old a")
    fill_disk(monkeypatch, writes=False, replace_fails_at=fail_at)
    with pytest.raises(OSError) as err:
        write_all({a: b"new a", b: b"new b", c: b"new c"})
    assert err.value.filename in (str(a), str(b))
    assert a.read_bytes() == b"old a" and not b.exists() and not c.exists()
    assert temp_files(tmp_path) == []


def test_write_all_on_a_full_disk_touches_nothing(tmp_path: Path, monkeypatch) -> None:
    a = tmp_path / "a.xml"
    a.write_bytes(b"old a")
    fill_disk(monkeypatch)
    with pytest.raises(OSError):
        write_all({a: b"new a", tmp_path / "b.xml": b"new b"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.xml"] and a.read_bytes() == b"old a"


def test_atomic_write_error_names_the_target_not_the_temp_file(tmp_path: Path, monkeypatch) -> None:
    fill_disk(monkeypatch)
    with pytest.raises(OSError) as err:
        safe_io.atomic_write(tmp_path / "x.json", b"{}")
    assert err.value.filename == str(tmp_path / "x.json")
