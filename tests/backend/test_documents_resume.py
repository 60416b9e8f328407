"""Indexing killed with SIGKILL mid-way, in either phase, and re-run leaves exactly the index
of one clean run."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np

from backend.documents.library import DocumentLibrary
from backend.paths import HomeLayout
from backend.settings import Settings

FILES = 45
TOPICS = ["harbour", "orchard", "glacier", "railway", "library", "bakery", "volcano", "market"]


def make_folder(folder: Path, files: int = FILES) -> Path:
    """Files of three short sections: three chunks each, so a run writes several batches."""
    folder.mkdir(parents=True)
    for i in range(files):
        topic = TOPICS[i % len(TOPICS)]
        sections = "\n\n".join(
            f"## Part {j}\n\nThe {topic} opens at {j + 6} on day {i}." for j in range(3)
        )
        (folder / f"note-{i:03d}.md").write_text(f"# Note {i} about the {topic}\n\n{sections}\n")
    return folder


def rows(home: Path, where: str, table: str = "doc_files") -> int:
    """Files (or chunks) of the collection in a given state, read as another process would."""
    if not (home / "hearth.db").exists():
        return 0
    with closing(sqlite3.connect(home / "hearth.db", timeout=5)) as conn:
        try:
            return int(conn.execute(f"SELECT COUNT(*) FROM {table} WHERE {where}").fetchone()[0])
        except sqlite3.OperationalError:
            return 0  # not migrated yet


def add_command(home: Path, folder: Path) -> subprocess.Popen[bytes]:
    """`hearth docs add`, its errors kept in a file beside `home` for a failure to show."""
    with home.with_name(home.name + "-stderr.txt").open("wb") as errors:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "backend",
                "docs",
                "add",
                str(folder),
                "--collection",
                "c",
                "--json",
            ],
            env=os.environ | {"HEARTH_HOME": str(home)},
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )


def errors_of(home: Path) -> str:
    return home.with_name(home.name + "-stderr.txt").read_text(errors="replace")[-3000:]


def kill_when(home: Path, folder: Path, condition: Callable[[], bool]) -> None:
    """Run indexing and SIGKILL it as soon as `condition` holds (it must, before the end)."""
    process = add_command(home, folder)
    deadline = time.monotonic() + 120
    while not condition():
        assert process.poll() is None, f"indexing ended before it was killed:\n{errors_of(home)}"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()


def snapshot(home: Path) -> tuple[list[Any], list[Any], list[Any], np.ndarray]:
    """Chroma's entries, the stored chunks, the files, and the vectors in id order."""
    library = DocumentLibrary(HomeLayout(home), Settings(threads=2))
    try:
        stored = library.store.all("c")
        chunks = [(c.id, c.text, c.metadata) for c in stored]
        vectors = np.stack([c.vector for c in library.store.get("c", [c.id for c in stored])])
        rows = [(c.id, c.path, c.text, c.metadata) for c in library.state.chunks("c")]
        files = [(f.path, f.content_hash, f.status, f.error, f.chunks) for f in library.files("c")]
        assert library.state.chunk_counts("c") == (len(rows), len(rows))  # every one embedded
        assert library.state.vector_removals("c", 10) == []
    finally:
        library.close()
    return chunks, rows, files, vectors


def test_kill_9_in_either_phase_then_rerun_equals_one_clean_run(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "notes")
    clean, resumed = tmp_path / "clean", tmp_path / "resumed"
    clean_library = DocumentLibrary(HomeLayout(clean).ensure(), Settings(threads=2))
    assert list(clean_library.add("c", [folder]))[-1].type == "finished"
    clean_library.close()
    # Phase one: killed between two batches of stored chunks, before any vector.
    kill_when(resumed, folder, lambda: 0 < rows(resumed, "status = 'indexed'") < FILES)
    assert rows(resumed, "embedded = 1", "doc_chunks") == 0
    # Phase two: the re-run stores the rest, then is killed between two batches of vectors.
    embedded = "embedded = 1"
    kill_when(resumed, folder, lambda: rows(resumed, embedded, "doc_chunks") > 0)
    assert rows(resumed, "status = 'indexed'") == FILES
    assert rows(resumed, "embedded = 0", "doc_chunks") > 0  # really killed part-way
    assert add_command(resumed, folder).wait() == 0, errors_of(resumed)
    clean_chunks, clean_rows, clean_files, clean_vectors = snapshot(clean)
    chunks, stored_rows, files, vectors = snapshot(resumed)
    assert len(clean_files) == FILES and all(f[2] == "indexed" for f in clean_files)
    assert files == clean_files
    assert len(chunks) == len(clean_chunks) == FILES * 3 and chunks == clean_chunks
    assert stored_rows == clean_rows
    # Batches differ between the runs: the same text gives the same vector to float rounding.
    np.testing.assert_allclose(vectors, clean_vectors, atol=1e-5)
