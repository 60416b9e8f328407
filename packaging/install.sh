#!/usr/bin/env bash
# Installs the unpacked bundle for the current user: ~/.local/opt/hearth, a `hearth` command,
# the menu entry and the icons. Remove with: rm -rf ~/.local/opt/hearth ~/.local/bin/hearth
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
target="$HOME/.local/opt/hearth"

# The Debian and Fedora packages of a library Qt's X11 (xcb) platform plugin loads; the same
# table as desktop/platform_check.py (a test keeps them equal).
xcb_packages() {
    case "$1" in
        libxcb-cursor.so.0) echo "libxcb-cursor0 xcb-util-cursor" ;;
        libxcb-icccm.so.4) echo "libxcb-icccm4 xcb-util-wm" ;;
        libxcb-keysyms.so.1) echo "libxcb-keysyms1 xcb-util-keysyms" ;;
        libxcb-image.so.0) echo "libxcb-image0 xcb-util-image" ;;
        libxcb-render-util.so.0) echo "libxcb-render-util0 xcb-util-renderutil" ;;
        libxcb-util.so.1) echo "libxcb-util1 xcb-util" ;;
        libxcb-randr.so.0) echo "libxcb-randr0 libxcb" ;;
        libxcb-render.so.0) echo "libxcb-render0 libxcb" ;;
        libxcb-shape.so.0) echo "libxcb-shape0 libxcb" ;;
        libxcb-shm.so.0) echo "libxcb-shm0 libxcb" ;;
        libxcb-sync.so.1) echo "libxcb-sync1 libxcb" ;;
        libxcb-xfixes.so.0) echo "libxcb-xfixes0 libxcb" ;;
        libxcb-xkb.so.1) echo "libxcb-xkb1 libxcb" ;;
        libxcb.so.1) echo "libxcb1 libxcb" ;;
        libX11-xcb.so.1) echo "libx11-xcb1 libX11-xcb" ;;
        libX11.so.6) echo "libx11-6 libX11" ;;
        libxkbcommon-x11.so.0) echo "libxkbcommon-x11-0 libxkbcommon-x11" ;;
        libxkbcommon.so.0) echo "libxkbcommon0 libxkbcommon" ;;
        libGL.so.1) echo "libgl1 libglvnd-glx" ;;
        libEGL.so.1) echo "libegl1 libglvnd-egl" ;;
        libfontconfig.so.1) echo "libfontconfig1 fontconfig" ;;
        libfreetype.so.6) echo "libfreetype6 freetype" ;;
        libdbus-1.so.3) echo "libdbus-1-3 dbus-libs" ;;
    esac
}

# The bundle does not carry the system libraries of Qt's xcb plugin: warn, with the install
# line, when this machine lacks some. Checked whatever the session is, since the menu entry
# may start under X later; ldd sees what the app sees, whose launcher adds _internal.
warn_missing_xcb_libraries() {
    local plugin missing soname deb fed family debian="" fedora=""
    plugin=$(find "$here" -path "*/platforms/libqxcb.so" -print -quit)
    [ -n "$plugin" ] && command -v ldd >/dev/null || return 0
    missing=$(LD_LIBRARY_PATH="$here/_internal${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ldd "$plugin" \
        2>/dev/null | awk '$2 == "=>" && $3 == "not" && !seen[$1]++ {print $1}') || true
    [ -n "$missing" ] || return 0
    for soname in $missing; do
        read -r deb fed <<<"$(xcb_packages "$soname")" || true
        [ -z "${deb:-}" ] || [[ " $debian " == *" $deb "* ]] || debian+=" $deb"
        [ -z "${fed:-}" ] || [[ " $fedora " == *" $fed "* ]] || fedora+=" $fed"
    done
    # shellcheck disable=SC1091
    family=$(. /etc/os-release 2>/dev/null && echo " ${ID:-} ${ID_LIKE:-} ") || true
    echo "Warning: Hearth's window cannot open until Qt's X11 (xcb) platform has system" \
        "libraries that this machine lacks: ${missing//$'\n'/, }." >&2
    if [ -z "$debian$fedora" ]; then
        echo "Install the packages of your distribution that provide them." >&2
    elif [[ $family == *" debian "* || $family == *" ubuntu "* ]]; then
        echo "Install them with:"$'\n'"  sudo apt-get install$debian" >&2
    elif [[ $family == *" fedora "* || $family == *" rhel "* ]]; then
        echo "Install them with:"$'\n'"  sudo dnf install$fedora" >&2
    else
        echo "Install them with:"$'\n'"  Debian: sudo apt-get install$debian"$'\n'"  Fedora: sudo dnf install$fedora" >&2
    fi
}

warn_missing_xcb_libraries
mkdir -p "$target" "$HOME/.local/bin" "$HOME/.local/share"
cp -a "$here/." "$target/"
ln -sf "$target/hearth" "$HOME/.local/bin/hearth"
cp -a "$here/share/." "$HOME/.local/share/"
echo "Installed. Start Hearth from your applications menu, or run: hearth"
