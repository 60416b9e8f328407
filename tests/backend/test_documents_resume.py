"""Indexing killed with SIGKILL mid-way and re-run leaves exactly the index of one clean run."""

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


def rows(home: Path, where: str) -> int:
    """Files of the collection in a given state, read as another process would."""
    if not (home / "hearth.db").exists():
        return 0
    with closing(sqlite3.connect(home / "hearth.db", timeout=5)) as conn:
        try:
            return int(conn.execute(f"SELECT COUNT(*) FROM doc_files WHERE {where}").fetchone()[0])
        except sqlite3.OperationalError:
            return 0  # not migrated yet


def add_command(home: Path, folder: Path) -> subprocess.Popen[bytes]:
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
        stderr=subprocess.DEVNULL,
    )


def kill_when(home: Path, folder: Path, condition: Callable[[], bool]) -> None:
    """Run indexing and SIGKILL it as soon as `condition` holds (it must, before the end)."""
    process = add_command(home, folder)
    deadline = time.monotonic() + 120
    while not condition():
        assert process.poll() is None, "indexing finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()


def snapshot(home: Path) -> tuple[list[Any], list[Any]]:
    library = DocumentLibrary(HomeLayout(home), Settings(threads=2))
    try:
        chunks = [(c.id, c.text, c.metadata) for c in library.store.all("c")]
        files = [(f.path, f.content_hash, f.status, f.error, f.chunks) for f in library.files("c")]
    finally:
        library.close()
    return chunks, files


def test_kill_9_at_any_point_then_rerun_equals_one_clean_run(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "notes")
    clean, resumed = tmp_path / "clean", tmp_path / "resumed"
    clean_library = DocumentLibrary(HomeLayout(clean).ensure(), Settings(threads=2))
    assert list(clean_library.add("c", [folder]))[-1].type == "finished"
    clean_library.close()
    # Killed while a batch is between 'pending' and written, then again after some batches.
    kill_when(resumed, folder, lambda: rows(resumed, "status = 'pending'") > 0)
    first_kill = rows(resumed, "status = 'indexed'")
    kill_when(resumed, folder, lambda: rows(resumed, "status = 'indexed'") > first_kill)
    assert rows(resumed, "status = 'indexed'") < FILES  # really killed part-way
    assert add_command(resumed, folder).wait() == 0
    clean_chunks, clean_files = snapshot(clean)
    resumed_chunks, resumed_files = snapshot(resumed)
    assert len(clean_files) == FILES and all(f[2] == "indexed" for f in clean_files)
    assert resumed_files == clean_files
    assert len(resumed_chunks) == len(clean_chunks) and resumed_chunks == clean_chunks
