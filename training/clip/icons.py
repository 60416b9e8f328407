"""Icon themes from Debian packages as captioned pictures: one style per theme.

Each theme is a folder of `<size>/<context>/<name>.svg|png` (or `<context>/<size>/...`). For
every icon name we keep the largest drawing, skip symbolic (one-colour) variants and aliases of
a file already kept, map the name to a concept (training.clip.captions), and render it to a
96 px PNG: SVGs with `rsvg-convert` (from Debian's librsvg2-bin, fetched with the themes),
PNGs with Pillow (a PNG under 32 px, with too little detail, is left out).
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from PIL import Image

from training.clip.captions import icon_captions, icon_concept
from training.clip.data import IMAGE_SIZE, Example
from training.clip.reserved import refuse_reserved_path

CONTEXTS = {
    "actions",
    "apps",
    "categories",
    "devices",
    "emblems",
    "emotes",
    "mimetypes",
    "mimes",
    "places",
    "status",
    "legacy",
    "panel",
    "preferences",
}
SIZE = re.compile(r"^(\d+)(x\d+)?(@\dx)?$")
SCALABLE_SIZE = 1024  # an SVG in a `scalable` folder draws at any size
MIN_PIXELS = 32  # a theme's 16 or 22 px drawing has too little detail to learn from


@dataclass(frozen=True)
class IconTheme:
    style: str  # the dataset's `source` for this theme
    package: str  # Debian package that ships it
    folder: str  # under usr/share/icons


THEMES = (
    IconTheme("papirus", "papirus-icon-theme", "Papirus"),
    IconTheme("breeze", "breeze-icon-theme", "breeze"),
    IconTheme("oxygen", "oxygen-icon-theme", "oxygen"),
    IconTheme("tango", "tango-icon-theme", "Tango"),
    IconTheme("adwaita", "adwaita-icon-theme", "Adwaita"),
    IconTheme("gnome", "gnome-icon-theme", "gnome"),
    IconTheme("elementary", "elementary-icon-theme", "elementary"),
)


@dataclass(frozen=True)
class IconFile:
    name: str
    context: str
    size: int
    path: Path


def _describe(path: Path, theme_dir: Path) -> IconFile | None:
    parts = path.relative_to(theme_dir).parts[:-1]
    context = next((p for p in parts if p in CONTEXTS), None)
    sizes = [int(m.group(1)) for p in parts if (m := SIZE.match(p))]
    size = SCALABLE_SIZE if "scalable" in parts else max(sizes, default=0)
    if context is None or size == 0 or "symbolic" in path.stem or "symbolic" in parts:
        return None
    return IconFile(path.stem, context, size, path)


def theme_icons(theme_dir: Path) -> list[IconFile]:
    """The largest drawing of each icon name, aliases (links to a kept file) left out."""
    best: dict[str, IconFile] = {}
    for path in sorted(theme_dir.rglob("*")):
        if path.suffix not in {".svg", ".png"} or not path.is_file():
            continue
        icon = _describe(path, theme_dir)
        if icon and (icon.name not in best or icon.size > best[icon.name].size):
            best[icon.name] = icon
    kept: dict[Path, IconFile] = {}
    for icon in sorted(best.values(), key=lambda i: (i.path.is_symlink(), i.name)):
        kept.setdefault(icon.path.resolve(), icon)  # real files first, then aliases
    return sorted(kept.values(), key=lambda i: i.name)


def render_icon(path: Path, rsvg_convert: Path | None) -> Image.Image | None:
    """The icon as RGBA, at most IMAGE_SIZE px on its longer side; None if it cannot be read."""
    if path.suffix == ".svg" and rsvg_convert is None:
        raise FileNotFoundError("rendering SVG icons needs rsvg-convert (from librsvg2-bin)")
    try:
        if path.suffix == ".svg":
            size = str(IMAGE_SIZE)
            command = [str(rsvg_convert), "-w", size, "-h", size, "-a", str(path)]
            png = subprocess.run(command, capture_output=True, check=True, timeout=30).stdout
            image = Image.open(BytesIO(png)).convert("RGBA")
        else:
            image = Image.open(path).convert("RGBA")
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError):
        return None
    if image.getbbox() is None:
        return None  # fully transparent
    image.thumbnail((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.LANCZOS)
    return image


def package_license(files: Path, package: str) -> str:
    """The licence of the `Files: *` paragraph of the package's machine-readable copyright."""
    copyright_file = files / "usr/share/doc" / package / "copyright"
    in_all_files = False
    for line in copyright_file.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("Files:"):
            in_all_files = line.split(":", 1)[1].strip() == "*"
        elif in_all_files and line.startswith("License:"):
            return line.split(":", 1)[1].strip()
    raise ValueError(f"{copyright_file} names no licence for Files: *")


def icon_examples(
    files: Path,
    out: Path,
    theme: IconTheme,
    vocabulary: Collection[str],
    rsvg_convert: Path | None,
) -> Iterator[Example]:
    """Render every icon of `theme` that names a concept into out/<style>/ and describe it."""
    theme_dir = files / "usr/share/icons" / theme.folder
    license_ = package_license(files, theme.package)
    (out / theme.style).mkdir(parents=True, exist_ok=True)
    for icon in theme_icons(theme_dir):
        concept = icon_concept(icon.name, icon.context, vocabulary)
        if concept is None:
            continue
        refuse_reserved_path(icon.path.resolve())
        image = render_icon(icon.path, rsvg_convert)
        if image is None or max(image.size) < MIN_PIXELS:
            continue
        key = hashlib.sha1(f"{icon.context}/{icon.name}".encode()).hexdigest()[:16]
        relative = f"{theme.style}/{key}.png"
        image.save(out / relative)
        yield Example(relative, concept, icon_captions(concept), theme.style, license_)
