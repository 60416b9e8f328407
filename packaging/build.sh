#!/usr/bin/env bash
# Builds dist/hearth/ (PyInstaller, one folder), checks it with --self-test from another folder
# in a throw-away HEARTH_HOME, then packs dist/hearth-VERSION-linux-x86_64.tar.gz.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
"$VENV/bin/pyinstaller" --noconfirm --distpath dist --workpath build/pyinstaller packaging/hearth.spec
"$VENV/bin/python" packaging/check_bundle.py build/pyinstaller/hearth/PYZ-00.pyz
install -Dm644 packaging/hearth.desktop dist/hearth/share/applications/hearth.desktop
for png in packaging/icons/hearth-*.png; do
    size=$(basename "$png" .png | cut -d- -f2)
    install -Dm644 "$png" "dist/hearth/share/icons/hicolor/${size}x${size}/apps/hearth.png"
done
install -Dm644 packaging/icons/hearth.svg dist/hearth/share/icons/hicolor/scalable/apps/hearth.svg
install -Dm755 packaging/install.sh dist/hearth/install.sh

home=$(mktemp -d)
(cd "$home" && HEARTH_HOME="$home/home" "$OLDPWD/dist/hearth/hearth" --self-test)
rm -rf "$home"

version=$("$VENV/bin/python" -c "import backend; print(backend.__version__)")
tar -C dist -czf "dist/hearth-$version-linux-$(uname -m).tar.gz" hearth
echo "bundle: $(du -sh dist/hearth | cut -f1) unpacked, $(du -sh dist/hearth-*.tar.gz | cut -f1) packed"
du -sh dist/hearth/_internal/* | sort -h | tail -8
