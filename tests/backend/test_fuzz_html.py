"""Mutated HTML pages through Hearth's document parser end in blocks or a DocumentError, never
another exception, with memory bounded (#18): byte flips, truncations, tags swapped, markup
nested tens of thousands deep, unclosed comments and bytes in another encoding."""

from __future__ import annotations

import random
import re
from pathlib import Path

from backend.documents.errors import DocumentError
from backend.documents.parsers import parse_document
from backend.errors import HearthError
from tests.backend.fuzzing import BYTE_MUTATORS, FuzzReport, Mutator, fuzz, swap_parts

PEAK_RSS_BOUND_MB = 512  # the seeds are a few KB: anything near this was read unbounded
TAG = re.compile(rb"<[^<>]*>")

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Orchard</title>
<style>p { color: green }</style><script>var x = "<p>not text</p>";</script></head>
<body><nav><a href="/">Home</a></nav>
<main><h1>The orchard</h1><p>Apples are picked in <b>September</b> &amp; October.</p>
<h2>Pears</h2><ul><li>Conference</li><li>Williams &eacute;t&eacute;</li></ul>
<table><tr><th>Tree</th><td>Plum</td></tr></table>
<blockquote><p>Prune in winter.</p></blockquote><pre>ladder: 3 m</pre>
<!-- a comment --><dl><dt>Soil</dt><dd>Clay</dd></dl></main>
<footer>&copy; the orchard</footer></body></html>
"""


def html_seeds() -> list[bytes]:
    return [
        PAGE.encode("utf-8"),
        PAGE.replace("utf-8", "windows-1252").encode("cp1252", "replace"),
        b"<p>" + "Zwölf Boxkämpfer jagen Viktor quer über den großen Sylter Deich. ".encode() * 20,
    ]


def swap_tags(data: bytes, rng: random.Random) -> bytes:
    """Two tags exchanged: closings before openings, headings inside lists."""
    tags = list(TAG.finditer(data))
    swapped = swap_parts([tag.group(0) for tag in tags], rng)
    out, at = [], 0
    for tag, replacement in zip(tags, swapped, strict=True):
        out += [data[at : tag.start()], replacement]
        at = tag.end()
    return b"".join(out) + data[at:]


def deep_nesting(data: bytes, rng: random.Random) -> bytes:
    """Tens of thousands of unclosed elements before the main text."""
    opener = rng.choice((b"<div>", b"<p><b>", b"<li>", b"<table><tr><td>", b"<h1>"))
    at = data.find(b"<main>") if b"<main>" in data else 0
    return data[:at] + opener * rng.choice((500, 3000)) + data[at:]


def unclosed_markup(data: bytes, rng: random.Random) -> bytes:
    """A comment, CDATA section, script or attribute quote opened and never closed."""
    opener = rng.choice((b"<!--", b"<![CDATA[", b"<script>", b'<p title="', b"<", b"&#x"))
    at = rng.randrange(len(data))
    return data[:at] + opener + data[at:]


def other_encoding(data: bytes, rng: random.Random) -> bytes:
    """Bytes that are not UTF-8: a stray Latin-1 byte, a UTF-16 BOM, a lone surrogate."""
    junk = rng.choice((b"\xe9", b"\xff\xfe", b"\xed\xa0\x80", b"\xc3", bytes(range(128, 256))))
    at = rng.randrange(len(data))
    return data[:at] + junk + data[at:]


HTML_MUTATORS: dict[str, Mutator] = {
    **BYTE_MUTATORS,
    "swap tags": swap_tags,
    "deep nesting": deep_nesting,
    "unclosed markup": unclosed_markup,
    "other encoding": other_encoding,
}


def check(report: FuzzReport) -> None:
    print("\n" + report.line())
    assert not report.crashes, "\n".join(report.crashes[:10])
    assert report.clean_errors > 0 and report.successes > report.cases // 2, report.line()
    assert report.peak_rss_mb < PEAK_RSS_BOUND_MB, report.line()


def test_mutated_html_pages_parse_or_fail_cleanly(tmp_path: Path) -> None:
    report = fuzz(
        "HTML",
        html_seeds(),
        HTML_MUTATORS,
        300,
        parse_document,
        tmp_path / "mutated.html",
        (DocumentError, HearthError),
    )
    check(report)
