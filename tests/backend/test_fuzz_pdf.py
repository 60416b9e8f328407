"""Mutated PDFs through Hearth's document parser end in blocks or a DocumentError, never another
exception, with memory bounded (#18): byte flips, truncations, object swaps, huge declared
lengths and counts, deep nesting and page trees that loop."""

from __future__ import annotations

import io
import logging
import random
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.documents.errors import DocumentError
from backend.documents.parsers import parse_document
from backend.errors import HearthError
from tests.backend.fuzzing import BYTE_MUTATORS, HUGE, FuzzReport, Mutator, fuzz, swap_parts

PEAK_RSS_BOUND_MB = 512  # the seeds are a few KB: anything near this was read unbounded
OBJECT = re.compile(rb"(\d+ 0 obj)(.*?)(endobj)", re.DOTALL)
REFERENCE = re.compile(rb"\d+ 0 R")


def pdf_bytes(pages: list[str], compress: bool) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, pageCompression=int(compress), invariant=1)
    for page, text in enumerate(pages):
        pdf.setTitle("Fuzz seed")
        pdf.drawString(72, 760, text)
        pdf.drawString(72, 740, f"Page {page + 1}: the ferry leaves at seven.")
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def encrypted(data: bytes, algorithm: str) -> bytes:
    """`data` encrypted with an empty user password, as PDFs that open without one are."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt("", "owner", algorithm=algorithm)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def pdf_seeds() -> list[bytes]:
    plain = pdf_bytes(["Opening hours", "Prices", "Contact"], compress=False)
    return [
        plain,
        pdf_bytes(["Compressed streams"], compress=True),
        encrypted(plain, "AES-128"),
        encrypted(plain, "RC4-128"),
    ]


def swap_objects(data: bytes, rng: random.Random) -> bytes:
    """Two objects' bodies exchanged under their own numbers: a type where another belongs."""
    objects = list(OBJECT.finditer(data))
    bodies = swap_parts([found.group(2) for found in objects], rng)
    out, at = [], 0
    for found, body in zip(objects, bodies, strict=True):
        out += [data[at : found.start(2)], body]
        at = found.end(2)
    return b"".join(out) + data[at:]


def huge_declared_number(data: bytes, rng: random.Random) -> bytes:
    """A /Length, /Count, /Size, xref offset or object number that cannot be honoured."""
    pattern = rng.choice((rb"/Length \d+", rb"/Count \d+", rb"/Size \d+", rb"startxref\s+\d+"))
    found = list(re.finditer(pattern, data))
    if not found:
        return data
    hit = rng.choice(found)
    value = str(rng.choice((*HUGE, -1, 10**20))).encode()
    replaced = re.sub(rb"\d+$", value, hit.group(0))
    return data[: hit.start()] + replaced + data[hit.end() :]


def deep_nesting(data: bytes, rng: random.Random) -> bytes:
    """Thousands of nested arrays or dictionaries opened inside an object."""
    objects = list(OBJECT.finditer(data))
    at = rng.choice(objects).start(2)
    opener = rng.choice((b"[", b"<<", b"[<<"))
    return data[:at] + b" " + opener * rng.choice((100, 2000)) + data[at:]


def looping_reference(data: bytes, rng: random.Random) -> bytes:
    """One reference pointed at another object, such as a page tree's kid at its parent."""
    references = list(REFERENCE.finditer(data))
    hit, target = rng.choice(references), rng.choice(references)
    return data[: hit.start()] + target.group(0) + data[hit.end() :]


PDF_MUTATORS: dict[str, Mutator] = {
    **BYTE_MUTATORS,
    "swap objects": swap_objects,
    "huge declared number": huge_declared_number,
    "deep nesting": deep_nesting,
    "looping reference": looping_reference,
}


@pytest.fixture(autouse=True)
def quiet_pypdf() -> Iterator[None]:
    """pypdf logs each repair it makes: pytest would keep thousands of records, and their
    memory and time would count as the parser's."""
    logger = logging.getLogger("pypdf")
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    yield
    logger.setLevel(level)


def check(report: FuzzReport, bound_mb: float) -> None:
    print("\n" + report.line())
    assert not report.crashes, "\n".join(report.crashes[:10])
    assert report.clean_errors > report.cases // 10 and report.successes > 0, report.line()
    assert report.peak_rss_mb < bound_mb, report.line()


def test_mutated_pdfs_parse_or_fail_cleanly(tmp_path: Path) -> None:
    report = fuzz(
        "PDF",
        pdf_seeds(),
        PDF_MUTATORS,
        300,
        parse_document,
        tmp_path / "mutated.pdf",
        (DocumentError, HearthError),
    )
    check(report, PEAK_RSS_BOUND_MB)
