"""Mutated DOCX files through Hearth's document parser end in blocks or a DocumentError, never
another exception, with memory bounded (#18): byte flips, truncations, zip members corrupted,
swapped or dropped, huge declared sizes, and hostile XML (entity expansion, deep nesting)."""

from __future__ import annotations

import io
import random
import struct
import zipfile
from pathlib import Path

from PIL import Image

from backend.documents.errors import DocumentError
from backend.documents.parsers import parse_document
from backend.errors import HearthError
from tests.backend.fuzzing import (
    BYTE_MUTATORS,
    HUGE,
    FuzzReport,
    Mutator,
    flip_bytes,
    fuzz,
    swap_parts,
    truncate,
)

PEAK_RSS_BOUND_MB = 512  # the seeds are a few KB; the parser's own inflation cap is 200 MB
DOCUMENT = "word/document.xml"
LOCAL_HEADER, CENTRAL_HEADER = b"PK\x03\x04", b"PK\x01\x02"


def docx_seed(with_picture: bool) -> bytes:
    from docx import Document

    document = Document()
    document.core_properties.title = "Fuzz seed"
    document.add_heading("Staff handbook", level=1)
    document.add_paragraph("Employees receive twenty-seven days of paid leave each year.")
    document.add_heading("Travel", level=2)
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(1, 1).text = "Leeds", "Train"
    if with_picture:
        picture = io.BytesIO()
        Image.new("RGB", (16, 16), "teal").save(picture, "PNG")
        document.add_picture(picture)
    document.add_paragraph("Train tickets are booked through the office in Leeds.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def members(data: bytes) -> list[tuple[zipfile.ZipInfo, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [(info, archive.read(info)) for info in archive.infolist()]


def rezipped(parts: list[tuple[zipfile.ZipInfo, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, content in parts:
            archive.writestr(info.filename, content)
    return buffer.getvalue()


def corrupt_a_member(data: bytes, rng: random.Random) -> bytes:
    """One member's content flipped or cut, in a valid zip (its CRC matches), so the XML
    parser, not zipfile, meets the damage."""
    parts = members(data)
    i = rng.randrange(len(parts))
    info, content = parts[i]
    if content:
        parts[i] = (info, rng.choice((flip_bytes, truncate))(content, rng))
    return rezipped(parts)


def swap_members(data: bytes, rng: random.Random) -> bytes:
    """Two members' contents exchanged under their own names: styles where the text belongs."""
    parts = members(data)
    contents = swap_parts([content for _, content in parts], rng)
    return rezipped([(info, content) for (info, _), content in zip(parts, contents, strict=True)])


def drop_a_member(data: bytes, rng: random.Random) -> bytes:
    parts = members(data)
    del parts[rng.randrange(len(parts))]
    return rezipped(parts)


def huge_declared_size(data: bytes, rng: random.Random) -> bytes:
    """A member's size in its local or central header (or both) made huge or zero."""
    mutated = bytearray(data)
    headers = [
        (at, offset)
        for signature, offsets in ((LOCAL_HEADER, (18, 22)), (CENTRAL_HEADER, (20, 24)))
        for at in _find_all(data, signature)
        for offset in offsets  # the compressed size, then the size inflated
    ]
    for at, offset in rng.sample(headers, rng.randint(1, 2)):
        struct.pack_into("<I", mutated, at + offset, rng.choice(HUGE))
    return bytes(mutated)


def _find_all(data: bytes, signature: bytes) -> list[int]:
    found, at = [], data.find(signature)
    while at != -1:
        found.append(at)
        at = data.find(signature, at + 1)
    return found


# Each entity expands to 16 of the one before: the last, used once, to 64 x 16^8 bytes.
LAUGHS = b"".join(b'<!ENTITY l%d "%s">' % (i + 1, b"&l%d;" % i * 16) for i in range(8))
ENTITY_BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE w:document [<!ENTITY l0 "'
    + b"x" * 64
    + b'">'
    + LAUGHS
    + b']><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
    + b"<w:body><w:p><w:r><w:t>&l8;</w:t></w:r></w:p></w:body></w:document>"
)


def hostile_xml(data: bytes, rng: random.Random) -> bytes:
    """document.xml as an entity bomb, or with its body nested thousands deep."""
    parts = members(data)
    for i, (info, content) in enumerate(parts):
        if info.filename == DOCUMENT:
            depth = rng.choice((300, 5000))
            body = content.index(b"<w:body>") + len(b"<w:body>")
            nested = content[:body] + b"<w:p>" * depth + content[body:]
            parts[i] = (info, rng.choice((ENTITY_BOMB, nested)))
    return rezipped(parts)


DOCX_MUTATORS: dict[str, Mutator] = {
    **BYTE_MUTATORS,
    "corrupt a member": corrupt_a_member,
    "swap members": swap_members,
    "drop a member": drop_a_member,
    "huge declared size": huge_declared_size,
    "hostile XML": hostile_xml,
}


def check(report: FuzzReport) -> None:
    print("\n" + report.line())
    assert not report.crashes, "\n".join(report.crashes[:10])
    assert report.clean_errors > report.cases // 10 and report.successes > 0, report.line()
    assert report.peak_rss_mb < PEAK_RSS_BOUND_MB, report.line()


def test_mutated_docx_files_parse_or_fail_cleanly(tmp_path: Path) -> None:
    report = fuzz(
        "DOCX",
        [docx_seed(with_picture=False), docx_seed(with_picture=True)],
        DOCX_MUTATORS,
        300,
        parse_document,
        tmp_path / "mutated.docx",
        (DocumentError, HearthError),
    )
    check(report)
