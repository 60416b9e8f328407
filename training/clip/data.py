"""Captioned images for hearth-clip-tiny, from Debian packages: Noto emoji and OpenClipart.

`prepare_clip_data` downloads the packages with apt-get (a package registry, at build time
only), renders every emoji, pairs each clipart PNG with the title and keywords in its SVG,
and writes `dataset.jsonl`: one {image, concept, captions, source, license} per line.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from tqdm import tqdm

PACKAGES = (
    "fonts-noto-color-emoji",
    "unicode-data",
    "unicode-cldr-core",
    "openclipart-png",
    "openclipart-svg",
)
LICENSES = {
    "emoji": "OFL-1.1 (Noto Color Emoji), Unicode-DFS (names)",
    "clipart": "public domain (OpenClipart)",
}
IMAGE_SIZE = 96
SKIN_TONES = {"1F3FB", "1F3FC", "1F3FD", "1F3FE", "1F3FF"}
DC = "{http://purl.org/dc/elements/1.1/}"
RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"


@dataclass(frozen=True)
class Example:
    image: str  # relative to the dataset folder
    concept: str
    captions: list[str]
    source: str
    license: str


def fetch_packages(root: Path) -> Path:
    """apt-get download + dpkg -x into root/files (skipped when already there)."""
    files = root / "files"
    if files.exists():
        return files
    debs = root / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", *PACKAGES], cwd=debs, check=True)
    for deb in sorted(debs.glob("*.deb")):
        subprocess.run(["dpkg", "-x", str(deb), str(files)], check=True)
    return files


def _emoji_names(files: Path) -> Iterator[tuple[str, str]]:
    """(codepoints, name) of each fully-qualified emoji, skin-tone variants left out."""
    for line in (files / "usr/share/unicode/emoji/emoji-test.txt").read_text().splitlines():
        if "; fully-qualified" not in line:
            continue
        codes = line.split(";")[0].split()
        if SKIN_TONES & set(codes):
            continue
        name = re.sub(r"^.*?E\d+\.\d+ ", "", line.split("#", 1)[1]).strip()
        yield "-".join(codes), name


def _cldr_keywords(files: Path) -> dict[str, list[str]]:
    tree = ET.parse(files / "usr/share/unicode/cldr/common/annotations/en.xml")
    return {
        item.get("cp", ""): [word.strip() for word in (item.text or "").split("|")]
        for item in tree.iter("annotation")
        if item.get("type") != "tts"
    }


def _render_emoji(font: ImageFont.FreeTypeFont, text: str) -> Image.Image | None:
    canvas = Image.new("RGBA", (160, 160), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).text((8, 8), text, font=font, embedded_color=True)
    box = canvas.getbbox()
    if box is None:
        return None
    emoji = canvas.crop(box)
    emoji.thumbnail((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.LANCZOS)
    return emoji


def emoji_examples(files: Path, out: Path) -> Iterator[Example]:
    font = ImageFont.truetype(str(files / "usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"), 109)
    keywords = _cldr_keywords(files)
    (out / "emoji").mkdir(parents=True, exist_ok=True)
    for codes, name in _emoji_names(files):
        text = "".join(chr(int(code, 16)) for code in codes.split("-"))
        image = _render_emoji(font, text)
        if image is None:
            continue
        relative = f"emoji/{codes}.png"
        image.save(out / relative)
        words = [
            w for w in keywords.get(text, keywords.get(text.replace("\ufe0f", ""), [])) if w != name
        ]
        yield Example(relative, name, [name, *words[:4]], "emoji", LICENSES["emoji"])


def _clipart_text(svg: Path) -> tuple[str, list[str]]:
    try:
        root = ET.parse(svg).getroot()
    except ET.ParseError:
        return "", []
    title = next((t.text or "" for t in root.iter(f"{DC}title") if t.text), "")
    words = [li.text.strip() for li in root.iter(f"{RDF}li") if li.text and li.text.strip()]
    return title, [w for w in words if w.lower() not in {"unsorted", "clip art", "clipart"}]


def _clean_title(title: str) -> str:
    title = re.sub(r"[_\-]+", " ", title)
    title = re.sub(r"\b\d+\b|\s+", " ", title)
    return title.strip().lower()


def clipart_examples(files: Path, out: Path) -> Iterator[Example]:
    base = files / "usr/share/openclipart"
    (out / "clipart").mkdir(parents=True, exist_ok=True)
    for png in sorted((base / "png").rglob("*.png")):
        relative_png = png.relative_to(base / "png")
        title, words = _clipart_text((base / "svg" / relative_png).with_suffix(".svg"))
        concept = _clean_title(title)
        if not concept or len(concept) > 40:
            continue
        try:
            image = Image.open(png).convert("RGBA")
        except (OSError, Image.DecompressionBombError):  # one OpenClipart PNG is 231 Mpx
            continue
        image.thumbnail((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.LANCZOS)
        key = hashlib.sha1(str(relative_png).encode()).hexdigest()[:16]
        relative = f"clipart/{key}.png"
        image.save(out / relative)
        category = relative_png.parts[0].replace("_", " ")
        yield Example(
            relative, concept, [concept, *words[:4], category], "clipart", LICENSES["clipart"]
        )


def prepare_clip_data(root: Path) -> Path:
    """Build root/dataset/dataset.jsonl with its images; return the dataset folder."""
    files = fetch_packages(root)
    out = root / "dataset"
    out.mkdir(parents=True, exist_ok=True)
    with (out / "dataset.jsonl").open("w", encoding="utf-8") as handle:
        for source in (emoji_examples, clipart_examples):
            for example in tqdm(source(files, out), desc=source.__name__, unit="image"):
                handle.write(json.dumps(asdict(example)) + "\n")
    return out


def load_dataset(folder: Path) -> list[Example]:
    lines = (folder / "dataset.jsonl").read_text(encoding="utf-8").splitlines()
    return [Example(**json.loads(line)) for line in lines]
