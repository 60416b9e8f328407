"""The multi-style dataset for hearth-clip-tiny v2: Noto emoji, OpenClipart and icon themes.

`prepare_style_data(root)` fetches the Debian packages with `apt-get download` (a package
registry, at build time only), unpacks them with `dpkg-deb -x`, and writes root/dataset: the
images, `dataset.jsonl` (one Example per line; `source` is the style) and `manifest.json`
(each package's version and licence, images and concepts per style). Twemoji, OpenMoji and
Symbola are refused, by package name and by path (training.clip.reserved).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tqdm import tqdm

from training.clip.data import (
    LICENSES,
    PACKAGES,
    Example,
    clipart_examples,
    emoji_examples,
    load_dataset,
)
from training.clip.icons import THEMES, IconTheme, icon_examples, package_license
from training.clip.reserved import refuse_reserved_package, refuse_reserved_tree

# The SVG renderer and the English word list: used to build the data, not part of it.
TOOLS = {
    "librsvg2-bin": "LGPL-2+",
    "wamerican": "SCOWL (permissive: use, copy, modify, distribute with the notice)",
}
WORDS = "usr/share/dict/american-english"
DATA_LICENCES = {  # packages whose copyright file is not machine-readable, or names tools too
    "fonts-noto-color-emoji": "OFL-1.1",
    "unicode-data": "Unicode-DFS-2016 (emoji names)",
    "unicode-cldr-core": "Unicode-DFS-2016 (emoji keywords)",
    "openclipart-png": LICENSES["clipart"],
    "openclipart-svg": LICENSES["clipart"],
}


def fetch_debs(root: Path, packages: Sequence[str]) -> Path:
    """Download each package (unless its .deb is there) and unpack all into root/files."""
    for package in packages:
        refuse_reserved_package(package)
    debs, files = root / "debs", root / "files"
    debs.mkdir(parents=True, exist_ok=True)
    missing = [p for p in packages if not any(debs.glob(f"{p}_*.deb"))]
    if missing:
        subprocess.run(["apt-get", "download", *missing], cwd=debs, check=True)
    for package in packages:
        deb = next(debs.glob(f"{package}_*.deb"))
        marker = files / ".unpacked" / deb.name
        if not marker.exists():
            subprocess.run(["dpkg-deb", "-x", str(deb), str(files)], check=True)
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
    return files


def package_version(root: Path, package: str) -> str:
    deb = next((root / "debs").glob(f"{package}_*.deb"))
    command = ["dpkg-deb", "-f", str(deb), "Version"]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


def load_vocabulary(files: Path) -> set[str]:
    """Lower-case English words (proper nouns and possessives left out)."""
    words = (files / WORDS).read_text(encoding="utf-8", errors="replace").split()
    return {w for w in words if w.isalpha() and w.islower()}


def svg_renderer(files: Path) -> Path:
    """rsvg-convert, unpacked from librsvg2-bin or installed, checked to run: a renderer that
    fails on every file would otherwise leave every SVG theme out without a word."""
    unpacked, installed = files / "usr/bin/rsvg-convert", shutil.which("rsvg-convert")
    renderer = unpacked if unpacked.is_file() else Path(installed) if installed else None
    if renderer is None:
        raise FileNotFoundError("rendering SVG icons needs rsvg-convert (from librsvg2-bin)")
    try:
        subprocess.run([str(renderer), "--version"], capture_output=True, check=True, timeout=30)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        raise RuntimeError(
            f"{renderer} does not run ({exc}); it needs the librsvg2-2 library installed"
        ) from exc
    return renderer


def _examples(files: Path, out: Path, themes: Sequence[IconTheme]) -> Iterator[Example]:
    yield from tqdm(emoji_examples(files, out), desc="emoji", unit="image")
    yield from tqdm(clipart_examples(files, out), desc="clipart", unit="image")
    vocabulary, rsvg = load_vocabulary(files), svg_renderer(files)
    for theme in themes:
        yield from tqdm(icon_examples(files, out, theme, vocabulary, rsvg), desc=theme.style)


def _licences(root: Path, files: Path, themes: Sequence[IconTheme]) -> dict[str, Any]:
    licences = dict(DATA_LICENCES)
    licences |= {t.package: package_license(files, t.package) for t in themes}
    licences |= {tool: f"{licence} (a tool, not data)" for tool, licence in TOOLS.items()}
    return {
        package: {"version": package_version(root, package), "license": licence}
        for package, licence in licences.items()
    }


def summarise(examples: Iterable[Example]) -> dict[str, Any]:
    """Images and concepts per style, and concepts overall."""
    styles: dict[str, dict[str, Any]] = {}
    concepts: set[str] = set()
    for example in examples:
        style = styles.setdefault(example.source, {"images": 0, "concepts": set()})
        style["images"] += 1
        style["concepts"].add(example.concept)
        concepts.add(example.concept)
    return {
        "styles": {
            name: {"images": s["images"], "concepts": len(s["concepts"])}
            for name, s in styles.items()
        },
        "concepts": len(concepts),
    }


def prepare_style_data(root: Path, themes: Sequence[IconTheme] = THEMES) -> Path:
    """Build root/dataset (images, dataset.jsonl, manifest.json); return the dataset folder."""
    files = fetch_debs(root, [*PACKAGES, *(t.package for t in themes), *TOOLS])
    refuse_reserved_tree(files)
    out = root / "dataset"
    out.mkdir(parents=True, exist_ok=True)
    with (out / "dataset.jsonl").open("w", encoding="utf-8") as handle:
        for example in _examples(files, out, themes):
            handle.write(json.dumps(asdict(example)) + "\n")
    write_manifest(root, themes)
    return out


def write_manifest(root: Path, themes: Sequence[IconTheme] = THEMES) -> Path:
    """root/dataset/manifest.json: package versions and licences, counts per style."""
    out = root / "dataset"
    manifest = {"packages": _licences(root, root / "files", themes), **summarise(load_dataset(out))}
    path = out / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return path
