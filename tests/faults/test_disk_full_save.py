"""A VOC save on a full disk (ENOSPC, simulated where the kernel would report it): the previous
file stays byte for byte, its backup too, no temp file is left, and the error names the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.disk_full import fill_disk, temp_files
from tests.faults.checks import VocChain, make_voc_target
from tests.faults.harness import label_for, next_version


@pytest.mark.parametrize("where", ["write", "backup rename", "final rename"])
def test_full_disk_keeps_the_previous_voc_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               where: str) -> None:
    from artannot.core.voc import read_voc, save_voc

    chain = VocChain(tmp_path / "scratch")
    target = make_voc_target(tmp_path / "annotations" / "a.xml")
    next_version(target)  # version 1 on disk, version 0 in the backup
    ann = read_voc(target)
    bak = target.with_name(target.name + ".bak")
    before, backup_before = target.read_bytes(), bak.read_bytes()
    assert chain.version(before) == 1 and chain.version(backup_before) == 0

    ann.regions[0].phrase = label_for(2) + " — ünsaved"
    if where == "write":
        fill_disk(monkeypatch)
    else:
        fill_disk(monkeypatch, writes=False, replace_fails_at=0 if where == "backup rename" else 1)
    with pytest.raises(OSError) as info:
        save_voc(ann)
    assert info.value.filename in (str(target), str(bak))  # the user's file, not a temp name
    assert "No space left" in str(info.value)
    assert target.read_bytes() == before
    assert chain.version(bak.read_bytes()) in (0, 1)  # replaced whole, or not at all
    assert temp_files(tmp_path / "annotations") == []
    assert ann.regions[0].phrase.endswith("ünsaved")  # the edit is still in memory to retry
