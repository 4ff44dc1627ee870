"""Recovery files: atomic, unicode-safe ids, list/read/clear."""

from __future__ import annotations

from artannot.core.recovery import (
    clear_recovery,
    list_recovery,
    read_recovery,
    recovery_path,
    write_recovery,
)


def test_roundtrip_with_unicode_ids(tmp_path):
    ids = ["egypt/statuette de chat – Ṭāhā.jpg", "中国/青铜器 01.jpg", "a/b.jpg", "a_b.jpg", "../../etc/passwd"]
    for n, artwork_id in enumerate(ids):
        path = write_recovery(tmp_path, artwork_id, f"<annotation>{n}</annotation>".encode())
        assert path.parent == tmp_path / "recovery"  # nothing escapes the folder
        assert path.name.isascii()
    assert list_recovery(tmp_path) == sorted(ids)
    assert read_recovery(tmp_path, ids[1]) == b"<annotation>1</annotation>"
    assert recovery_path(tmp_path, "a/b.jpg") != recovery_path(tmp_path, "a_b.jpg")
    write_recovery(tmp_path, ids[1], b"<annotation>new</annotation>")  # overwrite in place
    assert read_recovery(tmp_path, ids[1]) == b"<annotation>new</annotation>"
    clear_recovery(tmp_path, ids[1])
    clear_recovery(tmp_path, ids[1])  # idempotent
    assert read_recovery(tmp_path, ids[1]) is None
    assert ids[1] not in list_recovery(tmp_path)
    assert not list((tmp_path / "recovery").glob(".tmp-*"))  # no temp files left behind


def test_empty_and_stray_files(tmp_path):
    assert list_recovery(tmp_path) == []
    assert read_recovery(tmp_path, "x.jpg") is None
    (tmp_path / "recovery").mkdir()
    (tmp_path / "recovery" / "junk.xml").write_bytes(b"<x/>")
    assert list_recovery(tmp_path) == []
