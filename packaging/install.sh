#!/usr/bin/env bash
# Installs the unpacked bundle for the current user: ~/.local/opt/hearth, a `hearth` command,
# the menu entry and the icons. Remove with: rm -rf ~/.local/opt/hearth ~/.local/bin/hearth
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
target="$HOME/.local/opt/hearth"
mkdir -p "$target" "$HOME/.local/bin" "$HOME/.local/share"
cp -a "$here/." "$target/"
ln -sf "$target/hearth" "$HOME/.local/bin/hearth"
cp -a "$here/share/." "$HOME/.local/share/"
echo "Installed. Start Hearth from your applications menu, or run: hearth"
