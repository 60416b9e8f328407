"""OCR speed and accuracy: scanned PDFs through Hearth's indexing, the character error rate on
the bench's own pages, Hearth's OCR against a direct rapidocr call on the same page images,
and image indexing of photos without text with OCR on and off.

The pages are A4 at 150 dpi, lines of generated sentences set in DejaVu Sans (11 pt), turned
slightly and with scanner noise (tests/scanned_pages.py), assembled into a PDF of page images
only. Every ONNX model runs single-threaded, and each timed pair alternates the two sides, so
load from other processes falls on both alike.

    OMP_NUM_THREADS=1 nice -n 10 timeout 1800 .venv/bin/python bench/ocr.py \
        [--pages 6] [--rounds 3] [--photos 48]
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from PIL import Image

import backend.ocr.engine as ocr_module
from backend.documents.library import DocumentLibrary
from backend.documents.ocr_pages import read_picture
from backend.documents.parsers import parse_document
from backend.lazy import Lazy
from backend.ocr import OcrConfig, OcrEngine
from backend.paths import HomeLayout
from backend.settings import Settings


def _load_pages_module() -> ModuleType:
    """tests/scanned_pages.py, which draws the tests' pages too; a bench runs as a script, so
    the tests folder is not importable as a package."""
    path = Path(__file__).resolve().parents[1] / "tests" / "scanned_pages.py"
    spec = importlib.util.spec_from_file_location("scanned_pages", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


scanned_pages = _load_pages_module()
PAGE_DPI: int = scanned_pages.PAGE_DPI
A4 = (1240, 1754)  # pixels at 150 dpi
CLIP_MODEL = Path("models/hearth-clip-tiny")
LINES_PER_PAGE = 30
WORDS = [
    *("invoice", "payment", "account", "March", "delivery", "parcel", "address", "street"),
    *("number", "order", "total", "customer", "service", "boiler", "harbour", "lighthouse"),
    *("report", "meeting", "Tuesday", "council", "budget", "insurance", "policy", "claim"),
    *("reference", "letter", "office", "window", "garden", "kitchen", "school"),
]


def page_lines(rng: random.Random) -> list[str]:
    """Lines of about 60 characters: words, numbers and punctuation, as letters have."""
    lines = []
    for _ in range(LINES_PER_PAGE):
        words = [rng.choice(WORDS) for _ in range(rng.randint(6, 9))]
        words.insert(rng.randint(0, len(words)), str(rng.randint(1, 9999)))
        lines.append(" ".join(words).capitalize() + rng.choice(".,:;"))
    return lines


def write_scan(path: Path, pages: list[list[str]]) -> list[Image.Image]:
    images = [
        scanned_pages.text_image(lines, A4, font_px=23, angle=0.6 - 0.3 * (i % 4), seed=i)
        for i, lines in enumerate(pages)
    ]
    images[0].save(path, "PDF", resolution=PAGE_DPI, save_all=True, append_images=images[1:])
    return images


def edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, char in enumerate(a, start=1):
        current = [i]
        for j, other in enumerate(b, start=1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char != other))
            )
        previous = current
    return previous[-1]


def cer(reference: str, read: str) -> float:
    """Character error rate, whitespace runs counted as one space (line breaks are layout)."""
    reference, read = " ".join(reference.split()), " ".join(read.split())
    return edit_distance(reference, read) / max(len(reference), 1)


def indexing_speed(folder: Path, home: Path) -> None:
    """Pages per second of `hearth docs add` on the folder (parse, OCR, chunk, embed, store)."""
    library = DocumentLibrary(HomeLayout(home).ensure(), Settings(threads=1))
    try:
        spent, events = timed(lambda: list(library.add("scans", [folder])))
    finally:
        library.close()
    pages = sum(1 for e in events if e.type == "page")
    assert events[-1].type == "finished" and pages, [e.type for e in events]
    print(
        f"  indexing         {pages / spent.wall:6.3f} pages/s, {pages / spent.cpu:.3f} per "
        f"CPU second ({pages} pages, hearth docs add)"
    )


def page_cers(pdf: Path, pages: list[list[str]]) -> list[float]:
    blocks = parse_document(pdf, ocr=True)
    read = {n: "\n".join(b.text for b in blocks if b.page == n) for n in range(1, len(pages) + 1)}
    return [cer("\n".join(lines), read[n]) for n, lines in enumerate(pages, start=1)]


@dataclass(frozen=True)
class Spent:
    """Wall-clock and CPU seconds (this process's, every thread): on a machine that other
    jobs load, CPU time is what the work itself cost."""

    wall: float
    cpu: float


def timed(call: Callable[[], Any]) -> tuple[Spent, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = call()
    return Spent(time.perf_counter() - wall, time.process_time() - cpu), result


def per_page(spent: list[Spent]) -> str:
    wall = statistics.median(s.wall for s in spent)
    return f"{wall:6.2f} s a page ({statistics.median(s.cpu for s in spent):.2f} s CPU)"


def ratio(ours: list[Spent], theirs: list[Spent]) -> str:
    wall = sum(s.wall for s in ours) / sum(s.wall for s in theirs)
    cpu = sum(s.cpu for s in ours) / sum(s.cpu for s in theirs)
    return f"{wall:6.2f}x wall, {cpu:.2f}x CPU"


def against_direct(
    engine: OcrEngine, images: list[Image.Image], pages: list[list[str]], rounds: int
) -> None:
    """Hearth's path for a page (the gate, then reading, reading order, filtering) against
    rapidocr called directly with the same models, threads and settings; and rapidocr with its
    own defaults (line classifier on, shortest side scaled to 736), for what those choices buy."""
    from rapidocr import RapidOCR

    same = {"Det.limit_type": "max", "Det.limit_side_len": engine.config.read_side}
    direct = RapidOCR(params=ocr_module._rapidocr_params(engine.config, **same))
    stock = RapidOCR(params=ocr_module._rapidocr_params(engine.config, **{"Global.use_cls": True}))
    ours: list[Spent] = []
    theirs: list[Spent] = []
    defaults: list[Spent] = []
    stock_cer, ours_cer = [], []
    for _ in range(rounds):
        for image, lines in zip(images, pages, strict=True):
            spent, result = timed(lambda image=image: read_picture(image, engine))
            ours.append(spent)
            ours_cer.append(cer("\n".join(lines), result.text))
            theirs.append(timed(lambda image=image: direct(image))[0])
            spent, output = timed(lambda image=image: stock(image))
            defaults.append(spent)
            stock_cer.append(cer("\n".join(lines), "\n".join(output.txts or ())))
    print(f"  Hearth's OCR     {per_page(ours)}, CER {statistics.mean(ours_cer):.2%}")
    print(f"  direct rapidocr  {per_page(theirs)}, same settings, median of {len(theirs)}")
    print(f"  ratio            {ratio(ours, theirs)} Hearth / direct (goal <= 1.2x)")
    print(f"  rapidocr's own defaults {per_page(defaults)}, CER {statistics.mean(stock_cer):.2%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--photos", type=int, default=48)
    args = parser.parse_args()
    engine = OcrEngine(OcrConfig(threads=1))
    # The bench's single-threaded engine stands in for the process's own (2 threads).
    ocr_module._ENGINE = Lazy(lambda: engine)
    rng = random.Random(0)
    pages = [page_lines(rng) for _ in range(args.pages)]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "docs").mkdir()
        pdf = root / "docs" / "scan.pdf"
        images = write_scan(pdf, pages)
        print(f"{args.pages} scanned A4 pages at {PAGE_DPI} dpi, {LINES_PER_PAGE} lines each")
        engine.read(images[0])  # loads the models before anything is timed
        indexing_speed(root / "docs", root / "home")
        errors = page_cers(pdf, pages)
        print(
            f"  CER              {statistics.mean(errors):.2%} mean, "
            f"{max(errors):.2%} worst page (against the known text)"
        )
        against_direct(engine, images, pages, args.rounds)
        photos_part(root, args.photos, args.rounds)


def photos_part(root: Path, count: int, rounds: int) -> None:
    """Images/s of `hearth images index` over photos without text, reading text (the checks,
    then OCR where they pass) and not; the best round of each side, alternating."""
    from backend.documents.vector_store import VectorStore
    from backend.images.clip import ClipModel
    from backend.images.index import ImageIndex

    folder = root / "photos"
    folder.mkdir()
    for i in range(count):
        scanned_pages.photo_without_text(seed=i).save(folder / f"photo-{i:03d}.jpg", quality=90)
    model = ClipModel(CLIP_MODEL, threads=1)
    spent: dict[bool, list[Spent]] = {False: [], True: []}
    read = 0
    for round_ in range(rounds):
        for read_text in (False, True):
            store = VectorStore(HomeLayout(root / f"images-{round_}-{read_text}").ensure(), None)
            try:
                index = ImageIndex(store, model, read_text=read_text)
                took, progress = timed(lambda index=index: index.index_all(folder))
            finally:
                store.close()
            assert progress.embedded == count, progress
            spent[read_text].append(took)
            read = progress.with_text if read_text else read
    on, off = min(spent[True], key=wall), min(spent[False], key=wall)
    print(f"{count} photos without text (640x480 JPEG), {CLIP_MODEL.name}, best of {rounds}")
    print(f"  OCR off          {count / off.wall:6.1f} images/s ({count / off.cpu:.1f} per CPU s)")
    print(
        f"  OCR on           {count / on.wall:6.1f} images/s ({count / on.cpu:.1f} per CPU s), "
        f"{read} read as holding text"
    )
    print(
        f"  ratio            {off.wall / on.wall:6.2f} of off, {off.cpu / on.cpu:.2f} in CPU "
        "time (goal >= 0.8)"
    )


def wall(spent: Spent) -> float:
    return spent.wall


if __name__ == "__main__":
    main()
