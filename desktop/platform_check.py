"""Whether Qt's X11 (xcb) platform plugin can load on this machine, asked before Qt is.

Without the plugin's system libraries Qt aborts with "no Qt platform plugin could be
initialized". This module runs `ldd` on PySide6's own `libqxcb.so`, so it lists exactly the
libraries that plugin lacks here, and names the one command that installs them. It imports no
Qt, so `make run` (`python -m desktop.platform_check`) and the app's `main` can both ask.
packaging/install.sh does the same for the app bundle in shell, with the same package table.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SystemPackage:
    """The distribution packages that provide one shared library."""

    debian: str
    fedora: str


# The libraries libqxcb.so loads that a desktop install may lack (`ldd` on PySide6 6.x); the
# first three are the ones a fresh Debian machine lacks.
PACKAGES: dict[str, SystemPackage] = {
    "libxcb-cursor.so.0": SystemPackage("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": SystemPackage("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-keysyms.so.1": SystemPackage("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-image.so.0": SystemPackage("libxcb-image0", "xcb-util-image"),
    "libxcb-render-util.so.0": SystemPackage("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-util.so.1": SystemPackage("libxcb-util1", "xcb-util"),
    "libxcb-randr.so.0": SystemPackage("libxcb-randr0", "libxcb"),
    "libxcb-render.so.0": SystemPackage("libxcb-render0", "libxcb"),
    "libxcb-shape.so.0": SystemPackage("libxcb-shape0", "libxcb"),
    "libxcb-shm.so.0": SystemPackage("libxcb-shm0", "libxcb"),
    "libxcb-sync.so.1": SystemPackage("libxcb-sync1", "libxcb"),
    "libxcb-xfixes.so.0": SystemPackage("libxcb-xfixes0", "libxcb"),
    "libxcb-xkb.so.1": SystemPackage("libxcb-xkb1", "libxcb"),
    "libxcb.so.1": SystemPackage("libxcb1", "libxcb"),
    "libX11-xcb.so.1": SystemPackage("libx11-xcb1", "libX11-xcb"),
    "libX11.so.6": SystemPackage("libx11-6", "libX11"),
    "libxkbcommon-x11.so.0": SystemPackage("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libxkbcommon.so.0": SystemPackage("libxkbcommon0", "libxkbcommon"),
    "libGL.so.1": SystemPackage("libgl1", "libglvnd-glx"),
    "libEGL.so.1": SystemPackage("libegl1", "libglvnd-egl"),
    "libfontconfig.so.1": SystemPackage("libfontconfig1", "fontconfig"),
    "libfreetype.so.6": SystemPackage("libfreetype6", "freetype"),
    "libdbus-1.so.3": SystemPackage("libdbus-1-3", "dbus-libs"),
}

INSTALL_COMMANDS = {"debian": "sudo apt-get install", "fedora": "sudo dnf install"}
FAMILIES = {"debian": "debian", "ubuntu": "debian", "fedora": "fedora", "rhel": "fedora"}


def uses_xcb(environ: Mapping[str, str], platform: str = sys.platform) -> bool:
    """Whether Qt would load the xcb plugin first, as QGuiApplication chooses it.

    An explicit QT_QPA_PLATFORM decides ("xcb", or a list starting with it); otherwise Qt 6
    prefers Wayland in a Wayland session and falls back to xcb everywhere else on Linux."""
    if not platform.startswith("linux"):
        return False
    chosen = environ.get("QT_QPA_PLATFORM", "").strip()
    if chosen:
        return chosen.split(";")[0].split(":")[0] == "xcb"
    wayland = environ.get("WAYLAND_DISPLAY") or environ.get("XDG_SESSION_TYPE") == "wayland"
    return not wayland


def find_xcb_plugin() -> Path | None:
    """PySide6's libqxcb.so, found without importing Qt (also inside the PyInstaller bundle)."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        plugin = Path(folder) / "Qt" / "plugins" / "platforms" / "libqxcb.so"
        if plugin.is_file():
            return plugin
    return None


def run_ldd(library: Path) -> str:
    """`ldd`'s report on a library; empty where there is no ldd (musl) or it fails."""
    try:
        done = subprocess.run(
            ["ldd", str(library)], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout


def parse_not_found(ldd_output: str) -> list[str]:
    """The sonames ldd marks `not found`, once each, in its order."""
    missing: list[str] = []
    for line in ldd_output.splitlines():
        name, arrow, place = line.strip().partition("=>")
        if arrow and place.strip() == "not found" and name.strip() not in missing:
            missing.append(name.strip())
    return missing


def distro_family(os_release: Path = Path("/etc/os-release")) -> str | None:
    """The distribution family, "debian" or "fedora", from os-release's ID and ID_LIKE."""
    try:
        lines = os_release.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    fields = dict(line.partition("=")[::2] for line in lines if "=" in line)
    names = f"{fields.get('ID', '')} {fields.get('ID_LIKE', '')}".replace('"', "").split()
    return next((FAMILIES[name] for name in names if name in FAMILIES), None)


def install_lines(missing: Sequence[str], family: str | None) -> list[str]:
    """The install command for this distribution, or both when it is not known."""
    families = [family] if family else list(INSTALL_COMMANDS)
    lines = []
    for name in families:
        packages = dict.fromkeys(
            getattr(PACKAGES[soname], name) for soname in missing if soname in PACKAGES
        )
        if packages:
            label = "" if family else f"{name.capitalize()}: "
            lines.append(f"{label}{INSTALL_COMMANDS[name]} {' '.join(packages)}")
    return lines


def explain(missing: Sequence[str], family: str | None) -> str:
    """What the user reads: which libraries are missing and the line that installs them."""
    text = (
        "Hearth's window cannot open: Qt's X11 (xcb) platform needs system libraries that "
        f"this machine lacks: {', '.join(missing)}."
    )
    lines = install_lines(missing, family)
    if not lines:
        return f"{text}\nInstall the packages of your distribution that provide them."
    return "\n".join([text, "Install them with:", *(f"  {line}" for line in lines)])


def xcb_problem(
    environ: Mapping[str, str],
    plugin: Path | None = None,
    ldd: Callable[[Path], str] = run_ldd,
    os_release: Path = Path("/etc/os-release"),
) -> str | None:
    """The message to show instead of Qt's abort, or None when the window can open (or Qt
    would not use xcb, or there is no plugin or ldd to ask)."""
    if not uses_xcb(environ):
        return None
    plugin = plugin or find_xcb_plugin()
    if plugin is None:
        return None
    missing = parse_not_found(ldd(plugin))
    return explain(missing, distro_family(os_release)) if missing else None


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m desktop.platform_check`: status 1 and the install line when libraries are
    missing, 0 otherwise."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plugin", type=Path, help="the libqxcb.so to check (default PySide6's)")
    args = parser.parse_args(argv)
    problem = xcb_problem(os.environ, args.plugin)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
