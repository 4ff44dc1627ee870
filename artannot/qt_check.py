"""Can Qt open a window here? Checked before Qt starts, without importing it.

On a fresh Debian/Ubuntu desktop the xcb platform plugin that PySide6 ships cannot load
because system libraries are missing (``libxcb-cursor0`` and friends); Qt then aborts with
"could not load the Qt platform plugin xcb", which tells a curator nothing. This module asks
the dynamic linker (``ldd``) which libraries the plugin lacks and names the packages that
provide them, for apt and dnf.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

# Shared library -> (Debian/Ubuntu package, Fedora/RHEL package).
PACKAGES: dict[str, tuple[str, str]] = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb"),
    "libxcb-xinerama.so.0": ("libxcb-xinerama0", "libxcb"),
    "libxcb-xinput.so.0": ("libxcb-xinput0", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb"),
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libX11.so.6": ("libx11-6", "libX11"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libGL.so.1": ("libgl1", "libglvnd-glx"),
    "libOpenGL.so.0": ("libopengl0", "libglvnd-opengl"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2"),
}
# Always recommended together: Qt's documented xcb requirements.
XCB_SET = ("libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1", "libxcb-image0",
           "libxcb-render-util0", "libxcb-shape0", "libxcb-randr0", "libxcb-xkb1",
           "libxkbcommon-x11-0")

_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found", re.MULTILINE)


@dataclass(frozen=True)
class QtCheck:
    ok: bool
    platform: str
    missing: tuple[str, ...] = ()
    detail: str = ""
    apt: tuple[str, ...] = field(default=())
    dnf: tuple[str, ...] = field(default=())

    def message(self) -> str:
        """What to tell the user when the window cannot open."""
        if self.ok:
            return f"Qt platform '{self.platform}': ok"
        lines = [f"The desktop window cannot open: Qt's '{self.platform}' platform plugin "
                 "needs system libraries that are missing:", "  " + ", ".join(self.missing)]
        if self.apt:
            lines += ["Install them (Debian/Ubuntu):",
                      "  sudo apt-get install " + " ".join(self.apt),
                      "or (Fedora/RHEL):", "  sudo dnf install " + " ".join(self.dnf)]
        if self.detail:
            lines.append(self.detail)
        lines.append("Without a display: QT_QPA_PLATFORM=offscreen, or xvfb-run make run.")
        return "\n".join(lines)


def missing_libraries(ldd_output: str) -> list[str]:
    """Library names that ``ldd`` reports as "not found"."""
    return list(dict.fromkeys(_NOT_FOUND.findall(ldd_output)))


def packages_for(missing: list[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """apt and dnf package names for missing libraries (unknown ones: by their own name)."""
    apt = [PACKAGES.get(lib, (lib, lib))[0] for lib in missing]
    dnf = [PACKAGES.get(lib, (lib, lib))[1] for lib in missing]
    if any(lib.startswith("libxcb") or lib.startswith("libxkbcommon") for lib in missing):
        apt += list(XCB_SET)  # one missing usually means the whole set is
    return tuple(dict.fromkeys(apt)), tuple(dict.fromkeys(dnf))


def platform_plugin(platform: str) -> Path | None:
    """PySide6's plugin library for ``platform``, found without importing Qt."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    lib = Path(next(iter(spec.submodule_search_locations))) / "Qt" / "plugins" / "platforms"
    path = lib / f"libq{platform}.so"
    return path if path.is_file() else None


def wanted_platform(environ: dict[str, str] | os._Environ[str] = os.environ) -> str:
    """The platform Qt will use: QT_QPA_PLATFORM, else xcb on X11 / wayland on Wayland."""
    explicit = environ.get("QT_QPA_PLATFORM", "").split(":")[0].split(";")[0].strip()
    if explicit:
        return explicit
    if environ.get("WAYLAND_DISPLAY") and not environ.get("DISPLAY"):
        return "wayland"
    return "xcb"


def check_qt(environ: dict[str, str] | os._Environ[str] = os.environ,
             run_ldd=None) -> QtCheck:
    """Whether the Qt platform plugin can load; Linux only (elsewhere Qt ships what it needs)."""
    platform = wanted_platform(environ)
    if not sys.platform.startswith("linux") or platform in ("offscreen", "minimal", "vnc"):
        return QtCheck(True, platform)
    plugin = platform_plugin(platform)
    if plugin is None:
        return QtCheck(False, platform, detail=f"PySide6 has no '{platform}' platform plugin; "
                       "reinstall with `make clean run`")
    if run_ldd is None:
        if shutil.which("ldd") is None:
            return QtCheck(True, platform, detail="ldd not available: not checked")

        def run_ldd(path: Path) -> str:
            return subprocess.run(["ldd", str(path)], capture_output=True, text=True,
                                  timeout=30).stdout
    missing = missing_libraries(run_ldd(plugin))
    if not missing:
        return QtCheck(True, platform)
    apt, dnf = packages_for(missing)
    return QtCheck(False, platform, tuple(missing), apt=apt, dnf=dnf)
