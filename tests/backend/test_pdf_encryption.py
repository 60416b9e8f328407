"""Encrypted PDFs: AES ones that open without a password index (pypdf needs `cryptography`
for AES); one that needs a password fails with that reason, and the run goes on."""

from __future__ import annotations

import tomllib
from pathlib import Path

from backend.documents.library import DocumentLibrary
from backend.documents.parsers import PASSWORD_NEEDED
from backend.paths import HomeLayout
from backend.settings import Settings
from tests.backend.test_documents import write_pdf

REPO = Path(__file__).resolve().parents[2]


def encrypt(source: Path, target: Path, user_password: str) -> Path:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(source))
    writer.encrypt(user_password=user_password, owner_password="x", algorithm="AES-256")
    with target.open("wb") as out:
        writer.write(out)
    return target


def test_aes_pdfs_index_unless_they_need_a_password(tmp_path: Path) -> None:
    plain = write_pdf(tmp_path / "plain.pdf", ["The lighthouse keeper logs every passing ship."])
    folder = tmp_path / "docs"
    folder.mkdir()
    encrypt(plain, folder / "open.pdf", user_password="")
    encrypt(plain, folder / "locked.pdf", user_password="secret")
    (folder / "after.md").write_text("The orchard grows quinces behind the barn.\n")

    library = DocumentLibrary(HomeLayout(tmp_path / "home").ensure(), Settings(threads=2))
    try:
        events = list(library.add("docs", [folder]))
        assert events[-1].type == "finished"
        files = {Path(f.path).name: f for f in library.files("docs")}
        assert files["open.pdf"].status == "indexed", files["open.pdf"].error
        assert files["locked.pdf"].status == "failed"
        assert files["locked.pdf"].error == PASSWORD_NEEDED
        assert files["after.md"].status == "indexed"  # the run went on past the locked one
        hits = library.search("lighthouse keeper ships", ["docs"], k=1, mode="bm25")
        assert hits and Path(hits[0].source).name == "open.pdf"
    finally:
        library.close()


def test_cryptography_is_a_runtime_dependency() -> None:
    """Installed without it, pypdf fails on every AES PDF, so the install must bring it."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert any(dep.startswith("cryptography") for dep in project["dependencies"])
