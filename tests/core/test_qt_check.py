"""Before Qt starts: a missing system library for the platform plugin gets a clear answer
(which packages, apt and dnf) instead of Qt's abort; `artannot doctor` checks the machine."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from artannot import qt_check
from artannot.cli import app

LDD = """\tlinux-vdso.so.1 (0x00007ffd)
\tlibxcb-cursor.so.0 => not found
\tlibxcb-icccm.so.4 => not found
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x00007f)
\tlibEGL.so.1 => not found
"""


def test_missing_libraries_are_read_from_ldd_and_named_as_packages():
    missing = qt_check.missing_libraries(LDD)
    assert missing == ["libxcb-cursor.so.0", "libxcb-icccm.so.4", "libEGL.so.1"]
    apt, dnf = qt_check.packages_for(missing)
    assert apt[:3] == ("libxcb-cursor0", "libxcb-icccm4", "libegl1")
    assert "libxcb-keysyms1" in apt  # the whole xcb set Qt documents, not only the first miss
    assert dnf == ("xcb-util-cursor", "xcb-util-wm", "libglvnd-egl")


def test_check_explains_what_to_install():
    res = qt_check.check_qt({"DISPLAY": ":0"}, run_ldd=lambda path: LDD)
    assert not res.ok and res.platform == "xcb"
    msg = res.message()
    assert "sudo apt-get install libxcb-cursor0 libxcb-icccm4 libegl1" in msg
    assert "sudo dnf install xcb-util-cursor xcb-util-wm libglvnd-egl" in msg
    assert "xvfb-run" in msg
    ok = qt_check.check_qt({"DISPLAY": ":0"}, run_ldd=lambda path: "\tlibc.so.6 => /lib/libc.so.6\n")
    assert ok.ok
    assert qt_check.check_qt({"QT_QPA_PLATFORM": "offscreen"}, run_ldd=lambda p: LDD).ok
    assert qt_check.wanted_platform({"WAYLAND_DISPLAY": "wayland-0"}) == "wayland"


def test_gui_command_stops_before_qt_with_the_answer(monkeypatch):
    bad = qt_check.QtCheck(False, "xcb", ("libxcb-cursor.so.0",), apt=("libxcb-cursor0",),
                           dnf=("xcb-util-cursor",))
    monkeypatch.setattr(qt_check, "check_qt", lambda: bad)
    r = CliRunner().invoke(app, ["gui"])
    assert r.exit_code == 2
    assert "libxcb-cursor0" in r.output and "cannot open" in r.output


def test_doctor_reports_each_check_and_fails_on_a_problem(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    r = CliRunner().invoke(app, ["doctor", str(tmp_path)])
    assert r.exit_code == 0, r.output
    for what in ("Qt platform", "spaCy model", "model all_minilm_l6_v2", "GPU",
                 "write access: collection data", "free disk"):
        assert what in r.output
    assert "all checks passed" in r.output
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("ARTANNOT_MODELS_DIR", str(blocker / "models"))
    r = CliRunner().invoke(app, ["doctor"])
    assert r.exit_code == 1
    assert "[FAIL] write access: user models folder" in r.output
