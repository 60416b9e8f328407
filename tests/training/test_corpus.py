"""Documentation pages become clean text and licensed token shards that pretraining reads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from training.corpus import DocPackage, collect_text, html_to_text, shard_text, wordnet_to_text
from training.data import load_token_stream

PAGE = """<!DOCTYPE html>
<html><head><style>body {color: red}</style><script>var x = 1;</script></head>
<body><div class="related"><a href="index.html">index</a> | <a href="next.html">next</a></div>
<div role="main"><!-- a comment --><h1>json — JSON encoder<a class="headerlink" href="#x">¶</a></h1>
<p>Use   <code>json.dumps()</code> to encode.</p><p>Déjà vu:
   “quotes”.</p><pre>def f(x):
    return x</pre></div>
<footer>© Copyright 2001 Python Software Foundation.</footer></body></html>"""

WORDNET = """  1 This software and database is being provided to you, the LICENSEE, by
00001930 03 n 02 physical_entity 0 matter 0 001 @ 00001740 n 0000 | an entity that exists
"""


def test_html_keeps_the_content_and_drops_page_furniture() -> None:
    assert html_to_text(PAGE).splitlines() == [
        "json — JSON encoder",
        "Use json.dumps() to encode.",
        "Déjà vu: “quotes”.",
        "def f(x):",
        "    return x",
    ]


def test_wordnet_records_become_definitions_without_the_licence_header() -> None:
    assert wordnet_to_text(WORDNET) == "physical entity, matter: an entity that exists"


def _fake_fetch(package: str, workdir: Path) -> Path:
    """Stands in for apt-get download + dpkg -x: an unpacked tree with pages and a copyright."""
    root = workdir / "unpacked" / package
    pages = root / "usr/share/doc" / package / "html"
    pages.mkdir(parents=True)
    for index in range(3):
        (pages / f"page{index}.html").write_text(
            PAGE.replace("json", f"mod{index}"), encoding="utf-8"
        )
    # FAQ pages are the shared evaluation set: they must never reach the training text.
    (pages / "faq").mkdir()
    (pages / "faq" / "programming.html").write_text(PAGE.replace("json", "faqmod"), "utf-8")
    (root / "usr/share/doc" / package / "copyright").write_text(
        "License: PSF-2.0\n", encoding="utf-8"
    )
    return root


def test_shards_record_source_and_licence_and_feed_pretraining(
    tmp_path: Path, tokenizer: Tokenizer
) -> None:
    source = DocPackage("demo-doc", "PSF-2.0", "usr/share/doc/demo-doc/html/**/*.html", "html")
    cleaned = collect_text(tmp_path, sources=[source], fetch=_fake_fetch)
    shard_dir = shard_text(cleaned, tokenizer, tmp_path / "shards")

    manifest = json.loads((shard_dir / "manifest.json").read_text(encoding="utf-8"))
    [record] = manifest["shards"]
    assert (record["package"], record["licence"]) == ("demo-doc", "PSF-2.0")
    assert record["documents_ending"] == 3
    assert (tmp_path / "licences" / "demo-doc.copyright").is_file()
    assert len(list((tmp_path / "text" / "demo-doc").glob("*.txt"))) == 3

    stream = load_token_stream(shard_dir, tokenizer)
    assert len(stream) == record["tokens"]
    assert "mod2.dumps()" in tokenizer.decode(stream.tolist())
    assert "faqmod" not in tokenizer.decode(stream.tolist())
    assert stream.dtype == np.int32
