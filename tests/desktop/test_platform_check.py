"""The check for Qt's xcb system libraries: parsing ldd, the install line, `make run` stopping
with it, and the bundle's install.sh warning with the same line; no root needed (a fake plugin
whose DT_NEEDED names a library no machine has, and a fake ldd on PATH)."""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from desktop import platform_check
from desktop.platform_check import (
    PACKAGES,
    distro_family,
    find_xcb_plugin,
    install_lines,
    parse_not_found,
    uses_xcb,
    xcb_problem,
)

ROOT = Path(__file__).resolve().parents[2]
ABSENT = "libhearth-absent.so.0"  # a soname no machine has
X11 = {"DISPLAY": ":99", "QT_QPA_PLATFORM": "xcb"}
# What ldd says about libqxcb.so on a fresh Debian 12 (abridged).
FRESH_DEBIAN_LDD = f"""\
\tlinux-vdso.so.1 (0x00007ffd)
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x00007f01)
\tlibxcb-cursor.so.0 => not found
\tlibxcb-icccm.so.4 => not found
\tlibxcb-util.so.1 => /lib/x86_64-linux-gnu/libxcb-util.so.1 (0x00007f02)
\tlibxcb-keysyms.so.1 => not found
\tlibxcb-cursor.so.0 => not found
\t{ABSENT} => not found
"""
DEBIAN_LINE = "sudo apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1"
FEDORA_LINE = "sudo dnf install xcb-util-cursor xcb-util-wm xcb-util-keysyms"


def os_release(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "os-release"
    path.write_text(text)
    return path


def test_fresh_debian_gets_the_one_apt_line(tmp_path):
    release = os_release(tmp_path, 'ID=debian\nVERSION_ID="12"\n')
    problem = xcb_problem(X11, Path("libqxcb.so"), lambda _: FRESH_DEBIAN_LDD, release)
    assert problem is not None
    assert f"libxcb-cursor.so.0, libxcb-icccm.so.4, libxcb-keysyms.so.1, {ABSENT}." in problem
    assert problem.splitlines()[-1] == f"  {DEBIAN_LINE}"
    assert "dnf" not in problem


def test_fedora_and_unknown_distributions(tmp_path):
    missing = parse_not_found(FRESH_DEBIAN_LDD)
    fedora = distro_family(os_release(tmp_path, 'ID=centos\nID_LIKE="rhel fedora"\n'))
    assert install_lines(missing, fedora) == [FEDORA_LINE]
    ubuntu = distro_family(os_release(tmp_path, "ID=ubuntu\nID_LIKE=debian\n"))
    assert install_lines(missing, ubuntu) == [DEBIAN_LINE]
    unknown = distro_family(os_release(tmp_path, "ID=arch\n"))
    assert install_lines(missing, unknown) == [f"Debian: {DEBIAN_LINE}", f"Fedora: {FEDORA_LINE}"]
    assert distro_family(tmp_path / "absent") is None


def test_only_unknown_libraries_are_named_without_a_line(tmp_path):
    release = os_release(tmp_path, "ID=debian\n")
    problem = xcb_problem(X11, Path("p"), lambda _: f"\t{ABSENT} => not found\n", release)
    assert problem is not None and ABSENT in problem and "apt-get" not in problem


def test_nothing_missing_or_no_xcb_means_no_problem():
    found = "\tlibxcb.so.1 => /lib/x86_64-linux-gnu/libxcb.so.1 (0x1)\n"
    assert xcb_problem(X11, Path("p"), lambda _: found) is None

    def must_not_run(_plugin: Path) -> str:
        raise AssertionError("ldd ran although Qt would not load xcb")

    assert xcb_problem({"QT_QPA_PLATFORM": "offscreen"}, Path("p"), must_not_run) is None


@pytest.mark.parametrize(
    ("environ", "platform", "expected"),
    [
        ({"DISPLAY": ":0"}, "linux", True),
        ({}, "linux", True),  # Qt still tries xcb, and its abort names no package
        ({"QT_QPA_PLATFORM": "xcb:display=:1"}, "linux", True),
        ({"QT_QPA_PLATFORM": "xcb;wayland"}, "linux", True),
        ({"QT_QPA_PLATFORM": "wayland;xcb"}, "linux", False),
        ({"QT_QPA_PLATFORM": "offscreen", "DISPLAY": ":0"}, "linux", False),
        ({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}, "linux", False),
        ({"XDG_SESSION_TYPE": "wayland"}, "linux", False),
        ({"DISPLAY": ":0"}, "darwin", False),
    ],
)
def test_when_qt_would_load_xcb(environ, platform, expected):
    assert uses_xcb(environ, platform) is expected


def build_plugin(folder: Path, *, findable: bool) -> Path:
    """A real shared object whose DT_NEEDED names ABSENT, built with the system compiler; the
    stub it links against stays in folder/stub, off every search path unless `findable` (then
    the plugin's RUNPATH points there)."""
    compiler = shutil.which("cc") or pytest.skip("no C compiler")
    stub = folder / "stub"
    stub.mkdir(exist_ok=True)
    run = [compiler, "-shared", "-x", "c", "/dev/null", "-o"]
    subprocess.run([*run, str(stub / ABSENT), f"-Wl,-soname,{ABSENT}"], check=True)
    plugin = folder / ("findable" if findable else "missing") / "libqxcb.so"
    plugin.parent.mkdir()
    needs = ["-Wl,--no-as-needed", f"-L{stub}", f"-l:{ABSENT}"]
    runpath = [f"-Wl,-rpath,{stub}"] if findable else []
    subprocess.run([*run, str(plugin), *needs, *runpath], check=True)
    return plugin


@pytest.fixture
def fake_plugin(tmp_path) -> Path:
    return build_plugin(tmp_path, findable=False)


def test_real_ldd_reports_the_missing_library(fake_plugin):
    problem = xcb_problem(X11, fake_plugin)
    assert problem is not None and ABSENT in problem


def test_real_plugin_report_matches_what_loads():
    """On this machine: a library the check calls missing is exactly one that cannot load."""
    plugin = find_xcb_plugin()
    assert plugin is not None and plugin.name == "libqxcb.so"
    report = platform_check.run_ldd(plugin)
    assert "libxcb.so.1" in report  # ldd really ran on the plugin
    missing = set(parse_not_found(report))
    for soname in PACKAGES:
        if soname in report:
            try:
                ctypes.CDLL(soname)
                loads = True
            except OSError:
                loads = False
            assert (soname in missing) is not loads, soname


def x11_environ(**extra: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("WAYLAND_DISPLAY", "MAKEFLAGS")}
    return {**environ, **X11, "XDG_SESSION_TYPE": "x11", **extra}


def make_run(tmp_path: Path, plugin: Path) -> tuple[subprocess.CompletedProcess[str], Path]:
    """`make run` with a stand-in `hearth` that only leaves a mark, the set-up taken as done."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    (bin_dir / "hearth").write_text('#!/bin/sh\ntouch "$HEARTH_MARK"\n')
    for script in bin_dir.iterdir():
        script.chmod(0o755)
    mark = tmp_path / "hearth-started"
    done = subprocess.run(
        ["make", "-s", "-C", str(ROOT), "-o", ".venv/.runtime-installed", "run"]
        + [f"BIN={bin_dir}", f"QXCB_PLUGIN={plugin}"],
        env=x11_environ(HEARTH_MARK=str(mark)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done, mark


def test_make_run_stops_with_the_message(tmp_path, fake_plugin):
    done, mark = make_run(tmp_path, fake_plugin)
    assert done.returncode != 0
    assert f"lacks: {ABSENT}." in done.stderr
    assert not mark.exists()  # the app never started


def test_make_run_starts_the_app_when_nothing_is_missing(tmp_path):
    done, mark = make_run(tmp_path, build_plugin(tmp_path, findable=True))
    assert done.returncode == 0, done.stderr
    assert mark.exists()


def fake_bundle(tmp_path: Path, plugin: Path) -> Path:
    bundle = tmp_path / "hearth"
    platforms = bundle / "_internal" / "PySide6" / "Qt" / "plugins" / "platforms"
    platforms.mkdir(parents=True)
    shutil.copy(plugin, platforms / "libqxcb.so")
    (bundle / "share" / "applications").mkdir(parents=True)
    (bundle / "hearth").write_text("#!/bin/sh\n")
    shutil.copy(ROOT / "packaging" / "install.sh", bundle / "install.sh")
    return bundle


def install(bundle: Path, tmp_path: Path, path: str) -> subprocess.CompletedProcess[str]:
    environ = x11_environ(HOME=str(tmp_path / "home"), PATH=path)
    return subprocess.run(
        ["bash", str(bundle / "install.sh")], env=environ, capture_output=True, text=True
    )


def test_install_sh_warns_with_the_same_line_and_still_installs(tmp_path, fake_plugin):
    fake_ldd = tmp_path / "fake-ldd"
    fake_ldd.mkdir()
    (fake_ldd / "ldd").write_text(f"#!/bin/sh\ncat <<'EOF'\n{FRESH_DEBIAN_LDD}EOF\n")
    (fake_ldd / "ldd").chmod(0o755)
    done = install(fake_bundle(tmp_path, fake_plugin), tmp_path, f"{fake_ldd}:{os.environ['PATH']}")
    assert done.returncode == 0, done.stderr
    missing = parse_not_found(FRESH_DEBIAN_LDD)
    assert f"lacks: {', '.join(missing)}." in done.stderr
    expected = install_lines(missing, distro_family())  # this machine's distribution
    assert done.stderr.splitlines()[-len(expected) :] == [f"  {line}" for line in expected]
    assert (tmp_path / "home" / ".local" / "opt" / "hearth" / "hearth").exists()


def test_install_sh_runs_real_ldd_as_the_bundle_loads(tmp_path, fake_plugin):
    bundle = fake_bundle(tmp_path, fake_plugin)
    done = install(bundle, tmp_path, os.environ["PATH"])
    assert done.returncode == 0 and f"lacks: {ABSENT}." in done.stderr
    # The bundle's launcher puts _internal on the library path: a library there is not missing.
    shutil.copy(tmp_path / "stub" / ABSENT, bundle / "_internal" / ABSENT)
    done = install(bundle, tmp_path, os.environ["PATH"])
    assert done.returncode == 0 and done.stderr == ""


def test_install_sh_has_the_same_package_table():
    script = (ROOT / "packaging" / "install.sh").read_text()
    rows = re.findall(r'^\s+(\S+)\) echo "(\S+) (\S+)" ;;$', script, re.MULTILINE)
    assert {soname: (deb, fed) for soname, deb, fed in rows} == {
        soname: (package.debian, package.fedora) for soname, package in PACKAGES.items()
    }


def test_the_app_prints_the_line_instead_of_opening(monkeypatch, capsys, fake_plugin):
    from desktop import app

    for name in ("WAYLAND_DISPLAY", "XDG_SESSION_TYPE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in X11.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(platform_check, "find_xcb_plugin", lambda: fake_plugin)
    monkeypatch.setattr(app, "open_frame", lambda *_: pytest.fail("the window was opened"))
    assert app.main() == 1
    assert f"lacks: {ABSENT}." in capsys.readouterr().err
