"""The pretraining corpus: Debian documentation packages fetched, cleaned to text and sharded.

Only permissively licensed packages are listed, and every shard's manifest entry names the
package, its version and its licence, so a model card can state exactly what it was trained on.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from bs4 import BeautifulSoup
from bs4.element import PreformattedString
from tokenizers import Tokenizer

from training.data import MANIFEST_NAME, tokenize_documents
from training.tokenizer import END_OF_TEXT

# Page furniture that is the same on every page and would only teach the model navigation.
_BOILERPLATE = (
    "script, style, nav, header, footer, a.headerlink, div.related, div.sphinxsidebar, "
    "div.footer, div.navheader, div.navfooter, div.toc, div.nosearch, div.rightsidebar"
)
SHARD_TOKENS = 1_000_000
_VERBATIM = "\x01"  # marks the start of each line of preformatted code, whose spaces matter
_BLOCK_TAGS = [
    *("p", "div", "pre", "li", "dt", "dd", "tr", "br", "table", "section", "blockquote"),
    *("h1", "h2", "h3", "h4", "h5", "h6", "title"),
]


@dataclass(frozen=True)
class DocPackage:
    """A Debian package whose documentation is text we may train on."""

    package: str
    licence: str  # SPDX-style name of the documentation's licence (see its copyright file)
    pattern: str  # glob, under the extracted package, of the files holding the text
    reader: str  # which cleaner turns one file into text: "html" or "wordnet"


DOC_PACKAGES = (
    DocPackage("python3.11-doc", "PSF-2.0", "usr/share/doc/python3.11/html/**/*.html", "html"),
    DocPackage("sqlite3-doc", "public-domain", "usr/share/doc/sqlite3/**/*.html", "html"),
    DocPackage(
        "postgresql-doc-15", "PostgreSQL", "usr/share/doc/postgresql-doc-15/html/*.html", "html"
    ),
    DocPackage("wordnet-base", "WordNet-3.0", "usr/share/wordnet/data.*", "wordnet"),
)


def _clean_line(line: str) -> str:
    _, verbatim, code = line.partition(_VERBATIM)
    return code.rstrip() if verbatim else " ".join(line.split())


def html_to_text(html: str) -> str:
    """The readable text of one documentation page: one line per block, code kept as written."""
    soup = BeautifulSoup(html, "html.parser")
    for element in soup.select(_BOILERPLATE):
        element.decompose()
    for markup in soup.find_all(string=lambda text: isinstance(text, PreformattedString)):
        markup.extract()  # comments, doctypes and processing instructions are not prose
    main = soup.select_one("[role=main]") or soup.body or soup
    for pre in main.find_all("pre"):
        pre.string = _VERBATIM + pre.get_text().replace("\n", "\n" + _VERBATIM)
    for string in main.find_all(string=True):
        if string.find_parent("pre") is None:  # markup line breaks are not text line breaks
            string.replace_with(re.sub(r"\s+", " ", string))
    for block in main.find_all(_BLOCK_TAGS):
        block.append("\n")
    lines = (_clean_line(line) for line in main.get_text().split("\n"))
    return "\n".join(line for line in lines if line)


def wordnet_to_text(data: str) -> str:
    """WordNet's data.* files as 'word, synonym: gloss' lines; the licence header is skipped."""
    lines = []
    for record in data.splitlines():
        if record.startswith(" ") or " | " not in record:
            continue  # the licence header is indented
        fields, gloss = record.split(" | ", 1)
        parts = fields.split()
        word_count = int(parts[3], 16)
        words = [parts[4 + 2 * i].replace("_", " ") for i in range(word_count)]
        lines.append(f"{', '.join(words)}: {gloss.strip()}")
    return "\n".join(lines)


READERS: dict[str, Callable[[str], str]] = {"html": html_to_text, "wordnet": wordnet_to_text}


def fetch_package(package: str, workdir: Path) -> Path:
    """Download one .deb with apt-get and unpack it with dpkg -x; returns the unpacked root."""
    downloads = workdir / "debs"
    downloads.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", package], cwd=downloads, check=True)
    deb = max(downloads.glob(f"{package}_*.deb"), key=lambda p: p.stat().st_mtime)
    root = workdir / "unpacked" / package
    shutil.rmtree(root, ignore_errors=True)
    root.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
    return root


def package_version(root: Path, package: str) -> str:
    changelog = root / "usr/share/doc" / package / "changelog.Debian.gz"
    if not changelog.is_file():
        return "unknown"
    with gzip.open(changelog, "rt", encoding="utf-8") as handle:
        first_line = handle.readline()  # "package (version) suite; urgency=..."
    match = re.search(r"\(([^)]+)\)", first_line)
    return match.group(1) if match else "unknown"


def is_faq_page(relative_path: str) -> bool:
    """FAQ pages are the shared retrieval evaluation set (../shared/data): never trained on."""
    return "faq" in relative_path.lower()


def clean_documents(root: Path, source: DocPackage) -> Iterator[str]:
    read = READERS[source.reader]
    for path in sorted(root.glob(source.pattern)):
        if is_faq_page(path.relative_to(root).as_posix()):
            continue
        text = read(path.read_text(encoding="utf-8", errors="replace"))
        if text:
            yield text


@dataclass(frozen=True)
class ShardRecord:
    file: str
    package: str
    version: str
    licence: str
    documents_ending: int  # a document may start in the previous shard
    tokens: int


def write_shards(
    documents: Sequence[str], tokenizer: Tokenizer, out: Path, source: DocPackage, version: str
) -> list[ShardRecord]:
    """One package's documents as .npy token shards of at most SHARD_TOKENS tokens each."""
    tokens = tokenize_documents(documents, tokenizer)
    separator = tokenizer.token_to_id(END_OF_TEXT)
    dtype = np.uint16 if tokenizer.get_vocab_size() <= 2**16 else np.int32
    records = []
    for index, start in enumerate(range(0, len(tokens), SHARD_TOKENS)):
        name = f"{source.package}-{index:03d}.npy"
        shard = tokens[start : start + SHARD_TOKENS]
        np.save(out / name, shard.astype(dtype))
        ends = int((shard == separator).sum())  # documents that end in this shard
        records.append(ShardRecord(name, source.package, version, source.licence, ends, len(shard)))
    return records


@dataclass(frozen=True)
class CleanedSource:
    source: DocPackage
    version: str
    documents: list[str]


def collect_text(
    out: Path,
    sources: Sequence[DocPackage] = DOC_PACKAGES,
    fetch: Callable[[str, Path], Path] = fetch_package,
) -> list[CleanedSource]:
    """Fetch and clean every source; writes out/text/<package>/*.txt and out/licences/."""
    cleaned = []
    for source in sources:
        root = fetch(source.package, out)
        documents = list(clean_documents(root, source))
        folder = out / "text" / source.package
        folder.mkdir(parents=True, exist_ok=True)
        for index, document in enumerate(documents):
            (folder / f"{index:05d}.txt").write_text(document, encoding="utf-8")
        licence_copy = out / "licences" / f"{source.package}.copyright"
        licence_copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / "usr/share/doc" / source.package / "copyright", licence_copy)
        cleaned.append(CleanedSource(source, package_version(root, source.package), documents))
    return cleaned


def shard_text(cleaned: Sequence[CleanedSource], tokenizer: Tokenizer, shard_dir: Path) -> Path:
    """Token shards of every source plus manifest.json, which `pretrain --data` reads."""
    shard_dir.mkdir(parents=True, exist_ok=True)
    records: list[ShardRecord] = []
    for item in cleaned:
        records += write_shards(item.documents, tokenizer, shard_dir, item.source, item.version)
    manifest = {
        "tokenizer_sha256": hashlib.sha256(tokenizer.to_str().encode()).hexdigest(),
        "shards": [asdict(record) for record in records],
    }
    (shard_dir / MANIFEST_NAME).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return shard_dir
